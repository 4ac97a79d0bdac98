//! What watching costs: `cargo bench -p lifeguard --bench monitor_cost`.
//!
//! Runs 50 monitors at 1 s against one sandbox for 30 s (after a warm-up) as the console runs
//! them — each loop samples, stores the sample in an SQLite store and judges the default rules —
//! and measures the monitoring process's CPU (user + system, `getrusage`), the monitors' own
//! backends' CPU on the server (from `/proc/<pid>/stat`), and the store's bytes per monitor-day,
//! raw and once folded into one-minute rows. Last line `monitor cost per sample: X µs client, Y µs
//! server` (goal: the console's CPU for 50 monitors at 1 s under 5 % of one core).

#![expect(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "a benchmark reports figures on stdout"
)]

mod support;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use lifeguard::config::{MonitorConfig, MonitoringConfig};
use lifeguard::monitor::notify::Outbox;
use lifeguard::monitor::watch::Watch;
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard::store::Store;
use lifeguard_shared::monitor::AlertSettings;
use support::Usage;
use tokio_util::sync::CancellationToken;

const MONITORS: usize = 50;
const MEASURED: Duration = Duration::from_secs(30);

/// CPU time of the processes `pids` so far (user + system, from `/proc`).
fn cpu_of(pids: &[i32]) -> anyhow::Result<Duration> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?
        .context("clock ticks per second")?;
    let mut total = 0_u64;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("a /proc stat line")?
            .1
            .split_whitespace()
            .collect();
        total += fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    }
    Ok(Duration::from_secs_f64(
        total as f64 / f64::from(u32::try_from(ticks).unwrap_or(100)),
    ))
}

/// Rewrites the store without free pages and empties its write-ahead log.
async fn compact(url: &str) -> anyhow::Result<()> {
    let pool = sqlx::SqlitePool::connect(url).await?;
    sqlx::query("VACUUM").execute(&pool).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// The store's files' size.
fn store_bytes(dir: &std::path::Path) -> u64 {
    ["lifeguard.db", "lifeguard.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

async fn sample_count(store_dir: &std::path::Path) -> anyhow::Result<i64> {
    let url = format!(
        "sqlite://{}?mode=ro",
        store_dir.join("lifeguard.db").display()
    );
    let pool = sqlx::SqlitePool::connect(&url).await?;
    let count: (i64,) = sqlx::query_as("SELECT count(*) FROM monitor_samples")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(count.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let sandbox = Sandbox::start(&SandboxOptions {
        max_connections: 100,
        ..SandboxOptions::default()
    })
    .await?;
    let data = tempfile::tempdir()?;
    let url = format!("sqlite://{}", data.path().join("lifeguard.db").display());
    let store = Store::open(&url).await?;
    compact(&url).await?;
    let empty_store = store_bytes(data.path());
    let stop = CancellationToken::new();
    let loops = start(&sandbox, &store, &stop);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (client, connection) =
        tokio_postgres::connect(&sandbox.url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let pids: Vec<i32> = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'lifeguard-monitor:%'",
            &[],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    anyhow::ensure!(pids.len() == MONITORS, "{} monitor backends", pids.len());

    let (server_before, client_before) = (cpu_of(&pids)?, Usage::now());
    let samples_before = sample_count(data.path()).await?;
    let started = Instant::now();
    tokio::time::sleep(MEASURED).await;
    let wall = started.elapsed();
    let (server_used, client_used) = (
        cpu_of(&pids)?.saturating_sub(server_before),
        client_before.spent().own,
    );
    let samples = sample_count(data.path()).await? - samples_before;
    stop.cancel();
    for one in loops {
        one.await?;
    }
    // Every sample kept, compacted: the bytes a sample takes.
    let all_samples = sample_count(data.path()).await?;
    compact(&url).await?;
    let per_sample =
        store_bytes(data.path()).saturating_sub(empty_store) as f64 / all_samples.max(1) as f64;

    let samples_f = samples.max(1) as f64;
    let client_us = client_used.as_secs_f64() * 1e6 / samples_f;
    let server_us = server_used.as_secs_f64() * 1e6 / samples_f;
    let per_monitor_second = per_sample;
    println!(
        "{MONITORS} monitors at 1 s for {:.1} s: {samples} samples ({:.2} per monitor-second)",
        wall.as_secs_f64(),
        samples_f / MONITORS as f64 / wall.as_secs_f64()
    );
    println!(
        "console CPU for monitoring: {:.3} s = {:.2} % of one core; the monitors' backends on \
         the server: {:.3} s",
        client_used.as_secs_f64(),
        client_used.as_secs_f64() * 100.0 / wall.as_secs_f64(),
        server_used.as_secs_f64()
    );
    println!(
        "store: {per_monitor_second:.0} B a sample, {:.1} MB per monitor-day raw at 1 s ({:.1} MB \
         at the default 5 s)",
        per_monitor_second * 86_400.0 / 1e6,
        per_monitor_second * 86_400.0 / 5.0 / 1e6
    );

    fold_and_measure(store, data.path(), empty_store).await?;
    sandbox.stop().await;
    println!("monitor cost per sample: {client_us:.0} µs client, {server_us:.0} µs server");
    Ok(())
}

/// The monitors' loops, as the console starts them.
fn start(
    sandbox: &Sandbox,
    store: &Store,
    stop: &CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..MONITORS)
        .map(|i| {
            let watch = Watch::new(
                MonitorConfig {
                    target: format!("m{i:02}"),
                    interval_s: 1.0,
                    alerts: AlertSettings::default(),
                    notify: None,
                },
                sandbox.connect_config(),
                MonitoringConfig::default(),
                Outbox::default(),
                store.clone(),
            );
            tokio::spawn(watch.run(stop.clone()))
        })
        .collect()
}

/// Everything folded into minutes, then the file compacted: what the minutes cost.
async fn fold_and_measure(
    store: Store,
    dir: &std::path::Path,
    empty_store: u64,
) -> anyhow::Result<()> {
    let later = lifeguard::store::now_ms() + 120_000;
    let mut minutes = 0_u64;
    for i in 0..MONITORS {
        store.retain_monitor(&format!("m{i:02}"), later, 0).await?;
        minutes += store
            .monitor_minutes(&format!("m{i:02}"), 0, later)
            .await?
            .len() as u64;
    }
    store.close().await;
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("lifeguard.db").display()))
            .await?;
    let empty_rows: (i64,) = sqlx::query_as("SELECT count(*) FROM monitor_samples")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    compact(&format!("sqlite://{}", dir.join("lifeguard.db").display())).await?;
    let minute_bytes = store_bytes(dir).saturating_sub(empty_store);
    let per_row = minute_bytes as f64 / minutes.max(1) as f64;
    println!(
        "folded: {minutes} minute rows ({} raw left) take {minute_bytes} B over an empty store, \
         {per_row:.0} B a row: {:.2} MB per monitor-day of minutes (6 metrics × 1440)",
        empty_rows.0,
        per_row * 6.0 * 1440.0 / 1e6
    );
    Ok(())
}
