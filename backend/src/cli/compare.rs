//! `lifeguard compare BASE HEAD` and `lifeguard baseline set|list`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use lifeguard_shared::compare::Verdict;

use super::console::{Console, ServerArgs};
use super::{EXIT_REGRESSED, table};
use crate::config::Config;
use crate::service::BaseRef;

/// Compare two runs.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The base run's id (or `baseline:NAME`).
    base: String,
    /// The run to judge.
    head: String,
    /// Write the comparison as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// Baselines.
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Point baseline NAME at run RUN.
    Set {
        name: String,
        run: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Every baseline and the run it points to.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Exit 2 when HEAD regressed against BASE, else 0.
pub async fn compare(config: &Config, args: CompareArgs) -> anyhow::Result<ExitCode> {
    let console = Console::open(config, &args.server, false).await?;
    let base = args.base.strip_prefix("baseline:").map_or_else(
        || BaseRef::Run(args.base.clone()),
        |name| BaseRef::Baseline(name.to_owned()),
    );
    let outcome = console.compare(&base, &args.head).await;
    // The view names runs, never baselines: a baseline moves, a link must not.
    let link = outcome
        .as_ref()
        .ok()
        .and_then(Option::as_ref)
        .map(|c| console.link(&format!("/compare/{}/{}", c.base.id, c.head.id)));
    console.close().await;
    let comparison = outcome?.with_context(|| format!("no baseline `{}`", args.base))?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&comparison)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print!("{}", table::render_comparison(&comparison));
    if let Some(link) = link {
        println!("view: {link}");
    }
    Ok(if comparison.verdict == Verdict::Regressed {
        ExitCode::from(EXIT_REGRESSED)
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn baseline(config: &Config, command: BaselineCommand) -> anyhow::Result<ExitCode> {
    match command {
        BaselineCommand::Set { name, run, server } => {
            let console = Console::open(config, &server, false).await?;
            let outcome = console.set_baseline(&name, &run).await;
            console.close().await;
            let baseline = outcome?;
            println!(
                "baseline `{}` ({} / {}) now points to run {}",
                baseline.name, baseline.target, baseline.environment, baseline.run_id
            );
        }
        BaselineCommand::List { server } => {
            let console = Console::open(config, &server, false).await?;
            let outcome = console.baselines().await;
            console.close().await;
            for baseline in outcome? {
                println!(
                    "{:<24} {:<12} {:<12} run {}  ({} changes)",
                    baseline.name,
                    baseline.target,
                    baseline.environment,
                    baseline.run_id,
                    baseline.history.len()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
