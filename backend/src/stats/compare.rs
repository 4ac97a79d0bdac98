//! Comparing a head run with a base run.
//!
//! Method, per scenario and metric:
//! 1. The **effect** is the relative change of the scenario's value (`(head - base) / |base|`),
//!    signed so that positive means worse for the metric (higher latency, lower success rate…).
//! 2. A change within both the metric's **practical threshold** (default 10 %, throughput 25 %)
//!    and its absolute **floor** (5 % of the analysis's limits: 10 ms for mean, median and acquire
//!    wait, 25 ms for P95/P99; one point of success rate; for a monitor's gauges five points of a
//!    percentage, one session or backend, one second) is `unchanged`. Past only one of them it
//!    is `small`: shown with its numbers and which bar it missed, never paged on (nobody should be
//!    paged for 3 %, or for 0.7 ms on a 4 ms request), and never called `unchanged` (8.6 → 32 ms
//!    is a change, if one under the 25 ms floor). Metrics without a floor have only the relative
//!    bar.
//! 3. A change past both bars needs **statistical support**: a two-sided Mann-Whitney test of the
//!    two runs' block values (per-second blocks, or runs of consecutive requests for scenarios
//!    that last under 20 s; see [`super::blocks`]). Only those changes are tested, so a p-value
//!    appears where a test ran. A comparison tests several metrics at once and its verdict is
//!    `regressed` when any one is, so the p-values are Holm-adjusted over every tested metric of
//!    the comparison, holding the chance of a false `regressed` anywhere in it to α = 0.01;
//!    `p_value` is the adjusted one and the note keeps the raw one. Supported: `regressed` or
//!    `improved`. Not supported, or fewer than two blocks on a side: `inconclusive`. Ties: when
//!    most blocks share one value (no acquire wait at all in most of them), the rank test sees
//!    only the blocks that differ; a scenario-wide change carried by a few blocks is then rightly
//!    `inconclusive`, and the note says how many blocks were tied.
//! 4. Metrics measured once per run (peak utilization, churn, exhaustion events, recovery time)
//!    have no blocks: one value a side cannot tell a change from run-to-run variation, so a change
//!    beyond the threshold is `inconclusive`, never `regressed`. The same holds for the throughput
//!    of scenarios too short for per-second blocks (it is set by the ramp, which one stall
//!    moves). Leaks are the exception: a leaked connection is not noise, so any change in their
//!    count decides.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use lifeguard_shared::compare::{
    Better, Comparison, MetricComparison, RunRef, ScenarioComparison, Verdict, combine,
};
use lifeguard_shared::metric::Metric;
use lifeguard_shared::monitor::{MONITORED, MonitorSample};
use lifeguard_shared::report::{RunReport, ScenarioReport};
use serde::{Deserialize, Serialize};

use super::blocks::Block;
use super::mann_whitney;

/// Significance level of the block test.
pub const ALPHA: f64 = 0.01;

/// Practical thresholds (shares: 0.10 = 10 %) and absolute floors, by metric; the defaults are
/// each [`Metric`]'s own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompareSettings {
    /// Relative change that counts, unless `per_metric` says otherwise.
    pub practical_threshold: f64,
    /// Relative thresholds by metric (a name that is no metric is refused).
    pub per_metric: BTreeMap<Metric, f64>,
    /// Smallest absolute change that counts, by metric (in the metric's unit).
    pub min_effect: BTreeMap<Metric, f64>,
}

impl Default for CompareSettings {
    fn default() -> Self {
        let general = 0.10;
        let metrics = Metric::PER_SCENARIO
            .into_iter()
            .chain([Metric::RecoveryS, Metric::Leaks])
            .chain(MONITORED);
        Self {
            practical_threshold: general,
            per_metric: metrics
                .clone()
                .filter(|m| (m.default_threshold() - general).abs() > f64::EPSILON)
                .map(|m| (m, m.default_threshold()))
                .collect(),
            min_effect: metrics
                .filter(|m| m.default_floor() > 0.0)
                .map(|m| (m, m.default_floor()))
                .collect(),
        }
    }
}

