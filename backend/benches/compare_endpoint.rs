//! The compare endpoint on two stored one-hour runs:
//! `cargo bench -p lifeguard --bench compare_endpoint`.
//!
//! Two real `auth-sustained` runs (a base, and a head with 5 ms more hold per request) are
//! measured on a sandbox for a few seconds per scenario, then stretched to one hour by repeating
//! their measured seconds, blocks and histograms (900 seconds per scenario, 4 scenarios) and stored
//! like any run. A console on that store then answers `GET /api/compare` repeatedly over HTTP; the
//! median time and the payload go against the goals (50 ms, 300 KB). As the reference in the same
//! invocation, the same console answers `GET /api/runs/{id}` (one stored report) interleaved with
//! the comparisons; the series and histograms that the comparison view also loads are timed too.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lifeguard::app::App;
use lifeguard::config::Config;
use lifeguard::runner::{Abort, RunOutput, RunPlan, new_run_id, run};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard::store::{NewRun, Store, now_ms};
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::run::RunLabels;
use lifeguard_shared::suite::Suite;
use lifeguard_shared::workload::AuthFlow;

/// Seconds per scenario in a stored run.
const SECONDS_PER_SCENARIO: u32 = 900;
/// Seconds per scenario actually measured (then repeated).
const MEASURED_PER_SCENARIO: f64 = 4.0;
const REQUESTS: usize = 30;
const GOAL: Duration = Duration::from_millis(50);
const PAYLOAD_GOAL: usize = 300 * 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let config = Config {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    let mut config = config;
    config.sandbox.enabled = false;

    let sandbox = Sandbox::start(&SandboxOptions {
        max_connections: 120,
        ..SandboxOptions::default()
    })
    .await?;
    println!(
        "measuring two auth-sustained runs ({MEASURED_PER_SCENARIO} s per scenario) on the sandbox…"
    );
    let base = measure(&sandbox, &[]).await?;
    let head = measure(&sandbox, &["hold_ms=5"]).await?;
    sandbox.stop().await;

    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::open(&config.store_url()).await?;
    store_hour(&store, "base-hour", &base).await?;
    store_hour(&store, "head-hour", &head).await?;
    store.close().await;

    let app = App::build(&config).await?;
    let address = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until_stopped(async move {
        let _sent_or_dropped = stopped.await;
    }));
    let http = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}{path}");

    let compare_path = "/api/compare?base=base-hour&head=head-hour";
    let (_, payload) = get(&http, &url(compare_path)).await?;
    let comparison: serde_json::Value = serde_json::from_slice(&payload)?;
    let blocks = comparison["scenarios"][0]["metrics"][0]["base_blocks"].clone();
    println!(
        "comparison: {} scenarios, {blocks} blocks per scenario and side, verdict {}",
        comparison["scenarios"].as_array().map_or(0, Vec::len),
        comparison["verdict"]
    );

    let mut compares = Vec::with_capacity(REQUESTS);
    let mut references = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        references.push(get(&http, &url("/api/runs/head-hour")).await?.0);
        compares.push(get(&http, &url(compare_path)).await?.0);
    }
    let (series_time, series) = get(&http, &url("/api/runs/head-hour/series")).await?;
    let (histograms_time, histograms) = get(&http, &url("/api/runs/head-hour/histograms")).await?;

    let compare = median(&mut compares);
    let reference = median(&mut references);
    println!(
        "GET /api/compare          median {:>7.2} ms  p95 {:>7.2} ms  payload {:>7} B ({:.1} KB gzip)",
        ms(compare),
        ms(percentile(&mut compares, 0.95)),
        payload.len(),
        gzip_kb(&payload)?
    );
    println!(
        "GET /api/runs/{{id}}        median {:>7.2} ms  (reference: one stored report)",
        ms(reference)
    );
    println!(
        "GET /api/runs/{{id}}/series        {:>7.2} ms  payload {:>7} B ({:.1} KB gzip)",
        ms(series_time),
        series.len(),
        gzip_kb(&series)?
    );
    println!(
        "GET /api/runs/{{id}}/histograms    {:>7.2} ms  payload {:>7} B ({:.1} KB gzip)",
        ms(histograms_time),
        histograms.len(),
        gzip_kb(&histograms)?
    );
    println!(
        "ratio compare / reference: {:.2}; compare / goal (50 ms): {:.2}; payload / goal (300 KB): {:.2}",
        compare.as_secs_f64() / reference.as_secs_f64(),
        compare.as_secs_f64() / GOAL.as_secs_f64(),
        payload.len() as f64 / PAYLOAD_GOAL as f64
    );
    let _receiver_gone = stop.send(());
    served.await??;
    Ok(())
}

