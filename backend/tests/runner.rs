//! The validity matrix: the engine, run against a real sandbox, tells healthy pools from the
//! analysed defects.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::{Duration, Instant};

use lifeguard::runner::{Abort, RunPlan, new_run_id, run};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard_shared::pool::{PoolProfile, PoolSettings, Reuse};
use lifeguard_shared::report::{RunReport, RunState};
use lifeguard_shared::suite::{LeakCheck, Load, Scenario, Suite};
use lifeguard_shared::workload::AuthFlow;

fn profile(name: &str) -> PoolProfile {
    PoolProfile::built_in()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap()
}

fn pool(pool_size: u32, max_overflow: u32, timeout_s: f64) -> PoolSettings {
    PoolSettings {
        pool_size,
        max_overflow,
        pool_timeout_s: timeout_s,
        pool_recycle_s: None,
        pre_ping: false,
        prewarm: false,
        reuse: Reuse::Fifo,
    }
}

fn closed(name: &str, users: u32, requests: u32) -> Scenario {
    Scenario {
        name: name.into(),
        load: Load::Closed {
            users,
            requests_per_user: Some(requests),
            duration_s: None,
            ramp_up_s: 0.0,
            think_time_ms: 0,
        },
        min_success_rate: 0.95,
    }
}

/// A suite of the given scenarios with a short leak check and no recovery phase.
fn suite(scenarios: Vec<Scenario>) -> Suite {
    Suite {
        name: "test".into(),
        scenarios,
        recovery: None,
        leak_check: Some(LeakCheck { grace_s: 2.0 }),
        ..Suite::auth_burst()
    }
}

fn workload(set: &[&str]) -> AuthFlow {
    let mut flow = AuthFlow {
        users: 1000,
        ..AuthFlow::default()
    };
    for assignment in set {
        flow.set(assignment).unwrap();
    }
    flow
}

async fn run_on(
    sandbox: &Sandbox,
    suite: Suite,
    profile: PoolProfile,
    workload: AuthFlow,
) -> RunReport {
    let plan = RunPlan {
        run_id: new_run_id(),
        target_name: "sandbox".into(),
        target: sandbox.connect_config().into(),
        suite,
        profile,
        workload,
        instrumented: true,
        max_duration: lifeguard::config::GuardRails::default().max_duration(),
        engine_threads: 1,
    };
    run(plan, None, Abort::new()).await.unwrap().report
}

async fn sandbox() -> Sandbox {
    Sandbox::start(&SandboxOptions::default()).await.unwrap()
}

#[tokio::test]
async fn the_healthy_workload_on_recommended_dev_passes_auth_burst() {
    let sandbox = sandbox().await;
    let report = run_on(
        &sandbox,
        Suite::auth_burst(),
        profile("recommended-dev"),
        workload(&[]),
    )
    .await;
    assert_eq!(
        report.state,
        RunState::Passed,
        "{:?}: {:#?}",
        report.failed_criteria(),
        report.scenarios
    );
    assert!(report.passed);
    let requests: Vec<u64> = report.scenarios.iter().map(|s| s.requests).collect();
    assert_eq!(requests, [15, 50, 100, 90]);
    for scenario in &report.scenarios {
        assert!(
            (scenario.success_rate - 1.0).abs() < f64::EPSILON,
            "{scenario:#?}"
        );
        assert!(scenario.latency_ms.p95 >= scenario.latency_ms.p50);
        assert!(scenario.latency_ms.max >= scenario.latency_ms.p99);
        assert!(scenario.throughput_rps > 0.0);
        assert_eq!(scenario.criteria.len(), 3);
    }
    // Pre-warmed: the light scenario needs no new connection.
    assert_eq!(report.scenarios[0].pool.connections_created, 0);
    let recovery = report.recovery.as_ref().unwrap();
    assert!(
        recovery.passed && recovery.seconds.unwrap() < 30.0,
        "{recovery:?}"
    );
    assert!(
        recovery.exhaustion_events > 0,
        "the burst must exhaust the pool: {recovery:?}"
    );
    let leaks = report.leaks.as_ref().unwrap();
    assert!(leaks.passed, "{leaks:?}");
    assert_eq!(leaks.checked_out_after, 0);
    assert!(report.server.peak_run_backends > 0);
    assert!(!report.series.is_empty());
    assert_eq!(report.error, None);
}

