//! Decision trees on binned features, shared by the random forest and
//! gradient boosting. Each feature's training values are cut into at most 255
//! bins (every distinct value when there are fewer, else quantiles); a split
//! sends `x <= threshold` left. Trees are stored as flat arrays, which is
//! also how they are serialised.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::Encoded;
use berth_data::Rng;

const MAX_BINS: usize = 255;

/// Features cut into bins: `bins[f][i]` is row i's bin for feature f, and a
/// row is in bin b when `thresholds[f][b-1] < x <= thresholds[f][b]`.
pub(crate) struct Binned {
    pub bins: Vec<Vec<u8>>,
    pub thresholds: Vec<Vec<f64>>,
}

impl Binned {
    pub fn new(x: &Encoded) -> Binned {
        let (n, d) = (x.rows, x.cols);
        let mut bins = Vec::with_capacity(d);
        let mut thresholds = Vec::with_capacity(d);
        for f in 0..d {
            let mut col: Vec<f64> = (0..n).map(|i| x.data[i * d + f]).collect();
            col.sort_by(f64::total_cmp);
            col.dedup();
            let cuts: Vec<f64> = if col.len() <= MAX_BINS {
                col.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
            } else {
                let mut c: Vec<f64> = (1..MAX_BINS)
                    .map(|q| {
                        let pos = q * (col.len() - 1) / MAX_BINS;
                        (col[pos] + col[pos + 1]) / 2.0
                    })
                    .collect();
                c.dedup();
                c
            };
            let b: Vec<u8> = (0..n).map(|i| cuts.partition_point(|t| *t < x.data[i * d + f]) as u8).collect();
            bins.push(b);
            thresholds.push(cuts);
        }
        Binned { bins, thresholds }
    }

    fn n_bins(&self, f: usize) -> usize {
        self.thresholds[f].len() + 1
    }
}

/// A fitted tree. `feature[i] < 0` marks a leaf whose output is
/// `values[i * width .. (i + 1) * width]`. Nodes are in depth-first order, so
/// a split's left child is always the next node.
///
/// Serialised compactly (a forest of deep trees has millions of nodes): the
/// node count, the output width, and base64 of little-endian arrays — every
/// node's feature (i32, -1 for a leaf), then for splits only their threshold
/// (f64) and right child (u32), and for leaves only their outputs (f64).
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    pub feature: Vec<i32>,
    pub threshold: Vec<f64>,
    pub left: Vec<u32>,
    pub right: Vec<u32>,
    pub width: usize,
    pub values: Vec<f64>,
}

impl Tree {
    pub fn leaf_of(&self, row: &[f64]) -> usize {
        let mut i = 0;
        while self.feature[i] >= 0 {
            i = if row[self.feature[i] as usize] <= self.threshold[i] { self.left[i] } else { self.right[i] } as usize;
        }
        i
    }

    pub fn output(&self, row: &[f64]) -> &[f64] {
        let i = self.leaf_of(row);
        &self.values[i * self.width..(i + 1) * self.width]
    }

