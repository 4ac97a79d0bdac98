//! JUnit XML for CI systems: a test case per criterion (per scenario and for the run) and per
//! compared metric. Failed criteria and regressed metrics fail; inconclusive metrics are skipped.

use std::fmt::Write as _;

use lifeguard_shared::compare::{Comparison, Verdict};
use lifeguard_shared::metric::{Metric, signed_percent};
use lifeguard_shared::report::{CriterionResult, RunReport};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// `value` in `metric`'s unit.
fn value(metric: Metric, value: Option<f64>) -> String {
    value.map_or_else(|| "not measured".to_owned(), |v| metric.format(v))
}

fn criterion_case(out: &mut String, class: &str, criterion: &CriterionResult) -> bool {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\">",
        escape(class),
        criterion.name
    );
    if !criterion.passed {
        let message = format!(
            "{} = {}, must be {} {}",
            criterion.name,
            value(criterion.name, criterion.value),
            criterion.rule,
            criterion.name.format(criterion.threshold)
        );
        let _ = write!(out, "<failure message=\"{}\"/>", escape(&message));
    }
    out.push_str("</testcase>\n");
    !criterion.passed
}

/// Test cases and their counts.
#[derive(Default)]
struct Cases {
    xml: String,
    tests: usize,
    failures: usize,
    skipped: usize,
}

fn criteria_cases(report: &RunReport) -> Cases {
    let mut cases = Cases::default();
    let suite_class = format!("lifeguard.{}", report.suite);
    let mut rows: Vec<(String, &CriterionResult)> = Vec::new();
    for scenario in &report.scenarios {
        let class = format!("{suite_class}.{}", scenario.name);
        rows.extend(scenario.criteria.iter().map(|c| (class.clone(), c)));
    }
    rows.extend(
        report
            .criteria
            .iter()
            .map(|c| (format!("{suite_class}.run"), c)),
    );
    for (class, criterion) in rows {
        cases.tests += 1;
        cases.failures += usize::from(criterion_case(&mut cases.xml, &class, criterion));
    }
    if let Some(error) = &report.error {
        cases.tests += 1;
        cases.failures += 1;
        let _ = writeln!(
            cases.xml,
            "    <testcase classname=\"{}.run\" name=\"completed\"><failure message=\"{}\"/></testcase>",
            escape(&suite_class),
            escape(error)
        );
    }
    cases
}

fn comparison_cases(comparison: &Comparison) -> Cases {
    let mut cases = Cases::default();
    let rows = comparison
        .scenarios
        .iter()
        .flat_map(|s| s.metrics.iter().map(move |m| (s.name.as_str(), m)))
        .chain(comparison.run.iter().map(|m| ("run", m)));
    for (scenario, metric) in rows {
        cases.tests += 1;
        let _ = write!(
            cases.xml,
            "    <testcase classname=\"lifeguard.compare.{}\" name=\"{}\">",
            escape(scenario),
            metric.metric
        );
        let detail = format!(
            "base {} → head {} ({}; p = {})",
            value(metric.metric, metric.base),
            value(metric.metric, metric.head),
            metric
                .relative
                .map_or_else(|| "no relative change".to_owned(), |r| signed_percent(r, 1)),
            metric
                .p_value
                .map_or_else(|| "not tested".to_owned(), |p| format!("{p:.3}"))
        );
        match metric.verdict {
            Verdict::Regressed => {
                cases.failures += 1;
                let _ = write!(
                    cases.xml,
                    "<failure message=\"regressed: {}\"/>",
                    escape(&detail)
                );
            }
            Verdict::Inconclusive => {
                cases.skipped += 1;
                let _ = write!(
                    cases.xml,
                    "<skipped message=\"inconclusive: {}\"/>",
                    escape(&detail)
                );
            }
            Verdict::Improved | Verdict::Unchanged | Verdict::Small => {}
        }
        cases.xml.push_str("</testcase>\n");
    }
    cases
}

/// The report (and the comparison, when there is one) as JUnit XML.
#[must_use]
pub fn render(report: &RunReport, comparison: Option<&Comparison>) -> String {
    let criteria = criteria_cases(report);
    let compared = comparison.map(comparison_cases).unwrap_or_default();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"lifeguard\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
        criteria.tests + compared.tests,
        criteria.failures + compared.failures,
        compared.skipped
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"criteria: {} on {} ({})\" tests=\"{}\" failures=\"{}\">",
        escape(&report.suite),
        escape(&report.target),
        escape(&report.profile),
        criteria.tests,
        criteria.failures
    );
    out.push_str(&criteria.xml);
    out.push_str("  </testsuite>\n");
    if let Some(comparison) = comparison {
        let against = comparison
            .baseline
            .clone()
            .unwrap_or_else(|| comparison.base.id.clone());
        let _ = writeln!(
            out,
            "  <testsuite name=\"comparison with {}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            escape(&against),
            compared.tests,
            compared.failures,
            compared.skipped
        );
        out.push_str(&compared.xml);
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
