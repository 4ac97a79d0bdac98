//! A metric's history across runs, over real HTTP: a console with its own sandbox runs one real
//! run; its report, with the light scenario's mean latency set run by run, is stored as 30 more
//! runs (a step at run 20, or flat noise) through the console's own store, so the store, the API
//! and the change-point detector are the real ones (see `lifeguard_tests::history_seed`). A
//! history holds one suite's runs: another suite's, even with the same scenario names, are left
//! out.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use lifeguard::store::Store;
use lifeguard_shared::compare::Comparison;
use lifeguard_shared::history::History;
use lifeguard_shared::report::{RunReport, RunState};
use lifeguard_tests::TestApp;
use lifeguard_tests::history_seed::{
    RUNS, STEP_AT, console, open_store, real_report, store_history, store_run,
};
use serde_json::json;

/// Stores runs of another suite (`quick-twin`) with the same scenario: three far slower ones in
/// `history-step`, older than its history (their ids, oldest first); and in `history-suites`, one
/// of `quick` then two newer of the twin.
async fn store_another_suite(store: &Store, template: &RunReport, base: f64) -> Vec<String> {
    let twin = RunReport {
        suite: "quick-twin".into(),
        ..template.clone()
    };
    let mut twins = Vec::new();
    for minutes_ago in [420, 410, 400] {
        let id = store_run(
            store,
            &twin,
            "history-step",
            minutes_ago,
            base * 9.0,
            RunState::Passed,
        )
        .await
        .unwrap();
        twins.push(id);
    }
    for (minutes_ago, report) in [(30, template), (20, &twin), (10, &twin)] {
        store_run(
            store,
            report,
            "history-suites",
            minutes_ago,
            base,
            RunState::Passed,
        )
        .await
        .unwrap();
    }
    twins
}

/// The twin suite's runs are a history of their own when asked for; when no suite is asked for,
/// the newest finished run's is read; a profile limits the runs.
async fn another_suite_is_left_out_unless_asked_for(
    app: &TestApp,
    twins: &[String],
    profile: &str,
) {
    let path = "/api/history?target=sandbox&environment=history-step&metric=mean_latency_ms\
                &scenario=light";
    let history: History = app
        .get_json(&format!("{path}&suite=quick-twin"))
        .await
        .unwrap();
    assert_eq!(history.suite, "quick-twin");
    let ids: Vec<&str> = history.points.iter().map(|p| p.run_id.as_str()).collect();
    assert_eq!(ids, twins);
    let history: History = app
        .get_json(&format!("{path}&suite=quick&profile={profile}"))
        .await
        .unwrap();
    assert_eq!(history.points.len(), RUNS);
    assert_eq!(history.profile.as_deref(), Some(profile));
    let history: History = app
        .get_json(&format!("{path}&profile=no-such-profile"))
        .await
        .unwrap();
    assert_eq!(history.points, []);
    let history: History = app
        .get_json(
            "/api/history?target=sandbox&environment=history-suites&metric=mean_latency_ms\
             &scenario=light",
        )
        .await
        .unwrap();
    assert_eq!(
        history.suite, "quick-twin",
        "the newest finished run's suite"
    );
    assert_eq!(history.points.len(), 2);
}

#[tokio::test]
async fn a_step_in_the_history_is_found_where_it_happened_and_links_to_its_comparison() {
    let app = console().await.unwrap();
    let template = real_report(&app).await.unwrap();
    let store = open_store(&app).await.unwrap();
    let base = template.scenarios[0].latency_ms.mean.max(1.0);
    let stepped = store_history(&store, &template, "history-step", 7, |i| {
        if i < STEP_AT { base } else { base * 1.5 }
    })
    .await
    .unwrap();
    // An aborted run among them is no part of the history.
    let aborted = store_run(
        &store,
        &template,
        "history-step",
        55,
        base * 9.0,
        RunState::Aborted,
    )
    .await
    .unwrap();
    let twins = store_another_suite(&store, &template, base).await;
    let flat = store_history(&store, &template, "history-flat", 11, |_| base)
        .await
        .unwrap();
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
    assert_eq!(ids, stepped, "the finished runs of one suite, oldest first");
    assert!(!ids.contains(&aborted.as_str()));
    assert_eq!(history.suite, "quick", "the newest finished run's suite");
    assert_eq!(history.profile, None);
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

    another_suite_is_left_out_unless_asked_for(&app, &twins, &template.profile).await;

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
    let app = console().await.unwrap();
    let template = real_report(&app).await.unwrap();
    let store = open_store(&app).await.unwrap();
    store_history(&store, &template, "history-errors", 3, |_| 5.0)
        .await
        .unwrap();
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
    assert_eq!(history.suite, "", "no run, no suite");
    app.stop().await.unwrap();
}
