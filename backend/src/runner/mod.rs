//! Runs a suite against a target: pools configured by a profile, virtual users making the
//! workload's requests scenario after scenario, then exhaustion & recovery and the leak check;
//! a collector aggregating everything; an observer watching the server; a report judged by the
//! suite's criteria and thresholds.
//!
//! Layout: [`engine`] (the threads requests are made on), [`load`] (virtual users),
//! [`collector`] (aggregation), [`observer`] (the server side), [`phases`] (recovery, leak
//! check), [`abort`] (stopping early with a reason).

pub mod abort;
pub mod collector;
pub mod engine;
pub mod handoff;
pub mod load;
pub mod observer;
pub mod phases;
pub mod pools;
pub mod scraped;
pub mod timer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lifeguard_shared::invalid::Invalid;
use lifeguard_shared::pool::{PoolProfile, PoolSettings};
use lifeguard_shared::report::{
    GaugeSources, LeakReport, RecoveryReport, RunReport, RunState, ScenarioReport, ServerReport,
};
use lifeguard_shared::suite::{Load, Suite};
use lifeguard_shared::verdict;
use lifeguard_shared::workload::AuthFlow;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

pub use abort::Abort;
use abort::AbortTaskOnDrop;
pub use collector::Progress;
use collector::{Collected, Collector, PhaseClock, Samples};
use engine::{EngineThreads, Runtimes};
use load::Users;
use observer::{Backends, Observer};
use pools::PoolWatch;
use scraped::ScrapedPool;

use crate::pool::events::PoolRole;
use crate::pool::{Pool, describe};
use crate::stats::blocks::Block;
use crate::stats::histogram::SecondHistograms;
use crate::targets::{HttpService, Reach};
use crate::workload::auth_flow::AuthFlowWorkload;
use crate::workload::http_auth::{self, HttpAuthFlow};
use crate::workload::{Pools, Replica, Workload, schema};

/// What to run, where, and how.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Names this run's connections (`application_name = lifeguard:<id>:primary`).
    pub run_id: String,
    pub target_name: String,
    /// How to reach the target: a PostgreSQL server to open pools on, or a service to send the
    /// auth flow to. Holds passwords: never log or serialise it.
    pub target: Reach,
    pub suite: Suite,
    pub profile: PoolProfile,
    pub workload: AuthFlow,
    /// Record pool events (off only to measure what instrumentation costs).
    pub instrumented: bool,
    /// The run's wall-clock limit (`guard_rails.max_duration_s`): past it the run is aborted,
    /// whatever its scenarios say.
    pub max_duration: Duration,
    /// Worker threads of the run's engine (1–64).
    pub engine_threads: u32,
}

/// A run that could not start; nothing was measured.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("invalid {what}: {invalid}")]
    Invalid {
        what: &'static str,
        invalid: Invalid,
    },
    #[error("cannot reach target `{target}`: {cause}")]
    Unreachable { target: String, cause: String },
    #[error("preparing lifeguard's schema on target `{target}`: {cause}")]
    Schema { target: String, cause: String },
    /// A service failed the login and validation tried before any load.
    #[error("target `{target}` failed the check before the load: {cause}")]
    Preflight { target: String, cause: String },
    /// Stopped (cancelled, the console stopping, the deadline) before the load began.
    #[error("stopped before the load began: {0}")]
    Stopped(String),
    /// The machine would not give the run its thread or runtime.
    #[error("cannot start the load engine: {0}")]
    Engine(String),
}

/// The report, and what comparisons need beyond it: the per-second histograms and each
/// scenario's blocks.
#[derive(Debug)]
pub struct RunOutput {
    pub report: RunReport,
    pub histograms: Vec<SecondHistograms>,
    pub blocks: BTreeMap<String, Vec<Block>>,
}

