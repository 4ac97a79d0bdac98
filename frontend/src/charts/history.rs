//! A metric across runs, oldest first, with the runs that baselines point to marked; the same
//! with the change points a detector found (a vertical line each, the segments' means as
//! horizontal lines).

use charming::Chart;
use charming::component::Axis;
use charming::datatype::DataPointItem;
use charming::element::mark_line::MarkLineVariant;
use charming::element::{
    AxisLabel, AxisType, ItemStyle, Label, LabelPosition, LineStyle, MarkLine, MarkLineData,
    Symbol, Tooltip, Trigger,
};
use charming::series::{Line, Scatter};
use lifeguard_shared::compare::Better;
use lifeguard_shared::history::History;
use lifeguard_shared::metric::{Unit, signed_percent};

use super::{CRITICAL_COLOUR, OK_COLOUR, WARNING_COLOUR, frame, js_function, round3, side_axis};

/// One run in a history: when (already formatted), which, its value and the baselines on it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub label: String,
    pub run_id: String,
    pub value: Option<f64>,
    /// Names of the baselines pointing at this run, joined; `None` when no baseline does.
    pub baseline: Option<String>,
}

/// `metric` (e.g. `p95 latency (ms)`) per run, with baseline runs as large diamonds.
#[must_use]
pub fn metric_history(title: &str, metric: &str, points: &[HistoryPoint]) -> Chart {
    let labels: Vec<String> = points.iter().map(|p| p.label.clone()).collect();
    let values: Vec<Option<f64>> = points.iter().map(|p| p.value.map(round3)).collect();
    let baselines: Vec<DataPointItem> = points
        .iter()
        .map(|p| {
            let value = p.baseline.as_ref().and(p.value.map(round3));
            let item = DataPointItem::new(value);
            match &p.baseline {
                Some(name) => item.name(name.clone()),
                None => item,
            }
        })
        .collect();
    frame(
        title,
        Axis::new().type_(AxisType::Category).data(labels),
        Axis::new().type_(AxisType::Value).name(metric),
    )
    .series(Line::new().name(metric).connect_nulls(true).data(values))
    .series(
        Scatter::new()
            .name("baseline run")
            .symbol(Symbol::Diamond)
            .symbol_size(16)
            .item_style(charming::element::ItemStyle::new().color(WARNING_COLOUR))
            .data(baselines),
    )
}

/// The segments' means: a colour apart from the data's and the verdicts'.
pub const MEAN_COLOUR: &str = "#8250df";
/// The change points' lines; their labels say better (green) or worse (red).
pub const CHANGE_COLOUR: &str = "#24292f";
/// A change that is neither better nor worse.
const NEUTRAL_COLOUR: &str = "#57606a";

/// Names of the change-point chart's series (the browser test reads them).
pub const BASELINE_SERIES: &str = "baseline run";
pub const MEAN_SERIES: &str = "segment mean";
pub const CHANGE_SERIES: &str = "change point";

/// A run on the history's axis: its version and its start's date and time (`v1.2 · 11-27 14:05`),
/// or the time alone when it has no version (`run N` when it never started). The axis shows what
/// comes before ` · ` ([`AXIS_LABEL`]), the tooltip all of it.
#[must_use]
pub fn run_label(point: &lifeguard_shared::history::HistoryPoint, index: usize) -> String {
    let when = point.started_at.map_or_else(
        || format!("run {}", index + 1),
        |at| {
            let time = crate::format::local_time(at);
            // `2025-11-27 14:05:09` → `11-27 14:05`: the axis has little room; the table has all.
            time.get(5..16).unwrap_or(&time).to_owned()
        },
    );
    if point.version.is_empty() {
        when
    } else {
        format!("{} · {when}", point.version)
    }
}

/// JavaScript for the x axis' labels: a run's version when it has one, else its time (one line:
/// two would run into each other, and charming cannot set a line height).
const AXIS_LABEL: &str = "var i = v.indexOf(' · '); return i < 0 ? v : v.slice(0, i);";

