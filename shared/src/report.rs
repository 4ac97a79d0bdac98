//! A run's report: the JSON contract deploy pipelines read (`lifeguard run --json`), and what the
//! API and the console show. Field names here are a contract: add, never rename.

use serde::{Deserialize, Serialize};

use crate::metric::Metric;
use crate::pool::PoolProfile;
use crate::workload::AuthFlow;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Queued,
    Running,
    /// Finished; every criterion passed.
    Passed,
    /// Finished; at least one criterion failed.
    Failed,
    /// Stopped early: cancelled, or the target died. Measurements so far are kept.
    Aborted,
    /// The console stopped while the run was going; found so on restart.
    Interrupted,
}

impl RunState {
    /// The spelling on the wire and in the store (what serde writes).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::Interrupted => "interrupted",
        }
    }

    /// No further change will happen.
    #[must_use]
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Time spent waiting for a connection, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaitSummary {
    pub mean: f64,
    pub p95: f64,
    pub max: f64,
}

/// How requests ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub ok: u64,
    /// No connection within `pool_timeout` (SQLAlchemy's "QueuePool limit … reached").
    pub pool_timeout: u64,
    /// The server refused a new connection ("too many clients already").
    pub refused: u64,
    /// A new connection could not be opened for another reason (server down, network).
    pub connect_error: u64,
    /// A statement failed on an open connection.
    pub db_error: u64,
    /// The workload's simulated application error (`error_rate`).
    pub app_error: u64,
    /// The application error path that never returned its connection (`leak_on_error`).
    pub leaked: u64,
    /// Arrivals dropped because `max_in_flight` requests were already in flight (open model).
    pub dropped: u64,
    /// An HTTP service answered 4xx (wrong credentials, a token it does not know…).
    #[serde(default)]
    pub http_4xx: u64,
    /// An HTTP service answered 5xx (its pool timed out, it failed).
    #[serde(default)]
    pub http_5xx: u64,
    /// An HTTP service did not answer within the target's request timeout.
    #[serde(default)]
    pub timeout: u64,
}

impl OutcomeCounts {
    /// Every request counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.ok
            + self.pool_timeout
            + self.refused
            + self.connect_error
            + self.db_error
            + self.app_error
            + self.leaked
            + self.dropped
            + self.http_4xx
            + self.http_5xx
            + self.timeout
    }
}

/// What the primary pool went through during a scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolSummary {
    pub peak_checked_out: u32,
    pub peak_overflow: u32,
    pub peak_waiters: u32,
    /// Peak checked-out over capacity (`pool_size + max_overflow`), 0..=1.
    pub peak_utilization: f64,
    pub connections_created: u64,
    pub connections_closed: u64,
    /// Connections created per second of the scenario.
    pub churn_per_s: f64,
    /// Most connections created within one second.
    pub peak_churn_per_s: f64,
    /// Checkouts that found the pool at capacity and had to queue.
    pub exhaustion_events: u64,
    /// Checkouts that gave up after `pool_timeout`.
    pub timeouts: u64,
    /// Connections created by the secondary ("sync") pool, when it exists.
    pub secondary_connections_created: u64,
}

/// One pass/fail rule applied to one measured value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionResult {
    /// `success_rate`, `mean_latency_ms`, `p95_latency_ms` (per scenario), `recovery_s`, `leaks`.
    pub name: Metric,
    pub threshold: f64,
    /// The measured value; `null` when it could not be measured (then the criterion failed).
    pub value: Option<f64>,
    /// How value and threshold must compare: `>=`, `<` or `<=`.
    pub rule: String,
    pub passed: bool,
}

/// One scenario's measurements and verdicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub name: String,
    pub requests: u64,
    pub succeeded: u64,
    pub success_rate: f64,
    pub latency_ms: LatencySummary,
    pub acquire_wait_ms: WaitSummary,
    pub throughput_rps: f64,
    pub duration_s: f64,
    pub outcomes: OutcomeCounts,
    pub pool: PoolSummary,
    /// An open-model scenario's schedule, kept or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleReport>,
    pub criteria: Vec<CriterionResult>,
    pub passed: bool,
}

/// A p99 lag behind the schedule past which the engine, not the target, limited an open-model
/// scenario's load: its arrivals left late, so the target saw less than the rate asked.
pub const SATURATION_LAG_MS: f64 = 10.0;

/// How an open-model scenario kept its schedule: each request's lag is its actual start less its
/// intended one (latencies count from the intended start either way).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleReport {
    /// The rate asked for.
    pub rate_per_s: f64,
    /// Requests started on the schedule (dropped ones — past `max_in_flight` — are not).
    pub started: u64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    /// The p99 lag passed [`SATURATION_LAG_MS`]: the engine, not the target, was the limit, and
    /// the scenario cannot pass.
    pub generator_saturated: bool,
}

/// The exhaustion-and-recovery phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryReport {
    /// From the burst's start until a probe checkout was served within the response-time warning
    /// level with nobody waiting; `null` when that never happened within the phase's limit.
    pub seconds: Option<f64>,
    pub passed: bool,
    /// Burst requests and how many of them timed out waiting for a connection.
    pub burst_requests: u64,
    pub burst_timeouts: u64,
    pub exhaustion_events: u64,
}

/// The leak check after the load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakReport {
    /// Connections still checked out of the pools after the grace period.
    pub checked_out_after: u32,
    /// This run's backends left idle in a transaction.
    pub idle_in_transaction: u32,
    /// This run's backends still connected, against the pools' kept connections.
    pub server_backends: u32,
    pub allowed_backends: u32,
    pub passed: bool,
}