impl RunPlan {
    /// Every rule, checked before any connection opens.
    pub fn validate(&self) -> Result<(), RunError> {
        let invalid = |what| move |invalid| RunError::Invalid { what, invalid };
        self.suite.validate().map_err(invalid("suite"))?;
        self.profile.validate().map_err(invalid("pool profile"))?;
        lifeguard_shared::run::check_engine_threads("engine_threads", self.engine_threads)
            .map_err(invalid("run"))?;
        if self.profile.replicas > 1 && matches!(self.target, Reach::Http(_)) {
            return Err(RunError::Invalid {
                what: "pool profile",
                invalid: Invalid::new(
                    "replicas",
                    "must be 1 for a service target: a deployed service runs its own replicas, \
                     lifeguard opens them only on a PostgreSQL target",
                ),
            });
        }
        self.workload
            .validate()
            .map_err(|e| e.under("workload"))
            .map_err(invalid("workload"))
    }

    fn application_name(&self, role: PoolRole) -> String {
        format!("lifeguard:{}:{}", self.run_id, role.as_str())
    }
}

/// A fresh run id: 12 hex digits.
#[must_use]
pub fn new_run_id() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// Runs the auth flow of `plan`: on pools lifeguard opens on a PostgreSQL target, or against a
/// deployed service.
pub async fn run(
    plan: RunPlan,
    progress: Option<mpsc::UnboundedSender<Progress>>,
    abort: Abort,
) -> Result<RunOutput, RunError> {
    match plan.target.clone() {
        Reach::Postgres(_) => {
            let knobs = plan.workload.clone();
            run_with(
                plan,
                move |pools| AuthFlowWorkload::new(knobs, pools),
                progress,
                abort,
            )
            .await
        }
        Reach::Http(service) => {
            plan.validate()?;
            let workload =
                HttpAuthFlow::new(service.clone(), plan.workload.login_ratio, abort.clone())
                    .map_err(|cause| RunError::Preflight {
                        target: plan.target_name.clone(),
                        cause,
                    })?;
            let failed = |cause: String| RunError::Preflight {
                target: plan.target_name.clone(),
                cause,
            };
            tokio::select! {
                checked = workload.preflight() => checked.map_err(|e| failed(e.to_string()))?,
                () = abort.aborted() => {
                    return Err(RunError::Stopped(abort.reason().unwrap_or_default()));
                }
            }
            let engine = Engine {
                workload,
                pools: None,
                service: Some(service),
            };
            on_engine_thread(plan, engine, progress, abort).await
        }
    }
}

/// Runs `plan` (a PostgreSQL target) with any workload on its pools: benchmarks drive other
/// statements through the same machinery.
pub async fn run_with<W: Workload>(
    plan: RunPlan,
    workload: impl FnOnce(Pools) -> W,
    progress: Option<mpsc::UnboundedSender<Progress>>,
    abort: Abort,
) -> Result<RunOutput, RunError> {
    plan.validate()?;
    let Reach::Postgres(config) = &plan.target else {
        return Err(RunError::Engine(
            "a workload on lifeguard's own pools needs a PostgreSQL target".into(),
        ));
    };
    let pools = open_pools(&plan, config);
    let engine = Engine {
        workload: workload(pools.clone()),
        pools: Some(pools),
        service: None,
    };
    on_engine_thread(plan, engine, progress, abort).await
}

/// What a run loads and watches, set up before its engine starts.
struct Engine<W> {
    workload: W,
    /// The pools lifeguard opened on a PostgreSQL target.
    pools: Option<Pools>,
    /// The service, for a service target.
    service: Option<Arc<HttpService>>,
}

