//! Change points in a metric's history across runs: where its level moved and stayed moved.
//!
//! Method (Hunter, from `DataStax`: "Hunter: Using Change Point Detection to Hunt for Performance
//! Regressions", 2023; built on the E-Divisive means of `MongoDB`, Daly et al., ICPE 2020):
//! 1. **Split, top-down, in windows.** The series is cut into windows of [`WINDOW`] runs that
//!    overlap by half (the next window starts at the last change point found or half a window on,
//!    whichever is later), so a change among many is judged against its neighbourhood rather than
//!    the whole history. Within a window each segment is split where the E-divisive statistic is
//!    largest: with exponent α = 2 the energy distance of two samples is twice the squared
//!    difference of their means, so q̂(τ) = m·k/(m+k)·(x̄ − ȳ)² (m, k the sizes of the two sides),
//!    computed for every τ in O(1) from prefix sums. A split needs both sides to have at least
//!    `min_segment` runs and the test below to give less than 10 × `max_p_value` (Hunter's looser
//!    first pass: weak candidates are cheap, the next step removes them); each accepted split's
//!    sides are split again.
//! 2. **Re-test, bottom-up (Hunter's merge).** Every candidate is tested against the segments up
//!    to its neighbouring candidates: the p-value must be below `max_p_value`, the means must
//!    differ by at least `min_change` (in the larger direction, `max(after/before, before/after)
//!    − 1`), and each side must have `min_segment` runs. While some candidate fails, the weakest
//!    goes — the one with the largest p-value, else the one with the smallest change — and its two
//!    neighbours are tested again over their now longer segments.
//!
//! **The test** is Student's two-sample t-test with pooled variance (as Hunter's), two-sided, with
//! two guards Hunter does not have:
//! - *It must hold without any one run*: the test is repeated with either side's run farthest
//!   from the other side's mean left out, and the largest p-value counts. One outlier among the
//!   newest three runs is not a change; three runs at a new level are (with a pooled variance a
//!   change is confirmed by few runs, where a Welch test's few degrees of freedom would need many).
//! - *It pays for the search* (Bonferroni): the split was put where the difference looks largest,
//!   so the p-value is multiplied by the number of places it could have been put in the segment
//!   tested. Without this, noise alone yields a "significant" split in most long histories.
//!
//! A side with no variance at all (a count that stays 0) decides by its means: equal means are no
//! change, different ones a certain one. Values that are not finite (runs that did not measure the
//! metric) are skipped; indexes refer to the input.

pub use lifeguard_shared::history::ChangePointSettings;

/// Runs per window of the first pass (Hunter's default).
pub const WINDOW: usize = 50;

/// How much looser the first pass's p-value bar is than the final one (Hunter's).
const FIRST_PASS_FACTOR: f64 = 10.0;

/// A change of level in a series.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePoint {
    /// Index (in the input) of the first value at the new level.
    pub index: usize,
    /// Means of the segments on either side, up to the neighbouring change points.
    pub mean_before: f64,
    pub mean_after: f64,
    /// `(mean_after - mean_before) / |mean_before|`; `None` when the mean before is zero.
    pub relative_change: Option<f64>,
    /// Two-sided pooled t-test of the two segments, the larger without either side's most extreme
    /// run, times the number of places the change could have been put between its neighbours.
    pub p_value: f64,
}

/// The change points of `values` (oldest first), in order.
#[must_use]
pub fn detect(values: &[f64], settings: &ChangePointSettings) -> Vec<ChangePoint> {
    let (positions, series): (Vec<usize>, Vec<f64>) = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, &v)| (i, v))
        .unzip();
    let min_segment = settings.min_segment.max(2);
    if series.len() < 2 * min_segment {
        return Vec::new();
    }
    // Centred on the first value: a constant series becomes exact zeros (no rounding can invent
    // a difference of means), and large values lose less to cancellation.
    let origin = series[0];
    let centred: Vec<f64> = series.iter().map(|v| v - origin).collect();
    let first_pass = (settings.max_p_value * FIRST_PASS_FACTOR).min(0.5);
    let candidates = split(&centred, min_segment, first_pass);
    merge(&centred, candidates, settings, min_segment, origin)
        .into_iter()
        .map(|c| ChangePoint {
            index: positions[c.index],
            mean_before: c.before.mean + origin,
            mean_after: c.after.mean + origin,
            relative_change: relative_change(c.before.mean + origin, c.after.mean + origin),
            p_value: c.p_value,
        })
        .collect()
}

