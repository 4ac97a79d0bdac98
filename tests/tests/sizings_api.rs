//! `POST /api/sizings` over real HTTP against a console with its own sandbox: a sweep whose every
//! point is a stored run labelled `sizing`, the guard rails refusing before any run, and cancel
//! stopping a sweep within a second with its measured points kept.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::{Duration, Instant};

use lifeguard_shared::run::{DeployPhase, RunDetail};
use lifeguard_shared::sizing::SizingState;
use lifeguard_tests::history_seed::quick_suite;
use lifeguard_tests::{TestApp, spawn_app_with};
use serde_json::{Value, json};

async fn console() -> TestApp {
    spawn_app_with(|config| config.suites = vec![quick_suite()])
        .await
        .unwrap()
}

async fn start(app: &TestApp, body: &Value) -> String {
    let (status, answer) = app.post("/api/sizings", body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_sizing_runs_its_points_as_labelled_runs_and_ends_with_a_recommendation() {
    let app = console().await;
    let detail = app
        .size_to_the_end(&json!({ "target": "sandbox", "suite": "quick", "pool_timeout_s": 5 }))
        .await
        .unwrap();
    assert_eq!(detail.state, SizingState::Done, "{detail:?}");
    let sizing = &detail.sizing;
    let recommended = sizing.recommendation.as_ref().unwrap();
    assert_eq!(Some(recommended.primary.pool_size), sizing.at_load);
    assert!(sizing.formula.is_some() && sizing.little.is_some());
    assert!(!sizing.points.is_empty());
    for point in &sizing.points {
        let run: RunDetail = app
            .get_json(&format!("/api/runs/{}", point.run_id))
            .await
            .unwrap();
        assert_eq!(run.summary.labels.phase, DeployPhase::Sizing);
        assert_eq!(
            run.summary.profile,
            format!(
                "current · pool {} + {} · 5 s",
                point.pool_size, point.max_overflow
            )
        );
    }
    // The points change the pool on purpose: they are no part of the target's history.
    let history: Value = app
        .get_json("/api/history?target=sandbox&metric=mean_latency_ms&scenario=light")
        .await
        .unwrap();
    assert_eq!(history["points"], json!([]), "{history}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_sizing_that_breaks_a_rule_or_its_budget_is_refused_before_any_run() {
    let app = console().await;
    let cases = [
        (
            json!({ "target": "sandbox", "suite": "quick", "max_points": 3 }),
            "`max_points`",
        ),
        (
            json!({ "target": "sandbox", "suite": "quick", "headroom": 0.5 }),
            "`headroom`",
        ),
        (
            json!({ "target": "nowhere" }),
            "`target` names no known target",
        ),
        (
            json!({ "target": "sandbox", "suite": "quick", "pool_timeout_s": 0 }),
            "`pool_timeout_s`",
        ),
        (
            json!({ "target": "sandbox", "suite": "quick", "replicas": 0 }),
            "`replicas` must be at least 1 and at most 64, got 0",
        ),
    ];
    for (body, needle) in cases {
        let (status, answer) = app.post("/api/sizings", &body).await.unwrap();
        assert_eq!(status, 422, "{body} → {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(needle),
            "{body} → {answer}"
        );
    }
    let (_, runs) = app.get("/api/runs").await.unwrap();
    let runs: Value = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs["total"], 0, "no run was queued: {runs}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn cancel_stops_a_sizing_within_a_second_and_keeps_its_points() {
    let app = console().await;
    let id = start(
        &app,
        &json!({
            "target": "sandbox",
            "suite": "quick",
            "workload": { "hold_ms": 200 },
            "pool_timeout_s": 5,
        }),
    )
    .await;
    let first = app
        .sizing_until(&id, Duration::from_mins(1), |d| !d.sizing.points.is_empty())
        .await
        .unwrap();
    let asked = Instant::now();
    let (status, answer) = app
        .post(&format!("/api/sizings/{id}/cancel"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    let cancelled = app
        .sizing_until(&id, Duration::from_secs(5), |d| {
            d.state != SizingState::Running
        })
        .await
        .unwrap();
    let took = asked.elapsed();
    assert_eq!(cancelled.state, SizingState::Cancelled, "{cancelled:?}");
    assert!(took < Duration::from_secs(1), "cancelled after {took:?}");
    assert!(
        cancelled.sizing.points.len() >= first.sizing.points.len(),
        "{cancelled:?}"
    );
    let (status, answer) = app
        .post(&format!("/api/sizings/{id}/cancel"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 409, "a second cancel: {answer}");
    let (status, _) = app.get("/api/sizings/nope").await.unwrap();
    assert_eq!(status, 404);
    app.stop().await.unwrap();
}
