//! The `lifeguard` command line: `serve` starts the console; `run` runs a suite (here or through
//! a console server) and judges it; `size` finds the pool a suite needs; `watch` samples a
//! target (its server, a service's pool) in the terminal; `compare` and `baseline` work on stored runs.

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command line talks to its terminal"
)]

mod compare;
mod console;
mod deploy;
mod junit;
mod run;
mod size;
mod subject;
mod table;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{App, shutdown_signal};
use crate::config::Config;

/// Exit code when a criterion failed.
pub const EXIT_CRITERIA_FAILED: u8 = 1;
/// Exit code when the run regressed against its baseline.
pub const EXIT_REGRESSED: u8 = 2;
/// Exit code when lifeguard could not run or complete (invalid input, unreachable or dying target).
pub const EXIT_COULD_NOT_RUN: u8 = 3;

/// Tells a team, with numbers, whether its PostgreSQL connection pool survives the next burst of logins.
#[derive(Debug, Parser)]
#[command(name = "lifeguard", version, about)]
struct Cli {
    /// TOML configuration file (defaults apply without one).
    #[arg(long, short, env = "LIFEGUARD_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the console: API, browser frontend and the sandbox target.
    Serve {
        /// Address to listen on, overriding the configuration (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// A built frontend (`trunk build` output) to serve instead of the one this binary carries.
        #[arg(long)]
        frontend_dir: Option<PathBuf>,
    },
    /// Run a suite against a target, print the verdicts, exit non-zero when a criterion fails.
    Run(run::RunArgs),
    /// Find the smallest pool that meets a suite's rules at its load and a headroom load, by
    /// real runs; print it as a profile. Exit 1 when no pool in range does.
    Size(size::SizeArgs),
    /// Sample a PostgreSQL target's server every few seconds and raise alerts as a monitor does;
    /// exit 1 when an alert stands as it stops.
    Watch(watch::WatchArgs),
    /// Compare two stored runs; exit 2 when the head regressed.
    Compare(compare::CompareArgs),
    /// Mark a deployment, or judge one by its traffic (exit 2 when a metric regressed).
    #[command(subcommand)]
    Deploy(deploy::DeployCommand),
    /// Set or list baselines.
    #[command(subcommand)]
    Baseline(compare::BaselineCommand),
}

/// Parses the command line, runs the command, and maps the outcome to an exit code.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let outcome = match cli.command {
        Command::Serve {
            listen,
            frontend_dir,
        } => serve(cli.config, listen, frontend_dir)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Run(args) => match Config::load(cli.config.as_deref()) {
            Ok(config) => run::run(&config, args).await,
            Err(error) => Err(error.into()),
        },
        Command::Size(args) => match Config::load(cli.config.as_deref()) {
            Ok(config) => size::size(&config, args).await,
            Err(error) => Err(error.into()),
        },
        Command::Watch(args) => match Config::load(cli.config.as_deref()) {
            Ok(config) => watch::watch(&config, args, &mut std::io::stdout()).await,
            Err(error) => Err(error.into()),
        },
        Command::Compare(args) => match Config::load(cli.config.as_deref()) {
            Ok(config) => compare::compare(&config, args).await,
            Err(error) => Err(error.into()),
        },
        Command::Deploy(command) => match Config::load(cli.config.as_deref()) {
            Ok(config) => deploy::deploy(&config, command).await,
            Err(error) => Err(error.into()),
        },
        Command::Baseline(command) => match Config::load(cli.config.as_deref()) {
            Ok(config) => compare::baseline(&config, command).await,
            Err(error) => Err(error.into()),
        },
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::from(EXIT_COULD_NOT_RUN)
        }
    }
}

async fn serve(
    config_file: Option<PathBuf>,
    listen: Option<SocketAddr>,
    frontend_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut config = Config::load(config_file.as_deref())?;
    config.listen = listen.unwrap_or(config.listen);
    if frontend_dir.is_some() {
        config.frontend_dir = frontend_dir;
    }
    // The command line's address passes the same rules as the file's.
    config.validate()?;
    let app = App::build(&config).await?;
    if config.local_mode() {
        tracing::info!(
            "lifeguard console on http://{} (local mode: no operator tokens, so loopback only \
             and everyone who reaches it is an operator)",
            app.local_addr()
        );
    } else {
        tracing::info!("lifeguard console on http://{}", app.local_addr());
    }
    app.run_until_stopped(shutdown_signal()).await?;
    Ok(())
}

/// Logs to stderr; `RUST_LOG` overrides the default level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
