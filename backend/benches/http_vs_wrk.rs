//! lifeguard's HTTP engine against wrk on the same local endpoint, same connections:
//! `cargo bench -p lifeguard --bench http_vs_wrk` (wrk from Debian: `apt-get install wrk`).
//!
//! The endpoint is a tiny axum service (a login that answers a token, a validation that checks
//! the header) on a thread and a single-threaded runtime of its own, so it takes at most one core
//! and the load generator the other. lifeguard runs a closed model with as many virtual users as
//! wrk has connections (10 and 30), each with its own keep-alive client, validating its token
//! (`login_ratio` 0 after the first login); wrk runs with one thread (`-t1`), like lifeguard's one
//! engine thread. A third side is lifeguard while it scrapes the endpoint's metrics every 250 ms; its
//! cost is the CPU per request it adds (lifeguard sides in an ABBA order within each round).
//! Each round runs wrk, then lifeguard's sides, then wrk again, for `LIFEGUARD_BENCH_ROUNDS`
//! rounds (default 5) of `LIFEGUARD_BENCH_SECONDS` (default 3); ratios are medians of each
//! round's. CPU per request counts client and endpoint alike on both sides. Last line: `lifeguard/wrk http throughput
//! ratio: X.XX` (the lower of the two cases).

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use lifeguard::config::{Secret, SecretUrl};
use lifeguard::runner::{Abort, RunPlan, new_run_id, run};
use lifeguard::scrape::mapping::{Mapping, Preset, SeriesNames};
use lifeguard::targets::Reach;
use lifeguard::targets::http::{Body, HttpService, MetricsPlan, RequestSpec, TestUser};
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::workload::AuthFlow;
use support::{
    Figures, Usage, closed_suite, median, per_request_us, scheduling_per_request, setting,
};

const TOKEN: &str = "bench-token";

/// The endpoint: login, validation and a small metrics page, on a thread of its own.
fn serve() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    std::thread::Builder::new()
        .name("bench-endpoint".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = Router::new()
                    .route(
                        "/auth/login",
                        post(|| async { axum::Json(serde_json::json!({ "access_token": TOKEN })) }),
                    )
                    .route(
                        "/auth/validate",
                        get(|headers: HeaderMap| async move {
                            let bearer = headers
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.strip_prefix("Bearer "));
                            if bearer == Some(TOKEN) {
                                StatusCode::OK
                            } else {
                                StatusCode::UNAUTHORIZED
                            }
                        }),
                    )
                    .route(
                        "/metrics",
                        get(|| async {
                            "db_client_connection_count{pool_name=\"async\",state=\"used\"} 3\n\
                             db_client_connection_count{pool_name=\"async\",state=\"idle\"} 7\n\
                             db_client_connection_pending_requests{pool_name=\"async\"} 0\n\
                             db_client_connection_max{pool_name=\"async\"} 30\n"
                        }),
                    );
                let _served = axum::serve(listener, app).await;
            });
        })?;
    Ok(port)
}

