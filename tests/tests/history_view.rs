//! The history view in headless Chromium against a real console and sandbox: a history seeded
//! through the console's own store (one real run, then 30 built from its report with a +50 % step
//! at run 20 in the light scenario's mean latency, and a flat noisy one), read as a person would:
//! the chart's series, the change point's line where the step is, the table row's link to the
//! comparison across it, nothing on the flat history, pickers that live in the address — on a
//! desktop and a phone, without console errors.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::Duration;

use lifeguard_shared::history::History;
use lifeguard_tests::TestApp;
use lifeguard_tests::browser::{Browser, retry, series};
use lifeguard_tests::history_seed::{
    RUNS, STEP_AT, console, open_store, real_report, store_history,
};
use serde_json::{Value, json};

const STEPPED: &str =
    "/history?target=sandbox&environment=history-step&metric=mean_latency_ms&scenario=light";
const FLAT: &str =
    "/history?target=sandbox&environment=history-flat&metric=mean_latency_ms&scenario=light";

/// The vertical lines of the change points (their data; empty when there is none).
fn change_marks(options: &Value) -> Vec<Value> {
    series(options, "change point")["markLine"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Picks `value` in the `<select>` `css` as a person would (the change event included).
async fn pick(browser: &Browser, css: &str, value: &str) {
    browser
        .client
        .execute(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1];
             s.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap();
}

/// The value the form control `css` shows.
async fn shown_value(browser: &Browser, css: &str) -> Value {
    browser
        .client
        .execute(
            "return document.querySelector(arguments[0]).value",
            vec![json!(css)],
        )
        .await
        .unwrap()
}

/// The page is no wider than the window (nothing to scroll sideways).
async fn fits_the_width(browser: &Browser) {
    let (page, window) = browser.widths().await.unwrap();
    assert!(page <= window, "the page is {page} px wide in {window} px");
}

/// The stepped history's view: summary, series, the change point's line where the step is, the
/// segments' means, the baseline's diamond, pickers as asked; then the table row's link to the
/// comparison across the change, followed.
async fn check_the_step(browser: &Browser, history: &History, stepped: &[String]) {
    let change = &history.change_points[0];
    browser
        .wait_for_text(
            "#history-summary",
            "mean latency of light on sandbox in environment history-step · suite quick · \
             profile any: 30 runs, 1 change point.",
        )
        .await
        .unwrap();
    let options = browser.chart_options("history").await.unwrap();
    let names: Vec<&str> = options["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "mean latency (ms)",
            "baseline run",
            "segment mean",
            "change point"
        ]
    );
    assert_eq!(options["yAxis"][0]["name"], "mean latency (ms)");
    let values = series(&options, "mean latency (ms)")["data"]
        .as_array()
        .unwrap();
    assert_eq!(values.len(), RUNS);
    assert!(values.iter().all(Value::is_number), "{values:?}");
    let diamonds = series(&options, "baseline run")["data"].as_array().unwrap();
    let marked: Vec<usize> = (0..RUNS).filter(|&i| diamonds[i].is_number()).collect();
    assert_eq!(marked, [5], "the baseline's run is marked");
    let marks = change_marks(&options);
    assert_eq!(marks.len(), 1, "{marks:?}");
    let at = marks[0]["xAxis"].as_u64().unwrap();
    assert!(
        at.abs_diff(STEP_AT as u64) <= 1,
        "the change point is drawn at run {at}"
    );
    assert_eq!(at, change.index as u64);
    let label = marks[0]["name"].as_str().unwrap();
    assert!(label.starts_with('+') && label.ends_with(" %"), "{label}");
    let means = series(&options, "segment mean")["markLine"]["data"]
        .as_array()
        .unwrap();
    assert_eq!(
        means.len(),
        2,
        "a mean before and after the step: {means:?}"
    );
    assert!(
        means[1][0]["yAxis"].as_f64().unwrap() > means[0][0]["yAxis"].as_f64().unwrap() * 1.3,
        "{means:?}"
    );
    // Every picker shows what the address asked for.
    for (picker, value) in [
        ("#history-target", "sandbox"),
        ("#history-environment", "history-step"),
        ("#history-suite", ""),
        ("#history-profile", ""),
        ("#history-metric", "mean_latency_ms"),
        ("#history-scenario", "light"),
    ] {
        assert_eq!(shown_value(browser, picker).await, json!(value), "{picker}");
    }
    browser.scroll_to("main").await.unwrap();
    browser.screenshot("history-step").await.unwrap();

    // The text alternative: a row for the change point, its link to the comparison across it.
    let row = format!("#change-point-table tr[data-index='{}']", change.index);
    browser.wait_for(&row).await.unwrap();
    let link = browser
        .wait_for(&format!("{row} a[data-compare]"))
        .await
        .unwrap();
    let href = link.attr("href").await.unwrap().unwrap();
    assert_eq!(
        href,
        format!(
            "/compare/{}/{}",
            stepped[change.index - 1],
            stepped[change.index]
        )
    );
    browser.scroll_to("#change-points").await.unwrap();
    browser
        .screenshot("history-step-change-points")
        .await
        .unwrap();
    link.click().await.unwrap();
    browser.wait_for("#overall-verdict").await.unwrap();
    let address = browser.client.current_url().await.unwrap();
    assert_eq!(address.path(), href);
}

/// The flat history's view: no change point said, none drawn; then a run-level metric picked,
/// which leaves the scenario out of the address and the pickers.
async fn check_the_flat_history_and_a_picker(browser: &Browser, app: &TestApp) {
    browser.client.goto(&app.url(FLAT)).await.unwrap();
    browser
        .wait_for_text(
            "#history-summary",
            "mean latency of light on sandbox in environment history-flat · suite quick · \
             profile any: 30 runs, no change point.",
        )
        .await
        .unwrap();
    let said = browser.text("#no-change-point").await.unwrap();
    assert!(said.starts_with("No change point"), "{said}");
    let options = browser.chart_options("history").await.unwrap();
    assert_eq!(change_marks(&options), Vec::<Value>::new());
    browser.scroll_to("main").await.unwrap();
    browser.screenshot("history-flat").await.unwrap();

    pick(browser, "#history-metric", "leaks").await;
    retry(Duration::from_secs(20), || async {
        let address = browser.client.current_url().await.unwrap();
        let query = address.query().unwrap_or_default().to_owned();
        if query.contains("metric=leaks") && !query.contains("scenario") {
            Ok(())
        } else {
            Err(query)
        }
    })
    .await
    .unwrap();
    browser
        .wait_for_text(
            "#history-summary",
            "leaks on sandbox in environment history-flat · suite quick · profile any: 30 runs, \
             no change point.",
        )
        .await
        .unwrap();
    assert!(
        browser
            .client
            .find(fantoccini::Locator::Css("#history-scenario"))
            .await
            .is_err(),
        "no scenario picker for a run-level metric"
    );
}

/// From the runs list of a target and environment to its history, the rest filled in: p95
/// latency of the newest run's suite's heaviest scenario.
async fn check_the_link_from_the_runs_list(browser: &Browser, app: &TestApp) {
    browser
        .client
        .goto(&app.url("/runs?target=sandbox&environment=history-step"))
        .await
        .unwrap();
    let link = browser.wait_for("#history-link").await.unwrap();
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some("/history?target=sandbox&environment=history-step")
    );
    link.click().await.unwrap();
    browser
        .wait_for_text(
            "#history-summary",
            "p95 latency of light on sandbox in environment history-step · suite quick · \
             profile any: 30 runs, no change point.",
        )
        .await
        .unwrap();
    assert_eq!(
        shown_value(browser, "#history-metric").await,
        json!("p95_latency_ms")
    );
}

