//! Per-second charts of a run: latency, throughput and errors, pool gauges, acquire wait. The
//! x axis counts seconds from the run's start; vertical lines mark where each phase begins.

use charming::Chart;
use charming::component::Axis;
use charming::element::mark_line::MarkLineVariant;
use charming::element::{
    AxisType, ItemStyle, Label, LabelAlign, MarkArea, MarkAreaData, MarkLine, MarkLineData, Symbol,
};
use charming::series::Line;
use lifeguard_shared::report::SecondSample;
use lifeguard_shared::suite::Levels;

use super::{CRITICAL_COLOUR, WARNING_COLOUR, dashed, level_lines, round3};

/// Rows of a run's series and the seconds each row covers (more than 1 when downsampled).
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'a> {
    pub points: &'a [SecondSample],
    pub seconds_per_point: u32,
    /// Pool gauges the run's source did not provide (a service's metrics may lack some): their
    /// lines say so and stay empty, never a row of zeros.
    pub missing: &'a [String],
}

impl Timeline<'_> {
    /// `[t, f(row)]` pairs.
    fn xy(&self, f: impl Fn(&SecondSample) -> f64) -> Vec<Vec<f64>> {
        self.points
            .iter()
            .map(|p| vec![f64::from(p.t), round3(f(p))])
            .collect()
    }

    /// A count per row as a rate per second.
    fn per_second(&self, f: impl Fn(&SecondSample) -> u64) -> Vec<Vec<f64>> {
        let seconds = f64::from(self.seconds_per_point.max(1));
        self.xy(|p| f(p) as f64 / seconds)
    }

    /// The line of pool gauge `gauge`, or an empty one named "… (not provided)".
    fn gauge(&self, gauge: &str, name: &str, data: impl FnOnce() -> Vec<Vec<f64>>) -> Line {
        if self.missing.iter().any(|m| m == gauge) {
            line(&format!("{name} (not provided)"), Vec::new())
        } else {
            line(name, data())
        }
    }

    /// A vertical line where each phase starts, labelled with the phase's name.
    fn phase_marks(&self) -> MarkLine {
        let mut starts = Vec::new();
        let mut current: Option<&str> = None;
        for point in self.points {
            if current != Some(point.phase.as_str()) {
                current = Some(point.phase.as_str());
                starts.push(
                    MarkLineData::new()
                        .name(point.phase.clone())
                        .x_axis(f64::from(point.t)),
                );
            }
        }
        MarkLine::new()
            .silent(true)
            .symbol(vec![Symbol::None, Symbol::None])
            // Each name starts at its line and runs right, clear of the y axis' labels.
            .label(Label::new().formatter("{b}").align(LabelAlign::Left))
            .line_style(dashed().color("#8c959f"))
            .data(starts.into_iter().map(MarkLineVariant::Simple).collect())
    }
}

/// The frame every time chart shares, over seconds since the run's start.
fn frame(title: &str, y_axis: Axis) -> Chart {
    let seconds = super::bottom_axis("time since start (s)")
        .type_(AxisType::Value)
        .min(0);
    super::frame(title, seconds, y_axis)
}

fn value_axis(name: &str) -> Axis {
    super::side_axis(name)
}

fn line(name: &str, data: Vec<Vec<f64>>) -> Line {
    Line::new().name(name).show_symbol(false).data(data)
}

/// Latency p50, p95 and p99 over time, in milliseconds.
#[must_use]
pub fn latency(timeline: &Timeline<'_>) -> Chart {
    frame("Latency over time", value_axis("ms"))
        .series(
            line("p50 (ms)", timeline.xy(|p| p.latency_p50_ms)).mark_line(timeline.phase_marks()),
        )
        .series(line("p95 (ms)", timeline.xy(|p| p.latency_p95_ms)))
        .series(line("p99 (ms)", timeline.xy(|p| p.latency_p99_ms)))
}