impl CompareSettings {
    fn threshold(&self, metric: Metric) -> f64 {
        self.per_metric
            .get(&metric)
            .copied()
            .unwrap_or(self.practical_threshold)
    }

    fn floor(&self, metric: Metric) -> f64 {
        self.min_effect.get(&metric).copied().unwrap_or(0.0)
    }
}

/// One side of a comparison: the run's report, its blocks per scenario, and how to name it.
#[derive(Debug, Clone)]
pub struct Side<'a> {
    pub reference: RunRef,
    pub report: &'a RunReport,
    pub blocks: &'a BTreeMap<String, Vec<Block>>,
}

type BlockValue = fn(&Block) -> Option<f64>;

/// A scenario's value of `metric`, and its value in one block when the metric is sampled.
fn scenario_value(metric: Metric) -> (fn(&ScenarioReport) -> f64, Option<BlockValue>) {
    match metric {
        Metric::SuccessRate => (|s| s.success_rate, Some(|b| Some(b.success_rate()))),
        Metric::MeanLatencyMs => (|s| s.latency_ms.mean, Some(|b| Some(b.mean_ms))),
        Metric::P50LatencyMs => (|s| s.latency_ms.p50, Some(|b| Some(b.p50_ms))),
        Metric::P95LatencyMs => (|s| s.latency_ms.p95, Some(|b| Some(b.p95_ms))),
        Metric::P99LatencyMs => (|s| s.latency_ms.p99, Some(|b| Some(b.p99_ms))),
        Metric::AcquireWaitP95Ms => (|s| s.acquire_wait_ms.p95, Some(|b| Some(b.wait_p95_ms))),
        Metric::ThroughputRps => (|s| s.throughput_rps, Some(Block::throughput)),
        Metric::PeakUtilization => (|s| s.pool.peak_utilization, None),
        Metric::ChurnPerS => (|s| s.pool.peak_churn_per_s, None),
        Metric::ExhaustionEvents => (|s| s.pool.exhaustion_events as f64, None),
        // Not compared per scenario: judged for the run, a threshold, a monitor's, or the engine's.
        Metric::RecoveryS
        | Metric::Leaks
        | Metric::PoolUtilizationPct
        | Metric::OverflowUsagePct
        | Metric::ResponseTimeMs
        | Metric::ConnectionBudgetPct
        | Metric::ConnectionsUsedPct
        | Metric::IdleInTransaction
        | Metric::IdleInTransactionAgeS
        | Metric::LongestTransactionS
        | Metric::WaitingBackends
        | Metric::ScheduleLagP99Ms => (|_| f64::NAN, None),
    }
}

/// Relative change signed so that positive is worse; `None` when the base is zero.
fn worse_by(better: Better, base: f64, head: f64) -> Option<f64> {
    if base == 0.0 {
        return None;
    }
    let relative = (head - base) / base.abs();
    Some(match better {
        Better::Lower => relative,
        Better::Higher => -relative,
    })
}

/// Where a change stands against a metric's two practical bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    /// Within the relative threshold and the floor (or no change at all).
    Within,
    /// Past the relative threshold, under the floor.
    UnderFloor,
    /// Past the floor, under the relative threshold.
    UnderThreshold,
    /// Past both: a candidate for a verdict, which a test (or the metric's rule) decides.
    Past,
}

fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

fn size(better: Better, base: f64, head: f64, threshold: f64, floor: f64) -> Size {
    let change = (head - base).abs();
    if change < f64::EPSILON {
        return Size::Within;
    }
    // From zero every change is past any relative threshold.
    let past_threshold = worse_by(better, base, head).is_none_or(|e| e.abs() >= threshold);
    // A metric without a floor has only the relative bar.
    let past_floor = floor <= 0.0 || change >= floor;
    match (past_threshold, past_floor) {
        (true, true) => Size::Past,
        (true, false) => Size::UnderFloor,
        (false, true) if floor > 0.0 => Size::UnderThreshold,
        (false, _) => Size::Within,
    }
}