/// Runs `engine` on threads of its own: the run's thread (its phases, collector, observer) and
/// `engine_threads` engine threads that make the requests (see [`engine`]), so the console's own
/// work never shares the run's schedulers and the run's bookkeeping never delays a request. If
/// the caller stops waiting, the run is aborted rather than left running unseen.
async fn on_engine_thread<W: Workload>(
    plan: RunPlan,
    engine: Engine<W>,
    progress: Option<mpsc::UnboundedSender<Progress>>,
    abort: Abort,
) -> Result<RunOutput, RunError> {
    let (answer, answered) = oneshot::channel();
    let engine_abort = abort.clone();
    std::thread::Builder::new()
        .name(format!("lifeguard-run-{}", plan.run_id))
        .spawn(move || {
            let started = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    let threads = EngineThreads::start(plan.engine_threads as usize, &plan.run_id)?;
                    Ok((runtime, threads))
                });
            let (runtime, threads) = match started {
                Ok(started) => started,
                Err(error) => {
                    let _caller_gone = answer.send(Err(RunError::Engine(error.to_string())));
                    return;
                }
            };
            let runtimes = threads.runtimes();
            let output = runtime.block_on(async {
                let output = run_here(plan, engine, runtimes, progress, engine_abort).await;
                // The observer's tokio-postgres connection says goodbye to the server on its
                // I/O task: let that run before the runtime (and any unfinished task) is dropped.
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                output
            });
            drop(threads);
            let _caller_gone = answer.send(output);
        })
        .map_err(|error| RunError::Engine(error.to_string()))?;
    let stop_if_dropped = AbortOnDrop(Some(abort));
    let output = answered.await.unwrap_or_else(|_| {
        Err(RunError::Engine(
            "the run's thread ended without an answer".into(),
        ))
    });
    stop_if_dropped.disarm();
    output
}

/// Aborts the run when the future waiting for it is dropped before it finished.
struct AbortOnDrop(Option<Abort>);

impl AbortOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(abort) = self.0.take() {
            abort.abort("nobody waits for the run any more");
        }
    }
}

/// The run itself, on the runtime of the calling thread, its users on `runtimes`.
async fn run_here<W: Workload>(
    plan: RunPlan,
    engine: Engine<W>,
    runtimes: Runtimes,
    progress: Option<mpsc::UnboundedSender<Progress>>,
    abort: Abort,
) -> Result<RunOutput, RunError> {
    let started = Instant::now();
    let started_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let _deadline_ends_with_the_run = deadline(&abort, plan.max_duration);
    let (observer, server) = match (&plan.target, &engine.service) {
        (Reach::Postgres(config), _) => {
            let (observer, server) = prepare_target(&plan, config, &abort).await?;
            (Some(observer), server)
        }
        (_, Some(service)) => prepare_service(&plan, service, &abort).await?,
        (Reach::Http(_), None) => return Err(RunError::Engine("no service to load".into())),
    };
    let Engine {
        workload,
        pools,
        service,
    } = engine;
    let phases = Phases::of(&plan.suite);
    let clock = Arc::new(PhaseClock::default());
    let samples = Samples::new(runtimes.all().len());
    let (observation_tx, observation_rx) = mpsc::channel(64);
    let finish = CancellationToken::new();
    let own_pools: Vec<Pool> = pools.iter().flat_map(Pools::all).cloned().collect();
    let collector = Collector::new(
        started,
        phases.names.clone(),
        clock.clone(),
        own_pools,
        server,
        progress.clone(),
    );
    let stop_watching = CancellationToken::new();
    let (watched, scrapes) = watch_pools(pools.as_ref(), service.as_deref(), &stop_watching)?;
    let collecting =
        tokio::spawn(collector.run(samples.clone(), observation_rx, scrapes, finish.clone()));
    let (latest_tx, latest) = watch::channel(None);
    let observing = observer.map(|observer| {
        tokio::spawn(observer.watch(
            Duration::from_secs(1),
            observation_tx,
            latest_tx,
            abort.clone(),
            stop_watching.clone(),
        ))
    });
    let closer = close_when_aborted(&abort, pools.clone());
    let users = Users {
        workload: Arc::new(workload),
        samples,
        abort: abort.clone(),
        runtimes,
    };
    let finished = run_phases(
        &plan,
        &users,
        &watched,
        &phases,
        &clock,
        progress.as_ref(),
        &latest,
    )
    .await;

    stop_watching.cancel();
    if let Some(observing) = observing {
        let _observer_ended = observing.await;
    }
    if let Some(pools) = &pools {
        pools.close();
    }
    closer.abort();
    drop(users);
    finish.cancel();
    let mut collected = collecting.await.map_err(|error| RunError::Unreachable {
        target: plan.target_name.clone(),
        cause: format!("the collector failed: {error}"),
    })?;
    let blocks = plan
        .suite
        .scenarios
        .iter()
        .zip(&mut collected.phases)
        .take(finished.spans.len())
        .map(|(scenario, phase)| (scenario.name.clone(), phase.blocks()))
        .collect();
    let report = assemble(&plan, &collected, finished, &abort, started, started_at_ms);
    Ok(RunOutput {
        report,
        histograms: collected.histograms,
        blocks,
    })
}