/// `+50.0 %`: a change point's relative change, or the means' difference when the mean before
/// was zero.
#[must_use]
pub fn change_label(history: &History, index: usize) -> String {
    let change = &history.change_points[index];
    change.relative_change.map_or_else(
        || {
            history
                .metric
                .format_change(change.mean_after - change.mean_before)
        },
        |r| signed_percent(r, 1),
    )
}

/// Whether a change from `before` to `after` of the history's metric is for the better.
fn improves(history: &History, before: f64, after: f64) -> Option<bool> {
    if (after - before).abs() < f64::EPSILON {
        return None;
    }
    Some(match history.metric.better() {
        Better::Higher => after > before,
        Better::Lower => after < before,
    })
}

/// The segments between change points as (first index, last index, mean); the whole history's
/// mean as one segment when there is no change point.
#[must_use]
pub fn segments(history: &History) -> Vec<(usize, usize, f64)> {
    let last = history.points.len().saturating_sub(1);
    if history.change_points.is_empty() {
        let values: Vec<f64> = history.points.iter().filter_map(|p| p.value).collect();
        if values.is_empty() {
            return Vec::new();
        }
        return vec![(0, last, values.iter().sum::<f64>() / values.len() as f64)];
    }
    let mut segments = Vec::with_capacity(history.change_points.len() + 1);
    let mut start = 0;
    for change in &history.change_points {
        segments.push((start, change.index.saturating_sub(1), change.mean_before));
        start = change.index;
    }
    if let Some(change) = history.change_points.last() {
        segments.push((start, last, change.mean_after));
    }
    segments
}

/// `value` as the chart draws it: shares in percent, to three decimals.
fn drawn(history: &History, value: f64) -> f64 {
    round3(if history.metric.unit() == Unit::Share {
        value * 100.0
    } else {
        value
    })
}

/// A horizontal line per segment, at its mean, labelled with it.
fn mean_lines(history: &History) -> Vec<MarkLineVariant> {
    segments(history)
        .into_iter()
        .map(|(first, last, mean)| {
            let at = |index: usize| {
                MarkLineData::new()
                    .x_axis(index as f64)
                    .y_axis(drawn(history, mean))
            };
            MarkLineVariant::StartToEnd(
                at(first)
                    .name(format!("mean {}", history.metric.format(mean)))
                    .label(
                        Label::new()
                            .formatter("{b}")
                            .position(LabelPosition::InsideMiddleTop)
                            .font_size(11)
                            .color(MEAN_COLOUR)
                            // Over the runs it may cross: legible, and they still show through.
                            .background_color("rgba(255,255,255,0.75)")
                            .padding((1, 3, 1, 3)),
                    ),
                at(last),
            )
        })
        .collect()
}

/// A vertical line per change point, at the first run at the new level, labelled with the change
/// in green when it is for the better and red when for the worse.
fn change_lines(history: &History) -> Vec<MarkLineVariant> {
    history
        .change_points
        .iter()
        .enumerate()
        .map(|(i, change)| {
            let colour = match improves(history, change.mean_before, change.mean_after) {
                Some(true) => OK_COLOUR,
                Some(false) => CRITICAL_COLOUR,
                None => NEUTRAL_COLOUR,
            };
            MarkLineVariant::Simple(
                MarkLineData::new()
                    .name(change_label(history, i))
                    .x_axis(change.index as f64)
                    .label(
                        Label::new()
                            .formatter("{b}")
                            .color(colour)
                            .font_weight("bold"),
                    ),
            )
        })
        .collect()
}

