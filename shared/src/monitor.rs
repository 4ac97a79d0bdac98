//! Watching a target between tests: one sample of a server as a monitor reads it, the alert
//! rules judged on every sample (the analysis's thresholds and the server side that trusted tools
//! alert on), and the alerts they raise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::invalid::{self, Invalid};
use crate::metric::Metric;
use crate::report::Level;

/// A PostgreSQL server at one instant, from one look at `pg_stat_activity` (the monitor's own
/// backend left out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorSample {
    /// When it was read, milliseconds since the Unix epoch (the server's clock).
    pub at_ms: u64,
    pub max_connections: u32,
    /// Client backends of anyone.
    pub backends: u32,
    pub active: u32,
    pub idle: u32,
    pub idle_in_transaction: u32,
    /// Seconds since the oldest idle-in-transaction session's last statement; 0 when none.
    pub oldest_idle_in_transaction_s: f64,
    /// Seconds since the longest open transaction began; 0 when none.
    pub longest_transaction_s: f64,
    /// Active backends waiting on something other than their client, by `wait_event_type`.
    #[serde(default)]
    pub waiting: BTreeMap<String, u32>,
    /// Backends started per second since the previous sample; `None` for a monitor's first.
    pub new_backends_per_s: Option<f64>,
    /// Client backends by `application_name` (the busiest ten).
    #[serde(default)]
    pub applications: BTreeMap<String, u32>,
    /// Client backends by role (the busiest ten).
    #[serde(default)]
    pub users: BTreeMap<String, u32>,
    /// A service target's primary pool, from its metrics endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolSample>,
    /// A service target's requests since the previous sample, from its metrics endpoint; `None`
    /// for a monitor's first reading, or where the metrics show no request duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestsSample>,
}

/// The requests a service served between two samples, as its request-duration histogram counts
/// them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestsSample {
    pub count: f64,
    /// Their mean duration; `None` when there were none.
    pub mean_ms: Option<f64>,
}

/// A service's primary pool as its metrics showed it; a gauge the preset does not provide is
/// `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolSample {
    /// Checked out.
    pub used: Option<f64>,
    pub idle: Option<f64>,
    /// Checkouts waiting for a connection.
    pub pending: Option<f64>,
    /// Most connections it may open (size and overflow).
    pub max: Option<f64>,
    /// Connections it keeps (its size).
    pub idle_max: Option<f64>,
}

impl PoolSample {
    /// Checked out over the capacity, percent.
    #[must_use]
    pub fn utilization_pct(&self) -> Option<f64> {
        let (used, max) = (self.used?, self.max?);
        (max > 0.0).then(|| used * 100.0 / max)
    }

    /// Open connections beyond the kept ones over the overflow allowed, percent.
    #[must_use]
    pub fn overflow_pct(&self) -> Option<f64> {
        let (open, size, max) = (
            self.used? + self.idle.unwrap_or(0.0),
            self.idle_max?,
            self.max?,
        );
        (max > size).then(|| (open - size).max(0.0) * 100.0 / (max - size))
    }
}

impl MonitorSample {
    /// The sample's value of `metric`, when it measures it.
    #[must_use]
    pub fn value(&self, metric: Metric) -> Option<f64> {
        // A server that was read says its `max_connections`; a service read only through its
        // metrics has no server side, and no zeros stand in for it.
        let server = |value: f64| (self.max_connections > 0).then_some(value);
        match metric {
            Metric::ConnectionsUsedPct => {
                server(f64::from(self.backends) * 100.0 / f64::from(self.max_connections.max(1)))
            }
            Metric::IdleInTransaction => server(f64::from(self.idle_in_transaction)),
            Metric::IdleInTransactionAgeS => server(self.oldest_idle_in_transaction_s),
            Metric::LongestTransactionS => server(self.longest_transaction_s),
            Metric::WaitingBackends => server(f64::from(self.waiting.values().sum::<u32>())),
            Metric::ChurnPerS => self.new_backends_per_s,
            Metric::PoolUtilizationPct => self.pool?.utilization_pct(),
            Metric::OverflowUsagePct => self.pool?.overflow_pct(),
            // Checkouts waiting now: the pool is dry.
            Metric::ExhaustionEvents => self.pool?.pending,
            Metric::ResponseTimeMs => self.requests?.mean_ms,
            _ => None,
        }
    }

    /// `metric` as an alert judges it: its [`value`](Self::value), except that an interval in
    /// which a service served no request had no slow one (below every level, as a rate-based
    /// alert sees no traffic), so a response-time alert resolves once traffic stops.
    #[must_use]
    pub fn judged(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::ResponseTimeMs => self.requests.map(|r| r.mean_ms.unwrap_or(0.0)),
            _ => self.value(metric),
        }
    }
}