#[tokio::test]
async fn a_step_in_a_history_is_drawn_where_it_happened_and_links_to_the_comparison_across_it() {
    let app = console().await.unwrap();
    let template = real_report(&app).await.unwrap();
    let store = open_store(&app).await.unwrap();
    let base = template.scenarios[0].latency_ms.mean.max(1.0);
    let stepped = store_history(&store, &template, "history-step", 7, |i| {
        if i < STEP_AT { base } else { base * 1.5 }
    })
    .await
    .unwrap();
    store_history(&store, &template, "history-flat", 11, |_| base)
        .await
        .unwrap();
    store.close().await;
    let (status, answer) = app
        .put(
            "/api/baselines/history-base",
            &json!({ "run_id": stepped[5] }),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    let history: History = app
        .get_json(&STEPPED.replacen("/history", "/api/history", 1))
        .await
        .unwrap();
    assert_eq!(
        history.change_points.len(),
        1,
        "{:?}",
        history.change_points
    );

    let browser = Browser::start().await.unwrap();
    browser.client.goto(&app.url(STEPPED)).await.unwrap();
    check_the_step(&browser, &history, &stepped).await;
    check_the_flat_history_and_a_picker(&browser, &app).await;
    check_the_link_from_the_runs_list(&browser, &app).await;
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );

    // On a phone: the same history, nothing wider than the screen.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.client.goto(&app.url(STEPPED)).await.unwrap();
    let options = browser.chart_options("history").await.unwrap();
    assert_eq!(change_marks(&options).len(), 1);
    fits_the_width(&browser).await;
    browser.scroll_to("main").await.unwrap();
    browser.screenshot("history-step-phone").await.unwrap();
    browser.scroll_to("[data-chart=history]").await.unwrap();
    browser
        .screenshot("history-step-phone-chart")
        .await
        .unwrap();
    browser.scroll_to("#change-points").await.unwrap();
    browser
        .screenshot("history-step-phone-change-points")
        .await
        .unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}