#[tokio::test]
async fn a_leaking_error_path_fails_the_leak_criterion_and_the_report_names_it() {
    let sandbox = sandbox().await;
    let report = run_on(
        &sandbox,
        suite(vec![closed("light", 5, 4), closed("moderate", 10, 4)]),
        profile("recommended-dev"),
        workload(&["leak_on_error=true", "error_rate=0.2"]),
    )
    .await;
    assert_eq!(report.state, RunState::Failed);
    let leaks = report.leaks.as_ref().unwrap();
    assert!(!leaks.passed);
    assert!(leaks.checked_out_after > 0, "{leaks:?}");
    assert_eq!(
        leaks.idle_in_transaction, leaks.checked_out_after,
        "{leaks:?}"
    );
    assert!(
        report.failed_criteria().contains(&"leaks".to_owned()),
        "{:?}",
        report.failed_criteria()
    );
    let leaked: u64 = report.scenarios.iter().map(|s| s.outcomes.leaked).sum();
    assert_eq!(u64::from(leaks.checked_out_after), leaked);
}

#[tokio::test]
async fn the_same_errors_without_the_leak_leave_nothing_behind() {
    let sandbox = sandbox().await;
    let report = run_on(
        &sandbox,
        suite(vec![closed("light", 5, 4), closed("moderate", 10, 4)]),
        profile("recommended-dev"),
        workload(&["error_rate=0.2"]),
    )
    .await;
    let leaks = report.leaks.as_ref().unwrap();
    assert!(leaks.passed, "{leaks:?}");
    let app_errors: u64 = report.scenarios.iter().map(|s| s.outcomes.app_error).sum();
    assert!(app_errors > 0);
}

#[tokio::test]
async fn an_undersized_pool_with_long_holds_records_exhaustion_and_pool_timeouts() {
    let sandbox = sandbox().await;
    let undersized = PoolProfile {
        name: "undersized".into(),
        description: String::new(),
        primary: pool(2, 1, 0.5),
        secondary: None,
        replicas: 1,
    };
    let report = run_on(
        &sandbox,
        suite(vec![closed("moderate", 10, 3)]),
        undersized,
        workload(&["hold_ms=300"]),
    )
    .await;
    let moderate = &report.scenarios[0];
    assert!(moderate.pool.exhaustion_events > 0, "{moderate:#?}");
    assert!(moderate.pool.timeouts > 0, "{moderate:#?}");
    assert_eq!(moderate.outcomes.pool_timeout, moderate.pool.timeouts);
    assert_eq!(moderate.outcomes.refused, 0);
    assert_eq!(moderate.pool.peak_checked_out, 3);
    assert!((moderate.pool.peak_utilization - 1.0).abs() < 1e-9);
    assert!(moderate.pool.peak_waiters > 0);
    assert!(!moderate.passed);
    assert_eq!(report.state, RunState::Failed);
    let exhaustion = report
        .thresholds
        .iter()
        .find(|t| t.metric == "exhaustion_events")
        .unwrap();
    assert_eq!(exhaustion.level, lifeguard_shared::report::Level::Critical);
}

#[tokio::test]
async fn sync_fallback_raises_connections_created_and_churn() {
    let sandbox = sandbox().await;
    let fallback_profile = PoolProfile {
        name: "fallback".into(),
        description: String::new(),
        primary: pool(2, 0, 0.1),
        secondary: Some(pool(2, 4, 2.0)),
        replicas: 1,
    };
    let scenarios = || suite(vec![closed("heavy", 12, 4)]);
    let without = run_on(
        &sandbox,
        scenarios(),
        fallback_profile.clone(),
        workload(&["hold_ms=150"]),
    )
    .await;
    let with = run_on(
        &sandbox,
        scenarios(),
        fallback_profile,
        workload(&["hold_ms=150", "sync_fallback=true"]),
    )
    .await;
    let (a, b) = (&without.scenarios[0].pool, &with.scenarios[0].pool);
    assert_eq!(a.secondary_connections_created, 0);
    assert!(b.secondary_connections_created > 0, "{b:#?}");
    assert!(
        b.connections_created > a.connections_created,
        "{a:#?} vs {b:#?}"
    );
    assert!(b.churn_per_s > a.churn_per_s, "{a:#?} vs {b:#?}");
    // The fallback hides the primary's timeouts from users: more requests succeed.
    assert!(with.scenarios[0].succeeded > without.scenarios[0].succeeded);
}

