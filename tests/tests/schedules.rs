//! Scheduled regression runs through a real console: a schedule fires, its run is compared with
//! the baseline automatically; firings missed while the console was down run once at start; a bad
//! cron pattern is refused at start, naming the key.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::Duration;

use lifeguard::config::{Config, ScheduleConfig};
use lifeguard::store::{Store, now_ms};
use lifeguard_shared::run::{RunLabels, RunPage};
use lifeguard_shared::schedule::ScheduleStatus;
use lifeguard_shared::suite::Suite;
use lifeguard_shared::workload::AuthFlow;
use lifeguard_tests::{TestApp, spawn_app_with};
use serde_json::json;

/// A short suite: one closed scenario, a quick leak check, no recovery burst.
fn tiny_suite() -> Suite {
    Suite {
        name: "tiny".into(),
        ..lifeguard_tests::history_seed::quick_suite()
    }
}

fn workload() -> AuthFlow {
    AuthFlow {
        users: 200,
        ..AuthFlow::default()
    }
}

fn schedule(name: &str, cron: &str, baseline: Option<&str>) -> ScheduleConfig {
    ScheduleConfig {
        name: name.into(),
        cron: cron.into(),
        target: "sandbox".into(),
        suite: "tiny".into(),
        profile: "recommended-dev".into(),
        labels: RunLabels {
            environment: "staging".into(),
            ..RunLabels::default()
        },
        workload: workload(),
        baseline: baseline.map(str::to_owned),
    }
}

async fn schedules(app: &TestApp) -> Vec<ScheduleStatus> {
    app.get_json("/api/schedules").await.unwrap()
}

async fn scheduled_runs(app: &TestApp) -> RunPage {
    app.get_json("/api/runs?environment=staging&limit=100")
        .await
        .unwrap()
}