/// One alert: `metric` at or past `warning`, or past `critical`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    pub metric: Metric,
    pub warning: f64,
    pub critical: f64,
}

impl AlertRule {
    /// The level `value` stands at.
    #[must_use]
    pub fn level(&self, value: f64) -> Level {
        if value >= self.critical {
            Level::Critical
        } else if value >= self.warning {
            Level::Warning
        } else {
            Level::Ok
        }
    }
}

/// How a monitor alerts: its rules, and how many consecutive samples past a level fire an alert
/// (`fire_after`) and below it resolve one (`resolve_after`), so a value hovering at a threshold
/// does not flap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    pub fire_after: u32,
    pub resolve_after: u32,
    pub rules: Vec<AlertRule>,
}

impl Default for AlertSettings {
    /// The analysis's monitoring strategy and what trusted tools alert on: connections used 80/90 %
    /// of `max_connections`, a session idle in transaction for 30/60 minutes, 5/15 new connections
    /// a second; and for a service whose metrics show its pool, utilization 70/90 %, overflow
    /// 50/80 %, any checkout waiting for a connection, and a mean response time of 200/500 ms.
    fn default() -> Self {
        let rule = |metric, warning, critical| AlertRule {
            metric,
            warning,
            critical,
        };
        Self {
            fire_after: 3,
            resolve_after: 3,
            rules: vec![
                rule(Metric::ConnectionsUsedPct, 80.0, 90.0),
                rule(Metric::IdleInTransactionAgeS, 1800.0, 3600.0),
                rule(Metric::ChurnPerS, 5.0, 15.0),
                rule(Metric::PoolUtilizationPct, 70.0, 90.0),
                rule(Metric::OverflowUsagePct, 50.0, 80.0),
                rule(Metric::ExhaustionEvents, 1.0, 1.0),
                rule(Metric::ResponseTimeMs, 200.0, 500.0),
            ],
        }
    }
}

impl AlertSettings {
    /// The rules: a sample or more on each side, levels in order, a metric a monitor measures,
    /// and each metric once.
    pub fn validate(&self) -> Result<(), Invalid> {
        invalid::at_least("fire_after", self.fire_after, 1)?;
        invalid::at_least("resolve_after", self.resolve_after, 1)?;
        let mut seen = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let field = |key: &str| format!("rules[{i}].{key}");
            if !MONITORED.contains(&rule.metric) {
                return Err(Invalid::new(
                    field("metric"),
                    format!(
                        "`{}` is not measured by a monitor (one of: {})",
                        rule.metric,
                        MONITORED.map(Metric::name).join(", ")
                    ),
                ));
            }
            if !(rule.warning.is_finite() && rule.critical.is_finite())
                || rule.warning > rule.critical
            {
                return Err(Invalid::new(
                    field("warning"),
                    format!(
                        "must be a number at most `critical` ({}), got {}",
                        rule.critical, rule.warning
                    ),
                ));
            }
            if seen.contains(&rule.metric) {
                return Err(Invalid::new(
                    field("metric"),
                    format!("`{}` has a rule already", rule.metric),
                ));
            }
            seen.push(rule.metric);
        }
        Ok(())
    }
}

/// What a monitor measures, in the order the console lists it (the last four from a service's
/// metrics).
pub const MONITORED: [Metric; 10] = [
    Metric::ConnectionsUsedPct,
    Metric::IdleInTransaction,
    Metric::IdleInTransactionAgeS,
    Metric::LongestTransactionS,
    Metric::WaitingBackends,
    Metric::ChurnPerS,
    Metric::PoolUtilizationPct,
    Metric::OverflowUsagePct,
    Metric::ExhaustionEvents,
    Metric::ResponseTimeMs,
];

/// An alert as the history keeps it: when it fired, the highest level it reached, and when it
/// resolved (`None` while it stands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: String,
    pub target: String,
    pub metric: Metric,
    /// The level now (the last it reached, once resolved).
    pub level: Level,
    /// The value that fired it or last changed its level.
    pub value: f64,
    /// The threshold of its level.
    pub threshold: f64,
    pub fired_at_ms: u64,
    pub resolved_at_ms: Option<u64>,
}

/// A monitor as `GET /api/monitors` shows it: the level it stands at (the highest of its standing
/// alerts), its latest sample, and its alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorStatus {
    pub target: String,
    pub interval_s: f64,
    pub level: Level,
    pub last_sample: Option<MonitorSample>,
    /// Why the latest attempt to sample failed, while it fails.
    pub error: Option<String>,
    /// Standing alerts, newest first.
    pub open_alerts: Vec<Alert>,
    /// The latest alert, standing or resolved.
    pub last_alert: Option<Alert>,
    pub rules: Vec<AlertRule>,
}

