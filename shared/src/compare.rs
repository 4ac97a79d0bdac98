//! A comparison of a head run with a base run (usually the baseline), per scenario and metric.

use serde::{Deserialize, Serialize};

use crate::metric::{Metric, signed_percent};

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
    /// The block values the test compares (or would compare), base then head: what a chart shows
    /// as the uncertainty of each side; past 50 blocks a side, 50 evenly spaced quantiles of
    /// them. Empty for metrics measured once per run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_values: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub head_values: Vec<f64>,
}

impl MetricComparison {
    /// `light mean latency +22.0 ms (+272.0 %)`.
    fn change_in_words(&self, scenario: &str) -> String {
        let delta = self.delta.map_or_else(String::new, |d| {
            format!(" {}", self.metric.format_change(d))
        });
        let relative = self
            .relative
            .map_or_else(String::new, |r| format!(" ({})", signed_percent(r, 0)));
        format!("{scenario} {}{delta}{relative}", self.metric.label())
    }
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

impl Comparison {
    /// Every metric with the scenario it belongs to (`run` for run-level metrics), in order.
    pub fn metrics(&self) -> impl Iterator<Item = (&str, &MetricComparison)> {
        self.scenarios
            .iter()
            .flat_map(|s| s.metrics.iter().map(move |m| (s.name.as_str(), m)))
            .chain(self.run.iter().map(|m| ("run", m)))
    }

    /// One line for the top of a comparison: what regressed, where and by how much (else what
    /// improved, else what else changed): `2 metrics regressed in 2 scenarios: light mean latency
    /// +22.0 ms (+160 %), heavy p95 latency +40.1 ms (+35 %)`.
    #[must_use]
    pub fn summary(&self) -> String {
        const NAMED: usize = 4;
        let count = |verdict: Verdict| self.metrics().filter(|(_, m)| m.verdict == verdict).count();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let headline = [Verdict::Regressed, Verdict::Improved]
            .into_iter()
            .find(|&v| count(v) > 0);
        let Some(verdict) = headline else {
            let (small, inconclusive) = (count(Verdict::Small), count(Verdict::Inconclusive));
            return match (small, inconclusive) {
                (0, 0) => "Nothing changed beyond the practical thresholds.".to_owned(),
                _ => format!(
                    "Nothing regressed: {} too small to judge, {} inconclusive.",
                    plural(small, "change"),
                    plural(inconclusive, "change")
                ),
            };
        };
        let changed: Vec<(&str, &MetricComparison)> = self
            .metrics()
            .filter(|(_, m)| m.verdict == verdict)
            .collect();
        let mut scenarios: Vec<&str> = changed.iter().map(|(s, _)| *s).collect();
        scenarios.dedup();
        let mut named: Vec<String> = changed
            .iter()
            .take(NAMED)
            .map(|(s, m)| m.change_in_words(s))
            .collect();
        if changed.len() > NAMED {
            named.push(format!("{} more", changed.len() - NAMED));
        }
        format!(
            "{} {} in {}: {}",
            plural(changed.len(), "metric"),
            verdict.name(),
            plural(scenarios.len(), "scenario"),
            named.join(", ")
        )
    }
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

    fn metric(metric: Metric, base: f64, head: f64, verdict: Verdict) -> MetricComparison {
        MetricComparison {
            metric,
            better: metric.better(),
            base: Some(base),
            head: Some(head),
            delta: Some(head - base),
            relative: Some((head - base) / base),
            practical_threshold: 0.1,
            p_value: None,
            base_blocks: 0,
            head_blocks: 0,
            verdict,
            note: None,
            base_values: Vec::new(),
            head_values: Vec::new(),
        }
    }

    fn comparison(scenarios: Vec<(&str, Vec<MetricComparison>)>) -> Comparison {
        let run = RunRef {
            id: "r".into(),
            suite: "auth-burst".into(),
            target: "sandbox".into(),
            profile: "current".into(),
            environment: "dev".into(),
            version: "1".into(),
        };
        Comparison {
            base: run.clone(),
            head: run,
            baseline: None,
            scenarios: scenarios
                .into_iter()
                .map(|(name, metrics)| ScenarioComparison {
                    name: name.into(),
                    verdict: combine(metrics.iter().map(|m| m.verdict)),
                    metrics,
                })
                .collect(),
            run: Vec::new(),
            verdict: Verdict::Unchanged,
            method: String::new(),
        }
    }

    #[test]
    fn the_summary_names_what_regressed_where_and_by_how_much() {
        let c = comparison(vec![
            (
                "light",
                vec![
                    metric(Metric::MeanLatencyMs, 8.0, 30.0, Verdict::Regressed),
                    metric(Metric::P95LatencyMs, 8.6, 32.0, Verdict::Small),
                ],
            ),
            (
                "heavy",
                vec![metric(
                    Metric::P95LatencyMs,
                    100.0,
                    140.0,
                    Verdict::Regressed,
                )],
            ),
        ]);
        assert_eq!(
            c.summary(),
            "2 metrics regressed in 2 scenarios: light mean latency +22.0 ms (+275 %), \
             heavy p95 latency +40.0 ms (+40 %)"
        );
        let quiet = comparison(vec![(
            "light",
            vec![
                metric(Metric::P95LatencyMs, 8.6, 32.0, Verdict::Small),
                metric(Metric::MeanLatencyMs, 8.0, 8.1, Verdict::Unchanged),
            ],
        )]);
        assert_eq!(
            quiet.summary(),
            "Nothing regressed: 1 change too small to judge, 0 changes inconclusive."
        );
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
