//! The console as people use it, in headless Chromium against a real console and sandbox: trigger a
//! run from the form and watch it live, make it the baseline, run again slower, share the
//! comparison and open the link in a fresh session; viewers get no trigger form; unknown runs
//! say so; the shared comparison fits a phone-sized window. Every view is saved as a screenshot in
//! the test output directory.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::Duration;

use fantoccini::Locator;
use lifeguard::config::Secret;
use lifeguard_shared::suite::{Criteria, Load, Scenario, Suite, Thresholds};
use lifeguard_tests::browser::retry;
use lifeguard_tests::{Browser, TestApp, spawn_app_with};
use serde_json::Value;

/// With the characters a query string encodes (`+ / =`), as generated tokens often have.
const OPERATOR: &str = "operator+token/for=the-console-test";
/// The same, percent-encoded as a browser sends it in an address.
const OPERATOR_IN_QUERY: &str = "operator%2Btoken%2Ffor%3Dthe-console-test";
const VIEWER: &str = "viewer-token-for-the-console-test";

/// Three seconds of five users: long enough to watch live, short enough for a test.
fn quick_suite() -> Suite {
    Suite {
        name: "quick".into(),
        version: 1,
        description: "Five users for three seconds.".into(),
        scenarios: vec![Scenario {
            name: "steady".into(),
            load: Load::Closed {
                users: 5,
                requests_per_user: None,
                duration_s: Some(3.0),
                ramp_up_s: 0.0,
                think_time_ms: 20,
            },
            min_success_rate: 0.95,
        }],
        criteria: Criteria::default(),
        thresholds: Thresholds::default(),
        recovery: None,
        leak_check: None,
    }
}

async fn console_with_tokens() -> TestApp {
    spawn_app_with(|config| {
        config.suites.push(quick_suite());
        config.access.operator_tokens = vec![Secret::new(OPERATOR)];
        config.access.viewer_tokens = vec![Secret::new(VIEWER)];
        config.access.viewers_need_token = true;
    })
    .await
    .unwrap()
}

/// Waits (up to `limit`) until `css` matches an element whose `attribute` is one of `values`.
async fn wait_for_attribute(
    browser: &Browser,
    css: &str,
    attribute: &str,
    values: &[&str],
    limit: Duration,
) -> String {
    retry(limit, || async move {
        let value = match browser.client.find(Locator::Css(css)).await {
            Ok(element) => element.attr(attribute).await.ok().flatten(),
            Err(_) => None,
        };
        value
            .clone()
            .filter(|v| values.contains(&v.as_str()))
            .ok_or(value)
    })
    .await
    .unwrap_or_else(|last| panic!("`{css}` has {attribute}={last:?}, expected one of {values:?}"))
}

/// The run id in the browser's address (`/runs/{id}`).
async fn run_id_in_address(browser: &Browser) -> String {
    retry(Duration::from_secs(20), || async move {
        let url = browser.client.current_url().await.unwrap();
        match url.path().strip_prefix("/runs/") {
            Some(id) if !id.is_empty() && id != "new" => Ok(id.to_owned()),
            _ => Err(url),
        }
    })
    .await
    .unwrap_or_else(|url| panic!("still at {url} after submitting"))
}

