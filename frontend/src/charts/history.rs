//! A metric across runs, oldest first, with the runs that baselines point to marked; and the
//! start page's sparklines.

use charming::Chart;
use charming::component::{Axis, Grid};
use charming::datatype::DataPointItem;
use charming::element::{AreaStyle, AxisType, Symbol, Tooltip, Trigger};
use charming::series::{Line, Scatter};

use super::{WARNING_COLOUR, frame, round3};

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

/// A small line without axes: the shape of a metric over the last runs.
#[must_use]
pub fn sparkline(values: &[Option<f64>]) -> Chart {
    let x: Vec<String> = (1..=values.len()).map(|n| n.to_string()).collect();
    let data: Vec<Option<f64>> = values.iter().map(|v| v.map(round3)).collect();
    Chart::new()
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(Grid::new().top(4).bottom(4).left(4).right(4))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .show(false)
                .boundary_gap(false)
                .data(x),
        )
        .y_axis(Axis::new().type_(AxisType::Value).show(false).scale(true))
        .series(
            Line::new()
                .name("p95 (ms)")
                .show_symbol(false)
                .connect_nulls(true)
                .area_style(AreaStyle::new().opacity(0.15))
                .data(data),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::test_support::{options, series};
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

    #[test]
    fn a_sparkline_has_no_axes_but_keeps_its_values() {
        let json = options(&sparkline(&[Some(1.0), None, Some(3.25)]));
        assert_eq!(json["xAxis"]["show"], false);
        assert_eq!(json["yAxis"]["show"], false);
        assert_eq!(json["series"][0]["data"], json!([1.0, null, 3.25]));
    }
}
