//! A sizing: p95 latency (left) and throughput (right) against the pool's size at each load, a
//! point red where a rule failed; the p95 limit, the knee and the recommendation marked. Its own
//! frame rather than [`super::frame`]: a second value axis needs room on the right.

use charming::Chart;
use charming::component::{Axis, Grid, Legend, LegendType, Title};
use charming::datatype::DataPointItem;
use charming::element::mark_line::MarkLineVariant;
use charming::element::{
    AxisType, ItemStyle, Label, LabelPosition, MarkLine, MarkLineData, NameLocation, Symbol,
    Tooltip, Trigger,
};
use charming::series::{Line, Scatter};
use lifeguard_shared::sizing::{Sizing, SizingPoint};

use super::{CRITICAL_COLOUR, bottom_axis, dashed, round3, side_axis, zooms};

/// The loads a sizing measured: the suite's and the headroom's (once, when they are the same).
fn loads(sizing: &Sizing) -> Vec<f64> {
    let mut loads = vec![1.0];
    if (sizing.headroom - 1.0).abs() > 1e-9 {
        loads.push(sizing.headroom);
    }
    loads
}

/// The points without overflow at `factor`, by size; a size measured twice shows its last run.
fn at_load(sizing: &Sizing, factor: f64) -> Vec<&SizingPoint> {
    let mut points: Vec<&SizingPoint> = sizing
        .points
        .iter()
        .filter(|p| p.max_overflow == 0 && (p.load_factor - factor).abs() < 1e-9)
        .collect();
    points.reverse();
    points.sort_by_key(|p| p.pool_size);
    points.dedup_by_key(|p| p.pool_size);
    points
}

/// Vertical lines at the knee and the recommendation, and the p95 limit across.
fn marks(sizing: &Sizing) -> MarkLine {
    let vertical = |name: String, x: u32, position: LabelPosition| {
        MarkLineVariant::Simple(
            MarkLineData::new()
                .name(name)
                .x_axis(f64::from(x))
                .label(Label::new().formatter("{b}").position(position)),
        )
    };
    let mut lines = vec![MarkLineVariant::Simple(
        MarkLineData::new()
            .name(format!("p95 limit {} ms", sizing.criteria.p95_latency_ms))
            .y_axis(sizing.criteria.p95_latency_ms)
            // Mid-line: the ends are where the knee's and the recommendation's labels stand.
            .label(
                Label::new()
                    .formatter("{b}")
                    .position(LabelPosition::InsideMiddleTop),
            ),
    )];
    if let Some(profile) = &sizing.recommendation {
        let primary = &profile.primary;
        lines.push(vertical(
            format!(
                "recommended {} + {}",
                primary.pool_size, primary.max_overflow
            ),
            primary.pool_size,
            LabelPosition::InsideEndTop,
        ));
    }
    if let Some(knee) = &sizing.knee {
        lines.push(vertical(
            format!("knee {}", knee.pool_size),
            knee.pool_size,
            LabelPosition::InsideEndBottom,
        ));
    }
    MarkLine::new()
        .silent(true)
        .symbol(vec![Symbol::None, Symbol::None])
        .line_style(dashed())
        .data(lines)
}

