//! Judging a run: criteria to pass/fail with value and threshold, thresholds to ok/warning/critical
//! with the metric's peak. Pure functions over the report's numbers.

use crate::metric::Metric;
use crate::pool::{PoolProfile, PoolSettings};
use crate::report::{
    CriterionResult, LeakReport, Level, RecoveryReport, SATURATION_LAG_MS, ScenarioReport,
    ServerReport, ThresholdResult,
};
use crate::suite::{Criteria, Levels, Scenario, Thresholds};

fn at_least(name: Metric, value: Option<f64>, threshold: f64) -> CriterionResult {
    CriterionResult {
        name,
        threshold,
        value,
        rule: ">=".into(),
        passed: value.is_some_and(|v| v >= threshold),
    }
}

fn below(name: Metric, value: Option<f64>, threshold: f64) -> CriterionResult {
    CriterionResult {
        name,
        threshold,
        value,
        rule: "<".into(),
        passed: value.is_some_and(|v| v < threshold),
    }
}

/// A scenario's criteria: success rate at least the scenario's minimum, mean and P95 latency below
/// the suite's limits; for an open-model scenario, its schedule kept (p99 lag below
/// [`SATURATION_LAG_MS`]: a saturated engine never passes). A scenario without requests has no
/// latency and fails.
#[must_use]
pub fn scenario_criteria(
    report: &ScenarioReport,
    scenario: &Scenario,
    criteria: &Criteria,
) -> Vec<CriterionResult> {
    let measured = report.requests > 0;
    let latency = |v: f64| measured.then_some(v);
    vec![
        at_least(
            Metric::SuccessRate,
            Some(report.success_rate),
            scenario.min_success_rate,
        ),
        below(
            Metric::MeanLatencyMs,
            latency(report.latency_ms.mean),
            criteria.mean_latency_ms,
        ),
        below(
            Metric::P95LatencyMs,
            latency(report.latency_ms.p95),
            criteria.p95_latency_ms,
        ),
    ]
    .into_iter()
    .chain(report.schedule.as_ref().map(|schedule| {
        below(
            Metric::ScheduleLagP99Ms,
            Some(schedule.lag_p99_ms),
            SATURATION_LAG_MS,
        )
    }))
    .collect()
}

/// Run-level criteria: recovery under the limit, leaks within tolerance. The phases' `passed`
/// is decided here and only here, and written back into their reports.
#[must_use]
pub fn run_criteria(
    recovery: Option<&mut RecoveryReport>,
    leaks: Option<&mut LeakReport>,
    criteria: &Criteria,
) -> Vec<CriterionResult> {
    let mut results = Vec::new();
    if let Some(recovery) = recovery {
        let criterion = below(Metric::RecoveryS, recovery.seconds, criteria.recovery_s);
        recovery.passed = criterion.passed;
        results.push(criterion);
    }
    if let Some(leaks) = leaks {
        let count = leaks.count();
        let criterion = CriterionResult {
            name: Metric::Leaks,
            threshold: f64::from(criteria.max_leaks),
            value: Some(f64::from(count)),
            rule: "<=".into(),
            passed: count <= criteria.max_leaks,
        };
        leaks.passed = criterion.passed;
        results.push(criterion);
    }
    results
}

/// Where `value` falls between the levels.
#[must_use]
pub fn level(value: f64, levels: Levels) -> Level {
    if value >= levels.critical {
        Level::Critical
    } else if value >= levels.warning {
        Level::Warning
    } else {
        Level::Ok
    }
}

/// The alert thresholds against the peaks over all scenarios. Any exhaustion event is critical.
#[must_use]
pub fn thresholds(
    scenarios: &[ScenarioReport],
    primary: &PoolSettings,
    thresholds: &Thresholds,
) -> Vec<ThresholdResult> {
    let peak = |f: &dyn Fn(&ScenarioReport) -> f64| scenarios.iter().map(f).fold(0.0, f64::max);
    let utilization = peak(&|s| s.pool.peak_utilization * 100.0);
    let overflow = if primary.max_overflow == 0 {
        0.0
    } else {
        peak(&|s| f64::from(s.pool.peak_overflow) * 100.0 / f64::from(primary.max_overflow))
    };
    let churn = peak(&|s| s.pool.peak_churn_per_s);
    let response = peak(&|s| s.latency_ms.p95);
    let exhaustion = peak(&|s| s.pool.exhaustion_events as f64);
    let result = |metric: Metric, peak: f64, levels: Levels| ThresholdResult {
        metric,
        peak,
        warning: levels.warning,
        critical: levels.critical,
        level: level(peak, levels),
    };
    vec![
        result(
            Metric::PoolUtilizationPct,
            utilization,
            thresholds.pool_utilization_pct,
        ),
        result(
            Metric::OverflowUsagePct,
            overflow,
            thresholds.overflow_usage_pct,
        ),
        result(Metric::ChurnPerS, churn, thresholds.churn_per_s),
        result(
            Metric::ResponseTimeMs,
            response,
            thresholds.response_time_ms,
        ),
        result(
            Metric::ExhaustionEvents,
            exhaustion,
            Levels {
                warning: 1.0,
                critical: 1.0,
            },
        ),
    ]
}

