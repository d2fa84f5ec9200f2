//! Tree ensembles: random forests (bagged CART trees with feature
//! subsampling, scikit-learn's defaults) and gradient boosting (Friedman's
//! algorithm: squared loss for regression, log loss for classification with
//! Newton-step leaves, one tree per class per round for more than two classes).

use berth_data::Rng;

use crate::Encoded;
use crate::tree::{Binned, Builder, Target, Tree, TreeParams};

fn tree_seed(seed: u64, i: usize) -> u64 {
    seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

pub(crate) struct ForestParams {
    pub n_estimators: usize,
    pub tree: TreeParams,
    pub bootstrap: bool,
    pub seed: u64,
}

/// Grows the forest's trees on all cores; tree i always gets the same
/// random stream, so the result does not depend on the thread count.
pub(crate) fn forest(x: &Encoded, target: &Target<'_>, p: &ForestParams) -> Vec<Tree> {
    let binned = Binned::new(x);
    let n = x.rows;
    let threads = berth_data::cores().min(p.n_estimators.max(1));
    let grow = |i: usize| {
        let mut rng = Rng::new(tree_seed(p.seed, i));
        let idx: Vec<usize> =
            if p.bootstrap { (0..n).map(|_| rng.below(n as u64) as usize).collect() } else { (0..n).collect() };
        let target = match target {
            Target::Classes { y, k } => Target::Classes { y, k: *k },
            Target::Values { y } => Target::Values { y },
        };
        Builder { binned: &binned, target, params: &p.tree, rng }.build(idx)
    };
    let mut trees: Vec<Option<Tree>> = (0..p.n_estimators).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let grow = &grow;
                s.spawn(move || (t..p.n_estimators).step_by(threads).map(|i| (i, grow(i))).collect::<Vec<_>>())
            })
            .collect();
        for h in handles {
            for (i, tree) in h.join().expect("tree building does not panic") {
                trees[i] = Some(tree);
            }
        }
    });
    trees.into_iter().map(|t| t.expect("every tree grown")).collect()
}

/// The mean of the trees' outputs for one row.
pub(crate) fn average(trees: &[Tree], row: &[f64]) -> Vec<f64> {
    let width = trees.first().map_or(1, |t| t.width);
    let mut out = vec![0.0; width];
    for t in trees {
        out.iter_mut().zip(t.output(row)).for_each(|(o, v)| *o += v);
    }
    let n = trees.len().max(1) as f64;
    out.iter_mut().for_each(|o| *o /= n);
    out
}

pub(crate) struct BoostParams {
    pub n_estimators: usize,
    pub learning_rate: f64,
    pub subsample: f64,
    pub tree: TreeParams,
    pub seed: u64,
}

fn rows_for_round(n: usize, subsample: f64, rng: &mut Rng) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    if subsample < 1.0 {
        rng.shuffle(&mut idx);
        idx.truncate(((n as f64 * subsample).round() as usize).max(1));
        idx.sort_unstable();
    }
    idx
}

/// Replaces each leaf's value by `num / den` summed over the rows that reach it.
fn newton_leaves(tree: &mut Tree, x: &Encoded, rows: &[usize], num: impl Fn(usize) -> f64, den: impl Fn(usize) -> f64) {
    let n_nodes = tree.feature.len();
    let (mut a, mut b) = (vec![0.0; n_nodes], vec![0.0; n_nodes]);
    for &i in rows {
        let leaf = tree.leaf_of(x.row(i));
        a[leaf] += num(i);
        b[leaf] += den(i);
    }
    for l in 0..n_nodes {
        if tree.feature[l] < 0 {
            tree.values[l] = if b[l].abs() < 1e-150 { 0.0 } else { a[l] / b[l] };
        }
    }
}

