//! A real service as the target: the demo auth service (`examples/auth-service`, FastAPI and
//! SQLAlchemy with the incident's defects as switches) on a sandbox, loaded through its HTTP
//! endpoints, its pool read from its metrics and its database watched from the server side.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::path::PathBuf;
use std::time::Duration;

use lifeguard::config::{Config, TargetConfig};
use lifeguard::sandbox::demo::{DemoService, installed_in};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard_shared::report::RunReport;
use lifeguard_shared::run::{RunDetail, TargetInfo};
use lifeguard_shared::suite::{Criteria, LeakCheck, Load, RecoveryPhase, Scenario, Suite};
use lifeguard_tests::{Browser, TestApp, spawn_app_with};
use serde_json::{Value, json};

/// The demo service on a sandbox of its own, and a console whose only target is the service.
struct Demo {
    app: TestApp,
    service: DemoService,
    sandbox: Sandbox,
    _dir: tempfile::TempDir,
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts the demo with `env` (its switches) and a console loading it as target `demo`.
async fn demo(env: &[(&str, &str)], configure: impl FnOnce(&mut Config)) -> Demo {
    demo_with(env, |_| {}, configure).await
}

/// [`demo`], with the target as `change` leaves it.
async fn demo_with(
    env: &[(&str, &str)],
    change: impl FnOnce(&mut TargetConfig),
    configure: impl FnOnce(&mut Config),
) -> Demo {
    let installed = installed_in(&repository())
        .expect("the demo's virtual environment: run scripts/setup.sh --for test");
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let service = DemoService::start(&installed, &sandbox.url(), env)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut target = service
        .target("demo", &dir.path().join("users.csv"))
        .unwrap();
    change(&mut target);
    let app = spawn_app_with(move |config| {
        config.sandbox.enabled = false;
        config.targets.push(target);
        configure(config);
    })
    .await
    .unwrap();
    Demo {
        app,
        service,
        sandbox,
        _dir: dir,
    }
}

impl Demo {
    async fn stop(self) {
        self.app.stop().await.unwrap();
        drop(self.service);
        self.sandbox.stop().await;
    }
}

/// Runs `suite` with `profile` on the demo; the finished run.
async fn run(app: &TestApp, suite: &str, profile: &str) -> (String, RunDetail) {
    let (status, created) = app
        .post(
            "/api/runs",
            &json!({ "target": "demo", "suite": suite, "profile": profile }),
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    app.follow(&id, None, Duration::from_mins(3)).await.unwrap();
    let detail: RunDetail = app.get_json(&format!("/api/runs/{id}")).await.unwrap();
    (id, detail)
}

fn report(detail: &RunDetail) -> &RunReport {
    detail
        .report
        .as_ref()
        .unwrap_or_else(|| panic!("no report: {detail:?}"))
}

/// auth-burst's four scenarios with a short leak check: the analysis's load, through the service.
/// Its latency rules are twice the analysis's: the service answers on one Python event loop, on
/// a two-core machine that also runs its server and lifeguard, and opens its overflow connections
/// during the peak, so its peak mean sits near the analysis's 200 ms (200.4 ms in one CI run).
/// These tests are about what lifeguard reads from the service — its pool, its server, its
/// leaks and timeouts — not about how fast this machine runs Python.
fn burst(name: &str) -> Suite {
    Suite {
        name: name.into(),
        criteria: Criteria {
            mean_latency_ms: 400.0,
            p95_latency_ms: 1000.0,
            ..Criteria::default()
        },
        // A pool that never recovers fails after 15 s instead of a minute.
        recovery: Some(RecoveryPhase {
            max_wait_s: 15.0,
            ..RecoveryPhase::default()
        }),
        leak_check: Some(LeakCheck { grace_s: 3.0 }),
        ..Suite::auth_burst()
    }
}

#[tokio::test]
async fn the_healthy_service_passes_auth_burst_with_its_pool_read_from_its_metrics() {
    let demo = demo(&[], |config| config.suites.push(burst("burst"))).await;
    let (id, detail) = run(&demo.app, "burst", "current").await;
    let report = report(&detail);
    assert_eq!(report.state.as_str(), "passed", "{report:#?}");
    assert_eq!(report.sources.pool, "service metrics (opentelemetry)");
    assert_eq!(report.sources.server, "service database");
    for gauge in [
        "checked out",
        "idle",
        "waiting",
        "capacity",
        "timeouts",
        "acquire wait",
    ] {
        assert!(
            report.sources.pool_gauges.iter().any(|g| g == gauge),
            "{:?}",
            report.sources
        );
    }
    let peak = report
        .scenarios
        .iter()
        .map(|s| s.pool.peak_checked_out)
        .max();
    assert!(peak.unwrap() > 0, "the scraped pool was in use");
    assert_eq!(
        report.server.max_connections, 200,
        "read on the service's database"
    );
    let leaks = report.leaks.as_ref().unwrap();
    assert!(leaks.passed, "{leaks:?}");
    // The probe measures PostgreSQL servers: asked for the service, it says so, as invalid input.
    let (status, body) = demo.app.get("/api/probe?target=demo").await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("target `demo` is an HTTP service; the probe measures PostgreSQL servers"),
        "{body}"
    );
    shown_in_the_console(&demo.app, &id).await;
    demo.stop().await;
}

/// The console says what it reads of the service (targets page) and where run `id`'s gauges
/// came from (run page); screenshots of both.
async fn shown_in_the_console(app: &TestApp, id: &str) {
    let targets: Vec<TargetInfo> = app.get_json("/api/targets").await.unwrap();
    let provides = targets[0].provides.join("; ");
    assert!(
        provides.starts_with("its pool from its metrics (opentelemetry): checked out, idle,"),
        "{provides}"
    );
    let browser = Browser::start().await.unwrap();
    browser.client.goto(&app.url("/targets")).await.unwrap();
    browser
        .wait_for_text("[data-target=demo] [data-provides]", &provides)
        .await
        .unwrap();
    browser.screenshot("targets-service").await.unwrap();
    let sources = browser
        .open_and_read(&app.url(&format!("/runs/{id}")), "[data-fact=sources]")
        .await
        .unwrap();
    assert!(
        sources.starts_with("Pool gauges from service metrics (opentelemetry): checked out,")
            && sources.ends_with("; server backends from service database."),
        "{sources}"
    );
    browser.wait_for(".chart canvas").await.unwrap();
    browser.screenshot("run-service").await.unwrap();
    let pool = browser.chart_series("pool").await.unwrap();
    assert!(pool.iter().any(|s| s == "checked out"), "{pool:?}");
    browser.scroll_to("[data-chart=pool]").await.unwrap();
    browser.screenshot("run-service-pool").await.unwrap();
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.scroll_to("[data-chart=pool]").await.unwrap();
    browser.screenshot("run-service-pool-narrow").await.unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );
    browser.close().await.unwrap();
}