/// Fills the trigger form for the quick suite (with `hold_ms` when given) and submits it.
async fn trigger(browser: &Browser, app: &TestApp, version: &str, hold_ms: Option<&str>) -> String {
    browser
        .client
        .goto(&app.url(&format!("/runs/new?token={OPERATOR_IN_QUERY}")))
        .await
        .unwrap();
    browser.wait_for("#trigger-form").await.unwrap();
    // The suites load with the form; choose once the option is there.
    browser
        .wait_for("#run-suite option[value=quick]")
        .await
        .unwrap();
    let select = |id: &'static str, value: &'static str| async move {
        browser
            .client
            .find(Locator::Css(id))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    };
    select("#run-target", "sandbox").await;
    select("#run-suite", "quick").await;
    select("#run-profile", "recommended-dev").await;
    select("#label-phase", "pre-deploy").await;
    let type_into = |id: String, text: String| async move {
        browser
            .client
            .find(Locator::Css(&id))
            .await
            .unwrap()
            .send_keys(&text)
            .await
            .unwrap();
    };
    type_into("#label-environment".into(), "staging".into()).await;
    type_into("#label-version".into(), version.into()).await;
    if let Some(hold) = hold_ms {
        type_into("#workload-hold_ms".into(), hold.into()).await;
    }
    browser
        .client
        .find(Locator::Css("#start-run"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    run_id_in_address(browser).await
}

/// Whether the run's live view showed progress before the verdict, then the finished report.
async fn watch_until_finished(browser: &Browser, shot: &str) -> String {
    // Live: the progress table fills while the run goes, and an operator may cancel it.
    browser
        .wait_for("#live-progress tr[data-scenario]")
        .await
        .unwrap();
    browser.wait_for("#cancel-run").await.unwrap();
    browser.screenshot(&format!("{shot}-live")).await.unwrap();
    let state = wait_for_attribute(
        browser,
        "#run-state [data-state]",
        "data-state",
        &["passed", "failed", "aborted"],
        Duration::from_mins(1),
    )
    .await;
    browser
        .wait_for("#criteria [data-criterion]")
        .await
        .unwrap();
    browser.wait_for("[data-chart] canvas").await.unwrap();
    browser
        .screenshot(&format!("{shot}-finished"))
        .await
        .unwrap();
    state
}

#[tokio::test]
async fn a_baseline_then_a_slower_run_is_shared_as_a_regressed_comparison() {
    let app = console_with_tokens().await;
    let browser = Browser::start().await.unwrap();

    // 1. Trigger from the form and watch it finish live.
    let base = trigger(&browser, &app, "v1", None).await;
    assert_eq!(watch_until_finished(&browser, "run-base").await, "passed");
    // 2. Make it the baseline, through the confirmation step.
    set_baseline(&browser, &app, &base).await;
    // 3. Run again with 50 ms of hold per request (ten times the base's latency).
    let head = trigger(&browser, &app, "v2", Some("50")).await;
    watch_until_finished(&browser, "run-head").await;
    // The start page and the run list show both runs; the start page also the baseline.
    overview(&browser, &app, &base, &head).await;
    // 4. The comparison against the baseline, then its share link.
    let link = share_comparison(&browser, &app, &base, &head).await;
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );
    browser.close().await.unwrap();
    // 5. A fresh session with nothing but the link sees the regression and both runs' curves.
    open_shared(&app, &link, &base, &head).await;

    let logs = lifeguard_tests::captured_logs();
    let leaked: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(OPERATOR) || l.contains(OPERATOR_IN_QUERY))
        .collect();
    assert!(
        leaked.is_empty(),
        "the operator token was logged: {leaked:?}"
    );
    assert!(
        !logs.contains(&app.target_password),
        "the target password was logged"
    );
    app.stop().await.unwrap();
}

/// `/` groups runs by target and environment with the current baseline; `/runs` lists them and
/// keeps its filters in the address.
async fn overview(browser: &Browser, app: &TestApp, base: &str, head: &str) {
    browser
        .client
        .goto(&app.url(&format!("/?token={OPERATOR_IN_QUERY}")))
        .await
        .unwrap();
    let group = "[data-target=sandbox][data-environment=staging]";
    browser
        .wait_for(&format!("{group} [data-baseline=auth-main]"))
        .await
        .unwrap();
    for run in [base, head] {
        browser
            .wait_for(&format!("{group} tr[data-run-id='{run}']"))
            .await
            .unwrap();
    }
    sparkline_rises_and_needs_no_chart_library(browser, group).await;
    browser.screenshot("home").await.unwrap();
    browser
        .client
        .goto(&app.url(&format!(
            "/runs?environment=staging&token={OPERATOR_IN_QUERY}"
        )))
        .await
        .unwrap();
    for run in [base, head] {
        browser
            .wait_for(&format!("#runs tr[data-run-id='{run}']"))
            .await
            .unwrap();
    }
    browser.screenshot("runs").await.unwrap();
    copy_link_carries_no_token(browser).await;
}