/// The pools' most connections (every pool's size and overflow) against what the server can give
/// this client at the run's start: `max_connections`, less the superuser reserve, less other
/// clients' backends. At 100 % the pools can ask for more than the server will open, and checkouts
/// fail with "too many clients" instead of queueing.
#[must_use]
pub fn connection_budget(
    profile: &PoolProfile,
    server: &ServerReport,
    levels: Levels,
) -> ThresholdResult {
    let available = server
        .max_connections
        .saturating_sub(server.superuser_reserved_connections)
        .saturating_sub(server.other_backends_at_start);
    let planned = f64::from(profile.total_capacity());
    // Nothing left for this client: every planned connection is over the budget.
    let peak = planned * 100.0 / f64::from(available.max(1));
    ThresholdResult {
        metric: Metric::ConnectionBudgetPct,
        peak,
        warning: levels.warning,
        critical: levels.critical,
        level: level(peak, levels),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{LatencySummary, OutcomeCounts, PoolSummary, WaitSummary};
    use crate::suite::Suite;

    fn scenario_report(success_rate: f64, mean: f64, p95: f64) -> ScenarioReport {
        ScenarioReport {
            name: "light".into(),
            requests: 15,
            succeeded: 15,
            success_rate,
            latency_ms: LatencySummary {
                mean,
                p50: mean,
                p95,
                p99: p95,
                max: p95,
            },
            acquire_wait_ms: WaitSummary::default(),
            throughput_rps: 10.0,
            duration_s: 1.5,
            outcomes: OutcomeCounts::default(),
            pool: PoolSummary::default(),
            schedule: None,
            criteria: vec![],
            passed: true,
        }
    }

    #[test]
    fn an_open_model_scenario_whose_engine_fell_behind_its_schedule_fails() {
        let suite = Suite::auth_burst();
        let mut report = scenario_report(1.0, 12.0, 40.0);
        let schedule = |lag_p99_ms| crate::report::ScheduleReport {
            rate_per_s: 1000.0,
            started: 1000,
            lag_p50_ms: 0.1,
            lag_p99_ms,
            lag_max_ms: lag_p99_ms,
            generator_saturated: lag_p99_ms >= SATURATION_LAG_MS,
        };
        report.schedule = Some(schedule(0.4));
        let kept = scenario_criteria(&report, &suite.scenarios[0], &suite.criteria);
        assert!(kept.iter().all(|c| c.passed), "{kept:?}");
        assert_eq!(kept[3].name, Metric::ScheduleLagP99Ms);
        report.schedule = Some(schedule(35.0));
        let behind = scenario_criteria(&report, &suite.scenarios[0], &suite.criteria);
        let lag = behind
            .iter()
            .find(|c| c.name == Metric::ScheduleLagP99Ms)
            .unwrap();
        assert!(!lag.passed, "{lag:?}");
        assert!(
            behind[..3].iter().all(|c| c.passed),
            "the target did well: {behind:?}"
        );
    }

    #[test]
    fn a_fast_successful_scenario_passes_every_criterion() {
        let suite = Suite::auth_burst();
        let results = scenario_criteria(
            &scenario_report(1.0, 12.0, 40.0),
            &suite.scenarios[0],
            &suite.criteria,
        );
        assert_eq!(results.len(), 3);
        assert!(results.iter().all(|c| c.passed), "{results:?}");
    }

    #[test]
    fn each_broken_limit_fails_its_own_criterion() {
        let suite = Suite::auth_burst();
        let results = scenario_criteria(
            &scenario_report(0.94, 250.0, 499.0),
            &suite.scenarios[0],
            &suite.criteria,
        );
        let failed: Vec<&str> = results
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.name())
            .collect();
        assert_eq!(failed, ["success_rate", "mean_latency_ms"]);
        // 94 % is enough for heavy (90 %) but not for light (95 %).
        let heavy = scenario_criteria(
            &scenario_report(0.94, 10.0, 10.0),
            &suite.scenarios[2],
            &suite.criteria,
        );
        assert!(heavy[0].passed);
    }

    #[test]
    fn latency_at_the_limit_fails_because_it_must_stay_below() {
        let suite = Suite::auth_burst();
        let results = scenario_criteria(
            &scenario_report(1.0, 200.0, 500.0),
            &suite.scenarios[0],
            &suite.criteria,
        );
        assert!(!results[1].passed && !results[2].passed);
    }

    #[test]
    fn a_scenario_without_requests_fails_with_no_value() {
        let suite = Suite::auth_burst();
        let mut report = scenario_report(0.0, 0.0, 0.0);
        report.requests = 0;
        let results = scenario_criteria(&report, &suite.scenarios[0], &suite.criteria);
        assert!(results.iter().all(|c| !c.passed));
        assert_eq!(results[1].value, None);
    }

    #[test]
    fn an_unrecovered_pool_and_a_leak_fail_the_run_criteria() {
        let mut recovery = RecoveryReport {
            seconds: None,
            passed: true,
            burst_requests: 60,
            burst_timeouts: 3,
            exhaustion_events: 30,
        };
        let mut leaks = LeakReport {
            checked_out_after: 2,
            idle_in_transaction: 2,
            server_backends: 12,
            allowed_backends: 20,
            passed: true,
        };
        let results = run_criteria(Some(&mut recovery), Some(&mut leaks), &Criteria::default());
        assert_eq!(results[0].name, "recovery_s");
        assert!(!results[0].passed);
        assert_eq!(results[1].name, "leaks");
        assert_eq!(results[1].value, Some(2.0));
        assert!(!results[1].passed);
        assert!(
            !recovery.passed && !leaks.passed,
            "decided once, written back"
        );
        let mut clean = LeakReport {
            checked_out_after: 0,
            idle_in_transaction: 0,
            server_backends: 20,
            ..leaks
        };
        assert!(run_criteria(None, Some(&mut clean), &Criteria::default())[0].passed);
        assert!(clean.passed);
    }

    #[test]
    fn levels_rise_at_their_thresholds() {
        let levels = Levels {
            warning: 70.0,
            critical: 90.0,
        };
        assert_eq!(level(69.9, levels), Level::Ok);
        assert_eq!(level(70.0, levels), Level::Warning);
        assert_eq!(level(95.0, levels), Level::Critical);
    }

    #[test]
    fn thresholds_use_the_peak_and_any_exhaustion_is_critical() {
        let suite = Suite::auth_burst();
        let primary = crate::pool::PoolProfile::built_in()[0].primary.clone();
        let mut a = scenario_report(1.0, 10.0, 150.0);
        a.pool.peak_utilization = 0.5;
        a.pool.peak_overflow = 4;
        let mut b = scenario_report(1.0, 10.0, 250.0);
        b.pool.peak_utilization = 0.95;
        b.pool.peak_overflow = 17;
        b.pool.exhaustion_events = 1;
        b.pool.peak_churn_per_s = 6.0;
        let results = thresholds(&[a, b], &primary, &suite.thresholds);
        let by = |m: &str| results.iter().find(|r| r.metric == m).unwrap().clone();
        assert_eq!(by("pool_utilization_pct").level, Level::Critical);
        assert!((by("overflow_usage_pct").peak - 85.0).abs() < 1e-9);
        assert_eq!(by("overflow_usage_pct").level, Level::Critical);
        assert_eq!(by("churn_per_s").level, Level::Warning);
        assert_eq!(by("response_time_ms").level, Level::Warning);
        assert_eq!(by("exhaustion_events").level, Level::Critical);
    }

    #[test]
    fn the_connection_budget_counts_every_pool_against_what_the_server_can_give() {
        let current = PoolProfile::built_in().remove(0);
        assert_eq!(current.total_capacity(), 55);
        let server = |max, others| ServerReport {
            max_connections: max,
            superuser_reserved_connections: 3,
            other_backends_at_start: others,
            ..ServerReport::default()
        };
        let levels = Suite::auth_burst().thresholds.connection_budget_pct;
        let roomy = connection_budget(&current, &server(200, 2), levels);
        assert_eq!(roomy.metric, "connection_budget_pct");
        assert!((roomy.peak - 55.0 * 100.0 / 195.0).abs() < 1e-9);
        assert_eq!(roomy.level, Level::Ok);
        let tight = connection_budget(&current, &server(70, 0), levels);
        assert_eq!(tight.level, Level::Warning, "{tight:?}");
        let over = connection_budget(&current, &server(40, 10), levels);
        assert_eq!(over.level, Level::Critical, "{over:?}");
        let none = connection_budget(&current, &server(3, 5), levels);
        assert!((none.peak - 5500.0).abs() < 1e-9);
    }
}
