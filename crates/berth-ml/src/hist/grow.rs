//! Growing one regression tree on gradients and hessians, best first (the
//! leaf whose split gains most is split next) until `max_leaf_nodes` leaves,
//! as scikit-learn's `HistGradientBoosting*` and LightGBM do. Each node's
//! histogram holds, per feature and bin, the sums of gradients and hessians
//! and the row count; a split's smaller child is histogrammed from its rows
//! and the larger one is the parent's histogram minus the smaller's. Rows are
//! one `u32` index array, partitioned in place (stably) as nodes split, and
//! histogram buffers are pooled, so growing allocates nothing per node.

use super::bins::{Binned, FeatureBins, MISSING_BIN};
use super::tree::HistTree;

/// Hessian sums below this make a child too flat to split into.
const MIN_HESSIAN: f64 = 1e-3;
/// A category needs this much support (in rows) to be ordered for a split;
/// LightGBM's `cat_smooth`.
const MIN_CAT_SUPPORT: f64 = 10.0;
/// The most categories one side of a categorical split lists.
const MAX_CAT_THRESHOLD: usize = 32;
/// Histogram slots per feature: every byte value, the missing bin included.
const SLOTS: usize = 256;

/// How a tree grows.
#[derive(Debug, Clone)]
pub(crate) struct GrowParams {
    /// `usize::MAX` for no limit.
    pub max_leaf_nodes: usize,
    /// `usize::MAX` for no limit.
    pub max_depth: usize,
    pub min_samples_leaf: usize,
    pub l2: f64,
    /// The learning rate, applied to every leaf's value.
    pub shrinkage: f64,
    /// Histograms of at least this many cells (rows × features) are built
    /// by all the workers.
    pub parallel_cells: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

impl Bin {
    fn add(&mut self, o: &Bin) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }
}

/// A node's split: rows in bins `<= bin` (or, for a categorical feature,
/// in `categories`) go left, missing values as `missing_left` says.
#[derive(Debug, Clone)]
struct Split {
    gain: f64,
    feature: usize,
    bin: usize,
    categories: Option<[u64; 4]>,
    missing_left: bool,
}

impl Split {
    fn goes_left(&self, bin: u8) -> bool {
        if bin == MISSING_BIN {
            self.missing_left
        } else if let Some(set) = &self.categories {
            set[bin as usize / 64] >> (bin % 64) & 1 == 1
        } else {
            bin as usize <= self.bin
        }
    }
}

/// Sums over a node's rows, and what they make of it.
#[derive(Debug, Clone, Copy)]
struct Sums {
    g: f64,
    h: f64,
    n: usize,
}

struct Node {
    start: usize,
    end: usize,
    sums: Sums,
    depth: usize,
    hist: Option<usize>,
    split: Option<Split>,
    children: Option<(usize, usize)>,
}

/// The score a side with sums (g, h) contributes: the loss decrease of its
/// Newton step, `g² / (h + l2)`.
fn score(g: f64, h: f64, l2: f64) -> f64 {
    g * g / (h + l2)
}

/// A tree as grown, with its leaves: row ranges of
/// [`Grower::rows`].
pub(crate) struct Grown {
    pub tree: HistTree,
    /// `(start, end, value, node)`: the rows, the value and the leaf's node in `tree`.
    pub leaves: Vec<(usize, usize, f64, usize)>,
}

/// Grows trees on one binned training set, reusing its buffers.
pub(crate) struct Grower<'a> {
    binned: &'a Binned,
    bins: &'a [FeatureBins],
    params: GrowParams,
    threads: usize,
    order: Vec<u32>,
    scratch: Vec<u32>,
    ordered: Vec<(f64, f64)>,
    pool: Vec<Vec<Bin>>,
    free: Vec<usize>,
}

