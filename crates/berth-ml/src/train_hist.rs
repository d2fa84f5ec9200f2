//! The trainer's side of histogram gradient boosting: a config's checked
//! hyperparameters turned into the booster's parameters, and a regressor's
//! loss chosen by name with the target it needs.

use crate::algorithm::HistGradientBoostingParams;
use crate::features::FeatureEncoder;
use crate::hyperparameter::HistLoss;
use crate::{MlError, Result};

/// Histogram gradient boosting of `loss` on the natively encoded `x`;
/// `in_time_order` rows hold out their latest share for early stopping.
pub(crate) fn fit(
    x: &crate::Encoded,
    y: &[f64],
    encoder: &FeatureEncoder,
    loss: crate::hist::Loss,
    p: &HistGradientBoostingParams,
    seed: u64,
    in_time_order: bool,
) -> Result<crate::hist::Fitted> {
    let levels = encoder.category_levels();
    for (f, n) in encoder.features.iter().zip(&levels) {
        if let Some(n) = *n
            && n > p.max_bins
        {
            return Err(MlError::Invalid(format!(
                "column {:?} has {n} text levels; hist_gradient_boosting splits on at most max_bins = {} levels \
                 (255 at most): group rare levels together, or leave the column out of the features",
                f.name, p.max_bins
            )));
        }
    }
    let unlimited = |v: usize| if v == 0 { usize::MAX } else { v };
    let params = crate::hist::Params {
        max_iter: p.max_iter,
        learning_rate: p.learning_rate,
        max_leaf_nodes: unlimited(p.max_leaf_nodes),
        max_depth: unlimited(p.max_depth),
        min_samples_leaf: p.min_samples_leaf,
        l2_regularization: p.l2_regularization,
        max_bins: p.max_bins,
        early_stopping: p.early_stopping.applies(x.rows),
        validation_fraction: p.validation_fraction,
        n_iter_no_change: p.n_iter_no_change,
        tol: p.tol,
        seed,
        in_time_order,
        threads: berth_data::cores().min(HIST_THREADS),
        parallel_cells: crate::hist::PARALLEL_CELLS,
    };
    Ok(crate::hist::fit(x, y, &levels, loss, &params))
}

/// The boosting loss of a classifier of `k` classes: log loss, binary or
/// softmax; a regression loss is refused.
pub(crate) fn classification_loss(loss: HistLoss, k: usize) -> Result<crate::hist::Loss> {
    if !matches!(loss, HistLoss::Auto | HistLoss::LogLoss) {
        return Err(MlError::BadHyperparameter {
            name: "loss".into(),
            value: loss.as_str().into(),
            reason: "is a regression loss; a classifier minimises log_loss (write auto or log_loss)".into(),
        });
    }
    Ok(if k == 2 { crate::hist::Loss::Binary } else { crate::hist::Loss::Softmax { classes: k } })
}

/// The boosting loss a regressor's `loss` names; Poisson needs a target
/// that is never negative and not all zero (`y` holds `rows` of `target`).
pub(crate) fn regression_loss(loss: HistLoss, target: &str, y: &[f64], rows: &[usize]) -> Result<crate::hist::Loss> {
    use crate::hist::Loss;
    match loss {
        HistLoss::Auto | HistLoss::SquaredError => Ok(Loss::SquaredError),
        HistLoss::AbsoluteError => Ok(Loss::AbsoluteError),
        HistLoss::Poisson => {
            if let Some(k) = y.iter().position(|v| *v < 0.0) {
                return Err(MlError::Invalid(format!(
                    "loss = poisson needs a target that is never negative, and {target:?} is {} at row {}; \
                     use squared_error or absolute_error",
                    y[k], rows[k]
                )));
            }
            if y.iter().all(|v| *v == 0.0) {
                return Err(MlError::Invalid(format!(
                    "loss = poisson needs a target that is not all zero, and {target:?} is 0 in every training row"
                )));
            }
            Ok(Loss::Poisson)
        }
        HistLoss::LogLoss => Err(MlError::BadHyperparameter {
            name: "loss".into(),
            value: "log_loss".into(),
            reason: "is a classification loss; a regressor takes squared_error, absolute_error or poisson".into(),
        }),
    }
}

/// The most workers histogram gradient boosting uses.
const HIST_THREADS: usize = 8;
