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
//! * [`ztest_two_sample`] and [`normal_sf`].
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
mod smirnov;
mod special;
mod sum;
mod ztest;

pub use chi2::{Chi2Result, chi2_contingency};
pub use correction::{benjamini_hochberg, holm};
pub use distance::{PSI_EPSILON, jensenshannon, psi, wasserstein_distance};
pub use kolmogorov::kstwo_sf;
pub use ks::{KsResult, ks_2samp};
pub use smirnov::smirnov;
pub use special::{chi2_sf, erfc, gamma_q, ln_gamma, normal_sf};
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
    sorted.sort_unstable_by(f64::total_cmp);
    sorted
}