/// `k of n blocks at V`, when at least half the blocks of both sides share one value: the rank
/// test then sees only the blocks that differ, and a change in the scenario's value that those
/// few blocks carry gets a large p-value.
fn tied_blocks(metric: Metric, a: &[f64], b: &[f64]) -> Option<String> {
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    let (value, count) = all
        .chunk_by(|x, y| x.total_cmp(y).is_eq())
        .map(|tie| (tie[0], tie.len()))
        .max_by_key(|&(_, count)| count)?;
    (count > 1 && 2 * count >= all.len()).then(|| {
        format!(
            "{count} of {} blocks at {}",
            all.len(),
            metric.format(value)
        )
    })
}

/// Most block values a comparison carries per side: a chart's dots show the spread, and an hour's
/// 3,600 seconds would make the answer hundreds of kilobytes.
pub const MAX_SHOWN_BLOCKS: usize = 50;

/// The block values a chart shows: all of them up to [`MAX_SHOWN_BLOCKS`], else that many
/// evenly spaced quantiles of them (the spread, without the bulk); to four decimals (0.1 µs,
/// 0.01 % of success).
fn shown(values: &[f64]) -> Vec<f64> {
    let round = |v: f64| (v * 1e4).round() / 1e4;
    if values.len() <= MAX_SHOWN_BLOCKS {
        return values.iter().copied().map(round).collect();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (0..MAX_SHOWN_BLOCKS)
        .map(|i| {
            let rank = (i * (sorted.len() - 1)) / (MAX_SHOWN_BLOCKS - 1);
            round(sorted[rank])
        })
        .collect()
}

fn judge(
    metric: Metric,
    base: Option<f64>,
    head: Option<f64>,
    blocks: Option<(&[f64], &[f64])>,
    settings: &CompareSettings,
) -> MetricComparison {
    let threshold = settings.threshold(metric);
    let floor = settings.floor(metric);
    let better = metric.better();
    let delta = base.zip(head).map(|(b, h)| h - b);
    let relative = base
        .zip(head)
        .and_then(|(b, h)| (b != 0.0).then(|| (h - b) / b.abs()));
    let (base_blocks, head_blocks) = blocks.map_or((0, 0), |(a, b)| {
        (
            u32::try_from(a.len()).unwrap_or(u32::MAX),
            u32::try_from(b.len()).unwrap_or(u32::MAX),
        )
    });
    let mut p_value = None;
    let mut note = None;
    let verdict = match (base, head) {
        (Some(b), Some(h)) => {
            let worse = match better {
                Better::Lower => h > b,
                Better::Higher => h < b,
            };
            let direction = if worse {
                Verdict::Regressed
            } else {
                Verdict::Improved
            };
            let size = if metric.any_change_decides() && (h - b).abs() >= f64::EPSILON {
                Size::Past
            } else {
                size(better, b, h, threshold, floor)
            };
            match size {
                Size::Within => Verdict::Unchanged,
                _ if metric.any_change_decides() => direction,
                Size::UnderFloor => {
                    note = Some(format!(
                        "past the {} threshold, under the {} floor",
                        percent(threshold),
                        metric.format(floor)
                    ));
                    Verdict::Small
                }
                Size::UnderThreshold => {
                    note = Some(format!(
                        "past the {} floor, under the {} threshold",
                        metric.format(floor),
                        percent(threshold)
                    ));
                    Verdict::Small
                }
                Size::Past => {
                    // Only a change past both bars is tested: its verdict rests on the test.
                    if let Some((a, b)) = blocks.filter(|(a, b)| a.len() >= 2 && b.len() >= 2) {
                        p_value = mann_whitney::p_value(a, b);
                        note = tied_blocks(metric, a, b);
                    }
                    if p_value.is_some_and(|p| p < ALPHA) {
                        // Provisional: `holm` may take the support back.
                        direction
                    } else {
                        Verdict::Inconclusive
                    }
                }
            }
        }
        _ => Verdict::Inconclusive,
    };
    MetricComparison {
        metric,
        better,
        base,
        head,
        delta,
        relative,
        practical_threshold: threshold,
        p_value,
        base_blocks,
        head_blocks,
        verdict,
        note,
        base_values: blocks.map(|(a, _)| shown(a)).unwrap_or_default(),
        head_values: blocks.map(|(_, b)| shown(b)).unwrap_or_default(),
    }
}

fn scenario(
    base: Option<&ScenarioReport>,
    head: Option<&ScenarioReport>,
    base_blocks: &[Block],
    head_blocks: &[Block],
    settings: &CompareSettings,
) -> Vec<MetricComparison> {
    // A short scenario's throughput is set by its ramp (connections opening, the first waves): a
    // stall of a few milliseconds moves it by half, and its blocks share that stall. One run a
    // side cannot tell this from a change, so it is block-tested only on per-second blocks.
    let timed_by_seconds = [base_blocks, head_blocks]
        .iter()
        .all(|blocks| !blocks.is_empty() && blocks.iter().all(|b| b.per_second));
    Metric::PER_SCENARIO
        .into_iter()
        .map(|metric| {
            let (value, block_value) = scenario_value(metric);
            let values = |blocks: &[Block], f: BlockValue| -> Vec<f64> {
                blocks.iter().filter_map(f).collect()
            };
            let block_value =
                block_value.filter(|_| metric != Metric::ThroughputRps || timed_by_seconds);
            let block_values =
                block_value.map(|f| (values(base_blocks, f), values(head_blocks, f)));
            judge(
                metric,
                base.map(value),
                head.map(value),
                block_values
                    .as_ref()
                    .map(|(a, b)| (a.as_slice(), b.as_slice())),
                settings,
            )
        })
        .collect()
}

fn scenario_of<'r>(side: &Side<'r>, name: &str) -> Option<&'r ScenarioReport> {
    side.report.scenarios.iter().find(|s| s.name == name)
}