/// `(after - before) / |before|`; `None` when `before` is zero.
fn relative_change(before: f64, after: f64) -> Option<f64> {
    (before != 0.0).then(|| (after - before) / before.abs())
}

/// The change in the larger direction: `|after - before|` over the smaller of the two magnitudes
/// (over the larger when one is zero, so a move from zero counts as 100 %).
fn magnitude(before: f64, after: f64) -> f64 {
    let difference = (after - before).abs();
    if difference == 0.0 {
        return 0.0;
    }
    let (small, large) = if before.abs() < after.abs() {
        (before.abs(), after.abs())
    } else {
        (after.abs(), before.abs())
    };
    if small > 0.0 {
        difference / small
    } else {
        difference / large
    }
}

/// First pass: candidate indexes (sorted, distinct) from recursive E-divisive splits in
/// overlapping windows.
fn split(series: &[f64], min_segment: usize, max_p: f64) -> Vec<usize> {
    let n = series.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    let mut sum = 0.0;
    for v in series {
        sum += v;
        prefix.push(sum);
    }
    let mut found = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + WINDOW).min(n);
        let mut last = start;
        let mut segments = vec![(start, end)];
        while let Some((a, b)) = segments.pop() {
            let Some(tau) = best_split(&prefix, a, b, min_segment) else {
                continue;
            };
            let p = split_p_value(series, a, tau, b, min_segment);
            if p < max_p {
                found.push(tau);
                last = last.max(tau);
                segments.push((a, tau));
                segments.push((tau, b));
            }
        }
        if end == n {
            break;
        }
        start = last.max(start + WINDOW / 2);
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// The τ in `a+min..=b-min` maximising q̂(τ) = m·k/(m+k)·(mean[a..τ) − mean[τ..b))².
#[expect(
    clippy::many_single_char_names,
    reason = "the statistic's notation: a, b, m, k, n, q"
)]
fn best_split(prefix: &[f64], a: usize, b: usize, min_segment: usize) -> Option<usize> {
    if b - a < 2 * min_segment {
        return None;
    }
    let total = prefix[b] - prefix[a];
    let n = (b - a) as f64;
    let mut best: Option<(usize, f64)> = None;
    for tau in a + min_segment..=b - min_segment {
        let m = (tau - a) as f64;
        let k = n - m;
        let left = prefix[tau] - prefix[a];
        let difference = left / m - (total - left) / k;
        let q = m * k / n * difference * difference;
        if best.is_none_or(|(_, top)| q > top) {
            best = Some((tau, q));
        }
    }
    best.map(|(tau, _)| tau)
}

/// Count, mean and unbiased variance of some values (two passes: exact for constant values).
#[derive(Debug, Clone, Copy)]
struct Moments {
    n: usize,
    mean: f64,
    variance: f64,
}

impl Moments {
    fn of(values: &[f64]) -> Self {
        Self::of_all_but(values, None)
    }

    /// The moments of `values` without the one at `skip`.
    fn of_all_but(values: &[f64], skip: Option<usize>) -> Self {
        let kept = || {
            values
                .iter()
                .enumerate()
                .filter(move |(i, _)| Some(*i) != skip)
                .map(|(_, v)| *v)
        };
        let n = kept().count();
        if n == 0 {
            return Self {
                n,
                mean: 0.0,
                variance: 0.0,
            };
        }
        let mean = kept().sum::<f64>() / n as f64;
        let variance = if n < 2 {
            0.0
        } else {
            kept().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64
        };
        Self { n, mean, variance }
    }

    /// The moments of `values` without the one farthest from `other_mean`.
    fn without_farthest(values: &[f64], other_mean: f64) -> Self {
        let farthest = (0..values.len()).max_by(|&x, &y| {
            (values[x] - other_mean)
                .abs()
                .total_cmp(&(values[y] - other_mean).abs())
        });
        Self::of_all_but(values, farthest)
    }
}

