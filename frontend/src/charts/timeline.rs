//! Time charts of a run: latency, throughput and errors, pool gauges, acquire wait. The x axis
//! counts seconds from the run's start, at the series' resolution (100 ms buckets for short runs,
//! seconds for long ones); each phase (scenario, burst and recovery, leak check) is a labelled
//! band across the plot.

use charming::Chart;
use charming::component::Axis;
use charming::element::{AxisType, Label, LabelPosition, MarkAreaData};
use charming::series::Line;
use lifeguard_shared::report::SecondSample;
use lifeguard_shared::suite::Levels;

use super::{CRITICAL_COLOUR, WARNING_COLOUR, bands, level_lines, round3};

/// The name every phase band's legend entry has: one entry shows or hides them all.
pub const PHASES: &str = "phases";

/// Rows of a run's series and the seconds each row covers (0.1 for a short run's buckets, 1 for
/// seconds, more when downsampled): row `t` starts `t × point_s` seconds into the run.
#[derive(Debug, Clone, Copy)]
pub struct Timeline<'a> {
    pub points: &'a [SecondSample],
    pub point_s: f64,
    /// Pool gauges the run's source did not provide (a service's metrics may lack some): their
    /// lines say so and stay empty, never a row of zeros.
    pub missing: &'a [String],
}

impl Timeline<'_> {
    /// Seconds from the run's start to the start of row `t`.
    fn x(&self, t: u32) -> f64 {
        round3(f64::from(t) * self.point_s)
    }

    /// `[seconds, f(row)]` pairs.
    fn xy(&self, f: impl Fn(&SecondSample) -> f64) -> Vec<Vec<f64>> {
        self.points
            .iter()
            .map(|p| vec![self.x(p.t), round3(f(p))])
            .collect()
    }

    /// A count per row as a rate per second.
    fn per_second(&self, f: impl Fn(&SecondSample) -> u64) -> Vec<Vec<f64>> {
        let seconds = if self.point_s > 0.0 {
            self.point_s
        } else {
            1.0
        };
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

    /// Each phase's span `(label, from_s, to_s)`, in order.
    fn phases(&self) -> Vec<(String, f64, f64)> {
        let mut spans: Vec<(String, f64, f64)> = Vec::new();
        for point in self.points {
            let (from, to) = (self.x(point.t), self.x(point.t + 1));
            match spans.last_mut() {
                Some((name, _, end)) if *name == phase_label(&point.phase) => *end = to,
                _ => spans.push((phase_label(&point.phase), from, to)),
            }
        }
        spans
    }

    /// Every phase as a shaded band across the plot, labelled at its bottom left (the top holds
    /// the capacity lines' labels). Neighbouring
    /// bands alternate shade and label row, so the short scenarios of a burst keep their names
    /// apart; both halves share the legend entry [`PHASES`].
    fn phase_bands(&self) -> [Line; 2] {
        let spans = self.phases();
        [(0, 0.07, 0.0), (1, 0.14, -13.0)].map(|(parity, opacity, rise)| {
            let areas: Vec<(MarkAreaData, MarkAreaData)> = spans
                .iter()
                .enumerate()
                .filter(|(index, _)| index % 2 == parity)
                .map(|(_, (name, from, to))| {
                    (
                        MarkAreaData::new()
                            .name(name.clone())
                            .x_axis(from.to_string()),
                        MarkAreaData::new().x_axis(to.to_string()),
                    )
                })
                .collect();
            let label = Label::new()
                .position(LabelPosition::InsideBottomLeft)
                .offset((0.0, rise))
                .font_size(11)
                .color("#424a53");
            bands(PHASES, "#57606a", opacity, Some(label), areas)
        })
    }
}

/// How a phase is named on a chart: the runner's phase names, in words.
fn phase_label(phase: &str) -> String {
    match phase {
        "recovery" => "burst & recovery".to_owned(),
        "leak-check" => "leak check".to_owned(),
        other => other.to_owned(),
    }
}

