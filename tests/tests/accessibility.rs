//! Every view of the console, checked by axe-core in headless Chromium against a real console
//! with real runs: no serious or critical accessibility violation; every chart is an image with a
//! name, beside a table a screen reader can reach.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::Duration;

use lifeguard_tests::browser::Browser;
use lifeguard_tests::{TestApp, spawn_app};
use serde_json::json;

async fn auth_burst(app: &TestApp, hold_ms: u64) -> String {
    let request = json!({
        "target": "sandbox",
        "suite": "auth-burst",
        "profile": "current",
        "labels": { "environment": "staging", "version": format!("v{hold_ms}") },
        "workload": { "hold_ms": hold_ms },
    });
    app.run_to_the_end(&request).await.unwrap()
}

#[tokio::test]
async fn every_view_passes_axe_without_serious_or_critical_violations() {
    let app = spawn_app().await.unwrap();
    let base = auth_burst(&app, 0).await;
    let head = auth_burst(&app, 20).await;
    let (status, answer) = app
        .put("/api/baselines/staging-main", &json!({ "run_id": base }))
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    let views = [
        ("/", "main"),
        ("/runs", "main table"),
        ("/runs/new", "#trigger-form"),
        ("/sizings/new", "#trigger-form #how-to-size"),
        (
            &format!("/runs/{head}") as &str,
            "[data-chart=latency-over-time] canvas",
        ),
        (
            &format!("/compare/{base}/{head}"),
            "[data-chart=latency-percentiles] canvas",
        ),
        (
            &format!("/compare/{base}/{head}?scenario=recovery%20%26%20leaks"),
            "[data-chart=over-time-pool] canvas",
        ),
        ("/baselines", "main table"),
        (
            "/history?target=sandbox&environment=staging&metric=mean_latency_ms&scenario=light",
            "[data-chart=history] canvas",
        ),
        ("/targets", "main table"),
        ("/no-such-view", "main"),
    ];
    let browser = Browser::start().await.unwrap();
    let mut found = Vec::new();
    for (path, ready) in views {
        browser.client.goto(&app.url(path)).await.unwrap();
        browser.wait_for(ready).await.unwrap();
        // Let the charts and late requests settle.
        tokio::time::sleep(Duration::from_millis(700)).await;
        for violation in browser.accessibility_violations().await.unwrap() {
            found.push(format!("{path}: {violation}"));
        }
        // Every chart is an image with a name a screen reader reads out.
        let unnamed = browser
            .client
            .execute(
                "return [...document.querySelectorAll('.chart')]
                   .filter(c => c.getAttribute('role') !== 'img' || !c.getAttribute('aria-label'))
                   .length;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(unnamed, json!(0), "{path}: a chart without a name");
    }
    browser.screenshot("accessibility-last-view").await.unwrap();
    assert!(found.is_empty(), "{}", found.join("\n"));
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}
