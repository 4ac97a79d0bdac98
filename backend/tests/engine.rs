//! The engine itself against a real sandbox: a run on several engine threads counts every request
//! and pool event once; an open model says how it kept its schedule, and an engine that fell
//! behind it is named the limit and never passes.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::{Duration, Instant};

use lifeguard::pool::events::PoolRole;
use lifeguard::runner::{Abort, RunPlan, new_run_id, run, run_with};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard::workload::{Outcome, RequestResult, Workload};
use lifeguard_shared::metric::Metric;
use lifeguard_shared::pool::{PoolProfile, PoolSettings, Reuse};
use lifeguard_shared::report::{RunReport, RunState, ScenarioReport};
use lifeguard_shared::suite::{Load, Scenario, Suite};
use lifeguard_shared::workload::AuthFlow;
use rand::rngs::SmallRng;

fn plan(sandbox: &Sandbox, load: Load, pool_size: u32, engine_threads: u32) -> RunPlan {
    let settings = PoolSettings {
        pool_size,
        max_overflow: 0,
        pool_timeout_s: 30.0,
        pool_recycle_s: None,
        pre_ping: false,
        prewarm: false,
        reuse: Reuse::Fifo,
    };
    RunPlan {
        run_id: new_run_id(),
        target_name: "sandbox".into(),
        target: sandbox.connect_config().into(),
        suite: Suite {
            name: "engine".into(),
            scenarios: vec![Scenario {
                name: "load".into(),
                load,
                min_success_rate: 0.95,
            }],
            recovery: None,
            leak_check: None,
            ..Suite::auth_burst()
        },
        profile: PoolProfile {
            name: "engine".into(),
            description: String::new(),
            primary: settings,
            secondary: None,
            replicas: 1,
        },
        workload: AuthFlow {
            users: 1000,
            ..AuthFlow::default()
        },
        instrumented: true,
        max_duration: lifeguard::config::GuardRails::default().max_duration(),
        engine_threads,
    }
}

fn criterion(scenario: &ScenarioReport, metric: Metric) -> bool {
    scenario
        .criteria
        .iter()
        .find(|c| c.name == metric)
        .unwrap()
        .passed
}

/// 20 users × 10 requests through a pool of 5 (no overflow, nothing recycled), on one engine
/// thread and on four: every request counted once, and the pool's events too — exactly 5
/// connections created (a lost event would count fewer, a doubled one more), 5 at its peak,
/// queued checkouts seen, nothing left checked out.
#[tokio::test]
async fn a_run_on_four_engine_threads_counts_every_request_and_pool_event_once() {
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let load = Load::Closed {
        users: 20,
        requests_per_user: Some(10),
        duration_s: None,
        ramp_up_s: 0.0,
        think_time_ms: 0,
    };
    for threads in [1, 4] {
        let mut plan = plan(&sandbox, load.clone(), 5, threads);
        plan.workload.hold_ms = 5;
        let report: RunReport = run(plan, None, Abort::new()).await.unwrap().report;
        assert_eq!(report.engine_threads, threads);
        let scenario = &report.scenarios[0];
        assert_eq!(
            (scenario.requests, scenario.outcomes.ok),
            (200, 200),
            "{threads} threads"
        );
        let counted: u64 = report.series.iter().map(|s| s.requests).sum();
        assert_eq!(counted, 200, "{threads} threads: the series");
        let pool = &scenario.pool;
        assert_eq!(
            (pool.connections_created, pool.peak_checked_out),
            (5, 5),
            "{threads} threads: {pool:?}"
        );
        assert!(pool.exhaustion_events > 0, "{threads} threads: {pool:?}");
        assert!(
            scenario.schedule.is_none(),
            "a closed model has no schedule"
        );
        assert_eq!(report.state, RunState::Passed, "{threads} threads");
    }
    sandbox.stop().await;
}

