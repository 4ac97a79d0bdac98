//! A monitor inside the console against a PostgreSQL server the test starts, with a real webhook
//! receiver: sessions left idle in a transaction and a connection storm fire their alerts at the
//! right level, releasing them resolves the alerts, the receiver gets each notification once (the
//! first after a 500 and a retry), and a console restarted mid-alert resumes without a duplicate.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifeguard::config::{
    Config, MonitorConfig, Secret, SecretUrl, TargetConfig, WebhookConfig, WebhookFormat,
};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard_shared::compare::Verdict;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::monitor::{
    Alert, AlertRule, AlertSettings, Deployment, DeploymentComparison, MonitorStatus,
};
use lifeguard_shared::report::Level;
use lifeguard_tests::{TestApp, spawn_app_with};
use serde_json::Value;

/// A webhook receiver on a free port that answers its first request 500 and every other 200,
/// keeping what it was sent.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Value>>>,
    requests: Arc<Mutex<u32>>,
}

impl Receiver {
    async fn start(&self) -> String {
        let this = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let this = this.clone();
                async move {
                    let first = {
                        let mut requests = this.requests.lock().unwrap();
                        *requests += 1;
                        *requests == 1
                    };
                    if first {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    this.got.lock().unwrap().push(body);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn got(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }
}

fn rule(metric: Metric, warning: f64, critical: f64) -> AlertRule {
    AlertRule {
        metric,
        warning,
        critical,
    }
}

/// A console whose store is in `data` and which watches `server` every second.
async fn console(data: &std::path::Path, server: &Sandbox, hook: &str) -> TestApp {
    let (data, url, hook) = (data.to_path_buf(), server.url(), hook.to_owned());
    spawn_app_with(move |config: &mut Config| {
        config.sandbox.enabled = false;
        config.data_dir = data;
        config.targets = vec![TargetConfig::postgres("watched", SecretUrl::new(url))];
        config.monitoring.webhooks = vec![WebhookConfig {
            name: "ops".into(),
            url: Secret::new(hook),
            format: WebhookFormat::Json,
            timeout_s: 2.0,
            retries: 3,
        }];
        config.monitors = vec![MonitorConfig {
            target: "watched".into(),
            interval_s: 1.0,
            alerts: AlertSettings {
                fire_after: 2,
                resolve_after: 2,
                rules: vec![
                    rule(Metric::IdleInTransactionAgeS, 2.0, 6.0),
                    rule(Metric::ChurnPerS, 5.0, 15.0),
                ],
            },
            notify: None,
        }];
    })
    .await
    .unwrap()
}

/// A server, a webhook receiver, and a console watching the server whose store is in the
/// returned directory (kept for as long as the test holds it).
async fn watched_server() -> (Sandbox, Receiver, tempfile::TempDir, TestApp) {
    let server = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let receiver = Receiver::default();
    let hook = receiver.start().await;
    let data = tempfile::tempdir().unwrap();
    let app = console(data.path(), &server, &hook).await;
    (server, receiver, data, app)
}

/// Waits (up to 30 s) until the alerts of `watched` satisfy `done`.
async fn alerts_until(app: &TestApp, what: &str, done: impl Fn(&[Alert]) -> bool) -> Vec<Alert> {
    let started = Instant::now();
    loop {
        let alerts: Vec<Alert> = app.get_json("/api/alerts?target=watched").await.unwrap();
        if done(&alerts) {
            return alerts;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: {alerts:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn standing(alerts: &[Alert], metric: Metric, level: Level) -> bool {
    alerts
        .iter()
        .any(|a| a.metric == metric && a.level == level && a.resolved_at_ms.is_none())
}

async fn session(server: &Sandbox) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// The deployment marked `version` now; its id.
async fn mark(app: &TestApp, version: &str) -> String {
    let (status, deployment) = app
        .post(
            "/api/deployments",
            &serde_json::json!({ "target": "watched", "version": version }),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{deployment}");
    deployment["id"].as_str().unwrap().to_owned()
}

/// Deployment `id` compared over 8 s either side.
async fn compared(app: &TestApp, id: &str) -> DeploymentComparison {
    app.get_json(&format!("/api/deployments/{id}/comparison?window_s=8"))
        .await
        .unwrap()
}

/// A deployment after which three sessions stay idle in a transaction compares as `regressed` on
/// that metric, by the traffic alone; a deployment between two quiet windows does not.
#[tokio::test]
async fn a_deployment_is_judged_by_its_traffic_before_and_after() {
    let (server, _receiver, _data, app) = watched_server().await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let leaky = mark(&app, "v2").await;
    let mut stuck = Vec::new();
    for _ in 0..3 {
        let client = session(&server).await;
        client.batch_execute("BEGIN; SELECT 1").await.unwrap();
        stuck.push(client);
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    let comparison = compared(&app, &leaky).await;
    assert!(
        comparison.before.samples >= 6 && comparison.after.samples >= 6,
        "{comparison:#?}"
    );
    let idle = comparison
        .metrics
        .iter()
        .find(|m| m.metric == Metric::IdleInTransaction)
        .unwrap();
    assert_eq!(idle.verdict, Verdict::Regressed, "{idle:#?}");
    assert_eq!(
        (idle.base, idle.head.map(f64::round)),
        (Some(0.0), Some(3.0))
    );
    assert_eq!(comparison.verdict, Verdict::Regressed);
    for client in &stuck {
        client.batch_execute("ROLLBACK").await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(9)).await;
    let quiet = mark(&app, "v3").await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let comparison = compared(&app, &quiet).await;
    assert!(
        comparison
            .metrics
            .iter()
            .all(|m| m.verdict != Verdict::Regressed),
        "{comparison:#?}"
    );
    let listed: Vec<Deployment> = app
        .get_json("/api/deployments?target=watched")
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|d| d.version.as_str())
            .collect::<Vec<_>>(),
        ["v3", "v2"]
    );
    app.stop().await.unwrap();
    server.stop().await;
}

/// One Server-Sent Event: its kind, id and data.
#[derive(Debug)]
struct Sent {
    kind: String,
    id: Option<u64>,
    data: String,
}

/// Opens `/api/monitors/watched/live` (after `last` when given) and reads events until `enough`
/// says so (10 s at most).
async fn follow(app: &TestApp, last: Option<u64>, enough: impl Fn(&[Sent]) -> bool) -> Vec<Sent> {
    let mut request = app.client().get(app.url("/api/monitors/watched/live"));
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last.to_string());
    }
    let mut answer = request.send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let (mut text, mut events) = (String::new(), Vec::new());
    let started = Instant::now();
    while !enough(&events) {
        assert!(started.elapsed() < Duration::from_secs(10), "{events:#?}");
        let chunk = tokio::time::timeout(Duration::from_secs(5), answer.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(str::to_owned)
            };
            if let Some(kind) = field("event: ") {
                events.push(Sent {
                    kind,
                    id: field("id: ").and_then(|id| id.parse().ok()),
                    data: field("data: ").unwrap_or_default(),
                });
            }
        }
    }
    events
}

fn samples_in(events: &[Sent]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.kind == "sample")
        .map(|e| e.id.unwrap())
        .collect()
}

/// `GET /api/monitors/{target}/live` over real HTTP: samples as they are taken, each with its
/// time as id; a reader reconnecting with `Last-Event-ID` first gets every stored sample it
/// missed, in order and once, and the standing alert; one whose last sample is too old is told
/// to reload; an unknown monitor is a 404; a reader still following when the console stops does
/// not hold it up.
#[tokio::test]
async fn the_live_stream_brings_each_sample_and_what_a_reconnecting_reader_missed() {
    let (server, _receiver, _data, app) = watched_server().await;
    let (status, _) = app.get("/api/monitors/nowhere/live").await.unwrap();
    assert_eq!(status, 404);
    let first = follow(&app, None, |e| samples_in(e).len() >= 2).await;
    let sample: lifeguard_shared::monitor::MonitorSample =
        serde_json::from_str(&first[0].data).unwrap();
    assert!(sample.max_connections > 0, "{sample:?}");
    assert_eq!(first[0].id, Some(sample.at_ms));

    // Away for three samples, with a session idle in transaction that raises an alert meanwhile.
    let last = samples_in(&first)[1];
    let stuck = session(&server).await;
    stuck.batch_execute("BEGIN; SELECT 1").await.unwrap();
    alerts_until(&app, "idle in transaction at warning", |a| {
        standing(a, Metric::IdleInTransactionAgeS, Level::Warning)
    })
    .await;
    let stored: Vec<u64> = app
        .get_json::<Value>(&format!(
            "/api/monitors/watched/samples?from_ms={}&to_ms={}",
            last + 1,
            last + 3_600_000
        ))
        .await
        .unwrap()["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["at_ms"].as_u64().unwrap())
        .collect();
    assert!(stored.len() >= 3, "{stored:?}");
    let again = follow(&app, Some(last), |e| samples_in(e).len() > stored.len() + 1).await;
    let ids = samples_in(&again);
    assert_eq!(
        ids[..stored.len()],
        stored[..],
        "the missed ones first, in order"
    );
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "once each: {ids:?}");
    assert_eq!(
        again[0].kind, "alert",
        "the standing alert first: {again:#?}"
    );
    let alert: Alert = serde_json::from_str(&again[0].data).unwrap();
    assert_eq!(alert.metric, Metric::IdleInTransactionAgeS);

    let stale = follow(&app, Some(last - 3_600_000), |e| !e.is_empty()).await;
    assert_eq!(stale[0].kind, "lagged", "{stale:#?}");

    // A reader still following does not keep the console from stopping: its stream ends.
    let reader = app
        .client()
        .get(app.url("/api/monitors/watched/live"))
        .send()
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("the console stops with a live reader")
        .unwrap();
    drop(reader);
    drop(stuck);
    server.stop().await;
}

#[tokio::test]
async fn alerts_fire_at_their_level_resolve_and_reach_a_webhook_once_across_a_restart() {
    let server = Sandbox::start(&SandboxOptions {
        max_connections: 120,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let receiver = Receiver::default();
    let hook = receiver.start().await;
    let data = tempfile::tempdir().unwrap();
    let app = console(data.path(), &server, &hook).await;

    // Two sessions left idle in a transaction: warning past 2 s, critical past 6 s.
    let mut stuck = Vec::new();
    for _ in 0..2 {
        let client = session(&server).await;
        client.batch_execute("BEGIN; SELECT 1").await.unwrap();
        stuck.push(client);
    }
    alerts_until(&app, "idle in transaction at warning", |a| {
        standing(a, Metric::IdleInTransactionAgeS, Level::Warning)
    })
    .await;
    let status: Vec<MonitorStatus> = app.get_json("/api/monitors").await.unwrap();
    assert_eq!(status[0].level, Level::Warning, "{status:#?}");
    assert_eq!(
        status[0].last_sample.as_ref().unwrap().idle_in_transaction,
        2
    );

    // Restarted while the alert stands: it resumes, and goes on to critical, once.
    app.stop().await.unwrap();
    let app = console(data.path(), &server, &hook).await;
    alerts_until(&app, "idle in transaction at critical", |a| {
        standing(a, Metric::IdleInTransactionAgeS, Level::Critical)
    })
    .await;

    // A storm: 20 new connections a second for 3.5 s, kept open.
    let mut storm = Vec::new();
    let storming = Instant::now();
    while storming.elapsed() < Duration::from_millis(3500) {
        storm.push(session(&server).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    alerts_until(&app, "churn at critical", |a| {
        standing(a, Metric::ChurnPerS, Level::Critical)
    })
    .await;

    // Released: every alert resolves.
    for client in &stuck {
        client.batch_execute("ROLLBACK").await.unwrap();
    }
    drop(storm);
    let alerts = alerts_until(&app, "everything resolved", |a| {
        a.len() == 2 && a.iter().all(|a| a.resolved_at_ms.is_some())
    })
    .await;
    let idle = alerts
        .iter()
        .find(|a| a.metric == Metric::IdleInTransactionAgeS)
        .unwrap();
    assert_eq!(idle.level, Level::Critical, "the highest level it reached");

    each_notified_once_in_order(&receiver).await;
    app.stop().await.unwrap();
    server.stop().await;
}

/// Each notification once, in order per alert; the first arrived on its second attempt.
async fn each_notified_once_in_order(receiver: &Receiver) {
    let started = Instant::now();
    while receiver.got().len() < 5 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = receiver.got();
    let said: Vec<(String, String, String)> = got
        .iter()
        .map(|n| {
            (
                n["alert"]["metric"].as_str().unwrap().to_owned(),
                n["happened"].as_str().unwrap().to_owned(),
                n["alert"]["level"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let of = |metric: &str| -> Vec<(String, String)> {
        said.iter()
            .filter(|(m, _, _)| m == metric)
            .map(|(_, happened, level)| (happened.clone(), level.clone()))
            .collect()
    };
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        of("idle_in_transaction_age_s"),
        vec![
            pair("fired", "warning"),
            pair("changed", "critical"),
            pair("resolved", "critical")
        ],
        "{got:#?}"
    );
    assert_eq!(
        of("churn_per_s"),
        vec![pair("fired", "critical"), pair("resolved", "critical")],
        "{got:#?}"
    );
    assert_eq!(*receiver.requests.lock().unwrap(), 6, "five, and one retry");
    assert!(
        got[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("warning on `watched`: oldest idle in transaction at"),
        "{got:#?}"
    );
}

/// The console's views of a monitor, in Chromium: `/monitors` with the target's level, the
/// monitor's charts (samples, the rule's levels, the alert span, the deployment line), its alerts
/// and deployments, and the deployment's before/after — on a desktop and a phone.
#[tokio::test]
async fn the_monitor_views_show_its_level_charts_alerts_and_deployments() {
    use lifeguard_tests::browser::Browser;
    let (server, _receiver, _data, app) = watched_server().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let deployment = mark(&app, "v7").await;
    let mut stuck = Vec::new();
    for _ in 0..2 {
        let client = session(&server).await;
        client.batch_execute("BEGIN; SELECT 1").await.unwrap();
        stuck.push(client);
    }
    alerts_until(&app, "idle in transaction at warning", |a| {
        standing(a, Metric::IdleInTransactionAgeS, Level::Warning)
    })
    .await;

    let browser = Browser::start().await.unwrap();
    browser.client.goto(&app.url("/monitors")).await.unwrap();
    // Warning past 2 s, critical past 6 s: by the time the page is open the alert may have
    // gone on to critical, so either level (never `ok`) is what the list must show.
    browser
        .wait_for(
            "#monitors tr[data-target=watched] :is([data-level=warning], [data-level=critical])",
        )
        .await
        .unwrap();
    browser.screenshot("monitors").await.unwrap();
    monitor_view_draws_and_follows(&browser, &app, &deployment).await;
    assert_eq!(
        browser.accessibility_violations().await.unwrap(),
        Vec::<String>::new()
    );

    browser
        .client
        .goto(&app.url(&format!("/deployments/{deployment}?window_s=60")))
        .await
        .unwrap();
    browser
        .wait_for("#deployment-metrics tr[data-metric=idle_in_transaction] [data-verdict]")
        .await
        .unwrap();
    browser.screenshot("deployment").await.unwrap();

    browser.client.set_window_size(390, 844).await.unwrap();
    browser
        .client
        .goto(&app.url("/monitors/watched?range=15m"))
        .await
        .unwrap();
    browser
        .chart_options("idle_in_transaction_age_s")
        .await
        .unwrap();
    let (page, window) = browser.widths().await.unwrap();
    assert!(page <= window, "the page is {page} px wide in {window} px");
    browser.screenshot("monitor-phone").await.unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );
    browser.close().await.unwrap();
    app.stop().await.unwrap();
    server.stop().await;
}

/// `/monitors/watched`: the chart's samples, levels, alert span and deployment line; samples
/// arriving live; the alerts and deployments tables; the range in the address.
async fn monitor_view_draws_and_follows(
    browser: &lifeguard_tests::browser::Browser,
    app: &TestApp,
    deployment: &str,
) {
    use lifeguard_tests::browser::series;
    browser
        .client
        .goto(&app.url("/monitors/watched?range=15m"))
        .await
        .unwrap();
    let options = browser
        .chart_options("idle_in_transaction_age_s")
        .await
        .unwrap();
    let line = series(&options, "oldest idle in transaction");
    assert!(line["data"].as_array().unwrap().len() >= 4, "{line}");
    // The rule's levels as bands: warning from 2 to 6 s, critical from 6 s up.
    let band = |name: &str| series(&options, name)["markArea"]["data"][0].clone();
    let (warning, critical) = (band("warning"), band("critical"));
    assert_eq!(warning[0]["name"], "warning 2.00 s", "{warning}");
    assert_eq!(
        (&warning[0]["yAxis"], &warning[1]["yAxis"]),
        (&"2".into(), &"6".into())
    );
    assert_eq!(critical[0]["name"], "critical 6.00 s", "{critical}");
    assert_eq!(
        line["markArea"]["data"].as_array().unwrap().len(),
        1,
        "{line}"
    );
    let deployed = series(&options, "deployment");
    assert_eq!(deployed["markLine"]["data"][0]["name"], "v7");
    // Followed live: samples arrive over the stream, without a reload.
    browser
        .wait_for_text("#monitor-live", "live")
        .await
        .unwrap();
    let drawn = |options: &Value| {
        series(options, "oldest idle in transaction")["data"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = drawn(&options);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = browser
        .chart_options("idle_in_transaction_age_s")
        .await
        .unwrap();
    assert!(drawn(&later) >= before + 2, "{before} → {}", drawn(&later));
    browser
        .wait_for(&format!(
            "#deployments tr[data-deployment='{deployment}'] a"
        ))
        .await
        .unwrap();
    browser
        .wait_for("#alerts tr[data-alert] [data-level]")
        .await
        .unwrap();
    browser.screenshot("monitor").await.unwrap();
    browser
        .scroll_to("[data-chart=idle_in_transaction_age_s]")
        .await
        .unwrap();
    browser.screenshot("monitor-levels").await.unwrap();
    // The range is part of the address, and the picker says which is shown.
    browser
        .wait_for("#range-picker a[data-range='1h']")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait_for("#range-picker a[aria-current=true][data-range='1h']")
        .await
        .unwrap();
    let address = browser.client.current_url().await.unwrap();
    assert_eq!(address.query(), Some("range=1h"), "{address}");
    // A click on the deployment's line opens its before/after comparison.
    let at = deployed["markLine"]["data"][0]["xAxis"].as_f64().unwrap();
    browser
        .click_chart_at("idle_in_transaction_age_s", at)
        .await
        .unwrap();
    browser.wait_for("#deployment-metrics").await.unwrap();
    let address = browser.client.current_url().await.unwrap();
    assert_eq!(address.path(), format!("/deployments/{deployment}"));
}
