//! `lifeguard size`: the smallest pool that meets a suite's rules at its load and at a headroom
//! load, found by a sweep of real runs ([`crate::sizing`]), here or through a console server.
//! Each point's run is stored, so its view and comparisons work as for any run.
//!
//! Progress goes to stderr; the points, the recommendation as TOML for the configuration and
//! Little's law beside it to stdout; the whole sizing to `--json`. Exit codes: 0 a size was found,
//! 1 no pool in range meets the rules (or the budget of runs ran out first), 3 could not run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;
use lifeguard_shared::event::RunEvent;
use lifeguard_shared::metric::ms;
use lifeguard_shared::pool::PoolProfile;
use lifeguard_shared::run::RunRequest;
use lifeguard_shared::sizing::{
    Budget, DEFAULT_MAX_POINTS, Sizing, SizingPoint, SizingRequest, service_environment,
};
use serde::Serialize;

use super::EXIT_CRITERIA_FAILED;
use super::console::{Console, ServerArgs};
use super::subject::Subject;
use crate::config::Config;
use crate::sizing::{SweepPlan, check, grid, grid_points, sweep};

/// What to size.
#[derive(Debug, Args)]
pub struct SizeArgs {
    /// Where and what (`--profile` is the profile to start from: its secondary pool, recycling
    /// and checks are kept).
    #[command(flatten)]
    subject: Subject,
    /// The load factor the plan must also survive (the analysis asks for 3× headroom).
    #[arg(long, default_value_t = 3.0)]
    headroom: f64,
    /// The primary pool's timeout at every point and in the recommendation, in seconds
    /// (default: the profile's).
    #[arg(long, value_name = "SECONDS")]
    pool_timeout_s: Option<f64>,
    /// The analysis's formula's "base concurrent requests", to set the answer beside (default:
    /// the heaviest scenario's concurrent users).
    #[arg(long, value_name = "N")]
    base_concurrency: Option<u32>,
    /// Check this profile instead of searching: it and one kept connection fewer, each at the
    /// suite's load and the headroom. Exit 0 when the profile passes, 1 when it does not; the
    /// output says whether it is the smallest that passes.
    #[arg(long, value_name = "PROFILE")]
    check: Option<String>,
    /// Measure every size from 1 up at both loads, once each, instead of searching: the reference
    /// for the adaptive search (`cargo bench -p lifeguard --bench sizing_points`).
    #[arg(long, conflicts_with = "check")]
    grid: bool,
    /// Most runs the sweep may make; a sweep that could need more is refused before it starts.
    #[arg(long, default_value_t = DEFAULT_MAX_POINTS)]
    max_points: u32,
    /// Write the sizing (every point, the recommendation) as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

impl SizeArgs {
    /// The sizing these arguments ask for, as `POST /api/sizings` takes it.
    fn request(&self) -> anyhow::Result<SizingRequest> {
        let run = self.subject.request()?;
        Ok(SizingRequest {
            target: run.target,
            suite: run.suite,
            profile: self.check.clone().unwrap_or(run.profile),
            labels: run.labels,
            workload: run.workload,
            headroom: self.headroom,
            pool_timeout_s: self.pool_timeout_s,
            replicas: self.subject.replicas,
            max_points: self.max_points,
            base_concurrency: self.base_concurrency,
        })
    }
}

/// Sizes, prints, returns the exit code.
pub async fn size(config: &Config, args: SizeArgs) -> anyhow::Result<ExitCode> {
    let request = args.request()?;
    let sandbox = args.subject.needs_local_sandbox(&args.server);
    let console = Console::open(config, &args.server, sandbox).await?;
    let outcome = sweep_and_print(&console, &args, &request).await;
    console.close().await;
    outcome
}

async fn sweep_and_print(
    console: &Console,
    args: &SizeArgs,
    request: &SizingRequest,
) -> anyhow::Result<ExitCode> {
    let (target, suite_name, profile_name) = (&request.target, &request.suite, &request.profile);
    let (suite, profile) = console.suite_and_profile(suite_name, profile_name).await?;
    let mut plan = SweepPlan::for_request(request, suite, profile)?;
    let probe = console
        .probe(target)
        .await
        .context("reading the server's connection budget before the first run")?;
    plan.budget = Budget::of(&probe.server(), &plan.profile);
    let run_point = |adjust| measure(console, request.point(adjust));
    if args.check.is_some() {
        eprintln!(
            "checking `{profile_name}` with `{suite_name}` on `{target}` at 1× and {}×, and one \
             connection fewer",
            plan.headroom
        );
        let (sizing, passed) = check(&plan, run_point).await?;
        return finish(console, args, &sizing, passed);
    }
    if args.grid {
        let runs = grid_points(&plan);
        if runs > plan.max_points {
            bail!(
                "invalid max_points: a grid of this suite takes {runs} runs, above the budget of {}",
                plan.max_points
            );
        }
        let sizing = grid(&plan, run_point).await?;
        let found = sizing.at_load.is_some() && sizing.at_headroom.is_some();
        return finish(console, args, &sizing, found);
    }
    plan.check_budget()?;
    eprintln!(
        "sizing `{suite_name}` on `{target}` from profile `{profile_name}`: pools up to {} at 1× \
         and {} at {}× (at most {} runs)",
        plan.largest(1.0),
        plan.largest(plan.headroom),
        plan.headroom,
        plan.worst_case_points()
    );
    let sizing = sweep(&plan, run_point).await?;
    let found = sizing.recommendation.is_some();
    finish(console, args, &sizing, found)
}

/// Writes the JSON, prints the sizing; exit 0 when `ok`, else 1.
fn finish(
    console: &Console,
    args: &SizeArgs,
    sizing: &Sizing,
    ok: bool,
) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&sizing).context("encoding the sizing")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    print!("{}", render(sizing));
    println!("Every point is a stored run: {}RUN", console.link("/runs/"));
    Ok(ExitCode::from(if ok { 0 } else { EXIT_CRITERIA_FAILED }))
}

