//! A metric's history across runs, over real HTTP: a console with its own sandbox runs one real
//! run; its report, with the light scenario's mean latency set run by run, is stored as 30 more
//! runs (a step at run 20, or flat noise) through the console's own store, so the store, the API
//! and the change-point detector are the real ones.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use lifeguard::runner::new_run_id;
use lifeguard::store::{NewRun, Store, now_ms};
use lifeguard_shared::compare::Comparison;
use lifeguard_shared::history::History;
use lifeguard_shared::report::{RunReport, RunState};
use lifeguard_shared::run::{DeployPhase, RunDetail, RunLabels};
use lifeguard_shared::suite::{LeakCheck, Load, Scenario, Suite};
use lifeguard_tests::{TestApp, spawn_app_with};
use serde_json::json;

/// Runs in each seeded history, and the first one at the new level in the stepped one.
const RUNS: usize = 30;
const STEP_AT: usize = 20;

/// One light closed scenario and a quick leak check: a real run in a few seconds.
fn quick_suite() -> Suite {
    Suite {
        name: "quick".into(),
        scenarios: vec![Scenario {
            name: "light".into(),
            load: Load::Closed {
                users: 5,
                requests_per_user: Some(4),
                duration_s: None,
                ramp_up_s: 0.0,
                think_time_ms: 0,
            },
            min_success_rate: 0.95,
        }],
        recovery: None,
        leak_check: Some(LeakCheck { grace_s: 1.0 }),
        ..Suite::auth_burst()
    }
}

async fn console() -> TestApp {
    spawn_app_with(|config| config.suites = vec![quick_suite()])
        .await
        .unwrap()
}

/// A real run's report, to build the seeded ones from.
async fn real_report(app: &TestApp) -> RunReport {
    let body = json!({ "target": "sandbox", "suite": "quick", "profile": "recommended-dev" });
    let (status, answer) = app.post("/api/runs", &body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_owned();
    let events = app.follow(&id, None, Duration::from_mins(1)).await.unwrap();
    let (_, kind, verdict) = events.last().unwrap();
    assert_eq!(kind, "verdict");
    assert_eq!(verdict["state"], "passed", "{verdict}");
    let detail: RunDetail = app.get_json(&format!("/api/runs/{id}")).await.unwrap();
    detail.report.unwrap()
}

/// Deterministic noise of mean 0 and standard deviation about 1 (xorshift64*, Irwin-Hall of 4).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        ((0..4).map(|_| self.uniform()).sum::<f64>() - 2.0) / (4.0_f64 / 12.0).sqrt()
    }
}

/// Stores one finished run of target `sandbox` in `environment`, made `minutes_ago`, whose light
/// scenario's mean latency is `mean_ms`.
async fn store_run(
    store: &Store,
    template: &RunReport,
    environment: &str,
    minutes_ago: u64,
    mean_ms: f64,
    state: RunState,
) -> String {
    let id = new_run_id();
    store
        .create_run(&NewRun {
            id: id.clone(),
            target: "sandbox".into(),
            suite: template.suite.clone(),
            profile: template.profile.clone(),
            labels: RunLabels {
                environment: environment.into(),
                phase: DeployPhase::PreDeploy,
                version: format!("v{minutes_ago}"),
                notes: String::new(),
            },
            plan: "{}".into(),
            created_at: now_ms() - minutes_ago * 60_000,
        })
        .await
        .unwrap();
    store.mark_running(&id).await.unwrap();
    let mut report = template.clone();
    report.state = state;
    report.passed = state == RunState::Passed;
    let light = report
        .scenarios
        .iter_mut()
        .find(|s| s.name == "light")
        .unwrap();
    light.latency_ms.mean = mean_ms;
    store
        .finish_run(&id, &report, &BTreeMap::new())
        .await
        .unwrap();
    id
}

/// Stores [`RUNS`] runs, oldest first, the i-th with mean latency `level(i)` × (1 + 4 % noise).
async fn store_history(
    store: &Store,
    template: &RunReport,
    environment: &str,
    seed: u64,
    level: impl Fn(usize) -> f64,
) -> Vec<String> {
    let mut noise = Noise(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut ids = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let mean = level(i) * (1.0 + 0.04 * noise.normal());
        let minutes_ago = 10 * (RUNS - i) as u64;
        ids.push(
            store_run(
                store,
                template,
                environment,
                minutes_ago,
                mean,
                RunState::Passed,
            )
            .await,
        );
    }
    ids
}

async fn open_store(app: &TestApp) -> Store {
    let url = format!("sqlite://{}", app.data_dir.join("lifeguard.db").display());
    Store::open(&url).await.unwrap()
}

