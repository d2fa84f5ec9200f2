//! Histogram gradient boosting, as scikit-learn's `HistGradientBoosting*`
//! and LightGBM do it: features cut into at most 255 bins (plus one for
//! missing values), trees grown best first on gradient/hessian histograms,
//! missing values sent to the side that lowers the loss, categorical
//! features split on sets of categories, and optional early stopping on a
//! held-out share of the training rows. The result depends only on the data,
//! the parameters and the seed, never on the thread count.

mod bins;
mod grow;
mod loss;
mod tree;

use berth_data::Rng;

use crate::Encoded;
pub(crate) use bins::MAX_BINS;
pub(crate) use loss::{Loss, sigmoid};
pub use tree::HistTree;

/// How the model is boosted; every value is already checked.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub max_iter: usize,
    pub learning_rate: f64,
    /// `usize::MAX` for no limit.
    pub max_leaf_nodes: usize,
    /// `usize::MAX` for no limit.
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    pub l2_regularization: f64,
    pub max_bins: usize,
    pub early_stopping: bool,
    pub validation_fraction: f64,
    pub n_iter_no_change: usize,
    pub tol: f64,
    pub seed: u64,
    /// The rows are in time order: early stopping holds out the latest
    /// ones rather than a shuffled share.
    pub in_time_order: bool,
    /// Workers for histogram building; the result does not depend on it.
    pub threads: usize,
    /// Histograms of at least this many cells (rows × features) are built
    /// by all the workers; below it, thread start-up costs more than it saves.
    pub parallel_cells: usize,
}

/// The usual [`Params::parallel_cells`].
pub(crate) const PARALLEL_CELLS: usize = 100_000;

/// A boosted model: raw scores start at `baseline` and add one tree per
/// value (class) per iteration.
#[derive(Debug, Clone)]
pub(crate) struct Fitted {
    pub baseline: Vec<f64>,
    pub rounds: Vec<Vec<HistTree>>,
}

/// The raw scores of `rounds` for one row.
pub(crate) fn raw_scores(baseline: &[f64], rounds: &[Vec<HistTree>], row: &[f64]) -> Vec<f64> {
    let mut z = baseline.to_vec();
    for round in rounds {
        z.iter_mut().zip(round).for_each(|(v, t)| *v += t.predict(row));
    }
    z
}

/// The listed rows of `x`.
fn take(x: &Encoded, rows: &[usize]) -> Encoded {
    let mut data = Vec::with_capacity(rows.len() * x.cols);
    rows.iter().for_each(|&i| data.extend_from_slice(x.row(i)));
    Encoded { rows: rows.len(), cols: x.cols, data }
}

