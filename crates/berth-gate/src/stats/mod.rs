//! Statistical tests and distances used by the drift checks, equal to SciPy's.
//!
//! Every function here reproduces a named SciPy (or NumPy) computation to 1e-9
//! relative, p-values included; `tests/stats_match_scipy.rs` checks them against
//! the values `scripts/reference_stats.py` wrote with SciPy.
//!
//! * [`ks_2samp`]: two-sample Kolmogorov–Smirnov test (exact p-value for samples
//!   of at most 10 000 values, [`kstwo_sf`] otherwise), with [`smirnov`] exposed.
//! * [`chi2_contingency`]: Pearson's test of independence (Yates when dof = 1),
//!   with [`chi2_sf`].
//! * [`ztest_two_sample`] (a difference of means) and [`normal_sf`].
//! * [`levene`]: Levene's test of equal variances centred on the median
//!   (Brown–Forsythe, SciPy's default), with [`f_sf`] and [`beta_inc`].
//! * [`wasserstein_distance`], [`jensenshannon`] and [`psi`].
//! * [`holm`] and [`benjamini_hochberg`] adjusted p-values.
//!
//! Inputs are validated: empty samples and NaN values are errors
//! ([`StatsError`]), never panics.

mod chi2;
mod correction;
mod dd;
mod distance;
mod kolmogorov;
mod ks;
mod levene;
mod smirnov;
mod special;
mod sum;
mod ztest;

pub use chi2::{Chi2Result, chi2_contingency};
pub use correction::{benjamini_hochberg, holm};
pub use distance::{PSI_EPSILON, jensenshannon, psi, wasserstein_distance, wasserstein_sorted};
pub use kolmogorov::kstwo_sf;
pub use ks::{KsResult, ks_2samp, ks_2samp_sorted};
pub use levene::{LeveneResult, levene, levene_sorted};
pub use smirnov::smirnov;
pub use special::{beta_inc, chi2_sf, erfc, f_sf, gamma_q, ln_gamma, normal_sf};
pub use ztest::{ZTestResult, ztest_two_sample};

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A sample, table or vector has no values.
    #[error("{what} is empty")]
    EmptySample { what: &'static str },
    /// A value is NaN (or infinite where only finite values make sense).
    #[error("{what} contains a non-finite value at index {index}")]
    NonFinite { what: &'static str, index: usize },
    /// A count, proportion or probability is negative (or above 1 for a p-value).
    #[error("{what} has an out-of-range value {value} at index {index}")]
    OutOfRange { what: &'static str, index: usize, value: f64 },
    /// Two inputs that must pair up element by element differ in length.
    #[error("{what}: lengths differ ({left} vs {right})")]
    LengthMismatch { what: &'static str, left: usize, right: usize },
    /// A contingency table whose rows differ in length.
    #[error("contingency table row {row} has {got} columns, expected {expected}")]
    RaggedTable { row: usize, got: usize, expected: usize },
    /// A contingency table with an all-zero row or column: its expected
    /// frequency is zero and the chi-squared statistic is undefined.
    #[error(
        "the expected frequency of cell ({row}, {column}) is zero: drop all-zero rows and columns (categories) first"
    )]
    ZeroExpected { row: usize, column: usize },
    /// A sample too small for the statistic (e.g. a variance needs two values).
    #[error("{what} needs at least {needed} values, got {got}")]
    TooFewValues { what: &'static str, needed: usize, got: usize },
    /// Both samples are constant: the z statistic divides by zero.
    #[error("both samples have zero variance: the z statistic is undefined")]
    ZeroVariance,
    /// A probability vector sums to zero.
    #[error("{what} sums to zero")]
    ZeroSum { what: &'static str },
}

/// Fails on an empty slice or on the first NaN or infinite value.
fn check_finite(what: &'static str, values: &[f64]) -> Result<(), StatsError> {
    if values.is_empty() {
        return Err(StatsError::EmptySample { what });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// Fails on an empty slice, a non-finite value or a negative value.
fn check_non_negative(what: &'static str, values: &[f64]) -> Result<(), StatsError> {
    check_finite(what, values)?;
    match values.iter().position(|v| *v < 0.0) {
        Some(index) => Err(StatsError::OutOfRange { what, index, value: values[index] }),
        None => Ok(()),
    }
}

/// Sorted copy with `-0.0` folded into `0.0`, so that equal values compare equal
/// as they do in NumPy. The caller has already rejected NaN.
fn sorted_copy(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().map(|v| v + 0.0).collect();
    sort_f64(&mut sorted);
    sorted
}

/// Sorts NaN-free values ascending (as `total_cmp`, so `-0.0` before `0.0`).
/// Large slices take an LSD radix sort on the bits (six passes of 11 bits),
/// several times faster than a comparison sort at a million values.
pub fn sort_f64(values: &mut [f64]) {
    const SMALL: usize = 4096;
    if values.len() < SMALL {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    // Order-preserving map of f64 bits to u64: flip every bit of negatives,
    // only the sign bit of the rest.
    let key = |x: f64| {
        let b = x.to_bits();
        if b >> 63 == 1 { !b } else { b ^ (1 << 63) }
    };
    let unkey = |k: u64| f64::from_bits(if k >> 63 == 1 { k ^ (1 << 63) } else { !k });
    let mut a: Vec<u64> = values.iter().map(|x| key(*x)).collect();
    let mut b = vec![0u64; a.len()];
    // Every pass's digit counts, in one read.
    let mut histograms = vec![[0usize; 2048]; 6];
    for k in &a {
        for (pass, h) in histograms.iter_mut().enumerate() {
            h[((k >> (pass * 11)) & 2047) as usize] += 1;
        }
    }
    for (pass, counts) in histograms.iter_mut().enumerate() {
        let shift = pass * 11;
        // A pass where every key has the same digit changes nothing.
        if counts.contains(&a.len()) {
            continue;
        }
        let mut offset = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = offset;
            offset += n;
        }
        for k in &a {
            let d = ((k >> shift) & 2047) as usize;
            b[counts[d]] = *k;
            counts[d] += 1;
        }
        std::mem::swap(&mut a, &mut b);
    }
    for (v, k) in values.iter_mut().zip(a) {
        *v = unkey(k);
    }
}

#[cfg(test)]
mod sort_tests {
    #[test]
    fn the_radix_sort_orders_like_total_cmp() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut v: Vec<f64> = (0..20_000)
            .map(|i| match i % 7 {
                0 => f64::from_bits(next()),
                1 => -0.0,
                2 => 0.0,
                3 => f64::INFINITY,
                4 => f64::NEG_INFINITY,
                5 => f64::MIN_POSITIVE / 3.0,
                _ => (next() % 1000) as f64 - 500.0,
            })
            .filter(|v| !v.is_nan())
            .collect();
        let mut expected = v.clone();
        expected.sort_unstable_by(f64::total_cmp);
        super::sort_f64(&mut v);
        assert!(v.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