/// An open model at 100 requests a second for 3 s on a free engine, of one thread and of four
/// that share the schedule: all 300 started on the schedule exactly once, none dropped, the
/// engine not saturated, the schedule criterion passed.
#[tokio::test]
async fn an_open_model_on_a_free_engine_keeps_its_schedule() {
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let load = Load::Open {
        rate_per_s: 100.0,
        duration_s: 3.0,
        max_in_flight: 50,
    };
    for threads in [1, 4] {
        let report = run(plan(&sandbox, load.clone(), 5, threads), None, Abort::new())
            .await
            .unwrap()
            .report;
        let scenario = &report.scenarios[0];
        let schedule = scenario.schedule.as_ref().unwrap();
        assert_eq!(
            (
                schedule.started,
                scenario.requests,
                scenario.outcomes.dropped
            ),
            (300, 300, 0),
            "{threads} threads: {schedule:?}"
        );
        assert!(
            !schedule.generator_saturated,
            "{threads} threads: {schedule:?}"
        );
        assert!(
            schedule.lag_p50_ms <= schedule.lag_p99_ms
                && schedule.lag_p99_ms <= schedule.lag_max_ms,
            "{schedule:?}"
        );
        assert!(criterion(scenario, Metric::ScheduleLagP99Ms));
        assert_eq!(report.state, RunState::Passed, "{threads} threads");
    }
    sandbox.stop().await;
}

/// A request that keeps the engine's thread busy for 4 ms of computation (it never yields): one
/// engine thread can start 250 a second.
struct Busy;

impl Workload for Busy {
    fn hold(&self) -> Duration {
        Duration::ZERO
    }

    async fn request(&self, _rng: &mut SmallRng, _hold: Duration) -> RequestResult {
        let started = Instant::now();
        let mut spun: u64 = 0;
        while started.elapsed() < Duration::from_millis(4) {
            spun = std::hint::black_box(spun.wrapping_add(1));
        }
        RequestResult {
            outcome: Outcome::Ok,
            acquire_wait: Duration::ZERO,
            pool: Some(PoolRole::Primary),
        }
    }
}

/// 500 requests a second for 2 s of work that takes the engine 4 ms each: the engine falls
/// behind its schedule. Every request succeeded quickly once started — the target was never the
/// limit — yet the scenario fails on its schedule, saying the generator was saturated.
#[tokio::test]
async fn an_engine_behind_its_schedule_is_named_the_limit_and_never_passes() {
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let load = Load::Open {
        rate_per_s: 500.0,
        duration_s: 2.0,
        max_in_flight: 1000,
    };
    let output = run_with(plan(&sandbox, load, 1, 1), |_| Busy, None, Abort::new())
        .await
        .unwrap();
    let scenario = &output.report.scenarios[0];
    let schedule = scenario.schedule.as_ref().unwrap();
    assert!(schedule.generator_saturated, "{schedule:?}");
    assert!(
        schedule.lag_p99_ms >= lifeguard_shared::report::SATURATION_LAG_MS,
        "{schedule:?}"
    );
    assert_eq!(
        scenario.outcomes.ok, scenario.requests,
        "every request served"
    );
    assert!(criterion(scenario, Metric::SuccessRate));
    assert!(!criterion(scenario, Metric::ScheduleLagP99Ms));
    assert!(!scenario.passed);
    assert_eq!(output.report.state, RunState::Failed);
    sandbox.stop().await;
}

/// More engine threads than there may be is refused before anything runs, naming the field.
#[tokio::test]
async fn an_engine_of_zero_or_too_many_threads_is_refused() {
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let load = Load::Open {
        rate_per_s: 10.0,
        duration_s: 1.0,
        max_in_flight: 10,
    };
    for threads in [0, 65] {
        let error = run(plan(&sandbox, load.clone(), 1, threads), None, Abort::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("engine_threads"), "{error}");
    }
    sandbox.stop().await;
}