/// A monitor's history over a range (`GET /api/monitors/{target}/samples`): its raw samples and,
/// where they have aged out, its one-minute rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorHistory {
    pub target: String,
    pub from_ms: u64,
    pub to_ms: u64,
    pub samples: Vec<MonitorSample>,
    pub minutes: Vec<MonitorMinute>,
}

impl MonitorHistory {
    /// `metric` over time, `(ms, value)` in order: each raw sample, and the mean of each minute
    /// no raw sample falls in (at the minute's middle).
    #[must_use]
    pub fn series(&self, metric: Metric) -> Vec<(u64, f64)> {
        let mut points: Vec<(u64, f64)> = self
            .samples
            .iter()
            .filter_map(|s| Some((s.at_ms, s.value(metric)?)))
            .collect();
        let raw_from = self
            .samples
            .first()
            .map_or(u64::MAX, |s| s.at_ms - s.at_ms % 60_000);
        points.extend(
            self.minutes
                .iter()
                .filter(|m| m.metric == metric && m.minute_ms < raw_from)
                .map(|m| (m.minute_ms + 30_000, m.mean)),
        );
        points.sort_by_key(|&(at, _)| at);
        points
    }
}

/// A deployment marked on a target (`lifeguard deploy mark`, `POST /api/deployments`): the
/// moment its traffic before and after are compared at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub target: String,
    pub version: String,
    #[serde(default)]
    pub notes: String,
    pub at_ms: u64,
}

/// `POST /api/deployments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRequest {
    pub target: String,
    pub version: String,
    #[serde(default)]
    pub notes: String,
    /// When it happened; now when absent.
    #[serde(default)]
    pub at_ms: Option<u64>,
}

impl DeploymentRequest {
    /// A version of 1 to 100 characters, notes of at most 2,000.
    pub fn validate(&self) -> Result<(), Invalid> {
        let version = self.version.trim();
        if version.is_empty() || version.chars().count() > 100 {
            return Err(Invalid::new(
                "version",
                "must be 1 to 100 characters (a tag, a commit)",
            ));
        }
        if self.notes.chars().count() > 2000 {
            return Err(Invalid::new("notes", "must be at most 2000 characters"));
        }
        Ok(())
    }
}

/// One side of a deployment's comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub from_ms: u64,
    pub to_ms: u64,
    pub samples: u32,
}

/// A deployment judged by its traffic: the window after it against the window before (same
/// length), metric by metric, each sample a block of the test, with the verdict words of two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentComparison {
    pub deployment: Deployment,
    pub before: Window,
    pub after: Window,
    pub metrics: Vec<crate::compare::MetricComparison>,
    pub verdict: crate::compare::Verdict,
}

/// One metric of a monitor over one minute, once its raw samples have aged out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorMinute {
    /// The minute's start, milliseconds since the Unix epoch.
    pub minute_ms: u64,
    pub metric: Metric,
    pub samples: u32,
    pub min: f64,
    pub mean: f64,
    pub max: f64,
}

