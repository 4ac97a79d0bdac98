//! The compare view of two auth-burst runs, in headless Chromium against a real console and
//! sandbox: a summary line that names what regressed, a scenario selector (recovery on its own),
//! per-scenario bars of base and head with the blocks the test compared and the verdict, and no
//! `unchanged` beside a change past its relative threshold.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use lifeguard_shared::compare::{Comparison, Verdict};
use lifeguard_shared::run::{RunDetail, Series};
use lifeguard_tests::browser::Browser;
use lifeguard_tests::{TestApp, spawn_app};
use serde_json::{Value, json};

/// Runs auth-burst with `workload` and returns the run's id once it has ended.
async fn auth_burst(app: &TestApp, workload: Value) -> String {
    let request = json!({
        "target": "sandbox",
        "suite": "auth-burst",
        "profile": "current",
        "workload": workload,
    });
    app.run_to_the_end(&request).await.unwrap()
}

/// A short run's series comes in 100 ms buckets, each scenario in buckets of its own, and the
/// run's time charts show every phase as a labelled band.
async fn bursts_at_their_real_resolution(app: &TestApp, browser: &Browser, run: &str) {
    let series: Series = app
        .get_json(&format!("/api/runs/{run}/series"))
        .await
        .unwrap();
    assert_eq!(series.resolution_ms, 100);
    let phases: Vec<&str> = series.points.iter().map(|p| p.phase.as_str()).collect();
    for scenario in [
        "light",
        "moderate",
        "heavy",
        "peak",
        "recovery",
        "leak-check",
    ] {
        assert!(
            phases.contains(&scenario),
            "{scenario} has no bucket: {phases:?}"
        );
    }
    let requests: u64 = series.points.iter().map(|p| p.requests).sum();
    let detail: RunDetail = app.get_json(&format!("/api/runs/{run}")).await.unwrap();
    let report = detail.report.unwrap();
    let measured: u64 = report.scenarios.iter().map(|s| s.requests).sum::<u64>()
        + report.recovery.as_ref().map_or(0, |r| r.burst_requests);
    assert!(
        requests >= measured,
        "{requests} in buckets, {measured} measured"
    );

    browser
        .client
        .goto(&app.url(&format!("/runs/{run}")))
        .await
        .unwrap();
    let options = browser.chart_options("latency-over-time").await.unwrap();
    let bands: Vec<&str> = options["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "phases")
        .flat_map(|s| s["markArea"]["data"].as_array().unwrap())
        .map(|area| area[0]["name"].as_str().unwrap())
        .collect();
    for band in [
        "light",
        "moderate",
        "heavy",
        "peak",
        "burst & recovery",
        "leak check",
    ] {
        assert!(bands.contains(&band), "no band {band}: {bands:?}");
    }
    browser
        .scroll_to("[data-chart=latency-over-time]")
        .await
        .unwrap();
    browser.screenshot("run-auth-burst-buckets").await.unwrap();
}

/// The metrics a scenario draws as bars: those with a value on either side.
const BARS: [&str; 6] = [
    "mean_latency_ms",
    "p50_latency_ms",
    "p95_latency_ms",
    "p99_latency_ms",
    "acquire_wait_p95_ms",
    "success_rate",
];

/// Seconds of burst, recovery and leak check: base and head over time, from its start.
async fn over_time_from_the_start(browser: &Browser) {
    let lines = browser.chart_series("over-time-pool").await.unwrap();
    assert_eq!(
        lines,
        [
            "checked out · base",
            "checked out · head",
            "waiters · base",
            "waiters · head"
        ]
    );
    let options = browser.chart_options("over-time-latency").await.unwrap();
    let points = options["series"][1]["data"].as_array().unwrap().len();
    assert!(points >= 10, "{points} buckets of burst and recovery");
}

/// Selects `entry` in the scenario selector and checks its bars, table and percentile curves
/// against the comparison the API gave.
async fn check_entry(browser: &Browser, comparison: &Comparison, entry: &str) {
    browser
        .client
        .execute(
            "document.querySelector(`[data-select='${arguments[0]}']`).click()",
            vec![json!(entry)],
        )
        .await
        .unwrap();
    let section = format!("section.scenario[data-scenario='{entry}']");
    browser.wait_for(&section).await.unwrap();
    let current = browser
        .client
        .execute(
            "return document.querySelector('#scenario-select [aria-current=true]').dataset.select",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(current, json!(entry));
    let metrics = comparison
        .scenarios
        .iter()
        .find(|s| s.name == entry)
        .map_or(&comparison.run, |s| &s.metrics);
    for m in metrics {
        let drawn =
            BARS.contains(&m.metric.name()) || matches!(m.metric.name(), "recovery_s" | "leaks");
        let nothing = m.base.unwrap_or(0.0) == 0.0 && m.head.unwrap_or(0.0) == 0.0;
        if drawn && !nothing {
            let options = browser.chart_options(m.metric.name()).await.unwrap();
            let names: Vec<&str> = options["series"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap())
                .collect();
            assert_eq!(names[..2], ["base", "head"], "{entry} {}", m.metric);
            if !m.base_values.is_empty() {
                let dots = options["series"][2]["data"].as_array().unwrap().len();
                assert_eq!(
                    dots,
                    m.base_values.len() + m.head_values.len(),
                    "{entry} {}: one dot per block the test compared",
                    m.metric
                );
            }
            let verdict = options["xAxis"][0]["name"].as_str().unwrap();
            assert!(
                verdict.ends_with(m.verdict.name()),
                "{entry} {}: the chart says `{verdict}`, the comparison {:?}",
                m.metric,
                m.verdict
            );
        }
        let row = format!(
            "tr[data-scenario='{entry}'][data-metric={}] [data-verdict]",
            m.metric
        );
        let shown = browser
            .wait_for(&row)
            .await
            .unwrap()
            .attr("data-verdict")
            .await
            .unwrap();
        assert_eq!(
            shown.as_deref(),
            Some(m.verdict.name()),
            "{entry} {}",
            m.metric
        );
    }
    let curves = browser.chart_series("latency-percentiles").await.unwrap();
    let phase = if entry == "recovery & leaks" {
        "recovery"
    } else {
        entry
    };
    assert!(
        curves.iter().all(|c| c.starts_with(phase)) && curves.len() == 2,
        "{entry}: the percentile chart shows {curves:?}"
    );
    if entry == "recovery & leaks" {
        over_time_from_the_start(browser).await;
    }
    let shot = entry.replace(" & ", "-");
    browser
        .screenshot(&format!("compare-auth-burst-{shot}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn two_auth_burst_runs_compare_scenario_by_scenario_in_charts() {
    let app = spawn_app().await.unwrap();
    let base = auth_burst(&app, json!({})).await;
    // Every request holds its connection 20 ms longer: slower where users rarely queue.
    let head = auth_burst(&app, json!({ "hold_ms": 20 })).await;
    let comparison: Comparison = app
        .get_json(&format!("/api/compare?base={base}&head={head}"))
        .await
        .unwrap();

    // Verdict words never contradict the numbers: past the relative threshold is never
    // `unchanged`, and a p-value is there exactly where a test ran.
    for (scenario, m) in comparison.metrics() {
        if m.relative.is_some_and(|r| r.abs() >= m.practical_threshold) {
            assert_ne!(m.verdict, Verdict::Unchanged, "{scenario}: {m:?}");
        }
        if m.verdict == Verdict::Small || m.verdict == Verdict::Unchanged {
            assert_eq!(m.p_value, None, "{scenario}: {m:?}");
        }
    }

    let browser = Browser::start().await.unwrap();
    bursts_at_their_real_resolution(&app, &browser, &head).await;
    browser
        .client
        .goto(&app.url(&format!("/compare/{base}/{head}")))
        .await
        .unwrap();
    browser
        .wait_for_text("#compare-summary", &comparison.summary())
        .await
        .unwrap();
    browser.screenshot("compare-auth-burst").await.unwrap();

    let mut entries: Vec<String> = comparison
        .scenarios
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(entries, ["light", "moderate", "heavy", "peak"]);
    entries.push("recovery & leaks".to_owned());
    for entry in &entries {
        check_entry(&browser, &comparison, entry).await;
    }
    // The selected scenario is part of the address, so a link opens the same view.
    let address = browser.client.current_url().await.unwrap();
    assert!(address.as_str().contains("scenario=recovery"), "{address}");
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );

    browser.client.set_window_size(390, 844).await.unwrap();
    browser
        .client
        .goto(&app.url(&format!("/compare/{base}/{head}?scenario=heavy")))
        .await
        .unwrap();
    browser.chart_options("mean_latency_ms").await.unwrap();
    let (page, window) = browser.widths().await.unwrap();
    assert!(page <= window, "the page is {page} px wide in {window} px");
    browser
        .screenshot("compare-auth-burst-phone")
        .await
        .unwrap();
    browser.close().await.unwrap();
    app.stop().await.unwrap();
}
