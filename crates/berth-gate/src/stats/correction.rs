//! Multiple-testing corrections: adjusted p-values for a family of tests.

use super::StatsError;

/// Holm's (1979) step-down adjusted p-values, equal to statsmodels'
/// `multipletests(p, method='holm')[1]`: sort ascending, multiply the i-th
/// smallest (0-based) by `m - i`, take the running maximum, cap at 1, and
/// return in the input order.
///
/// Errors: [`StatsError::EmptySample`], [`StatsError::NonFinite`] for NaN,
/// [`StatsError::OutOfRange`] for a value outside [0, 1].
pub fn holm(pvalues: &[f64]) -> Result<Vec<f64>, StatsError> {
    let order = ascending_order(pvalues)?;
    let m = pvalues.len();
    let mut adjusted = vec![0.0; m];
    let mut running_max = f64::NEG_INFINITY;
    for (rank, &index) in order.iter().enumerate() {
        running_max = running_max.max(pvalues[index] * (m - rank) as f64);
        adjusted[index] = running_max.min(1.0);
    }
    Ok(adjusted)
}

/// Benjamini & Hochberg (1995) false-discovery-rate adjusted p-values, equal to
/// `scipy.stats.false_discovery_control(p, method='bh')`: the i-th smallest
/// (1-based) is multiplied by `m / i`, then a running minimum is taken from the
/// largest down, and the result is clipped to [0, 1].
///
/// Errors: as [`holm`].
pub fn benjamini_hochberg(pvalues: &[f64]) -> Result<Vec<f64>, StatsError> {
    let order = ascending_order(pvalues)?;
    let m = pvalues.len();
    let mut adjusted = vec![0.0; m];
    let mut running_min = f64::INFINITY;
    for (rank, &index) in order.iter().enumerate().rev() {
        let factor = m as f64 / (rank + 1) as f64;
        running_min = running_min.min(pvalues[index] * factor);
        adjusted[index] = running_min.clamp(0.0, 1.0);
    }
    Ok(adjusted)
}

/// Indices of `pvalues` in ascending order of value, after validation.
fn ascending_order(pvalues: &[f64]) -> Result<Vec<usize>, StatsError> {
    let what = "p-values";
    if pvalues.is_empty() {
        return Err(StatsError::EmptySample { what });
    }
    for (index, p) in pvalues.iter().enumerate() {
        if p.is_nan() {
            return Err(StatsError::NonFinite { what, index });
        }
        if !(0.0..=1.0).contains(p) {
            return Err(StatsError::OutOfRange { what, index, value: *p });
        }
    }
    let mut order: Vec<usize> = (0..pvalues.len()).collect();
    order.sort_by(|a, b| pvalues[*a].total_cmp(&pvalues[*b]));
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_docstring_example() {
        let adjusted = benjamini_hochberg(&[0.5, 0.6, 0.1, 0.001]).unwrap();
        let want = [0.6, 0.6, 0.2, 0.004];
        for (got, want) in adjusted.iter().zip(want) {
            assert!((got - want).abs() < 1e-15);
        }
    }

    #[test]
    fn holm_small_family() {
        assert_eq!(holm(&[0.01, 0.04, 0.03]).unwrap(), vec![0.03, 0.06, 0.06]);
        assert!(matches!(holm(&[1.5]), Err(StatsError::OutOfRange { .. })));
        assert!(matches!(holm(&[]), Err(StatsError::EmptySample { .. })));
    }
}