#[tokio::test]
async fn a_leaking_error_path_is_flagged_from_both_sides() {
    let demo = demo(
        &[
            ("LEAK_ON_ERROR", "1"),
            ("ERROR_RATE", "0.05"),
            ("POOL_TIMEOUT", "2"),
        ],
        |config| config.suites.push(burst("burst")),
    )
    .await;
    let (_, detail) = run(&demo.app, "burst", "current").await;
    let report = report(&detail);
    let leaks = report.leaks.as_ref().unwrap();
    assert!(!leaks.passed, "{leaks:?}");
    assert!(
        leaks.checked_out_after > 0,
        "the service's pool says so: {leaks:?}"
    );
    assert!(
        leaks.idle_in_transaction > 0,
        "the server says so: {leaks:?}"
    );
    assert!(report.failed_criteria().iter().any(|c| c == "leaks"));
    demo.stop().await;
}

/// Server-side backends started during the run's scenarios.
fn new_backends(app_series: &Value) -> u64 {
    app_series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["server_new_backends"].as_u64().unwrap_or(0))
        .sum()
}

/// Runs `suite` on a demo started with `env`; the report and its per-second series.
async fn run_with_series(env: &[(&str, &str)], suite: Suite) -> (RunReport, Value) {
    let demo = demo(env, |c| c.suites.push(suite)).await;
    let (id, detail) = run(&demo.app, "burst", "current").await;
    let report = report(&detail).clone();
    let (status, series) = demo
        .app
        .get(&format!("/api/runs/{id}/series"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{series}");
    demo.stop().await;
    (report, serde_json::from_str(&series).unwrap())
}

#[tokio::test]
async fn the_sync_fallback_shows_the_sync_pool_and_more_backends_and_churn() {
    let suite = || burst("burst");
    // The async pool without overflow (nothing closed on return) and 20 ms holds: the peak and
    // the burst fill its 30 connections in both runs, so what differs is the sync pool's.
    let service = [
        ("ERROR_RATE", "0.3"),
        ("POOL_SIZE", "30"),
        ("MAX_OVERFLOW", "0"),
        ("HOLD_MS", "20"),
    ];
    let (base, base_series) = run_with_series(&service, suite()).await;
    let (head, head_series) =
        run_with_series(&[&service[..], &[("SYNC_FALLBACK", "1")]].concat(), suite()).await;
    let sync = |r: &RunReport| -> u64 {
        r.scenarios
            .iter()
            .map(|s| s.pool.secondary_connections_created)
            .sum()
    };
    let created = |r: &RunReport| -> u64 {
        r.scenarios
            .iter()
            .map(|s| s.pool.connections_created + s.pool.secondary_connections_created)
            .sum()
    };
    let errors = |r: &RunReport| -> u64 { r.scenarios.iter().map(|s| s.outcomes.http_5xx).sum() };
    eprintln!(
        "without / with the fallback: sync pool opened {} / {}, pools opened {} / {}, peak \
         backends {} / {}, new backends {} / {}, 5xx {} / {}",
        sync(&base),
        sync(&head),
        created(&base),
        created(&head),
        base.server.peak_run_backends,
        head.server.peak_run_backends,
        new_backends(&base_series),
        new_backends(&head_series),
        errors(&base),
        errors(&head)
    );
    assert_eq!(sync(&base), 0);
    assert!(
        sync(&head) > 0,
        "the sync pool opened connections: {head:#?}"
    );
    assert!(
        created(&head) > created(&base),
        "connections the service's pools opened: {} vs {}",
        created(&head),
        created(&base)
    );
    assert!(
        head.server.peak_run_backends > base.server.peak_run_backends,
        "{} vs {} backends",
        head.server.peak_run_backends,
        base.server.peak_run_backends
    );
    // Server-side churn is read once a second from `pg_stat_activity`: a backend that comes and
    // goes between two looks is never seen, so two runs' counts do not order reliably (CI of
    // 310dd87: 23 new backends seen with the fallback against 29 without, while its pools opened
    // 39 against 29). The fallback run's churn shows; the comparison is the pools' own count.
    assert!(
        new_backends(&head_series) > 0,
        "server-side churn {} vs {}",
        new_backends(&head_series),
        new_backends(&base_series)
    );
    assert!(
        errors(&head) < errors(&base),
        "the fallback answered: {} vs {}",
        errors(&head),
        errors(&base)
    );
}

#[tokio::test]
async fn an_undersized_pool_with_long_holds_fails_its_criteria() {
    let demo = demo(
        &[
            ("POOL_SIZE", "2"),
            ("MAX_OVERFLOW", "1"),
            ("POOL_TIMEOUT", "1"),
            ("HOLD_MS", "200"),
        ],
        |config| config.suites.push(burst("burst")),
    )
    .await;
    let (_, detail) = run(&demo.app, "burst", "current").await;
    let report = report(&detail);
    assert_eq!(report.state.as_str(), "failed", "{report:#?}");
    let peak = &report.scenarios[3];
    assert!(peak.outcomes.http_5xx > 0, "{:?}", peak.outcomes);
    assert!(
        peak.pool.timeouts > 0,
        "the service counted its timeouts: {:?}",
        peak.pool
    );
    assert!(peak.pool.peak_waiters > 0, "{:?}", peak.pool);
    // The service's pool as its metrics say it (2 + 1), not the `current` profile's 10 + 20.
    let primary = &report.pool_profile.primary;
    assert_eq!((primary.pool_size, primary.max_overflow), (2, 1));
    assert!(
        (peak.pool.peak_utilization - 1.0).abs() < 1e-9,
        "3 of 3 checked out: {:?}",
        peak.pool
    );
    assert!(
        report
            .failed_criteria()
            .iter()
            .any(|c| c.ends_with("success_rate")),
        "{:?}",
        report.failed_criteria()
    );
    demo.stop().await;
}

#[tokio::test]
async fn a_wrong_token_pointer_is_a_clear_error_before_any_load() {
    let wrong_pointer = |target: &mut TargetConfig| {
        if let Some(login) = target.login.as_mut() {
            login.token_pointer = Some("/token".into());
        }
    };
    let demo = demo_with(&[], wrong_pointer, |_| {}).await;
    let (_, detail) = run(&demo.app, "auth-burst", "current").await;
    assert_eq!(detail.summary.state.as_str(), "aborted");
    assert!(detail.report.is_none(), "no load ran");
    let error = detail.summary.error.unwrap();
    assert!(
        error.contains("failed the check before the load")
            && error.contains("no token at `/token`"),
        "{error}"
    );
    demo.stop().await;
}

/// A long scenario: the service killed, or its metrics gone, while it runs.
fn steady(seconds: f64) -> Suite {
    Suite {
        name: "steady".into(),
        scenarios: vec![Scenario {
            name: "steady".into(),
            load: Load::Closed {
                users: 5,
                requests_per_user: None,
                duration_s: Some(seconds),
                ramp_up_s: 0.0,
                think_time_ms: 20,
            },
            min_success_rate: 0.9,
        }],
        recovery: None,
        leak_check: None,
        ..Suite::auth_burst()
    }
}

#[tokio::test]
async fn the_service_killed_mid_run_ends_it_aborted_with_what_was_measured() {
    let mut demo = demo(&[], |config| config.suites.push(steady(30.0))).await;
    let (status, created) = demo
        .app
        .post(
            "/api/runs",
            &json!({ "target": "demo", "suite": "steady", "profile": "current" }),
        )
        .await
        .unwrap();
    assert_eq!(status, 202);
    let id = created["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(4)).await;
    demo.service.stop();
    demo.app
        .follow(&id, None, Duration::from_mins(1))
        .await
        .unwrap();
    let detail: RunDetail = demo.app.get_json(&format!("/api/runs/{id}")).await.unwrap();
    assert_eq!(detail.summary.state.as_str(), "aborted");
    let report = report(&detail);
    assert!(
        report
            .error
            .as_deref()
            .unwrap()
            .contains("the service stopped answering"),
        "{:?}",
        report.error
    );
    assert!(
        report.scenarios[0].outcomes.ok > 0,
        "what it measured is kept"
    );
    assert!(report.duration_s < 20.0, "{}", report.duration_s);
    demo.stop().await;
}

/// A TCP forwarder to `to`, on a port of its own, that can be cut: the service's metrics
/// endpoint going away while the service itself keeps answering.
struct Forwarder {
    port: u16,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Forwarder {
    async fn start(to: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { return };
                        connections.spawn(async move {
                            if let Ok(mut outbound) =
                                tokio::net::TcpStream::connect(("127.0.0.1", to)).await
                            {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                            }
                        });
                    }
                    _ = stopped.changed() => {
                        connections.abort_all();
                        return;
                    }
                }
            }
        });
        Self { port, stop }
    }

    fn cut(&self) {
        let _ = self.stop.send(true);
    }
}

