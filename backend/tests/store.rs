//! The results store on both back-ends: SQLite in a temporary directory, PostgreSQL in a sandbox.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::sync::OnceLock;

use lifeguard::runner::{Abort, RunOutput, RunPlan, new_run_id, run};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard::sizing::{SweepPlan, nothing_measured};
use lifeguard::store::{NewRun, RunFilter, Store, StoredEvent};
use lifeguard_shared::metric::Metric;
use lifeguard_shared::monitor::{Alert, MonitorMinute, MonitorSample};
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::report::{Level, RunState};
use lifeguard_shared::run::{DeployPhase, RunLabels};
use lifeguard_shared::sizing::{SizingPoint, SizingRequest, SizingState};
use lifeguard_shared::suite::{LeakCheck, Suite};
use lifeguard_shared::workload::AuthFlow;
use tokio::sync::Mutex;

/// One real run, shared by the tests: what the store keeps is what the engine produces.
async fn real_run() -> &'static RunOutput {
    static OUTPUT: OnceLock<RunOutput> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::const_new(());
    let _once = LOCK.lock().await;
    if OUTPUT.get().is_none() {
        let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
        let plan = RunPlan {
            run_id: new_run_id(),
            target_name: "sandbox".into(),
            target: sandbox.connect_config().into(),
            suite: Suite {
                recovery: None,
                leak_check: Some(LeakCheck { grace_s: 1.0 }),
                ..Suite::auth_sustained(2.0)
            },
            profile: PoolProfile::built_in().remove(1),
            workload: AuthFlow {
                users: 500,
                ..AuthFlow::default()
            },
            instrumented: true,
            max_duration: lifeguard::config::GuardRails::default().max_duration(),
            engine_threads: 1,
        };
        let output = run(plan, None, Abort::new()).await.unwrap();
        sandbox.stop().await;
        let _ = OUTPUT.set(output);
    }
    OUTPUT.get().unwrap()
}

fn new_run(id: &str, environment: &str, created_at: u64) -> NewRun {
    NewRun {
        id: id.into(),
        target: "sandbox".into(),
        suite: "auth-sustained".into(),
        profile: "recommended-dev".into(),
        labels: RunLabels {
            environment: environment.into(),
            phase: DeployPhase::PreDeploy,
            version: "v1".into(),
            notes: "first".into(),
        },
        plan: "{}".into(),
        created_at,
    }
}

async fn keeps_a_run_from_queue_to_report(store: &Store) {
    let output = real_run().await;
    store
        .create_run(&new_run("r1", "staging", 1))
        .await
        .unwrap();
    let queued = store.run("r1").await.unwrap().unwrap();
    assert_eq!(queued.summary.state, RunState::Queued);
    assert_eq!(queued.report, None);
    store.mark_running("r1").await.unwrap();
    for (seq, second) in output.report.series.iter().enumerate() {
        let closed: Vec<_> = output
            .histograms
            .iter()
            .filter(|h| h.t == second.t)
            .cloned()
            .collect();
        store.append_second("r1", second, &closed).await.unwrap();
        let event = StoredEvent {
            seq: seq as u64,
            at: 1000 + seq as u64,
            kind: "second".into(),
            data: serde_json::to_string(second).unwrap(),
        };
        store.append_event("r1", &event).await.unwrap();
    }
    store
        .finish_run("r1", &output.report, &output.blocks)
        .await
        .unwrap();

    let detail = store.run("r1").await.unwrap().unwrap();
    assert_eq!(detail.summary.state, output.report.state);
    assert_eq!(detail.summary.labels.environment, "staging");
    assert_eq!(detail.summary.labels.phase, DeployPhase::PreDeploy);
    assert!(detail.summary.finished_at.is_some());
    let report = detail.report.unwrap();
    assert_eq!(report.scenarios, output.report.scenarios);
    assert!(report.series.is_empty(), "the series is served separately");
    assert_eq!(store.series("r1").await.unwrap(), output.report.series);
    let stored_histograms = store.histograms("r1").await.unwrap();
    let stored_phases: Vec<(u32, String)> = stored_histograms
        .iter()
        .map(|h| (h.t, h.phase.clone()))
        .collect();
    let mut expected: Vec<(u32, String)> = output
        .histograms
        .iter()
        .filter(|h| output.report.series.iter().any(|s| s.t == h.t))
        .map(|h| (h.t, h.phase.clone()))
        .collect();
    expected.sort();
    assert_eq!(stored_phases, expected);
    assert!(!stored_histograms.is_empty());
    assert_eq!(store.blocks("r1").await.unwrap(), output.blocks);
    let events = store.events_after("r1", Some(1)).await.unwrap();
    assert_eq!(events.len(), output.report.series.len() - 2);
    assert_eq!(events[0].seq, 2);
}

