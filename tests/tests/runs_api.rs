//! Runs through the console over real HTTP: trigger, follow, judge, baseline, compare, cancel;
//! bad input; access; secrets; both store back-ends.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::Duration;

use lifeguard::config::{Config, Secret, SecretUrl};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard_shared::compare::{Comparison, Verdict};
use lifeguard_shared::run::{Baseline, RunDetail, RunPage, Series};
use lifeguard_shared::suite::{LeakCheck, Load, Scenario, Suite};
use lifeguard_tests::{TestApp, captured_logs, spawn_app_with};
use serde_json::{Value, json};

const OPERATOR: &str = "operator-token-for-tests-0001";
const VIEWER: &str = "viewer-token-for-tests-00001";

/// A short suite: two closed scenarios, a quick leak check, no recovery burst.
fn quick_suite() -> Suite {
    let closed = |name: &str, users, requests| Scenario {
        name: name.into(),
        load: Load::Closed {
            users,
            requests_per_user: Some(requests),
            duration_s: None,
            ramp_up_s: 0.0,
            think_time_ms: 0,
        },
        min_success_rate: 0.95,
    };
    Suite {
        name: "quick".into(),
        scenarios: vec![closed("light", 5, 4), closed("moderate", 10, 4)],
        recovery: None,
        leak_check: Some(LeakCheck { grace_s: 1.0 }),
        ..Suite::auth_burst()
    }
}

/// A suite that runs long enough to be cancelled or resumed.
fn slow_suite() -> Suite {
    Suite {
        name: "slow".into(),
        recovery: None,
        leak_check: None,
        ..Suite::auth_sustained(20.0)
    }
}

fn configure(config: &mut Config) {
    config.suites = vec![quick_suite(), slow_suite()];
}

