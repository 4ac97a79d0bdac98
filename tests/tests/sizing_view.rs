//! The sizing view in headless Chromium against a real console and sandbox: a sizing of a quick
//! suite with 20 ms holds run to its end through `POST /api/sizings`, then read as a person would
//! — the facts, the chart's points at both loads with the p95 limit and the recommendation
//! marked, a table row (with its run's link) per point, the recommendation as configuration — on
//! a desktop and a phone, without console errors or accessibility violations.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use lifeguard_shared::sizing::SizingState;
use lifeguard_tests::browser::{Browser, series};
use lifeguard_tests::history_seed::console;
use serde_json::json;

#[tokio::test]
async fn a_finished_sizing_reads_as_facts_a_chart_its_runs_and_a_recommendation() {
    let app = console().await.unwrap();
    let detail = app
        .size_to_the_end(&json!({
            "target": "sandbox",
            "suite": "quick",
            "workload": { "hold_ms": 20 },
            "pool_timeout_s": 5,
        }))
        .await
        .unwrap();
    assert_eq!(detail.state, SizingState::Done, "{detail:?}");
    let recommended = detail.sizing.recommendation.clone().unwrap().primary;
    let browser = Browser::start().await.unwrap();
    let path = format!("/sizings/{}", detail.id);
    browser.client.goto(&app.url(&path)).await.unwrap();

    browser
        .wait_for_text("#sizing-state", "done")
        .await
        .unwrap();
    let facts = browser.text("#sizing-facts").await.unwrap();
    assert!(
        facts.contains(&format!(
            "{} + {}",
            recommended.pool_size, recommended.max_overflow
        )),
        "{facts}"
    );
    let options = browser.chart_options("sizing").await.unwrap();
    let at_load = series(&options, "p95 at 1×");
    let measured_at_load = detail
        .sizing
        .points
        .iter()
        .filter(|p| (p.load_factor - 1.0).abs() < 1e-9 && p.max_overflow == 0)
        .map(|p| p.pool_size)
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(
        at_load["data"].as_array().unwrap().len(),
        measured_at_load.len(),
        "{at_load}"
    );
    let marks: Vec<&str> = at_load["markLine"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(marks.contains(&"p95 limit 500 ms"), "{marks:?}");
    assert!(
        marks.contains(
            &format!(
                "recommended {} + {}",
                recommended.pool_size, recommended.max_overflow
            )
            .as_str()
        ),
        "{marks:?}"
    );
    let throughput = series(&options, "req/s at 3×");
    assert_eq!(throughput["yAxisIndex"].as_f64(), Some(1.0), "{throughput}");

    // A row per point, each linking to its run.
    let rows = browser
        .client
        .find_all(fantoccini::Locator::Css("#sizing-points tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), detail.sizing.points.len());
    let first_run = &detail.sizing.points[0].run_id;
    browser
        .wait_for(&format!(
            "#sizing-points tr[data-run-id='{first_run}'] a[href='/runs/{first_run}']"
        ))
        .await
        .unwrap();
    let profile = browser.text("#sizing-profile").await.unwrap();
    assert!(
        profile.contains(&format!("pool_size = {}", recommended.pool_size))
            && profile.contains(&format!("POOL_SIZE={}", recommended.pool_size)),
        "{profile}"
    );
    assert_eq!(
        browser.accessibility_violations().await.unwrap(),
        Vec::<String>::new()
    );
    browser.screenshot("sizing").await.unwrap();
    browser.scroll_to("[data-chart=sizing]").await.unwrap();
    browser.screenshot("sizing-chart").await.unwrap();

    browser.client.set_window_size(390, 844).await.unwrap();
    browser.client.goto(&app.url(&path)).await.unwrap();
    browser.chart_options("sizing").await.unwrap();
    let (page, window) = browser.widths().await.unwrap();
    assert!(page <= window, "the page is {page} px wide in {window} px");
    browser.scroll_to("[data-chart=sizing]").await.unwrap();
    browser.screenshot("sizing-phone").await.unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_running_sizing_is_followed_and_cancelled_from_its_view() {
    let app = console().await.unwrap();
    let (status, answer) = app
        .post(
            "/api/sizings",
            &json!({
                "target": "sandbox",
                "suite": "quick",
                "workload": { "hold_ms": 200 },
                "pool_timeout_s": 5,
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_owned();
    let browser = Browser::start().await.unwrap();
    browser
        .client
        .goto(&app.url(&format!("/sizings/{id}")))
        .await
        .unwrap();
    // Followed: the first point appears without a reload.
    browser.wait_for("#sizing-points tbody tr").await.unwrap();
    let summary = browser.text("#sizing-summary").await.unwrap();
    assert!(summary.starts_with("Measuring: "), "{summary}");
    browser.screenshot("sizing-running").await.unwrap();
    browser
        .wait_for("#cancel-sizing")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("#sizing-state", "cancelled")
        .await
        .unwrap();
    let detail = app
        .sizing_until(&id, std::time::Duration::from_secs(5), |d| {
            d.state != SizingState::Running
        })
        .await
        .unwrap();
    assert_eq!(detail.state, SizingState::Cancelled, "{detail:?}");
    assert!(!detail.sizing.points.is_empty(), "{detail:?}");
    assert!(
        browser
            .client
            .find(fantoccini::Locator::Css("#cancel-sizing"))
            .await
            .is_err(),
        "the button is gone once the sizing ended"
    );
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}

/// `/sizings/new`: a broken field is named before anything is sent; the filled form starts a
/// sizing of two replicas, whose view follows it to a recommendation for each replica.
#[tokio::test]
async fn a_sizing_started_from_its_form_names_a_broken_field_then_sizes_two_replicas() {
    let app = console().await.unwrap();
    let browser = Browser::start().await.unwrap();
    fill_the_sizing_form(&browser, &app).await;
    browser
        .client
        .find(fantoccini::Locator::Css("#start-run"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let id = sizing_id_in_address(&browser).await;
    let detail = app
        .sizing_until(&id, std::time::Duration::from_mins(2), |d| {
            d.state != SizingState::Running
        })
        .await
        .unwrap();
    assert_eq!(detail.state, SizingState::Done, "{detail:?}");
    assert_eq!(detail.sizing.replicas, 2);
    let recommended = detail.sizing.recommendation.clone().unwrap();
    assert_eq!(recommended.replicas, 2);
    browser
        .wait_for_text("#sizing-state", "done")
        .await
        .unwrap();
    let facts = browser.text("#sizing-facts").await.unwrap();
    assert!(
        facts.contains(&format!(
            "{} + {} in each of 2 replicas",
            recommended.primary.pool_size, recommended.primary.max_overflow
        )),
        "{facts}"
    );
    assert!(
        browser
            .text("#sizing-profile")
            .await
            .unwrap()
            .contains("# in each of 2 replicas"),
        "the pasted configuration says it is per replica"
    );
    browser.screenshot("sizing-replicas").await.unwrap();

    browser.client.set_window_size(390, 844).await.unwrap();
    browser.client.goto(&app.url("/sizings/new")).await.unwrap();
    browser
        .wait_for("#trigger-form #how-to-size")
        .await
        .unwrap();
    let (page, window) = browser.widths().await.unwrap();
    assert!(page <= window, "the page is {page} px wide in {window} px");
    browser.screenshot("sizing-form-phone").await.unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}

/// Opens `/sizings/new`, checks that no phase is offered and that zero replicas is named before
/// anything is sent, then fills it: the quick suite, two replicas, 20 ms holds, a 5 s timeout.
async fn fill_the_sizing_form(browser: &Browser, app: &lifeguard_tests::TestApp) {
    use fantoccini::Locator;
    browser.client.goto(&app.url("/sizings/new")).await.unwrap();
    browser
        .wait_for("#trigger-form #how-to-size")
        .await
        .unwrap();
    browser
        .wait_for("#run-suite option[value=quick]")
        .await
        .unwrap();
    assert!(
        browser
            .client
            .find(Locator::Css("#label-phase"))
            .await
            .is_err(),
        "a sizing's runs are labelled `sizing`: no phase to choose"
    );
    browser
        .client
        .find(Locator::Css("#run-suite"))
        .await
        .unwrap()
        .select_by_value("quick")
        .await
        .unwrap();
    let client = &browser.client;
    let field = |css: &'static str| async move { client.find(Locator::Css(css)).await.unwrap() };
    field("#run-replicas").await.send_keys("0").await.unwrap();
    let error = browser
        .wait_for("#form-error[data-field=replicas]")
        .await
        .unwrap();
    assert_eq!(
        error.text().await.unwrap(),
        "replicas must be at least 1 and at most 64, got 0"
    );
    assert_eq!(
        field("#start-run")
            .await
            .attr("disabled")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    field("#run-replicas").await.clear().await.unwrap();
    field("#run-replicas").await.send_keys("2").await.unwrap();
    field("#workload-hold_ms")
        .await
        .send_keys("20")
        .await
        .unwrap();
    field("#sizing-pool-timeout")
        .await
        .send_keys("5")
        .await
        .unwrap();
    assert!(
        browser
            .client
            .find(Locator::Css("#form-error"))
            .await
            .is_err(),
        "the filled form is valid"
    );
    browser.screenshot("sizing-form").await.unwrap();
}

/// The sizing id in the browser's address (`/sizings/{id}`), once the form has moved there.
async fn sizing_id_in_address(browser: &Browser) -> String {
    lifeguard_tests::browser::retry(std::time::Duration::from_secs(20), || async {
        let url = browser.client.current_url().await.unwrap();
        match url.path().strip_prefix("/sizings/") {
            Some(id) if !id.is_empty() && id != "new" => Ok(id.to_owned()),
            _ => Err(url),
        }
    })
    .await
    .unwrap()
}
