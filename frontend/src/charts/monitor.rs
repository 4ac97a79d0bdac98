//! One monitored metric over time (`/monitors/{target}`): the samples (and, where they have aged
//! out, each minute's mean), the rule's warning and critical levels as bands, the alerts on it as
//! shaded spans, and the target's deployments and validation runs as labelled vertical lines.

use charming::Chart;
use charming::component::Axis;
use charming::element::mark_line::MarkLineVariant;
use charming::element::{
    AxisType, Label, LabelPosition, MarkArea, MarkAreaData, MarkLine, MarkLineData, Symbol,
};
use charming::series::Line;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::monitor::{Alert, AlertRule, Deployment, MonitorHistory};
use lifeguard_shared::report::Level;
use lifeguard_shared::run::RunSummary;

use super::{
    CRITICAL_COLOUR, WARNING_COLOUR, bands, dashed, frame, marks_only, round3, shaded, side_axis,
};

/// The deployments' lines.
pub const DEPLOYMENT_COLOUR: &str = "#8250df";
/// Validation runs' lines.
pub const RUN_COLOUR: &str = "#57606a";

/// `ms` since the Unix epoch as an ISO 8601 UTC time (what ECharts reads for a time axis' mark
/// area; a number there would be taken for a string and fail to parse).
#[must_use]
pub fn iso(ms: u64) -> String {
    let clock = crate::format::Clock::utc(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        clock.year,
        clock.month,
        clock.day,
        clock.hour,
        clock.minute,
        clock.second,
        ms % 1000
    )
}

/// `metric` of `history`, with `rule`'s levels, `alerts` on it, and `deployments` and validation
/// `runs` of the target marked.
#[must_use]
pub fn monitor_chart(
    metric: Metric,
    history: &MonitorHistory,
    rule: Option<&AlertRule>,
    alerts: &[Alert],
    deployments: &[Deployment],
    runs: &[RunSummary],
) -> Chart {
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds since 1970 fit a double"
    )]
    let data: Vec<Vec<f64>> = history
        .series(metric)
        .into_iter()
        .map(|(at, value)| vec![at as f64, round3(value)])
        .collect();
    let mut line = Line::new()
        .name(metric.label())
        .show_symbol(data.len() <= 1)
        .data(data);
    if let Some(spans) = alert_spans(metric, history, alerts) {
        line = line.mark_area(spans);
    }
    // Drawn again every few seconds while the range ends now: without animation, and with few
    // enough time labels that they never run into each other, on a phone too.
    let mut chart = frame(
        metric.label(),
        Axis::new().type_(AxisType::Time).split_number(3),
        side_axis(&metric.titled()),
    )
    .animation(false)
    .series(line);
    if let Some(rule) = rule {
        for band in level_bands(metric, rule) {
            chart = chart.series(band);
        }
    }
    let deployed = marked_deployments(history, deployments)
        .into_iter()
        .map(|d| (d.at_ms, d.version.clone()));
    if let Some(lines) = moments(DEPLOYMENTS, DEPLOYMENT_COLOUR, deployed) {
        chart = chart.series(lines);
    }
    let validated = marked_runs(history, runs)
        .into_iter()
        .filter_map(|r| Some((r.started_at?, format!("run {}", r.state.as_str()))));
    if let Some(lines) = moments(RUNS, RUN_COLOUR, validated) {
        chart = chart.series(lines);
    }
    chart
}

/// The series of deployment lines, and of validation runs' lines.
const DEPLOYMENTS: &str = "deployment";
const RUNS: &str = "validation run";

/// The deployments drawn on a chart of `history`, in the order of their lines.
fn marked_deployments<'a>(
    history: &MonitorHistory,
    deployments: &'a [Deployment],
) -> Vec<&'a Deployment> {
    deployments
        .iter()
        .filter(|d| (history.from_ms..history.to_ms).contains(&d.at_ms))
        .collect()
}

/// The validation runs drawn on a chart of `history`, in the order of their lines.
fn marked_runs<'a>(history: &MonitorHistory, runs: &'a [RunSummary]) -> Vec<&'a RunSummary> {
    runs.iter()
        .filter(|r| {
            r.started_at
                .is_some_and(|at| (history.from_ms..history.to_ms).contains(&at))
        })
        .collect()
}

