//! Two stored one-hour runs for benchmarks: real `auth-sustained` runs (a base, and a head with
//! 5 ms more hold per request) measured on a sandbox for a few seconds per scenario, then
//! stretched to one hour by repeating their measured seconds, blocks and histograms (900 seconds
//! per scenario) and stored like any run. Measuring an hour twice would take two; what the
//! benchmarks time (reading, comparing, drawing an hour) depends on its size, not its variety.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use lifeguard::config::Config;
use lifeguard::runner::{Abort, RunOutput, RunPlan, new_run_id, run};
use lifeguard::sandbox::{Sandbox, SandboxOptions};
use lifeguard::store::{NewRun, Store, now_ms};
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::run::RunLabels;
use lifeguard_shared::suite::Suite;
use lifeguard_shared::workload::AuthFlow;

/// Seconds per scenario in a stored run.
pub const SECONDS_PER_SCENARIO: u32 = 900;
/// Seconds per scenario actually measured (then repeated).
pub const MEASURED_PER_SCENARIO: f64 = 4.0;
/// The stored runs' ids.
pub const BASE: &str = "base-hour";
pub const HEAD: &str = "head-hour";

/// Measures two auth-sustained runs on a sandbox and stores them, an hour each, as `base-hour`
/// and `head-hour` in the default store under `data_dir`.
pub async fn store_two_hours(data_dir: &Path) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(&SandboxOptions {
        max_connections: 120,
        ..SandboxOptions::default()
    })
    .await?;
    let base = measure(&sandbox, &[]).await?;
    let head = measure(&sandbox, &["hold_ms=5"]).await?;
    sandbox.stop().await;
    let store_url = Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    }
    .store_url();
    let store = Store::open(&store_url).await?;
    store_hour(&store, BASE, &base).await?;
    store_hour(&store, HEAD, &head).await?;
    store.close().await;
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
        target: sandbox.connect_config().into(),
        suite: Suite {
            recovery: None,
            ..Suite::auth_sustained(MEASURED_PER_SCENARIO)
        },
        profile,
        workload,
        instrumented: true,
        max_duration: lifeguard::config::GuardRails::default().max_duration(),
        engine_threads: 1,
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
