//! `lifeguard run`: runs a suite from the command line, for people and deploy pipelines.
//!
//! Progress goes to stderr, the table to stdout, the JSON report to `--json FILE`. Exit codes:
//! 0 every criterion passed, 1 a criterion failed, 3 the run could not run or complete.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use lifeguard_shared::report::{RunReport, RunState};
use tokio::sync::mpsc;

use super::{EXIT_COULD_NOT_RUN, EXIT_CRITERIA_FAILED};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::runner::{self, Abort, Progress, RunPlan};
use crate::sandbox::Sandbox;

/// What to run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// `sandbox` (a throwaway PostgreSQL started here) or a target named in the configuration.
    #[arg(long, default_value = "sandbox")]
    target: String,
    /// Suite to run (built-in: auth-burst, auth-sustained).
    #[arg(long, default_value = "auth-burst")]
    suite: String,
    /// Pool profile (built-in: current, recommended-dev, recommended-prod).
    #[arg(long, default_value = "current")]
    profile: String,
    /// Workload override, e.g. `--workload hold_ms=20 --workload sync_fallback=true`.
    #[arg(long = "workload", value_name = "KEY=VALUE")]
    workload: Vec<String>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// No per-second progress on stderr.
    #[arg(long)]
    quiet: bool,
}

/// Runs and reports; returns the exit code.
pub async fn run(config: &Config, args: RunArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::from_config(config);
    let suite = catalog.suite(&args.suite)?;
    let profile = catalog.profile(&args.profile)?;
    let mut workload = lifeguard_shared::workload::AuthFlow::default();
    for assignment in &args.workload {
        workload.set(assignment)?;
    }
    let (target, sandbox) = if args.target == "sandbox" {
        let mut options = config.sandbox_options();
        options.max_connections = options.max_connections.max(profile.total_capacity() + 10);
        let sandbox = Sandbox::start(&options)
            .await
            .context("starting the sandbox target")?;
        (sandbox.connect_config(), Some(sandbox))
    } else {
        let configured = config
            .targets
            .iter()
            .find(|t| t.name == args.target)
            .with_context(|| {
                format!(
                    "`--target` names no known target: `{}` (known: {})",
                    args.target,
                    std::iter::once("sandbox")
                        .chain(config.targets.iter().map(|t| t.name.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        let target = configured
            .url
            .expose()
            .parse()
            .with_context(|| format!("the URL of target `{}`", configured.name))?;
        (target, None)
    };
    let plan = RunPlan {
        run_id: runner::new_run_id(),
        target_name: args.target.clone(),
        target,
        suite,
        profile,
        workload,
        instrumented: true,
    };
    let (progress_tx, progress_rx) = mpsc::channel(256);
    let printer = tokio::spawn(print_progress(progress_rx, args.quiet));
    let abort = Abort::new();
    let on_ctrl_c = {
        let abort = abort.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                abort.abort("cancelled (Ctrl-C)");
            }
        })
    };
    let outcome = runner::run(plan, Some(progress_tx), abort).await;
    on_ctrl_c.abort();
    let _printed = printer.await;
    if let Some(sandbox) = sandbox {
        sandbox.stop().await;
    }
    let report = outcome?.report;
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    print!("{}", super::table::render(&report));
    Ok(exit_code(&report))
}

fn exit_code(report: &RunReport) -> ExitCode {
    match report.state {
        RunState::Passed => ExitCode::SUCCESS,
        RunState::Failed => ExitCode::from(EXIT_CRITERIA_FAILED),
        _ => ExitCode::from(EXIT_COULD_NOT_RUN),
    }
}

fn write_json(path: &std::path::Path, report: &RunReport) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(report).context("encoding the report")?;
    std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
}

async fn print_progress(mut progress: mpsc::Receiver<Progress>, quiet: bool) {
    while let Some(message) = progress.recv().await {
        match message {
            Progress::Phase(name) => eprintln!("▸ {name}"),
            Progress::Second(s, _) if !quiet && s.requests > 0 => eprintln!(
                "  {:>4}s {:<10} {:>6} req  p95 {:>8.1} ms  errors {:>4}  checked out {:>3}  waiters {:>3}  backends {:>3}",
                s.t + 1,
                s.phase,
                s.requests,
                s.latency_p95_ms,
                s.errors,
                s.checked_out,
                s.waiters,
                s.server_backends
            ),
            Progress::Second(..) => {}
        }
    }
}