/// Gradient boosting with squared loss. Returns (initial value, trees).
pub(crate) fn boost_regression(x: &Encoded, y: &[f64], p: &BoostParams) -> (f64, Vec<Tree>) {
    let binned = Binned::new(x);
    let n = x.rows;
    let init = y.iter().sum::<f64>() / n as f64;
    let mut f = vec![init; n];
    let mut rng = Rng::new(p.seed);
    let mut trees = Vec::with_capacity(p.n_estimators);
    let mut residual = vec![0.0; n];
    for _ in 0..p.n_estimators {
        residual.iter_mut().zip(y.iter().zip(&f)).for_each(|(r, (yi, fi))| *r = yi - fi);
        let rows = rows_for_round(n, p.subsample, &mut rng);
        let tree_rng = Rng::new(rng.next_u64());
        let tree = Builder { binned: &binned, target: Target::Values { y: &residual }, params: &p.tree, rng: tree_rng }
            .build(rows);
        for (i, fi) in f.iter_mut().enumerate() {
            *fi += p.learning_rate * tree.output(x.row(i))[0];
        }
        trees.push(tree);
    }
    (init, trees)
}

/// Gradient boosting with log loss: one tree per round for two classes
/// (scores are the log-odds of the second class), one per class otherwise.
pub(crate) fn boost_classification(x: &Encoded, y: &[usize], k: usize, p: &BoostParams) -> (Vec<f64>, Vec<Vec<Tree>>) {
    let binned = Binned::new(x);
    let n = x.rows;
    let per_round = if k == 2 { 1 } else { k };
    let mut prior = vec![0.0; k];
    y.iter().for_each(|&c| prior[c] += 1.0 / n as f64);
    let init: Vec<f64> = if k == 2 {
        let p1 = prior[1].clamp(1e-12, 1.0 - 1e-12);
        vec![(p1 / (1.0 - p1)).ln()]
    } else {
        prior.iter().map(|p| p.max(1e-12).ln()).collect()
    };
    let mut f: Vec<f64> = (0..n).flat_map(|_| init.iter().copied()).collect();
    let mut rng = Rng::new(p.seed);
    let mut rounds = Vec::with_capacity(p.n_estimators);
    let mut prob = vec![0.0; n * per_round];
    let mut residual = vec![0.0; n];
    for _ in 0..p.n_estimators {
        for i in 0..n {
            if k == 2 {
                prob[i] = 1.0 / (1.0 + (-f[i]).exp());
            } else {
                let z = &f[i * k..(i + 1) * k];
                let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
                for c in 0..k {
                    prob[i * k + c] = (z[c] - m).exp() / s;
                }
            }
        }
        let rows = rows_for_round(n, p.subsample, &mut rng);
        let mut round = Vec::with_capacity(per_round);
        for c in 0..per_round {
            let target_class = if k == 2 { 1 } else { c };
            for i in 0..n {
                residual[i] = f64::from(u8::from(y[i] == target_class)) - prob[i * per_round + c];
            }
            let tree_rng = Rng::new(rng.next_u64());
            let mut tree =
                Builder { binned: &binned, target: Target::Values { y: &residual }, params: &p.tree, rng: tree_rng }
                    .build(rows.clone());
            let factor = if k == 2 { 1.0 } else { (k as f64 - 1.0) / k as f64 };
            newton_leaves(
                &mut tree,
                x,
                &rows,
                |i| factor * residual[i],
                |i| {
                    let r = residual[i].abs();
                    r * (1.0 - r)
                },
            );
            for i in 0..n {
                f[i * per_round + c] += p.learning_rate * tree.output(x.row(i))[0];
            }
            round.push(tree);
        }
        rounds.push(round);
    }
    (init, rounds)
}

/// Raw scores of a boosted classifier for one row.
pub(crate) fn boosted_scores(init: &[f64], rounds: &[Vec<Tree>], learning_rate: f64, row: &[f64]) -> Vec<f64> {
    let mut f = init.to_vec();
    for round in rounds {
        for (c, t) in round.iter().enumerate() {
            f[c] += learning_rate * t.output(row)[0];
        }
    }
    f
}
