//! Distances between two distributions: Wasserstein-1 on raw samples,
//! Jensen–Shannon and the population stability index on binned proportions.

use super::sum::pairwise_sum;
use super::{StatsError, check_finite, check_non_negative, sorted_copy};

/// Proportion substituted for an empty bin in [`psi`], so its logarithm is finite.
pub const PSI_EPSILON: f64 = 1e-4;

/// First Wasserstein (earth mover's) distance between the empirical
/// distributions of two samples, `∫ |F_u(x) - F_v(x)| dx`, equal to
/// `scipy.stats.wasserstein_distance(u, v)` (unweighted).
///
/// The distance is in the units of the data; the drift check makes it
/// scale-free by dividing by the reference sample's standard deviation.
///
/// Errors: [`StatsError::EmptySample`], or [`StatsError::NonFinite`] for NaN or
/// infinite values.
pub fn wasserstein_distance(u: &[f64], v: &[f64]) -> Result<f64, StatsError> {
    check_finite("first sample", u)?;
    check_finite("second sample", v)?;
    let (u, v) = (sorted_copy(u), sorted_copy(v));
    Ok(wasserstein_sorted(&u, &v))
}

/// [`wasserstein_distance`] on non-empty, finite samples already sorted
/// ascending with `-0.0` folded into `0.0`: the pooled values come from a
/// merge, not another sort.
pub fn wasserstein_sorted(u: &[f64], v: &[f64]) -> f64 {
    let (nu, nv) = (u.len() as f64, v.len() as f64);
    // Walks the pooled values in order (a merge of the two) without
    // materialising them; `i` and `j` count the values of each sample at or
    // below the current pooled value, as `searchsorted(side='right')`.
    let (mut a, mut b) = (0, 0);
    let mut next = || {
        if a < u.len() && (b >= v.len() || u[a] <= v[b]) {
            a += 1;
            u[a - 1]
        } else {
            b += 1;
            v[b - 1]
        }
    };
    let total = u.len() + v.len();
    let mut terms = Vec::with_capacity(total.saturating_sub(1));
    let (mut i, mut j) = (0, 0);
    let mut value = next();
    for _ in 1..total {
        let following = next();
        while i < u.len() && u[i] <= value {
            i += 1;
        }
        while j < v.len() && v[j] <= value {
            j += 1;
        }
        terms.push((i as f64 / nu - j as f64 / nv).abs() * (following - value));
        value = following;
    }
    pairwise_sum(&terms)
}

/// Jensen–Shannon distance between two probability vectors (natural
/// logarithm), equal to `scipy.spatial.distance.jensenshannon(p, q)`: both are
/// normalised to sum to 1, `m = (p + q) / 2`, and the result is
/// `sqrt((KL(p‖m) + KL(q‖m)) / 2)`, between 0 and `sqrt(ln 2)`.
///
/// Where rounding makes the divergence of two nearly equal vectors a hair
/// below zero SciPy returns NaN; this function returns 0.
///
/// Errors: [`StatsError::EmptySample`], [`StatsError::LengthMismatch`],
/// [`StatsError::NonFinite`], [`StatsError::OutOfRange`] for a negative entry,
/// [`StatsError::ZeroSum`] for an all-zero vector.
pub fn jensenshannon(p: &[f64], q: &[f64]) -> Result<f64, StatsError> {
    check_pair("Jensen-Shannon", p, q)?;
    let p = normalised("first distribution", p)?;
    let q = normalised("second distribution", q)?;
    let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect();
    let left: Vec<f64> = p.iter().zip(&m).map(|(a, b)| rel_entr(*a, *b)).collect();
    let right: Vec<f64> = q.iter().zip(&m).map(|(a, b)| rel_entr(*a, *b)).collect();
    let divergence = pairwise_sum(&left) + pairwise_sum(&right);
    Ok((divergence / 2.0).max(0.0).sqrt())
}

/// `x ln(x / y)`, 0 when `x == 0` (SciPy's `rel_entr` on non-negative input).
fn rel_entr(x: f64, y: f64) -> f64 {
    if x > 0.0 && y > 0.0 {
        x * (x / y).ln()
    } else if x == 0.0 {
        0.0
    } else {
        f64::INFINITY
    }
}

fn normalised(what: &'static str, values: &[f64]) -> Result<Vec<f64>, StatsError> {
    let total = pairwise_sum(values);
    if total <= 0.0 {
        return Err(StatsError::ZeroSum { what });
    }
    Ok(values.iter().map(|v| v / total).collect())
}

/// Population stability index between two binned distributions given as
/// proportions per bin (same bins, same order):
/// `Σ (a_i - e_i) ln(a_i / e_i)`.
///
/// A zero proportion on either side is replaced by [`PSI_EPSILON`] (1e-4)
/// before the sum, so empty bins contribute a large but finite amount. The
/// inputs are used as given, not renormalised.
///
/// Errors: [`StatsError::EmptySample`], [`StatsError::LengthMismatch`],
/// [`StatsError::NonFinite`], [`StatsError::OutOfRange`] for a negative
/// proportion.
pub fn psi(expected: &[f64], actual: &[f64]) -> Result<f64, StatsError> {
    check_pair("PSI", expected, actual)?;
    let floor = |x: f64| if x == 0.0 { PSI_EPSILON } else { x };
    let terms: Vec<f64> = expected
        .iter()
        .zip(actual)
        .map(|(e, a)| {
            let (e, a) = (floor(*e), floor(*a));
            (a - e) * (a / e).ln()
        })
        .collect();
    Ok(pairwise_sum(&terms))
}

fn check_pair(what: &'static str, left: &[f64], right: &[f64]) -> Result<(), StatsError> {
    check_non_negative(what, left)?;
    check_non_negative(what, right)?;
    if left.len() != right.len() {
        return Err(StatsError::LengthMismatch { what, left: left.len(), right: right.len() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_inputs_are_at_distance_zero() {
        assert_eq!(wasserstein_distance(&[1.0, 2.0], &[2.0, 1.0]).unwrap(), 0.0);
        assert_eq!(jensenshannon(&[0.2, 0.8], &[2.0, 8.0]).unwrap(), 0.0);
        assert_eq!(psi(&[0.5, 0.5], &[0.5, 0.5]).unwrap(), 0.0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(matches!(wasserstein_distance(&[], &[1.0]), Err(StatsError::EmptySample { .. })));
        assert!(matches!(jensenshannon(&[0.0, 0.0], &[1.0, 0.0]), Err(StatsError::ZeroSum { .. })));
        assert!(matches!(psi(&[0.5], &[0.5, 0.5]), Err(StatsError::LengthMismatch { .. })));
        assert!(matches!(psi(&[-0.5], &[0.5]), Err(StatsError::OutOfRange { .. })));
    }
}