#[tokio::test]
async fn a_step_in_the_history_is_found_where_it_happened_and_links_to_its_comparison() {
    let app = console().await;
    let template = real_report(&app).await;
    let store = open_store(&app).await;
    let base = template.scenarios[0].latency_ms.mean.max(1.0);
    let stepped = store_history(&store, &template, "history-step", 7, |i| {
        if i < STEP_AT { base } else { base * 1.5 }
    })
    .await;
    // An aborted run among them is no part of the history.
    let aborted = store_run(
        &store,
        &template,
        "history-step",
        55,
        base * 9.0,
        RunState::Aborted,
    )
    .await;
    let flat = store_history(&store, &template, "history-flat", 11, |_| base).await;
    store.close().await;
    // A baseline that pointed at run 5 and now points at run 25.
    for run in [&stepped[5], &stepped[25]] {
        let (status, answer) = app
            .put("/api/baselines/history-base", &json!({ "run_id": run }))
            .await
            .unwrap();
        assert_eq!(status, 200, "{answer}");
    }

    let history: History = app
        .get_json(
            "/api/history?target=sandbox&environment=history-step&metric=mean_latency_ms&scenario=light",
        )
        .await
        .unwrap();
    let ids: Vec<&str> = history.points.iter().map(|p| p.run_id.as_str()).collect();
    assert_eq!(ids, stepped, "the finished runs, oldest first");
    assert!(!ids.contains(&aborted.as_str()));
    assert!(history.points.iter().all(|p| p.value.is_some()));
    let marked: Vec<usize> = (0..RUNS).filter(|&i| history.points[i].baseline).collect();
    assert_eq!(marked, [5, 25], "the baseline's runs, now and before");
    assert_eq!(
        history.change_points.len(),
        1,
        "{:?}",
        history.change_points
    );
    let change = &history.change_points[0];
    assert!(change.index.abs_diff(STEP_AT) <= 1, "{change:?}");
    assert_eq!(change.run_id, stepped[change.index]);
    assert_eq!(change.previous_run_id, stepped[change.index - 1]);
    assert_eq!(
        change.compare,
        format!(
            "/compare/{}/{}",
            stepped[change.index - 1],
            stepped[change.index]
        )
    );
    assert!(
        (change.relative_change.unwrap() - 0.5).abs() < 0.1,
        "{change:?}"
    );
    assert!(change.p_value < history.settings.max_p_value);
    // The link's comparison exists: the API compares the runs across the change.
    let comparison: Comparison = app
        .get_json(&format!(
            "/api/compare?base={}&head={}",
            change.previous_run_id, change.run_id
        ))
        .await
        .unwrap();
    assert_eq!(comparison.head.id, change.run_id);

    let history: History = app
        .get_json(
            "/api/history?target=sandbox&environment=history-flat&metric=mean_latency_ms&scenario=light",
        )
        .await
        .unwrap();
    assert_eq!(history.points.len(), RUNS);
    let ids: Vec<&str> = history.points.iter().map(|p| p.run_id.as_str()).collect();
    assert_eq!(ids, flat);
    assert_eq!(history.change_points, [], "flat noise has no change point");

    // A run-level metric needs no scenario; the leak count never moved.
    let history: History = app
        .get_json("/api/history?target=sandbox&environment=history-step&metric=leaks")
        .await
        .unwrap();
    assert!(history.points.iter().all(|p| p.value == Some(0.0)));
    assert_eq!(history.change_points, []);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_history_query_that_breaks_a_rule_is_refused_naming_the_field() {
    let app = console().await;
    let template = real_report(&app).await;
    let store = open_store(&app).await;
    store_history(&store, &template, "history-errors", 3, |_| 5.0).await;
    store.close().await;
    let path = "/api/history?target=sandbox&environment=history-errors";
    for (query, field) in [
        ("&metric=mean_latency&scenario=light", "metric"),
        ("", "metric"),
        ("&metric=mean_latency_ms", "scenario"),
        ("&metric=mean_latency_ms&scenario=lihgt", "scenario"),
        ("&metric=leaks&scenario=light", "scenario"),
        ("&metric=leaks&min_segment=0", "min_segment"),
        ("&metric=leaks&max_p_value=2", "max_p_value"),
    ] {
        let (status, body) = app.get_error(&format!("{path}{query}")).await.unwrap();
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["code"], "invalid");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{field}`")),
            "{query}: {message}"
        );
    }
    let (status, body) = app
        .get_error("/api/history?target=nowhere&metric=leaks")
        .await
        .unwrap();
    assert_eq!(status, 404, "{body}");
    // A configured target with no runs in an environment has an empty history.
    let history: History = app
        .get_json("/api/history?target=sandbox&environment=nobody&metric=recovery_s")
        .await
        .unwrap();
    assert_eq!(history.points, []);
    app.stop().await.unwrap();
}