/// Requests, errors and pool timeouts per second.
#[must_use]
pub fn throughput(timeline: &Timeline<'_>) -> Chart {
    frame("Throughput and errors", value_axis("per second"))
        .series(
            line("requests/s", timeline.per_second(|p| p.requests))
                .mark_line(timeline.phase_marks()),
        )
        .series(line("errors/s", timeline.per_second(|p| p.errors)))
        .series(timeline.gauge("timeouts", "pool timeouts/s", || {
            timeline.per_second(|p| p.timeouts)
        }))
}

/// Checked-out connections, overflow in use and waiters, against the primary pool's capacity
/// with the utilization warning and critical bands (e.g. 70 % and 90 % of capacity).
#[must_use]
pub fn pool(timeline: &Timeline<'_>, capacity: u32, utilization_pct: Levels) -> Chart {
    let capacity = f64::from(capacity);
    let warning = round3(capacity * utilization_pct.warning / 100.0);
    let critical = round3(capacity * utilization_pct.critical / 100.0);
    let peak = timeline
        .points
        .iter()
        .map(|p| f64::from(p.checked_out.max(p.waiters)))
        .fold(0.0, f64::max);
    let band = |name: &str, from: f64, to: f64, colour: &str| {
        Line::new()
            .name(name)
            .data(Vec::<Vec<f64>>::new())
            .item_style(ItemStyle::new().color(colour))
            .mark_area(
                MarkArea::new()
                    .silent(true)
                    .item_style(ItemStyle::new().color(colour).opacity(0.12))
                    .data(vec![(
                        MarkAreaData::new().y_axis(from.to_string()),
                        MarkAreaData::new().y_axis(to.to_string()),
                    )]),
            )
    };
    let limits = level_lines(vec![
        (
            format!("{} % of capacity", utilization_pct.warning),
            warning,
        ),
        (
            format!("{} % of capacity", utilization_pct.critical),
            critical,
        ),
        (format!("capacity {capacity}"), capacity),
    ]);
    frame(
        "Pool connections",
        value_axis("connections")
            .min(0)
            .max(capacity.max(peak).max(1.0)),
    )
    .series(
        timeline
            .gauge("checked out", "checked out", || {
                timeline.xy(|p| f64::from(p.checked_out))
            })
            .mark_line(limits),
    )
    .series(timeline.gauge("overflow", "overflow in use", || {
        timeline.xy(|p| f64::from(p.overflow))
    }))
    .series(timeline.gauge("waiting", "waiters", || {
        timeline.xy(|p| f64::from(p.waiters))
    }))
    .series(band(
        &format!(
            "warning band ({}–{} %)",
            utilization_pct.warning, utilization_pct.critical
        ),
        warning,
        critical,
        WARNING_COLOUR,
    ))
    .series(band(
        &format!("critical band (≥ {} %)", utilization_pct.critical),
        critical,
        capacity.max(critical),
        CRITICAL_COLOUR,
    ))
}

