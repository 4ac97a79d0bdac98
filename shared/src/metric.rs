//! The metrics lifeguard judges and compares, as one vocabulary: each knows its name on the wire,
//! its unit, which direction is better, the change a comparison counts by default (relative
//! threshold and absolute floor), and whether it is measured once per run. Criteria, thresholds,
//! comparisons, the command line's tables, JUnit and the console all read these facts here.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::compare::Better;

/// What a value is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A share from 0 to 1, shown as a percentage.
    Share,
    /// Already a percentage.
    Percent,
    Milliseconds,
    Seconds,
    /// Events per second (new connections).
    PerSecond,
    RequestsPerSecond,
    /// A plain count.
    Count,
}

impl Unit {
    /// `value` with its unit, as a person reads it: `12.3 ms`, `95.0 %`, `3.50 s`, `5 /s`.
    #[must_use]
    pub fn format(self, value: f64) -> String {
        match self {
            Self::Share => share(value),
            Self::Percent => format!("{value:.1} %"),
            Self::Milliseconds => ms(value),
            Self::Seconds => format!("{value:.2} s"),
            Self::PerSecond => format!("{} /s", number(value)),
            Self::RequestsPerSecond => format!("{value:.1} req/s"),
            Self::Count => number(value),
        }
    }

    /// The unit as written after a number (`""` for counts).
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Share | Self::Percent => "%",
            Self::Milliseconds => "ms",
            Self::Seconds => "s",
            Self::PerSecond => "/s",
            Self::RequestsPerSecond => "req/s",
            Self::Count => "",
        }
    }
}

/// Every metric of a criterion, a threshold or a comparison. On the wire it is its [`name`]
/// (`p95_latency_ms`), as reports and comparisons have always spelt it.
///
/// [`name`]: Metric::name
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    SuccessRate,
    MeanLatencyMs,
    P50LatencyMs,
    P95LatencyMs,
    P99LatencyMs,
    AcquireWaitP95Ms,
    ThroughputRps,
    PeakUtilization,
    ChurnPerS,
    ExhaustionEvents,
    RecoveryS,
    Leaks,
    PoolUtilizationPct,
    OverflowUsagePct,
    ResponseTimeMs,
    ConnectionBudgetPct,
    /// A monitored server's client backends over its `max_connections`, percent.
    ConnectionsUsedPct,
    /// Sessions idle in a transaction on a monitored server.
    IdleInTransaction,
    /// The oldest of them, seconds since its last statement.
    IdleInTransactionAgeS,
    /// The longest open transaction, seconds since it began.
    LongestTransactionS,
    /// Backends waiting on a lock, I/O or another backend (not on their client).
    WaitingBackends,
    /// How late an open-model scenario's requests started against their schedule (p99): past
    /// [`crate::report::SATURATION_LAG_MS`] the engine, not the target, limited the load.
    ScheduleLagP99Ms,
}

impl Metric {
    /// What a run measures: the metrics a history of runs can follow.
    pub const OF_RUNS: [Self; 16] = [
        Self::SuccessRate,
        Self::MeanLatencyMs,
        Self::P50LatencyMs,
        Self::P95LatencyMs,
        Self::P99LatencyMs,
        Self::AcquireWaitP95Ms,
        Self::ThroughputRps,
        Self::PeakUtilization,
        Self::ChurnPerS,
        Self::ExhaustionEvents,
        Self::RecoveryS,
        Self::Leaks,
        Self::PoolUtilizationPct,
        Self::OverflowUsagePct,
        Self::ResponseTimeMs,
        Self::ConnectionBudgetPct,
    ];

    /// What only a monitor measures (it measures churn too).
    pub const OF_MONITORS: [Self; 5] = [
        Self::ConnectionsUsedPct,
        Self::IdleInTransaction,
        Self::IdleInTransactionAgeS,
        Self::LongestTransactionS,
        Self::WaitingBackends,
    ];

    /// What judges the load generator rather than the target.
    pub const OF_ENGINE: [Self; 1] = [Self::ScheduleLagP99Ms];

