//! Success rate per scenario against the minimum each must reach (95 % light and moderate, 90 %
//! heavy and peak in the default suite: the thresholds come from the API, never from here).

use charming::Chart;
use charming::component::{Axis, Grid, Legend, Title};
use charming::datatype::DataPointItem;
use charming::element::{AxisType, ItemStyle, Tooltip, Trigger};
use charming::series::Bar;

use super::{CRITICAL_COLOUR, OK_COLOUR, level_lines, round3};

/// One bar: a scenario's success rate and the minimum it must reach, both shares (0..=1).
#[derive(Debug, Clone, PartialEq)]
pub struct SuccessRow {
    pub name: String,
    pub rate: f64,
    pub minimum: Option<f64>,
}

/// Bars of success rate (%) per scenario, green when at or above its minimum, red below; a
/// dashed line for each distinct minimum.
#[must_use]
pub fn success_rates(rows: &[SuccessRow]) -> Chart {
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let bars: Vec<DataPointItem> = rows
        .iter()
        .map(|row| {
            let passed = row.minimum.is_none_or(|m| row.rate >= m);
            DataPointItem::new(round3(row.rate * 100.0)).item_style(
                ItemStyle::new().color(if passed { OK_COLOUR } else { CRITICAL_COLOUR }),
            )
        })
        .collect();
    let mut minimums: Vec<f64> = rows.iter().filter_map(|r| r.minimum).collect();
    minimums.sort_by(f64::total_cmp);
    minimums.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let lines: Vec<(String, f64)> = minimums
        .iter()
        .map(|m| {
            let pct = round3(m * 100.0);
            (format!("minimum {pct} %"), pct)
        })
        .collect();
    let lowest = rows
        .iter()
        .map(|r| r.rate)
        .chain(minimums.iter().copied())
        .fold(1.0, f64::min);
    // Start the axis a little under the lowest value so a 95 % line is not lost at the top.
    let floor = ((lowest * 100.0 - 5.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0;
    Chart::new()
        .title(Title::new().text("Success rate per scenario"))
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().top(28))
        .grid(Grid::new().top(80).bottom(40).left(60).right(30))
        .x_axis(Axis::new().type_(AxisType::Category).data(names))
        .y_axis(
            Axis::new()
                .type_(AxisType::Value)
                .name("% succeeded")
                .min(floor)
                .max(100),
        )
        .series(
            Bar::new()
                .name("success rate (%)")
                .data(bars)
                .mark_line(level_lines(lines)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::test_support::{options, series};

    fn row(name: &str, rate: f64, minimum: f64) -> SuccessRow {
        SuccessRow {
            name: name.into(),
            rate,
            minimum: Some(minimum),
        }
    }

    #[test]
    fn each_distinct_minimum_is_one_line() {
        let json = options(&success_rates(&[
            row("light", 1.0, 0.95),
            row("moderate", 0.99, 0.95),
            row("heavy", 0.93, 0.90),
            row("peak", 0.80, 0.90),
        ]));
        let bars = series(&json, "success rate (%)");
        let lines = bars["markLine"]["data"].as_array().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["yAxis"], 90.0);
        assert_eq!(lines[1]["yAxis"], 95.0);
        assert_eq!(json["xAxis"]["data"][3], "peak");
    }

    #[test]
    fn bars_below_their_minimum_are_red() {
        let json = options(&success_rates(&[
            row("heavy", 0.93, 0.90),
            row("peak", 0.80, 0.90),
        ]));
        let data = &series(&json, "success rate (%)")["data"];
        assert_eq!(data[0]["value"], 93.0);
        assert_eq!(data[0]["itemStyle"]["color"], OK_COLOUR);
        assert_eq!(data[1]["itemStyle"]["color"], CRITICAL_COLOUR);
        assert_eq!(json["yAxis"]["min"], 70.0);
    }
}
