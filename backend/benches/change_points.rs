//! The change-point detector over a long history: `cargo bench -p lifeguard --bench change_points`.
//!
//! 28 series (auth-burst's 4 scenarios × 7 sampled metrics) of 1,000 runs each, with noise of 2 to
//! 8 % and two seeded steps in every other series. Times `detect` over all 28, median of
//! `LIFEGUARD_BENCH_ROUNDS` rounds (15), against the goal of 200 ms. The reference, timed in the
//! same rounds: one naive O(n²) scan per series for its best split (each side's mean summed
//! afresh at every point) — a single level of the split without prefix sums, so the ratio shows
//! what the whole detector costs against one brute-force pass. Also prints how many seeded steps
//! were found (within one run) and how many change points nothing seeded.

#![expect(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use lifeguard::stats::change_points::{ChangePointSettings, detect};

const RUNS: usize = 1000;
const METRICS: usize = 28;
const GOAL: Duration = Duration::from_millis(200);

/// Deterministic noise: xorshift64*.
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// About normal: Irwin-Hall of four uniforms, scaled to a standard deviation of 1.
    fn normal(&mut self) -> f64 {
        ((0..4).map(|_| self.uniform()).sum::<f64>() - 2.0) / (4.0_f64 / 12.0).sqrt()
    }
}

/// One metric's history and the indexes where its level was made to step.
fn history(metric: usize) -> (Vec<f64>, Vec<usize>) {
    let mut noise =
        Noise(0x9e37_79b9_7f4a_7c15 ^ (metric as u64 + 1).wrapping_mul(0x1234_5678_9abc));
    let level = [4.0, 12.0, 35.0, 180.0, 800.0, 0.99, 2.5][metric % 7];
    let sd = 0.02 + 0.02 * (metric % 4) as f64;
    let steps: Vec<usize> = if metric.is_multiple_of(2) {
        vec![250 + 10 * metric, 700 - 5 * metric]
    } else {
        Vec::new()
    };
    let values = (0..RUNS)
        .map(|i| {
            let factor = match steps.as_slice() {
                [_, down] if i >= *down => 1.25 * 0.8,
                [up, _] if i >= *up => 1.25,
                _ => 1.0,
            };
            level * factor * (1.0 + sd * noise.normal())
        })
        .collect();
    (values, steps)
}

/// The best split of `values` by the same statistic as the detector's, without prefix sums.
fn naive_best_split(values: &[f64]) -> usize {
    let n = values.len();
    let mut best = (0, f64::MIN);
    for tau in 3..=n - 3 {
        let left = values[..tau].iter().sum::<f64>() / tau as f64;
        let right = values[tau..].iter().sum::<f64>() / (n - tau) as f64;
        let q = (tau * (n - tau)) as f64 / n as f64 * (left - right) * (left - right);
        if q > best.1 {
            best = (tau, q);
        }
    }
    best.0
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let rounds = usize::try_from(support::setting("LIFEGUARD_BENCH_ROUNDS", 15))
        .unwrap_or(15)
        .max(1);
    let settings = ChangePointSettings::default();
    let histories: Vec<(Vec<f64>, Vec<usize>)> = (0..METRICS).map(history).collect();

    let (mut seeded, mut found_seeded, mut unseeded) = (0, 0, 0);
    for (values, steps) in &histories {
        let points = detect(values, &settings);
        seeded += steps.len();
        found_seeded += steps
            .iter()
            .filter(|&&s| points.iter().any(|p| p.index.abs_diff(s) <= 1))
            .count();
        unseeded += points
            .iter()
            .filter(|p| !steps.iter().any(|&s| p.index.abs_diff(s) <= 1))
            .count();
    }

    let mut detector = Vec::with_capacity(rounds);
    let mut reference = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        for (values, _) in &histories {
            black_box(detect(black_box(values), &settings));
        }
        detector.push(ms(started.elapsed()));
        let started = Instant::now();
        for (values, _) in &histories {
            black_box(naive_best_split(black_box(values)));
        }
        reference.push(ms(started.elapsed()));
    }
    let detector = support::median(detector);
    let reference = support::median(reference);
    println!(
        "seeded steps found within one run: {found_seeded} of {seeded}; change points nothing seeded: {unseeded}"
    );
    println!(
        "median of {rounds} rounds: detector {detector:.2} ms, naive O(n²) best-split scan (reference) {reference:.2} ms"
    );
    println!("detector / naive scan: {:.2}", detector / reference);
    println!("detector / 200 ms goal: {:.4}", detector / ms(GOAL));
    println!(
        "change point detector, {RUNS} runs x {METRICS} metrics: {detector:.2} ms (goal < {} ms)",
        GOAL.as_millis()
    );
}
