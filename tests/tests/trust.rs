//! The trust holes of issue 9, each tried as an attacker or an unlucky operator would, over real
//! HTTP against a console with its own sandbox: foreign `Host` names in local mode, targets that
//! accept and never answer, cancels in every phase, the wall-clock limit, upper bounds on input,
//! tokens as browsers send them, access decided before lookups, full queues and too many live
//! streams, `{code, message}` on every error, and a store slowed on purpose losing no second.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail the test loudly on any error"
)]

use std::time::{Duration, Instant};

use lifeguard::config::{Config, Secret, SecretUrl, TargetConfig};
use lifeguard_shared::pool::{PoolProfile, PoolSettings, Reuse};
use lifeguard_shared::run::RunDetail;
use lifeguard_shared::suite::{LeakCheck, Load, Scenario, Suite};
use lifeguard_tests::browser::retry;
use lifeguard_tests::{TestApp, spawn_app_with};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Timing tests run one at a time, so one test's sandbox start-up does not slow another's cancel.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn closed(name: &str, users: u32, requests: u32) -> Scenario {
    Scenario {
        name: name.into(),
        load: Load::Closed {
            users,
            requests_per_user: Some(requests),
            duration_s: None,
            ramp_up_s: 0.0,
            think_time_ms: 0,
        },
        min_success_rate: 0.9,
    }
}

fn suite(name: &str, scenarios: Vec<Scenario>) -> Suite {
    Suite {
        name: name.into(),
        scenarios,
        recovery: None,
        leak_check: Some(LeakCheck { grace_s: 1.0 }),
        ..Suite::auth_burst()
    }
}

/// One connection and nothing more, waiting up to 90 s: every other user queues for a checkout.
fn single_connection_profile() -> PoolProfile {
    PoolProfile {
        name: "single".into(),
        description: "one connection".into(),
        primary: PoolSettings {
            pool_size: 1,
            max_overflow: 0,
            pool_timeout_s: 90.0,
            pool_recycle_s: None,
            pre_ping: false,
            prewarm: false,
            reuse: Reuse::Fifo,
        },
        secondary: None,
        replicas: 1,
    }
}

async fn trigger(app: &TestApp, body: &Value) -> String {
    let (status, answer) = app.post("/api/runs", body).await.unwrap();
    assert_eq!(status, 202, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

async fn state_of(app: &TestApp, id: &str) -> (String, Value) {
    let (_, body) = app.get(&format!("/api/runs/{id}")).await.unwrap();
    let detail: Value = serde_json::from_str(&body).unwrap();
    (detail["state"].as_str().unwrap_or("").to_owned(), detail)
}

/// Waits until run `id` reaches a final state; the detail and how long it took.
async fn until_final(app: &TestApp, id: &str, within: Duration) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let (state, detail) = state_of(app, id).await;
        if !matches!(state.as_str(), "queued" | "running") {
            return (detail, started.elapsed());
        }
        assert!(started.elapsed() < within, "run {id} is still {state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Cancels run `id` as an operator; its final detail and how long the cancel took to end it.
async fn cancel(app: &TestApp, id: &str) -> (Value, Duration) {
    let (status, _) = app
        .post(&format!("/api/runs/{id}/cancel"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 202);
    until_final(app, id, Duration::from_secs(10)).await
}

/// Waits up to `limit` for `condition`; panics saying `what` did not happen.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    retry(limit, || {
        let holds = condition();
        async move { if holds.await { Ok(()) } else { Err(()) } }
    })
    .await
    .unwrap_or_else(|()| panic!("{what} within {limit:?}"));
}

/// A TCP listener that accepts connections and never answers.
fn stuck_listener() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming().flatten() {
            held.push(socket);
        }
    });
    port
}

