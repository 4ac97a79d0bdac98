//! Runs as the API keeps them: labels, what to run, and what a list or detail view shows.

use serde::{Deserialize, Serialize};

use crate::invalid::Invalid;
use crate::report::{RunReport, RunState};
use crate::sizing::Adjustment;
use crate::workload::AuthFlow;

/// When in a deployment a run was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployPhase {
    PreDeploy,
    PostDeploy,
    #[default]
    AdHoc,
    /// A point of a sizing sweep (`lifeguard size`): its load or pool was changed on purpose, so
    /// it is kept out of sparklines and "compare the latest run".
    Sizing,
}

impl DeployPhase {
    /// Every phase, in the order filters offer them.
    pub const ALL: [Self; 4] = [Self::PreDeploy, Self::PostDeploy, Self::AdHoc, Self::Sizing];
    /// The phases a person gives a run they trigger.
    pub const TRIGGERED: [Self; 3] = [Self::PreDeploy, Self::PostDeploy, Self::AdHoc];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreDeploy => "pre-deploy",
            Self::PostDeploy => "post-deploy",
            Self::AdHoc => "ad-hoc",
            Self::Sizing => "sizing",
        }
    }

    /// Parses the wire spelling; the error names the field and the allowed values.
    pub fn parse(field: &str, value: &str) -> Result<Self, Invalid> {
        match value {
            "pre-deploy" => Ok(Self::PreDeploy),
            "post-deploy" => Ok(Self::PostDeploy),
            "ad-hoc" => Ok(Self::AdHoc),
            "sizing" => Ok(Self::Sizing),
            _ => Err(Invalid::new(
                field,
                format!("must be pre-deploy, post-deploy, ad-hoc or sizing, got `{value}`"),
            )),
        }
    }
}

/// Labels a team puts on a run to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunLabels {
    /// e.g. `dev`, `staging`, `prod`; baselines are per target and environment.
    pub environment: String,
    pub phase: DeployPhase,
    /// Version or commit of what was deployed.
    pub version: String,
    pub notes: String,
}

impl RunLabels {
    /// Short, printable labels: environment and version at most 100 characters, notes 2000.
    pub fn validate(&self) -> Result<(), Invalid> {
        let check = |field: &str, value: &str, max: usize| {
            if value.chars().count() > max {
                Err(Invalid::new(
                    field,
                    format!("must be at most {max} characters"),
                ))
            } else if value.chars().any(|c| c.is_control() && c != '\n') {
                Err(Invalid::new(field, "must not contain control characters"))
            } else {
                Ok(())
            }
        };
        check("labels.environment", &self.environment, 100)?;
        check("labels.version", &self.version, 100)?;
        check("labels.notes", &self.notes, 2000)
    }

    /// Applies one `KEY=VALUE` (`environment`, `phase`, `version`, `notes`).
    pub fn set(&mut self, assignment: &str) -> Result<(), Invalid> {
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(Invalid::new(
                "label",
                format!("expects KEY=VALUE, got `{assignment}`"),
            ));
        };
        let value = value.trim().to_owned();
        match key.trim() {
            "environment" | "env" => self.environment = value,
            "phase" => self.phase = DeployPhase::parse("labels.phase", &value)?,
            "version" => self.version = value,
            "notes" => self.notes = value,
            other => {
                return Err(Invalid::new(
                    format!("labels.{other}"),
                    "is not a label (known: environment, phase, version, notes)",
                ));
            }
        }
        self.validate()
    }
}

/// `POST /api/runs`: what to run. Names refer to the console's configuration; nothing here can
/// point the console at a new host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    pub target: String,
    #[serde(default = "default_suite")]
    pub suite: String,
    #[serde(default = "default_profile")]
    pub profile: String,
    #[serde(default)]
    pub labels: RunLabels,
    #[serde(default)]
    pub workload: AuthFlow,
    /// The primary pool's size and the load's factor changed for this run (a sizing sweep's
    /// point); absent, the named suite and profile run as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjust: Option<Adjustment>,
    /// Worker threads of the run's engine (1–64); absent, the target's (its configuration's, or
    /// 1 for a server on this machine and one per core for a remote one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_threads: Option<u32>,
}

/// Most worker threads a run's engine may have.
pub const MAX_ENGINE_THREADS: u32 = 64;

/// `engine_threads` must be 1 to [`MAX_ENGINE_THREADS`].
pub fn check_engine_threads(field: &str, threads: u32) -> Result<(), crate::invalid::Invalid> {
    crate::invalid::at_least(field, threads, 1)?;
    if threads > MAX_ENGINE_THREADS {
        return Err(crate::invalid::Invalid::new(
            field,
            format!("must be at most {MAX_ENGINE_THREADS}, got {threads}"),
        ));
    }
    Ok(())
}

/// The suite a request that names none runs (`POST /api/runs`, sizings, schedules).
#[must_use]
pub fn default_suite() -> String {
    "auth-burst".into()
}

/// The pool profile a request that names none uses.
#[must_use]
pub fn default_profile() -> String {
    "current".into()
}

