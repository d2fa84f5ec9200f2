//! Two-sample Kolmogorov–Smirnov test, as `scipy.stats.ks_2samp(a, b)` with its
//! defaults (two-sided alternative, `method='auto'`).

use super::kolmogorov::kstwo_sf;
use super::{StatsError, sorted_copy};

/// Samples up to this size get the exact p-value (SciPy's `MAX_AUTO_N`).
const MAX_EXACT_N: usize = 10_000;

/// Result of [`ks_2samp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    /// `sup |F_a(x) - F_b(x)|` over the pooled sample.
    pub statistic: f64,
    /// Two-sided p-value.
    pub pvalue: f64,
}

/// Two-sample two-sided Kolmogorov–Smirnov test, equal to
/// `scipy.stats.ks_2samp(a, b)`.
///
/// The statistic is the largest gap between the two empirical CDFs evaluated
/// at every pooled value (ties handled as NumPy's `searchsorted(side='right')`
/// does). When both samples hold at most 10 000 values the p-value is exact:
/// Hodges (1957, "The significance probability of the Smirnov two-sample
/// test", Ark. Mat. 3) lattice-path counting, computing `1 - p` directly in the
/// numerically stable form of Viehmann (2021, arXiv:2102.08037), or the closed
/// alternating sum when the sizes are equal; the statistic is then rounded to
/// the lattice `h / lcm(n, m)` as SciPy does. If that computation fails, or for
/// larger samples, the p-value is `kstwo.sf(d, round(n m / (n + m)))`
/// ([`kstwo_sf`]).
///
/// Errors: [`StatsError::EmptySample`] for an empty sample,
/// [`StatsError::NonFinite`] for a NaN value (infinities are ordinary values).
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Result<KsResult, StatsError> {
    check_sample("first sample", a)?;
    check_sample("second sample", b)?;
    let (a, b) = (sorted_copy(a), sorted_copy(b));
    Ok(ks_2samp_sorted(&a, &b))
}

/// [`ks_2samp`] on samples already sorted ascending, NaN-free, with `-0.0`
/// folded into `0.0` (as [`super::sort_f64`] after adding `0.0`): no copies.
pub fn ks_2samp_sorted(a: &[f64], b: &[f64]) -> KsResult {
    let d = max_cdf_gap(a, b);
    let (n1, n2) = (a.len() as u64, b.len() as u64);
    if n1.max(n2) as usize <= MAX_EXACT_N {
        let exact = exact_pvalue(n1, n2, d);
        if exact.success {
            return KsResult { statistic: exact.d, pvalue: exact.p.clamp(0.0, 1.0) };
        }
        return KsResult { statistic: exact.d, pvalue: asymptotic_pvalue(n1, n2, exact.d) };
    }
    KsResult { statistic: d, pvalue: asymptotic_pvalue(n1, n2, d) }
}

