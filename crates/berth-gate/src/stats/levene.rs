//! Levene's test of equal variances, centred on the median (the
//! Brown–Forsythe test), as `scipy.stats.levene(*samples)` with its default
//! `center='median'`.
//!
//! Why this test for a change of spread, and not the F-test of two sample
//! variances: the F-test assumes normal data and its false-positive rate is
//! far from α when the data are skewed or heavy-tailed — which drift data
//! often are (prices, counts, durations). Centring on the median makes the
//! test hold its level on such data at a small cost of power on normal data
//! (Brown and Forsythe, 1974), so a drifted-spread verdict means the spread
//! moved, not that the column was never normal.

use super::special::f_sf;
use super::sum::pairwise_sum;
use super::{StatsError, check_finite, sorted_copy};

/// Result of [`levene`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeveneResult {
    /// `W = (N - k) Σ n_i (Z̄_i - Z̄)² / ((k - 1) Σ Σ (Z_ij - Z̄_i)²)` with
    /// `Z_ij = |x_ij - median_i|`.
    pub statistic: f64,
    /// `P(F(k - 1, N - k) > W)`.
    pub pvalue: f64,
}

/// Levene's test with the median as the centre on two or more samples,
/// equal to `scipy.stats.levene(*samples)`.
///
/// It is a one-way analysis of variance on the absolute deviations from each
/// sample's median: samples whose values lie further from their centre have
/// larger deviations. Where SciPy returns NaN (every deviation equal to its
/// sample's mean deviation and the means equal too — e.g. constant
/// samples), this returns statistic 0 and p-value 1: the spreads are
/// identical.
///
/// Errors: [`StatsError::TooFewValues`] for fewer than two samples or too
/// few values in all (the F distribution needs `N > k`),
/// [`StatsError::EmptySample`] and [`StatsError::NonFinite`].
pub fn levene(samples: &[&[f64]]) -> Result<LeveneResult, StatsError> {
    check_samples(samples)?;
    let sorted: Vec<Vec<f64>> = samples.iter().map(|s| sorted_copy(s)).collect();
    let medians: Vec<f64> = sorted.iter().map(|s| median_sorted(s)).collect();
    Ok(centred(samples, &medians))
}

/// [`levene`] on samples already sorted ascending (the drift check has
/// them sorted), which saves finding each median.
pub fn levene_sorted(samples: &[&[f64]]) -> Result<LeveneResult, StatsError> {
    check_samples(samples)?;
    let medians: Vec<f64> = samples.iter().map(|s| median_sorted(s)).collect();
    Ok(centred(samples, &medians))
}

fn check_samples(samples: &[&[f64]]) -> Result<(), StatsError> {
    if samples.len() < 2 {
        return Err(StatsError::TooFewValues { what: "Levene's test (samples)", needed: 2, got: samples.len() });
    }
    for s in samples {
        check_finite("sample", s)?;
    }
    let total: usize = samples.iter().map(|s| s.len()).sum();
    if total <= samples.len() {
        return Err(StatsError::TooFewValues {
            what: "Levene's test (values in all samples)",
            needed: samples.len() + 1,
            got: total,
        });
    }
    Ok(())
}

/// `numpy.median` of a sorted, non-empty slice.
fn median_sorted(s: &[f64]) -> f64 {
    let m = s.len() / 2;
    if s.len() % 2 == 1 { s[m] } else { (s[m - 1] + s[m]) / 2.0 }
}

/// The statistic and p-value once the centres are known, summed in SciPy's
/// order (NumPy's pairwise sums within a sample, left to right across).
fn centred(samples: &[&[f64]], centres: &[f64]) -> LeveneResult {
    let k = samples.len() as f64;
    let sizes: Vec<f64> = samples.iter().map(|s| s.len() as f64).collect();
    let total: f64 = sizes.iter().sum();
    let deviations: Vec<Vec<f64>> =
        samples.iter().zip(centres).map(|(s, c)| s.iter().map(|x| (x - c).abs()).collect()).collect();
    let means: Vec<f64> = deviations.iter().zip(&sizes).map(|(z, n)| pairwise_sum(z) / n).collect();
    let grand = means.iter().zip(&sizes).fold(0.0, |acc, (m, n)| acc + m * n) / total;
    let between: f64 = means.iter().zip(&sizes).map(|(m, n)| n * (m - grand).powi(2)).sum();
    let numerator = (total - k) * between;
    let within = deviations.iter().zip(&means).fold(0.0, |acc, (z, m)| {
        let squares: Vec<f64> = z.iter().map(|v| (v - m).powi(2)).collect();
        acc + pairwise_sum(&squares)
    });
    let denominator = (k - 1.0) * within;
    if denominator == 0.0 && numerator == 0.0 {
        return LeveneResult { statistic: 0.0, pvalue: 1.0 };
    }
    let statistic = numerator / denominator;
    LeveneResult { statistic, pvalue: f_sf(statistic, k - 1.0, total - k) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wider_sample_is_found_and_equal_spreads_are_not() {
        let narrow: Vec<f64> = (0..200).map(|i| f64::from(i % 20) - 9.5).collect();
        let wide: Vec<f64> = narrow.iter().map(|x| x * 1.5).collect();
        let shifted: Vec<f64> = narrow.iter().map(|x| x + 100.0).collect();
        assert!(levene(&[&narrow, &wide]).unwrap().pvalue < 1e-6);
        let same = levene(&[&narrow, &shifted]).unwrap();
        assert_eq!(same.statistic, 0.0);
        assert!((same.pvalue - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sorted_and_unsorted_inputs_agree() {
        let a = [3.0, -1.0, 4.0, 1.5, -5.0, 9.0, 2.0];
        let b = [0.5, 0.25, -0.75, 1.0, 0.0];
        let (mut sa, mut sb) = (a.to_vec(), b.to_vec());
        sa.sort_by(f64::total_cmp);
        sb.sort_by(f64::total_cmp);
        // Equal up to the order of summation.
        let (x, y) = (levene(&[&a, &b]).unwrap(), levene_sorted(&[&sa, &sb]).unwrap());
        assert!((x.statistic / y.statistic - 1.0).abs() < 1e-14 && (x.pvalue / y.pvalue - 1.0).abs() < 1e-14);
    }

    #[test]
    fn constant_samples_have_equal_spread_and_bad_input_is_refused() {
        assert_eq!(levene(&[&[2.0, 2.0, 2.0], &[5.0, 5.0]]).unwrap(), LeveneResult { statistic: 0.0, pvalue: 1.0 });
        assert!(matches!(levene(&[&[1.0, 2.0]]), Err(StatsError::TooFewValues { .. })));
        assert!(matches!(levene(&[&[1.0], &[2.0]]), Err(StatsError::TooFewValues { .. })));
        assert!(matches!(levene(&[&[1.0, f64::NAN], &[2.0, 3.0]]), Err(StatsError::NonFinite { .. })));
        assert!(matches!(levene(&[&[], &[2.0, 3.0]]), Err(StatsError::EmptySample { .. })));
    }
}