impl MonitorMinute {
    /// Every monitored metric of `samples`, a row per minute and metric (minutes in order).
    #[must_use]
    pub fn of(samples: &[MonitorSample]) -> Vec<Self> {
        let mut minutes: BTreeMap<(u64, Metric), Self> = BTreeMap::new();
        for sample in samples {
            let minute_ms = sample.at_ms - sample.at_ms % 60_000;
            for metric in MONITORED {
                let Some(value) = sample.value(metric) else {
                    continue;
                };
                let row = minutes.entry((minute_ms, metric)).or_insert(Self {
                    minute_ms,
                    metric,
                    samples: 0,
                    min: value,
                    mean: 0.0,
                    max: value,
                });
                row.samples += 1;
                row.min = row.min.min(value);
                row.max = row.max.max(value);
                // The running mean: exact for the counts a minute holds.
                row.mean += (value - row.mean) / f64::from(row.samples);
            }
        }
        minutes.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_gives_each_monitored_metric() {
        let sample = MonitorSample {
            max_connections: 40,
            backends: 30,
            idle_in_transaction: 2,
            oldest_idle_in_transaction_s: 75.0,
            waiting: BTreeMap::from([("Lock".into(), 2), ("IO".into(), 1)]),
            new_backends_per_s: Some(6.5),
            ..MonitorSample::default()
        };
        assert_eq!(sample.value(Metric::ConnectionsUsedPct), Some(75.0));
        assert_eq!(sample.value(Metric::IdleInTransaction), Some(2.0));
        assert_eq!(sample.value(Metric::IdleInTransactionAgeS), Some(75.0));
        assert_eq!(sample.value(Metric::WaitingBackends), Some(3.0));
        assert_eq!(sample.value(Metric::ChurnPerS), Some(6.5));
        assert_eq!(sample.value(Metric::P95LatencyMs), None);
        for metric in &MONITORED[..6] {
            assert!(sample.value(*metric).is_some(), "{metric}");
        }
        assert_eq!(
            sample.value(Metric::PoolUtilizationPct),
            None,
            "no pool metrics"
        );
        let service = MonitorSample {
            pool: Some(PoolSample {
                used: Some(12.0),
                idle: Some(2.0),
                pending: Some(3.0),
                max: Some(30.0),
                idle_max: Some(10.0),
            }),
            ..sample
        };
        assert_eq!(service.value(Metric::PoolUtilizationPct), Some(40.0));
        assert_eq!(
            service.value(Metric::OverflowUsagePct),
            Some(20.0),
            "4 of 20 overflow"
        );
        assert_eq!(service.value(Metric::ExhaustionEvents), Some(3.0));
    }

    #[test]
    fn a_minute_keeps_the_min_mean_and_max_of_its_samples() {
        let at = |second: u64, backends: u32| MonitorSample {
            at_ms: 120_000 + second * 1000,
            max_connections: 100,
            backends,
            ..MonitorSample::default()
        };
        let samples: Vec<MonitorSample> = (0..60)
            .map(|s| at(s, u32::try_from(s % 10).unwrap()))
            .chain([at(61, 50)])
            .collect();
        let minutes = MonitorMinute::of(&samples);
        let used: Vec<&MonitorMinute> = minutes
            .iter()
            .filter(|m| m.metric == Metric::ConnectionsUsedPct)
            .collect();
        assert_eq!(used.len(), 2);
        assert_eq!((used[0].minute_ms, used[0].samples), (120_000, 60));
        assert_eq!((used[0].min, used[0].max), (0.0, 9.0));
        assert!((used[0].mean - 4.5).abs() < 1e-12, "{}", used[0].mean);
        assert_eq!((used[1].samples, used[1].min, used[1].max), (1, 50.0, 50.0));
        // The first sample of a monitor has no churn: that minute counts what it has.
        assert!(minutes.iter().all(|m| m.metric != Metric::ChurnPerS));
    }

    #[test]
    fn a_sample_without_a_server_has_no_server_values() {
        let pool_only = MonitorSample {
            pool: Some(PoolSample {
                used: Some(2.0),
                max: Some(4.0),
                ..PoolSample::default()
            }),
            ..MonitorSample::default()
        };
        for metric in [
            Metric::ConnectionsUsedPct,
            Metric::IdleInTransaction,
            Metric::IdleInTransactionAgeS,
            Metric::LongestTransactionS,
            Metric::WaitingBackends,
            Metric::ChurnPerS,
        ] {
            assert_eq!(pool_only.value(metric), None, "{metric}");
        }
        assert_eq!(pool_only.value(Metric::PoolUtilizationPct), Some(50.0));
        let server = MonitorSample {
            max_connections: 100,
            backends: 5,
            ..MonitorSample::default()
        };
        assert_eq!(
            server.value(Metric::IdleInTransaction),
            Some(0.0),
            "a real zero"
        );
        assert_eq!(server.value(Metric::ConnectionsUsedPct), Some(5.0));
    }

    #[test]
    fn response_time_is_the_mean_of_the_requests_served_and_nothing_slow_without_any() {
        let with = |requests| MonitorSample {
            requests,
            ..MonitorSample::default()
        };
        let busy = with(Some(RequestsSample {
            count: 40.0,
            mean_ms: Some(250.0),
        }));
        assert_eq!(busy.value(Metric::ResponseTimeMs), Some(250.0));
        assert_eq!(busy.judged(Metric::ResponseTimeMs), Some(250.0));
        let quiet = with(Some(RequestsSample {
            count: 0.0,
            mean_ms: None,
        }));
        assert_eq!(
            quiet.value(Metric::ResponseTimeMs),
            None,
            "no value to draw"
        );
        assert_eq!(
            quiet.judged(Metric::ResponseTimeMs),
            Some(0.0),
            "below every level"
        );
        assert_eq!(
            with(None).judged(Metric::ResponseTimeMs),
            None,
            "not measured"
        );
    }

    #[test]
    fn the_default_rules_are_valid_and_a_broken_rule_names_its_field() {
        AlertSettings::default().validate().unwrap();
        let mut settings = AlertSettings::default();
        settings.rules[1].warning = 4000.0;
        let error = settings.validate().unwrap_err();
        assert_eq!(error.field, "rules[1].warning");
        settings = AlertSettings::default();
        settings.rules.push(AlertRule {
            metric: Metric::P95LatencyMs,
            warning: 1.0,
            critical: 2.0,
        });
        let error = settings.validate().unwrap_err();
        assert_eq!(error.field, "rules[7].metric");
        assert!(error.rule.contains("not measured by a monitor"), "{error}");
        settings = AlertSettings {
            fire_after: 0,
            ..AlertSettings::default()
        };
        assert_eq!(settings.validate().unwrap_err().field, "fire_after");
    }
}