async fn sandbox_client(app: &TestApp) -> tokio_postgres::Client {
    let (client, connection) = app
        .target_url
        .parse::<tokio_postgres::Config>()
        .unwrap()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn local_mode_refuses_a_foreign_host_and_answers_localhost() {
    let app = spawn_app_with(|_| {}).await.unwrap();
    let port = app.addr.port();
    let ask = |host: String| {
        app.client()
            .get(app.url("/api/me"))
            .header("host", host)
            .send()
    };
    let refused = ask("attacker.example".into()).await.unwrap();
    assert_eq!(refused.status().as_u16(), 421);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "misdirected", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("attacker.example"),
        "{body}"
    );
    let rebound = ask(format!("attacker.example:{port}")).await.unwrap();
    assert_eq!(rebound.status().as_u16(), 421);
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let answered = ask(host.clone()).await.unwrap();
        assert_eq!(answered.status().as_u16(), 200, "{host}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_target_that_accepts_and_never_answers_aborts_the_run_and_frees_its_queue() {
    let stuck = stuck_listener();
    let app = spawn_app_with(|config: &mut Config| {
        config.sandbox.enabled = false;
        config.targets.push(TargetConfig {
            connect_timeout_s: Some(1.0),
            ..TargetConfig::postgres(
                "stuck",
                SecretUrl::new(format!(
                    "postgres://app:hunter2hunter2@127.0.0.1:{stuck}/auth"
                )),
            )
        });
    })
    .await
    .unwrap();
    let run = json!({ "target": "stuck", "suite": "auth-burst", "profile": "current" });
    let first = trigger(&app, &run).await;
    let second = trigger(&app, &run).await;
    let (detail, took) = until_final(&app, &first, Duration::from_secs(20)).await;
    assert_eq!(detail["state"], "aborted", "{detail}");
    let error = detail["error"].as_str().unwrap();
    assert!(
        error.contains("cannot reach target `stuck`: no answer within 1 s (connect_timeout_s)"),
        "{error}"
    );
    eprintln!("stuck target: the run ended aborted after {took:?}");
    // The queue moved on: the next run of the target ended too.
    let (detail, _) = until_final(&app, &second, Duration::from_secs(20)).await;
    assert_eq!(detail["state"], "aborted", "{detail}");

    let asked = Instant::now();
    let (status, body) = app.get("/api/probe?target=stuck").await.unwrap();
    let probe_took = asked.elapsed();
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("no answer within 1 s"), "{body}");
    assert!(probe_took < Duration::from_secs(3), "{probe_took:?}");
    eprintln!("stuck target: the probe answered 502 after {probe_took:?}");
    assert!(!lifeguard_tests::captured_logs().contains("hunter2hunter2"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn cancel_during_seeding_stops_the_run_and_the_seeding_within_a_second() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app_with(|_| {}).await.unwrap();
    let server = sandbox_client(&app).await;
    let id = trigger(
        &app,
        &json!({ "target": "sandbox", "suite": "auth-burst", "profile": "current",
                 "workload": { "users": 1_000_000 } }),
    )
    .await;
    let seeding = format!("lifeguard-observer:{id}");
    let count_seeding = || async {
        server
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 \
                 AND state = 'active' AND query LIKE '%generate_series%'",
                &[&seeding],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    wait_until(
        Duration::from_secs(20),
        "the seeding query runs",
        || async { count_seeding().await > 0 },
    )
    .await;
    let (detail, took) = cancel(&app, &id).await;
    eprintln!("cancel during seeding: aborted after {took:?}");
    assert_eq!(detail["state"], "aborted", "{detail}");
    assert!(
        detail["error"]
            .as_str()
            .unwrap()
            .contains("cancelled by an operator"),
        "{detail}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    wait_until(
        Duration::from_secs(2),
        "the seeding query ends on the server",
        || async { count_seeding().await == 0 },
    )
    .await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn cancel_while_a_connection_is_held_for_a_minute_and_others_wait_ends_within_a_second() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app_with(|config: &mut Config| {
        config.suites = vec![suite("hold", vec![closed("light", 4, 2)])];
        config.profiles = vec![single_connection_profile()];
    })
    .await
    .unwrap();
    let server = sandbox_client(&app).await;
    let id = trigger(
        &app,
        &json!({ "target": "sandbox", "suite": "hold", "profile": "single",
                 "workload": { "users": 100, "hold_ms": 60000 } }),
    )
    .await;
    // One request holds the only connection inside its transaction; three wait for a checkout.
    let pattern = format!("lifeguard:{id}:%");
    wait_until(
        Duration::from_secs(20),
        "a request holds the connection",
        || async {
            let held: i64 = server
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1 \
                 AND state = 'idle in transaction'",
                    &[&pattern],
                )
                .await
                .unwrap()
                .get(0);
            held == 1
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (detail, took) = cancel(&app, &id).await;
    eprintln!("cancel during a 60 s hold with 3 waiting for a checkout: aborted after {took:?}");
    assert_eq!(detail["state"], "aborted", "{detail}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let report = &detail["report"];
    assert_eq!(
        report["state"], "aborted",
        "the partial report is kept: {detail}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_run_never_outlives_its_wall_clock_limit_whatever_its_scenarios_say() {
    let _one = ONE_AT_A_TIME.lock().await;
    let app = spawn_app_with(|config: &mut Config| {
        config.guard_rails.max_duration_s = 3.0;
        // 2 users × 100 requests of 500 ms each would take 25 s: no duration to refuse up front.
        config.suites = vec![suite("counted", vec![closed("light", 2, 100)])];
    })
    .await
    .unwrap();
    let id = trigger(
        &app,
        &json!({ "target": "sandbox", "suite": "counted", "profile": "recommended-dev",
                 "workload": { "users": 100, "hold_ms": 500 } }),
    )
    .await;
    let (detail, took) = until_final(&app, &id, Duration::from_secs(20)).await;
    eprintln!("a 25 s run under a 3 s limit ended after {took:?}");
    assert_eq!(detail["state"], "aborted", "{detail}");
    let error = detail["error"].as_str().unwrap();
    assert!(
        error.contains("wall-clock limit of 3 s (guard_rails.max_duration_s)"),
        "{error}"
    );
    let report = &detail["report"];
    assert!(report["duration_s"].as_f64().unwrap() < 4.0, "{report}");
    assert!(report["scenarios"][0]["requests"].as_u64().unwrap() > 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_load_bound_is_refused_through_the_api_naming_field_and_limit() {
    let app = spawn_app_with(|config: &mut Config| {
        let open = |name: &str, rate_per_s, duration_s| Scenario {
            name: name.into(),
            load: Load::Open {
                rate_per_s,
                duration_s,
                max_in_flight: 100,
            },
            min_success_rate: 0.9,
        };
        config.suites = vec![
            suite("crowd", vec![closed("many", 501, 1)]),
            suite("flood", vec![open("fast", 5001.0, 1.0)]),
            suite("endless", vec![closed("counted", 100, 10_001)]),
            suite("marathon", vec![open("long", 10.0, 3601.0)]),
            Suite {
                recovery: Some(lifeguard_shared::suite::RecoveryPhase {
                    burst_factor: 20.0,
                    ..Default::default()
                }),
                ..suite("burst", vec![closed("one", 1, 1)])
            },
        ];
    })
    .await
    .unwrap();
    for (suite, workload, expected) in [
        (
            "crowd",
            json!({}),
            "uses 501 users, above the guard rail of 500 (guard_rails.max_users)",
        ),
        (
            "flood",
            json!({}),
            "above the guard rail of 5000/s (guard_rails.max_rate_per_s)",
        ),
        (
            "endless",
            json!({}),
            "makes 1000100 requests, above the guard rail of 1000000 (guard_rails.max_requests)",
        ),
        (
            "marathon",
            json!({}),
            "above the guard rail of 3600 s (guard_rails.max_duration_s)",
        ),
        (
            "burst",
            json!({}),
            "recovery burst of 600 users is above the guard rail of 500",
        ),
        (
            "auth-burst",
            json!({ "users": 1_000_001 }),
            "`workload.users` must be at most 1000000 (guard_rails.max_seeded_users), got 1000001",
        ),
        (
            "auth-burst",
            json!({ "hold_ms": 60_001 }),
            "`hold_ms` must be at most 60000, got 60001",
        ),
        (
            "auth-burst",
            json!({ "error_rate": 1.5 }),
            "`error_rate` must be between 0 and 1, got 1.5",
        ),
    ] {
        let body = json!({ "target": "sandbox", "suite": suite, "profile": "current",
                           "workload": workload });
        let (status, answer) = app.post("/api/runs", &body).await.unwrap();
        assert_eq!(status, 422, "{suite}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(expected), "{suite}: {message}");
    }
    let (_, page) = app.get("/api/runs").await.unwrap();
    assert!(
        page.contains("\"total\":0"),
        "a refused run is not stored: {page}"
    );
    app.stop().await.unwrap();
}

const OPERATOR: &str = "op+token/with=signs-0001";

#[tokio::test]
async fn tokens_are_read_as_browsers_send_them_and_access_is_decided_before_any_lookup() {
    let app = spawn_app_with(|config: &mut Config| {
        config.access.operator_tokens = vec![Secret::new(OPERATOR)];
        config.access.viewers_need_token = true;
        config.suites = vec![suite("quick", vec![closed("light", 2, 2)])];
    })
    .await
    .unwrap();
    let encoded = "op%2Btoken%2Fwith%3Dsigns-0001";
    let (status, body) = app.get(&format!("/api/me?token={encoded}")).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"role\":\"operator\""), "{body}");
    // Unencoded, `+` is a space in a query string: not the token.
    let (status, _) = app.get(&format!("/api/me?token={OPERATOR}")).await.unwrap();
    assert_eq!(status, 401);

    let body = json!({ "target": "sandbox", "suite": "quick", "profile": "recommended-dev" });
    let (status, created) = app
        .post(&format!("/api/runs?token={encoded}"), &body)
        .await
        .unwrap();
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // The live stream takes the token in its query too (EventSource cannot set headers).
    let stream = app
        .client()
        .get(app.url(&format!("/api/runs/{id}/events?token={encoded}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    drop(stream);
    // Once it has finished, the run becomes baseline `known`.
    wait_until(Duration::from_mins(1), "the run finishes", || async {
        let set = app
            .put(
                &format!("/api/baselines/known?token={encoded}"),
                &json!({ "run_id": id }),
            )
            .await
            .unwrap();
        set.0 == 200
    })
    .await;

    // Anonymous callers learn nothing about what exists.
    for (known, unknown) in [
        (
            format!("/api/compare?baseline=known&head={id}"),
            format!("/api/compare?baseline=unknown&head={id}"),
        ),
        (
            format!("/api/compare?base={id}&head={id}"),
            "/api/compare?base=nope&head=nope".to_owned(),
        ),
        (format!("/api/runs/{id}"), "/api/runs/nope".to_owned()),
        (
            "/api/baselines/known".to_owned(),
            "/api/baselines/unknown".to_owned(),
        ),
    ] {
        let (a, body_a) = app.get_error(&known).await.unwrap();
        let (b, body_b) = app.get_error(&unknown).await.unwrap();
        assert_eq!(
            (a, b),
            (401, 401),
            "{known}: {body_a} / {unknown}: {body_b}"
        );
        assert_eq!(body_a, body_b);
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after_and_stores_nothing() {
    let app = spawn_app_with(|config: &mut Config| {
        config.guard_rails.max_queued_runs = 1;
        config.suites = vec![suite("hold", vec![closed("light", 1, 1)])];
    })
    .await
    .unwrap();
    let body = json!({ "target": "sandbox", "suite": "hold", "profile": "recommended-dev",
                       "workload": { "users": 100, "hold_ms": 60000 } });
    let running = trigger(&app, &body).await;
    wait_until(Duration::from_secs(20), "the first run starts", || async {
        state_of(&app, &running).await.0 == "running"
    })
    .await;
    let queued = trigger(&app, &body).await;
    let refused = app
        .client()
        .post(app.url("/api/runs"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(
        refused.headers()["retry-after"].to_str().unwrap(),
        "30",
        "Retry-After"
    );
    let answer: Value = refused.json().await.unwrap();
    assert_eq!(answer["code"], "busy", "{answer}");
    let page: Value = serde_json::from_str(&app.get("/api/runs").await.unwrap().1).unwrap();
    assert_eq!(
        page["total"], 2,
        "only the two accepted runs are stored: {page}"
    );
    for id in [&queued, &running] {
        app.post(&format!("/api/runs/{id}/cancel"), &json!({}))
            .await
            .unwrap();
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn live_streams_are_limited_per_run_and_in_all_with_retry_after() {
    let app = spawn_app_with(|config: &mut Config| {
        config.guard_rails.max_live_streams = 2;
        config.guard_rails.max_live_streams_per_run = 1;
        config.suites = vec![suite("hold", vec![closed("light", 1, 1)])];
    })
    .await
    .unwrap();
    let body = json!({ "target": "sandbox", "suite": "hold", "profile": "recommended-dev",
                       "workload": { "users": 100, "hold_ms": 60000 } });
    let (a, b, c) = (
        trigger(&app, &body).await,
        trigger(&app, &body).await,
        trigger(&app, &body).await,
    );
    let open = |id: &String| {
        app.client()
            .get(app.url(&format!("/api/runs/{id}/events")))
            .send()
    };
    let first = open(&a).await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let again = open(&a).await.unwrap();
    assert_eq!(again.status().as_u16(), 503);
    assert_eq!(again.headers()["retry-after"].to_str().unwrap(), "5");
    let answer: Value = again.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("max_live_streams_per_run"),
        "{answer}"
    );
    let second = open(&b).await.unwrap();
    assert_eq!(second.status().as_u16(), 200);
    let third = open(&c).await.unwrap();
    assert_eq!(third.status().as_u16(), 503, "two streams in all");
    drop(first);
    wait_until(
        Duration::from_secs(5),
        "a closed stream frees its place",
        || async { open(&c).await.unwrap().status().as_u16() == 200 },
    )
    .await;
    drop(second);
    for id in [&a, &b, &c] {
        app.post(&format!("/api/runs/{id}/cancel"), &json!({}))
            .await
            .unwrap();
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_error_is_code_and_message_including_414_400_and_405() {
    let app = spawn_app_with(|_| {}).await.unwrap();
    let long = format!("/api/runs?environment={}", "x".repeat(10_000));
    for (method, path, status, code) in [
        (reqwest::Method::GET, long.as_str(), 414, "uri_too_long"),
        (reqwest::Method::GET, "/api/runs/%FF%FE", 400, "bad_request"),
        (
            reqwest::Method::POST,
            "/index.html",
            405,
            "method_not_allowed",
        ),
        (reqwest::Method::GET, "/api/nowhere", 404, "not_found"),
        (reqwest::Method::DELETE, "/api/runs", 404, "not_found"),
    ] {
        let answer = app
            .client()
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "{method} {path}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["code"], code, "{method} {path}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_store_locked_past_its_busy_timeout_loses_no_second() {
    let _one = ONE_AT_A_TIME.lock().await;
    let held = Suite {
        name: "steady".into(),
        scenarios: vec![Scenario {
            name: "steady".into(),
            load: Load::Closed {
                users: 4,
                requests_per_user: None,
                duration_s: Some(12.0),
                ramp_up_s: 0.0,
                think_time_ms: 20,
            },
            min_success_rate: 0.9,
        }],
        recovery: None,
        leak_check: Some(LeakCheck { grace_s: 1.0 }),
        ..Suite::auth_burst()
    };
    let app = spawn_app_with(move |config: &mut Config| config.suites = vec![held])
        .await
        .unwrap();
    let id = trigger(
        &app,
        &json!({ "target": "sandbox", "suite": "steady", "profile": "recommended-dev",
                 "workload": { "users": 100 } }),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Another writer holds the SQLite store's write lock for longer than the console's busy
    // timeout (5 s): every write of those seconds fails at first.
    let url = format!("sqlite://{}", app.data_dir.join("lifeguard.db").display());
    let mut locker = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut locker)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(7)).await;
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    drop(locker);

    let (detail, _) = until_final(&app, &id, Duration::from_mins(1)).await;
    assert_eq!(detail["state"], "passed", "{detail}");
    let detail: RunDetail = serde_json::from_value(detail).unwrap();
    let report = detail.report.unwrap();
    // The seconds as stored while the run went (the charts get this short run in 100 ms buckets,
    // written once at its end).
    let exported: RunDetail = app
        .get_json(&format!("/api/runs/{id}/export"))
        .await
        .unwrap();
    let stored = exported.report.unwrap().series;
    let seconds: Vec<u32> = stored.iter().map(|p| p.t).collect();
    let expected: Vec<u32> = (0..u32::try_from(seconds.len()).unwrap()).collect();
    assert_eq!(seconds, expected, "every second once, in order");
    assert!(
        seconds.len() as f64 >= report.duration_s.floor(),
        "{} seconds stored of a {:.1} s run",
        seconds.len(),
        report.duration_s
    );
    let stored_requests: u64 = stored.iter().map(|p| p.requests).sum();
    let measured: u64 = report.scenarios.iter().map(|s| s.requests).sum();
    assert_eq!(
        stored_requests, measured,
        "the stored seconds hold every request"
    );
    let events = app
        .follow(&id, None, Duration::from_secs(10))
        .await
        .unwrap();
    let progress = events
        .iter()
        .filter(|(_, kind, _)| kind == "progress")
        .count();
    assert_eq!(
        progress,
        seconds.len(),
        "one progress event per stored second"
    );
    assert!(
        lifeguard_tests::captured_logs().contains("a write to the results store failed; retrying"),
        "the lock did slow the store down"
    );
    app.stop().await.unwrap();
}