#[tokio::test]
async fn metrics_gone_mid_run_leave_the_run_going_and_the_report_says_from_when() {
    let installed = installed_in(&repository()).unwrap();
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let service = DemoService::start(&installed, &sandbox.url(), &[])
        .await
        .unwrap();
    let port: u16 = service
        .base_url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let forwarder = Forwarder::start(port).await;
    let dir = tempfile::tempdir().unwrap();
    let mut target = service
        .target("demo", &dir.path().join("users.csv"))
        .unwrap();
    if let Some(metrics) = target.metrics.as_mut() {
        metrics.url = lifeguard::config::SecretUrl::new(format!(
            "http://127.0.0.1:{}/metrics",
            forwarder.port
        ));
    }
    let app = spawn_app_with(move |config| {
        config.sandbox.enabled = false;
        config.targets.push(target);
        config.suites.push(steady(8.0));
    })
    .await
    .unwrap();
    let (status, created) = app
        .post(
            "/api/runs",
            &json!({ "target": "demo", "suite": "steady", "profile": "current" }),
        )
        .await
        .unwrap();
    assert_eq!(status, 202);
    let id = created["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(3)).await;
    forwarder.cut();
    app.follow(&id, None, Duration::from_mins(1)).await.unwrap();
    let detail: RunDetail = app.get_json(&format!("/api/runs/{id}")).await.unwrap();
    let report = report(&detail);
    assert_ne!(report.state.as_str(), "aborted", "{:?}", report.error);
    let sources = &report.sources;
    let lost = sources.metrics_lost_at_s.expect("the report says when");
    assert!((2.0..6.0).contains(&lost), "lost at {lost} s: {sources:?}");
    assert!(sources.failed_scrapes >= 4, "{sources:?}");
    assert!(report.scenarios[0].succeeded > 0);
    eprintln!(
        "metrics cut after 3 s: reported lost at {lost:.2} s, {} failed scrapes",
        sources.failed_scrapes
    );
    let browser = Browser::start().await.unwrap();
    let said = browser
        .open_and_read(&app.url(&format!("/runs/{id}")), "[data-fact=metrics-lost]")
        .await
        .unwrap();
    assert!(
        said.starts_with(&format!("Metrics lost at {lost:.1} s (")),
        "{said}"
    );
    browser
        .screenshot("run-service-metrics-lost")
        .await
        .unwrap();
    browser.close().await.unwrap();
    app.stop().await.unwrap();
    drop(service);
    sandbox.stop().await;
}

#[tokio::test]
async fn a_service_without_metrics_runs_and_its_pool_gauges_show_as_not_provided() {
    let demo = demo_with(
        &[],
        |target| target.metrics = None,
        |config| config.suites.push(steady(4.0)),
    )
    .await;
    let app = &demo.app;
    let (id, detail) = run(app, "steady", "current").await;
    let report = report(&detail);
    assert_eq!(report.state.as_str(), "passed", "{:?}", report.error);
    let sources = &report.sources;
    assert_eq!(sources.pool, "none");
    assert!(sources.pool_gauges.is_empty(), "{sources:?}");
    for gauge in ["checked out", "waiting", "timeouts", "acquire wait"] {
        assert!(
            sources.missing_pool_gauges.iter().any(|g| g == gauge),
            "{sources:?}"
        );
    }
    assert!(
        report.server.peak_run_backends > 0,
        "the database is still watched"
    );

    let browser = Browser::start().await.unwrap();
    let row = browser
        .open_and_read(
            &app.url(&format!("/runs/{id}")),
            "#scenarios [data-scenario=steady]",
        )
        .await
        .unwrap();
    assert_eq!(row.matches("not provided").count(), 4, "{row}");
    let pool = browser.chart_series("pool").await.unwrap();
    for name in [
        "checked out (not provided)",
        "overflow in use (not provided)",
        "waiters (not provided)",
    ] {
        assert!(pool.iter().any(|s| s == name), "{pool:?}");
    }
    let utilization = browser
        .text("#thresholds [data-metric=pool_utilization_pct]")
        .await
        .unwrap();
    assert!(utilization.contains("not provided"), "{utilization}");
    browser.screenshot("run-service-no-metrics").await.unwrap();
    browser.close().await.unwrap();
    demo.stop().await;
}

#[tokio::test]
async fn the_scraped_gauges_agree_with_sqlalchemys_own_pool_status() {
    let demo = demo(&[("HOLD_MS", "30")], |config| {
        config.suites.push(steady(6.0));
    })
    .await;
    let debug = format!("{}/debug/pool", demo.service.base_url());
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    // SQLAlchemy's own view, every 50 ms, with the wall-clock time of each look.
    let sampler = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut looks: Vec<(u64, u32)> = Vec::new();
        loop {
            if let Ok(answer) = http.get(&debug).send().await
                && let Ok(pool) = answer.json::<Value>().await
            {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                let checked_out = pool["async"]["checked_out"].as_u64().unwrap();
                looks.push((
                    u64::try_from(now).unwrap(),
                    u32::try_from(checked_out).unwrap(),
                ));
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = stopped.changed() => return looks,
            }
        }
    });
    let (id, detail) = run(&demo.app, "steady", "current").await;
    let _ = stop.send(true);
    let looks = sampler.await.unwrap();
    let report = report(&detail);
    // Per second, as the report keeps them (the charts get 100 ms buckets of this short run).
    let exported: RunDetail = demo
        .app
        .get_json(&format!("/api/runs/{id}/export"))
        .await
        .unwrap();
    let seconds = exported.report.unwrap().series;
    let start = report.started_at_ms;
    let (mut compared, mut agreeing, mut largest_gap) = (0, 0, 0_u32);
    for point in &seconds {
        // SQLAlchemy's readings over the second, and 500 ms either side: a 250 ms scrape
        // interval, and as long again for a scrape answered late on a busy machine (it counts in
        // the second it arrived).
        let from = start + u64::from(point.t) * 1000;
        let window: Vec<u32> = looks
            .iter()
            .filter(|(at, _)| *at + 500 >= from && *at <= from + 1500)
            .map(|(_, n)| *n)
            .collect();
        let (Some(low), Some(high)) = (window.iter().min(), window.iter().max()) else {
            continue;
        };
        compared += 1;
        if (*low..=*high).contains(&point.checked_out) {
            agreeing += 1;
        }
        let in_second = looks
            .iter()
            .filter(|(at, _)| *at >= from && *at < from + 1000)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0);
        largest_gap = largest_gap.max(point.checked_out.abs_diff(in_second));
    }
    eprintln!(
        "scraped checked-out against SQLAlchemy's: {agreeing} of {compared} seconds within one \
         sample; largest gap to SQLAlchemy's peak in the same second: {largest_gap}"
    );
    assert!(compared >= 5, "{compared} seconds compared");
    assert_eq!(agreeing, compared, "every second agrees within one sample");
    assert!(
        seconds.iter().any(|p| p.checked_out > 0),
        "the pool was in use"
    );
    demo.stop().await;
}