impl<'a> Grower<'a> {
    /// `threads` workers build large histograms (features split between
    /// them; each feature's sums are the same whatever the count).
    pub fn new(binned: &'a Binned, bins: &'a [FeatureBins], params: GrowParams, threads: usize) -> Grower<'a> {
        Grower {
            binned,
            bins,
            params,
            threads: threads.max(1),
            order: Vec::new(),
            scratch: Vec::new(),
            ordered: Vec::new(),
            pool: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The training rows of a leaf range from [`Grown::leaves`].
    pub fn rows(&self, start: usize, end: usize) -> &[u32] {
        &self.order[start..end]
    }

    fn alloc(&mut self) -> usize {
        match self.free.pop() {
            Some(s) => s,
            None => {
                self.pool.push(vec![Bin::default(); self.bins.len() * SLOTS]);
                self.pool.len() - 1
            }
        }
    }

    /// Grows a tree fitted to `grad` and `hess` (one value per training row).
    pub fn grow(&mut self, grad: &[f64], hess: &[f64]) -> Grown {
        let n = self.binned.rows;
        self.order.clear();
        self.order.extend(0..n as u32);
        let sums = Sums { g: grad.iter().sum(), h: hess.iter().sum(), n };
        let mut nodes = vec![Node { start: 0, end: n, sums, depth: 0, hist: None, split: None, children: None }];
        if self.splittable(&nodes[0]) {
            let slot = self.alloc();
            self.histogram(0, n, grad, hess, slot);
            nodes[0].hist = Some(slot);
            nodes[0].split = self.best_split(slot, sums);
        }
        let mut leaves = 1;
        while leaves < self.params.max_leaf_nodes {
            let Some(id) = best_candidate(&nodes) else { break };
            self.split(&mut nodes, id, grad, hess);
            leaves += 1;
        }
        for node in &mut nodes {
            if let Some(slot) = node.hist.take() {
                self.free.push(slot);
            }
        }
        self.finish(&nodes)
    }

    fn splittable(&self, node: &Node) -> bool {
        node.depth < self.params.max_depth && node.sums.n >= 2 * self.params.min_samples_leaf.max(1)
    }

    /// Splits node `id` in two, histograms the children that may split
    /// further and finds their best splits.
    fn split(&mut self, nodes: &mut Vec<Node>, id: usize, grad: &[f64], hess: &[f64]) {
        let split = nodes[id].split.clone().expect("a candidate has a split");
        let (start, end) = (nodes[id].start, nodes[id].end);
        let mid = self.partition(start, end, &split);
        let depth = nodes[id].depth + 1;
        let left_sums = self.left_sums(nodes[id].hist.expect("a split node has a histogram"), &split, mid - start);
        let parent = nodes[id].sums;
        let right_sums = Sums { g: parent.g - left_sums.g, h: parent.h - left_sums.h, n: parent.n - left_sums.n };
        let right_sums = Sums { g: right_sums.g, h: right_sums.h.max(0.0), n: right_sums.n };
        let (l, r) = (nodes.len(), nodes.len() + 1);
        let child = |start, end, sums| Node { start, end, sums, depth, hist: None, split: None, children: None };
        nodes.push(child(start, mid, left_sums));
        nodes.push(child(mid, end, right_sums));
        nodes[id].children = Some((l, r));
        let parent_slot = nodes[id].hist.take().expect("a split node has a histogram");
        let (small, large) = if mid - start <= end - mid { (l, r) } else { (r, l) };
        let (small_ok, large_ok) = (self.splittable(&nodes[small]), self.splittable(&nodes[large]));
        if small_ok || large_ok {
            let slot = self.alloc();
            self.histogram(nodes[small].start, nodes[small].end, grad, hess, slot);
            if large_ok {
                self.subtract(parent_slot, slot);
                nodes[large].hist = Some(parent_slot);
                nodes[large].split = self.best_split(parent_slot, nodes[large].sums);
            } else {
                self.free.push(parent_slot);
            }
            if small_ok {
                nodes[small].hist = Some(slot);
                nodes[small].split = self.best_split(slot, nodes[small].sums);
            } else {
                self.free.push(slot);
            }
        } else {
            self.free.push(parent_slot);
        }
        for c in [l, r] {
            if nodes[c].split.is_none()
                && let Some(slot) = nodes[c].hist.take()
            {
                self.free.push(slot);
            }
        }
    }

    /// The sums of the rows `split` sends left, read off the node's
    /// histogram of the split feature.
    fn left_sums(&self, slot: usize, split: &Split, n: usize) -> Sums {
        let h = &self.pool[slot][split.feature * SLOTS..(split.feature + 1) * SLOTS];
        let mut left = Bin::default();
        h.iter().enumerate().filter(|(b, _)| split.goes_left(*b as u8)).for_each(|(_, bin)| left.add(bin));
        Sums { g: left.g, h: left.h, n }
    }

    /// Reorders `order[start..end]` so the rows going left come first (each
    /// side keeping its order); returns where the right side starts.
    fn partition(&mut self, start: usize, end: usize, split: &Split) -> usize {
        let col = self.binned.column(split.feature);
        self.scratch.clear();
        let mut w = start;
        for k in start..end {
            let r = self.order[k];
            if split.goes_left(col[r as usize]) {
                self.order[w] = r;
                w += 1;
            } else {
                self.scratch.push(r);
            }
        }
        self.order[w..end].copy_from_slice(&self.scratch);
        w
    }

    /// Fills pool slot `slot` with the histogram of `order[start..end]`.
    fn histogram(&mut self, start: usize, end: usize, grad: &[f64], hess: &[f64], slot: usize) {
        let rows = &self.order[start..end];
        let full = rows.len() == self.binned.rows;
        self.ordered.clear();
        if !full {
            self.ordered.extend(rows.iter().map(|&r| (grad[r as usize], hess[r as usize])));
        }
        let hist = &mut self.pool[slot];
        let binned = self.binned;
        let ordered = &self.ordered;
        let fill = |f: usize, out: &mut [Bin]| {
            out.fill(Bin::default());
            let col = binned.column(f);
            if full {
                for ((b, g), h) in col.iter().zip(grad).zip(hess) {
                    let s = &mut out[*b as usize];
                    s.g += g;
                    s.h += h;
                    s.n += 1;
                }
            } else {
                for (&r, (g, h)) in rows.iter().zip(ordered) {
                    let s = &mut out[col[r as usize] as usize];
                    s.g += g;
                    s.h += h;
                    s.n += 1;
                }
            }
        };
        let d = self.bins.len();
        if self.threads < 2 || rows.len() * d < self.params.parallel_cells {
            hist.chunks_mut(SLOTS).enumerate().for_each(|(f, out)| fill(f, out));
            return;
        }
        let per = d.div_ceil(self.threads);
        std::thread::scope(|s| {
            for (t, part) in hist.chunks_mut(per * SLOTS).enumerate() {
                let fill = &fill;
                s.spawn(move || part.chunks_mut(SLOTS).enumerate().for_each(|(j, out)| fill(t * per + j, out)));
            }
        });
    }

    /// `pool[parent] -= pool[small]`, leaving the larger sibling's histogram.
    fn subtract(&mut self, parent: usize, small: usize) {
        let (a, b) = if parent < small {
            let (x, y) = self.pool.split_at_mut(small);
            (&mut x[parent], &y[0])
        } else {
            let (x, y) = self.pool.split_at_mut(parent);
            (&mut y[0], &x[small])
        };
        for (p, s) in a.iter_mut().zip(b.iter()) {
            p.g -= s.g;
            p.h -= s.h;
            p.n -= s.n;
        }
    }

    /// The best split of a node over every feature (the first feature wins
    /// ties), if any split gains.
    fn best_split(&self, slot: usize, sums: Sums) -> Option<Split> {
        let hist = &self.pool[slot];
        let mut best: Option<Split> = None;
        for (f, fb) in self.bins.iter().enumerate() {
            let h = &hist[f * SLOTS..(f + 1) * SLOTS];
            let found = if fb.categorical {
                self.categorical_split(f, fb, h, sums)
            } else {
                self.numeric_split(f, fb, h, sums)
            };
            if let Some(s) = found
                && best.as_ref().is_none_or(|b| s.gain > b.gain)
            {
                best = Some(s);
            }
        }
        best
    }

    fn gain(&self, left: &Bin, sums: Sums) -> Option<f64> {
        let min_leaf = self.params.min_samples_leaf.max(1);
        let (nl, nr) = (left.n as usize, sums.n - left.n as usize);
        let (hl, hr) = (left.h, sums.h - left.h);
        if nl < min_leaf || nr < min_leaf || hl < MIN_HESSIAN || hr < MIN_HESSIAN {
            return None;
        }
        let l2 = self.params.l2;
        let gain = score(left.g, hl, l2) + score(sums.g - left.g, hr, l2) - score(sums.g, sums.h, l2);
        (gain > 0.0).then_some(gain)
    }

    /// Thresholds scanned left to right with missing values sent right, then
    /// (when the feature had missing values in training) right to left with
    /// them sent left. Without missing values in training, a missing value
    /// met later goes to the side that had more rows.
    fn numeric_split(&self, f: usize, fb: &FeatureBins, h: &[Bin], sums: Sums) -> Option<Split> {
        let nb = fb.n_bins;
        let mut best: Option<(f64, usize, bool, u32)> = None;
        let mut left = Bin::default();
        let end = if fb.has_missing { nb } else { nb.saturating_sub(1) };
        for (b, bin) in h.iter().enumerate().take(end) {
            left.add(bin);
            if let Some(g) = self.gain(&left, sums)
                && best.is_none_or(|x| g > x.0)
            {
                best = Some((g, b, false, left.n));
            }
        }
        if fb.has_missing && nb >= 2 {
            let mut right = Bin::default();
            for b in (0..nb - 1).rev() {
                right.add(&h[b + 1]);
                let left = Bin { g: sums.g - right.g, h: sums.h - right.h, n: sums.n as u32 - right.n };
                if let Some(g) = self.gain(&left, sums)
                    && best.is_none_or(|x| g > x.0)
                {
                    best = Some((g, b, true, left.n));
                }
            }
        }
        best.map(|(gain, bin, missing_left, n_left)| Split {
            gain,
            feature: f,
            bin,
            categories: None,
            missing_left: if fb.has_missing { missing_left } else { n_left as usize > sums.n - n_left as usize },
        })
    }

    /// Categories with enough support are ordered by their mean gradient
    /// (smoothed); the split sends a prefix or a suffix of that order left,
    /// up to [`MAX_CAT_THRESHOLD`] categories. Missing values count as a
    /// category when training had them.
    fn categorical_split(&self, f: usize, fb: &FeatureBins, h: &[Bin], sums: Sums) -> Option<Split> {
        let support = sums.n as f64 / sums.h.max(1e-300);
        let mut used: Vec<(f64, usize)> = (0..fb.n_bins)
            .chain(fb.has_missing.then_some(MISSING_BIN as usize))
            .filter(|&b| h[b].h * support >= MIN_CAT_SUPPORT)
            .map(|b| (h[b].g / (h[b].h + MIN_CAT_SUPPORT), b))
            .collect();
        if used.len() <= 1 {
            return None;
        }
        used.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let max_cats = MAX_CAT_THRESHOLD.min(used.len().div_ceil(2));
        let mut best: Option<(f64, usize, bool)> = None;
        for forward in [true, false] {
            let mut left = Bin::default();
            for i in 0..max_cats {
                let b = if forward { used[i].1 } else { used[used.len() - 1 - i].1 };
                left.add(&h[b]);
                if let Some(g) = self.gain(&left, sums)
                    && best.is_none_or(|x| g > x.0)
                {
                    best = Some((g, i, forward));
                }
            }
        }
        let (gain, i, forward) = best?;
        let chosen = if forward { &used[..=i] } else { &used[used.len() - 1 - i..] };
        let mut set = [0u64; 4];
        let mut missing_left = false;
        let mut n_left = 0usize;
        for &(_, b) in chosen {
            n_left += h[b].n as usize;
            if b == MISSING_BIN as usize {
                missing_left = true;
            } else {
                set[b / 64] |= 1 << (b % 64);
            }
        }
        if !fb.has_missing {
            missing_left = n_left > sums.n - n_left;
        }
        Some(Split { gain, feature: f, bin: 0, categories: Some(set), missing_left })
    }

    /// The grown nodes as a prediction tree (depth first, real-valued
    /// thresholds) and the leaves' row ranges and values.
    fn finish(&self, nodes: &[Node]) -> Grown {
        let mut tree = HistTree::default();
        let mut leaves = Vec::new();
        let p = &self.params;
        let mut stack = vec![(0usize, usize::MAX)];
        while let Some((id, parent)) = stack.pop() {
            let me = tree.len();
            if parent != usize::MAX {
                tree.set_right(parent, me);
            }
            let node = &nodes[id];
            match node.children {
                None => {
                    let value = -p.shrinkage * node.sums.g / (node.sums.h + p.l2 + 1e-15);
                    tree.push_leaf(value);
                    leaves.push((node.start, node.end, value, me));
                }
                Some((l, r)) => {
                    let s = node.split.as_ref().expect("a split node keeps its split");
                    let fb = &self.bins[s.feature];
                    tree.push_split(s.feature, fb.upper_bound(s.bin), s.missing_left, s.categories);
                    // The right child is pushed first so the left one comes next.
                    stack.push((r, me));
                    stack.push((l, usize::MAX));
                }
            }
        }
        Grown { tree, leaves }
    }
}

/// The leaf to split next: the one whose split gains most (the first grown
/// wins ties), if any can split.
fn best_candidate(nodes: &[Node]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, n) in nodes.iter().enumerate() {
        if n.children.is_none()
            && let Some(s) = &n.split
            && best.is_none_or(|b| s.gain > b.1)
        {
            best = Some((i, s.gain));
        }
    }
    best.map(|b| b.0)
}