fn blocks_of<'r>(side: &Side<'r>, name: &str) -> &'r [Block] {
    side.blocks.get(name).map_or(&[], Vec::as_slice)
}

/// Compares `head` with `base`, scenario by scenario (matched by name) and for the run.
#[must_use]
pub fn compare(
    base: &Side<'_>,
    head: &Side<'_>,
    baseline: Option<String>,
    settings: &CompareSettings,
) -> Comparison {
    let mut names: Vec<&str> = base
        .report
        .scenarios
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    for s in &head.report.scenarios {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    let mut scenarios: Vec<ScenarioComparison> = names
        .into_iter()
        .map(|name| ScenarioComparison {
            name: name.to_owned(),
            metrics: scenario(
                scenario_of(base, name),
                scenario_of(head, name),
                blocks_of(base, name),
                blocks_of(head, name),
                settings,
            ),
            verdict: Verdict::Unchanged,
        })
        .collect();
    holm(scenarios.iter_mut().flat_map(|s| s.metrics.iter_mut()));
    for scenario in &mut scenarios {
        scenario.verdict = combine(scenario.metrics.iter().map(|m| m.verdict));
    }
    let recovery = |side: &Side<'_>| side.report.recovery.as_ref().and_then(|r| r.seconds);
    let leaks = |side: &Side<'_>| side.report.leaks.as_ref().map(|l| f64::from(l.count()));
    // A run-level metric neither run measured (no recovery phase, no leak check) is left out:
    // there is nothing to judge, and calling it inconclusive would cloud the verdict.
    let run: Vec<MetricComparison> = [
        judge(
            Metric::RecoveryS,
            recovery(base),
            recovery(head),
            None,
            settings,
        ),
        judge(Metric::Leaks, leaks(base), leaks(head), None, settings),
    ]
    .into_iter()
    .filter(|m| m.base.is_some() || m.head.is_some())
    .collect();
    let verdict = combine(
        scenarios
            .iter()
            .map(|s| s.verdict)
            .chain(run.iter().map(|m| m.verdict)),
    );
    Comparison {
        base: base.reference.clone(),
        head: head.reference.clone(),
        baseline,
        scenarios,
        run,
        verdict,
        method: METHOD.to_owned(),
    }
}

/// Two windows of a monitor's samples (before and after a deployment), metric by metric: each
/// window's mean, each sample a block of the test, the same practical bars, test and Holm's
/// adjustment as two runs — so traffic alone can say `regressed`. The verdict combines the
/// metrics'.
#[must_use]
pub fn compare_windows(
    before: &[MonitorSample],
    after: &[MonitorSample],
    settings: &CompareSettings,
) -> (Vec<MetricComparison>, Verdict) {
    // A metric neither window measured (a server's pool, without its service's metrics) is left
    // out: there is nothing to judge.
    let mut metrics: Vec<MetricComparison> = MONITORED
        .into_iter()
        .filter(|&metric| {
            before
                .iter()
                .chain(after)
                .any(|s| s.value(metric).is_some())
        })
        .map(|metric| {
            let values = |window: &[MonitorSample]| -> Vec<f64> {
                window.iter().filter_map(|s| s.value(metric)).collect()
            };
            let (a, b) = (values(before), values(after));
            #[expect(clippy::cast_precision_loss, reason = "a window's sample count")]
            let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
            judge(metric, mean(&a), mean(&b), Some((&a, &b)), settings)
        })
        .collect();
    holm(metrics.iter_mut());
    let verdict = combine(metrics.iter().map(|m| m.verdict));
    (metrics, verdict)
}

/// Holm's step-down adjustment of the block tests' p-values (family: every metric tested, i.e.
/// every change past both practical bars). A metric whose adjusted p-value no longer reaches
/// [`ALPHA`] loses its provisional `regressed`/`improved` and becomes `inconclusive`; its note
/// keeps the p-value before adjustment.
fn holm<'a>(metrics: impl Iterator<Item = &'a mut MetricComparison>) {
    let mut tested: Vec<&mut MetricComparison> = metrics.filter(|m| m.p_value.is_some()).collect();
    tested.sort_by(|a, b| a.p_value.partial_cmp(&b.p_value).unwrap_or(Ordering::Equal));
    let family = tested.len();
    let mut running_max = 0.0_f64;
    for (rank, metric) in tested.into_iter().enumerate() {
        let raw = metric.p_value.unwrap_or(1.0);
        running_max = running_max.max(((family - rank) as f64 * raw).min(1.0));
        metric.p_value = Some(running_max);
        if family > 1 {
            let adjusted = format!("p {raw:.3} before Holm's adjustment over {family} tests");
            metric.note = Some(match metric.note.take() {
                Some(note) => format!("{note}; {adjusted}"),
                None => adjusted,
            });
        }
        if running_max >= ALPHA
            && matches!(metric.verdict, Verdict::Regressed | Verdict::Improved)
            && !metric.metric.any_change_decides()
        {
            metric.verdict = Verdict::Inconclusive;
        }
    }
}

