//! Chart options built by pure functions from API data: no DOM, so they are tested natively.
//!
//! Every chart is interactive (tooltips, legend toggles, zoom where there is an axis to zoom);
//! values are rounded to what a chart can show, never invented.
//!
//! Layout:
//! - [`probe`]: the target's connect and round-trip times (`/targets`).
//! - [`percentiles`]: latency percentile curves on a log percentile axis (HdrHistogram style).
//! - [`timeline`]: per-second latency, throughput and errors, pool gauges, acquire wait.
//! - [`scenarios`]: success rate per scenario against its minimum.
//! - [`compare`]: one metric of one scenario in two runs, with the blocks the test compares.
//! - [`history`]: a metric across runs with baseline markers and its change points.
//! - [`sizing`]: p95 and throughput by pool size at each load, the limit, knee and recommendation.
//! - [`monitor`]: a monitored metric over time, its levels, alerts and deployments.

pub mod compare;
pub mod history;
pub mod monitor;
pub mod percentiles;
pub mod probe;
pub mod scenarios;
pub mod sizing;
pub mod timeline;

use charming::Chart;
use charming::component::{Axis, DataZoom, Grid, Legend, LegendType, Title};
use charming::element::mark_line::MarkLineVariant;
use charming::element::{
    Label, LabelPosition, LineStyle, LineStyleType, MarkLine, MarkLineData, NameLocation, Symbol,
    Tooltip, Trigger,
};

pub use probe::probe_chart;

/// Marks a string option as JavaScript source: [`crate::components::chart`] turns it into a
/// function as it hands the options to ECharts. (charming's `JsFunction` holds a live
/// `js_sys::Function` on wasm, which the JSON text the console renders through cannot carry.)
pub const JS_MARK: &str = "\u{1}js:";

/// A JavaScript function as an option value (a formatter): `function(args) { body }`.
#[must_use]
pub fn js_function(args: &str, body: &str) -> charming::element::Formatter {
    charming::element::Formatter::String(format!("{JS_MARK}function({args}) {{ {body} }}"))
}

/// Colours shared with `style.css`: passing, warning, failing.
pub const OK_COLOUR: &str = "#1a7f37";
pub const WARNING_COLOUR: &str = "#bf8700";
pub const CRITICAL_COLOUR: &str = "#cf222e";

/// Three decimals: microsecond precision is all a chart can show.
fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Each value to three decimals.
fn rounded(values: &[f64]) -> Vec<f64> {
    values.iter().copied().map(round3).collect()
}

/// Zooming with the wheel or a drag inside the plot, and with a slider under it.
fn zooms() -> [DataZoom; 2] {
    use charming::component::DataZoomType;
    [
        DataZoom::new().type_(DataZoomType::Inside),
        DataZoom::new().type_(DataZoomType::Slider).bottom(10),
    ]
}

/// The frame of every chart along an axis of time or runs: title, axis tooltip, legend, grid and
/// zoom around the given axes.
fn frame(title: &str, x_axis: Axis, y_axis: Axis) -> Chart {
    let [inside, slider] = zooms();
    Chart::new()
        .title(Title::new().text(title))
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        // One scrolling row: a wrapped legend would run into the y axis' name.
        .legend(Legend::new().type_(LegendType::Scroll).top(28))
        .grid(Grid::new().top(80).bottom(85).left(60).right(30))
        .data_zoom(inside)
        .data_zoom(slider)
        .x_axis(x_axis)
        .y_axis(y_axis)
}

/// A value axis along the bottom named `name`, the name centred under its labels (at the end it
/// would run off the plot's right edge), above the zoom slider.
fn bottom_axis(name: &str) -> Axis {
    Axis::new()
        .name(name)
        .name_location(NameLocation::Middle)
        .name_gap(28)
}

/// A value axis on the left named `name`, the name along the axis (at its top it would share
/// the top-left corner with the labels of marks drawn at the plot's top edge).
fn side_axis(name: &str) -> Axis {
    Axis::new()
        .type_(charming::element::AxisType::Value)
        .name(name)
        .name_location(NameLocation::Middle)
        .name_gap(42)
}

/// A series that draws nothing itself and carries marks — bands, vertical lines — under a legend
/// entry of its own, in `colour`.
fn marks_only(name: &str, colour: &str) -> charming::series::Line {
    charming::series::Line::new()
        .name(name)
        .item_style(charming::element::ItemStyle::new().color(colour))
        .data(Vec::<Vec<f64>>::new())
}

/// Areas of a plot, each from one corner `(from, to)` to the other.
type Areas = Vec<(
    charming::element::MarkAreaData,
    charming::element::MarkAreaData,
)>;

/// Areas of the plot shaded in `colour` at `opacity`, each labelled by its name as
/// `label` places it (unlabelled without one). Silent: a click goes through to the data under it.
fn shaded(
    colour: &str,
    opacity: f64,
    label: Option<charming::element::Label>,
    areas: Areas,
) -> charming::element::MarkArea {
    let area = charming::element::MarkArea::new()
        .silent(true)
        .item_style(
            charming::element::ItemStyle::new()
                .color(colour)
                .opacity(opacity),
        )
        .data(areas);
    match label {
        Some(label) => area.label(label),
        None => area,
    }
}

/// [`shaded`] areas under a legend entry `name` of their own.
fn bands(
    name: &str,
    colour: &str,
    opacity: f64,
    label: Option<charming::element::Label>,
    areas: Areas,
) -> charming::series::Line {
    marks_only(name, colour).mark_area(shaded(colour, opacity, label, areas))
}

/// A thin dashed line, for reference lines and base runs.
fn dashed() -> LineStyle {
    LineStyle::new().type_(LineStyleType::Dashed)
}

/// Dashed horizontal lines at the given `(label, value)` levels, labelled above the line at its
/// right end, then its left, in turn: two close levels (90 % of capacity and capacity) do not
/// write over each other.
fn level_lines(levels: Vec<(String, f64)>) -> MarkLine {
    MarkLine::new()
        .silent(true)
        .symbol(vec![Symbol::None, Symbol::None])
        .line_style(dashed())
        .data(
            levels
                .into_iter()
                .enumerate()
                .map(|(index, (name, value))| {
                    let end = if index % 2 == 0 {
                        LabelPosition::InsideEndTop
                    } else {
                        LabelPosition::InsideStartTop
                    };
                    MarkLineVariant::Simple(
                        MarkLineData::new()
                            .name(name)
                            .y_axis(value)
                            .label(Label::new().formatter("{b}").position(end)),
                    )
                })
                .collect(),
        )
}

#[cfg(test)]
pub(crate) mod test_support {
    use charming::Chart;

    /// The chart's options as ECharts receives them.
    pub fn options(chart: &Chart) -> serde_json::Value {
        serde_json::to_value(chart).unwrap()
    }

    /// The series named `name`.
    pub fn series<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
        json["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no series `{name}` in {json}"))
    }
}