/// `POST /api/runs` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCreated {
    pub id: String,
}

/// One run in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub target: String,
    pub suite: String,
    pub profile: String,
    pub state: RunState,
    pub passed: Option<bool>,
    pub labels: RunLabels,
    /// Unix milliseconds.
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    /// P95 latency of the heaviest scenario (the last one), for sparklines across runs.
    pub p95_ms: Option<f64>,
    pub error: Option<String>,
}

/// `GET /api/runs/{id}`: the summary plus the engine's report (without the per-second series,
/// which `/series` serves) once there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub summary: RunSummary,
    pub report: Option<RunReport>,
}

/// A page of runs, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPage {
    pub runs: Vec<RunSummary>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

/// A named pointer to the run that counts as known good, per target and environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub name: String,
    pub target: String,
    pub environment: String,
    pub run_id: String,
    /// Unix milliseconds of the last change.
    pub updated_at: u64,
    /// Every change, newest first.
    pub history: Vec<BaselineChange>,
}

/// One change of a baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineChange {
    pub run_id: String,
    pub previous_run_id: Option<String>,
    pub set_at: u64,
    /// Who set it: `operator`, `cli` or a token's name; never the token.
    pub set_by: String,
}

/// `PUT /api/baselines/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetBaseline {
    pub run_id: String,
}

/// A target as the API shows it: never its URL or password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub name: String,
    /// `sandbox`, `postgres` or `http`.
    pub kind: String,
    /// Host, port and database, or a service's address, without credentials.
    pub description: String,
    /// What lifeguard reads of the target while it loads it: its own pools' every checkout, or
    /// the gauges a service's metrics provide; the server's backends when it can see them.
    #[serde(default)]
    pub provides: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_request_needs_only_a_target() {
        let request: RunRequest = serde_json::from_str(r#"{"target":"sandbox"}"#).unwrap();
        assert_eq!(request.suite, "auth-burst");
        assert_eq!(request.profile, "current");
        assert_eq!(request.labels.phase, DeployPhase::AdHoc);
    }

    #[test]
    fn a_run_request_cannot_carry_a_url_or_unknown_keys() {
        let error = serde_json::from_str::<RunRequest>(
            r#"{"target":"sandbox","url":"postgres://evil/db"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("unknown field `url`"), "{error}");
    }

    #[test]
    fn labels_parse_from_the_command_line() {
        let mut labels = RunLabels::default();
        labels.set("environment=staging").unwrap();
        labels.set("phase=post-deploy").unwrap();
        labels.set("version=abc123").unwrap();
        assert_eq!(labels.phase, DeployPhase::PostDeploy);
        let error = labels.set("phase=later").unwrap_err().to_string();
        assert!(
            error.starts_with("`labels.phase` must be pre-deploy"),
            "{error}"
        );
        assert!(labels.set("colour=red").is_err());
        for phase in DeployPhase::ALL {
            assert_eq!(DeployPhase::parse("phase", phase.as_str()), Ok(phase));
        }
        assert!(!DeployPhase::TRIGGERED.contains(&DeployPhase::Sizing));
    }
}

/// One point of a latency percentile curve (HdrHistogram style).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PercentilePoint {
    /// 0..=100.
    pub percentile: f64,
    pub latency_ms: f64,
}

/// A phase's latency distribution, merged from its per-second histograms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseDistribution {
    pub name: String,
    pub requests: u64,
    pub points: Vec<PercentilePoint>,
}

/// `GET /api/runs/{id}/histograms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyDistribution {
    pub phases: Vec<PhaseDistribution>,
}

/// `GET /api/runs/{id}/series`: one row per point. Short runs come in 100 ms buckets, others in
/// seconds; long runs are downsampled server-side.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Milliseconds each point covers: point `t` covers `[t, t + 1) × resolution_ms` of the run
    /// (100 for a short run's buckets, 1000 for seconds, a multiple of 1000 when downsampled).
    pub resolution_ms: u32,
    pub points: Vec<crate::report::SecondSample>,
}

impl Series {
    /// Seconds each point covers.
    #[must_use]
    pub fn point_s(&self) -> f64 {
        f64::from(self.resolution_ms.max(1)) / 1000.0
    }
}

/// What the caller may do (`GET /api/me`), so the console shows only what works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// `operator`, `viewer` or `none`.
    pub role: String,
    /// No operator tokens are configured: everyone on loopback is an operator.
    pub local_mode: bool,
}

/// `POST /api/share`: what to share read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// A run id, or…
    #[serde(default)]
    pub run: Option<String>,
    /// …a comparison of two run ids.
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub head: Option<String>,
    /// Seconds until the link stops working; never when absent.
    #[serde(default)]
    pub expires_in_s: Option<u64>,
}

/// A signed, read-only link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareLink {
    pub token: String,
    /// The console path to open, with the token in its query.
    pub path: String,
    /// Unix milliseconds after which the link stops working.
    pub expires_at: Option<u64>,
}