impl LeakReport {
    /// Connections leaked: the larger of those still checked out and the backends idle in a
    /// transaction (a leaked connection is usually both), or the backends beyond the kept ones.
    #[must_use]
    pub fn count(&self) -> u32 {
        self.checked_out_after
            .max(self.idle_in_transaction)
            .max(self.server_backends.saturating_sub(self.allowed_backends))
    }
}

/// Level of an alert threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

/// One alert threshold against the metric's peak over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// `pool_utilization_pct`, `overflow_usage_pct`, `churn_per_s`, `response_time_ms`,
    /// `exhaustion_events`, `connection_budget_pct`.
    pub metric: Metric,
    pub peak: f64,
    pub warning: f64,
    pub critical: f64,
    pub level: Level,
}

/// What the server looked like during the run (from `pg_stat_activity`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerReport {
    pub version: String,
    pub max_connections: u32,
    /// Slots the server keeps for superusers (`superuser_reserved_connections`).
    #[serde(default)]
    pub superuser_reserved_connections: u32,
    /// Client backends of others when the run started: what the pools could not have.
    #[serde(default)]
    pub other_backends_at_start: u32,
    /// Most backends of this run at once.
    pub peak_run_backends: u32,
    /// Most client backends of anyone at once.
    pub peak_total_backends: u32,
    pub peak_idle_in_transaction: u32,
}

/// One second of a run, for charts. `t` counts seconds from the run's start (in [`Buckets`], and
/// in a downsampled [`crate::run::Series`], buckets of the resolution they state).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondSample {
    pub t: u32,
    /// The scenario or phase running during this second.
    pub phase: String,
    pub requests: u64,
    pub errors: u64,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub acquire_wait_p95_ms: f64,
    pub checked_out: u32,
    pub idle: u32,
    pub overflow: u32,
    pub waiters: u32,
    pub connections_created: u64,
    pub connections_closed: u64,
    pub timeouts: u64,
    pub exhaustion_events: u64,
    pub server_backends: u32,
    pub idle_in_transaction: u32,
    /// Backends of the run (or service) started during this second: connection churn as the
    /// server sees it.
    #[serde(default)]
    pub server_new_backends: u32,
    /// Backends of the run (or service) waiting on a lock or I/O.
    #[serde(default)]
    pub server_waiting: u32,
}

/// Where a run's gauges came from, and which it could not see: a gauge missing here is shown as
/// missing, never as zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GaugeSources {
    /// `lifeguard` (the pools it opened itself), `service metrics (<preset>)`, or `none`.
    pub pool: String,
    /// The pool gauges the source provided.
    pub pool_gauges: Vec<String>,
    /// The pool gauges it did not.
    pub missing_pool_gauges: Vec<String>,
    /// `target` (`pg_stat_activity` of the loaded server), `service database`, or `none`.
    pub server: String,
    /// Seconds into the run when a scrape of the service's metrics first failed.
    pub metrics_lost_at_s: Option<f64>,
    pub failed_scrapes: u64,
    pub last_scrape_error: Option<String>,
}

/// Everything a run found. See the module doc: these names are a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub suite: String,
    pub target: String,
    pub profile: String,
    pub state: RunState,
    pub passed: bool,
    /// Why the run stopped early or could not judge, in words; `null` otherwise.
    pub error: Option<String>,
    /// Unix time of the start, milliseconds.
    pub started_at_ms: u64,
    pub duration_s: f64,
    pub scenarios: Vec<ScenarioReport>,
    pub recovery: Option<RecoveryReport>,
    pub leaks: Option<LeakReport>,
    /// Run-level criteria (recovery, leaks); scenario criteria are in `scenarios[]`.
    pub criteria: Vec<CriterionResult>,
    pub thresholds: Vec<ThresholdResult>,
    pub server: ServerReport,
    /// Where the gauges came from.
    #[serde(default)]
    pub sources: GaugeSources,
    /// The pools and workload the run used (no credentials: targets are referred to by name).
    pub pool_profile: PoolProfile,
    pub workload: AuthFlow,
    pub series: Vec<SecondSample>,
    /// Short runs only: the series again at a finer resolution, so sub-second scenarios and
    /// bursts show their shape (auth-burst's four scenarios all fall in its first second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Buckets>,
    /// Worker threads of the engine that generated the load (reports from before they were
    /// recorded: 1).
    #[serde(default = "one_thread")]
    pub engine_threads: u32,
}

fn one_thread() -> u32 {
    1
}

/// A series of fixed-width buckets: point `t` covers `[t, t + 1) × resolution_ms` of the run.
/// Each point is a [`SecondSample`] of its bucket: counts in the bucket, peaks of its gauges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Buckets {
    pub resolution_ms: u32,
    pub points: Vec<SecondSample>,
}

impl RunReport {
    /// Names of every failed criterion, `scenario/criterion` for scenario ones.
    #[must_use]
    pub fn failed_criteria(&self) -> Vec<String> {
        let scenario = self.scenarios.iter().flat_map(|s| {
            s.criteria
                .iter()
                .filter(|c| !c.passed)
                .map(move |c| format!("{}/{}", s.name, c.name))
        });
        let run = self
            .criteria
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.to_string());
        scenario.chain(run).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_states_are_spelled_as_serde_writes_them() {
        for state in [
            RunState::Queued,
            RunState::Running,
            RunState::Passed,
            RunState::Failed,
            RunState::Aborted,
            RunState::Interrupted,
        ] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
    }
}
