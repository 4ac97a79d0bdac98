//! The run report as a terminal table: one row per scenario with its verdict, then the run-level
//! criteria and the alert thresholds.

use std::fmt::Write as _;

use lifeguard_shared::compare::{Comparison, Verdict};
use lifeguard_shared::metric::signed_percent;
use lifeguard_shared::report::{Level, RunReport};

fn verdict(passed: bool) -> &'static str {
    if passed { "PASS" } else { "FAIL" }
}

/// Renders `report` for a terminal.
#[must_use]
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:>8} {:>8} {:>9} {:>9} {:>9} {:>10} {:>8} {:>6} {:>6} {:>7}",
        "scenario",
        "requests",
        "success",
        "mean ms",
        "p95 ms",
        "p99 ms",
        "wait p95",
        "req/s",
        "util",
        "exh.",
        "verdict"
    );
    scenario_rows(&mut out, report);
    run_rows(&mut out, report);
    summary(&mut out, report);
    out
}

fn scenario_rows(out: &mut String, report: &RunReport) {
    for s in &report.scenarios {
        let _ = writeln!(
            out,
            "{:<12} {:>8} {:>7.1}% {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>8.1} {:>5.0}% {:>6} {:>7}",
            s.name,
            s.requests,
            s.success_rate * 100.0,
            s.latency_ms.mean,
            s.latency_ms.p95,
            s.latency_ms.p99,
            s.acquire_wait_ms.p95,
            s.throughput_rps,
            s.pool.peak_utilization * 100.0,
            s.pool.exhaustion_events,
            verdict(s.passed)
        );
        for c in s.criteria.iter().filter(|c| !c.passed) {
            let _ = writeln!(
                out,
                "  ✗ {} = {} (must be {} {})",
                c.name,
                c.value
                    .map_or_else(|| "not measured".into(), |v| c.name.format(v)),
                c.rule,
                c.name.format(c.threshold)
            );
        }
        if let Some(schedule) = s.schedule.as_ref().filter(|s| s.generator_saturated) {
            let _ = writeln!(
                out,
                "  generator saturated: the engine, not the target, was the limit — requests \
                 started {:.1} ms late at p99 (max {:.1} ms) against {}/s on {} engine thread{}; \
                 give it more (--engine-threads) or ask a lower rate",
                schedule.lag_p99_ms,
                schedule.lag_max_ms,
                schedule.rate_per_s,
                report.engine_threads,
                if report.engine_threads == 1 { "" } else { "s" }
            );
        }
    }
}

fn run_rows(out: &mut String, report: &RunReport) {
    if let Some(r) = &report.recovery {
        let _ = writeln!(
            out,
            "recovery     {:>8}  burst of {} ({} timed out, {} exhaustion events)  {}",
            r.seconds
                .map_or_else(|| "never".into(), |s| format!("{s:.2} s")),
            r.burst_requests,
            r.burst_timeouts,
            r.exhaustion_events,
            verdict(r.passed)
        );
    }
    if let Some(l) = &report.leaks {
        let _ = writeln!(
            out,
            "leaks        checked out after: {}, idle in transaction: {}, backends {}/{}  {}",
            l.checked_out_after,
            l.idle_in_transaction,
            l.server_backends,
            l.allowed_backends,
            verdict(l.passed)
        );
    }
    let alerts: Vec<String> = report
        .thresholds
        .iter()
        .filter(|t| t.level != Level::Ok)
        .map(|t| {
            let level = if t.level == Level::Critical {
                "CRITICAL"
            } else {
                "warning"
            };
            format!(
                "{level}: {} peaked at {} (warning {}, critical {})",
                t.metric,
                t.metric.format(t.peak),
                t.metric.format(t.warning),
                t.metric.format(t.critical)
            )
        })
        .collect();
    for alert in &alerts {
        let _ = writeln!(out, "{alert}");
    }
}

fn summary(out: &mut String, report: &RunReport) {
    let _ = write!(
        out,
        "{} on {} with profile {}: {}",
        report.suite,
        report.target,
        report.profile,
        match report.state {
            lifeguard_shared::report::RunState::Passed => "PASSED".to_owned(),
            lifeguard_shared::report::RunState::Failed =>
                format!("FAILED ({})", report.failed_criteria().join(", ")),
            other => format!("{other:?}").to_uppercase(),
        }
    );
    if let Some(error) = &report.error {
        let _ = write!(out, " — {error}");
    }
    out.push('\n');
}

/// A comparison for a terminal: every metric that changed verdict, then the overall verdict.
#[must_use]
pub fn render_comparison(comparison: &Comparison) -> String {
    let mut out = String::new();
    let against = comparison.baseline.as_ref().map_or_else(
        || format!("run {}", comparison.base.id),
        |b| format!("baseline {b} (run {})", comparison.base.id),
    );
    let _ = writeln!(out, "run {} against {against}:", comparison.head.id);
    let _ = writeln!(
        out,
        "{:<12} {:<22} {:>12} {:>12} {:>9} {:>9} {:>13}",
        "scenario", "metric", "base", "head", "change", "p", "verdict"
    );
    let rows = comparison
        .scenarios
        .iter()
        .flat_map(|s| s.metrics.iter().map(move |m| (s.name.as_str(), m)))
        .chain(comparison.run.iter().map(|m| ("(run)", m)));
    let mut shown = 0;
    for (scenario, m) in rows {
        if m.verdict == Verdict::Unchanged {
            continue;
        }
        shown += 1;
        let value = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| m.metric.format(v));
        let _ = writeln!(
            out,
            "{:<12} {:<22} {:>12} {:>12} {:>9} {:>9} {:>13}",
            scenario,
            m.metric.name(),
            value(m.base),
            value(m.head),
            m.relative
                .map_or_else(|| "–".to_owned(), |r| signed_percent(r, 1)),
            m.p_value
                .map_or_else(|| "–".to_owned(), |p| format!("{p:.4}")),
            m.verdict.name().to_uppercase()
        );
        if let Some(note) = &m.note {
            let _ = writeln!(out, "{:<35} ({note})", "");
        }
    }
    if shown == 0 {
        let _ = writeln!(out, "(every metric unchanged)");
    }
    let _ = writeln!(
        out,
        "verdict: {} — {}",
        comparison.verdict.name().to_uppercase(),
        comparison.summary()
    );
    out
}