/// Runs one point to its end; a run that could not run at all ends the sweep.
async fn measure(console: &Console, request: RunRequest) -> anyhow::Result<SizingPoint> {
    let adjust = request.adjust.clone().unwrap_or_default();
    let (size, factor) = (
        adjust.pool_size.unwrap_or_default(),
        adjust.load_factor.unwrap_or(1.0),
    );
    let id = console.submit(&request).await?;
    console
        .follow(&id, |event| {
            if let RunEvent::Verdict(verdict) = event {
                eprintln!(
                    "  pool {size:>3} + {} at {factor}×: {} (run {id})",
                    adjust.max_overflow.unwrap_or_default(),
                    verdict.state.as_str()
                );
            }
        })
        .await?;
    let detail = console.detail(&id, false).await?;
    let Some(report) = detail.report else {
        bail!(
            "run {id} (pool {size} at {factor}×) ended {} without a report: {}",
            detail.summary.state.as_str(),
            detail.summary.error.unwrap_or_default()
        );
    };
    Ok(SizingPoint::measured(factor, &id, &report))
}

/// The points as a table, the verdict, the recommended profile as TOML and Little's law.
#[must_use]
pub fn render(sizing: &Sizing) -> String {
    let mut out = format!(
        "{:>9} {:>6} {:<8} {:>10} {:>12} {:>11}  {:<12}  failed\n",
        "pool", "load", "state", "p95", "wait p95", "req/s", "run"
    );
    for p in &sizing.points {
        let or_dash = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(|| "–".into(), f);
        let _ = writeln!(
            out,
            "{:>9} {:>5}× {:<8} {:>10} {:>12} {:>11}  {:<12}  {}",
            format!("{} + {}", p.pool_size, p.max_overflow),
            p.load_factor,
            p.state.as_str(),
            or_dash(p.p95_ms, ms),
            or_dash(p.acquire_wait_p95_ms, ms),
            or_dash(p.throughput_rps, |v| format!("{v:.0}")),
            p.run_id,
            p.failed.join(", ")
        );
    }
    let _ = writeln!(out, "\n{}", sizing.summary);
    if let (Some(little), Some(at_load)) = (&sizing.little, sizing.at_load) {
        let replicas = sizing.replicas.max(1);
        let pool = if replicas > 1 {
            format!(
                "{at_load} in each of {replicas} replicas ({})",
                at_load * replicas
            )
        } else {
            at_load.to_string()
        };
        let _ = writeln!(
            out,
            "Little's law at the suite's load: {:.0} req/s × {} held = {:.1} connections busy on \
             average; the smallest passing pool, {pool}, {} it",
            little.arrival_rps,
            ms(little.hold_ms),
            little.connections,
            if little.covered_by(at_load, replicas) {
                "covers"
            } else {
                "does NOT cover"
            }
        );
    }
    if let Some(formula) = &sizing.formula {
        let _ = writeln!(
            out,
            "The analysis's formula: {} sync, {} async. {}",
            formula.pool_size, formula.async_pool_size, formula.explanation
        );
    }
    if let Some(profile) = &sizing.recommendation {
        out.push_str("\n# lifeguard size: paste into the configuration file\n");
        out.push_str(&profile_toml(profile));
        out.push_str("# end of the profile\n");
        let _ = writeln!(
            out,
            "# the same for the analysed service (examples/auth-service reads these):\n{}",
            service_environment(profile)
        );
    }
    out
}

/// `profile` as the configuration file's `[[profiles]]` entry.
#[must_use]
pub fn profile_toml(profile: &PoolProfile) -> String {
    #[derive(Serialize)]
    struct File<'a> {
        profiles: [&'a PoolProfile; 1],
    }
    toml::to_string(&File {
        profiles: [profile],
    })
    .unwrap_or_else(|error| format!("# could not write the profile as TOML: {error}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail's closures must return figment::Error"
    )]
    fn the_printed_profile_reads_back_as_the_same_profile() {
        let mut profile = PoolProfile::built_in().remove(0);
        profile.name = "current-sized".into();
        profile.primary.pool_size = 13;
        profile.primary.max_overflow = 28;
        let text = profile_toml(&profile);
        // In a jail: other tests set `LIFEGUARD_*` variables, which the loader reads too.
        figment::Jail::expect_with(|jail| {
            jail.create_file("lifeguard.toml", &text)?;
            let config = Config::load(Some(std::path::Path::new("lifeguard.toml"))).unwrap();
            assert_eq!(config.profiles, vec![profile.clone()], "{text}");
            Ok(())
        });
    }
}
