//! What `/api/health` and `/api/probe` answer: is the console up, and what does its target look like.

use serde::{Deserialize, Serialize};

/// The console's liveness answer (`GET /api/health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` when the console answers at all; a load balancer only needs the 200.
    pub status: String,
    /// The lifeguard version, so a pipeline can tell which console it talks to.
    pub version: String,
}

/// Numbers measured from a target on demand (`GET /api/probe`): the server's identity and how long
/// it takes to open a connection and to make a round trip. Every value comes from the live server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// The target's name as configured (e.g. `sandbox`).
    pub target: String,
    /// `SHOW server_version` on the target.
    pub server_version: String,
    /// `SHOW max_connections`: the ceiling every pool on this server shares.
    pub max_connections: u32,
    /// `SHOW superuser_reserved_connections`: slots ordinary roles cannot have.
    #[serde(default)]
    pub superuser_reserved_connections: u32,
    /// Backends connected to the server when it was probed (`pg_stat_activity`), the probe's own included.
    pub connected_backends: u32,
    /// Time to open each of a few fresh connections, in milliseconds, in the order they were opened.
    pub connect_ms: Vec<f64>,
    /// Round-trip time of `SELECT 1` on one open connection, in milliseconds, in order.
    pub round_trip_ms: Vec<f64>,
}

impl ProbeReport {
    /// The server as a run would read it at its start: other clients are the backends the probe
    /// found, less its own.
    #[must_use]
    pub fn server(&self) -> crate::report::ServerReport {
        crate::report::ServerReport {
            version: self.server_version.clone(),
            max_connections: self.max_connections,
            superuser_reserved_connections: self.superuser_reserved_connections,
            other_backends_at_start: self.connected_backends.saturating_sub(1),
            ..crate::report::ServerReport::default()
        }
    }

    /// Median of the connection times, the figure a pool pays each time it has to grow.
    #[must_use]
    pub fn median_connect_ms(&self) -> Option<f64> {
        median(&self.connect_ms)
    }

    /// Median of the round trips, the floor under every query's latency.
    #[must_use]
    pub fn median_round_trip_ms(&self) -> Option<f64> {
        median(&self.round_trip_ms)
    }
}

/// The median of `values`, or `None` when there are none (NaN sorts last and never panics).
fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        f64::midpoint(sorted[mid - 1], sorted[mid])
    } else {
        sorted[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(connect_ms: Vec<f64>, round_trip_ms: Vec<f64>) -> ProbeReport {
        ProbeReport {
            target: "sandbox".into(),
            server_version: "15.18".into(),
            max_connections: 100,
            superuser_reserved_connections: 3,
            connected_backends: 1,
            connect_ms,
            round_trip_ms,
        }
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let r = report(vec![3.0, 1.0, 2.0], vec![4.0, 1.0, 3.0, 2.0]);
        assert_eq!(r.median_connect_ms(), Some(2.0));
        assert_eq!(r.median_round_trip_ms(), Some(2.5));
    }

    #[test]
    fn median_of_nothing_is_none() {
        assert_eq!(report(vec![], vec![]).median_connect_ms(), None);
    }

    #[test]
    fn probe_report_round_trips_through_json() {
        let r = report(vec![1.5], vec![0.2]);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"server_version\":\"15.18\""));
        let back: ProbeReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