/// The start page's sparkline shows both runs' p95, the slower head higher, with each value in
/// its hover title; and the start page has not loaded ECharts (it draws no chart that needs it).
async fn sparkline_rises_and_needs_no_chart_library(browser: &Browser, group: &str) {
    let spark = format!("{group} [data-chart=p95-sparkline]");
    let points = browser
        .wait_for(&format!("{spark} polyline"))
        .await
        .unwrap()
        .attr("points")
        .await
        .unwrap()
        .unwrap_or_default();
    let heights: Vec<f64> = points
        .split_whitespace()
        .map(|point| point.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    // SVG's y grows downwards: the base (oldest, left) at the bottom, the head at the top.
    assert_eq!(heights.len(), 2, "{points}");
    assert!(heights[1] < heights[0], "{points}");
    let page = browser
        .client
        .execute(
            "return [document.querySelector(arguments[0]).textContent, \
             window.echarts !== undefined];",
            vec![Value::from(format!("{spark} svg"))],
        )
        .await
        .unwrap();
    let titles = page[0].as_str().unwrap();
    assert!(
        titles.contains("run 2 of 2: ") && titles.contains(" ms"),
        "{titles}"
    );
    assert_eq!(page[1], false, "the start page loaded ECharts");
}

/// "Copy link" on a page opened with `?token=` copies the address without the token.
async fn copy_link_carries_no_token(browser: &Browser) {
    browser
        .client
        .execute(
            "window.copied = null; navigator.clipboard.writeText = (text) => { \
             window.copied = text; return Promise.resolve(); };",
            vec![],
        )
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Css("#copy-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let copied = retry(Duration::from_secs(5), || async move {
        match browser
            .client
            .execute("return window.copied;", vec![])
            .await
        {
            Ok(Value::String(text)) => Ok(text),
            other => Err(format!("{other:?}")),
        }
    })
    .await
    .unwrap();
    assert!(copied.contains("/runs?environment=staging"), "{copied}");
    assert!(
        !copied.contains("token"),
        "the copied link carries the token: {copied}"
    );
    assert!(!copied.contains(OPERATOR_IN_QUERY));
}