/// Where a click on the `index`-th line of the series `series` leads: a deployment's line to its
/// before/after comparison, a validation run's to the run.
#[must_use]
pub fn mark_link(
    series: &str,
    index: usize,
    history: &MonitorHistory,
    deployments: &[Deployment],
    runs: &[RunSummary],
) -> Option<String> {
    match series {
        DEPLOYMENTS => marked_deployments(history, deployments)
            .get(index)
            .map(|d| format!("/deployments/{}", crate::api::encode(&d.id))),
        RUNS => marked_runs(history, runs)
            .get(index)
            .map(|r| format!("/runs/{}", crate::api::encode(&r.id))),
        _ => None,
    }
}

/// The rule's levels as bands across the plot: warning from its level to critical's, critical
/// from its level up, each labelled with its level just above where it starts. A band above the
/// axis' range is not drawn (the data is far from it).
fn level_bands(metric: Metric, rule: &AlertRule) -> [Line; 2] {
    let band = |name: &str, colour: &str, from: f64, to: Option<f64>| {
        let label = format!("{name} {}", metric.format(from));
        let to = to.map_or_else(MarkAreaData::new, |to| {
            MarkAreaData::new().y_axis(round3(to).to_string())
        });
        let placed = Label::new()
            .position(LabelPosition::InsideBottomLeft)
            .color(colour);
        let area = (
            MarkAreaData::new()
                .name(label)
                .y_axis(round3(from).to_string()),
            to,
        );
        bands(name, colour, 0.08, Some(placed), vec![area])
    };
    [
        band("warning", WARNING_COLOUR, rule.warning, Some(rule.critical)),
        band("critical", CRITICAL_COLOUR, rule.critical, None),
    ]
}

/// The alerts on `metric` as shaded spans from firing to resolving (or the range's end), in the
/// colour of the worst of them.
fn alert_spans(metric: Metric, history: &MonitorHistory, alerts: &[Alert]) -> Option<MarkArea> {
    let spans: Vec<(MarkAreaData, MarkAreaData)> = alerts
        .iter()
        .filter(|a| a.metric == metric)
        .map(|a| {
            let end = a.resolved_at_ms.unwrap_or(history.to_ms).min(history.to_ms);
            (
                MarkAreaData::new()
                    .name(match a.level {
                        Level::Critical => "critical",
                        _ => "warning",
                    })
                    .x_axis(iso(a.fired_at_ms.max(history.from_ms))),
                MarkAreaData::new().x_axis(iso(end)),
            )
        })
        .collect();
    if spans.is_empty() {
        return None;
    }
    let worst = alerts
        .iter()
        .filter(|a| a.metric == metric)
        .map(|a| a.level)
        .max()
        .unwrap_or(Level::Warning);
    let colour = if worst == Level::Critical {
        CRITICAL_COLOUR
    } else {
        WARNING_COLOUR
    };
    Some(shaded(colour, 0.15, None, spans))
}

/// Moments — deployments, validation runs — as a series of labelled vertical lines named
/// `name`, in `colour`; a click on one is heard (see [`mark_link`]).
fn moments(name: &str, colour: &str, moments: impl Iterator<Item = (u64, String)>) -> Option<Line> {
    let marks: Vec<MarkLineVariant> = moments
        .map(|(at, label)| {
            #[expect(clippy::cast_precision_loss, reason = "milliseconds since 1970")]
            let at = at as f64;
            MarkLineVariant::Simple(
                MarkLineData::new().name(label).x_axis(at).label(
                    Label::new()
                        .formatter("{b}")
                        .position(LabelPosition::InsideEndTop),
                ),
            )
        })
        .collect();
    (!marks.is_empty()).then(|| {
        marks_only(name, colour).mark_line(
            MarkLine::new()
                .symbol(vec![Symbol::None, Symbol::None])
                .line_style(dashed().color(colour).width(2))
                .data(marks),
        )
    })
}

#[cfg(test)]
mod tests {
    use lifeguard_shared::monitor::{MonitorMinute, MonitorSample};

    use super::*;
    use crate::charts::test_support::{options, series};

