//! The adaptive sizing search against a full grid of the same range:
//! `cargo bench -p lifeguard --bench sizing_points`.
//!
//! Runs `lifeguard size` twice on a fresh sandbox each: as it searches (bisection, each boundary
//! twice, the knee's probes, the recommendation's own run) and with `--grid` (every size from one
//! connection per concurrent user down, once, at the suite's load and at 3×). Suite
//! `LIFEGUARD_BENCH_SUITE` (auth-burst); `LIFEGUARD_BENCH_WORKLOAD` adds `--workload` settings,
//! e.g. `hold_ms=5`. Prints each side's runs, wall time and answer (the smallest size at the
//! suite's load and at 3×), and last `sizing points adaptive/grid: X.XX` (goal ≤ 0.35 with the
//! same answer).

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use serde_json::Value;

/// One `lifeguard size` on a sandbox of its own; its JSON and how long it took.
fn size(suite: &str, workload: &[String], extra: &[&str]) -> anyhow::Result<(Value, Duration)> {
    let data = tempfile::tempdir()?;
    let json = data.path().join("sizing.json");
    let mut args = vec!["size", "--suite", suite, "--json"];
    let json_arg = json.to_string_lossy().into_owned();
    args.push(&json_arg);
    for setting in workload {
        args.extend(["--workload", setting]);
    }
    args.extend(extra);
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_lifeguard"))
        .args(&args)
        .env("RUST_LOG", "warn")
        .env("LIFEGUARD_DATA_DIR", data.path())
        .output()
        .context("starting lifeguard")?;
    let took = started.elapsed();
    ensure!(
        output.status.code() != Some(3),
        "lifeguard size {args:?} could not run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sizing = serde_json::from_slice(&std::fs::read(&json)?)?;
    Ok((sizing, took))
}

fn answer(sizing: &Value) -> (Option<u64>, Option<u64>) {
    (sizing["at_load"].as_u64(), sizing["at_headroom"].as_u64())
}

fn main() -> anyhow::Result<()> {
    let suite = std::env::var("LIFEGUARD_BENCH_SUITE").unwrap_or_else(|_| "auth-burst".into());
    let workload: Vec<String> = std::env::var("LIFEGUARD_BENCH_WORKLOAD")
        .map(|w| w.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    println!("sizing `{suite}` at 3× headroom on a sandbox (workload {workload:?})");
    let (adaptive, adaptive_took) = size(&suite, &workload, &[])?;
    let (grid, grid_took) = size(&suite, &workload, &["--grid", "--max-points", "1000"])?;
    let runs = |sizing: &Value| sizing["points"].as_array().map_or(0, Vec::len);
    for (name, sizing, took) in [
        ("adaptive", &adaptive, adaptive_took),
        ("grid", &grid, grid_took),
    ] {
        let (at_load, at_headroom) = answer(sizing);
        println!(
            "  {name:<8} {:>4} runs in {:>6.1} s: {at_load:?} at 1×, {at_headroom:?} at 3× — {}",
            runs(sizing),
            took.as_secs_f64(),
            sizing["summary"].as_str().unwrap_or_default()
        );
    }
    let same = answer(&adaptive) == answer(&grid);
    println!(
        "same answer: {}; adaptive sizing took {:.1} s (goal < 120 s)",
        if same { "yes" } else { "NO" },
        adaptive_took.as_secs_f64()
    );
    println!(
        "sizing points adaptive/grid: {:.2}",
        runs(&adaptive) as f64 / runs(&grid).max(1) as f64
    );
    Ok(())
}