#[tokio::test]
async fn sync_fallback_on_application_errors_uses_the_secondary_pool_in_auth_burst() {
    let sandbox = sandbox().await;
    let totals = |report: &RunReport| {
        report.scenarios.iter().fold((0, 0), |(secondary, all), s| {
            (
                secondary + s.pool.secondary_connections_created,
                all + s.pool.connections_created,
            )
        })
    };
    // The analysis's own profile (async 10+20, sync 10+15) and timeout: no checkout times out in
    // auth-burst, so only the errors (5 %) can send requests to the sync pool.
    let without = run_on(
        &sandbox,
        Suite::auth_burst(),
        profile("current"),
        workload(&["error_rate=0.05"]),
    )
    .await;
    let with = run_on(
        &sandbox,
        Suite::auth_burst(),
        profile("current"),
        workload(&["error_rate=0.05", "sync_fallback=true"]),
    )
    .await;
    let (secondary_without, created_without) = totals(&without);
    let (secondary_with, created_with) = totals(&with);
    assert_eq!(secondary_without, 0, "{without:#?}");
    assert!(secondary_with > 0, "{with:#?}");
    eprintln!(
        "auth-burst, error_rate 0.05: connections created {created_without} without the \
         fallback, {created_with} with it ({secondary_with} by the sync pool)"
    );
    // Churn is connections created: the sync pool's come on top of the async pool's.
    assert!(
        created_with > created_without,
        "connections created: {created_with} with the fallback, {created_without} without"
    );
    // The users see fewer errors: the fallback answered most of them.
    let errors = |report: &RunReport| {
        report
            .scenarios
            .iter()
            .map(|s| s.outcomes.app_error)
            .sum::<u64>()
    };
    assert!(
        errors(&with) < errors(&without),
        "{} vs {}",
        errors(&with),
        errors(&without)
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn a_server_with_too_few_connections_refuses_and_it_is_not_counted_as_pool_timeouts() {
    let sandbox = Sandbox::start(&SandboxOptions {
        max_connections: 6,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let big = PoolProfile {
        name: "big".into(),
        description: String::new(),
        primary: pool(10, 10, 5.0),
        secondary: None,
        replicas: 1,
    };
    let report = run_on(
        &sandbox,
        suite(vec![closed("heavy", 20, 3)]),
        big,
        workload(&["hold_ms=50"]),
    )
    .await;
    let heavy = &report.scenarios[0];
    assert!(heavy.outcomes.refused > 0, "{heavy:#?}");
    assert_eq!(heavy.outcomes.pool_timeout, 0, "{heavy:#?}");
    assert_eq!(heavy.pool.timeouts, 0);
    assert_eq!(report.server.max_connections, 6);
}

/// Four application instances with 15 connections each on a server that gives 36: the server
/// refuses what it cannot give (53300, counted as refused, not as pool timeouts), and the run's
/// gauges are the sums over the replicas; two instances fit and pass.
#[tokio::test]
async fn replicas_pools_share_one_server_and_what_it_cannot_give_is_refused() {
    let sandbox = Sandbox::start(&SandboxOptions {
        max_connections: 40,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let fleet = |replicas| PoolProfile {
        name: format!("{replicas} × 15"),
        description: String::new(),
        primary: pool(15, 0, 5.0),
        secondary: None,
        replicas,
    };
    let load = || suite(vec![closed("peak", 80, 3)]);
    let four = run_on(&sandbox, load(), fleet(4), workload(&["hold_ms=100"])).await;
    let peak = &four.scenarios[0];
    assert!(peak.outcomes.refused > 0, "{peak:#?}");
    assert_eq!(peak.outcomes.pool_timeout, 0, "{peak:#?}");
    // The sandbox's role is a superuser, which the reserve does not stop: the server's own
    // ceiling is what held.
    assert!(
        four.server.peak_run_backends <= 40,
        "{} backends",
        four.server.peak_run_backends
    );
    let available = four.server.max_connections
        - four.server.superuser_reserved_connections
        - four.server.other_backends_at_start;
    assert!(
        peak.pool.peak_checked_out > 15,
        "the gauges add up the replicas: {:#?}",
        peak.pool
    );
    let budget = four
        .thresholds
        .iter()
        .find(|t| t.metric == lifeguard_shared::metric::Metric::ConnectionBudgetPct)
        .unwrap();
    assert!(
        (budget.peak - 60.0 * 100.0 / f64::from(available)).abs() < 1e-9,
        "{budget:?}"
    );
    assert_eq!(four.state, RunState::Failed);

    let two = run_on(&sandbox, load(), fleet(2), workload(&["hold_ms=100"])).await;
    let peak = &two.scenarios[0];
    assert_eq!(peak.outcomes.refused, 0, "{peak:#?}");
    assert_eq!(peak.succeeded, peak.requests, "{peak:#?}");
    assert!(
        peak.pool.peak_checked_out > 15 && peak.pool.peak_checked_out <= 30,
        "both replicas serve, neither past its 15: {:#?}",
        peak.pool
    );
    assert!(
        (peak.pool.peak_utilization - f64::from(peak.pool.peak_checked_out) / 30.0).abs() < 1e-9,
        "utilization is against both replicas' capacity: {:#?}",
        peak.pool
    );
}

#[tokio::test]
async fn a_target_that_dies_mid_run_ends_the_run_aborted_with_what_was_measured() {
    let sandbox = sandbox().await;
    let plan = RunPlan {
        run_id: new_run_id(),
        target_name: "sandbox".into(),
        target: sandbox.connect_config().into(),
        suite: Suite::auth_sustained(10.0),
        profile: profile("current"),
        workload: workload(&[]),
        instrumented: true,
        max_duration: lifeguard::config::GuardRails::default().max_duration(),
        engine_threads: 1,
    };
    let running = tokio::spawn(run(plan, None, Abort::new()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopped = Instant::now();
    sandbox.stop().await;
    let output = tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the run ends instead of hanging")
        .unwrap()
        .unwrap();
    let report = output.report;
    assert!(stopped.elapsed() < Duration::from_secs(30));
    assert_eq!(report.state, RunState::Aborted);
    assert!(!report.passed);
    let error = report.error.clone().unwrap();
    assert!(error.contains("stopped answering"), "{error}");
    assert!(!report.scenarios.is_empty());
    assert!(
        report.scenarios[0].outcomes.ok > 0,
        "measurements before the failure are kept"
    );
    assert!(report.series.len() >= 3, "{} seconds", report.series.len());
    assert!(report.scenarios.len() < 4);
}

/// The run's server connections, by the `application_name` its pools give them.
async fn backends_of(client: &tokio_postgres::Client, run_id: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1",
            &[&format!("lifeguard:{run_id}:%")],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_run_nobody_waits_for_stops_and_closes_its_connections() {
    let sandbox = sandbox().await;
    let (client, connection) = sandbox
        .connect_config()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let run_id = new_run_id();
    let plan = RunPlan {
        run_id: run_id.clone(),
        target_name: "sandbox".into(),
        target: sandbox.connect_config().into(),
        suite: Suite::auth_sustained(30.0),
        profile: profile("current"),
        workload: workload(&[]),
        instrumented: true,
        max_duration: lifeguard::config::GuardRails::default().max_duration(),
        engine_threads: 1,
    };
    let abort = Abort::new();
    let waited = tokio::time::timeout(Duration::from_secs(3), run(plan, None, abort.clone())).await;
    assert!(waited.is_err(), "a two-minute suite is still running");
    assert!(abort.is_aborted(), "dropping the run's future aborts it");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut left = backends_of(&client, &run_id).await;
    while left > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = backends_of(&client, &run_id).await;
    }
    assert_eq!(left, 0, "the run's connections are closed");
    sandbox.stop().await;
}

#[tokio::test]
async fn an_unreachable_target_is_an_error_before_anything_runs() {
    let mut target = tokio_postgres::Config::new();
    target
        .host("127.0.0.1")
        .port(1)
        .user("nobody")
        .dbname("postgres");
    let plan = RunPlan {
        run_id: new_run_id(),
        target_name: "nowhere".into(),
        target: target.into(),
        suite: Suite::auth_burst(),
        profile: profile("current"),
        workload: AuthFlow::default(),
        instrumented: true,
        max_duration: lifeguard::config::GuardRails::default().max_duration(),
        engine_threads: 1,
    };
    let error = run(plan, None, Abort::new()).await.unwrap_err().to_string();
    assert!(
        error.starts_with("cannot reach target `nowhere`"),
        "{error}"
    );
    assert!(error.contains("Connection refused"), "{error}");
}

#[tokio::test]
async fn an_invalid_plan_is_refused_before_any_connection_opens() {
    let mut bad = profile("current");
    bad.primary.pool_size = 0;
    let mut target = tokio_postgres::Config::new();
    target.host("127.0.0.1").port(1).user("nobody");
    let plan = RunPlan {
        run_id: new_run_id(),
        target_name: "nowhere".into(),
        target: target.into(),
        suite: Suite::auth_burst(),
        profile: bad,
        workload: AuthFlow::default(),
        instrumented: true,
        max_duration: lifeguard::config::GuardRails::default().max_duration(),
        engine_threads: 1,
    };
    let error = run(plan, None, Abort::new()).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "invalid pool profile: `primary.pool_size` must be at least 1, got 0"
    );
}
