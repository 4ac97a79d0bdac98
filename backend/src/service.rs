//! Runs through the console: a validated request becomes a stored, queued run; one worker per
//! target runs its queue one run at a time (two runs never load the same target at once), writing
//! each second and each event to the store as it goes and broadcasting them to live followers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lifeguard_shared::compare::{Comparison, RunRef};
use lifeguard_shared::event::{PhaseStart, RunEvent, RunVerdict, StateChange};
use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::report::{RunState, SecondSample};
use lifeguard_shared::run::{RunDetail, RunRequest};
use lifeguard_shared::suite::{Load, Suite};
use lifeguard_shared::workload::AuthFlow;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::config::GuardRails;
use crate::runner::{self, Abort, Progress, RunError, RunPlan};
use crate::stats::compare::{CompareSettings, Side, compare as compare_runs};
use crate::stats::histogram::SecondHistograms;
use crate::store::{NewRun, Store, StoreError, StoredEvent, now_ms};
use crate::targets::Targets;

/// Most queued updates written in one transaction.
const WRITE_BATCH: usize = 256;
/// How long a failed store write is retried.
const STORE_RETRY_FOR: Duration = Duration::from_mins(2);
/// ... and once the console is stopping, so that it still stops in seconds.
const STORE_RETRY_WHEN_STOPPING: Duration = Duration::from_secs(3);
/// How long an aborted run's engine may take to stop before the run is ended without it.
const ENGINE_STOP_GRACE: Duration = Duration::from_secs(5);

/// Why a request to the service failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the queue of target `{0}` is full; try again when runs have finished")]
    QueueFull(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The base of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseRef {
    Run(String),
    Baseline(String),
}

fn reference(run: &RunDetail) -> RunRef {
    RunRef {
        id: run.summary.id.clone(),
        suite: run.summary.suite.clone(),
        target: run.summary.target.clone(),
        profile: run.summary.profile.clone(),
        environment: run.summary.labels.environment.clone(),
        version: run.summary.labels.version.clone(),
    }
}

/// What a run was asked to do, as stored with it (names only: no credential).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPlan {
    pub suite: Suite,
    pub profile: PoolProfile,
    pub workload: AuthFlow,
}

/// A run that is queued or running in this process.
#[derive(Debug, Clone)]
struct Live {
    abort: Abort,
    events: broadcast::Sender<StoredEvent>,
    next_seq: Arc<AtomicU64>,
    plan: RunPlan,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    targets: Targets,
    catalog: Catalog,
    guard_rails: GuardRails,
    keep_runs: u64,
    compare: CompareSettings,
    /// Cancelled when the console stops: store retries shorten.
    stopping: CancellationToken,
    queues: Mutex<HashMap<String, mpsc::Sender<String>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    live: Mutex<HashMap<String, Live>>,
}