    /// Every metric.
    pub fn all() -> impl Iterator<Item = Self> {
        Self::OF_RUNS
            .into_iter()
            .chain(Self::OF_MONITORS)
            .chain(Self::OF_ENGINE)
    }

    /// The metric named `name` on the wire.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().find(|m| m.name() == name)
    }

    /// What a comparison judges per scenario, in the order it lists them.
    pub const PER_SCENARIO: [Self; 10] = [
        Self::SuccessRate,
        Self::MeanLatencyMs,
        Self::P50LatencyMs,
        Self::P95LatencyMs,
        Self::P99LatencyMs,
        Self::AcquireWaitP95Ms,
        Self::ThroughputRps,
        Self::PeakUtilization,
        Self::ChurnPerS,
        Self::ExhaustionEvents,
    ];

    /// The name on the wire and in configuration keys.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::SuccessRate => "success_rate",
            Self::MeanLatencyMs => "mean_latency_ms",
            Self::P50LatencyMs => "p50_latency_ms",
            Self::P95LatencyMs => "p95_latency_ms",
            Self::P99LatencyMs => "p99_latency_ms",
            Self::AcquireWaitP95Ms => "acquire_wait_p95_ms",
            Self::ThroughputRps => "throughput_rps",
            Self::PeakUtilization => "peak_utilization",
            Self::ChurnPerS => "churn_per_s",
            Self::ExhaustionEvents => "exhaustion_events",
            Self::RecoveryS => "recovery_s",
            Self::Leaks => "leaks",
            Self::PoolUtilizationPct => "pool_utilization_pct",
            Self::OverflowUsagePct => "overflow_usage_pct",
            Self::ResponseTimeMs => "response_time_ms",
            Self::ConnectionBudgetPct => "connection_budget_pct",
            Self::ConnectionsUsedPct => "connections_used_pct",
            Self::IdleInTransaction => "idle_in_transaction",
            Self::IdleInTransactionAgeS => "idle_in_transaction_age_s",
            Self::LongestTransactionS => "longest_transaction_s",
            Self::WaitingBackends => "waiting_backends",
            Self::ScheduleLagP99Ms => "schedule_lag_p99_ms",
        }
    }

    /// The metric in words, without its unit.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::SuccessRate => "success rate",
            Self::MeanLatencyMs => "mean latency",
            Self::P50LatencyMs => "p50 latency",
            Self::P95LatencyMs => "p95 latency",
            Self::P99LatencyMs => "p99 latency",
            Self::AcquireWaitP95Ms => "acquire wait p95",
            Self::ThroughputRps => "throughput",
            Self::PeakUtilization => "peak utilization",
            Self::ChurnPerS => "new connections",
            Self::ExhaustionEvents => "exhaustion events",
            Self::RecoveryS => "recovery",
            Self::Leaks => "leaks",
            Self::PoolUtilizationPct => "pool utilization",
            Self::OverflowUsagePct => "overflow usage",
            Self::ResponseTimeMs => "response time",
            Self::ConnectionBudgetPct => "connection budget",
            Self::ConnectionsUsedPct => "connections used",
            Self::IdleInTransaction => "idle in transaction",
            Self::IdleInTransactionAgeS => "oldest idle in transaction",
            Self::LongestTransactionS => "longest transaction",
            Self::WaitingBackends => "waiting backends",
            Self::ScheduleLagP99Ms => "schedule lag p99",
        }
    }

    #[must_use]
    pub fn unit(self) -> Unit {
        match self {
            Self::SuccessRate | Self::PeakUtilization => Unit::Share,
            Self::MeanLatencyMs
            | Self::P50LatencyMs
            | Self::P95LatencyMs
            | Self::P99LatencyMs
            | Self::AcquireWaitP95Ms
            | Self::ResponseTimeMs
            | Self::ScheduleLagP99Ms => Unit::Milliseconds,
            Self::ThroughputRps => Unit::RequestsPerSecond,
            Self::ChurnPerS => Unit::PerSecond,
            Self::ExhaustionEvents
            | Self::Leaks
            | Self::IdleInTransaction
            | Self::WaitingBackends => Unit::Count,
            Self::RecoveryS | Self::IdleInTransactionAgeS | Self::LongestTransactionS => {
                Unit::Seconds
            }
            Self::PoolUtilizationPct
            | Self::OverflowUsagePct
            | Self::ConnectionBudgetPct
            | Self::ConnectionsUsedPct => Unit::Percent,
        }
    }

    /// Which direction is better.
    #[must_use]
    pub fn better(self) -> Better {
        match self {
            Self::SuccessRate | Self::ThroughputRps => Better::Higher,
            _ => Better::Lower,
        }
    }

    /// The relative change a comparison counts by default (a share: 0.10 = 10 %). At a fixed
    /// number of users throughput follows latency, so it has to move more to count.
    #[must_use]
    pub fn default_threshold(self) -> f64 {
        match self {
            Self::ThroughputRps => 0.25,
            _ => 0.10,
        }
    }

    /// The smallest absolute change a comparison counts by default, in the metric's unit: 5 % of
    /// the analysis's limits (mean 200 ms, P95 500 ms) for latencies and a service's response
    /// time, one point of success rate; for a monitor's gauges, five points of a percentage, one
    /// session or backend, one second of a transaction's age (a deployment that moves connections
    /// used from 0 to 1 % of `max_connections` has not regressed).
    #[must_use]
    pub fn default_floor(self) -> f64 {
        match self {
            Self::MeanLatencyMs
            | Self::P50LatencyMs
            | Self::AcquireWaitP95Ms
            | Self::ResponseTimeMs => 10.0,
            Self::P95LatencyMs | Self::P99LatencyMs => 25.0,
            Self::SuccessRate => 0.01,
            Self::ConnectionsUsedPct | Self::PoolUtilizationPct | Self::OverflowUsagePct => 5.0,
            Self::IdleInTransaction
            | Self::WaitingBackends
            | Self::IdleInTransactionAgeS
            | Self::LongestTransactionS => 1.0,
            _ => 0.0,
        }
    }

    /// Measured once per run (a peak, a count, a phase's result): no per-second blocks, so a
    /// comparison cannot tell its change from run-to-run noise.
    #[must_use]
    pub fn once_per_run(self) -> bool {
        !matches!(
            self,
            Self::SuccessRate
                | Self::MeanLatencyMs
                | Self::P50LatencyMs
                | Self::P95LatencyMs
                | Self::P99LatencyMs
                | Self::AcquireWaitP95Ms
                | Self::ThroughputRps
        )
    }

    /// Any change decides: a leaked connection is a defect, not a measurement.
    #[must_use]
    pub fn any_change_decides(self) -> bool {
        self == Self::Leaks
    }
}