/// Two-sided p-value of Student's t-test of two means with pooled variance (1 without a degree of
/// freedom; 0 or 1 when neither side varies, as the means differ or not).
fn student(before: Moments, after: Moments) -> f64 {
    if before.n == 0 || after.n == 0 || before.n + after.n < 3 {
        return 1.0;
    }
    let (n1, n2) = (before.n as f64, after.n as f64);
    let df = n1 + n2 - 2.0;
    let pooled = ((n1 - 1.0) * before.variance + (n2 - 1.0) * after.variance) / df;
    let se2 = pooled * (1.0 / n1 + 1.0 / n2);
    let difference = after.mean - before.mean;
    if se2 <= 0.0 {
        return if difference == 0.0 { 1.0 } else { 0.0 };
    }
    student_t_two_sided(difference / se2.sqrt(), df)
}

/// The p-value of a change at `tau` between `from` and `to`: the pooled t-test, the largest of it
/// with and without either side's run farthest from the other side's mean, times the places the
/// change could have been put (`to - from - 2·min_segment + 1`). 1 when a side is too short.
fn split_p_value(series: &[f64], from: usize, tau: usize, to: usize, min_segment: usize) -> f64 {
    let (before, after) = (&series[from..tau], &series[tau..to]);
    if before.len() < min_segment || after.len() < min_segment {
        return 1.0;
    }
    let (all_before, all_after) = (Moments::of(before), Moments::of(after));
    let p = student(all_before, all_after)
        .max(student(
            Moments::without_farthest(before, all_after.mean),
            all_after,
        ))
        .max(student(
            all_before,
            Moments::without_farthest(after, all_before.mean),
        ));
    let places = (to - from + 1).saturating_sub(2 * min_segment).max(1);
    (p * places as f64).min(1.0)
}

/// P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2).
fn student_t_two_sided(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return 0.0;
    }
    regularized_beta(df / 2.0, 0.5, df / (df + t * t)).clamp(0.0, 1.0)
}

/// The regularized incomplete beta function `I_x(a, b)`, by its continued fraction (Numerical
/// Recipes' `betai`, evaluated where it converges fast and mirrored elsewhere).
fn regularized_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
#[expect(
    clippy::many_single_char_names,
    reason = "Numerical Recipes' notation: a, b, x, c, d, h, m"
)]
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPSILON: f64 = 1e-15;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + even * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + even / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let odd = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + odd * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + odd / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPSILON {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms; relative error about 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// A candidate with its test against the segments up to its neighbours.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    index: usize,
    before: Moments,
    after: Moments,
    p_value: f64,
}

impl Candidate {
    fn tested(series: &[f64], from: usize, index: usize, to: usize, min_segment: usize) -> Self {
        Self {
            index,
            before: Moments::of(&series[from..index]),
            after: Moments::of(&series[index..to]),
            p_value: split_p_value(series, from, index, to, min_segment),
        }
    }

    /// The change in the larger direction, of the real means (`origin` undoes the centring).
    fn magnitude(&self, origin: f64) -> f64 {
        magnitude(self.before.mean + origin, self.after.mean + origin)
    }
}

