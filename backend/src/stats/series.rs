//! Downsampling a run's series for charts: long runs become at most `max_points` points, each
//! covering the same number of buckets.

use lifeguard_shared::report::SecondSample;
use lifeguard_shared::run::Series;

/// Merges consecutive buckets of `resolution_ms` into at most `max_points` points. Counts are
/// summed; latency percentiles, gauges and backends take the bucket's maximum (a chart must not
/// hide a spike); the phase is the bucket's last. Points are numbered anew (`t` is the point's
/// index) and the series states the resolution that results.
#[must_use]
pub fn downsample(points: &[SecondSample], resolution_ms: u32, max_points: usize) -> Series {
    let max_points = max_points.max(1);
    if points.len() <= max_points {
        return Series {
            resolution_ms,
            points: points.to_vec(),
        };
    }
    let per_point = points.len().div_ceil(max_points);
    let merged = points
        .chunks(per_point)
        .zip(0..)
        .map(|(chunk, t)| {
            let mut point = chunk[0].clone();
            point.t = t;
            for s in &chunk[1..] {
                point.phase.clone_from(&s.phase);
                point.requests += s.requests;
                point.errors += s.errors;
                point.connections_created += s.connections_created;
                point.connections_closed += s.connections_closed;
                point.timeouts += s.timeouts;
                point.exhaustion_events += s.exhaustion_events;
                point.latency_p50_ms = point.latency_p50_ms.max(s.latency_p50_ms);
                point.latency_p95_ms = point.latency_p95_ms.max(s.latency_p95_ms);
                point.latency_p99_ms = point.latency_p99_ms.max(s.latency_p99_ms);
                point.latency_max_ms = point.latency_max_ms.max(s.latency_max_ms);
                point.acquire_wait_p95_ms = point.acquire_wait_p95_ms.max(s.acquire_wait_p95_ms);
                point.checked_out = point.checked_out.max(s.checked_out);
                point.idle = point.idle.max(s.idle);
                point.overflow = point.overflow.max(s.overflow);
                point.waiters = point.waiters.max(s.waiters);
                point.server_backends = point.server_backends.max(s.server_backends);
                point.idle_in_transaction = point.idle_in_transaction.max(s.idle_in_transaction);
                point.server_new_backends += s.server_new_backends;
                point.server_waiting = point.server_waiting.max(s.server_waiting);
            }
            point
        })
        .collect();
    Series {
        resolution_ms: resolution_ms.saturating_mul(u32::try_from(per_point).unwrap_or(u32::MAX)),
        points: merged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(t: u32, requests: u64, p95: f64) -> SecondSample {
        SecondSample {
            t,
            phase: format!("p{t}"),
            requests,
            latency_p95_ms: p95,
            ..SecondSample::default()
        }
    }

    #[test]
    fn short_series_pass_through() {
        let seconds: Vec<SecondSample> = (0..5).map(|t| second(t, 1, 1.0)).collect();
        let series = downsample(&seconds, 1000, 10);
        assert_eq!((series.resolution_ms, series.points), (1000, seconds));
    }

    #[test]
    fn an_hour_becomes_at_most_max_points_keeping_sums_and_spikes() {
        let seconds: Vec<SecondSample> = (0..3600)
            .map(|t| second(t, 10, if t == 1234 { 900.0 } else { 5.0 }))
            .collect();
        let Series {
            resolution_ms,
            points,
        } = downsample(&seconds, 1000, 600);
        assert_eq!(resolution_ms, 6000);
        assert_eq!(points.len(), 600);
        assert_eq!(points.iter().map(|p| p.requests).sum::<u64>(), 36_000);
        assert!(
            points
                .iter()
                .any(|p| (p.latency_p95_ms - 900.0).abs() < 1e-9)
        );
        assert_eq!(points[1].t, 1, "the second point covers seconds 6 to 12");
    }
}