async fn trigger(app: &TestApp, body: Value) -> String {
    let (status, answer) = app.post("/api/runs", &body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

fn quick(workload: &Value) -> Value {
    json!({
        "target": "sandbox",
        "suite": "quick",
        "profile": "recommended-dev",
        "labels": { "environment": "staging", "phase": "pre-deploy", "version": "v1" },
        "workload": workload,
    })
}

fn assert_no_secret(app: &TestApp) {
    assert!(!app.target_password.is_empty());
    let seen = captured_logs();
    assert!(!seen.is_empty());
    assert!(
        !seen.contains(&app.target_password),
        "the sandbox password appears in a response or log line"
    );
}

/// The run's export: the CSV one row per second, the JSON report with its seconds and, for a
/// short run, its 100 ms buckets (as many as the series the charts get).
async fn exports_seconds_and_buckets(app: &TestApp, first: &str, series: &Series) {
    let (status, csv) = app
        .get(&format!("/api/runs/{first}/export?format=csv"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let exported: Value = app
        .get_json(&format!("/api/runs/{first}/export"))
        .await
        .unwrap();
    let seconds = exported["report"]["series"].as_array().unwrap().len();
    assert!(seconds > 0);
    assert_eq!(
        csv.lines().count(),
        seconds + 1,
        "the CSV is one row per second"
    );
    let buckets = &exported["report"]["buckets"];
    assert_eq!(buckets["resolution_ms"], 100);
    assert_eq!(
        buckets["points"].as_array().unwrap().len(),
        series.points.len()
    );
}

#[tokio::test]
async fn trigger_follow_baseline_and_compare_a_regression() {
    let app = spawn_app_with(configure).await.unwrap();
    let first = trigger(&app, quick(&json!({ "users": 1000 }))).await;
    let events = app
        .follow(&first, None, Duration::from_mins(1))
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"state"));
    assert!(kinds.contains(&"phase"));
    assert!(kinds.contains(&"progress"), "{kinds:?}");
    let (_, _, verdict) = events.last().unwrap();
    assert_eq!(verdict["state"], "passed", "{verdict}");
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0), "ids increase");

    let detail: RunDetail = app.get_json(&format!("/api/runs/{first}")).await.unwrap();
    assert_eq!(detail.summary.labels.environment, "staging");
    let report = detail.report.unwrap();
    assert_eq!(report.scenarios.len(), 2);
    assert_eq!(report.scenarios[1].requests, 40);
    let series: Series = app
        .get_json(&format!("/api/runs/{first}/series"))
        .await
        .unwrap();
    assert!(!series.points.is_empty());
    assert_eq!(
        series.resolution_ms, 100,
        "a short run is charted in 100 ms buckets"
    );
    assert_eq!(
        series.points.iter().map(|p| p.requests).sum::<u64>(),
        report.scenarios.iter().map(|s| s.requests).sum::<u64>(),
        "every request is in a bucket"
    );
    let histograms: Value = app
        .get_json(&format!("/api/runs/{first}/histograms"))
        .await
        .unwrap();
    assert!(
        histograms["phases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "moderate")
    );

    let (status, baseline) = app
        .put("/api/baselines/auth-staging", &json!({ "run_id": first }))
        .await
        .unwrap();
    assert_eq!(status, 200, "{baseline}");
    let second = trigger(&app, quick(&json!({ "users": 1000, "hold_ms": 20 }))).await;
    app.follow(&second, None, Duration::from_mins(1))
        .await
        .unwrap();
    let comparison: Comparison = app
        .get_json(&format!("/api/compare?baseline=auth-staging&head={second}"))
        .await
        .unwrap();
    assert_eq!(comparison.verdict, Verdict::Regressed);
    assert_eq!(comparison.baseline.as_deref(), Some("auth-staging"));
    assert_eq!(comparison.base.id, first);
    let light_mean = comparison.scenarios[0]
        .metrics
        .iter()
        .find(|m| m.metric == "mean_latency_ms")
        .unwrap();
    assert_eq!(light_mean.verdict, Verdict::Regressed, "{light_mean:?}");
    let (status, csv) = app
        .get(&format!(
            "/api/compare?base={first}&head={second}&format=csv"
        ))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(csv.starts_with("scenario,metric,base,head"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("light,mean_latency_ms,") && l.contains(",regressed,")),
        "{csv}"
    );

    exports_seconds_and_buckets(&app, &first, &series).await;

    let baseline: Baseline = app.get_json("/api/baselines/auth-staging").await.unwrap();
    assert_eq!(baseline.run_id, first);
    assert_eq!(baseline.environment, "staging");
    let page: RunPage = app
        .get_json("/api/runs?environment=staging&phase=pre-deploy")
        .await
        .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.runs[0].id, second, "newest first");
    assert_no_secret(&app);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn events_resume_after_last_event_id() {
    let app = spawn_app_with(configure).await.unwrap();
    let id = trigger(&app, quick(&json!({ "users": 500 }))).await;
    let all = app.follow(&id, None, Duration::from_mins(1)).await.unwrap();
    assert!(all.len() > 4);
    let resumed = app
        .follow(&id, Some(all[2].0), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(resumed.len(), all.len() - 3);
    assert_eq!(resumed[0].0, all[3].0);
    assert_eq!(resumed.last().unwrap().1, "verdict");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_cancelled_run_ends_aborted_with_its_seconds_kept() {
    let app = spawn_app_with(configure).await.unwrap();
    let id = trigger(
        &app,
        json!({ "target": "sandbox", "suite": "slow", "profile": "current", "workload": { "users": 500 } }),
    )
    .await;
    // A second run on the same target waits in the queue.
    let queued = trigger(&app, quick(&json!({}))).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let detail: RunDetail = app.get_json(&format!("/api/runs/{queued}")).await.unwrap();
    assert_eq!(
        format!("{:?}", detail.summary.state),
        "Queued",
        "one run per target at a time"
    );
    let (status, _) = app
        .post(&format!("/api/runs/{id}/cancel"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 202);
    let events = app
        .follow(&id, None, Duration::from_secs(30))
        .await
        .unwrap();
    let (_, _, verdict) = events.last().unwrap();
    assert_eq!(verdict["state"], "aborted", "{verdict}");
    assert!(
        verdict["error"].as_str().unwrap().contains("cancelled"),
        "{verdict}"
    );
    let series: Series = app
        .get_json(&format!("/api/runs/{id}/series"))
        .await
        .unwrap();
    assert!(
        series.points.len() >= 2,
        "{} seconds kept",
        series.points.len()
    );
    let detail: RunDetail = app.get_json(&format!("/api/runs/{id}")).await.unwrap();
    assert!(
        !detail.report.unwrap().scenarios.is_empty(),
        "the partial report is kept"
    );
    // The queued run then runs.
    let after = app
        .follow(&queued, None, Duration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(after.last().unwrap().2["state"], "passed");
    let (status, body) = app
        .post(&format!("/api/runs/{id}/cancel"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 409, "{body}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn bad_input_is_422_naming_the_field_404_413_and_never_500() {
    let app = spawn_app_with(configure).await.unwrap();
    let cases = [
        (
            json!({ "target": "sandbox", "workload": { "hold": 5 } }),
            "hold",
        ),
        (
            json!({ "target": "sandbox", "workload": { "error_rate": 3 } }),
            "error_rate",
        ),
        (
            json!({ "target": "nowhere" }),
            "`target` names no known target: `nowhere`",
        ),
        (
            json!({ "target": "sandbox", "suite": "auth-bust" }),
            "`suite` names no known suite",
        ),
        (
            json!({ "target": "sandbox", "labels": { "phase": "later" } }),
            "phase",
        ),
        (
            json!({ "target": "sandbox", "url": "postgres://evil/db" }),
            "url",
        ),
        (json!({ "suite": "quick" }), "target"),
        (
            json!({ "target": "sandbox", "adjust": { "pool_size": 0 } }),
            "`adjust.pool_size` must be at least 1",
        ),
        (
            json!({ "target": "sandbox", "adjust": { "load_factor": 300 } }),
            "`adjust.load_factor` must be above 0 and at most 20",
        ),
        (
            json!({ "target": "sandbox", "suite": "auth-burst", "adjust": { "load_factor": 20 } }),
            "guard_rails.max_users",
        ),
    ];
    for (body, needle) in cases {
        let (status, answer) = app.post("/api/runs", &body).await.unwrap();
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(answer["code"], "invalid");
        assert!(
            answer["message"].as_str().unwrap().contains(needle),
            "{body} → {answer}"
        );
    }
    let (status, answer) = app
        .post_raw("/api/runs", "application/json", b"{not json".to_vec())
        .await
        .unwrap();
    assert_eq!(status, 400, "{answer}");
    let huge = format!(
        "{{\"target\":\"sandbox\",\"labels\":{{\"notes\":\"{}\"}}}}",
        "x".repeat(100_000)
    );
    let (status, answer) = app
        .post_raw("/api/runs", "application/json", huge.into_bytes())
        .await
        .unwrap();
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["code"], "too_large");
    for path in [
        "/api/runs/nope",
        "/api/runs/nope/series",
        "/api/runs/nope/events",
        "/api/baselines/nope",
        "/api/compare?base=a&head=b",
    ] {
        let (status, answer) = app.get_error(path).await.unwrap();
        assert_eq!(status, 404, "{path} → {answer}");
        assert_eq!(answer["code"], "not_found");
    }
    for path in [
        "/api/runs?limit=0",
        "/api/runs?state=sleeping",
        "/api/runs?phase=soon",
        "/api/compare?head=x",
        "/api/runs?limit=abc",
    ] {
        let (status, answer) = app.get_error(path).await.unwrap();
        assert_eq!(status, 422, "{path} → {answer}");
    }
    let (status, answer) = app
        .put("/api/baselines/bad%20name", &json!({ "run_id": "x" }))
        .await
        .unwrap();
    assert_eq!(status, 422, "{answer}");
    let (status, _) = app
        .put("/api/baselines/ok", &json!({ "run_id": "missing" }))
        .await
        .unwrap();
    assert_eq!(status, 404);
    assert_no_secret(&app);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn guard_rails_bound_what_a_run_may_ask_for() {
    let app = spawn_app_with(|config| {
        configure(config);
        config.guard_rails.max_users = 20;
    })
    .await
    .unwrap();
    let (status, answer) = app
        .post(
            "/api/runs",
            &json!({ "target": "sandbox", "suite": "auth-burst" }),
        )
        .await
        .unwrap();
    assert_eq!(status, 422);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("guard_rails.max_users"),
        "{answer}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn operators_trigger_viewers_read_and_share_links_open_one_thing() {
    let app = spawn_app_with(|config| {
        configure(config);
        config.access.operator_tokens = vec![Secret::new(OPERATOR)];
        config.access.viewer_tokens = vec![Secret::new(VIEWER)];
        config.access.viewers_need_token = true;
    })
    .await
    .unwrap();
    let mut app = app;
    let (status, answer) = app.post("/api/runs", &quick(&json!({}))).await.unwrap();
    assert_eq!(status, 401, "{answer}");
    app.token = Some(VIEWER.into());
    let (status, _) = app.post("/api/runs", &quick(&json!({}))).await.unwrap();
    assert_eq!(status, 403);
    let me: Value = app.get_json("/api/me").await.unwrap();
    assert_eq!(me["role"], "viewer");
    app.token = Some(OPERATOR.into());
    let id = trigger(&app, quick(&json!({ "users": 300 }))).await;
    let other = trigger(&app, quick(&json!({ "users": 300 }))).await;
    app.follow(&other, None, Duration::from_mins(1))
        .await
        .unwrap();
    let (_, share) = app.post("/api/share", &json!({ "run": id })).await.unwrap();
    let path = share["path"].as_str().unwrap().to_owned();
    let token = share["token"].as_str().unwrap().to_owned();
    assert!(path.starts_with(&format!("/runs/{id}?share=")));

    app.token = None;
    let (status, _) = app.get(&format!("/api/runs/{id}")).await.unwrap();
    assert_eq!(status, 401, "anonymous readers need a token here");
    let (status, body) = app
        .get(&format!("/api/runs/{id}?share={token}"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _) = app
        .get(&format!("/api/runs/{other}?share={token}"))
        .await
        .unwrap();
    assert_eq!(status, 403, "a link opens only its run");
    let (status, _) = app.get(&format!("/api/runs?share={token}")).await.unwrap();
    assert_eq!(status, 401);
    let (status, _) = app
        .get(&format!("/api/runs/{id}?share={token}x"))
        .await
        .unwrap();
    assert_eq!(status, 401, "a tampered link is refused");
    let (status, _) = app
        .post(&format!("/api/runs/{id}/cancel?share={token}"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 401, "a share link never operates");

    app.token = Some(OPERATOR.into());
    let (_, expiring) = app
        .post(
            "/api/share",
            &json!({ "base": id, "head": other, "expires_in_s": 0 }),
        )
        .await
        .unwrap();
    let token = expiring["token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.token = None;
    let (status, body) = app
        .get(&format!(
            "/api/compare?base={id}&head={other}&share={token}"
        ))
        .await
        .unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("expired"), "{body}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_documented_route_exists() {
    let app = spawn_app_with(configure).await.unwrap();
    let document: Value = app.get_json("/api/openapi.json").await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 15);
    let client = reqwest::Client::new();
    for (path, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            let url = app.url(&path.replace("{id}", "x").replace("{name}", "x"));
            let request = match method.as_str() {
                "get" => client.get(url),
                "post" => client.post(url).json(&json!({})),
                "put" => client.put(url).json(&json!({})),
                other => panic!("undocumented method {other}"),
            };
            let body = request.send().await.unwrap().text().await.unwrap();
            assert!(
                !body.contains("no such API route"),
                "{method} {path} is documented but not routed"
            );
            assert!(
                !body.contains("does not take that method"),
                "{method} {path}"
            );
        }
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_postgres_store_serves_the_same_api() {
    let store = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let app = spawn_app_with(|config| {
        configure(config);
        config.store_url = Some(SecretUrl::new(store.url()));
    })
    .await
    .unwrap();
    let id = trigger(&app, quick(&json!({ "users": 300 }))).await;
    let events = app.follow(&id, None, Duration::from_mins(1)).await.unwrap();
    assert_eq!(events.last().unwrap().2["state"], "passed");
    let (status, _) = app
        .put("/api/baselines/pg", &json!({ "run_id": id }))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let comparison: Comparison = app
        .get_json(&format!("/api/compare?baseline=pg&head={id}"))
        .await
        .unwrap();
    assert_ne!(
        comparison.verdict,
        Verdict::Regressed,
        "a run against itself"
    );
    let series: Series = app
        .get_json(&format!("/api/runs/{id}/series"))
        .await
        .unwrap();
    assert!(!series.points.is_empty());
    assert!(
        !captured_logs().contains(store.password()),
        "the store's password leaked"
    );
    app.stop().await.unwrap();
    store.stop().await;
}
