//! The Mann-Whitney U test, two-sided: do two sets of block values come from the same
//! distribution? Exact for small samples without ties, normal approximation with tie correction
//! otherwise. Rank-based, so a few outlying blocks cannot dominate it.

/// Exact distribution is used while both samples are at most this large and there are no ties.
const EXACT_LIMIT: usize = 30;

/// Two-sided p-value of the Mann-Whitney U test of `a` against `b`; `None` when a side is empty.
#[must_use]
#[expect(
    clippy::many_single_char_names,
    reason = "the test's textbook notation: n, u, z"
)]
pub fn p_value(a: &[f64], b: &[f64]) -> Option<f64> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Average ranks over ties; collect tie sizes for the variance correction.
    let n = all.len();
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0;
    let mut ties = false;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && all[j].0.total_cmp(&all[i].0).is_eq() {
            j += 1;
        }
        let size = (j - i) as f64;
        if j - i > 1 {
            ties = true;
            tie_term += size * size * size - size;
        }
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum_a += all[i..j].iter().filter(|(_, in_a)| *in_a).count() as f64 * average_rank;
        i = j;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u = rank_sum_a - n1f * (n1f + 1.0) / 2.0;
    if !ties && n1 <= EXACT_LIMIT && n2 <= EXACT_LIMIT {
        return Some(exact(u, n1, n2));
    }
    let mean = n1f * n2f / 2.0;
    let nf = n as f64;
    let variance = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    if variance <= 0.0 {
        // Every value equal: no evidence of any difference.
        return Some(1.0);
    }
    // Continuity correction towards the mean.
    let z = ((u - mean).abs() - 0.5).max(0.0) / variance.sqrt();
    Some((2.0 * normal_upper_tail(z)).min(1.0))
}

/// Exact two-sided p-value: the share of all rank arrangements whose U is at least as far from
/// the mean as the observed one.
fn exact(u: f64, n1: usize, n2: usize) -> f64 {
    let max_u = n1 * n2;
    // counts[k][u]: ways to reach U = u with k values from the first sample, built value by value.
    let mut counts = vec![vec![0f64; max_u + 1]; n1 + 1];
    counts[0][0] = 1.0;
    for taken in 0..n1 + n2 {
        for k in (0..=n1.min(taken)).rev() {
            let from_second = taken - k;
            if k < n1 {
                // The next value (rank taken+1) goes to the first sample: it beats `from_second`
                // values of the second sample.
                for v in (0..=max_u.saturating_sub(from_second)).rev() {
                    let ways = counts[k][v];
                    if ways > 0.0 && from_second <= n2 {
                        counts[k + 1][v + from_second] += ways;
                    }
                }
            }
        }
        // Arrangements where the next value goes to the second sample keep (k, v): nothing to do.
    }
    let total: f64 = counts[n1].iter().sum();
    let mean = (n1 * n2) as f64 / 2.0;
    let distance = (u - mean).abs();
    let extreme: f64 = counts[n1]
        .iter()
        .enumerate()
        .filter(|(v, _)| ((*v as f64) - mean).abs() >= distance - 1e-9)
        .map(|(_, ways)| ways)
        .sum();
    (extreme / total).min(1.0)
}

/// P(Z > z) for a standard normal Z (Abramowitz–Stegun 7.1.26 via erfc; error below 1.5e-7).
fn normal_upper_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    0.5 * poly * (-x * x).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_separation_of_five_against_five_is_p_2_in_252() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let p = p_value(&a, &b).unwrap();
        assert!((p - 2.0 / 252.0).abs() < 1e-12, "{p}");
        assert!((p_value(&b, &a).unwrap() - p).abs() < 1e-12);
    }

    #[test]
    fn identical_samples_show_no_difference() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((p_value(&a, &a).unwrap() - 1.0).abs() < 1e-9);
        let flat = [1.0; 10];
        assert!((p_value(&flat, &flat).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn interleaved_samples_are_not_significant() {
        let a: Vec<f64> = (0..20).map(|i| f64::from(i * 2)).collect();
        let b: Vec<f64> = (0..20).map(|i| f64::from(i * 2 + 1)).collect();
        assert!(p_value(&a, &b).unwrap() > 0.5);
    }

    #[test]
    fn large_shifted_samples_are_significant_by_the_normal_approximation() {
        let a: Vec<f64> = (0..100).map(|i| f64::from(i % 17)).collect();
        let b: Vec<f64> = (0..100).map(|i| f64::from(i % 17) + 8.0).collect();
        let p = p_value(&a, &b).unwrap();
        assert!(p < 1e-6, "{p}");
    }

    #[test]
    fn the_normal_tail_matches_known_values() {
        assert!((normal_upper_tail(1.959_964) - 0.025).abs() < 1e-6);
        assert!((normal_upper_tail(0.0) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn an_empty_side_has_no_p_value() {
        assert_eq!(p_value(&[], &[1.0]), None);
    }
}
