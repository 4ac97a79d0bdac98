//! A metric's history across runs: per target, environment, suite and metric (and scenario, for
//! the metrics measured per scenario), the finished runs oldest first with the baseline's runs
//! marked, and the change points a Hunter-style detector found in it (`GET /api/history`).

use serde::{Deserialize, Serialize};

use crate::invalid::Invalid;
use crate::metric::Metric;
use crate::report::{RunReport, RunState};

/// How the change-point detector decides (see the backend's `stats::change_points` for the
/// method). The defaults are those of Hunter (by `DataStax`, 2023).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChangePointSettings {
    /// A change point stands only when the t-test of the runs on either side of it (up to the
    /// neighbouring change points; pooled variance, with and without either side's most extreme
    /// run, adjusted for the places searched) gives a p-value below this. Hunter's 0.001: a
    /// history holds up to 1,000 runs of 28 metrics, and a change point a person is asked to look
    /// at should almost never be noise.
    pub max_p_value: f64,
    /// ... and when the means on either side differ by at least this share (0.05 = 5 %), read in
    /// the larger direction (`max(after/before, before/after) - 1`), so a halving counts like a
    /// doubling. Below 5 % a shift is within the run-to-run drift of a shared machine, and half the
    /// 10 % a single comparison counts: a change point rests on many runs, not one a side.
    pub min_change: f64,
    /// Fewest runs a segment between change points may have: a change in the newest runs is
    /// reported once this many runs show it (3: with fewer, a side's variance is a guess).
    pub min_segment: usize,
}

impl Default for ChangePointSettings {
    fn default() -> Self {
        Self {
            max_p_value: 0.001,
            min_change: 0.05,
            min_segment: 3,
        }
    }
}

impl ChangePointSettings {
    /// `max_p_value` in (0, 0.5], `min_change` a finite share of at least 0, `min_segment` from 2
    /// to 100 (a variance needs two values).
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(self.max_p_value > 0.0 && self.max_p_value <= 0.5) {
            return Err(Invalid::new(
                "max_p_value",
                format!("must be above 0 and at most 0.5, got {}", self.max_p_value),
            ));
        }
        if !(self.min_change.is_finite() && self.min_change >= 0.0) {
            return Err(Invalid::new(
                "min_change",
                format!(
                    "must be a share of at least 0 (0.05 = 5 %), got {}",
                    self.min_change
                ),
            ));
        }
        if !(2..=100).contains(&self.min_segment) {
            return Err(Invalid::new(
                "min_segment",
                format!("must be from 2 to 100 runs, got {}", self.min_segment),
            ));
        }
        Ok(())
    }
}

/// One finished run in a history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub run_id: String,
    /// Unix milliseconds, as in run summaries.
    pub started_at: Option<u64>,
    /// The run's `version` label.
    pub version: String,
    /// The metric's value in this run; `null` when the run did not measure it (no such scenario,
    /// no recovery phase). The detector skips such runs.
    pub value: Option<f64>,
    /// This run is, or once was, a baseline's run.
    pub baseline: bool,
    /// `passed` or `failed`: a history holds finished runs only.
    pub state: RunState,
}

/// Where the metric's level changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryChangePoint {
    /// Index in `points` of the first run at the new level.
    pub index: usize,
    /// The first run at the new level.
    pub run_id: String,
    /// The last run at the old level (the nearest earlier run with a value).
    pub previous_run_id: String,
    /// Means of the segments on either side, up to the neighbouring change points.
    pub mean_before: f64,
    pub mean_after: f64,
    /// `(mean_after - mean_before) / |mean_before|`; `null` when the mean before is zero.
    pub relative_change: Option<f64>,
    /// The t-test of the two segments (see [`ChangePointSettings::max_p_value`]).
    pub p_value: f64,
    /// The console's view comparing the runs across the change: `/compare/{previous}/{run}`.
    pub compare: String,
}