fn check_sample(what: &'static str, values: &[f64]) -> Result<(), StatsError> {
    if values.is_empty() {
        return Err(StatsError::EmptySample { what });
    }
    match values.iter().position(|v| v.is_nan()) {
        Some(index) => Err(StatsError::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// `max(max(F_a - F_b), -min(F_a - F_b))` over all pooled values, with the
/// CDFs as `count / n` in floating point exactly as SciPy forms them.
fn max_cdf_gap(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0, 0);
    let (mut max_diff, mut min_diff) = (f64::NEG_INFINITY, f64::INFINITY);
    while i < a.len() || j < b.len() {
        let value = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        while i < a.len() && a[i] <= value {
            i += 1;
        }
        while j < b.len() && b[j] <= value {
            j += 1;
        }
        let diff = i as f64 / n1 - j as f64 / n2;
        max_diff = max_diff.max(diff);
        min_diff = min_diff.min(diff);
    }
    let min_s = (-min_diff).clamp(0.0, 1.0);
    if min_s > max_diff { min_s } else { max_diff }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Outcome of the exact computation (SciPy's `_attempt_exact_2kssamp`).
struct Exact {
    success: bool,
    /// Statistic rounded to the lattice `h / lcm`.
    d: f64,
    p: f64,
}

fn exact_pvalue(n1: u64, n2: u64, d: f64) -> Exact {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    let h = (d * lcm as f64).round_ties_even() as u64;
    let d = h as f64 / lcm as f64;
    if h == 0 {
        return Exact { success: true, d, p: 1.0 };
    }
    let p = if n1 == n2 { prob_outside_square(n1, h) } else { outer_prob_inside_method(n1, n2, g, h) };
    Exact { success: p.is_finite() && (0.0..=1.0).contains(&p), d, p }
}

/// `P(D_{n,n} >= h/n) = 2 Σ_k (-1)^(k-1) C(2n, n - k h) / C(2n, n)`, each ratio
/// built as a product and the alternating sum nested Horner-style to avoid
/// cancellation.
fn prob_outside_square(n: u64, h: u64) -> f64 {
    let (n, h) = (n as f64, h as i64);
    let mut total = 0.0;
    let mut k = (n / h as f64).floor() as i64;
    while k >= 0 {
        let kh = (k * h) as f64;
        let mut ratio = 1.0;
        for j in 0..h {
            let j = j as f64;
            ratio = (n - kh - j) * ratio / (n + kh + j + 1.0);
        }
        total = ratio * (1.0 - total);
        k -= 1;
    }
    2.0 * total
}

/// Proportion of lattice paths from (0, 0) to (m, n) that leave the band
/// `|x/m - y/n| < h / lcm(m, n)`, propagated column by column as `1 - p`
/// (Hodges 1957's inside method in Viehmann's 2021 form).
fn outer_prob_inside_method(n1: u64, n2: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if n1 >= n2 { (n1 as i64, n2 as i64) } else { (n2 as i64, n1 as i64) };
    let (g, h) = (g as i64, h as i64);
    let (mg, ng) = (m / g, n / g);
    let mut min_j: i64 = 0;
    let mut max_j = ceil_div(h, mg).min(n + 1);
    let mut current_len = max_j - min_j;
    let len = (2 * max_j + 2).min(n + 1) as usize;
    let mut column = vec![1.0f64; len];
    for v in column.iter_mut().take(max_j as usize) {
        *v = 0.0;
    }
    for i in 1..=m {
        let (last_min_j, last_len) = (min_j, current_len);
        min_j = (floor_div(ng * i - h, mg) + 1).max(0).min(n);
        max_j = ceil_div(ng * i + h, mg).min(n + 1);
        if max_j <= min_j {
            return 1.0;
        }
        let fi = i as f64;
        let mut value = if min_j == 0 { 0.0 } else { 1.0 };
        for jj in 0..(max_j - min_j) {
            let j = (jj + min_j) as f64;
            let previous = column.get((jj + min_j - last_min_j) as usize).copied().unwrap_or(1.0);
            value = (previous * fi + value * j) / (fi + j);
            if let Some(slot) = column.get_mut(jj as usize) {
                *slot = value;
            }
        }
        current_len = max_j - min_j;
        if last_len > current_len {
            let from = ((max_j - min_j) as usize).min(len);
            let to = ((max_j - min_j + last_len - current_len) as usize).min(len);
            column[from..to].iter_mut().for_each(|v| *v = 1.0);
        }
    }
    column.get((max_j - min_j - 1) as usize).copied().unwrap_or(f64::NAN)
}

fn floor_div(a: i64, b: i64) -> i64 {
    a.div_euclid(b)
}

fn ceil_div(a: i64, b: i64) -> i64 {
    -((-a).div_euclid(b))
}

/// `kstwo.sf(d, round(n1 n2 / (n1 + n2)))`.
fn asymptotic_pvalue(n1: u64, n2: u64, d: f64) -> f64 {
    let (m, n) = if n1 >= n2 { (n1 as f64, n2 as f64) } else { (n2 as f64, n1 as f64) };
    let en = m * n / (m + n);
    kstwo_sf(d, en.round_ties_even() as u64).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_have_zero_statistic() {
        let r = ks_2samp(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap();
        assert_eq!(r, KsResult { statistic: 0.0, pvalue: 1.0 });
    }

    #[test]
    fn rejects_empty_and_nan() {
        assert!(matches!(ks_2samp(&[], &[1.0]), Err(StatsError::EmptySample { .. })));
        assert!(matches!(ks_2samp(&[1.0], &[f64::NAN]), Err(StatsError::NonFinite { index: 0, .. })));
    }

    #[test]
    fn signed_zeros_tie() {
        let r = ks_2samp(&[-0.0], &[0.0]).unwrap();
        assert_eq!(r.statistic, 0.0);
    }
}