#[tokio::test]
async fn a_redeployed_service_holding_its_connections_longer_compares_as_regressed() {
    let mut demo = demo(&[], |config| config.suites.push(steady(8.0))).await;
    let (base, detail) = run(&demo.app, "steady", "current").await;
    assert_eq!(report(&detail).state.as_str(), "passed");
    demo.service.restart(&[("HOLD_MS", "40")]).await.unwrap();
    let (head, _) = run(&demo.app, "steady", "current").await;
    let comparison: lifeguard_shared::compare::Comparison = demo
        .app
        .get_json(&format!("/api/compare?base={base}&head={head}"))
        .await
        .unwrap();
    assert_eq!(
        comparison.verdict,
        lifeguard_shared::compare::Verdict::Regressed,
        "{comparison:#?}"
    );
    let mean = comparison.scenarios[0]
        .metrics
        .iter()
        .find(|m| m.metric == lifeguard_shared::metric::Metric::MeanLatencyMs)
        .unwrap();
    assert_eq!(mean.verdict, lifeguard_shared::compare::Verdict::Regressed);
    eprintln!(
        "HOLD_MS=40: mean latency {:.1} → {:.1} ms, p = {:?}",
        mean.base.unwrap(),
        mean.head.unwrap(),
        mean.p_value
    );
    demo.stop().await;
}