/// `GET /api/history?target=&environment=&metric=[&scenario=][&suite=][&profile=]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub target: String,
    pub environment: String,
    /// The suite whose runs these are: a history never mixes suites (their scenarios may share
    /// names). The one asked for, else the newest finished run's; empty when there is no run.
    pub suite: String,
    /// The pool profile the runs were limited to; `null` when any profile counts (a change of
    /// profile is then a change the history may show).
    pub profile: Option<String>,
    /// Its unit, direction and label are the metric's own (see [`Metric`]).
    pub metric: Metric,
    /// The scenario, for metrics measured per scenario; `null` for run-level ones.
    pub scenario: Option<String>,
    /// Oldest first.
    pub points: Vec<HistoryPoint>,
    /// In order of `index`.
    pub change_points: Vec<HistoryChangePoint>,
    pub settings: ChangePointSettings,
}

/// Whether `metric` is read per scenario (so a history of it needs one) or once per run.
#[must_use]
pub fn per_scenario(metric: Metric) -> bool {
    Metric::PER_SCENARIO.contains(&metric)
}

/// `metric`'s value in `report`: of `scenario` for per-scenario metrics, of the run for recovery
/// time, leaks and the alert thresholds' peaks. `None` when the report has no such value.
#[must_use]
pub fn report_value(report: &RunReport, metric: Metric, scenario: Option<&str>) -> Option<f64> {
    let of_scenario = || {
        report
            .scenarios
            .iter()
            .find(|s| Some(s.name.as_str()) == scenario)
    };
    let threshold_peak = || {
        report
            .thresholds
            .iter()
            .find(|t| t.metric == metric)
            .map(|t| t.peak)
    };
    Some(match metric {
        Metric::SuccessRate => of_scenario()?.success_rate,
        Metric::MeanLatencyMs => of_scenario()?.latency_ms.mean,
        Metric::P50LatencyMs => of_scenario()?.latency_ms.p50,
        Metric::P95LatencyMs => of_scenario()?.latency_ms.p95,
        Metric::P99LatencyMs => of_scenario()?.latency_ms.p99,
        Metric::AcquireWaitP95Ms => of_scenario()?.acquire_wait_ms.p95,
        Metric::ThroughputRps => of_scenario()?.throughput_rps,
        Metric::PeakUtilization => of_scenario()?.pool.peak_utilization,
        Metric::ChurnPerS => of_scenario()?.pool.peak_churn_per_s,
        Metric::ExhaustionEvents => of_scenario()?.pool.exhaustion_events as f64,
        Metric::RecoveryS => report.recovery.as_ref()?.seconds?,
        Metric::ScheduleLagP99Ms => of_scenario()?.schedule.as_ref()?.lag_p99_ms,
        Metric::Leaks => f64::from(report.leaks.as_ref()?.count()),
        Metric::PoolUtilizationPct
        | Metric::OverflowUsagePct
        | Metric::ResponseTimeMs
        | Metric::ConnectionBudgetPct => threshold_peak()?,
        // A monitor's, not a run's.
        Metric::ConnectionsUsedPct
        | Metric::IdleInTransaction
        | Metric::IdleInTransactionAgeS
        | Metric::LongestTransactionS
        | Metric::WaitingBackends => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_broken_settings_name_their_field() {
        assert!(ChangePointSettings::default().validate().is_ok());
        let error = ChangePointSettings {
            max_p_value: 0.0,
            ..ChangePointSettings::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(error.field, "max_p_value");
        let error = ChangePointSettings {
            min_change: f64::NAN,
            ..ChangePointSettings::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(error.field, "min_change");
        let error = ChangePointSettings {
            min_segment: 1,
            ..ChangePointSettings::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(error.field, "min_segment");
    }

    #[test]
    fn per_scenario_metrics_are_the_comparisons_per_scenario_ones() {
        assert!(per_scenario(Metric::MeanLatencyMs));
        assert!(per_scenario(Metric::ExhaustionEvents));
        assert!(!per_scenario(Metric::RecoveryS));
        assert!(!per_scenario(Metric::Leaks));
        assert!(!per_scenario(Metric::ConnectionBudgetPct));
    }
}