/// One real run of auth-sustained with the workload overrides.
async fn measure(sandbox: &Sandbox, set: &[&str]) -> anyhow::Result<RunOutput> {
    let mut workload = AuthFlow::default();
    for assignment in set {
        workload.set(assignment)?;
    }
    let profile = PoolProfile::built_in()
        .into_iter()
        .find(|p| p.name == "recommended-dev")
        .context("the built-in recommended-dev profile")?;
    let plan = RunPlan {
        run_id: new_run_id(),
        target_name: "sandbox".into(),
        target: sandbox.connect_config(),
        suite: Suite {
            recovery: None,
            ..Suite::auth_sustained(MEASURED_PER_SCENARIO)
        },
        profile,
        workload,
        instrumented: true,
    };
    Ok(run(plan, None, Abort::new()).await?)
}

/// Stores `output` as run `id`, its seconds repeated to [`SECONDS_PER_SCENARIO`] per scenario.
async fn store_hour(store: &Store, id: &str, output: &RunOutput) -> anyhow::Result<()> {
    let report = &output.report;
    store
        .create_run(&NewRun {
            id: id.into(),
            target: report.target.clone(),
            suite: report.suite.clone(),
            profile: report.profile.clone(),
            labels: RunLabels::default(),
            plan: "{}".into(),
            created_at: now_ms(),
        })
        .await?;
    store.mark_running(id).await?;
    let mut t = 0_u32;
    let mut blocks = BTreeMap::new();
    for scenario in &report.scenarios {
        let seconds: Vec<_> = report
            .series
            .iter()
            .filter(|s| s.phase == scenario.name)
            .collect();
        anyhow::ensure!(!seconds.is_empty(), "no seconds for {}", scenario.name);
        for i in 0..SECONDS_PER_SCENARIO {
            let measured = seconds[i as usize % seconds.len()];
            let mut sample = measured.clone();
            sample.t = t;
            let histograms: Vec<_> = output
                .histograms
                .iter()
                .filter(|h| h.t == measured.t && h.phase == scenario.name)
                .map(|h| {
                    let mut h = h.clone();
                    h.t = t;
                    h
                })
                .collect();
            store.append_second(id, &sample, &histograms).await?;
            t += 1;
        }
        let measured = output
            .blocks
            .get(&scenario.name)
            .filter(|b| !b.is_empty())
            .with_context(|| format!("no blocks for {}", scenario.name))?;
        let hour: Vec<_> = measured
            .iter()
            .copied()
            .cycle()
            .take(SECONDS_PER_SCENARIO as usize)
            .collect();
        blocks.insert(scenario.name.clone(), hour);
    }
    let mut stored = report.clone();
    stored.duration_s = f64::from(t);
    store.finish_run(id, &stored, &blocks).await?;
    Ok(())
}

async fn get(http: &reqwest::Client, url: &str) -> anyhow::Result<(Duration, Vec<u8>)> {
    let started = Instant::now();
    let response = http.get(url).send().await?.error_for_status()?;
    let body = response.bytes().await?.to_vec();
    Ok((started.elapsed(), body))
}

fn gzip_kb(bytes: &[u8]) -> anyhow::Result<f64> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len() as f64 / 1024.0)
}

fn median(times: &mut [Duration]) -> Duration {
    percentile(times, 0.5)
}

fn percentile(times: &mut [Duration], q: f64) -> Duration {
    times.sort_unstable();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "q is in 0..=1 and the index is bounded by the length"
    )]
    let index = ((times.len() - 1) as f64 * q).round() as usize;
    times[index]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
