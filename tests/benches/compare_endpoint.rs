//! The compare endpoint on two stored one-hour runs:
//! `cargo bench -p lifeguard-tests --bench compare_endpoint`.
//!
//! Two stored one-hour runs ([`lifeguard_tests::hour_runs`]: 4 scenarios × 900 s of real measured
//! seconds, blocks and histograms) are served by a console without a sandbox, which answers
//! `GET /api/compare` repeatedly over HTTP; the median time and the payload go against the goals
//! (50 ms, 300 KB). As the reference in the same invocation, the same console answers
//! `GET /api/runs/{id}` (one stored report) interleaved with the comparisons; the series and
//! histograms that the comparison view also loads are timed too.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::{Duration, Instant};

use lifeguard_tests::hour_runs::{BASE, HEAD, store_two_hours};
use lifeguard_tests::spawn_app_with;

const REQUESTS: usize = 30;
const GOAL: Duration = Duration::from_millis(50);
const PAYLOAD_GOAL: usize = 300 * 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    println!("measuring two auth-sustained runs and storing them an hour long…");
    store_two_hours(data.path()).await?;
    let app = spawn_app_with(|config| {
        config.data_dir = data.path().to_path_buf();
        config.sandbox.enabled = false;
    })
    .await?;
    let http = reqwest::Client::new();

    let compare_path = format!("/api/compare?base={BASE}&head={HEAD}");
    let (_, payload) = get(&http, &app.url(&compare_path)).await?;
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
        references.push(get(&http, &app.url(&format!("/api/runs/{HEAD}"))).await?.0);
        compares.push(get(&http, &app.url(&compare_path)).await?.0);
    }
    let (series_time, series) = get(&http, &app.url(&format!("/api/runs/{HEAD}/series"))).await?;
    let (histograms_time, histograms) =
        get(&http, &app.url(&format!("/api/runs/{HEAD}/histograms"))).await?;

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
    app.stop().await?;
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
