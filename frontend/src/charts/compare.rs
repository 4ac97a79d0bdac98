//! One metric of one scenario in two runs: base and head as bars, the blocks the test compares as
//! dots over each bar (the spread a verdict has to see past), and the verdict on the head's bar.

use charming::Chart;
use charming::component::{Axis, Grid, Title};
use charming::datatype::CompositeValue;
use charming::element::{
    AxisLabel, AxisType, ItemStyle, NameLocation, TextStyle, Tooltip, Trigger,
};
use charming::series::{Bar, Line, Scatter};
use lifeguard_shared::compare::{MetricComparison, Verdict};
use lifeguard_shared::metric::{Unit, signed_percent};
use lifeguard_shared::report::SecondSample;
use lifeguard_shared::run::Series;

use super::{CRITICAL_COLOUR, OK_COLOUR, dashed, round3};

/// The base run's bar: neutral, so the head's colour carries the verdict.
pub const BASE_COLOUR: &str = "#8c959f";
/// The head's bar when it neither regressed nor improved.
pub const HEAD_COLOUR: &str = "#0969da";

fn head_colour(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Regressed => CRITICAL_COLOUR,
        Verdict::Improved => OK_COLOUR,
        _ => HEAD_COLOUR,
    }
}

/// `+272 % · small`: the change and the verdict, written under the head's bar.
#[must_use]
pub fn verdict_label(m: &MetricComparison) -> String {
    m.relative.map_or_else(
        || m.verdict.name().to_owned(),
        |r| {
            // Under 10 % (once rounded to a tenth), a decimal: -0.4 % is not "0 %".
            let digits = usize::from((r * 1000.0).round().abs() < 100.0);
            format!("{} · {}", signed_percent(r, digits), m.verdict.name())
        },
    )
}

/// Base and head of `m`, titled with the metric and its unit (the axis repeats neither).
#[must_use]
pub fn metric_bars(m: &MetricComparison) -> Chart {
    let share = m.metric.unit() == Unit::Share;
    // Shares are drawn in percent; everything else in its own unit.
    let scale = |v: f64| round3(if share { v * 100.0 } else { v });
    // One series a side, each with a value in its own category only ('-' is ECharts' empty),
    // drawn over each other: a bar per category, centred, and a label on the head's alone.
    let side = |name: &str, index: usize, value: Option<f64>, colour: &str| {
        let mut data = vec![CompositeValue::from("-"), CompositeValue::from("-")];
        data[index] = value.map_or_else(|| CompositeValue::from("-"), |v| scale(v).into());
        Bar::new()
            .name(name)
            .bar_width("45%")
            .bar_gap("-100%")
            .item_style(ItemStyle::new().color(colour))
            .data(data)
    };
    let base = side("base", 0, m.base, BASE_COLOUR);
    let head = side("head", 1, m.head, head_colour(m.verdict));
    let dots: Vec<Vec<f64>> = m
        .base_values
        .iter()
        .map(|&v| vec![0.0, scale(v)])
        .chain(m.head_values.iter().map(|&v| vec![1.0, scale(v)]))
        .collect();
    let mut y_axis = Axis::new().type_(AxisType::Value);
    if share {
        y_axis = y_axis
            .max(100)
            .axis_label(AxisLabel::new().formatter("{value} %"));
    }
    let mut chart = Chart::new()
        .title(
            Title::new()
                .text(m.metric.titled())
                .text_style(TextStyle::new().font_size(14)),
        )
        .tooltip(Tooltip::new().trigger(Trigger::Item))
        .grid(Grid::new().top(40).bottom(44).left(52).right(16))
        // The verdict under the bars, in the head's colour: above them it would sit among the
        // blocks' dots.
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(vec!["base", "head"])
                .name(verdict_label(m))
                .name_location(NameLocation::Middle)
                .name_gap(24)
                .name_text_style(
                    TextStyle::new()
                        .color(head_colour(m.verdict))
                        .font_weight("bold"),
                ),
        )
        .y_axis(y_axis)
        .series(base)
        .series(head);
    if !dots.is_empty() {
        chart = chart.series(
            Scatter::new()
                .name(format!("blocks ({} + {})", m.base_blocks, m.head_blocks))
                .symbol_size(6)
                .item_style(ItemStyle::new().color("#24292f").opacity(0.45))
                .data(dots),
        );
    }
    chart
}

/// `[seconds since the phase began, f(point)]` for every point of `phases` in `series`: runs are
/// overlaid from each scenario's start, whenever each run reached it.
#[must_use]
pub fn from_phase_start(
    series: &Series,
    phases: &dyn Fn(&str) -> bool,
    f: fn(&SecondSample) -> f64,
) -> Vec<Vec<f64>> {
    let width = series.point_s();
    let mut inside = series.points.iter().filter(|p| phases(&p.phase)).peekable();
    let Some(first) = inside.peek().map(|p| p.t) else {
        return Vec::new();
    };
    inside
        .map(|p| vec![round3(f64::from(p.t - first) * width), round3(f(p))])
        .collect()
}

