//! Sizings through the console: `POST /api/sizings` starts a sweep ([`crate::sizing`]) whose points
//! queue as runs of the target like any other; the sizing is stored after every point, so a
//! cancelled, failed or interrupted sweep keeps what it measured. Cancel stops it within a second:
//! the point running is cancelled, and no other starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::bail;
use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::run::RunRequest;
use lifeguard_shared::sizing::{
    Budget, Sizing, SizingDetail, SizingPoint, SizingRequest, SizingState,
};
use tokio_util::sync::CancellationToken;

use crate::runner;
use crate::service::{RunService, ServiceError};
use crate::sizing::{SweepPlan, nothing_measured, sweep};
use crate::store::now_ms;
use crate::targets::Reach;

/// How often a point's run is looked at while it runs.
const POLL: Duration = Duration::from_millis(100);

/// The console's sizings; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sizings {
    runs: RunService,
    /// Sweeps running in this process, by id.
    live: Arc<Mutex<HashMap<String, CancellationToken>>>,
}

impl Sizings {
    #[must_use]
    pub fn new(runs: RunService) -> Self {
        Self {
            runs,
            live: Arc::default(),
        }
    }

    /// Checks `request` (every rule, the budget of runs before any run) and starts the sweep.
    pub async fn start(&self, request: SizingRequest) -> Result<String, ServiceError> {
        let target = self.runs.targets().known(&request.target)?;
        let Reach::Postgres(server) = target.reach.clone() else {
            return Err(Invalid::new(
                "target",
                format!(
                    "`{}` is an HTTP service, whose pools it sizes itself: lifeguard sizes the \
                     pools it opens on a PostgreSQL target",
                    request.target
                ),
            )
            .into());
        };
        let catalog = self.runs.catalog();
        let suite = catalog.suite(&request.suite)?;
        let profile = catalog.profile(&request.profile)?;
        let plan = SweepPlan::for_request(&request, suite, profile)?;
        plan.check_budget()?;
        let id = runner::new_run_id();
        self.runs
            .store()
            .create_sizing(&id, now_ms(), &request, &nothing_measured(&plan))
            .await?;
        let cancel = CancellationToken::new();
        lock(&self.live).insert(id.clone(), cancel.clone());
        tokio::spawn(
            self.clone()
                .drive(id.clone(), request, plan, server, cancel),
        );
        Ok(id)
    }

    /// Stops a running sweep; its measured points stay.
    pub async fn cancel(&self, id: &str) -> Result<(), ServiceError> {
        let running = lock(&self.live).get(id).cloned();
        if let Some(cancel) = running {
            cancel.cancel();
            return Ok(());
        }
        let stored = self.detail(id).await?;
        Err(ServiceError::Conflict(format!(
            "sizing `{id}` is {}, not running",
            stored.state.as_str()
        )))
    }

    /// A stored sizing.
    pub async fn detail(&self, id: &str) -> Result<SizingDetail, ServiceError> {
        self.runs
            .store()
            .sizing(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no sizing `{id}`")))
    }

    /// Runs the sweep to its end and stores how it ended.
    async fn drive(
        self,
        id: String,
        request: SizingRequest,
        mut plan: SweepPlan,
        server: Box<tokio_postgres::Config>,
        cancel: CancellationToken,
    ) {
        // What the server gives each replica, before the first run opens any pool (a cancel
        // meanwhile is seen by the first point).
        tokio::select! {
            probed = crate::probe::probe(&plan.target, &server) => match probed {
                Ok(probe) => plan.budget = Budget::of(&probe.server(), &plan.profile),
                Err(error) => tracing::warn!(
                    sizing = %id,
                    "reading the server's budget before the first run: {error}; the runs read it"
                ),
            },
            () = cancel.cancelled() => {}
        }
        let measured: Arc<Mutex<Vec<SizingPoint>>> = Arc::default();
        let so_far = |points: Vec<SizingPoint>| Sizing {
            points,
            ..nothing_measured(&plan)
        };
        let outcome = sweep(&plan, |adjust| {
            let (this, id, cancel, measured) =
                (self.clone(), id.clone(), cancel.clone(), measured.clone());
            let run = request.point(adjust);
            let partial = so_far(Vec::new());
            async move {
                let point = this.measure(run, &cancel).await?;
                let points = {
                    let mut all = lock(&measured);
                    all.push(point.clone());
                    all.clone()
                };
                let partial = Sizing { points, ..partial };
                let store = this.runs.store();
                store
                    .update_sizing(&id, SizingState::Running, &partial, None)
                    .await?;
                Ok(point)
            }
        })
        .await;
        let (state, sizing, error) = match outcome {
            Ok(sizing) => (SizingState::Done, sizing, None),
            Err(_) if cancel.is_cancelled() => (
                SizingState::Cancelled,
                so_far(lock(&measured).clone()),
                Some("cancelled".to_owned()),
            ),
            Err(error) => (
                SizingState::Failed,
                so_far(lock(&measured).clone()),
                Some(format!("{error:#}")),
            ),
        };
        if let Err(error) = self
            .runs
            .store()
            .update_sizing(&id, state, &sizing, error.as_deref())
            .await
        {
            tracing::error!(sizing = %id, "storing how a sizing ended: {error}");
        }
        tracing::info!(sizing = %id, state = state.as_str(), points = sizing.points.len(), "sizing ended");
        lock(&self.live).remove(&id);
    }

    /// Queues one point's run and waits for its end; cancelling cancels the run.
    async fn measure(
        &self,
        run: RunRequest,
        cancel: &CancellationToken,
    ) -> anyhow::Result<SizingPoint> {
        let factor = run
            .adjust
            .as_ref()
            .and_then(|a| a.load_factor)
            .unwrap_or(1.0);
        if cancel.is_cancelled() {
            bail!("cancelled");
        }
        let run_id = self.runs.submit(run).await?;
        loop {
            tokio::select! {
                () = cancel.cancelled() => {
                    // Already ended is fine: cancelling is all that is asked.
                    let _ended = self.runs.cancel(&run_id).await;
                    bail!("cancelled");
                }
                () = tokio::time::sleep(POLL) => {}
            }
            let Some(detail) = self.runs.store().run(&run_id).await? else {
                bail!("run {run_id} is gone from the store");
            };
            if !detail.summary.state.is_final() {
                continue;
            }
            let Some(report) = detail.report else {
                bail!(
                    "run {run_id} ended {} without a report: {}",
                    detail.summary.state.as_str(),
                    detail.summary.error.unwrap_or_default()
                );
            };
            return Ok(SizingPoint::measured(factor, &run_id, &report));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
