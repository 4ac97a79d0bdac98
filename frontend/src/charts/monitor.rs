//! One monitored metric over time (`/monitors/{target}`): the samples (and, where they have aged
//! out, each minute's mean), the rule's warning and critical levels, the alerts on it as shaded
//! spans, and the target's deployments as labelled vertical lines.

use charming::Chart;
use charming::component::Axis;
use charming::element::mark_line::MarkLineVariant;
use charming::element::{
    AxisType, ItemStyle, Label, LabelPosition, MarkArea, MarkAreaData, MarkLine, MarkLineData,
    Symbol,
};
use charming::series::Line;
use lifeguard_shared::metric::Metric;
use lifeguard_shared::monitor::{Alert, AlertRule, Deployment, MonitorHistory};
use lifeguard_shared::report::Level;

use super::{CRITICAL_COLOUR, WARNING_COLOUR, dashed, frame, level_lines, round3, side_axis};

/// The deployments' lines.
pub const DEPLOYMENT_COLOUR: &str = "#8250df";

/// `ms` since the Unix epoch as an ISO 8601 UTC time (what ECharts reads for a time axis' mark
/// area; a number there would be taken for a string and fail to parse).
#[must_use]
pub fn iso(ms: u64) -> String {
    let days = i64::try_from(ms / 86_400_000).unwrap_or(0);
    let rest = ms % 86_400_000;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// `metric` of `history`, with `rule`'s levels, `alerts` on it and `deployments` marked.
#[must_use]
pub fn monitor_chart(
    metric: Metric,
    history: &MonitorHistory,
    rule: Option<&AlertRule>,
    alerts: &[Alert],
    deployments: &[Deployment],
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
    if let Some(rule) = rule {
        line = line.mark_line(level_lines(vec![
            (
                format!("warning {}", metric.format(rule.warning)),
                rule.warning,
            ),
            (
                format!("critical {}", metric.format(rule.critical)),
                rule.critical,
            ),
        ]));
    }
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
    if let Some(deployed) = deployment_lines(history, deployments) {
        chart = chart.series(deployed);
    }
    chart
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
    {
        let worst = alerts
            .iter()
            .filter(|a| a.metric == metric)
            .map(|a| a.level)
            .max()
            .unwrap_or(Level::Warning);
        Some(
            MarkArea::new()
                .silent(true)
                .item_style(
                    ItemStyle::new()
                        .color(if worst == Level::Critical {
                            CRITICAL_COLOUR
                        } else {
                            WARNING_COLOUR
                        })
                        .opacity(0.15),
                )
                .data(spans),
        )
    }
}

/// The deployments in the range as a series of labelled vertical lines.
fn deployment_lines(history: &MonitorHistory, deployments: &[Deployment]) -> Option<Line> {
    let marks: Vec<MarkLineVariant> = deployments
        .iter()
        .filter(|d| (history.from_ms..history.to_ms).contains(&d.at_ms))
        .map(|d| {
            #[expect(clippy::cast_precision_loss, reason = "milliseconds since 1970")]
            let at = d.at_ms as f64;
            MarkLineVariant::Simple(
                MarkLineData::new()
                    .name(d.version.clone())
                    .x_axis(at)
                    .label(
                        Label::new()
                            .formatter("{b}")
                            .position(LabelPosition::InsideEndTop),
                    ),
            )
        })
        .collect();
    (!marks.is_empty()).then(|| {
        Line::new()
            .name("deployment")
            .item_style(ItemStyle::new().color(DEPLOYMENT_COLOUR))
            .data(Vec::<Vec<f64>>::new())
            .mark_line(
                MarkLine::new()
                    .silent(true)
                    .symbol(vec![Symbol::None, Symbol::None])
                    .line_style(dashed().color(DEPLOYMENT_COLOUR))
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
        let json = options(&monitor_chart(
            Metric::IdleInTransaction,
            &history(),
            Some(&rule),
            &[alert],
            &[deployment],
        ));
        let line = series(&json, "idle in transaction");
        assert_eq!(
            line["data"],
            serde_json::json!([[150_000.0, 0.5], [300_000.0, 1.0], [305_000.0, 3.0]])
        );
        assert_eq!(line["markLine"]["data"][1]["yAxis"], 5.0);
        assert_eq!(line["markArea"]["data"][0][0]["xAxis"], iso(305_000));
        assert_eq!(line["markArea"]["data"][0][1]["xAxis"], iso(600_000));
        let deployments = series(&json, "deployment");
        assert_eq!(deployments["markLine"]["data"][0]["name"], "v2");
        assert_eq!(deployments["markLine"]["data"][0]["xAxis"], 290_000.0);
        assert_eq!(json["xAxis"]["type"], "time", "{}", json["xAxis"]);
        assert_eq!(json["animation"], false, "redrawn every few seconds");
    }
}
