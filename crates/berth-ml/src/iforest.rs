//! Isolation forest (Liu, Ting and Zhou, 2008), as scikit-learn runs it:
//! each tree isolates a random subsample of `max_samples` rows (256 by
//! default) with random splits up to depth ⌈log₂ ψ⌉; a row's score is
//! 2^(−E[h(x)] / c(ψ)), in (0, 1], higher for rows that are easier to isolate.
//! With `contamination = 0` rows scoring above 0.5 are anomalies (scikit-learn's
//! "auto"); otherwise the threshold is the training scores' (1 − contamination)
//! quantile.

use berth_data::Rng;

use crate::Encoded;
use crate::tree::{Grow, Tree};

pub(crate) struct Params {
    pub n_estimators: usize,
    pub max_samples: usize,
    pub seed: u64,
}

/// Expected path length of an unsuccessful search in a binary search tree of n nodes.
fn c(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

fn grow(x: &Encoded, rows: Vec<usize>, max_depth: usize, rng: &mut Rng) -> Tree {
    Tree::grow(1, rows, |rows, depth| {
        // Split on a feature that is not constant on these rows, if any.
        if depth < max_depth && rows.len() > 1 {
            let d = x.cols;
            let start = rng.below(d as u64) as usize;
            for k in 0..d {
                let f = (start + k) % d;
                let (lo, hi) = rows.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                    let v = x.row(i)[f];
                    (lo.min(v), hi.max(v))
                });
                if hi > lo {
                    let th = lo + rng.uniform() * (hi - lo);
                    let threshold = if th >= hi { lo } else { th };
                    let (left, right) = rows.iter().partition(|&&i| x.row(i)[f] <= threshold);
                    return Grow::Split { feature: f, threshold, left, right };
                }
            }
        }
        Grow::Leaf(vec![depth as f64 + c(rows.len())])
    })
}

/// Fits the forest; returns the trees, the subsample size ψ and the training scores.
pub(crate) fn fit(x: &Encoded, p: &Params) -> (Vec<Tree>, usize, Vec<f64>) {
    let n = x.rows;
    let psi = p.max_samples.min(n).max(2);
    let max_depth = (psi as f64).log2().ceil() as usize;
    let mut rng = Rng::new(p.seed);
    let trees: Vec<Tree> = (0..p.n_estimators)
        .map(|_| {
            let mut idx: Vec<usize> = (0..n).collect();
            // Partial shuffle: the first ψ rows are a sample without replacement.
            for i in 0..psi.min(n) {
                let j = i + rng.below((n - i) as u64) as usize;
                idx.swap(i, j);
            }
            idx.truncate(psi);
            grow(x, idx, max_depth, &mut rng)
        })
        .collect();
    let scores = (0..n).map(|i| score(&trees, psi, x.row(i))).collect();
    (trees, psi, scores)
}

pub(crate) fn score(trees: &[Tree], psi: usize, row: &[f64]) -> f64 {
    let mean = trees.iter().map(|t| t.output(row)[0]).sum::<f64>() / trees.len().max(1) as f64;
    2f64.powf(-mean / c(psi))
}

pub(crate) fn threshold(scores: &[f64], contamination: f64) -> f64 {
    if contamination <= 0.0 {
        return 0.5;
    }
    let mut s = scores.to_vec();
    s.sort_by(f64::total_cmp);
    berth_data::quantile_sorted(&s, 1.0 - contamination)
}
