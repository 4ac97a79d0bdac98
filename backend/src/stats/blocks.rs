//! Blocks: the units a comparison resamples. Requests within a run are correlated (they share the
//! pool's state, the server's caches, a noisy neighbour's minute), so a per-request test overstates
//! significance. Blocks keep neighbours together: one second each for long scenarios, or, for
//! scenarios too short to span many seconds (auth-burst's last well under one), runs of
//! consecutive requests.

use serde::{Deserialize, Serialize};

/// How many blocks a short scenario is cut into at most.
pub const TARGET_BLOCKS: usize = 20;
/// Seconds a scenario must span for per-second blocks to be used.
pub const MIN_SECOND_BLOCKS: usize = 20;

/// The summary of one block of requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub requests: u64,
    pub ok: u64,
    /// How long the block took; zero when unknown.
    pub seconds: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub wait_p95_ms: f64,
    /// One second of the run (else a run of consecutive requests of a short scenario).
    #[serde(default)]
    pub per_second: bool,
}

impl Block {
    #[must_use]
    pub fn success_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.ok as f64 / self.requests as f64
        }
    }

    /// Requests per second, when the block's duration is known.
    #[must_use]
    pub fn throughput(&self) -> Option<f64> {
        (self.seconds > 0.0).then(|| self.requests as f64 / self.seconds)
    }
}

/// One request as kept for short scenarios: latency and acquire wait in microseconds, success,
/// and when it finished (microseconds since the run started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRequest {
    pub latency_us: u32,
    pub wait_us: u32,
    pub ok: bool,
    pub finished_us: u64,
}

/// The value at quantile `q` of sorted microseconds, in milliseconds (nearest rank).
fn quantile_ms(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "q is in 0..=1 and the product is bounded by the slice length"
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

/// Cuts requests (in completion order) into at most [`TARGET_BLOCKS`] runs of consecutive
/// requests. A block's duration runs from its earliest request start to its last completion.
/// (Not from the previous block's end: closed-loop users complete in waves, and a block of a few
/// requests would then time the gap between waves, not how fast its requests went.) Blocks of
/// two runs with the same scenario hold as many requests, so their rates compare.
#[must_use]
pub fn from_requests(requests: &[RawRequest]) -> Vec<Block> {
    if requests.is_empty() {
        return Vec::new();
    }
    let count = requests.len().min(TARGET_BLOCKS);
    let mut blocks = Vec::with_capacity(count);
    for index in 0..count {
        let from = index * requests.len() / count;
        let to = (index + 1) * requests.len() / count;
        let chunk = &requests[from..to];
        let mut latencies: Vec<u32> = chunk.iter().map(|r| r.latency_us).collect();
        let mut waits: Vec<u32> = chunk.iter().map(|r| r.wait_us).collect();
        latencies.sort_unstable();
        waits.sort_unstable();
        let end = chunk.iter().map(|r| r.finished_us).max().unwrap_or(0);
        let start = chunk
            .iter()
            .map(|r| r.finished_us.saturating_sub(u64::from(r.latency_us)))
            .min()
            .unwrap_or(end);
        let sum: f64 = latencies.iter().map(|&l| f64::from(l)).sum();
        blocks.push(Block {
            requests: chunk.len() as u64,
            ok: chunk.iter().filter(|r| r.ok).count() as u64,
            seconds: end.saturating_sub(start) as f64 / 1e6,
            mean_ms: sum / chunk.len() as f64 / 1000.0,
            p50_ms: quantile_ms(&latencies, 0.50),
            p95_ms: quantile_ms(&latencies, 0.95),
            p99_ms: quantile_ms(&latencies, 0.99),
            wait_p95_ms: quantile_ms(&waits, 0.95),
            per_second: false,
        });
    }
    blocks
}

/// The blocks that represent a scenario: per-second ones when it spans enough seconds, else runs of
/// consecutive requests when those were kept, else whatever seconds there are.
#[must_use]
pub fn choose(per_second: Vec<Block>, requests: Option<&[RawRequest]>) -> Vec<Block> {
    if per_second.len() >= MIN_SECOND_BLOCKS {
        return per_second;
    }
    match requests {
        Some(requests) if requests.len() >= 2 => from_requests(requests),
        _ => per_second,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(latency_ms: u32, finished_ms: u64, ok: bool) -> RawRequest {
        RawRequest {
            latency_us: latency_ms * 1000,
            wait_us: latency_ms * 500,
            ok,
            finished_us: finished_ms * 1000,
        }
    }

    #[test]
    fn short_scenarios_become_runs_of_consecutive_requests() {
        let requests: Vec<RawRequest> = (1..=40)
            .map(|i| request(i, u64::from(i) * 10, i % 10 != 0))
            .collect();
        let blocks = from_requests(&requests);
        assert_eq!(blocks.len(), 20);
        assert!(blocks.iter().all(|b| b.requests == 2));
        assert!((blocks[0].p50_ms - 1.0).abs() < 1e-9);
        assert!((blocks[0].p95_ms - 2.0).abs() < 1e-9);
        assert!((blocks[0].mean_ms - 1.5).abs() < 1e-9);
        // From the block's first start to its last completion: 9 ms → 20 ms, then 27 ms → 40 ms.
        assert!((blocks[0].seconds - 0.011).abs() < 1e-9);
        assert!((blocks[1].seconds - 0.013).abs() < 1e-9);
        assert!((blocks[4].success_rate() - 0.5).abs() < 1e-9);
        assert_eq!(blocks.iter().map(|b| b.requests).sum::<u64>(), 40);
    }

    #[test]
    fn fewer_requests_than_blocks_give_one_block_each() {
        let requests: Vec<RawRequest> = (1..=5).map(|i| request(i, u64::from(i), true)).collect();
        assert_eq!(from_requests(&requests).len(), 5);
    }

    #[test]
    fn long_scenarios_keep_their_seconds() {
        let second = from_requests(&[request(1, 1, true), request(2, 2, true)])[0];
        let seconds = vec![second; 25];
        let raw = [
            request(1, 1, true),
            request(1, 2, true),
            request(1, 3, true),
        ];
        assert_eq!(choose(seconds.clone(), Some(&raw)).len(), 25);
        assert_eq!(choose(seconds[..3].to_vec(), Some(&raw)).len(), 3);
        assert_eq!(choose(seconds[..3].to_vec(), None).len(), 3);
    }
}
