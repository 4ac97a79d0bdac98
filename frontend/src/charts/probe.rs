//! The `/targets` probe: connect and round-trip times of one measurement.

use charming::Chart;
use charming::component::{Axis, DataZoom, Feature, Grid, Legend, SaveAsImage, Title, Toolbox};
use charming::element::{AxisType, Tooltip, Trigger};
use charming::series::Line;
use lifeguard_shared::health::ProbeReport;

use super::rounded;

/// Connect times and round trips of a probe, sample by sample, on one millisecond axis.
#[must_use]
pub fn probe_chart(report: &ProbeReport) -> Chart {
    let samples = report.connect_ms.len().max(report.round_trip_ms.len());
    let x: Vec<String> = (1..=samples).map(|n| n.to_string()).collect();
    Chart::new()
        .title(Title::new().text(format!("{} — measured just now", report.target)))
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().top(30))
        .grid(Grid::new().top(80).bottom(70))
        .toolbox(Toolbox::new().feature(Feature::new().save_as_image(SaveAsImage::new())))
        .data_zoom(DataZoom::new())
        .x_axis(Axis::new().type_(AxisType::Category).name("sample").data(x))
        // Connecting costs a hundred round trips or more: a log axis shows both.
        .y_axis(Axis::new().type_(AxisType::Log).name("ms (log)"))
        .series(
            Line::new()
                .name("new connection (ms)")
                .data(rounded(&report.connect_ms)),
        )
        .series(
            Line::new()
                .name("SELECT 1 round trip (ms)")
                .data(rounded(&report.round_trip_ms)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ProbeReport {
        ProbeReport {
            target: "sandbox".into(),
            server_version: "15.18".into(),
            max_connections: 100,
            superuser_reserved_connections: 3,
            connected_backends: 1,
            connect_ms: vec![4.123_456, 3.5],
            round_trip_ms: vec![0.25, 0.2, 0.125],
        }
    }

    fn options(chart: &Chart) -> serde_json::Value {
        serde_json::to_value(chart).unwrap()
    }

    #[test]
    fn both_series_carry_the_measured_values() {
        let json = options(&probe_chart(&report()));
        let series = json["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0]["name"], "new connection (ms)");
        assert_eq!(series[0]["data"], serde_json::json!([4.123, 3.5]));
        assert_eq!(series[1]["data"], serde_json::json!([0.25, 0.2, 0.125]));
    }

    #[test]
    fn the_axis_has_one_category_per_sample_of_the_longer_series() {
        let json = options(&probe_chart(&report()));
        assert_eq!(json["xAxis"]["data"], serde_json::json!(["1", "2", "3"]));
        assert_eq!(json["yAxis"]["type"], "log");
    }

    #[test]
    fn the_chart_is_interactive() {
        let json = options(&probe_chart(&report()));
        assert_eq!(json["tooltip"]["trigger"], "axis");
        assert!(json["dataZoom"].is_array() || json["dataZoom"].is_object());
        assert!(json["toolbox"]["feature"]["saveAsImage"].is_object());
    }
}
