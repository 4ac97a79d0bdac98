//! The built frontend in headless Chromium, against a real console and sandbox.

use lifeguard_shared::health::ProbeReport;
use lifeguard_tests::{Browser, spawn_app};

#[tokio::test]
async fn the_targets_page_shows_the_targets_measured_values_and_a_chart() {
    let app = spawn_app().await.unwrap();
    let probe: ProbeReport = app.get_json("/api/probe").await.unwrap();
    let browser = Browser::start().await.unwrap();

    browser.client.goto(&app.url("/targets")).await.unwrap();
    browser
        .wait_for_text("[data-testid=server-version]", &probe.server_version)
        .await
        .unwrap();
    browser
        .wait_for_text(
            "[data-testid=max-connections]",
            &probe.max_connections.to_string(),
        )
        .await
        .unwrap();
    browser
        .wait_for_text("[data-testid=target]", "sandbox")
        .await
        .unwrap();
    // ECharts draws into a canvas inside the chart's container.
    let canvas = browser.wait_for(".chart canvas").await.unwrap();
    let width: u64 = canvas
        .attr("width")
        .await
        .unwrap()
        .and_then(|w| w.parse().ok())
        .unwrap_or_default();
    assert!(width > 100, "the chart canvas is {width} px wide");
    let median = browser
        .wait_for("[data-testid=median-connect]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(median.ends_with(" ms"), "{median}");
    browser.screenshot("targets").await.unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );

    let page = browser.client.source().await.unwrap();
    assert!(!page.contains(&app.target_password));
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_address_shows_a_not_found_page() {
    let app = spawn_app().await.unwrap();
    let browser = Browser::start().await.unwrap();
    browser
        .client
        .goto(&app.url("/no/such/view"))
        .await
        .unwrap();
    let text = browser
        .wait_for("[data-testid=not-found]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("Page not found"), "{text}");
    browser.screenshot("not-found").await.unwrap();
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}