/// A monitor of the demo service reads its pool and its requests from its metrics and its server
/// from its database: a steady load on a 2 + 1 pool with 200 ms holds fires pool utilization and
/// a dry pool (waiting checkouts) at `critical` and response time, all resolve once the load is
/// over.
#[tokio::test]
async fn a_monitor_of_a_service_reads_its_pool_from_its_metrics_and_alerts_on_it() {
    use lifeguard_shared::metric::Metric;
    use lifeguard_shared::monitor::{Alert, AlertSettings, MonitorStatus};
    use lifeguard_shared::report::Level;
    let demo = demo(
        &[
            ("POOL_SIZE", "2"),
            ("MAX_OVERFLOW", "1"),
            ("POOL_TIMEOUT", "5"),
            ("HOLD_MS", "200"),
        ],
        |config| {
            config.suites.push(steady(6.0));
            config.monitors = vec![lifeguard::config::MonitorConfig {
                target: "demo".into(),
                interval_s: 1.0,
                alerts: AlertSettings {
                    fire_after: 2,
                    resolve_after: 2,
                    ..AlertSettings::default()
                },
                notify: None,
            }];
        },
    )
    .await;
    let (_, detail) = run(&demo.app, "steady", "current").await;
    assert!(report(&detail).scenarios[0].requests > 0);
    let statuses: Vec<MonitorStatus> = demo.app.get_json("/api/monitors").await.unwrap();
    let sample = statuses[0].last_sample.clone().unwrap();
    let pool = sample.pool.unwrap();
    assert_eq!(
        (pool.max, pool.idle_max),
        (Some(3.0), Some(2.0)),
        "{pool:?}"
    );
    assert!(
        sample.max_connections > 0,
        "its database was read too: {sample:?}"
    );
    let started = std::time::Instant::now();
    let alerts = loop {
        let alerts: Vec<Alert> = demo.app.get_json("/api/alerts?target=demo").await.unwrap();
        if !alerts.is_empty() && alerts.iter().all(|a| a.resolved_at_ms.is_some()) {
            break alerts;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{alerts:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for metric in [Metric::PoolUtilizationPct, Metric::ExhaustionEvents] {
        assert!(
            alerts
                .iter()
                .any(|a| a.metric == metric && a.level == Level::Critical),
            "{metric}: {alerts:#?}"
        );
    }
    // Its requests from its request-duration histogram: each held 200 ms, so their mean is past
    // the 200 ms warning while the load lasts; with no request after it, the alert resolved.
    let history: lifeguard_shared::monitor::MonitorHistory = demo
        .app
        .get_json("/api/monitors/demo/samples?from_ms=0")
        .await
        .unwrap();
    let slowest = history
        .samples
        .iter()
        .filter_map(|s| s.requests?.mean_ms)
        .fold(0.0_f64, f64::max);
    assert!(slowest >= 200.0, "{:#?}", history.samples);
    assert!(
        alerts.iter().any(|a| a.metric == Metric::ResponseTimeMs),
        "{alerts:#?}"
    );
    demo.stop().await;
}

/// `lifeguard watch` of a service reads what its console monitor reads: each line has the
/// service's database (its server's backends) and its pool from the metrics endpoint — 2 + 1
/// connections, so at most 3 —; once the service is gone the database still answers and the line
/// says why the pool is missing, and the watch goes on to its count.
#[tokio::test]
async fn watch_in_a_terminal_reads_a_services_pool_and_its_database() {
    use lifeguard::cli::watch::{WatchArgs, watch};
    let installed = installed_in(&repository())
        .expect("the demo's virtual environment: run scripts/setup.sh --for test");
    let sandbox = Sandbox::start(&SandboxOptions::default()).await.unwrap();
    let mut service = DemoService::start(
        &installed,
        &sandbox.url(),
        &[("POOL_SIZE", "2"), ("MAX_OVERFLOW", "1")],
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        targets: vec![
            service
                .target("demo", &dir.path().join("users.csv"))
                .unwrap(),
        ],
        ..Config::default()
    };
    let args = |count| WatchArgs {
        target: "demo".into(),
        interval_s: Some(1.0),
        count: Some(count),
    };
    let mut out = Vec::new();
    let code = watch(&config, args(2), &mut out).await.unwrap();
    let said = String::from_utf8(out).unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{said}");
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 2, "{said}");
    for line in &lines {
        assert!(line.contains("backends "), "the database: {said}");
        assert!(line.contains("pool used 0 of 3"), "the pool: {said}");
    }
    // Requests are counted between two readings (its own scrapes are not timed): none here.
    assert!(!lines[0].contains("requests"), "{said}");
    assert!(lines[1].ends_with("requests 0"), "{said}");
    assert!(!said.contains(&sandbox.password().to_owned()), "{said}");

    service.stop();
    let mut out = Vec::new();
    watch(&config, args(2), &mut out).await.unwrap();
    let said = String::from_utf8(out).unwrap();
    let readings: Vec<&str> = said.lines().filter(|l| l.contains("backends ")).collect();
    assert_eq!(readings.len(), 2, "{said}");
    assert!(!said.contains("pool used"), "{said}");
    assert_eq!(
        said.matches("reading the service's metrics:").count(),
        2,
        "{said}"
    );
    sandbox.stop().await;
}
