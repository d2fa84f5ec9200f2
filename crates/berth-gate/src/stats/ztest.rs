//! Two-sample z-test for a difference in means.

use super::special::normal_sf;
use super::sum::pairwise_sum;
use super::{StatsError, check_finite};

/// Result of [`ztest_two_sample`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZTestResult {
    /// `(mean(a) - mean(b)) / sqrt(var(a)/n_a + var(b)/n_b)`.
    pub statistic: f64,
    /// Two-sided p-value `2 P(Z >= |z|)`.
    pub pvalue: f64,
}

/// Large-sample z-test of equal means with unpooled (Welch-style) variances:
/// `z = (mean(a) - mean(b)) / sqrt(s_a²/n_a + s_b²/n_b)` with sample variances
/// (`ddof = 1`), and `p = 2 norm.sf(|z|)`. Means and variances are summed in
/// NumPy's order, so the result equals the NumPy/SciPy expression.
///
/// Errors: [`StatsError::EmptySample`], [`StatsError::NonFinite`],
/// [`StatsError::TooFewValues`] for a sample of one value, and
/// [`StatsError::ZeroVariance`] when both samples are constant.
pub fn ztest_two_sample(a: &[f64], b: &[f64]) -> Result<ZTestResult, StatsError> {
    check_finite("first sample", a)?;
    check_finite("second sample", b)?;
    for (what, sample) in [("first sample", a), ("second sample", b)] {
        if sample.len() < 2 {
            return Err(StatsError::TooFewValues { what, needed: 2, got: sample.len() });
        }
    }
    let (mean_a, var_a) = mean_and_variance(a);
    let (mean_b, var_b) = mean_and_variance(b);
    let standard_error = (var_a / a.len() as f64 + var_b / b.len() as f64).sqrt();
    if standard_error == 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    let statistic = (mean_a - mean_b) / standard_error;
    Ok(ZTestResult { statistic, pvalue: (2.0 * normal_sf(statistic.abs())).min(1.0) })
}

/// `numpy.mean(x)` and `numpy.var(x, ddof=1)`.
fn mean_and_variance(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = pairwise_sum(x) / n;
    let squares: Vec<f64> = x.iter().map(|v| (v - mean) * (v - mean)).collect();
    (mean, pairwise_sum(&squares) / (n - 1.0))
}