/// The console's runs; cheap to clone.
#[derive(Debug, Clone)]
pub struct RunService {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RunService {
    #[must_use]
    pub fn new(
        store: Store,
        targets: Targets,
        catalog: Catalog,
        guard_rails: GuardRails,
        keep_runs: u64,
        compare: CompareSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                targets,
                catalog,
                guard_rails,
                keep_runs,
                compare,
                stopping: CancellationToken::new(),
                queues: Mutex::new(HashMap::new()),
                workers: Mutex::new(Vec::new()),
                live: Mutex::new(HashMap::new()),
            }),
        }
    }

    #[must_use]
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    #[must_use]
    pub fn targets(&self) -> &Targets {
        &self.inner.targets
    }

    #[must_use]
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The practical thresholds every comparison uses.
    #[must_use]
    pub fn compare_settings(&self) -> &CompareSettings {
        &self.inner.compare
    }

    #[must_use]
    pub fn guard_rails(&self) -> &GuardRails {
        &self.inner.guard_rails
    }

    /// Checks `request` against the configuration and the guard rails, stores it as a queued
    /// run and puts it in its target's queue. Returns the run's id.
    pub async fn submit(&self, request: RunRequest) -> Result<String, ServiceError> {
        let inner = &self.inner;
        request.labels.validate()?;
        request
            .workload
            .validate()
            .map_err(|e| e.under("workload"))?;
        let target = inner.targets.known(&request.target)?;
        if let Some(threads) = request.engine_threads {
            lifeguard_shared::run::check_engine_threads("engine_threads", threads)?;
        }
        let mut suite = inner.catalog.suite(&request.suite)?;
        let mut profile = inner.catalog.profile(&request.profile)?;
        if let Some(adjust) = &request.adjust {
            adjust.validate().map_err(|e| e.under("adjust"))?;
            suite = adjust.suite(&suite);
            profile = adjust.profile(&profile);
        }
        check_guard_rails(&suite, &profile, &inner.guard_rails)?;
        if request.workload.users > inner.guard_rails.max_seeded_users {
            return Err(Invalid::new(
                "workload.users",
                format!(
                    "must be at most {} (guard_rails.max_seeded_users), got {}",
                    inner.guard_rails.max_seeded_users, request.workload.users
                ),
            )
            .into());
        }
        // A place in the target's queue first: a refused request leaves nothing stored.
        let queue = self.queue(&request.target);
        let place = queue
            .try_reserve()
            .map_err(|_| ServiceError::QueueFull(request.target.clone()))?;
        let id = runner::new_run_id();
        let stored = StoredPlan {
            suite: suite.clone(),
            profile: profile.clone(),
            workload: request.workload.clone(),
        };
        inner
            .store
            .create_run(&NewRun {
                id: id.clone(),
                target: request.target.clone(),
                suite: suite.name.clone(),
                profile: profile.name.clone(),
                labels: request.labels.clone(),
                plan: serde_json::to_string(&stored).unwrap_or_default(),
                created_at: now_ms(),
            })
            .await?;
        let plan = RunPlan {
            run_id: id.clone(),
            target_name: target.name.clone(),
            target: target.reach.clone(),
            suite,
            profile,
            workload: request.workload,
            instrumented: true,
            max_duration: inner.guard_rails.max_duration(),
            engine_threads: request.engine_threads.unwrap_or(target.engine_threads),
        };
        let live = Live {
            abort: Abort::new(),
            events: broadcast::channel(1024).0,
            next_seq: Arc::new(AtomicU64::new(0)),
            plan,
        };
        lock(&inner.live).insert(id.clone(), live.clone());
        self.emit(&id, &live, state_change(RunState::Queued)).await;
        place.send(id.clone());
        Ok(id)
    }

    /// The run a comparison's base names: a run id, or the run a baseline points to.
    pub async fn resolve_base(
        &self,
        base: &BaseRef,
    ) -> Result<(String, Option<String>), ServiceError> {
        match base {
            BaseRef::Run(id) => Ok((id.clone(), None)),
            BaseRef::Baseline(name) => {
                let found = self
                    .inner
                    .store
                    .baseline(name)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no baseline `{name}`")))?;
                Ok((found.run_id, Some(name.clone())))
            }
        }
    }

    /// Compares two finished runs (see [`crate::stats::compare`]); `baseline` names where the
    /// base came from, when it came from a baseline.
    pub async fn compare(
        &self,
        base: &str,
        head: &str,
        baseline: Option<String>,
    ) -> Result<Comparison, ServiceError> {
        let store = &self.inner.store;
        let load = |id: &str| {
            let id = id.to_owned();
            async move {
                let run = store
                    .run(&id)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("no run `{id}`")))?;
                let Some(report) = run.report.clone() else {
                    return Err(ServiceError::Conflict(format!(
                        "run `{id}` has no report to compare (it is {})",
                        run.summary.state.as_str()
                    )));
                };
                let blocks = store.blocks(&id).await?;
                Ok((run, report, blocks))
            }
        };
        let (base_run, base_report, base_blocks) = load(base).await?;
        let (head_run, head_report, head_blocks) = load(head).await?;
        Ok(compare_runs(
            &Side {
                reference: reference(&base_run),
                report: &base_report,
                blocks: &base_blocks,
            },
            &Side {
                reference: reference(&head_run),
                report: &head_report,
                blocks: &head_blocks,
            },
            baseline,
            &self.inner.compare,
        ))
    }

    /// Stops a queued or running run; it ends `aborted` with what it measured so far.
    pub async fn cancel(&self, id: &str) -> Result<(), ServiceError> {
        let live = lock(&self.inner.live).get(id).cloned();
        match live {
            Some(live) => {
                live.abort.abort("cancelled by an operator");
                Ok(())
            }
            None => match self.inner.store.run(id).await? {
                Some(_) => Err(ServiceError::Conflict(format!(
                    "run `{id}` has already finished"
                ))),
                None => Err(ServiceError::NotFound(format!("no run `{id}`"))),
            },
        }
    }

    /// Live events of a queued or running run; `None` once it has finished.
    #[must_use]
    pub fn follow(&self, id: &str) -> Option<broadcast::Receiver<StoredEvent>> {
        lock(&self.inner.live)
            .get(id)
            .map(|live| live.events.subscribe())
    }

    /// Stops every run (they end `aborted`) and waits for the workers.
    pub async fn shutdown(&self) {
        self.inner.stopping.cancel();
        for live in lock(&self.inner.live).values() {
            live.abort.abort("the console was stopped");
        }
        lock(&self.inner.queues).clear();
        let workers: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.inner.workers));
        for worker in workers {
            let _finished_or_panicked = worker.await;
        }
    }

    fn queue(&self, target: &str) -> mpsc::Sender<String> {
        let mut queues = lock(&self.inner.queues);
        if let Some(queue) = queues.get(target) {
            return queue.clone();
        }
        let (sender, receiver) = mpsc::channel(self.inner.guard_rails.max_queued_runs);
        queues.insert(target.to_owned(), sender.clone());
        let worker = tokio::spawn(self.clone().work(receiver));
        lock(&self.inner.workers).push(worker);
        sender
    }

    async fn work(self, mut queue: mpsc::Receiver<String>) {
        while let Some(id) = queue.recv().await {
            self.execute(&id).await;
        }
    }

    async fn execute(&self, id: &str) {
        let Some(live) = lock(&self.inner.live).get(id).cloned() else {
            return;
        };
        let store = &self.inner.store;
        if live.abort.is_aborted() {
            let reason = live.abort.reason().unwrap_or_default();
            let ended = self
                .retried(|| store.end_without_report(id, RunState::Aborted, &reason))
                .await;
            log_failure(id, ended);
            self.emit(id, &live, aborted(reason)).await;
            lock(&self.inner.live).remove(id);
            return;
        }
        log_failure(id, self.retried(|| store.mark_running(id)).await);
        self.emit(id, &live, state_change(RunState::Running)).await;
        let (progress, updates) = mpsc::unbounded_channel();
        let mut writer = tokio::spawn(self.clone().record(id.to_owned(), live.clone(), updates));
        let running = runner::run(live.plan.clone(), Some(progress), live.abort.clone());
        // An aborted run stops within a second; one whose engine does not is given up on (its
        // seconds are stored; the run ends `aborted` without a report) so that a cancel or a
        // shutdown never waits on it.
        let (outcome, engine_stopped) = tokio::select! {
            outcome = running => (outcome, true),
            () = aborted_for(&live.abort, ENGINE_STOP_GRACE) => (
                Err(RunError::Stopped(format!(
                    "{}; the engine did not stop within {}",
                    live.abort.reason().unwrap_or_default(),
                    crate::pool::connect::seconds(ENGINE_STOP_GRACE)
                ))),
                false,
            ),
        };
        if engine_stopped {
            let _written = (&mut writer).await;
        } else if tokio::time::timeout(ENGINE_STOP_GRACE, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        let verdict = match outcome {
            Ok(output) => {
                log_failure(
                    id,
                    self.retried(|| store.finish_run(id, &output.report, &output.blocks))
                        .await,
                );
                RunEvent::Verdict(RunVerdict {
                    state: output.report.state,
                    passed: output.report.passed,
                    error: output.report.error.clone(),
                    failed_criteria: output.report.failed_criteria(),
                })
            }
            Err(error) => {
                let error = error.to_string();
                log_failure(
                    id,
                    self.retried(|| store.end_without_report(id, RunState::Aborted, &error))
                        .await,
                );
                aborted(error)
            }
        };
        self.emit(id, &live, verdict).await;
        lock(&self.inner.live).remove(id);
        if let Err(error) = store.prune(self.inner.keep_runs).await {
            tracing::warn!(%error, "pruning old runs");
        }
    }

    /// Writes the run's progress to the store, then to its followers, as it arrives: every
    /// second reaches the store once, in order. When the store is slow the queue grows (the run's
    /// length bounds it) and followers lag; what queued meanwhile is written in one transaction.
    async fn record(self, id: String, live: Live, mut updates: mpsc::UnboundedReceiver<Progress>) {
        let store = &self.inner.store;
        let mut batch = Vec::new();
        while updates.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            {
                let seconds: Vec<(&SecondSample, &[SecondHistograms])> = batch
                    .iter()
                    .filter_map(|update| match update {
                        Progress::Second(second, histograms) => {
                            Some((second, histograms.as_slice()))
                        }
                        Progress::Phase(_) => None,
                    })
                    .collect();
                if !seconds.is_empty() {
                    let stored = self.retried(|| store.append_seconds(&id, &seconds)).await;
                    log_failure(&id, stored);
                }
            }
            let events: Vec<StoredEvent> = batch
                .drain(..)
                .map(|update| match update {
                    Progress::Phase(name) => event(&live, &RunEvent::Phase(PhaseStart { name })),
                    Progress::Second(second, _) => event(&live, &RunEvent::Progress(second)),
                })
                .collect();
            self.publish(&id, &live, events).await;
        }
    }

    /// Appends an event to the run's log and sends it to live followers.
    async fn emit(&self, id: &str, live: &Live, run_event: RunEvent) {
        self.publish(id, live, vec![event(live, &run_event)]).await;
    }

    /// Stores events, then sends them to live followers (who may replay from the log, so the log
    /// is written first).
    async fn publish(&self, id: &str, live: &Live, events: Vec<StoredEvent>) {
        let store = &self.inner.store;
        log_failure(id, self.retried(|| store.append_events(id, &events)).await);
        for event in events {
            let _nobody_follows = live.events.send(event);
        }
    }

    /// `write`, retried with growing pauses while the store fails, for up to
    /// [`STORE_RETRY_FOR`] (a few seconds once the console is stopping): a store that is slow or
    /// briefly locked loses nothing.
    async fn retried<F, Fut>(&self, mut write: F) -> Result<(), StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), StoreError>>,
    {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let error = match write().await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            let budget = if self.inner.stopping.is_cancelled() {
                STORE_RETRY_WHEN_STOPPING
            } else {
                STORE_RETRY_FOR
            };
            if started.elapsed() >= budget {
                return Err(error);
            }
            tracing::warn!(%error, "a write to the results store failed; retrying");
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = self.inner.stopping.cancelled(), if budget == STORE_RETRY_FOR => {}
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}