/// A line of a time chart: its label and its value in a point.
pub type Quantity = (&'static str, fn(&SecondSample) -> f64);

/// One time chart of base (dashed) and head overlaid from the scenario's start: each
/// `(label, value)` a pair of lines.
#[must_use]
pub fn overlaid(
    title: &str,
    unit: &str,
    base: &Series,
    head: &Series,
    phases: &dyn Fn(&str) -> bool,
    lines: &[Quantity],
) -> Chart {
    let mut chart = super::frame(
        title,
        super::bottom_axis("time since the scenario began (s)")
            .type_(AxisType::Value)
            .min(0),
        super::side_axis(unit).min(0),
    );
    // A scenario of a few hundred milliseconds is a few buckets: their points are drawn, so one
    // bucket is a dot, not nothing.
    let line = |name: String, data: Vec<Vec<f64>>| {
        Line::new()
            .name(name)
            .show_symbol(data.len() <= 30)
            .data(data)
    };
    for &(label, value) in lines {
        chart = chart
            .series(
                line(
                    format!("{label} · base"),
                    from_phase_start(base, phases, value),
                )
                .line_style(dashed()),
            )
            .series(line(
                format!("{label} · head"),
                from_phase_start(head, phases, value),
            ));
    }
    chart
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::test_support::{options, series};
    use lifeguard_shared::compare::Better;
    use lifeguard_shared::metric::Metric;

    fn compared(metric: Metric, base: f64, head: f64, verdict: Verdict) -> MetricComparison {
        MetricComparison {
            metric,
            better: Better::Lower,
            base: Some(base),
            head: Some(head),
            delta: Some(head - base),
            relative: Some((head - base) / base),
            practical_threshold: 0.1,
            p_value: None,
            base_blocks: 3,
            head_blocks: 2,
            verdict,
            note: None,
            base_values: vec![8.0, 9.0, 8.5],
            head_values: vec![30.0, 33.0],
        }
    }

    #[test]
    fn bars_carry_both_values_the_verdict_and_every_block() {
        let json = options(&metric_bars(&compared(
            Metric::P95LatencyMs,
            8.6,
            32.0,
            Verdict::Small,
        )));
        assert_eq!(json["title"][0]["text"], "p95 latency (ms)");
        assert_eq!(series(&json, "base")["data"], serde_json::json!([8.6, "-"]));
        let head = series(&json, "head");
        assert_eq!(head["data"], serde_json::json!(["-", 32.0]));
        assert_eq!(json["xAxis"]["name"], "+272 % · small");
        assert_eq!(head["itemStyle"]["color"], HEAD_COLOUR);
        let dots = series(&json, "blocks (3 + 2)")["data"].as_array().unwrap();
        assert_eq!(dots.len(), 5);
        assert_eq!(dots[3], serde_json::json!([1.0, 30.0]));
        assert!(
            json["yAxis"]["name"].is_null(),
            "the unit is in the title, once"
        );
    }

    #[test]
    fn a_regressed_head_is_red_and_shares_are_drawn_in_percent() {
        let mut m = compared(Metric::SuccessRate, 1.0, 0.9, Verdict::Regressed);
        m.base_values = vec![1.0, 1.0];
        m.head_values = vec![0.8, 1.0];
        let json = options(&metric_bars(&m));
        let head = series(&json, "head");
        assert_eq!(head["data"][1], 90.0);
        assert_eq!(head["itemStyle"]["color"], CRITICAL_COLOUR);
        assert_eq!(json["xAxis"]["name"], "-10 % · regressed");
        assert_eq!(json["xAxis"]["nameTextStyle"]["color"], CRITICAL_COLOUR);
        assert_eq!(json["yAxis"]["max"], 100.0);
        assert_eq!(
            series(&json, "blocks (3 + 2)")["data"][2],
            serde_json::json!([1.0, 80.0])
        );
    }

    fn point(t: u32, phase: &str, p95: f64) -> SecondSample {
        SecondSample {
            t,
            phase: phase.into(),
            latency_p95_ms: p95,
            ..SecondSample::default()
        }
    }

    #[test]
    fn runs_are_overlaid_from_the_scenarios_start_in_their_resolution() {
        let base = Series {
            resolution_ms: 100,
            points: vec![
                point(0, "light", 1.0),
                point(1, "heavy", 5.0),
                point(2, "heavy", 6.0),
            ],
        };
        let head = Series {
            resolution_ms: 100,
            points: vec![
                point(0, "light", 1.0),
                point(1, "light", 1.5),
                point(2, "heavy", 9.0),
                point(3, "heavy", 12.0),
            ],
        };
        let heavy = |phase: &str| phase == "heavy";
        let json = options(&overlaid(
            "Latency p95",
            "ms",
            &base,
            &head,
            &heavy,
            &[("p95", |p| p.latency_p95_ms)],
        ));
        assert_eq!(
            series(&json, "p95 · base")["data"],
            serde_json::json!([[0.0, 5.0], [0.1, 6.0]])
        );
        assert_eq!(
            series(&json, "p95 · head")["data"],
            serde_json::json!([[0.0, 9.0], [0.1, 12.0]])
        );
        assert_eq!(series(&json, "p95 · base")["lineStyle"]["type"], "dashed");
        assert_eq!(json["xAxis"]["name"], "time since the scenario began (s)");
    }

    #[test]
    fn changes_under_ten_percent_keep_a_decimal() {
        let m = compared(Metric::RecoveryS, 2.22, 2.21, Verdict::Unchanged);
        assert_eq!(verdict_label(&m), "-0.5 % · unchanged");
    }

    #[test]
    fn metrics_measured_once_have_no_dots() {
        let mut m = compared(Metric::RecoveryS, 2.0, 2.6, Verdict::Inconclusive);
        m.base_values.clear();
        m.head_values.clear();
        let json = options(&metric_bars(&m));
        assert_eq!(json["series"].as_array().unwrap().len(), 2);
    }
}
