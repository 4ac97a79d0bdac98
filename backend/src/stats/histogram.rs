//! The latency and acquire-wait histograms a run keeps: HdrHistograms in microseconds (1 µs to
//! one hour, three significant digits), their recording and quantiles in milliseconds, and the
//! compressed form (V2 + deflate) in which each phase's seconds are stored and merged into
//! percentile curves. The engine records into them, the store keeps them, the statistics read
//! them; none of those needs to know about the others.

use std::time::Duration;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};

/// Largest latency recorded exactly: one hour, in microseconds (longer values are clamped).
pub const MAX_MICROS: u64 = 3_600_000_000;

/// One phase's latency and acquire-wait histograms for one second, compressed: merged, they give
/// each phase's latency curve.
#[derive(Debug, Clone)]
pub struct SecondHistograms {
    pub t: u32,
    pub phase: String,
    pub latency: Vec<u8>,
    pub acquire_wait: Vec<u8>,
}

/// An empty histogram with the run's bounds.
///
/// # Panics
/// Never: the bounds are constants that `hdrhistogram` accepts.
#[must_use]
pub fn new() -> Histogram<u64> {
    #[expect(clippy::expect_used, reason = "constant, valid bounds")]
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// Records `duration` (clamped to the bounds).
pub fn record(histogram: &mut Histogram<u64>, duration: Duration) {
    let micros = u64::try_from(duration.as_micros()).unwrap_or(MAX_MICROS);
    histogram.saturating_record(micros.clamp(1, MAX_MICROS));
}

/// Adds `from`'s counts to `into` (both made by [`new`]).
///
/// # Panics
/// Never: histograms of the same bounds always add up.
pub fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    #[expect(
        clippy::expect_used,
        reason = "histograms of the same bounds always add up"
    )]
    into.add(from).expect("histograms of the same bounds");
}

/// Microseconds as milliseconds.
#[must_use]
pub fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// The value at quantile `q` (0..=1) in milliseconds; 0 for an empty histogram.
#[must_use]
pub fn quantile_ms(histogram: &Histogram<u64>, q: f64) -> f64 {
    if histogram.is_empty() {
        0.0
    } else {
        ms(histogram.value_at_quantile(q))
    }
}

/// The mean in milliseconds; 0 for an empty histogram.
#[must_use]
pub fn mean_ms(histogram: &Histogram<u64>) -> f64 {
    if histogram.is_empty() {
        0.0
    } else {
        histogram.mean() / 1000.0
    }
}

/// The largest value in milliseconds; 0 for an empty histogram.
#[must_use]
pub fn max_ms(histogram: &Histogram<u64>) -> f64 {
    if histogram.is_empty() {
        0.0
    } else {
        ms(histogram.max())
    }
}

/// HdrHistogram V2 with deflate: a second of latencies in a few hundred bytes.
#[must_use]
pub fn compress(histogram: &Histogram<u64>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _never_fails_into_a_vec = V2DeflateSerializer::new().serialize(histogram, &mut bytes);
    bytes
}

/// Reads histograms written by [`compress`] (reusing its buffers from one to the next).
pub struct Decoder {
    deserializer: Deserializer,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    #[must_use]
    pub fn new() -> Self {
        Self {
            deserializer: Deserializer::new(),
        }
    }

    /// The histogram in `bytes`; `None` when they are not one.
    pub fn decode(&mut self, bytes: &[u8]) -> Option<Histogram<u64>> {
        let mut reader = bytes;
        self.deserializer.deserialize(&mut reader).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_survives_compression_and_reads_in_milliseconds() {
        let mut h = new();
        for ms in [1, 2, 3, 4, 100] {
            record(&mut h, Duration::from_millis(ms));
        }
        record(&mut h, Duration::from_hours(2));
        let back = Decoder::new().decode(&compress(&h)).unwrap();
        assert_eq!(back.len(), 6);
        assert!((quantile_ms(&back, 0.5) - 3.0).abs() < 0.01);
        assert!(
            (max_ms(&back) - 3_600_000.0).abs() < 3_600.0,
            "clamped to an hour"
        );
        assert!(Decoder::new().decode(b"not a histogram").is_none());
        assert!(quantile_ms(&new(), 0.95).abs() < f64::EPSILON);
        assert!(mean_ms(&new()).abs() < f64::EPSILON);
    }
}
