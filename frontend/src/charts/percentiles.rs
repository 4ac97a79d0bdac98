//! Latency percentile curves, HdrHistogram style: the x axis is `1 / (1 - p)` on a log scale,
//! so 90 %, 99 %, 99.9 % … sit an equal step apart and the tail gets the room it deserves.

use charming::Chart;
use charming::component::{Grid, Legend, LegendType, Title};
use charming::element::{AxisLabel, AxisType, Tooltip, Trigger};
use charming::series::Line;
use lifeguard_shared::run::PercentilePoint;

use super::{dashed, js_function, round3, zooms};

/// Where the 100th percentile (the maximum) is drawn: the axis cannot reach infinity.
pub const MAX_X: f64 = 1e6;

/// One curve: a scenario of one run. Base runs are drawn dashed.
#[derive(Debug, Clone)]
pub struct Curve<'a> {
    pub label: String,
    pub points: &'a [PercentilePoint],
    /// How many requests the curve is drawn from: percentiles finer than one request are the
    /// maximum repeated, so the axis ends where the largest curve's resolution does.
    pub requests: u64,
    pub dashed: bool,
}

/// Where the axis ends and each curve's maximum is drawn: the decade that holds the finest
/// percentile the largest curve resolves (100 requests resolve 99 %, so the axis ends at 99 %
/// and its maximum; a million, at 99.9999 %).
#[must_use]
pub fn axis_end(curves: &[Curve<'_>]) -> f64 {
    let most = curves.iter().map(|c| c.requests).max().unwrap_or(0).max(10) as f64;
    10f64.powf(most.log10().ceil()).min(MAX_X)
}

/// The x position of percentile `p` (0..=100): `1 / (1 - p/100)`, capped at [`MAX_X`].
#[must_use]
pub fn percentile_x(p: f64) -> f64 {
    if p >= 100.0 {
        MAX_X
    } else {
        (1.0 / (1.0 - p / 100.0)).clamp(1.0, MAX_X)
    }
}

/// JavaScript turning an axis position back into its percentile's label; `END` is the axis' end.
const LABEL_BODY: &str = "if (v >= END) { return 'max'; } \
     return (Math.round((100 - 100 / v) * 10000) / 10000) + ' %';";

/// JavaScript for the tooltip of one point: scenario, percentile and latency.
const TOOLTIP_BODY: &str = "var v = p.value[0]; \
     var q = v >= END ? 'max' : (Math.round((100 - 100 / v) * 10000) / 10000) + ' %'; \
     return echarts.format.encodeHTML(p.seriesName) + '<br/>' + q + ': ' + p.value[1] + ' ms';";

/// Latency (ms) against percentile for every curve; legend entries toggle curves.
#[must_use]
pub fn percentile_curves(title: &str, curves: &[Curve<'_>]) -> Chart {
    percentile_curves_hiding(title, curves, &[])
}

/// [`percentile_curves`] with the curves named in `hidden` switched off in the legend (a click
/// shows them): the exhaustion burst's seconds-long waits would flatten every scenario's curve.
#[must_use]
pub fn percentile_curves_hiding(title: &str, curves: &[Curve<'_>], hidden: &[&str]) -> Chart {
    let [inside, slider] = zooms();
    let end = axis_end(curves);
    let with_end = |body: &str| body.replace("END", &end.to_string());
    let mut chart = Chart::new()
        .title(Title::new().text(title))
        .tooltip(
            Tooltip::new()
                .trigger(Trigger::Item)
                .formatter(js_function("p", &with_end(TOOLTIP_BODY))),
        )
        .legend(
            Legend::new()
                .type_(LegendType::Scroll)
                .top(28)
                .selected(hidden.iter().map(|&name| (name, false))),
        )
        .grid(Grid::new().top(80).bottom(85).left(60).right(40))
        .data_zoom(inside)
        .data_zoom(slider)
        .x_axis(
            super::bottom_axis("percentile")
                .type_(AxisType::Log)
                .log_base(10)
                .min(1)
                .max(end)
                .axis_label(AxisLabel::new().formatter(js_function("v", &with_end(LABEL_BODY)))),
        )
        .y_axis(super::side_axis("latency (ms)"));
    for curve in curves {
        let data: Vec<Vec<f64>> = curve
            .points
            .iter()
            .filter_map(|p| {
                let x = if p.percentile >= 100.0 {
                    end
                } else {
                    percentile_x(p.percentile)
                };
                (x < end * (1.0 - 1e-9) || p.percentile >= 100.0)
                    .then(|| vec![round3(x), round3(p.latency_ms)])
            })
            .collect();
        let mut line = Line::new().name(curve.label.clone()).data(data);
        if curve.dashed {
            line = line.line_style(dashed());
        }
        chart = chart.series(line);
    }
    chart
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::test_support::{options, series};
    use serde_json::json;

    fn points() -> Vec<PercentilePoint> {
        [
            (0.0, 0.5),
            (50.0, 1.0),
            (90.0, 2.0),
            (99.0, 4.0),
            (99.9, 9.5),
            (100.0, 12.0),
        ]
        .into_iter()
        .map(|(percentile, latency_ms)| PercentilePoint {
            percentile,
            latency_ms,
        })
        .collect()
    }

    #[test]
    fn percentiles_map_to_one_over_the_tail() {
        assert!((percentile_x(0.0) - 1.0).abs() < 1e-9);
        assert!((percentile_x(50.0) - 2.0).abs() < 1e-9);
        assert!((percentile_x(90.0) - 10.0).abs() < 1e-9);
        assert!((percentile_x(99.9) - 1000.0).abs() < 1e-6);
        assert!((percentile_x(100.0) - MAX_X).abs() < 1e-9);
    }

    #[test]
    fn base_and_head_curves_are_overlaid_with_the_base_dashed() {
        let base = points();
        let head = points();
        let json = options(&percentile_curves(
            "light",
            &[
                Curve {
                    label: "light · base".into(),
                    points: &base,
                    requests: 1_000_000,
                    dashed: true,
                },
                Curve {
                    label: "light · head".into(),
                    points: &head,
                    requests: 1_000_000,
                    dashed: false,
                },
            ],
        ));
        assert_eq!(series(&json, "light · base")["lineStyle"]["type"], "dashed");
        assert!(series(&json, "light · head")["lineStyle"].is_null());
        let data = &series(&json, "light · head")["data"];
        assert_eq!(data[2], json!([10.0, 2.0]));
        assert_eq!(data[5], json!([MAX_X, 12.0]));
    }

    #[test]
    fn a_short_scenarios_axis_ends_at_the_percentile_its_requests_resolve() {
        let points = points();
        let curve = Curve {
            label: "light".into(),
            points: &points,
            requests: 15,
            dashed: false,
        };
        assert!((axis_end(std::slice::from_ref(&curve)) - 100.0).abs() < 1e-9);
        let json = options(&percentile_curves("light", &[curve]));
        assert_eq!(json["xAxis"]["max"], 100.0);
        // 0, 50, 90 % and the maximum at the axis' end; 99 % and 99.9 % are past 15 requests.
        assert_eq!(
            series(&json, "light")["data"],
            json!([[1.0, 0.5], [2.0, 1.0], [10.0, 2.0], [100.0, 12.0]])
        );
    }

    #[test]
    fn the_percentile_axis_is_logarithmic_and_labelled_in_percent() {
        let json = options(&percentile_curves("x", &[]));
        assert_eq!(json["xAxis"]["type"], "log");
        let formatter = json["xAxis"]["axisLabel"]["formatter"].as_str().unwrap();
        assert!(formatter.starts_with(crate::charts::JS_MARK), "{formatter}");
        assert!(formatter.contains("100 - 100 / v"), "{formatter}");
        assert!(formatter.contains("v >= 10)"), "{formatter}");
        assert!(formatter.contains("' %'"), "{formatter}");
        assert_eq!(json["tooltip"]["trigger"], "item");
        assert!(json["dataZoom"].is_array());
    }
}