/// The method in words, carried in every comparison.
pub const METHOD: &str = "Per scenario and metric: a change within the practical threshold \
(default 10 %) and the metric's absolute floor is unchanged; past only one of them, small. Past \
both, a two-sided Mann-Whitney test of per-second blocks (or, for scenarios under 20 s, runs of \
consecutive requests) must reject equality at alpha 0.01 after Holm's adjustment over every \
tested metric of the comparison; a large change without that support is inconclusive. Metrics \
measured once per run (peaks, churn, exhaustion events, recovery) and the throughput of \
scenarios under 20 s are at most inconclusive; any change in leaks decides.";

#[cfg(test)]
mod tests {
    use super::*;

    /// A window of `n` samples of a server with `backends` of 100 connections, `idle` of them idle
    /// in a transaction.
    fn window(n: u64, backends: u32, idle: u32) -> Vec<MonitorSample> {
        (0..n)
            .map(|i| MonitorSample {
                at_ms: i * 1000,
                max_connections: 100,
                backends,
                idle_in_transaction: idle,
                ..MonitorSample::default()
            })
            .collect()
    }

    #[test]
    fn a_deployment_is_judged_past_the_monitor_gauges_floors_only() {
        let settings = CompareSettings::default();
        let (metrics, verdict) = compare_windows(&window(10, 0, 0), &window(10, 2, 2), &settings);
        let of = |metric| metrics.iter().find(|m| m.metric == metric).unwrap();
        assert_eq!(of(Metric::IdleInTransaction).verdict, Verdict::Regressed);
        // 0 → 2 % of max_connections: under the five-point floor.
        assert_eq!(of(Metric::ConnectionsUsedPct).verdict, Verdict::Small);
        assert_eq!(verdict, Verdict::Regressed);
        let (metrics, verdict) = compare_windows(&window(10, 0, 0), &window(10, 10, 0), &settings);
        let used = metrics
            .iter()
            .find(|m| m.metric == Metric::ConnectionsUsedPct)
            .unwrap();
        assert_eq!(used.verdict, Verdict::Regressed, "0 → 10 %: {used:?}");
        assert_eq!(verdict, Verdict::Regressed);
    }