/// The chart of `sizing`.
#[must_use]
pub fn sizing_chart(sizing: &Sizing) -> Chart {
    // ECharts fits the axis to the data, not to mark lines: the p95 limit must stay in view.
    let highest = sizing
        .points
        .iter()
        .filter_map(|p| p.p95_ms)
        .fold(sizing.criteria.p95_latency_ms, f64::max);
    // One size of room past the largest, so a mark there stays clear of the right axis.
    let largest = sizing.points.iter().map(|p| p.pool_size).max().unwrap_or(1);
    let [inside, slider] = zooms();
    let mut chart = Chart::new()
        .title(
            Title::new()
                // Short enough for a phone's width: ECharts does not wrap titles.
                .text("Pool size: p95 and req/s")
                .subtext("a red point failed a rule"),
        )
        .tooltip(Tooltip::new().trigger(Trigger::Item))
        .legend(Legend::new().type_(LegendType::Scroll).top(44))
        // Room on the right for the throughput axis' labels and name.
        .grid(Grid::new().top(90).bottom(85).left(60).right(70))
        .data_zoom(inside)
        .data_zoom(slider)
        .x_axis(
            bottom_axis(if sizing.replicas > 1 {
                "pool size per replica (connections kept, no overflow)"
            } else {
                "pool size (connections kept, no overflow)"
            })
            .type_(AxisType::Value)
            .min(0)
            .max(f64::from(largest + 1)),
        )
        .y_axis(side_axis("p95 latency (ms)").max((highest * 1.1).ceil()))
        .y_axis(
            Axis::new()
                .type_(AxisType::Value)
                .name("throughput (req/s)")
                .name_location(NameLocation::Middle)
                .name_gap(45),
        );
    for (index, factor) in loads(sizing).into_iter().enumerate() {
        let points = at_load(sizing, factor);
        let p95: Vec<DataPointItem> = points
            .iter()
            .filter_map(|p| {
                let value = p.p95_ms?;
                let item = DataPointItem::new(vec![f64::from(p.pool_size), round3(value)]);
                Some(if p.passed {
                    item
                } else {
                    item.item_style(ItemStyle::new().color(CRITICAL_COLOUR))
                })
            })
            .collect();
        let throughput: Vec<Vec<f64>> = points
            .iter()
            .filter_map(|p| Some(vec![f64::from(p.pool_size), round3(p.throughput_rps?)]))
            .collect();
        let mut latency = Scatter::new()
            .name(format!("p95 at {factor}×"))
            .symbol_size(10)
            .data(p95);
        if index == 0 {
            latency = latency.mark_line(marks(sizing));
        }
        chart = chart.series(latency).series(
            Line::new()
                .name(format!("req/s at {factor}×"))
                .y_axis_index(1)
                .line_style(dashed())
                .data(throughput),
        );
    }
    chart
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::test_support::{options, series};
    use lifeguard_shared::report::RunState;
    use lifeguard_shared::sizing::Knee;

    fn point(size: u32, factor: f64, passed: bool, p95: f64, rps: f64) -> SizingPoint {
        SizingPoint {
            pool_size: size,
            max_overflow: 0,
            load_factor: factor,
            run_id: format!("r{size}"),
            state: if passed {
                RunState::Passed
            } else {
                RunState::Failed
            },
            passed,
            throughput_rps: Some(rps),
            p95_ms: Some(p95),
            acquire_wait_p95_ms: None,
            little: None,
            budget: None,
            failed: Vec::new(),
        }
    }

    fn sizing() -> Sizing {
        let mut profile = lifeguard_shared::pool::PoolProfile::built_in().remove(0);
        profile.primary.pool_size = 8;
        profile.primary.max_overflow = 16;
        Sizing {
            target: "sandbox".into(),
            suite: "peak".into(),
            profile: "current".into(),
            headroom: 3.0,
            replicas: 1,
            pool_timeout_s: 5.0,
            points: vec![
                point(15, 1.0, true, 160.0, 230.0),
                point(7, 1.0, false, 270.0, 120.0),
                point(8, 1.0, true, 240.0, 130.0),
                point(48, 3.0, true, 260.0, 540.0),
                point(24, 3.0, true, 280.0, 380.0),
            ],
            at_load: Some(8),
            at_headroom: Some(24),
            recommendation: Some(profile),
            little: None,
            knee: Some(Knee {
                load_factor: 3.0,
                pool_size: 24,
                throughput_rps: 380.0,
                best_rps: 540.0,
                best_at: 48,
            }),
            formula: None,
            budget: None,
            summary: String::new(),
            criteria: lifeguard_shared::suite::Criteria::default(),
        }
    }

    #[test]
    fn each_load_has_its_points_by_size_and_failures_are_red() {
        let json = options(&sizing_chart(&sizing()));
        let p95 = series(&json, "p95 at 1×");
        assert_eq!(p95["data"][0]["value"], serde_json::json!([7.0, 270.0]));
        assert_eq!(p95["data"][0]["itemStyle"]["color"], CRITICAL_COLOUR);
        assert!(p95["data"][1]["itemStyle"].is_null());
        let rps = series(&json, "req/s at 3×");
        assert_eq!(rps["yAxisIndex"], 1.0);
        assert_eq!(
            rps["data"],
            serde_json::json!([[24.0, 380.0], [48.0, 540.0]])
        );
    }

    #[test]
    fn the_limit_the_recommendation_and_the_knee_are_marked_once() {
        let json = options(&sizing_chart(&sizing()));
        let marks = &series(&json, "p95 at 1×")["markLine"]["data"];
        let names: Vec<&str> = marks
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["p95 limit 500 ms", "recommended 8 + 16", "knee 24"]);
        assert!(series(&json, "p95 at 3×")["markLine"].is_null());
        assert_eq!(json["yAxis"][1]["name"], "throughput (req/s)");
    }
}