/// How the phases watch the pools: lifeguard's own, a service's through its metrics (scraped on
/// a task until `stop`; the collector gets every reading), or none.
fn watch_pools(
    pools: Option<&Pools>,
    service: Option<&HttpService>,
    stop: &CancellationToken,
) -> Result<(PoolWatch, Option<mpsc::Receiver<crate::scrape::Scraped>>), RunError> {
    if let Some(pools) = pools {
        return Ok((PoolWatch::Local(pools.clone()), None));
    }
    let Some((service, metrics)) = service.and_then(|s| Some((s, s.metrics.clone()?))) else {
        return Ok((PoolWatch::Unseen, None));
    };
    let (scrape_tx, scrape_rx) = mpsc::channel(64);
    let (latest_tx, latest) = watch::channel(None);
    let dry = crate::scrape::DryEpisodes::default();
    let http = http_auth::client(service).map_err(RunError::Engine)?;
    tokio::spawn(crate::scrape::watch(
        metrics,
        http,
        scrape_tx,
        latest_tx,
        dry.clone(),
        stop.clone(),
    ));
    Ok((PoolWatch::Scraped { latest, dry }, Some(scrape_rx)))
}

/// Connects the observer, reads the server's identity and prepares lifeguard's schema. Every
/// step has a deadline or is cut short by `abort`; seeding that is cut short is cancelled on the
/// server too, so it stops loading the target.
async fn prepare_target(
    plan: &RunPlan,
    target: &tokio_postgres::Config,
    abort: &Abort,
) -> Result<(Observer, ServerReport), RunError> {
    let stopped = || RunError::Stopped(abort.reason().unwrap_or_default());
    let unreachable = |cause: String| RunError::Unreachable {
        target: plan.target_name.clone(),
        cause,
    };
    let observer_name = format!("lifeguard-observer:{}", plan.run_id);
    let observer = tokio::select! {
        connected = Observer::connect(
            target,
            &observer_name,
            Backends::ApplicationName(format!("lifeguard:{}:%", plan.run_id)),
        ) => connected.map_err(|e| unreachable(e.to_string()))?,
        () = abort.aborted() => return Err(stopped()),
    };
    let answer_within = crate::pool::connect::timeout_of(target);
    let identity = tokio::select! {
        identity = tokio::time::timeout(answer_within, observer.server_identity()) => match identity {
            Ok(identity) => identity.map_err(|e| unreachable(describe(&e)))?,
            Err(_elapsed) => return Err(unreachable(format!(
                "no answer to the first query within {} (connect_timeout_s)",
                crate::pool::connect::seconds(answer_within)
            ))),
        },
        () = abort.aborted() => return Err(stopped()),
    };
    let cancel = observer.client().cancel_token();
    tokio::select! {
        seeded = schema::ensure(observer.client(), plan.workload.users) => {
            seeded.map_err(|error| RunError::Schema {
                target: plan.target_name.clone(),
                cause: describe(&error),
            })?;
        }
        () = abort.aborted() => {
            let cancelled = tokio::time::timeout(
                answer_within,
                cancel.cancel_query(tokio_postgres::NoTls),
            )
            .await;
            if !matches!(cancelled, Ok(Ok(()))) {
                tracing::warn!(run = %plan.run_id, "the seeding query could not be cancelled");
            }
            return Err(stopped());
        }
    }
    let server = ServerReport {
        version: identity.version,
        max_connections: identity.max_connections,
        superuser_reserved_connections: identity.superuser_reserved_connections,
        other_backends_at_start: identity.other_backends,
        ..ServerReport::default()
    };
    Ok((observer, server))
}