#[tokio::test]
async fn a_schedule_fires_and_its_run_is_compared_with_the_baseline() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    // A first console makes the known-good run and points the baseline at it.
    let first = spawn_app_with(|config: &mut Config| {
        config.suites = vec![tiny_suite()];
        config.data_dir.clone_from(&dir);
    })
    .await
    .unwrap();
    let (status, created) = first
        .post(
            "/api/runs",
            &json!({
                "target": "sandbox", "suite": "tiny", "profile": "recommended-dev",
                "labels": { "environment": "staging" }, "workload": { "users": 200 },
            }),
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{created}");
    let base = created["id"].as_str().unwrap().to_owned();
    let events = first
        .follow(&base, None, Duration::from_mins(1))
        .await
        .unwrap();
    assert_eq!(events.last().unwrap().2["state"], "passed");
    let (status, body) = first
        .put("/api/baselines/nightly-base", &json!({ "run_id": base }))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    first.stop().await.unwrap();

    // The console that schedules: every 2 seconds; a queue of one, so firings while a run waits
    // are skipped, not piled up.
    let app = spawn_app_with(|config: &mut Config| {
        config.suites = vec![tiny_suite()];
        config.data_dir.clone_from(&dir);
        config.guard_rails.max_queued_runs = 1;
        config.schedules = vec![schedule("nightly", "*/2 * * * * *", Some("nightly-base"))];
    })
    .await
    .unwrap();
    let started = now_ms();
    let deadline = tokio::time::Instant::now() + Duration::from_mins(2);
    let judged = loop {
        let all = schedules(&app).await;
        assert_eq!(all.len(), 1);
        let nightly = &all[0];
        assert_eq!(nightly.cron, "*/2 * * * * *");
        assert_eq!(nightly.baseline.as_deref(), Some("nightly-base"));
        assert!(nightly.next_fire_at.unwrap() > started);
        if let Some(judged) = nightly
            .firings
            .iter()
            .find(|f| f.verdict.is_some())
            .cloned()
        {
            break judged;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no judged firing: {nightly:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        judged.due_at >= started - 2000 && judged.due_at % 2000 == 0,
        "{judged:?}"
    );
    let run_id = judged.run_id.clone().unwrap();
    let runs = scheduled_runs(&app).await;
    let run = runs.runs.iter().find(|r| r.id == run_id).unwrap();
    assert_eq!(run.labels.notes, "scheduled: nightly");
    assert_eq!(run.suite, "tiny");
    // The verdict is the comparison's, as `GET /api/compare` gives it.
    let comparison: serde_json::Value = app
        .get_json(&format!("/api/compare?baseline=nightly-base&head={run_id}"))
        .await
        .unwrap();
    assert_eq!(
        comparison["verdict"].as_str(),
        judged.verdict.map(lifeguard_shared::compare::Verdict::name)
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn firings_missed_while_down_run_once_at_start() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    // Fires at the minutes of the last eleven, so the next regular firing is ~49 minutes away.
    let now_minute = now_ms() / 60_000;
    let minutes: Vec<String> = (1..=11)
        .rev()
        .map(|back| ((now_minute - back) % 60).to_string())
        .collect();
    let cron = format!("{} * * * *", minutes.join(","));
    // The store remembers a firing eleven minutes ago: ten were missed since.
    let store = Store::open(&format!("sqlite://{}", dir.join("lifeguard.db").display()))
        .await
        .unwrap();
    let last_due = (now_minute - 11) * 60_000;
    assert!(
        store
            .claim_firing("weekly", last_due, last_due, None)
            .await
            .unwrap()
    );
    store.close().await;

    let app = spawn_app_with(|config: &mut Config| {
        config.suites = vec![tiny_suite()];
        config.data_dir.clone_from(&dir);
        config.schedules = vec![
            schedule("weekly", &cron, None),
            // Never fired: no catch-up however much was due.
            schedule("fresh", &cron, None),
        ];
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_mins(2);
    let weekly = loop {
        let all = schedules(&app).await;
        let weekly = all.iter().find(|s| s.name == "weekly").unwrap().clone();
        let caught_up = weekly.firings.first().is_some_and(|f| {
            f.run_id.is_some() && f.note.as_deref() == Some("no baseline to compare with")
        });
        if caught_up {
            break weekly;
        }
        assert!(tokio::time::Instant::now() < deadline, "{weekly:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(weekly.firings.len(), 2, "one catch-up, not ten: {weekly:?}");
    assert_eq!(
        weekly.firings[0].due_at,
        (now_minute - 1) * 60_000,
        "the latest missed time"
    );
    let fresh = schedules(&app)
        .await
        .into_iter()
        .find(|s| s.name == "fresh")
        .unwrap();
    assert!(fresh.firings.is_empty(), "{fresh:?}");
    let runs = scheduled_runs(&app).await;
    assert_eq!(runs.total, 1, "exactly one run at start: {runs:?}");
    assert_eq!(runs.runs[0].labels.notes, "scheduled: weekly");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_invalid_cron_is_refused_at_start_naming_the_key() {
    let error = spawn_app_with(|config: &mut Config| {
        config.sandbox.enabled = false;
        config.schedules = vec![schedule("broken", "every monday", None)];
        config.schedules[0].suite = "auth-burst".into();
    })
    .await
    .unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("`schedules[0].cron`"), "{message}");
    assert!(message.contains("5 fields"), "{message}");
}

#[tokio::test]
async fn firings_are_kept_the_same_way_in_a_postgres_store() {
    use lifeguard::sandbox::{Sandbox, SandboxOptions};
    use lifeguard_shared::compare::Verdict;
    let server = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let store = Store::open(&server.url()).await.unwrap();
    assert_eq!(store.last_due("pg").await.unwrap(), None);
    assert!(
        store
            .claim_firing("pg", 2000, 2100, Some("catch-up"))
            .await
            .unwrap()
    );
    assert!(
        !store.claim_firing("pg", 2000, 2200, None).await.unwrap(),
        "a firing is claimed once"
    );
    store.set_firing_run("pg", 2000, "run-1").await.unwrap();
    store
        .set_firing_outcome("pg", 2000, Some(Verdict::Regressed), None)
        .await
        .unwrap();
    assert!(store.claim_firing("pg", 4000, 4000, None).await.unwrap());
    store
        .set_firing_outcome("pg", 4000, None, Some("skipped"))
        .await
        .unwrap();
    assert_eq!(store.last_due("pg").await.unwrap(), Some(4000));
    let firings = store.firings("pg", 10).await.unwrap();
    assert_eq!(firings.len(), 2);
    assert_eq!(firings[0].note.as_deref(), Some("skipped"));
    assert_eq!(firings[1].run_id.as_deref(), Some("run-1"));
    assert_eq!(firings[1].verdict, Some(Verdict::Regressed));
    assert_eq!(
        firings[1].note.as_deref(),
        Some("catch-up"),
        "kept when no new note"
    );
    store.close().await;
    server.stop().await;
}
