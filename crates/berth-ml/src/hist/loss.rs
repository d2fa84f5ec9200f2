//! The losses histogram gradient boosting minimises: their baseline (the
//! best constant prediction), per-row gradients and hessians of the raw
//! prediction, and the mean loss early stopping watches. Raw predictions are
//! row-major with `width` values per row (one per class for more than two
//! classes, else one).

use serde::{Deserialize, Serialize};

/// A loss and what its raw prediction means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Half squared error; the raw prediction is the value.
    SquaredError,
    /// Absolute error; the raw prediction is the value. Leaves take the
    /// median of their rows' residuals (see [`Loss::leaf_medians`]).
    AbsoluteError,
    /// Half Poisson deviance; the raw prediction is the log of the value.
    Poisson,
    /// Binary log loss; the raw prediction is the log-odds of the second class.
    Binary,
    /// Multinomial log loss; raw predictions are softmax logits, one per class.
    Softmax { classes: usize },
}

impl Loss {
    /// Raw prediction values per row.
    pub fn width(self) -> usize {
        match self {
            Loss::Softmax { classes } => classes,
            Loss::SquaredError | Loss::AbsoluteError | Loss::Poisson | Loss::Binary => 1,
        }
    }

    /// The constant raw prediction that minimises the loss on `y` (class
    /// indices as numbers for the classification losses).
    pub fn baseline(self, y: &[f64]) -> Vec<f64> {
        let n = y.len().max(1) as f64;
        match self {
            Loss::SquaredError => vec![y.iter().sum::<f64>() / n],
            Loss::AbsoluteError => vec![median(&mut y.to_vec())],
            Loss::Poisson => vec![(y.iter().sum::<f64>() / n).max(f64::MIN_POSITIVE).ln()],
            Loss::Binary => {
                let p = (y.iter().sum::<f64>() / n).clamp(1e-12, 1.0 - 1e-12);
                vec![(p / (1.0 - p)).ln()]
            }
            Loss::Softmax { classes } => {
                let mut prior = vec![0.0; classes];
                y.iter().for_each(|c| prior[*c as usize] += 1.0 / n);
                let logs: Vec<f64> = prior.iter().map(|p| p.clamp(1e-12, 1.0).ln()).collect();
                let mean = logs.iter().sum::<f64>() / classes as f64;
                logs.iter().map(|l| l - mean).collect()
            }
        }
    }

    /// Fills `grad` and `hess` (row-major, `width` per row, like `raw`).
    pub fn gradients(self, y: &[f64], raw: &[f64], grad: &mut [f64], hess: &mut [f64]) {
        match self {
            Loss::SquaredError => {
                for i in 0..y.len() {
                    grad[i] = raw[i] - y[i];
                    hess[i] = 1.0;
                }
            }
            Loss::AbsoluteError => {
                for i in 0..y.len() {
                    grad[i] = if raw[i] > y[i] { 1.0 } else { -1.0 };
                    hess[i] = 1.0;
                }
            }
            Loss::Poisson => {
                for i in 0..y.len() {
                    let mu = raw[i].exp();
                    grad[i] = mu - y[i];
                    hess[i] = mu;
                }
            }
            Loss::Binary => {
                for i in 0..y.len() {
                    let p = sigmoid(raw[i]);
                    grad[i] = p - y[i];
                    hess[i] = p * (1.0 - p);
                }
            }
            Loss::Softmax { classes: k } => {
                let mut p = vec![0.0; k];
                for i in 0..y.len() {
                    p.copy_from_slice(&raw[i * k..(i + 1) * k]);
                    crate::model::softmax_in_place(&mut p);
                    for (c, pc) in p.iter().enumerate() {
                        let target = f64::from(u8::from(y[i] as usize == c));
                        grad[i * k + c] = pc - target;
                        hess[i * k + c] = pc * (1.0 - pc);
                    }
                }
            }
        }
    }

    /// The mean loss of `raw` on `y`.
    pub fn mean(self, y: &[f64], raw: &[f64]) -> f64 {
        let n = y.len().max(1) as f64;
        let total: f64 = match self {
            Loss::SquaredError => y.iter().zip(raw).map(|(a, b)| 0.5 * (a - b) * (a - b)).sum(),
            Loss::AbsoluteError => y.iter().zip(raw).map(|(a, b)| (a - b).abs()).sum(),
            // Up to a constant in y, which early stopping's differences ignore.
            Loss::Poisson => y.iter().zip(raw).map(|(yi, z)| z.exp() - yi * z).sum(),
            // log(1 + e^z) - y z, computed without overflow.
            Loss::Binary => y.iter().zip(raw).map(|(yi, z)| z.max(0.0) + (-z.abs()).exp().ln_1p() - yi * z).sum(),
            Loss::Softmax { classes: k } => y
                .iter()
                .enumerate()
                .map(|(i, yi)| {
                    let z = &raw[i * k..(i + 1) * k];
                    let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - z[*yi as usize]
                })
                .sum(),
        };
        total / n
    }

    /// Whether leaves take the median of their residuals rather than the
    /// Newton step (scikit-learn's rule for absolute error).
    pub fn leaf_medians(self) -> bool {
        self == Loss::AbsoluteError
    }

    /// Whether `y` holds class indices.
    pub fn classifies(self) -> bool {
        matches!(self, Loss::Binary | Loss::Softmax { .. })
    }
}

/// The median of `v` (the mean of the middle two for an even count), as
/// NumPy's; `v` is reordered.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { 0.5 * (v[m - 1] + v[m]) }
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_are_the_best_constants() {
        assert_eq!(Loss::SquaredError.baseline(&[1.0, 2.0, 6.0]), [3.0]);
        let b = Loss::Binary.baseline(&[0.0, 1.0, 1.0, 1.0]);
        assert!((sigmoid(b[0]) - 0.75).abs() < 1e-12);
        let mut s = Loss::Softmax { classes: 3 }.baseline(&[0.0, 1.0, 1.0, 2.0]);
        crate::model::softmax_in_place(&mut s);
        assert!((s[1] - 0.5).abs() < 1e-12 && (s[0] - 0.25).abs() < 1e-12);
    }

    #[test]
    fn absolute_error_and_poisson_start_from_the_median_and_the_log_mean() {
        assert_eq!(Loss::AbsoluteError.baseline(&[5.0, 1.0, 2.0, 9.0]), [3.5]);
        assert_eq!(Loss::Poisson.baseline(&[1.0, 3.0]), [2f64.ln()]);
        let (mut g, mut h) = (vec![0.0; 2], vec![0.0; 2]);
        Loss::Poisson.gradients(&[1.0, 4.0], &[0.0, 0.0], &mut g, &mut h);
        assert_eq!((g, h), (vec![0.0, -3.0], vec![1.0, 1.0]));
        let (mut g, mut h) = (vec![0.0; 2], vec![0.0; 2]);
        Loss::AbsoluteError.gradients(&[1.0, 4.0], &[2.0, 2.0], &mut g, &mut h);
        assert_eq!((g, h), (vec![1.0, -1.0], vec![1.0, 1.0]));
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn log_loss_gradients_are_p_minus_y() {
        let (mut g, mut h) = (vec![0.0; 2], vec![0.0; 2]);
        Loss::Binary.gradients(&[1.0, 0.0], &[0.0, 0.0], &mut g, &mut h);
        assert_eq!((g, h), (vec![-0.5, 0.5], vec![0.25, 0.25]));
        assert!((Loss::Binary.mean(&[1.0], &[0.0]) - 2f64.ln()).abs() < 1e-12);
    }
}