/// An aborted run must not wait out pool timeouts: closing the pools fails queued checkouts.
fn close_when_aborted(abort: &Abort, pools: Option<Pools>) -> tokio::task::JoinHandle<()> {
    let abort = abort.clone();
    tokio::spawn(async move {
        abort.aborted().await;
        if let Some(pools) = pools {
            pools.close();
        }
    })
}

/// Aborts the run `limit` after now, whatever it is doing; the deadline ends with the run.
fn deadline(abort: &Abort, limit: Duration) -> AbortTaskOnDrop<()> {
    let abort = abort.clone();
    AbortTaskOnDrop(tokio::spawn(async move {
        tokio::time::sleep(limit).await;
        abort.abort(format!(
            "the run reached its wall-clock limit of {} (guard_rails.max_duration_s)",
            crate::pool::connect::seconds(limit)
        ));
    }))
}

/// For a service target: the service's database watched from the server side, when the target
/// names one (and the server's identity read there); a service without one runs unobserved.
async fn prepare_service(
    plan: &RunPlan,
    service: &HttpService,
    abort: &Abort,
) -> Result<(Option<Observer>, ServerReport), RunError> {
    let Some(database) = &service.database else {
        return Ok((None, ServerReport::default()));
    };
    let unreachable = |cause: String| RunError::Unreachable {
        target: plan.target_name.clone(),
        cause: format!("its database: {cause}"),
    };
    let observer_name = format!("lifeguard-observer:{}", plan.run_id);
    let observer = tokio::select! {
        connected = Observer::connect(&database.connect, &observer_name, database.backends.clone())
            => connected.map_err(|e| unreachable(e.to_string()))?,
        () = abort.aborted() => return Err(RunError::Stopped(abort.reason().unwrap_or_default())),
    };
    let answer_within = crate::pool::connect::timeout_of(&database.connect);
    let identity = match tokio::time::timeout(answer_within, observer.server_identity()).await {
        Ok(identity) => identity.map_err(|e| unreachable(describe(&e)))?,
        Err(_elapsed) => return Err(unreachable("no answer to the first query".into())),
    };
    let server = ServerReport {
        version: identity.version,
        max_connections: identity.max_connections,
        superuser_reserved_connections: identity.superuser_reserved_connections,
        other_backends_at_start: identity.other_backends,
        ..ServerReport::default()
    };
    Ok((Some(observer), server))
}

/// The profile's pools, one set per replica, their connections named for this run (and the
/// replica, when there are several: `lifeguard:<id>:primary:r2`).
fn open_pools(plan: &RunPlan, target: &tokio_postgres::Config) -> Pools {
    let replicas = plan.profile.replicas.max(1);
    let pool = |role, replica: u32, settings: &PoolSettings| {
        let mut connect = target.clone();
        let name = plan.application_name(role);
        connect.application_name(if replicas == 1 {
            name
        } else {
            format!("{name}:r{}", replica + 1)
        });
        Pool::new(role, settings.clone(), connect, plan.instrumented)
    };
    Pools::new(
        (0..replicas)
            .map(|replica| Replica {
                primary: pool(PoolRole::Primary, replica, &plan.profile.primary),
                secondary: plan
                    .profile
                    .secondary
                    .as_ref()
                    .map(|s| pool(PoolRole::Secondary, replica, s)),
            })
            .collect(),
    )
}

/// The collector's phases: the scenarios, then recovery (when the suite has it), the leak check,
/// and pre-warming (which happens first but is listed last, so scenario indices stay put).
struct Phases {
    names: Vec<String>,
    recovery: Option<usize>,
    leak_check: usize,
    prewarm: usize,
}