    #[test]
    fn iso_times_are_utc_to_the_millisecond() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_764_601_200_123), "2025-12-01T15:00:00.123Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    fn history() -> MonitorHistory {
        let sample = |at_ms: u64, idle_in_transaction: u32| MonitorSample {
            at_ms,
            max_connections: 100,
            idle_in_transaction,
            ..MonitorSample::default()
        };
        MonitorHistory {
            target: "prod".into(),
            from_ms: 0,
            to_ms: 600_000,
            samples: vec![sample(300_000, 1), sample(305_000, 3)],
            minutes: vec![MonitorMinute {
                minute_ms: 120_000,
                metric: Metric::IdleInTransaction,
                samples: 12,
                min: 0.0,
                mean: 0.5,
                max: 2.0,
            }],
        }
    }

    #[test]
    fn samples_minutes_levels_alerts_and_deployments_are_drawn() {
        let rule = AlertRule {
            metric: Metric::IdleInTransaction,
            warning: 2.0,
            critical: 5.0,
        };
        let alert = Alert {
            id: "a".into(),
            target: "prod".into(),
            metric: Metric::IdleInTransaction,
            level: Level::Warning,
            value: 3.0,
            threshold: 2.0,
            fired_at_ms: 305_000,
            resolved_at_ms: None,
        };
        let deployment = Deployment {
            id: "d".into(),
            target: "prod".into(),
            version: "v2".into(),
            notes: String::new(),
            at_ms: 290_000,
        };
        let run = RunSummary {
            id: "r".into(),
            target: "prod".into(),
            suite: "auth-burst".into(),
            profile: "current".into(),
            state: lifeguard_shared::report::RunState::Passed,
            passed: Some(true),
            labels: lifeguard_shared::run::RunLabels::default(),
            created_at: 400_000,
            started_at: Some(400_000),
            finished_at: Some(410_000),
            p95_ms: None,
            error: None,
        };
        let json = options(&monitor_chart(
            Metric::IdleInTransaction,
            &history(),
            Some(&rule),
            &[alert],
            &[deployment],
            &[run],
        ));
        let line = series(&json, "idle in transaction");
        assert_eq!(
            line["data"],
            serde_json::json!([[150_000.0, 0.5], [300_000.0, 1.0], [305_000.0, 3.0]])
        );
        let warning = series(&json, "warning")["markArea"]["data"][0].clone();
        assert_eq!(warning[0]["name"], "warning 2");
        assert_eq!(
            (&warning[0]["yAxis"], &warning[1]["yAxis"]),
            (&"2".into(), &"5".into())
        );
        let critical = series(&json, "critical")["markArea"]["data"][0].clone();
        assert_eq!(critical[0]["yAxis"], "5");
        assert_eq!(critical[1], serde_json::json!({}), "up to the plot's top");
        assert_eq!(line["markArea"]["data"][0][0]["xAxis"], iso(305_000));
        assert_eq!(line["markArea"]["data"][0][1]["xAxis"], iso(600_000));
        let deployments = series(&json, "deployment");
        assert_eq!(deployments["markLine"]["data"][0]["name"], "v2");
        assert_eq!(deployments["markLine"]["data"][0]["xAxis"], 290_000.0);
        let runs = series(&json, "validation run");
        assert_eq!(runs["markLine"]["data"][0]["name"], "run passed");
        assert_eq!(json["xAxis"]["type"], "time", "{}", json["xAxis"]);
        assert_eq!(json["animation"], false, "redrawn every few seconds");
    }

    #[test]
    fn a_click_on_a_deployment_or_run_line_leads_to_it() {
        let at = |id: &str, at_ms| Deployment {
            id: id.into(),
            target: "prod".into(),
            version: id.into(),
            notes: String::new(),
            at_ms,
        };
        // The first is past the range: not drawn, so the first line is the second.
        let deployments = [at("later", 700_000), at("d 2", 310_000), at("d3", 320_000)];
        let history = history();
        assert_eq!(
            mark_link("deployment", 0, &history, &deployments, &[]).as_deref(),
            Some("/deployments/d%202")
        );
        assert_eq!(
            mark_link("deployment", 1, &history, &deployments, &[]).as_deref(),
            Some("/deployments/d3")
        );
        assert_eq!(
            mark_link("deployment", 2, &history, &deployments, &[]),
            None
        );
        assert_eq!(
            mark_link("idle in transaction", 0, &history, &deployments, &[]),
            None
        );
    }
}
