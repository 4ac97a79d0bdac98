//! A sparkline as inline SVG: the shape of a metric over the last runs, with each run's value as
//! a hover title. The start page draws only these, so it needs no chart library: ECharts is
//! loaded when a view with a real chart first mounts ([`super::chart`]), and the first view's
//! download is the wasm alone.

use leptos::prelude::*;
use lifeguard_shared::metric::Metric;

use crate::format::maybe_metric;

/// The drawing's coordinate space; the SVG stretches it to the box CSS gives it.
const WIDTH: f64 = 300.0;
const HEIGHT: f64 = 60.0;
/// Room above and below the line so its extremes are not cut by the stroke.
const PAD: f64 = 4.0;

/// Where each value goes in a `WIDTH` × `HEIGHT` box, oldest at the left; `None` values have no
/// point and the line joins their neighbours. Flat series sit in the middle.
#[must_use]
pub fn points(values: &[Option<f64>]) -> Vec<Option<(f64, f64)>> {
    let known = values.iter().flatten().copied();
    let (low, high) = known.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| {
        (low.min(v), high.max(v))
    });
    let step = if values.len() > 1 {
        WIDTH / (values.len() - 1) as f64
    } else {
        0.0
    };
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            value.map(|v| {
                let x = if values.len() > 1 {
                    i as f64 * step
                } else {
                    WIDTH / 2.0
                };
                let y = if high > low {
                    PAD + (high - v) / (high - low) * (HEIGHT - 2.0 * PAD)
                } else {
                    HEIGHT / 2.0
                };
                (x, y)
            })
        })
        .collect()
}

/// SVG `points` text of a polyline through `points`.
fn polyline(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `metric` across runs, oldest first. `label` names it for screen readers.
#[component]
pub fn Sparkline(values: Vec<Option<f64>>, metric: Metric, label: &'static str) -> impl IntoView {
    let placed = points(&values);
    let line: Vec<(f64, f64)> = placed.iter().flatten().copied().collect();
    let area = match (line.first(), line.last()) {
        (Some(&(first, _)), Some(&(last, _))) => {
            format!("{first:.1},{HEIGHT} {} {last:.1},{HEIGHT}", polyline(&line))
        }
        _ => String::new(),
    };
    // One hover column per run, as wide as the space between neighbours.
    let column = if values.len() > 1 {
        WIDTH / (values.len() - 1) as f64
    } else {
        WIDTH
    };
    let count = values.len();
    let newest = values.iter().rev().flatten().next().copied();
    let summary = format!("{label}; newest {}", maybe_metric(metric, newest));
    let columns = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            let x = if count > 1 {
                i as f64 * column - column / 2.0
            } else {
                0.0
            };
            let title = format!("run {} of {count}: {}", i + 1, maybe_metric(metric, value));
            view! {
                <rect x=format!("{x:.1}") y="0" width=format!("{column:.1}") height=HEIGHT>
                    <title>{title}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <figure class="sparkline" data-chart="p95-sparkline">
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label=summary
            >
                <polygon class="area" points=area />
                <polyline class="line" points=polyline(&line) />
                <g class="hover">{columns}</g>
            </svg>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_value_is_at_the_bottom_the_highest_at_the_top_and_gaps_have_no_point() {
        let placed = points(&[Some(10.0), None, Some(30.0), Some(20.0)]);
        assert_eq!(placed[0], Some((0.0, HEIGHT - PAD)));
        assert_eq!(placed[1], None);
        assert_eq!(placed[2], Some((2.0 * WIDTH / 3.0, PAD)));
        assert_eq!(placed[3], Some((WIDTH, HEIGHT / 2.0)));
    }

    #[test]
    fn a_flat_series_and_a_single_run_sit_in_the_middle() {
        assert!(
            points(&[Some(5.0), Some(5.0)])
                .iter()
                .all(|p| p.is_some_and(|(_, y)| (y - HEIGHT / 2.0).abs() < 1e-9))
        );
        assert_eq!(
            points(&[Some(5.0)]),
            vec![Some((WIDTH / 2.0, HEIGHT / 2.0))]
        );
    }
}