impl Phases {
    fn of(suite: &Suite) -> Self {
        let mut names: Vec<String> = suite.scenarios.iter().map(|s| s.name.clone()).collect();
        let recovery = suite.recovery.as_ref().map(|_| {
            names.push("recovery".into());
            names.len() - 1
        });
        names.push("leak-check".into());
        names.push("prewarm".into());
        Self {
            leak_check: names.len() - 2,
            prewarm: names.len() - 1,
            names,
            recovery,
        }
    }
}

/// What the phases found, before judging.
struct Finished {
    /// How long each scenario that ran took.
    spans: Vec<Duration>,
    recovery: Option<RecoveryReport>,
    leaks: Option<LeakReport>,
}

async fn run_phases<W: Workload>(
    plan: &RunPlan,
    users: &Users<W>,
    pools: &PoolWatch,
    phases: &Phases,
    clock: &PhaseClock,
    progress: Option<&mpsc::UnboundedSender<Progress>>,
    latest: &watch::Receiver<Option<observer::Observation>>,
) -> Finished {
    let abort = &users.abort;
    let enter = |index: usize| {
        clock.enter(index);
        if let Some(progress) = progress {
            let _nobody_listens = progress.send(Progress::Phase(phases.names[index].clone()));
        }
    };
    enter(phases.prewarm);
    for pool in pools.local().into_iter().flat_map(Pools::all) {
        if pool.settings().prewarm
            && let Err(error) = pool.prewarm_on(users.runtimes.all()).await
        {
            abort.abort(format!(
                "pre-warming the {} pool: {error}",
                pool.role().as_str()
            ));
        }
    }
    let mut finished = Finished {
        spans: Vec::new(),
        recovery: None,
        leaks: None,
    };
    for (index, scenario) in plan.suite.scenarios.iter().enumerate() {
        if abort.is_aborted() {
            return finished;
        }
        enter(index);
        let begun = Instant::now();
        users.drive(index, &scenario.load).await;
        finished.spans.push(begun.elapsed());
    }
    if let (Some(settings), Some(index)) = (&plan.suite.recovery, phases.recovery)
        && !abort.is_aborted()
    {
        enter(index);
        finished.recovery = Some(
            phases::recovery(
                users,
                pools,
                pools
                    .capacity()
                    .unwrap_or_else(|| plan.profile.primary_fleet().capacity()),
                index,
                settings,
                plan.suite.thresholds.response_time_ms.warning,
            )
            .await,
        );
    }
    if let Some(settings) = &plan.suite.leak_check
        && !abort.is_aborted()
    {
        enter(phases.leak_check);
        finished.leaks = Some(
            phases::leak_check(
                users,
                pools,
                settings,
                latest,
                plan.profile.kept_connections(),
            )
            .await,
        );
    }
    finished
}

/// Where the run's gauges came from: lifeguard's own pools and the target's server, or a
/// service's metrics and database, with what they could not provide.
fn sources(plan: &RunPlan, collected: &Collected) -> GaugeSources {
    match (&plan.target, &collected.scraped) {
        (Reach::Postgres(_), _) => GaugeSources {
            pool: "lifeguard".into(),
            pool_gauges: [
                "checked out",
                "idle",
                "waiting",
                "capacity",
                "overflow",
                "timeouts",
                "acquire wait",
                "connections created",
            ]
            .map(str::to_owned)
            .to_vec(),
            server: "target".into(),
            ..GaugeSources::default()
        },
        (Reach::Http(service), scraped) => {
            // No metrics at all: every gauge is missing.
            let (pool_gauges, missing_pool_gauges) = scraped
                .as_ref()
                .map_or_else(|| ScrapedPool::default().gauges(), ScrapedPool::gauges);
            GaugeSources {
                pool: service.metrics.as_ref().map_or_else(
                    || "none".to_owned(),
                    |m| format!("service metrics ({})", m.preset.name()),
                ),
                pool_gauges,
                missing_pool_gauges,
                server: if service.database.is_some() {
                    "service database".into()
                } else {
                    "none".into()
                },
                metrics_lost_at_s: scraped
                    .as_ref()
                    .and_then(|s| s.lost_at)
                    .map(|d| d.as_secs_f64()),
                failed_scrapes: scraped.as_ref().map_or(0, |s| s.failed),
                last_scrape_error: scraped.as_ref().and_then(|s| s.last_error.clone()),
            }
        }
    }
}