impl Metric {
    /// `value` in this metric's unit (see [`Unit::format`]).
    #[must_use]
    pub fn format(self, value: f64) -> String {
        self.unit().format(value)
    }

    /// A signed difference in this metric's unit: `+4.00 ms`, `-3`.
    #[must_use]
    pub fn format_change(self, change: f64) -> String {
        let sign = if change > 0.0 { "+" } else { "" };
        format!("{sign}{}", self.format(change))
    }

    /// The label with its unit in brackets, for column and axis titles: `p95 latency (ms)`. A
    /// share's values carry their `%`, so its label does not.
    #[must_use]
    pub fn titled(self) -> String {
        match self.unit() {
            Unit::Share | Unit::Count => self.label().to_owned(),
            unit => format!("{} ({})", self.label(), unit.symbol()),
        }
    }
}

/// A relative change (0.22 for 22 %) as a signed percentage with `decimals` places: `+22 %`,
/// `-0.4 %`; a change that rounds to zero is `0 %`, without a sign.
#[must_use]
pub fn signed_percent(ratio: f64, decimals: usize) -> String {
    let percent = ratio * 100.0;
    let shown = format!("{:.decimals$}", percent.abs());
    let sign = if shown.chars().all(|c| c == '0' || c == '.') {
        ""
    } else if percent > 0.0 {
        "+"
    } else {
        "-"
    };
    format!("{sign}{shown} %")
}

