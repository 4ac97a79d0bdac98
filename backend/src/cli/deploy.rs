//! `lifeguard deploy mark` records a deployment on a target; `lifeguard deploy compare ID` judges
//! it by the target's own traffic (its monitor's samples after it against before), exit 2 when a
//! metric regressed — post-deployment validation without generating load.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::Subcommand;
use lifeguard_shared::compare::Verdict;
use lifeguard_shared::monitor::DeploymentRequest;

use super::EXIT_REGRESSED;
use super::console::{Console, ServerArgs};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Record a deployment of VERSION on TARGET, now (or at `--at-ms`); prints its id.
    Mark {
        #[arg(long)]
        target: String,
        #[arg(long)]
        version: String,
        #[arg(long, default_value = "")]
        notes: String,
        /// When it happened, milliseconds since the Unix epoch (default: now).
        #[arg(long)]
        at_ms: Option<u64>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Compare the traffic after deployment ID with as long a window before it; exit 2 when a
    /// metric regressed.
    Compare {
        id: String,
        /// Seconds each side spans (the side after ends now at the latest).
        #[arg(long, default_value_t = 1800.0)]
        window_s: f64,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn deploy(config: &Config, command: DeployCommand) -> anyhow::Result<ExitCode> {
    match command {
        DeployCommand::Mark {
            target,
            version,
            notes,
            at_ms,
            server,
        } => {
            let console = Console::open(config, &server, false).await?;
            let marked = console
                .mark_deployment(&DeploymentRequest {
                    target,
                    version,
                    notes,
                    at_ms,
                })
                .await;
            console.close().await;
            let deployment = marked?;
            println!(
                "deployment {} of `{}` on `{}` at {}",
                deployment.id, deployment.version, deployment.target, deployment.at_ms
            );
            Ok(ExitCode::SUCCESS)
        }
        DeployCommand::Compare {
            id,
            window_s,
            server,
        } => {
            if !(window_s.is_finite() && window_s > 0.0 && window_s <= 1e9) {
                bail!("invalid window_s: must be a positive number of seconds, got {window_s}");
            }
            let console = Console::open(config, &server, false).await?;
            let compared = console
                .deployment_comparison(&id, Duration::from_secs_f64(window_s))
                .await;
            console.close().await;
            let comparison = compared?;
            let d = &comparison.deployment;
            println!(
                "deployment {} of `{}` on `{}`: {} samples before, {} after",
                d.id, d.version, d.target, comparison.before.samples, comparison.after.samples
            );
            for metric in &comparison.metrics {
                let side =
                    |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| metric.metric.format(v));
                println!(
                    "  {:<28} {:>12} → {:<12} {}{}",
                    metric.metric.label(),
                    side(metric.base),
                    side(metric.head),
                    metric.verdict.name(),
                    metric
                        .p_value
                        .map_or_else(String::new, |p| format!(" (p {p:.4})"))
                );
            }
            println!("verdict: {}", comparison.verdict.name());
            Ok(if comparison.verdict == Verdict::Regressed {
                ExitCode::from(EXIT_REGRESSED)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