/// Judges what was measured: scenario and run criteria, thresholds, the final state.
fn assemble(
    plan: &RunPlan,
    collected: &Collected,
    finished: Finished,
    abort: &Abort,
    started: Instant,
    started_at_ms: u64,
) -> RunReport {
    let Finished {
        spans,
        mut recovery,
        mut leaks,
    } = finished;
    // A service's pool is what its metrics say, when they say it.
    let profile = collected
        .scraped
        .as_ref()
        .map_or_else(|| plan.profile.clone(), |s| s.sized(&plan.profile));
    // The gauges are sums over the replicas: so is the capacity they are measured against.
    let capacity = profile.primary_fleet().capacity();
    let scenarios: Vec<ScenarioReport> = plan
        .suite
        .scenarios
        .iter()
        .zip(&spans)
        .zip(&collected.phases)
        .map(|((scenario, span), aggregate)| {
            let duration_s = span.as_secs_f64();
            let requests = aggregate.outcomes.total();
            let succeeded = aggregate.outcomes.ok;
            let mut report = ScenarioReport {
                name: scenario.name.clone(),
                requests,
                succeeded,
                success_rate: if requests == 0 {
                    0.0
                } else {
                    succeeded as f64 / requests as f64
                },
                latency_ms: aggregate.latency_summary(),
                acquire_wait_ms: aggregate.wait_summary(),
                throughput_rps: if duration_s > 0.0 {
                    requests as f64 / duration_s
                } else {
                    0.0
                },
                duration_s,
                outcomes: aggregate.outcomes.clone(),
                pool: aggregate.pool_summary(capacity, duration_s),
                schedule: match scenario.load {
                    Load::Open { rate_per_s, .. } => aggregate.schedule(rate_per_s),
                    Load::Closed { .. } => None,
                },
                criteria: Vec::new(),
                passed: false,
            };
            report.criteria = verdict::scenario_criteria(&report, scenario, &plan.suite.criteria);
            report.passed = report.criteria.iter().all(|c| c.passed);
            report
        })
        .collect();
    let criteria = verdict::run_criteria(recovery.as_mut(), leaks.as_mut(), &plan.suite.criteria);
    let mut thresholds =
        verdict::thresholds(&scenarios, &profile.primary_fleet(), &plan.suite.thresholds);
    thresholds.push(verdict::connection_budget(
        &profile,
        &collected.server,
        plan.suite.thresholds.connection_budget_pct,
    ));
    let all_passed = scenarios.len() == plan.suite.scenarios.len()
        && scenarios.iter().all(|s| s.passed)
        && criteria.iter().all(|c| c.passed);
    let state = if abort.is_aborted() {
        RunState::Aborted
    } else if all_passed {
        RunState::Passed
    } else {
        RunState::Failed
    };
    RunReport {
        suite: plan.suite.name.clone(),
        target: plan.target_name.clone(),
        profile: plan.profile.name.clone(),
        state,
        passed: state == RunState::Passed,
        error: abort.reason(),
        started_at_ms,
        duration_s: started.elapsed().as_secs_f64(),
        scenarios,
        recovery,
        leaks,
        criteria,
        thresholds,
        server: collected.server.clone(),
        sources: sources(plan, collected),
        pool_profile: profile,
        workload: plan.workload.clone(),
        series: collected.series.clone(),
        buckets: collected.buckets.clone(),
        engine_threads: plan.engine_threads,
    }
}