async fn lists_filter_and_page(store: &Store) {
    for (i, env) in ["dev", "prod", "prod"].iter().enumerate() {
        store
            .create_run(&new_run(&format!("l{i}"), env, 100 + i as u64))
            .await
            .unwrap();
    }
    let prod = store
        .list_runs(&RunFilter {
            environment: Some("prod".into()),
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(prod.total, 2);
    assert_eq!(prod.runs[0].id, "l2", "newest first");
    let page = store
        .list_runs(&RunFilter {
            limit: 1,
            offset: 1,
            state: Some(RunState::Queued),
            ..RunFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.runs.len(), 1);
    assert_eq!(page.total, 3);
    assert_eq!(page.runs[0].id, "l1");
}

async fn marks_unfinished_runs_interrupted_keeping_their_seconds(store: &Store) {
    let output = real_run().await;
    store
        .create_run(&new_run("crashed", "dev", 50))
        .await
        .unwrap();
    store.mark_running("crashed").await.unwrap();
    store
        .append_second("crashed", &output.report.series[0], &[])
        .await
        .unwrap();
    let interrupted = store.interrupt_unfinished().await.unwrap();
    assert!(interrupted >= 1);
    let detail = store.run("crashed").await.unwrap().unwrap();
    assert_eq!(detail.summary.state, RunState::Interrupted);
    assert!(detail.summary.error.unwrap().contains("stopped"));
    assert_eq!(store.series("crashed").await.unwrap().len(), 1);
}

async fn marks_running_sizings_interrupted_keeping_their_points(store: &Store) {
    let output = real_run().await;
    let plan = SweepPlan {
        target: "sandbox".into(),
        suite: Suite::auth_burst(),
        profile: PoolProfile::built_in().remove(0),
        headroom: 3.0,
        pool_timeout_s: 1.0,
        max_points: 24,
        base_concurrency: 30,
        budget: None,
    };
    let mut sizing = nothing_measured(&plan);
    sizing
        .points
        .push(SizingPoint::measured(1.0, "point-1", &output.report));
    let request: SizingRequest =
        serde_json::from_value(serde_json::json!({ "target": "sandbox" })).unwrap();
    store
        .create_sizing("sizing-1", 1, &request, &nothing_measured(&plan))
        .await
        .unwrap();
    store
        .update_sizing("sizing-1", SizingState::Running, &sizing, None)
        .await
        .unwrap();
    assert_eq!(store.interrupt_unfinished_sizings().await.unwrap(), 1);
    let stored = store.sizing("sizing-1").await.unwrap().unwrap();
    assert_eq!(stored.state, SizingState::Interrupted);
    assert!(stored.error.unwrap().contains("stopped"));
    assert_eq!(stored.sizing.points, sizing.points);
    assert!(store.sizing("nope").await.unwrap().is_none());
}

async fn keeps_baselines_with_history_and_never_prunes_their_run(store: &Store) {
    let output = real_run().await;
    for id in ["b1", "b2", "b3"] {
        store.create_run(&new_run(id, "prod", 10)).await.unwrap();
        store
            .finish_run(id, &output.report, &output.blocks)
            .await
            .unwrap();
    }
    store
        .set_baseline("auth-prod", "b1", "operator")
        .await
        .unwrap();
    let baseline = store.set_baseline("auth-prod", "b2", "cli").await.unwrap();
    assert_eq!(baseline.run_id, "b2");
    assert_eq!(baseline.environment, "prod");
    assert_eq!(baseline.history.len(), 2);
    assert_eq!(baseline.history[0].previous_run_id.as_deref(), Some("b1"));
    assert_eq!(baseline.history[0].set_by, "cli");
    assert!(
        store
            .set_baseline("x", "no-such-run", "operator")
            .await
            .is_err()
    );
    assert_eq!(store.baselines().await.unwrap().len(), 1);

    store.prune(0).await.unwrap();
    assert!(
        store.run("b2").await.unwrap().is_some(),
        "the baseline's run survives"
    );
    assert!(store.run("b1").await.unwrap().is_none());
    assert!(store.run("b3").await.unwrap().is_none());
    assert!(store.blocks("b3").await.unwrap().is_empty());
}

/// A known series over three hours: two hours downsample to minutes whose min/mean/max are
/// exact, the last hour stays raw, and minutes past their retention go; alerts open, change level,
/// resolve and list newest first.
async fn keeps_monitor_samples_small_and_alerts_as_they_change(store: &Store) {
    // A minute's start.
    let start = 1_700_000_040_000_u64;
    let samples: Vec<MonitorSample> = (0..3 * 3600 / 5)
        .map(|i| MonitorSample {
            at_ms: start + i * 5000,
            max_connections: 100,
            backends: u32::try_from(i % 12).unwrap(),
            idle_in_transaction: u32::try_from(i % 3).unwrap(),
            new_backends_per_s: Some(0.5),
            ..MonitorSample::default()
        })
        .collect();
    for sample in &samples {
        store.add_monitor_sample("watched", sample).await.unwrap();
    }
    store
        .add_monitor_sample("other", &samples[0])
        .await
        .unwrap();
    let two_hours = start + 2 * 3_600_000;
    let retained = store
        .retain_monitor("watched", two_hours + 30_000, start + 60_000)
        .await
        .unwrap();
    assert_eq!(
        retained.downsampled,
        2 * 3600 / 5,
        "whole minutes before the cutoff"
    );
    let raw = store.monitor_samples("watched", 0, u64::MAX).await.unwrap();
    assert_eq!(raw.len(), 3600 / 5);
    assert_eq!(raw[0].at_ms, two_hours);
    assert_eq!(
        store
            .monitor_samples("other", 0, u64::MAX)
            .await
            .unwrap()
            .len(),
        1,
        "another target's samples stay"
    );
    let minutes = store.monitor_minutes("watched", 0, u64::MAX).await.unwrap();
    assert_eq!(
        minutes,
        MonitorMinute::of(&samples[12..2 * 3600 / 5]),
        "the first minute is past its retention; the others are exact"
    );
    let used: Vec<&MonitorMinute> = minutes
        .iter()
        .filter(|m| m.metric == Metric::ConnectionsUsedPct)
        .collect();
    assert_eq!(used.len(), 119);
    assert!(
        used.iter()
            .all(|m| m.samples == 12 && m.min.abs() < 1e-12 && (m.max - 11.0).abs() < 1e-12)
    );
    assert!(used.iter().all(|m| (m.mean - 5.5).abs() < 1e-9));

    let mut alert = Alert {
        id: "a1".into(),
        target: "watched".into(),
        metric: Metric::IdleInTransactionAgeS,
        level: Level::Warning,
        value: 1900.0,
        threshold: 1800.0,
        fired_at_ms: start,
        resolved_at_ms: None,
    };
    store.open_alert(&alert).await.unwrap();
    alert.level = Level::Critical;
    alert.value = 3700.0;
    alert.threshold = 3600.0;
    store.update_alert(&alert).await.unwrap();
    assert_eq!(
        store.alerts(Some("watched"), true, 10).await.unwrap(),
        vec![alert.clone()]
    );
    alert.resolved_at_ms = Some(start + 60_000);
    store.update_alert(&alert).await.unwrap();
    assert!(
        store
            .alerts(Some("watched"), true, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.alerts(None, false, 10).await.unwrap(), vec![alert]);
}

async fn exercise(store: Store) {
    keeps_a_run_from_queue_to_report(&store).await;
    lists_filter_and_page(&store).await;
    marks_unfinished_runs_interrupted_keeping_their_seconds(&store).await;
    marks_running_sizings_interrupted_keeping_their_points(&store).await;
    keeps_baselines_with_history_and_never_prunes_their_run(&store).await;
    keeps_monitor_samples_small_and_alerts_as_they_change(&store).await;
}

#[tokio::test]
async fn the_sqlite_store_keeps_runs_and_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("lifeguard.db").display());
    let store = Store::open(&url).await.unwrap();
    exercise(store.clone()).await;
    store.close().await;
    // Reopening migrates nothing twice and finds the data.
    let again = Store::open(&url).await.unwrap();
    assert!(again.run("b2").await.unwrap().is_some());
    // WAL mode: writes go to the write-ahead log beside the database while it is open (readers
    // read the database and never wait for them), and the database file says so in its header
    // (bytes 18 and 19, the file format's write and read versions, are 2 for WAL and 1 for a
    // rollback journal).
    assert!(
        dir.path().join("lifeguard.db-wal").exists(),
        "no write-ahead log while the store is open"
    );
    again.close().await;
    let header = std::fs::read(dir.path().join("lifeguard.db")).unwrap();
    assert_eq!(&header[..16], b"SQLite format 3\0");
    assert_eq!(
        (header[18], header[19]),
        (2, 2),
        "the database is not in WAL mode"
    );
}

#[tokio::test]
async fn the_postgres_store_keeps_runs_and_baselines() {
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let store = Store::open(&sandbox.url()).await.unwrap();
    exercise(store.clone()).await;
    store.close().await;
    sandbox.stop().await;
}