    fn blocks(values: &[f64]) -> Vec<Block> {
        values
            .iter()
            .map(|&v| Block {
                requests: 10,
                ok: 10,
                seconds: 0.1,
                mean_ms: v,
                p50_ms: v,
                p95_ms: v * 1.5,
                p99_ms: v * 2.0,
                wait_p95_ms: v / 2.0,
                per_second: true,
            })
            .collect()
    }

    fn mean_of(values: &[f64]) -> f64 {
        values.iter().sum::<f64>() / values.len() as f64
    }

    fn latency_verdict(base: &[f64], head: &[f64]) -> MetricComparison {
        let (a, b) = (blocks(base), blocks(head));
        let values = |bs: &[Block]| bs.iter().map(|b| b.mean_ms).collect::<Vec<_>>();
        judge(
            Metric::MeanLatencyMs,
            Some(mean_of(base)),
            Some(mean_of(head)),
            Some((&values(&a), &values(&b))),
            &CompareSettings::default(),
        )
    }

    #[test]
    fn a_tenfold_latency_change_on_few_blocks_is_regressed() {
        let base = [4.0, 4.4, 3.8, 4.2, 4.6];
        let head = [40.0, 44.0, 38.0, 42.0, 46.0];
        let m = latency_verdict(&base, &head);
        assert_eq!(m.verdict, Verdict::Regressed, "{m:?}");
        assert!(m.p_value.unwrap() < ALPHA);
        assert_eq!(latency_verdict(&head, &base).verdict, Verdict::Improved);
    }

    #[test]
    fn a_change_within_both_bars_is_unchanged_and_untested() {
        let base: Vec<f64> = (0..30).map(|i| 300.0 + f64::from(i) * 0.001).collect();
        let head: Vec<f64> = base.iter().map(|v| v * 1.01).collect();
        let m = latency_verdict(&base, &head);
        assert_eq!(
            (m.verdict, m.p_value, m.note),
            (Verdict::Unchanged, None, None)
        );
    }

