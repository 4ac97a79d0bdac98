//! Latency percentile curves (HdrHistogram style): a phase's per-second histograms merged and
//! read at percentiles that crowd towards 100 (50, 75, 87.5, … 99.99…), which a log axis spreads.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use lifeguard_shared::run::{PercentilePoint, PhaseDistribution};

use super::histogram::{Decoder, SecondHistograms};

/// Percentiles 0, 50, 75, 87.5 … up to 99.9999 (each halving the distance to 100), and 100.
fn percentiles() -> Vec<f64> {
    let mut all = vec![0.0];
    let mut gap = 50.0;
    while gap > 0.0001 {
        all.push(100.0 - gap);
        gap /= 2.0;
    }
    all.push(100.0);
    all
}

/// Merges each phase's seconds and reads its curve; phases keep the order they first appear in.
/// Undecodable seconds are skipped (and counted in the log).
#[must_use]
pub fn by_phase(seconds: &[SecondHistograms]) -> Vec<PhaseDistribution> {
    let mut order: Vec<String> = Vec::new();
    let mut merged: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut decoder = Decoder::new();
    for second in seconds {
        let Some(histogram) = decoder.decode(&second.latency) else {
            tracing::warn!(t = second.t, "skipping an undecodable histogram");
            continue;
        };
        if !merged.contains_key(&second.phase) {
            order.push(second.phase.clone());
        }
        let target = merged
            .entry(second.phase.clone())
            .or_insert_with(|| Histogram::new_from(&histogram));
        let _same_bounds = target.add(&histogram);
    }
    order
        .into_iter()
        .filter_map(|name| {
            let histogram = merged.remove(&name)?;
            let points = percentiles()
                .into_iter()
                .map(|percentile| PercentilePoint {
                    percentile,
                    latency_ms: histogram.value_at_percentile(percentile) as f64 / 1000.0,
                })
                .collect();
            Some(PhaseDistribution {
                name,
                requests: histogram.len(),
                points,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::histogram;

    fn second(t: u32, phase: &str, micros: &[u64]) -> SecondHistograms {
        let mut h = histogram::new();
        for m in micros {
            histogram::record(&mut h, std::time::Duration::from_micros(*m));
        }
        let bytes = histogram::compress(&h);
        SecondHistograms {
            t,
            phase: phase.into(),
            latency: bytes.clone(),
            acquire_wait: bytes,
        }
    }

    #[test]
    fn seconds_of_a_phase_are_merged_into_one_curve() {
        let seconds = [
            second(0, "light", &[1000, 2000]),
            second(1, "light", &[3000, 4000]),
            second(2, "peak", &[50_000]),
        ];
        let phases = by_phase(&seconds);
        assert_eq!(phases.len(), 2);
        assert_eq!(phases[0].name, "light");
        assert_eq!(phases[0].requests, 4);
        let max = phases[0].points.last().unwrap();
        assert!((max.percentile - 100.0).abs() < 1e-9);
        assert!((max.latency_ms - 4.0).abs() < 0.01, "{max:?}");
        let median = phases[0]
            .points
            .iter()
            .find(|p| (p.percentile - 50.0).abs() < 1e-9)
            .unwrap();
        assert!((median.latency_ms - 2.0).abs() < 0.01, "{median:?}");
        assert!(
            phases[0]
                .points
                .windows(2)
                .all(|w| w[0].latency_ms <= w[1].latency_ms)
        );
    }
}