/// The history's metric per run in its unit (shares in percent, on an axis fitted to them; other
/// units from zero, so run-to-run noise looks as small as it is), named once on the y axis; its
/// baseline runs as diamonds; each change point as a vertical line at the first run at the new
/// level, labelled with the change and coloured by whether it is for the better; and the mean of
/// each segment between them as a horizontal line, so the step shows.
#[must_use]
pub fn change_point_history(title: &str, history: &History) -> Chart {
    let metric = history.metric;
    let share = metric.unit() == Unit::Share;
    let scale = |v: f64| drawn(history, v);
    let name = metric.titled();
    let labels: Vec<String> = history
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| run_label(p, i))
        .collect();
    let values: Vec<Option<f64>> = history.points.iter().map(|p| p.value.map(scale)).collect();
    let baselines: Vec<Option<f64>> = history
        .points
        .iter()
        .map(|p| p.value.filter(|_| p.baseline).map(scale))
        .collect();
    let unit = match metric.unit() {
        Unit::Share => " %".to_owned(),
        Unit::Count => String::new(),
        other => format!(" {}", other.symbol()),
    };
    let mut y_axis = side_axis(&name);
    if share {
        // Success rates live near 100 %: from zero, a fall to 90 % would barely show.
        y_axis = y_axis
            .scale(true)
            .axis_label(AxisLabel::new().formatter("{value} %"));
    }
    let means = mean_lines(history);
    let changes = change_lines(history);
    let marks = |style: LineStyle| {
        MarkLine::new()
            .silent(true)
            .symbol(vec![Symbol::None, Symbol::None])
            .line_style(style)
    };
    frame(
        title,
        Axis::new()
            .type_(AxisType::Category)
            .data(labels)
            .axis_label(AxisLabel::new().formatter(js_function("v", AXIS_LABEL))),
        y_axis,
    )
    .tooltip(
        Tooltip::new()
            .trigger(Trigger::Axis)
            .value_formatter(js_function(
                "v",
                &format!("return v == null ? '–' : v + '{unit}';"),
            )),
    )
    .series(
        Line::new()
            .name(name)
            .connect_nulls(true)
            .symbol_size(6)
            .data(values),
    )
    .series(
        Scatter::new()
            .name(BASELINE_SERIES)
            .symbol(Symbol::Diamond)
            .symbol_size(16)
            .item_style(ItemStyle::new().color(WARNING_COLOUR))
            .data(baselines),
    )
    // The marks ride on series of their own, so the legend names (and toggles) them.
    .series(
        Line::new()
            .name(MEAN_SERIES)
            .item_style(ItemStyle::new().color(MEAN_COLOUR))
            .mark_line(marks(LineStyle::new().color(MEAN_COLOUR).width(2)).data(means))
            .data(Vec::<Option<f64>>::new()),
    )
    .series(
        Line::new()
            .name(CHANGE_SERIES)
            .item_style(ItemStyle::new().color(CHANGE_COLOUR))
            .mark_line(marks(super::dashed().color(CHANGE_COLOUR).width(2)).data(changes))
            .data(Vec::<Option<f64>>::new()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::test_support::{options, series};
    use lifeguard_shared::history::{
        ChangePointSettings, HistoryChangePoint, HistoryPoint as RunPoint,
    };
    use lifeguard_shared::metric::Metric;
    use lifeguard_shared::report::RunState;
    use serde_json::json;

    fn point(label: &str, value: Option<f64>, baseline: Option<&str>) -> HistoryPoint {
        HistoryPoint {
            label: label.into(),
            run_id: label.into(),
            value,
            baseline: baseline.map(str::to_owned),
        }
    }

    #[test]
    fn baseline_runs_are_marked_where_they_are() {
        let json = options(&metric_history(
            "p95 across runs",
            "p95 latency (ms)",
            &[
                point("a", Some(10.0), None),
                point("b", Some(12.5), Some("prod")),
                point("c", None, None),
            ],
        ));
        assert_eq!(json["xAxis"]["data"], json!(["a", "b", "c"]));
        assert_eq!(
            series(&json, "p95 latency (ms)")["data"],
            json!([10.0, 12.5, null])
        );
        let marks = &series(&json, "baseline run")["data"];
        assert_eq!(marks[0]["value"], serde_json::Value::Null);
        assert_eq!(marks[1]["value"], 12.5);
        assert_eq!(marks[1]["name"], "prod");
    }

    fn history(metric: Metric, values: &[f64], changes: &[(usize, f64, f64)]) -> History {
        let points = values
            .iter()
            .enumerate()
            .map(|(i, &v)| RunPoint {
                run_id: format!("r{i}"),
                // 2025-11-27 14:00 UTC, a run every ten minutes.
                started_at: Some(1_764_252_000_000 + i as u64 * 600_000),
                version: if i == 1 { "v1.2".into() } else { String::new() },
                value: Some(v),
                baseline: i == 2,
                state: RunState::Passed,
            })
            .collect();
        let change_points = changes
            .iter()
            .map(|&(index, before, after)| HistoryChangePoint {
                index,
                run_id: format!("r{index}"),
                previous_run_id: format!("r{}", index - 1),
                mean_before: before,
                mean_after: after,
                relative_change: Some((after - before) / before),
                p_value: 1e-6,
                compare: format!("/compare/r{}/r{index}", index - 1),
            })
            .collect();
        History {
            target: "sandbox".into(),
            environment: "staging".into(),
            suite: "auth-burst".into(),
            profile: None,
            metric,
            scenario: Some("light".into()),
            points,
            change_points,
            settings: ChangePointSettings::default(),
        }
    }

    #[test]
    fn a_change_point_is_a_labelled_vertical_line_between_two_segment_means() {
        let values: Vec<f64> = (0..30).map(|i| if i < 20 { 10.0 } else { 15.0 }).collect();
        let history = history(Metric::MeanLatencyMs, &values, &[(20, 10.0, 15.0)]);
        let json = options(&change_point_history("mean latency of light", &history));
        assert_eq!(json["yAxis"]["name"], "mean latency (ms)");
        assert_eq!(json["xAxis"]["data"][0], "11-27 14:00");
        assert_eq!(json["xAxis"]["data"][1], "v1.2 · 11-27 14:10");
        assert!(json["yAxis"]["scale"].is_null(), "latency from zero");
        assert_eq!(series(&json, "mean latency (ms)")["data"][25], 15.0);
        let diamonds = &series(&json, BASELINE_SERIES)["data"];
        assert_eq!(diamonds[2], 10.0);
        assert_eq!(diamonds[3], serde_json::Value::Null);
        let changes = &series(&json, CHANGE_SERIES)["markLine"]["data"];
        assert_eq!(changes.as_array().unwrap().len(), 1);
        assert_eq!(changes[0]["xAxis"], 20.0);
        assert_eq!(changes[0]["name"], "+50.0 %");
        // Latency up is worse: the label is red.
        assert_eq!(changes[0]["label"]["color"], CRITICAL_COLOUR);
        let means = &series(&json, MEAN_SERIES)["markLine"]["data"];
        assert_eq!(means[0][0]["xAxis"], 0.0);
        assert_eq!(means[0][1]["xAxis"], 19.0);
        assert_eq!(means[0][0]["yAxis"], 10.0);
        assert_eq!(means[1][0]["xAxis"], 20.0);
        assert_eq!(means[1][1]["xAxis"], 29.0);
        assert_eq!(means[1][1]["yAxis"], 15.0);
        assert_eq!(means[0][0]["name"], "mean 10.0 ms");
    }

    #[test]
    fn a_flat_history_has_one_mean_and_no_change_line() {
        let history = history(Metric::MeanLatencyMs, &[9.0, 11.0, 10.0, 10.0], &[]);
        let json = options(&change_point_history("flat", &history));
        assert!(series(&json, CHANGE_SERIES)["markLine"]["data"].is_null());
        let means = &series(&json, MEAN_SERIES)["markLine"]["data"];
        assert_eq!(means.as_array().unwrap().len(), 1);
        assert_eq!(means[0][0]["yAxis"], 10.0);
        assert_eq!(means[0][1]["xAxis"], 3.0);
    }

    #[test]
    fn shares_are_drawn_in_percent_and_a_rise_in_success_is_green() {
        let history = history(
            Metric::SuccessRate,
            &[0.9, 0.9, 0.9, 0.99, 0.99, 0.99],
            &[(3, 0.9, 0.99)],
        );
        let json = options(&change_point_history("success", &history));
        assert_eq!(json["yAxis"]["name"], "success rate");
        assert_eq!(json["yAxis"]["axisLabel"]["formatter"], "{value} %");
        assert_eq!(json["yAxis"]["scale"], true);
        assert_eq!(series(&json, "success rate")["data"][0], 90.0);
        let change = &series(&json, CHANGE_SERIES)["markLine"]["data"][0];
        assert_eq!(change["label"]["color"], OK_COLOUR);
        assert_eq!(change["name"], "+10.0 %");
    }
}