    #[test]
    fn a_change_past_the_floor_but_under_the_threshold_is_small_and_untested() {
        // +5 %: 15 ms on 300 ms, past the 10 ms floor; a test would call it significant.
        let base: Vec<f64> = (0..30).map(|i| 300.0 + f64::from(i) * 0.001).collect();
        let head: Vec<f64> = base.iter().map(|v| v * 1.05).collect();
        let m = latency_verdict(&base, &head);
        assert_eq!(m.verdict, Verdict::Small);
        assert_eq!(m.p_value, None, "no test ran, so no p-value");
        assert_eq!(
            m.note.as_deref(),
            Some("past the 10.0 ms floor, under the 10 % threshold")
        );
    }

    #[test]
    fn a_p95_from_8_6_to_32_ms_is_small_not_unchanged() {
        // The case: +272 %, 23.4 ms, under P95's 25 ms floor.
        let m = judge(
            Metric::P95LatencyMs,
            Some(8.6),
            Some(32.0),
            Some((&[8.0, 9.0, 8.5], &[30.0, 33.0, 31.0])),
            &CompareSettings::default(),
        );
        assert_eq!(m.verdict, Verdict::Small);
        assert_eq!(m.p_value, None);
        assert_eq!(
            m.note.as_deref(),
            Some("past the 10 % threshold, under the 25.0 ms floor")
        );
    }

    #[test]
    fn most_blocks_tied_at_zero_are_named_and_a_change_they_hide_stays_inconclusive() {
        // Acquire wait: no wait in most blocks of either run; two blocks of the head waited long.
        let mut base = vec![0.0; 20];
        base[3] = 12.0;
        let mut head = vec![0.0; 20];
        head[5] = 60.0;
        head[6] = 80.0;
        let m = judge(
            Metric::AcquireWaitP95Ms,
            Some(12.0),
            Some(70.0),
            Some((&base, &head)),
            &CompareSettings::default(),
        );
        assert_eq!(m.verdict, Verdict::Inconclusive);
        let p = m.p_value.expect("past both bars: tested");
        assert!(
            p > 0.1,
            "three differing blocks of forty are no evidence: {p}"
        );
        assert_eq!(m.note.as_deref(), Some("37 of 40 blocks at 0.00 ms"));
        // Ties within each side do not hide a real shift: every head block waited.
        let m = judge(
            Metric::AcquireWaitP95Ms,
            Some(0.0),
            Some(40.0),
            Some((&[0.0; 20], &[40.0; 20])),
            &CompareSettings::default(),
        );
        assert_eq!(m.verdict, Verdict::Regressed, "{m:?}");
        assert!(m.p_value.unwrap() < 1e-6);
    }

    #[test]
    fn a_large_change_that_noise_explains_is_inconclusive() {
        let base = [10.0, 90.0, 20.0, 80.0];
        let head = [15.0, 120.0, 25.0, 90.0];
        let m = latency_verdict(&base, &head);
        assert!(m.relative.unwrap() > 0.10);
        assert_eq!(m.verdict, Verdict::Inconclusive, "{m:?}");
    }