/// Completes `grace` after `abort` fired.
async fn aborted_for(abort: &Abort, grace: Duration) {
    abort.aborted().await;
    tokio::time::sleep(grace).await;
}

/// The next event of `live`'s log.
fn event(live: &Live, run_event: &RunEvent) -> StoredEvent {
    StoredEvent {
        seq: live.next_seq.fetch_add(1, Ordering::Relaxed),
        at: now_ms(),
        kind: run_event.kind().to_owned(),
        data: run_event.data(),
    }
}

fn state_change(state: RunState) -> RunEvent {
    RunEvent::State(StateChange { state })
}

/// The verdict of a run that ended without a report.
fn aborted(error: String) -> RunEvent {
    RunEvent::Verdict(RunVerdict {
        state: RunState::Aborted,
        passed: false,
        error: Some(error),
        failed_criteria: Vec::new(),
    })
}

/// A store write that failed even after its retries is logged; the run goes on.
fn log_failure(id: &str, result: Result<(), StoreError>) {
    if let Err(error) = result {
        tracing::error!(run = id, %error, "writing a run to the store");
    }
}

/// The guard rails: users, total duration and arrival rate of every scenario, and the recovery
/// burst the profile implies.
fn check_guard_rails(
    suite: &Suite,
    profile: &PoolProfile,
    rails: &GuardRails,
) -> Result<(), Invalid> {
    let mut duration = 0.0;
    for scenario in &suite.scenarios {
        let users = scenario.load.concurrency();
        if users > rails.max_users {
            return Err(Invalid::new(
                "suite",
                format!(
                    "scenario `{}` uses {users} users, above the guard rail of {} (guard_rails.max_users)",
                    scenario.name, rails.max_users
                ),
            ));
        }
        match scenario.load {
            Load::Closed {
                users,
                requests_per_user,
                duration_s,
                ..
            } => {
                duration += duration_s.unwrap_or(0.0);
                let requests = u64::from(users) * u64::from(requests_per_user.unwrap_or(0));
                if requests > rails.max_requests {
                    return Err(Invalid::new(
                        "suite",
                        format!(
                            "scenario `{}` makes {requests} requests, above the guard rail of {} \
                             (guard_rails.max_requests)",
                            scenario.name, rails.max_requests
                        ),
                    ));
                }
            }
            Load::Open {
                rate_per_s,
                duration_s,
                ..
            } => {
                duration += duration_s;
                if rate_per_s > rails.max_rate_per_s {
                    return Err(Invalid::new(
                        "suite",
                        format!(
                            "scenario `{}` arrives at {rate_per_s}/s, above the guard rail of {}/s \
                             (guard_rails.max_rate_per_s)",
                            scenario.name, rails.max_rate_per_s
                        ),
                    ));
                }
            }
        }
    }
    if duration > rails.max_duration_s {
        return Err(Invalid::new(
            "suite",
            format!(
                "its scenarios last {duration} s, above the guard rail of {} s (guard_rails.max_duration_s)",
                rails.max_duration_s
            ),
        ));
    }
    if let Some(recovery) = &suite.recovery {
        let burst = recovery.burst_factor * f64::from(profile.primary.capacity());
        if burst > f64::from(rails.max_users) {
            return Err(Invalid::new(
                "profile",
                format!(
                    "its recovery burst of {burst} users is above the guard rail of {} (guard_rails.max_users)",
                    rails.max_users
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_rails_bound_users_duration_and_bursts() {
        let rails = GuardRails {
            max_users: 25,
            max_duration_s: 60.0,
            max_rate_per_s: 100.0,
            ..GuardRails::default()
        };
        let dev = PoolProfile::built_in().remove(1);
        let error = check_guard_rails(&Suite::auth_burst(), &dev, &rails).unwrap_err();
        assert!(
            error.to_string().contains("scenario `peak` uses 30 users"),
            "{error}"
        );
        let roomy = GuardRails {
            max_users: 100,
            ..rails.clone()
        };
        let error = check_guard_rails(&Suite::auth_sustained(30.0), &dev, &roomy).unwrap_err();
        assert!(error.to_string().contains("last 120 s"), "{error}");
        assert!(check_guard_rails(&Suite::auth_burst(), &dev, &roomy).is_ok());
        let prod = PoolProfile::built_in().remove(2);
        let error = check_guard_rails(&Suite::auth_burst(), &prod, &roomy).unwrap_err();
        assert!(
            error.to_string().contains("recovery burst of 160"),
            "{error}"
        );
    }
}