    /// Checks the structure of a tree read from a file: every child index is
    /// in range and points forward, so prediction always terminates.
    pub fn is_well_formed(&self, n_features: usize) -> bool {
        let n = self.feature.len();
        n > 0
            && self.threshold.len() == n
            && self.left.len() == n
            && self.right.len() == n
            && self.values.len() == n * self.width
            && (0..n).all(|i| {
                self.feature[i] < 0
                    || ((self.feature[i] as usize) < n_features
                        && self.left[i] as usize == i + 1
                        && (self.right[i] as usize) < n
                        && self.right[i] as usize > i + 1)
            })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeRepr {
    nodes: usize,
    width: usize,
    feature: String,
    threshold: String,
    right: String,
    values: String,
}

impl Serialize for Tree {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (mut feature, mut threshold, mut right, mut values) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..self.feature.len() {
            feature.extend_from_slice(&self.feature[i].to_le_bytes());
            if self.feature[i] >= 0 {
                threshold.extend_from_slice(&self.threshold[i].to_le_bytes());
                right.extend_from_slice(&self.right[i].to_le_bytes());
            } else {
                for v in &self.values[i * self.width..(i + 1) * self.width] {
                    values.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        TreeRepr {
            nodes: self.feature.len(),
            width: self.width,
            feature: B64.encode(feature),
            threshold: B64.encode(threshold),
            right: B64.encode(right),
            values: B64.encode(values),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = TreeRepr::deserialize(d)?;
        let decode =
            |field: &str, text: &str| B64.decode(text).map_err(|e| D::Error::custom(format!("tree {field}: {e}")));
        let (feature, threshold, right, values) = (
            decode("feature", &r.feature)?,
            decode("threshold", &r.threshold)?,
            decode("right", &r.right)?,
            decode("values", &r.values)?,
        );
        if r.width == 0 || r.width > 1 << 16 || feature.len() != r.nodes * 4 {
            return Err(D::Error::custom("tree: node count, width and features disagree"));
        }
        let feature: Vec<i32> =
            feature.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        let splits = feature.iter().filter(|f| **f >= 0).count();
        let leaves = r.nodes - splits;
        if threshold.len() != splits * 8 || right.len() != splits * 4 || values.len() != leaves * r.width * 8 {
            return Err(D::Error::custom("tree: array lengths do not match the nodes"));
        }
        let mut t = Tree {
            feature: Vec::with_capacity(r.nodes),
            threshold: Vec::with_capacity(r.nodes),
            left: Vec::with_capacity(r.nodes),
            right: Vec::with_capacity(r.nodes),
            width: r.width,
            values: Vec::with_capacity(r.nodes * r.width),
        };
        let (mut th, mut ri, mut va) = (threshold.chunks_exact(8), right.chunks_exact(4), values.chunks_exact(8));
        for (i, f) in feature.into_iter().enumerate() {
            t.feature.push(f);
            if f >= 0 {
                t.threshold.push(f64::from_le_bytes(th.next().expect("counted").try_into().expect("8 bytes")));
                t.left.push(i as u32 + 1);
                t.right.push(u32::from_le_bytes(ri.next().expect("counted").try_into().expect("4 bytes")));
                t.values.extend(std::iter::repeat_n(0.0, r.width));
            } else {
                t.threshold.push(0.0);
                t.left.push(0);
                t.right.push(0);
                for _ in 0..r.width {
                    t.values.push(f64::from_le_bytes(va.next().expect("counted").try_into().expect("8 bytes")));
                }
            }
        }
        Ok(t)
    }
}

/// What to do with a node while growing a tree.
pub(crate) enum Grow {
    Leaf(Vec<f64>),
    Split { feature: usize, threshold: f64, left: Vec<usize>, right: Vec<usize> },
}

impl Tree {
    /// Grows a tree depth first from `rows`: `node(rows, depth)` says whether
    /// a node is a leaf (and its output) or a split. A split's left child is
    /// appended right after it, so child indices always point forward.
    pub(crate) fn grow(width: usize, rows: Vec<usize>, mut node: impl FnMut(&[usize], usize) -> Grow) -> Tree {
        let mut t = Tree {
            feature: Vec::new(),
            threshold: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
            width,
            values: Vec::new(),
        };
        let mut stack = vec![(rows, 0usize, usize::MAX, false)];
        while let Some((rows, depth, parent, is_right)) = stack.pop() {
            let me = t.feature.len();
            if parent != usize::MAX {
                if is_right {
                    t.right[parent] = me as u32;
                } else {
                    t.left[parent] = me as u32;
                }
            }
            t.left.push(0);
            t.right.push(0);
            match node(&rows, depth) {
                Grow::Leaf(values) => {
                    t.feature.push(-1);
                    t.threshold.push(0.0);
                    t.values.extend(values);
                }
                Grow::Split { feature, threshold, left, right } => {
                    t.feature.push(feature as i32);
                    t.threshold.push(threshold);
                    t.values.extend(std::iter::repeat_n(0.0, width));
                    stack.push((right, depth + 1, me, true));
                    stack.push((left, depth + 1, me, false));
                }
            }
        }
        t
    }
}

/// What a tree is fitted to.
pub(crate) enum Target<'a> {
    /// Class indices; leaves hold class probabilities (Gini splits).
    Classes { y: &'a [usize], k: usize },
    /// Real values; leaves hold the mean (squared-error splits), unless a
    /// leaf rule replaces it (gradient boosting's Newton step).
    Values { y: &'a [f64] },
}

pub(crate) struct TreeParams {
    pub max_depth: usize,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    /// Features considered at each split.
    pub max_features: usize,
}

struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
}

pub(crate) struct Builder<'a> {
    pub binned: &'a Binned,
    pub target: Target<'a>,
    pub params: &'a TreeParams,
    pub rng: Rng,
}

impl Builder<'_> {
    fn width(&self) -> usize {
        match self.target {
            Target::Classes { k, .. } => k,
            Target::Values { .. } => 1,
        }
    }

    fn leaf_value(&self, idx: &[usize]) -> Vec<f64> {
        match &self.target {
            Target::Classes { y, k } => {
                let mut c = vec![0.0; *k];
                idx.iter().for_each(|&i| c[y[i]] += 1.0);
                let n = idx.len() as f64;
                c.iter_mut().for_each(|v| *v /= n);
                c
            }
            Target::Values { y } => vec![idx.iter().map(|&i| y[i]).sum::<f64>() / idx.len() as f64],
        }
    }

    fn is_pure(&self, idx: &[usize]) -> bool {
        match &self.target {
            Target::Classes { y, .. } => idx.iter().all(|&i| y[i] == y[idx[0]]),
            Target::Values { y } => idx.iter().all(|&i| y[i] == y[idx[0]]),
        }
    }

    fn best_split(&mut self, idx: &[usize]) -> Option<Split> {
        let d = self.binned.bins.len();
        let mut features: Vec<usize> = (0..d).collect();
        let m = self.params.max_features.clamp(1, d);
        // Partial Fisher–Yates: the first m entries are a uniform sample.
        for i in 0..m {
            let j = i + self.rng.below((d - i) as u64) as usize;
            features.swap(i, j);
        }
        let min_leaf = self.params.min_samples_leaf.max(1);
        let n = idx.len();
        let mut best: Option<Split> = None;
        for &f in &features[..m] {
            let nb = self.binned.n_bins(f);
            if nb < 2 {
                continue;
            }
            let col = &self.binned.bins[f];
            match &self.target {
                Target::Classes { y, k } => {
                    let k = *k;
                    let mut hist = vec![0.0f64; nb * k];
                    let mut count = vec![0usize; nb];
                    for &i in idx {
                        let b = col[i] as usize;
                        hist[b * k + y[i]] += 1.0;
                        count[b] += 1;
                    }
                    let total: Vec<f64> = (0..k).map(|c| (0..nb).map(|b| hist[b * k + c]).sum()).collect();
                    let gini_sum = |cnt: &[f64], nn: f64| -> f64 { cnt.iter().map(|c| c * c).sum::<f64>() / nn };
                    let parent = gini_sum(&total, n as f64);
                    let mut left = vec![0.0; k];
                    let mut nl = 0usize;
                    for b in 0..nb - 1 {
                        if count[b] == 0 {
                            continue;
                        }
                        nl += count[b];
                        (0..k).for_each(|c| left[c] += hist[b * k + c]);
                        let nr = n - nl;
                        if nl < min_leaf || nr < min_leaf {
                            continue;
                        }
                        let right: Vec<f64> = (0..k).map(|c| total[c] - left[c]).collect();
                        // Weighted Gini decrease, up to a constant: Σ_children Σ_c n_c² / n_child.
                        let gain = gini_sum(&left, nl as f64) + gini_sum(&right, nr as f64) - parent;
                        if gain > 1e-12 && best.as_ref().is_none_or(|s| gain > s.gain) {
                            best = Some(Split { feature: f, bin: b, gain });
                        }
                    }
                }
                Target::Values { y } => {
                    let mut sum = vec![0.0f64; nb];
                    let mut count = vec![0usize; nb];
                    for &i in idx {
                        let b = col[i] as usize;
                        sum[b] += y[i];
                        count[b] += 1;
                    }
                    let total: f64 = sum.iter().sum();
                    let parent = total * total / n as f64;
                    let (mut sl, mut nl) = (0.0, 0usize);
                    for b in 0..nb - 1 {
                        if count[b] == 0 {
                            continue;
                        }
                        sl += sum[b];
                        nl += count[b];
                        let nr = n - nl;
                        if nl < min_leaf || nr < min_leaf {
                            continue;
                        }
                        let sr = total - sl;
                        let gain = sl * sl / nl as f64 + sr * sr / nr as f64 - parent;
                        if gain > 1e-12 * parent.abs().max(1.0) && best.as_ref().is_none_or(|s| gain > s.gain) {
                            best = Some(Split { feature: f, bin: b, gain });
                        }
                    }
                }
            }
        }
        best
    }

    /// Grows a tree on the rows `idx` (repeats allowed: a bootstrap sample).
    pub fn build(mut self, idx: Vec<usize>) -> Tree {
        let width = self.width();
        Tree::grow(width, idx, |rows, depth| {
            let can_split = rows.len() >= self.params.min_samples_split.max(2)
                && (self.params.max_depth == 0 || depth < self.params.max_depth)
                && !self.is_pure(rows);
            match if can_split { self.best_split(rows) } else { None } {
                None => Grow::Leaf(self.leaf_value(rows)),
                Some(s) => {
                    let col = &self.binned.bins[s.feature];
                    let (left, right) = rows.iter().partition(|&&i| col[i] as usize <= s.bin);
                    Grow::Split { feature: s.feature, threshold: self.binned.thresholds[s.feature][s.bin], left, right }
                }
            }
        })
    }
}