/// Splits 0..y.len() into (train, validation) with a seeded shuffle; for a
/// classification loss each class is split in the same proportion.
fn holdout(y: &[f64], fraction: f64, classify: bool, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Rng::new(seed ^ 0x4849_5354_4742_4d00);
    let groups: Vec<Vec<usize>> = if classify {
        let k = y.iter().map(|c| *c as usize + 1).max().unwrap_or(0);
        let mut g = vec![Vec::new(); k];
        y.iter().enumerate().for_each(|(i, c)| g[*c as usize].push(i));
        g
    } else {
        vec![(0..y.len()).collect()]
    };
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for mut g in groups {
        rng.shuffle(&mut g);
        let n_val = (g.len() as f64 * fraction).round() as usize;
        val.extend_from_slice(&g[..n_val]);
        train.extend_from_slice(&g[n_val..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

/// Whether the last `n` scores all failed to beat the one before them by
/// more than `tol` (higher scores are better).
fn should_stop(scores: &[f64], n: usize, tol: f64) -> bool {
    if scores.len() <= n {
        return false;
    }
    let reference = scores[scores.len() - n - 1] + tol;
    !scores[scores.len() - n..].iter().any(|s| *s > reference)
}

/// Boosts `loss` on `x` and `y` (class indices as numbers for the
/// classification losses). `levels[f]` is `Some(n)` when feature f is
/// categorical with codes 0..n. Returns the model and its iteration count.
pub(crate) fn fit(x: &Encoded, y: &[f64], levels: &[Option<usize>], loss: Loss, p: &Params) -> Fitted {
    let classify = loss.classifies();
    // Early stopping needs rows on both sides of its split.
    let n_val = (x.rows as f64 * p.validation_fraction).round() as usize;
    let split = p.early_stopping && n_val >= 1 && x.rows - n_val.min(x.rows) >= 2;
    let (train_rows, val_rows) = match (split, p.in_time_order) {
        (false, _) => ((0..x.rows).collect(), Vec::new()),
        (true, true) => ((0..x.rows - n_val).collect(), (x.rows - n_val..x.rows).collect()),
        (true, false) => holdout(y, p.validation_fraction, classify, p.seed),
    };
    let owned;
    let (xt, yt): (&Encoded, Vec<f64>) = if split {
        owned = take(x, &train_rows);
        (&owned, train_rows.iter().map(|&i| y[i]).collect())
    } else {
        (x, y.to_vec())
    };
    let (xv, yv) = (take(x, &val_rows), val_rows.iter().map(|&i| y[i]).collect::<Vec<f64>>());
    let feature_bins = bins::fit(xt, levels, p.max_bins);
    let binned = bins::Binned::new(xt, &feature_bins);
    let grow_params = grow::GrowParams {
        max_leaf_nodes: p.max_leaf_nodes,
        max_depth: p.max_depth,
        min_samples_leaf: p.min_samples_leaf,
        l2: p.l2_regularization,
        shrinkage: p.learning_rate,
        parallel_cells: p.parallel_cells,
    };
    let mut grower = grow::Grower::new(&binned, &feature_bins, grow_params, p.threads);
    let (n, w) = (xt.rows, loss.width());
    let baseline = loss.baseline(&yt);
    let mut raw: Vec<f64> = (0..n).flat_map(|_| baseline.iter().copied()).collect();
    let mut raw_val: Vec<f64> = (0..xv.rows).flat_map(|_| baseline.iter().copied()).collect();
    let (mut grad, mut hess) = (vec![0.0; n * w], vec![0.0; n * w]);
    let (mut g, mut h) = (vec![0.0; n], vec![0.0; n]);
    let mut scores = vec![-loss.mean(&yv, &raw_val)];
    let mut rounds = Vec::with_capacity(p.max_iter);
    for _ in 0..p.max_iter {
        loss.gradients(&yt, &raw, &mut grad, &mut hess);
        let mut round = Vec::with_capacity(w);
        for c in 0..w {
            for i in 0..n {
                g[i] = grad[i * w + c];
                h[i] = hess[i * w + c];
            }
            let mut grown = grower.grow(&g, &h);
            if loss.leaf_medians() {
                // As scikit-learn: a leaf's value is the median of its rows'
                // residuals, times the learning rate.
                let mut residuals = Vec::new();
                for leaf in &mut grown.leaves {
                    residuals.clear();
                    residuals.extend(grower.rows(leaf.0, leaf.1).iter().map(|&r| yt[r as usize] - raw[r as usize]));
                    leaf.2 = p.learning_rate * loss::median(&mut residuals);
                    grown.tree.set_leaf_value(leaf.3, leaf.2);
                }
            }
            for &(start, end, v, _) in &grown.leaves {
                grower.rows(start, end).iter().for_each(|&r| raw[r as usize * w + c] += v);
            }
            for i in 0..xv.rows {
                raw_val[i * w + c] += grown.tree.predict(xv.row(i));
            }
            round.push(grown.tree);
        }
        rounds.push(round);
        if split {
            scores.push(-loss.mean(&yv, &raw_val));
            if should_stop(&scores, p.n_iter_no_change, p.tol) {
                break;
            }
        }
    }
    Fitted { baseline, rounds }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params {
            max_iter: 30,
            learning_rate: 0.1,
            max_leaf_nodes: 31,
            max_depth: usize::MAX,
            min_samples_leaf: 20,
            l2_regularization: 0.0,
            max_bins: 255,
            early_stopping: false,
            validation_fraction: 0.1,
            in_time_order: false,
            n_iter_no_change: 10,
            tol: 1e-7,
            seed: 1,
            threads: 1,
            parallel_cells: PARALLEL_CELLS,
        }
    }

    /// y = 1 when x0 > 0 or x1 is missing; x2 is a category (code 2 flips it).
    fn data(n: usize) -> (Encoded, Vec<f64>) {
        let mut rng = Rng::new(9);
        let mut data = Vec::with_capacity(n * 3);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let x0 = rng.uniform() * 2.0 - 1.0;
            let x1 = if rng.uniform() < 0.2 { f64::NAN } else { rng.uniform() };
            let x2 = rng.below(4) as f64;
            let label = (x0 > 0.0 || x1.is_nan()) != (x2 == 2.0);
            data.extend_from_slice(&[x0, x1, x2]);
            y.push(f64::from(u8::from(label)));
        }
        (Encoded { rows: n, cols: 3, data }, y)
    }

    #[test]
    fn learns_thresholds_missing_values_and_categories() {
        let (x, y) = data(4000);
        let m = fit(&x, &y, &[None, None, Some(4)], Loss::Binary, &params());
        let correct =
            (0..x.rows).filter(|&i| (raw_scores(&m.baseline, &m.rounds, x.row(i))[0] > 0.0) == (y[i] == 1.0)).count();
        assert!(correct as f64 / x.rows as f64 > 0.99, "{correct}");
    }

    #[test]
    fn the_same_seed_gives_the_same_trees_whatever_the_thread_count() {
        let (x, y) = data(12_000);
        let p = Params { early_stopping: true, max_iter: 15, ..params() };
        let one = fit(&x, &y, &[None, None, Some(4)], Loss::Binary, &p);
        // Every histogram built by two workers.
        let two = fit(&x, &y, &[None, None, Some(4)], Loss::Binary, &Params { threads: 2, parallel_cells: 0, ..p });
        assert_eq!(one.rounds, two.rounds);
        assert_eq!(one.baseline, two.baseline);
    }

    #[test]
    fn early_stopping_stops_when_the_validation_loss_stalls() {
        assert!(!should_stop(&[1.0, 2.0, 3.0], 2, 0.0));
        assert!(should_stop(&[1.0, 2.0, 2.0, 2.0], 2, 0.0));
        assert!(!should_stop(&[1.0, 2.0, 2.0, 2.5], 2, 0.0));
        let (x, y) = data(5000);
        let p = Params { early_stopping: true, max_iter: 500, ..params() };
        let m = fit(&x, &y, &[None, None, Some(4)], Loss::Binary, &p);
        assert!(m.rounds.len() < 500, "{}", m.rounds.len());
    }
}
