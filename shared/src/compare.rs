//! A comparison of a head run with a base run (usually the baseline), per scenario and metric.

use serde::{Deserialize, Serialize};

use crate::metric::Metric;

/// What a metric's change means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Improved,
    /// Within the relative threshold and, where the metric has one, the absolute floor.
    Unchanged,
    /// Past one of those bars but not both (say +272 % that is still under a 25 ms floor): a
    /// change, shown with its numbers, too small to judge.
    Small,
    /// The change is large enough to matter but the data cannot tell it from noise.
    Inconclusive,
    Regressed,
}

impl Verdict {
    pub const ALL: [Self; 5] = [
        Self::Improved,
        Self::Unchanged,
        Self::Small,
        Self::Inconclusive,
        Self::Regressed,
    ];

    /// The wire spelling.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Improved => "improved",
            Self::Unchanged => "unchanged",
            Self::Small => "small",
            Self::Inconclusive => "inconclusive",
            Self::Regressed => "regressed",
        }
    }
}

/// Which direction is worse for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
}

/// One metric of one scenario (or of the run) in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// e.g. `p95_latency_ms`, `success_rate`, `throughput_rps`, `recovery_s`, `leaks`.
    pub metric: Metric,
    pub better: Better,
    pub base: Option<f64>,
    pub head: Option<f64>,
    /// `head - base`.
    pub delta: Option<f64>,
    /// `delta / |base|`; `null` when base is zero or missing.
    pub relative: Option<f64>,
    /// The practical effect that counts as a change, as a share (0.10 = 10 %).
    pub practical_threshold: f64,
    /// Two-sided p-value of the block test, Holm-adjusted over the comparison's tests; `null`
    /// where no test ran (a change within the practical bars, a metric measured once per run).
    pub p_value: Option<f64>,
    /// Blocks behind each side's value (0 for metrics measured once per run).
    pub base_blocks: u32,
    pub head_blocks: u32,
    pub verdict: Verdict,
    /// Why the verdict is what it is, where the numbers alone do not say: which bar a `small`
    /// change missed, the p-value before adjustment, blocks tied at one value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Every metric of one scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioComparison {
    pub name: String,
    pub metrics: Vec<MetricComparison>,
    /// The metrics' verdicts combined by [`combine`].
    pub verdict: Verdict,
}

/// A run as a comparison names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    pub id: String,
    pub suite: String,
    pub target: String,
    pub profile: String,
    pub environment: String,
    pub version: String,
}

/// `GET /api/compare`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub base: RunRef,
    pub head: RunRef,
    /// The baseline the base run came from, when asked by baseline name.
    pub baseline: Option<String>,
    pub scenarios: Vec<ScenarioComparison>,
    /// Run-level metrics: recovery time, leaks.
    pub run: Vec<MetricComparison>,
    /// `regressed` when any metric regressed; else `inconclusive` when any is; else `improved`
    /// when any improved; else `small` when any is; else `unchanged`.
    pub verdict: Verdict,
    /// The method, in words, so a reader of the JSON knows what a verdict rests on.
    pub method: String,
}

/// The overall verdict of a set of verdicts.
#[must_use]
pub fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
    let (mut any_improved, mut any_small, mut any_inconclusive) = (false, false, false);
    for verdict in verdicts {
        match verdict {
            Verdict::Regressed => return Verdict::Regressed,
            Verdict::Inconclusive => any_inconclusive = true,
            Verdict::Improved => any_improved = true,
            Verdict::Small => any_small = true,
            Verdict::Unchanged => {}
        }
    }
    if any_inconclusive {
        Verdict::Inconclusive
    } else if any_improved {
        Verdict::Improved
    } else if any_small {
        Verdict::Small
    } else {
        Verdict::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_regression_decides_and_improvements_only_count_alone() {
        use Verdict::*;
        assert_eq!(combine([Improved, Regressed, Unchanged]), Regressed);
        assert_eq!(combine([Improved, Inconclusive]), Inconclusive);
        assert_eq!(combine([Improved, Unchanged]), Improved);
        assert_eq!(combine([Improved, Small]), Improved);
        assert_eq!(combine([Small, Unchanged]), Small);
        assert_eq!(combine([Small, Inconclusive]), Inconclusive);
        assert_eq!(combine([Unchanged]), Unchanged);
        assert_eq!(combine([]), Unchanged);
    }

    #[test]
    fn names_are_the_wire_spellings() {
        for verdict in Verdict::ALL {
            assert_eq!(
                serde_json::to_value(verdict).unwrap(),
                serde_json::Value::from(verdict.name())
            );
        }
    }
}