/// Second pass: while any candidate fails (p-value, change, segment length), drops the weakest —
/// the largest p-value if that fails, else the smallest change — and re-tests its neighbours.
fn merge(
    series: &[f64],
    indexes: Vec<usize>,
    settings: &ChangePointSettings,
    min_segment: usize,
    origin: f64,
) -> Vec<Candidate> {
    let n = series.len();
    let bound = |kept: &[usize], i: usize| {
        let from = if i == 0 { 0 } else { kept[i - 1] };
        let to = kept.get(i + 1).copied().unwrap_or(n);
        (from, to)
    };
    let mut kept = indexes;
    let mut tested: Vec<Candidate> = (0..kept.len())
        .map(|i| {
            let (from, to) = bound(&kept, i);
            Candidate::tested(series, from, kept[i], to, min_segment)
        })
        .collect();
    loop {
        // Largest p-value; among equal ones the smallest change goes first.
        let weakest = (0..tested.len()).max_by(|&x, &y| {
            tested[x]
                .p_value
                .total_cmp(&tested[y].p_value)
                .then_with(|| {
                    tested[y]
                        .magnitude(origin)
                        .total_cmp(&tested[x].magnitude(origin))
                })
        });
        let Some(weakest) = weakest else {
            break;
        };
        let drop = if tested[weakest].p_value >= settings.max_p_value {
            weakest
        } else {
            let smallest = (0..tested.len())
                .min_by(|&x, &y| {
                    tested[x]
                        .magnitude(origin)
                        .total_cmp(&tested[y].magnitude(origin))
                })
                .unwrap_or(weakest);
            if tested[smallest].magnitude(origin) >= settings.min_change {
                break;
            }
            smallest
        };
        kept.remove(drop);
        tested.remove(drop);
        // The neighbours' segments just grew: test them again.
        for i in [drop.checked_sub(1), Some(drop)].into_iter().flatten() {
            if i < kept.len() {
                let (from, to) = bound(&kept, i);
                tested[i] = Candidate::tested(series, from, kept[i], to, min_segment);
            }
        }
    }
    tested
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise: xorshift64*, summed four times for a bell shape (mean 0, sd ≈ 1).
    struct Noise(u64);

    impl Noise {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            // Irwin-Hall of four uniforms: mean 2, variance 4/12.
            ((0..4).map(|_| self.uniform()).sum::<f64>() - 2.0) / (4.0_f64 / 12.0).sqrt()
        }
    }

    /// `n` values around `level(i)` with relative noise `sd`.
    fn series(seed: u64, n: usize, sd: f64, level: impl Fn(usize) -> f64) -> Vec<f64> {
        let mut noise = Noise(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        (0..n)
            .map(|i| level(i) * (1.0 + sd * noise.normal()))
            .collect()
    }

    fn found(values: &[f64]) -> Vec<ChangePoint> {
        detect(values, &ChangePointSettings::default())
    }

    #[test]
    fn a_thirty_percent_step_is_found_within_one_run() {
        for seed in 1..=10 {
            let values = series(seed, 120, 0.05, |i| if i < 60 { 40.0 } else { 52.0 });
            let points = found(&values);
            assert_eq!(points.len(), 1, "seed {seed}: {points:?}");
            let point = &points[0];
            assert!(point.index.abs_diff(60) <= 1, "seed {seed}: {point:?}");
            assert!(point.p_value < 0.001);
            let relative = point.relative_change.unwrap();
            assert!((relative - 0.30).abs() < 0.05, "seed {seed}: {point:?}");
            assert!(
                (point.mean_before - 40.0).abs() < 2.0 && (point.mean_after - 52.0).abs() < 2.0
            );
        }
    }

    #[test]
    fn a_flat_noisy_history_has_no_change_point() {
        for seed in 1..=20 {
            for sd in [0.02, 0.05, 0.10] {
                let values = series(seed, 120, sd, |_| 40.0);
                assert_eq!(found(&values), [], "seed {seed}, noise {sd}");
            }
        }
        let long = series(99, 1000, 0.05, |_| 250.0);
        assert_eq!(found(&long), []);
    }

    #[test]
    fn two_steps_are_both_found() {
        for seed in 1..=10 {
            let values = series(seed, 150, 0.05, |i| match i {
                0..50 => 10.0,
                50..100 => 13.0,
                _ => 9.0,
            });
            let indexes: Vec<usize> = found(&values).iter().map(|p| p.index).collect();
            assert_eq!(indexes.len(), 2, "seed {seed}: {indexes:?}");
            assert!(
                indexes[0].abs_diff(50) <= 1 && indexes[1].abs_diff(100) <= 1,
                "{indexes:?}"
            );
        }
    }

    #[test]
    fn a_step_back_and_forth_within_one_window_is_found_both_ways() {
        let values = series(7, 200, 0.03, |i| {
            if (90..110).contains(&i) { 130.0 } else { 100.0 }
        });
        let indexes: Vec<usize> = found(&values).iter().map(|p| p.index).collect();
        assert_eq!(indexes.len(), 2, "{indexes:?}");
        assert!(
            indexes[0].abs_diff(90) <= 1 && indexes[1].abs_diff(110) <= 1,
            "{indexes:?}"
        );
    }

    #[test]
    fn a_change_in_the_newest_runs_is_found_once_three_runs_show_it() {
        for seed in 1..=10 {
            let values = series(seed, 100, 0.05, |i| if i < 97 { 40.0 } else { 52.0 });
            let points = found(&values);
            assert_eq!(points.len(), 1, "seed {seed}: {points:?}");
            assert!(points[0].index.abs_diff(97) <= 1, "seed {seed}: {points:?}");
            assert_eq!(
                found(&values[..99]),
                [],
                "seed {seed}: two runs are not enough"
            );
        }
    }

    #[test]
    fn a_single_outlier_is_no_change_point() {
        for seed in 1..=10 {
            for at in [0, 1, 2, 30, 59, 60, 117, 118, 119] {
                for factor in [3.0, 0.3] {
                    let mut values = series(seed, 120, 0.05, |_| 40.0);
                    values[at] *= factor;
                    assert_eq!(found(&values), [], "seed {seed}, outlier ×{factor} at {at}");
                }
            }
        }
    }

    #[test]
    fn constant_series_have_no_change_point() {
        for value in [0.0, 0.1, 1.0, 1e9] {
            assert_eq!(found(&[value; 200]), [], "{value}");
        }
        assert_eq!(found(&[]), []);
        assert_eq!(found(&[1.0, 2.0]), []);
    }

    #[test]
    fn a_count_moving_off_zero_is_a_certain_change() {
        let mut values = vec![0.0; 40];
        values.extend([2.0; 20]);
        let points = found(&values);
        assert_eq!(points.len(), 1, "{points:?}");
        assert_eq!(points[0].index, 40);
        assert!(points[0].p_value.abs() < f64::EPSILON);
        assert_eq!(points[0].relative_change, None);
    }

    #[test]
    fn missing_values_are_skipped_and_indexes_refer_to_the_input() {
        let mut values = series(5, 120, 0.05, |i| if i < 60 { 40.0 } else { 52.0 });
        for i in [10, 58, 59, 60, 61, 100] {
            values[i] = f64::NAN;
        }
        let points = found(&values);
        assert_eq!(points.len(), 1, "{points:?}");
        assert!((59..=63).contains(&points[0].index), "{points:?}");
        assert!(values[points[0].index].is_finite());
    }

    #[test]
    fn a_smaller_change_than_min_change_is_dropped_however_significant() {
        let values = series(11, 200, 0.005, |i| if i < 100 { 40.0 } else { 41.2 });
        assert_eq!(found(&values), [], "3 % is under the default 5 %");
        let settings = ChangePointSettings {
            min_change: 0.02,
            ..ChangePointSettings::default()
        };
        let points = detect(&values, &settings);
        assert_eq!(points.len(), 1, "{points:?}");
    }

    #[test]
    fn the_t_distribution_matches_known_values() {
        let close = |got: f64, want: f64| (got - want).abs() < 1e-6 * want.max(1e-3);
        assert!(close(student_t_two_sided(12.706_204_736, 1.0), 0.05));
        assert!(close(student_t_two_sided(2.0, 10.0), 0.073_388_034_770_6));
        assert!(close(student_t_two_sided(-2.0, 10.0), 0.073_388_034_770_6));
        assert!(close(student_t_two_sided(1.959_963_985, 1e7), 0.05));
        assert!((student_t_two_sided(4.0, 30.0) - 3.818_456e-4).abs() < 1e-9);
        assert!((student_t_two_sided(3.0, 5.0) - 0.030_099_248).abs() < 1e-8);
        assert!((student_t_two_sided(0.0, 5.0) - 1.0).abs() < 1e-12);
        assert!(student_t_two_sided(50.0, 100.0) < 1e-60);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
        assert!((ln_gamma(10.0) - 362_880_f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn the_split_maximises_the_e_divisive_statistic() {
        let values = [1.0, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0];
        let mut prefix = vec![0.0];
        for v in values {
            prefix.push(prefix.last().unwrap() + v);
        }
        assert_eq!(best_split(&prefix, 0, values.len(), 2), Some(4));
        assert_eq!(best_split(&prefix, 0, 3, 2), None);
    }
}