/// The frame every time chart shares, over seconds since the run's start, with the phases'
/// bands.
fn frame(title: &str, timeline: &Timeline<'_>, y_axis: Axis) -> Chart {
    let seconds = super::bottom_axis("time since start (s)")
        .type_(AxisType::Value)
        .min(0);
    let [even, odd] = timeline.phase_bands();
    super::frame(title, seconds, y_axis)
        .series(even)
        .series(odd)
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
    frame("Latency over time", timeline, value_axis("ms"))
        .series(line("p50 (ms)", timeline.xy(|p| p.latency_p50_ms)))
        .series(line("p95 (ms)", timeline.xy(|p| p.latency_p95_ms)))
        .series(line("p99 (ms)", timeline.xy(|p| p.latency_p99_ms)))
}

/// Requests, errors and pool timeouts per second.
#[must_use]
pub fn throughput(timeline: &Timeline<'_>) -> Chart {
    frame("Throughput and errors", timeline, value_axis("per second"))
        .series(line("requests/s", timeline.per_second(|p| p.requests)))
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
        let area = (
            MarkAreaData::new().y_axis(from.to_string()),
            MarkAreaData::new().y_axis(to.to_string()),
        );
        bands(name, colour, 0.12, None, vec![area])
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
        timeline,
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
    frame("Acquire wait over time", timeline, value_axis("ms")).series(timeline.gauge(
        "acquire wait",
        "acquire wait p95 (ms)",
        || timeline.xy(|p| p.acquire_wait_p95_ms),
    ))
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
            point_s: 1.0,
            missing: &[],
        }));
        let p50 = series(&json, "p50 (ms)");
        assert_eq!(p50["data"][0], json!([0.0, 1.235]));
        assert_eq!(series(&json, "p95 (ms)")["data"][2], json!([2.0, 5.0]));
        assert_eq!(json["tooltip"]["trigger"], "axis");
        assert_eq!(json["dataZoom"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn each_phase_is_a_labelled_band_neighbours_in_alternate_rows() {
        let rows = vec![
            second(0, "light", 10, 5),
            second(1, "heavy", 12, 6),
            second(2, "heavy", 40, 28),
            second(3, "recovery", 40, 28),
        ];
        let json = options(&latency(&Timeline {
            points: &rows,
            point_s: 0.1,
            missing: &[],
        }));
        let bands: Vec<&serde_json::Value> = json["series"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == PHASES)
            .collect();
        assert_eq!(bands.len(), 2);
        let even = &bands[0]["markArea"];
        assert_eq!(even["data"][0][0]["name"], "light");
        assert_eq!(even["data"][0][0]["xAxis"], "0");
        assert_eq!(even["data"][0][1]["xAxis"], "0.1");
        assert_eq!(even["data"][1][0]["name"], "burst & recovery");
        let odd = &bands[1]["markArea"];
        assert_eq!(odd["data"][0][0]["name"], "heavy");
        assert_eq!(odd["data"][0][0]["xAxis"], "0.1");
        assert_eq!(odd["data"][0][1]["xAxis"], "0.3");
        assert_ne!(even["label"]["offset"], odd["label"]["offset"]);
        assert_eq!(series(&json, "p50 (ms)")["data"][2], json!([0.2, 1.235]));
    }

    #[test]
    fn downsampled_counts_become_rates_per_second() {
        let rows = rows();
        let json = options(&throughput(&Timeline {
            points: &rows,
            point_s: 2.0,
            missing: &[],
        }));
        assert_eq!(series(&json, "requests/s")["data"][2], json!([4.0, 20.0]));
        assert_eq!(series(&json, "errors/s")["data"][0], json!([0.0, 0.5]));
    }

    #[test]
    fn the_pool_chart_draws_the_utilization_bands_of_the_capacity() {
        let rows = rows();
        let json = options(&pool(
            &Timeline {
                points: &rows,
                point_s: 1.0,
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
            point_s: 1.0,
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
            point_s: 1.0,
            missing: &[],
        }));
        assert_eq!(
            series(&json, "acquire wait p95 (ms)")["data"][1],
            json!([1.0, 0.5])
        );
    }
}