/// Milliseconds with a precision that fits their size.
#[must_use]
pub fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else if value >= 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.2} ms")
    }
}

/// A share (0..=1) as a percentage.
#[must_use]
pub fn share(value: f64) -> String {
    format!("{:.1} %", value * 100.0)
}

/// A plain number without needless decimals.
#[must_use]
pub fn number(value: f64) -> String {
    if value.fract().abs() < 1e-9 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

// By name, through [`Metric::name`] and [`Metric::from_name`]: one spelling, and less code in the
// browser's wasm than serde's derive for a 21-variant enum.
impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format_args!("`{name}` is not a metric lifeguard knows"))
        })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq<str> for Metric {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl PartialEq<&str> for Metric {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_signed_and_a_change_that_rounds_to_zero_is_not() {
        assert_eq!(Metric::P95LatencyMs.format_change(4.0), "+4.00 ms");
        assert_eq!(Metric::P95LatencyMs.format_change(-4.0), "-4.00 ms");
        assert_eq!(signed_percent(0.123, 1), "+12.3 %");
        assert_eq!(signed_percent(-0.05, 1), "-5.0 %");
        assert_eq!(signed_percent(2.48, 0), "+248 %");
        assert_eq!(signed_percent(-0.0004, 1), "0.0 %");
        assert_eq!(signed_percent(0.0, 0), "0 %");
    }

    #[test]
    fn the_wire_name_is_what_serde_writes_and_reads() {
        for metric in Metric::all() {
            let json = serde_json::to_value(metric).unwrap();
            assert_eq!(json, serde_json::Value::from(metric.name()));
            let back: Metric = serde_json::from_value(json).unwrap();
            assert_eq!(back, metric);
            assert_eq!(metric.to_string(), metric.name());
            assert!(metric == metric.name());
        }
        assert!(serde_json::from_str::<Metric>(r#""p95_latency""#).is_err());
    }

    #[test]
    fn the_name_agrees_with_the_unit() {
        for metric in Metric::all() {
            let name = metric.name();
            let by_suffix = match metric.unit() {
                Unit::Milliseconds => name.ends_with("_ms"),
                Unit::Seconds => name.ends_with("_s"),
                Unit::Percent => name.ends_with("_pct"),
                Unit::RequestsPerSecond => name.ends_with("_rps"),
                Unit::PerSecond => name.ends_with("_per_s"),
                Unit::Share | Unit::Count => true,
            };
            assert!(by_suffix, "{name} in {:?}", metric.unit());
        }
    }

    #[test]
    fn values_and_titles_carry_their_units() {
        assert_eq!(Metric::P95LatencyMs.format(12.345), "12.3 ms");
        assert_eq!(Metric::SuccessRate.format(0.95), "95.0 %");
        assert_eq!(Metric::RecoveryS.format(3.5), "3.50 s");
        assert_eq!(Metric::ChurnPerS.format(5.0), "5 /s");
        assert_eq!(Metric::Leaks.format(0.0), "0");
        assert_eq!(Metric::ThroughputRps.format(812.34), "812.3 req/s");
        assert_eq!(Metric::P95LatencyMs.titled(), "p95 latency (ms)");
        assert_eq!(Metric::SuccessRate.titled(), "success rate");
        assert_eq!(Metric::ChurnPerS.titled(), "new connections (/s)");
        assert_eq!(Metric::RecoveryS.titled(), "recovery (s)");
    }

    #[test]
    fn only_the_sampled_metrics_are_tested_on_blocks() {
        let sampled: Vec<Metric> = Metric::all().filter(|m| !m.once_per_run()).collect();
        assert_eq!(sampled, Metric::PER_SCENARIO[..7]);
        assert_eq!(Metric::SuccessRate.better(), Better::Higher);
        assert_eq!(Metric::P95LatencyMs.better(), Better::Lower);
        assert!((Metric::ThroughputRps.default_threshold() - 0.25).abs() < 1e-12);
        assert!((Metric::P99LatencyMs.default_floor() - 25.0).abs() < 1e-12);
        assert!(Metric::Leaks.any_change_decides());
    }
}
