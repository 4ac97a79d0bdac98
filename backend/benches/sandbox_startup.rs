//! Sandbox start-up time: `cargo bench -p lifeguard --bench sandbox_startup`.
//!
//! Starts and stops a sandbox several times and prints each start, the median, and the median's
//! ratio to the 3 s goal. As the reference in the same invocation, it times a bare `initdb` of the
//! same binaries (interleaved with the starts): most of a sandbox start is that `initdb`.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::time::{Duration, Instant};

use lifeguard::sandbox::{Sandbox, SandboxOptions, ServerBinaries};

const STARTS: usize = 5;
const GOAL: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = SandboxOptions::default();
    let mut starts = Vec::with_capacity(STARTS);
    let mut stops = Vec::with_capacity(STARTS);
    let mut references = Vec::with_capacity(STARTS);
    for round in 1..=STARTS {
        // Interleaved with the sandbox starts so both see the same machine load.
        references.push(bare_initdb(&options)?);
        let started = Instant::now();
        let sandbox = Sandbox::start(&options).await?;
        let start = started.elapsed();
        let stopping = Instant::now();
        sandbox.stop().await;
        let stop = stopping.elapsed();
        println!(
            "start {round}: {:>7.0} ms   stop: {:>5.0} ms",
            ms(start),
            ms(stop)
        );
        starts.push(start);
        stops.push(stop);
    }
    let reference = median(&mut references);
    let start = median(&mut starts);
    let stop = median(&mut stops);
    println!("median bare initdb (reference): {:>7.0} ms", ms(reference));
    println!(
        "median start: {:>7.0} ms   median stop: {:>5.0} ms",
        ms(start),
        ms(stop)
    );
    println!(
        "sandbox start / bare initdb: {:.2}",
        start.as_secs_f64() / reference.as_secs_f64()
    );
    println!(
        "sandbox start / 3 s goal: {:.2}",
        start.as_secs_f64() / GOAL.as_secs_f64()
    );
    Ok(())
}

/// One `initdb --no-sync` as the current user into a throwaway directory (as root, as `postgres`).
fn bare_initdb(options: &SandboxOptions) -> anyhow::Result<Duration> {
    let binaries = ServerBinaries::discover(options.pg_bin.as_deref())
        .map_err(|looked| anyhow::anyhow!("no PostgreSQL binaries in {looked:?}"))?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut command = std::process::Command::new("runuser");
    if nix::unistd::Uid::effective().is_root() {
        std::process::Command::new("chown")
            .args(["postgres"])
            .arg(dir.path())
            .status()?;
        command
            .args(["-u", "postgres", "--"])
            .arg(binaries.initdb());
    } else {
        command = std::process::Command::new(binaries.initdb());
    }
    command
        .arg("-D")
        .arg(&data)
        .args(["--no-sync", "--locale=C", "-E", "UTF8", "-U", "bench"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let started = Instant::now();
    let status = command.status()?;
    let took = started.elapsed();
    anyhow::ensure!(status.success(), "bare initdb failed: {status}");
    Ok(took)
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
