//! What `run` and `size` load, spelt the same on both command lines: the target, the suite, the
//! pool profile and its replicas, workload overrides, labels and the engine's threads.

use clap::Args;
use lifeguard_shared::run::{RunLabels, RunRequest};
use lifeguard_shared::sizing::Adjustment;
use lifeguard_shared::workload::AuthFlow;

use super::console::ServerArgs;

/// The target, suite, profile, workload and labels of a run.
#[derive(Debug, Args)]
pub struct Subject {
    /// `sandbox` (a throwaway PostgreSQL started here) or a target named in the configuration.
    #[arg(long, default_value = "sandbox")]
    pub target: String,
    /// Suite (built-in: auth-burst, auth-sustained).
    #[arg(long, default_value = "auth-burst")]
    pub suite: String,
    /// Pool profile (built-in: current, recommended-dev, recommended-prod).
    #[arg(long, default_value = "current")]
    pub profile: String,
    /// Application instances sharing the target, each with the profile's pools (default: the
    /// profile's `replicas`, 1 unless it says).
    #[arg(long, value_name = "N")]
    pub replicas: Option<u32>,
    /// Worker threads of the run's engine, 1–64 (default: the target's: 1 for a server on this
    /// machine, one per core for a remote one).
    #[arg(long, value_name = "N")]
    pub engine_threads: Option<u32>,
    /// Workload override, e.g. `--workload hold_ms=20 --workload sync_fallback=true`.
    #[arg(long = "workload", value_name = "KEY=VALUE")]
    workload: Vec<String>,
    /// Label, e.g. `--label environment=staging --label phase=post-deploy --label version=abc123`.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
}

impl Subject {
    /// The request, checked here so bad input fails before anything starts.
    pub fn request(&self) -> anyhow::Result<RunRequest> {
        let mut workload = AuthFlow::default();
        for assignment in &self.workload {
            workload.set(assignment)?;
        }
        let mut labels = RunLabels::default();
        for assignment in &self.labels {
            labels.set(assignment)?;
        }
        Ok(RunRequest {
            target: self.target.clone(),
            suite: self.suite.clone(),
            profile: self.profile.clone(),
            labels,
            workload,
            adjust: self.replicas.map(|replicas| Adjustment {
                replicas: Some(replicas),
                ..Adjustment::default()
            }),
            engine_threads: self.engine_threads,
        })
    }

    /// Whether the run needs a sandbox started here: a local `sandbox` or `demo` target.
    #[must_use]
    pub fn needs_local_sandbox(&self, server: &ServerArgs) -> bool {
        server.server.is_none() && matches!(self.target.as_str(), "sandbox" | "demo")
    }
}