const WRK_SCRIPT: &str = r#"
wrk.headers["Authorization"] = "Bearer bench-token"
done = function(summary, latency, requests)
  io.write(string.format("figures %f %f %f\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end
"#;

fn wrk(port: u16, connections: u32, seconds: u64) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("figures.lua");
    std::fs::write(&script, WRK_SCRIPT)?;
    let before = Usage::now();
    let output = Command::new("wrk")
        .args(["-t1", "-c", &connections.to_string(), "-d"])
        .arg(format!("{seconds}s"))
        .arg("-s")
        .arg(&script)
        .arg(format!("http://127.0.0.1:{port}/auth/validate"))
        .output()
        .context("running wrk (install it with `apt-get install wrk`)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "wrk failed: {stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("figures "))
        .with_context(|| format!("no figures from wrk: {stdout}"))?;
    let numbers: Vec<f64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    anyhow::ensure!(numbers.len() == 3, "wrk said {line}");
    // Like lifeguard's sides: the client's CPU (wrk's, a child) and the endpoint's (this process).
    let spent = before.spent();
    let requests = numbers[0] * seconds as f64;
    let (switches, crossings) = scheduling_per_request(spent, requests);
    Ok(Figures {
        per_s: numbers[0],
        p50_ms: numbers[1],
        p95_ms: numbers[2],
        cpu_us: per_request_us(spent.own + spent.children, requests),
        machine_us: per_request_us(spent.machine, requests),
        switches,
        crossings,
    })
}

fn service(port: u16, scraped: bool) -> anyhow::Result<HttpService> {
    let base = format!("http://127.0.0.1:{port}");
    let metrics = scraped
        .then(|| -> anyhow::Result<MetricsPlan> {
            Ok(MetricsPlan {
                url: SecretUrl::new(format!("{base}/metrics")),
                interval: Duration::from_millis(250),
                mapping: Mapping::new(Preset::Opentelemetry, &SeriesNames::default())
                    .map_err(anyhow::Error::msg)?,
                preset: Preset::Opentelemetry,
                primary: BTreeMap::from([("pool_name".to_owned(), "async".to_owned())]),
                secondary: None,
            })
        })
        .transpose()?;
    Ok(HttpService {
        base_url: reqwest::Url::parse(&base)?,
        login: RequestSpec {
            method: reqwest::Method::POST,
            path: "/auth/login".into(),
            body: Body::Json(serde_json::json!({ "email": "{email}", "password": "{password}" })),
            headers: Vec::new(),
        },
        validate: RequestSpec {
            method: reqwest::Method::GET,
            path: "/auth/validate".into(),
            body: Body::None,
            headers: vec![("Authorization".into(), "Bearer {token}".into())],
        },
        token_pointer: "/access_token".into(),
        users: (1..=100)
            .map(|n| TestUser {
                email: format!("user{n}@bench.test"),
                password: Secret::new("password"),
            })
            .collect(),
        timeout: Duration::from_secs(10),
        extra_ca: None,
        metrics,
        database: None,
    })
}

async fn lifeguard_side(
    port: u16,
    connections: u32,
    seconds: u64,
    scraped: bool,
) -> anyhow::Result<Figures> {
    let plan = RunPlan {
        run_id: new_run_id(),
        target_name: "bench".into(),
        target: Reach::Http(Arc::new(service(port, scraped)?)),
        suite: closed_suite(connections, seconds),
        profile: PoolProfile::built_in().remove(0),
        workload: AuthFlow {
            login_ratio: 0.0,
            ..AuthFlow::default()
        },
        instrumented: true,
        max_duration: Duration::from_hours(1),
        engine_threads: 1,
    };
    let before = Usage::now();
    let output = run(plan, None, Abort::new()).await?;
    // This process also serves the endpoint: its CPU counts too, alike on every lifeguard side.
    let spent = before.spent();
    let scenario = &output.report.scenarios[0];
    anyhow::ensure!(
        scenario.outcomes.ok == scenario.requests,
        "lifeguard's requests failed: {:?}",
        scenario.outcomes
    );
    let (switches, crossings) = scheduling_per_request(spent, scenario.requests as f64);
    Ok(Figures {
        per_s: scenario.throughput_rps,
        p50_ms: scenario.latency_ms.p50,
        p95_ms: scenario.latency_ms.p95,
        cpu_us: per_request_us(spent.own, scenario.requests as f64),
        machine_us: per_request_us(spent.machine, scenario.requests as f64),
        switches,
        crossings,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = setting("LIFEGUARD_BENCH_SECONDS", 3);
    let rounds = setting("LIFEGUARD_BENCH_ROUNDS", 5);
    let port = serve()?;
    println!(
        "{seconds} s per side, {rounds} rounds; a local axum endpoint on one thread; wrk -t1 and \
         lifeguard's one engine thread with as many virtual users as wrk has connections"
    );
    println!(
        "{:<12} | {:>9} {:>6} {:>6} {:>7} {:>7} | {:>9} {:>6} {:>6} {:>7} {:>7} | {:>11} {:>7} | {:>6} {:>12}",
        "connections",
        "wrk/s",
        "p50",
        "p95",
        "cpu µs",
        "machine",
        "lifeguard",
        "p50",
        "p95",
        "cpu µs",
        "machine",
        "+scrape 250",
        "cpu µs",
        "ratio",
        "scrape cost"
    );
    let mut lowest = f64::INFINITY;
    let mut costliest = f64::NEG_INFINITY;
    for connections in [10, 30] {
        let (mut ratios, mut costs) = (Vec::new(), Vec::new());
        let mut last = None;
        for round in 0..rounds {
            // wrk before and after lifeguard's sides, so a drift within the round weighs on both.
            let before = wrk(port, connections, seconds)?;
            // Plain and scraping in an ABBA order (BAAB in odd rounds), each the mean of its two.
            let order = if round % 2 == 0 {
                [false, true, true, false]
            } else {
                [true, false, false, true]
            };
            let (mut plain, mut scraping) = (Vec::new(), Vec::new());
            for scraped in order {
                let figures = lifeguard_side(port, connections, seconds, scraped).await?;
                if scraped {
                    scraping.push(figures);
                } else {
                    plain.push(figures);
                }
            }
            let after = wrk(port, connections, seconds)?;
            let reference = Figures::mean(&[before, after]);
            let (plain, scraping) = (Figures::mean(&plain), Figures::mean(&scraping));
            ratios.push(plain.per_s / reference.per_s);
            costs.push(scraping.cpu_us / plain.cpu_us - 1.0);
            last = Some((reference, plain, scraping));
        }
        let Some((reference, plain, scraping)) = last else {
            continue;
        };
        let (ratio, cost) = (median(ratios), median(costs));
        lowest = lowest.min(ratio);
        costliest = costliest.max(cost);
        println!(
            "{connections:<12} | {:>9.0} {:>6.2} {:>6.2} {:>7.1} {:>7.1} | {:>9.0} {:>6.2} {:>6.2} {:>7.1} {:>7.1} | {:>11.0} {:>7.1} | {:>6.2} {:>11.1}%",
            reference.per_s,
            reference.p50_ms,
            reference.p95_ms,
            reference.cpu_us,
            reference.machine_us,
            plain.per_s,
            plain.p50_ms,
            plain.p95_ms,
            plain.cpu_us,
            plain.machine_us,
            scraping.per_s,
            scraping.cpu_us,
            ratio,
            cost * 100.0
        );
    }
    println!(
        "latencies in ms; ratio and scrape cost: medians over the rounds (scrape cost: CPU per \
         request added by scraping every 250 ms; this process's CPU, the endpoint's included); \
         machine: the whole machine's CPU per request, the kernel's included"
    );
    println!(
        "scraping at 250 ms costs (the highest case): {:.1}%",
        costliest * 100.0
    );
    println!("lifeguard/wrk http throughput ratio: {lowest:.2}");
    Ok(())
}