    #[test]
    fn one_block_a_side_cannot_support_a_verdict() {
        let m = latency_verdict(&[4.0], &[40.0]);
        assert_eq!(m.p_value, None);
        assert_eq!(m.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn counts_from_zero_change_verdict_on_any_difference() {
        let settings = CompareSettings::default();
        assert_eq!(
            judge(Metric::Leaks, Some(3.0), Some(0.0), None, &settings).verdict,
            Verdict::Improved
        );
        assert_eq!(
            judge(Metric::Leaks, Some(0.0), Some(2.0), None, &settings).verdict,
            Verdict::Regressed
        );
        assert_eq!(
            judge(Metric::Leaks, Some(0.0), Some(0.0), None, &settings).verdict,
            Verdict::Unchanged
        );
        assert_eq!(
            judge(Metric::Leaks, Some(20.0), Some(21.0), None, &settings).verdict,
            Verdict::Regressed,
            "one more leak is a regression, however small a share"
        );
    }

    #[test]
    fn per_metric_thresholds_override_the_default() {
        let settings = CompareSettings {
            practical_threshold: 0.10,
            per_metric: [(Metric::RecoveryS, 0.5)].into(),
            ..CompareSettings::default()
        };
        let m = judge(Metric::RecoveryS, Some(2.0), Some(2.6), None, &settings);
        assert_eq!(m.verdict, Verdict::Unchanged);
        assert!((m.practical_threshold - 0.5).abs() < f64::EPSILON);
        let m = judge(
            Metric::RecoveryS,
            Some(2.0),
            Some(2.6),
            None,
            &CompareSettings::default(),
        );
        assert_eq!(
            m.verdict,
            Verdict::Inconclusive,
            "one value a side cannot support a regression"
        );
    }

    #[test]
    fn an_hour_of_blocks_is_shown_as_fifty_quantiles_from_lowest_to_highest() {
        let hour: Vec<f64> = (0..3600).rev().map(f64::from).collect();
        let values = shown(&hour);
        assert_eq!(values.len(), MAX_SHOWN_BLOCKS);
        assert_eq!((values[0], values[49]), (0.0, 3599.0));
        assert!(values.is_sorted());
        assert_eq!(
            shown(&[2.0, 1.0]),
            [2.0, 1.0],
            "few blocks are shown as they are"
        );
    }

    #[test]
    fn a_change_below_the_absolute_floor_is_small() {
        let m = latency_verdict(
            &[3.9, 3.8, 4.0, 3.9, 3.9, 4.0],
            &[4.6, 4.5, 4.7, 4.6, 4.6, 4.7],
        );
        assert!(m.relative.unwrap() > 0.10);
        assert_eq!(m.verdict, Verdict::Small, "0.7 ms is below the 10 ms floor");
        assert_eq!(m.p_value, None);
    }

    #[test]
    fn lower_success_is_worse() {
        let settings = CompareSettings::default();
        let a: Vec<f64> = vec![1.0; 10];
        let b: Vec<f64> = vec![0.5; 10];
        let m = judge(
            Metric::SuccessRate,
            Some(1.0),
            Some(0.5),
            Some((&a, &b)),
            &settings,
        );
        assert_eq!(m.verdict, Verdict::Regressed);
    }

    fn tested(metric: Metric, p: f64, verdict: Verdict) -> MetricComparison {
        MetricComparison {
            metric,
            better: Better::Lower,
            base: Some(10.0),
            head: Some(20.0),
            delta: Some(10.0),
            relative: Some(1.0),
            practical_threshold: 0.1,
            p_value: Some(p),
            base_blocks: 20,
            head_blocks: 20,
            verdict,
            note: None,
            base_values: Vec::new(),
            head_values: Vec::new(),
        }
    }

    #[test]
    fn holm_takes_back_support_that_only_one_test_of_many_would_give() {
        let mut metrics = [
            tested(Metric::MeanLatencyMs, 0.004, Verdict::Regressed),
            tested(Metric::P50LatencyMs, 0.0001, Verdict::Regressed),
            tested(Metric::P95LatencyMs, 0.5, Verdict::Inconclusive),
            tested(Metric::P99LatencyMs, 0.004, Verdict::Improved),
        ];
        holm(metrics.iter_mut());
        let verdicts: Vec<Verdict> = metrics.iter().map(|m| m.verdict).collect();
        // b: 4 × 0.0001 stays significant; a and d: max(3 × 0.004, 2 × 0.004) = 0.012 does not.
        assert_eq!(
            verdicts,
            [
                Verdict::Inconclusive,
                Verdict::Regressed,
                Verdict::Inconclusive,
                Verdict::Inconclusive
            ]
        );
        let adjusted: Vec<f64> = metrics.iter().map(|m| m.p_value.unwrap()).collect();
        for (got, want) in adjusted.iter().zip([0.012, 0.0004, 0.5, 0.012]) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(
            metrics[0].note.as_deref(),
            Some("p 0.004 before Holm's adjustment over 4 tests")
        );
    }
}