/// Points baseline `auth-main` at `run` from `/baselines`, through the confirmation step.
async fn set_baseline(browser: &Browser, app: &TestApp, run: &str) {
    let base = run;
    browser
        .client
        .goto(&app.url(&format!("/baselines?token={OPERATOR_IN_QUERY}")))
        .await
        .unwrap();
    browser.wait_for("#baseline-form").await.unwrap();
    browser
        .client
        .find(Locator::Css("#baseline-name"))
        .await
        .unwrap()
        .send_keys("auth-main")
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Css("#baseline-run"))
        .await
        .unwrap()
        .select_by_value(base)
        .await
        .unwrap();
    browser
        .client
        .find(Locator::Css("#baseline-review"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let confirm = browser.wait_for("#baseline-confirm").await.unwrap();
    assert!(
        confirm.text().await.unwrap().contains(base),
        "the confirmation names the run"
    );
    browser.screenshot("baselines-confirm").await.unwrap();
    browser
        .client
        .find(Locator::Css("#baseline-confirm-yes"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.wait_for("p.ok#baseline-result").await.unwrap();
    browser
        .wait_for("#baselines tr[data-baseline=auth-main]")
        .await
        .unwrap();
    browser.screenshot("baselines").await.unwrap();
    let (status, stored) = app
        .get(&format!(
            "/api/baselines/auth-main?token={OPERATOR_IN_QUERY}"
        ))
        .await
        .unwrap();
    assert_eq!(status, 200, "{stored}");
    assert!(stored.contains(base), "{stored}");
}

/// Opens the comparison of `head` with the baseline, checks it regressed, and shares it.
async fn share_comparison(browser: &Browser, app: &TestApp, base: &str, head: &str) -> String {
    browser
        .client
        .goto(&app.url(&format!(
            "/compare?baseline=auth-main&head={head}&token={OPERATOR_IN_QUERY}"
        )))
        .await
        .unwrap();
    let verdict = wait_for_attribute(
        browser,
        "#overall-verdict [data-verdict]",
        "data-verdict",
        &[
            "regressed",
            "improved",
            "unchanged",
            "small",
            "inconclusive",
        ],
        Duration::from_secs(20),
    )
    .await;
    if verdict != "regressed" {
        let (_, comparison) = app
            .get(&format!(
                "/api/compare?base={base}&head={head}&token={OPERATOR_IN_QUERY}"
            ))
            .await
            .unwrap();
        panic!("the comparison is {verdict}: {comparison}");
    }
    browser.screenshot("compare-baseline").await.unwrap();
    browser
        .client
        .find(Locator::Css("#share-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = browser
        .wait_for("#share-url")
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(
        link.contains(&format!("/compare/{base}/{head}?share=")),
        "{link}"
    );
    assert!(
        !link.contains(OPERATOR) && !link.contains(OPERATOR_IN_QUERY),
        "the share link carries the token: {link}"
    );
    link
}

/// A fresh browser session opens `link`: the regression, both curves; without it, a refusal.
async fn open_shared(app: &TestApp, link: &str, base: &str, head: &str) {
    let fresh = Browser::start().await.unwrap();
    fresh.client.goto(link).await.unwrap();
    let verdict = wait_for_attribute(
        &fresh,
        "#overall-verdict [data-verdict]",
        "data-verdict",
        &[
            "regressed",
            "improved",
            "unchanged",
            "small",
            "inconclusive",
        ],
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(verdict, "regressed");
    let regressed_mean = fresh
        .wait_for("tr[data-scenario=steady][data-metric=mean_latency_ms] [data-verdict]")
        .await
        .unwrap()
        .attr("data-verdict")
        .await
        .unwrap();
    let (_, comparison) = app
        .get(&format!(
            "/api/compare?base={base}&head={head}&token={OPERATOR_IN_QUERY}"
        ))
        .await
        .unwrap();
    assert_eq!(regressed_mean.as_deref(), Some("regressed"), "{comparison}");
    let series = fresh.chart_series("latency-percentiles").await.unwrap();
    assert!(
        series.iter().any(|s| s.contains("base")) && series.iter().any(|s| s.contains("head")),
        "the latency chart shows {series:?}"
    );
    fresh.screenshot("compare-shared").await.unwrap();
    assert_eq!(fresh.console_errors().await.unwrap(), Vec::<String>::new());
    fits_a_phone(&fresh, link).await;

    // Without the link, the same session may not read it.
    fresh
        .client
        .goto(&app.url(&format!("/compare/{base}/{head}")))
        .await
        .unwrap();
    let refusal = fresh
        .wait_for("[data-testid=error]")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(refusal.contains("needs a token"), "{refusal}");
    fresh.close().await.unwrap();
}

/// On a phone-sized window (390 × 844), `url` still shows its verdict and charts and the page
/// does not scroll sideways (wide tables scroll inside their own box).
async fn fits_a_phone(browser: &Browser, url: &str) {
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.client.goto(url).await.unwrap();
    browser
        .wait_for("#overall-verdict [data-verdict]")
        .await
        .unwrap();
    browser.chart_series("latency-percentiles").await.unwrap();
    let overflow = browser
        .client
        .execute(
            "const page = document.documentElement;
             return [page.scrollWidth, page.clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    let widths: Vec<u64> = serde_json::from_value(overflow).unwrap();
    assert!(
        widths[0] <= widths[1],
        "the page is {} px wide on a {} px screen",
        widths[0],
        widths[1]
    );
    browser.screenshot("compare-shared-narrow").await.unwrap();
    browser.client.set_window_size(1280, 800).await.unwrap();
}

#[tokio::test]
async fn a_viewer_gets_no_trigger_form() {
    let app = console_with_tokens().await;
    let browser = Browser::start().await.unwrap();
    browser
        .client
        .goto(&app.url(&format!("/runs/new?token={VIEWER}")))
        .await
        .unwrap();
    let notice = browser
        .wait_for("#not-operator")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!notice.is_empty());
    assert!(
        browser
            .client
            .find(Locator::Css("#trigger-form"))
            .await
            .is_err(),
        "a viewer was shown the trigger form"
    );
    browser.screenshot("new-run-viewer").await.unwrap();
    // An operator does get it.
    browser
        .client
        .goto(&app.url(&format!("/runs/new?token={OPERATOR_IN_QUERY}")))
        .await
        .unwrap();
    browser.wait_for("#trigger-form").await.unwrap();
    browser.screenshot("new-run-operator").await.unwrap();
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_run_shows_a_not_found_page() {
    let app = console_with_tokens().await;
    let browser = Browser::start().await.unwrap();
    browser
        .client
        .goto(&app.url(&format!("/runs/no-such-run?token={VIEWER}")))
        .await
        .unwrap();
    let text = browser
        .wait_for("#not-found")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("no-such-run"), "{text}");
    browser.screenshot("run-not-found").await.unwrap();
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}
