//! `lifeguard run`: runs a suite for people and deploy pipelines, here or through a console
//! server, and judges it against its criteria and, with `--baseline`, against the baseline.
//!
//! Progress goes to stderr; the verdict table, the comparison and the view's link to stdout; the
//! report to `--json`, JUnit XML to `--junit`. Exit codes: 0 pass, 1 a criterion failed, 2
//! regressed against the baseline, 3 could not run or complete. When several apply, the lowest
//! of 3, 1, 2 in that order wins: a run that could not complete says nothing else for certain.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use lifeguard_shared::compare::{Comparison, Verdict};
use lifeguard_shared::event::RunEvent;
use lifeguard_shared::report::{RunReport, RunState};
use lifeguard_shared::run::RunRequest;

use super::console::{Console, ServerArgs};
use super::subject::Subject;
use super::{EXIT_COULD_NOT_RUN, EXIT_CRITERIA_FAILED, EXIT_REGRESSED, junit, table};
use crate::config::Config;
use crate::service::BaseRef;

/// What to run.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    subject: Subject,
    /// Compare with this baseline; exit 2 when the run regressed against it.
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// Make this run the baseline NAME when it passed (and did not regress).
    #[arg(long, value_name = "NAME")]
    set_baseline: Option<String>,
    /// Write the JSON report (with its per-second series) here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write JUnit XML here: a test case per criterion and per compared metric.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// No per-second progress on stderr.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// Runs, reports, compares; returns the exit code.
pub async fn run(config: &Config, args: RunArgs) -> anyhow::Result<ExitCode> {
    let request = args.subject.request()?;
    if let Some(name) = args.set_baseline.as_deref().or(args.baseline.as_deref()) {
        crate::api::check_baseline_name(name)?;
    }
    // A local sandbox is started as configured (`sandbox.max_connections`): a profile that can
    // open more connections than it gives is a finding (the report's connection budget), not
    // something to hide by enlarging the server.
    let sandbox = args.subject.needs_local_sandbox(&args.server);
    let console = Console::open(config, &args.server, sandbox).await?;
    let outcome = judge(&console, &args, &request).await;
    console.close().await;
    outcome
}

async fn judge(
    console: &Console,
    args: &RunArgs,
    request: &RunRequest,
) -> anyhow::Result<ExitCode> {
    let id = console.submit(request).await?;
    eprintln!("run {id} queued");
    let quiet = args.quiet;
    console
        .follow(&id, |event| print_event(event, quiet))
        .await?;
    let detail = console.detail(&id, args.json.is_some()).await?;
    let Some(report) = detail.report else {
        eprintln!(
            "run {id} ended {} without a report: {}",
            detail.summary.state.as_str(),
            detail.summary.error.unwrap_or_default()
        );
        return Ok(ExitCode::from(EXIT_COULD_NOT_RUN));
    };
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).context("encoding the report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    print!("{}", table::render(&report));
    let comparison = match &args.baseline {
        Some(name) if report.state != RunState::Aborted => {
            let found = console
                .compare(&BaseRef::Baseline(name.clone()), &id)
                .await?;
            match &found {
                Some(comparison) => print!("{}", table::render_comparison(comparison)),
                None => println!("no baseline `{name}` yet: nothing to compare with"),
            }
            found
        }
        _ => None,
    };
    let link = comparison.as_ref().map_or_else(
        || console.link(&format!("/runs/{id}")),
        |c| console.link(&format!("/compare/{}/{}", c.base.id, c.head.id)),
    );
    println!("view: {link}");
    if let Some(path) = &args.junit {
        std::fs::write(path, junit::render(&report, comparison.as_ref()))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let code = exit_code(&report, comparison.as_ref());
    if let Some(name) = &args.set_baseline {
        if code == 0 {
            console.set_baseline(name, &id).await?;
            println!("baseline `{name}` now points to run {id}");
        } else {
            println!("baseline `{name}` left as it was: this run did not pass cleanly");
        }
    }
    Ok(ExitCode::from(code))
}

fn exit_code(report: &RunReport, comparison: Option<&Comparison>) -> u8 {
    match report.state {
        RunState::Passed if comparison.is_some_and(|c| c.verdict == Verdict::Regressed) => {
            EXIT_REGRESSED
        }
        RunState::Passed => 0,
        RunState::Failed => EXIT_CRITERIA_FAILED,
        _ => EXIT_COULD_NOT_RUN,
    }
}

fn print_event(event: &RunEvent, quiet: bool) {
    match event {
        RunEvent::Phase(phase) => eprintln!("▸ {}", phase.name),
        RunEvent::Progress(s) if !quiet && s.requests > 0 => eprintln!(
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
        RunEvent::Verdict(verdict) => eprintln!(
            "■ {}{}",
            verdict.state.as_str(),
            verdict
                .error
                .as_ref()
                .map(|e| format!(" — {e}"))
                .unwrap_or_default()
        ),
        _ => {}
    }
}