/// P95 of the time spent waiting for a connection.
#[must_use]
pub fn acquire_wait(timeline: &Timeline<'_>) -> Chart {
    frame("Acquire wait over time", value_axis("ms")).series(
        timeline
            .gauge("acquire wait", "acquire wait p95 (ms)", || {
                timeline.xy(|p| p.acquire_wait_p95_ms)
            })
            .mark_line(timeline.phase_marks()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::test_support::{options, series};
    use serde_json::json;

    fn second(t: u32, phase: &str, requests: u64, checked_out: u32) -> SecondSample {
        SecondSample {
            t,
            phase: phase.into(),
            requests,
            errors: 1,
            latency_p50_ms: 1.234_56,
            latency_p95_ms: 5.0,
            checked_out,
            overflow: 2,
            waiters: 0,
            acquire_wait_p95_ms: 0.5,
            ..SecondSample::default()
        }
    }

    fn rows() -> Vec<SecondSample> {
        vec![
            second(0, "light", 10, 5),
            second(1, "light", 12, 6),
            second(2, "heavy", 40, 28),
        ]
    }

    #[test]
    fn latency_points_pair_seconds_with_rounded_values() {
        let rows = rows();
        let json = options(&latency(&Timeline {
            points: &rows,
            seconds_per_point: 1,
            missing: &[],
        }));
        let p50 = series(&json, "p50 (ms)");
        assert_eq!(p50["data"][0], json!([0.0, 1.235]));
        assert_eq!(series(&json, "p95 (ms)")["data"][2], json!([2.0, 5.0]));
        assert_eq!(json["tooltip"]["trigger"], "axis");
        assert_eq!(json["dataZoom"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn each_phase_start_gets_a_labelled_line() {
        let rows = rows();
        let json = options(&latency(&Timeline {
            points: &rows,
            seconds_per_point: 1,
            missing: &[],
        }));
        let marks = &series(&json, "p50 (ms)")["markLine"]["data"];
        assert_eq!(marks.as_array().unwrap().len(), 2);
        assert_eq!(marks[0]["name"], "light");
        assert_eq!(marks[1]["name"], "heavy");
        assert_eq!(marks[1]["xAxis"], 2.0);
    }

    #[test]
    fn downsampled_counts_become_rates_per_second() {
        let rows = rows();
        let json = options(&throughput(&Timeline {
            points: &rows,
            seconds_per_point: 2,
            missing: &[],
        }));
        assert_eq!(series(&json, "requests/s")["data"][2], json!([2.0, 20.0]));
        assert_eq!(series(&json, "errors/s")["data"][0], json!([0.0, 0.5]));
    }

    #[test]
    fn the_pool_chart_draws_the_utilization_bands_of_the_capacity() {
        let rows = rows();
        let json = options(&pool(
            &Timeline {
                points: &rows,
                seconds_per_point: 1,
                missing: &[],
            },
            30,
            Levels {
                warning: 70.0,
                critical: 90.0,
            },
        ));
        let warning = series(&json, "warning band (70–90 %)");
        assert_eq!(warning["markArea"]["data"][0][0]["yAxis"], "21");
        assert_eq!(warning["markArea"]["data"][0][1]["yAxis"], "27");
        let critical = series(&json, "critical band (≥ 90 %)");
        assert_eq!(critical["markArea"]["data"][0][1]["yAxis"], "30");
        let lines = &series(&json, "checked out")["markLine"]["data"];
        assert_eq!(lines[0]["yAxis"], 21.0);
        assert_eq!(lines[1]["yAxis"], 27.0);
        assert_eq!(lines[2]["name"], "capacity 30");
        assert_eq!(series(&json, "checked out")["data"][2], json!([2.0, 28.0]));
    }

    #[test]
    fn a_gauge_the_source_did_not_provide_is_named_so_and_drawn_empty_not_as_zeros() {
        let rows = rows();
        let missing = ["waiting".to_owned(), "acquire wait".to_owned()];
        let timeline = Timeline {
            points: &rows,
            seconds_per_point: 1,
            missing: &missing,
        };
        let levels = Levels {
            warning: 70.0,
            critical: 90.0,
        };
        let json = options(&pool(&timeline, 30, levels));
        // No data at all: charming leaves the key out.
        assert_eq!(series(&json, "waiters (not provided)")["data"], json!(null));
        assert_eq!(series(&json, "checked out")["data"][2], json!([2.0, 28.0]));
        let json = options(&acquire_wait(&timeline));
        assert_eq!(
            series(&json, "acquire wait p95 (ms) (not provided)")["data"],
            json!(null)
        );
    }

    #[test]
    fn acquire_wait_is_its_p95() {
        let rows = rows();
        let json = options(&acquire_wait(&Timeline {
            points: &rows,
            seconds_per_point: 1,
            missing: &[],
        }));
        assert_eq!(
            series(&json, "acquire wait p95 (ms)")["data"][1],
            json!([1.0, 0.5])
        );
    }
}
