//! `ai.onnx.ml.TreeEnsembleRegressor` and `TreeEnsembleClassifier`, read
//! from their node attributes and evaluated by berth.
//!
//! skl2onnx, onnxmltools (XGBoost, LightGBM) and friends export every tree
//! model through these two operators. Semantics follow the ONNX-ML
//! specification; where it is silent (a binary classifier scored by one
//! column), berth does what onnxruntime does, so that exported models give
//! the same probabilities in both:
//!
//! - one score `s` for the positive class, with `LOGISTIC`: `[σ(-s), σ(s)]`;
//! - with no transform and non-negative leaf weights (a forest's votes):
//!   `[1 - s, s]`; with signed weights (raw margins): `[-s, s]`.
//!
//! Thresholds and weights are kept as `f64` (exact for `float` attributes,
//! and the `*_as_tensor` double variants keep their precision); inputs are
//! compared as `f64`, which orders `f32` inputs exactly as `f32` would.
//! Scores accumulate in `f64` and are returned as `f32`.

use std::collections::HashMap;

use tract_onnx::pb;

use super::attrs::Attrs;
pub use super::attrs::Labels;

/// A branch's comparison, or a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

impl Mode {
    fn parse(s: &[u8]) -> Result<Mode, String> {
        Ok(match s {
            b"BRANCH_LEQ" => Mode::Leq,
            b"BRANCH_LT" => Mode::Lt,
            b"BRANCH_GTE" => Mode::Gte,
            b"BRANCH_GT" => Mode::Gt,
            b"BRANCH_EQ" => Mode::Eq,
            b"BRANCH_NEQ" => Mode::Neq,
            b"LEAF" => Mode::Leaf,
            other => {
                return Err(format!(
                    "unknown node mode {:?}; valid: BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ, LEAF",
                    String::from_utf8_lossy(other)
                ));
            }
        })
    }
}

/// A node. For a branch, `a`/`b` are the true/false children; for a leaf,
/// the range of its votes in `TreeEnsemble::votes`.
#[derive(Debug, Clone, Copy)]
struct Node {
    mode: Mode,
    missing_goes_true: bool,
    feature: u32,
    threshold: f64,
    a: u32,
    b: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostTransform {
    None,
    Softmax,
    Logistic,
    SoftmaxZero,
}

/// How a two-class model is scored by a single column (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binary {
    No,
    Probability,
    Margin,
}

#[derive(Debug, Clone)]
pub struct TreeEnsemble {
    roots: Vec<u32>,
    nodes: Vec<Node>,
    /// (output column, weight) per leaf vote.
    votes: Vec<(u32, f64)>,
    /// Columns out: targets (regressor) or classes (classifier).
    pub n_outputs: usize,
    /// One more than the largest feature index a branch reads.
    pub n_features_used: usize,
    aggregate: Aggregate,
    base: Vec<f64>,
    post: PostTransform,
    /// Classifiers only.
    pub labels: Option<Labels>,
    binary: Binary,
}

fn index(v: i64, what: &str) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("{what} {v} is out of range"))
}

impl TreeEnsemble {
    /// Reads a `TreeEnsembleRegressor` (`classifier == false`) or
    /// `TreeEnsembleClassifier` node.
    pub fn from_node(node: &pb::NodeProto, classifier: bool) -> Result<TreeEnsemble, String> {
        let at = Attrs(node);
        let tree_ids = at.ints("nodes_treeids");
        let node_ids = at.ints("nodes_nodeids");
        let features = at.ints("nodes_featureids");
        let modes = at.strings("nodes_modes");
        let thresholds = at.reals("nodes_values")?;
        let trues = at.ints("nodes_truenodeids");
        let falses = at.ints("nodes_falsenodeids");
        let missing = at.ints("nodes_missing_value_tracks_true");
        let n = tree_ids.len();
        if n == 0 {
            return Err("the ensemble has no nodes (nodes_treeids is empty)".into());
        }
        for (name, len) in [
            ("nodes_nodeids", node_ids.len()),
            ("nodes_featureids", features.len()),
            ("nodes_modes", modes.len()),
            ("nodes_values", thresholds.len()),
            ("nodes_truenodeids", trues.len()),
            ("nodes_falsenodeids", falses.len()),
        ] {
            if len != n {
                return Err(format!("{name} has {len} entries; nodes_treeids has {n}"));
            }
        }
        if !missing.is_empty() && missing.len() != n {
            return Err(format!(
                "nodes_missing_value_tracks_true has {} entries; nodes_treeids has {n}",
                missing.len()
            ));
        }

        // (tree, node id) → position; trees in order of first appearance.
        let mut position = HashMap::with_capacity(n);
        let mut roots = Vec::new();
        let mut tree_index: HashMap<i64, usize> = HashMap::new();
        for i in 0..n {
            if position.insert((tree_ids[i], node_ids[i]), i as u32).is_some() {
                return Err(format!("node {} of tree {} is defined twice", node_ids[i], tree_ids[i]));
            }
            tree_index.entry(tree_ids[i]).or_insert_with(|| {
                roots.push(u32::MAX);
                roots.len() - 1
            });
        }
        // A tree's root is its node 0, else its smallest node id.
        let mut smallest: HashMap<i64, i64> = HashMap::new();
        for i in 0..n {
            let e = smallest.entry(tree_ids[i]).or_insert(node_ids[i]);
            *e = (*e).min(node_ids[i]);
        }
        for (tree, first) in &smallest {
            roots[tree_index[tree]] = position[&(*tree, *first)];
        }

        let mut nodes = Vec::with_capacity(n);
        let mut n_features_used = 0;
        for i in 0..n {
            let mode = Mode::parse(&modes[i])?;
            let child = |id: i64, side: &str| {
                position.get(&(tree_ids[i], id)).copied().ok_or_else(|| {
                    format!("node {} of tree {} has {side} child {id}, which does not exist", node_ids[i], tree_ids[i])
                })
            };
            let (a, b, feature) = if mode == Mode::Leaf {
                (0, 0, 0)
            } else {
                let feature = index(features[i], "feature index")?;
                n_features_used = n_features_used.max(feature as usize + 1);
                (child(trues[i], "true")?, child(falses[i], "false")?, feature)
            };
            nodes.push(Node {
                mode,
                missing_goes_true: missing.get(i).is_some_and(|m| *m != 0),
                feature,
                threshold: thresholds[i],
                a,
                b,
            });
        }

        let prefix = if classifier { "class" } else { "target" };
        let leaf_trees = at.ints(&format!("{prefix}_treeids"));
        let leaf_nodes = at.ints(&format!("{prefix}_nodeids"));
        let leaf_outputs = at.ints(&format!("{prefix}_ids"));
        let leaf_weights = at.reals(&format!("{prefix}_weights"))?;
        let m = leaf_trees.len();
        for (name, len) in [("nodeids", leaf_nodes.len()), ("ids", leaf_outputs.len()), ("weights", leaf_weights.len())]
        {
            if len != m {
                return Err(format!("{prefix}_{name} has {len} entries; {prefix}_treeids has {m}"));
            }
        }

        let labels = if classifier {
            let ints = at.ints("classlabels_int64s");
            let strings = at.strings("classlabels_strings");
            Some(match (ints.is_empty(), strings.is_empty()) {
                (false, true) => Labels::Ints(ints),
                (true, false) => {
                    Labels::Strings(strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
                }
                (true, true) => return Err("the classifier declares no class labels".into()),
                (false, false) => {
                    return Err("the classifier declares both classlabels_int64s and classlabels_strings".into());
                }
            })
        } else {
            None
        };
        let n_outputs = match &labels {
            Some(l) => l.len(),
            None => at.get("n_targets").map(|a| a.i).unwrap_or(1).max(1) as usize,
        };

        // Group votes by leaf: each leaf's votes are contiguous.
        let mut by_leaf: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        for j in 0..m {
            let leaf = *position.get(&(leaf_trees[j], leaf_nodes[j])).ok_or_else(|| {
                format!(
                    "{prefix} weight {j} is for node {} of tree {}, which does not exist",
                    leaf_nodes[j], leaf_trees[j]
                )
            })?;
            let output = index(leaf_outputs[j], &format!("{prefix} id"))?;
            if output as usize >= n_outputs {
                return Err(format!("{prefix} id {output} is out of range: the model has {n_outputs} outputs"));
            }
            by_leaf[leaf as usize].push((output, leaf_weights[j]));
        }
        let mut votes = Vec::with_capacity(m);
        for (node, v) in nodes.iter_mut().zip(by_leaf) {
            if node.mode == Mode::Leaf {
                node.a = votes.len() as u32;
                votes.extend(v);
                node.b = votes.len() as u32;
            }
        }

        let aggregate = match at.string("aggregate_function", "SUM").as_str() {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            other => return Err(format!("unknown aggregate_function {other:?}; valid: SUM, AVERAGE, MIN, MAX")),
        };
        let post = match at.string("post_transform", "NONE").as_str() {
            "NONE" => PostTransform::None,
            "SOFTMAX" => PostTransform::Softmax,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => return Err("post_transform PROBIT is not supported by berth".into()),
            other => {
                return Err(format!(
                    "unknown post_transform {other:?}; valid: NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT"
                ));
            }
        };
        let base = at.reals("base_values")?;
        let single_column = votes.iter().all(|(o, _)| *o == votes.first().map_or(0, |v| v.0));
        let binary = if classifier && n_outputs == 2 && single_column && base.len() < 2 {
            if post == PostTransform::Logistic || votes.iter().any(|(_, w)| *w < 0.0) {
                Binary::Margin
            } else {
                Binary::Probability
            }
        } else {
            Binary::No
        };
        if !(base.is_empty() || base.len() == n_outputs || binary != Binary::No && base.len() == 1) {
            return Err(format!("base_values has {} entries; the model has {n_outputs} outputs", base.len()));
        }
        Ok(TreeEnsemble { roots, nodes, votes, n_outputs, n_features_used, aggregate, base, post, labels, binary })
    }

    fn leaf(&self, row: &[f32], root: u32) -> &Node {
        let mut node = &self.nodes[root as usize];
        // Children were checked to exist; a malformed cycle is cut at
        // `nodes.len()` steps rather than looping forever.
        for _ in 0..self.nodes.len() {
            if node.mode == Mode::Leaf {
                break;
            }
            let x = f64::from(row[node.feature as usize]);
            let t = node.threshold;
            let goes_true = if x.is_nan() {
                node.missing_goes_true
            } else {
                match node.mode {
                    Mode::Leq => x <= t,
                    Mode::Lt => x < t,
                    Mode::Gte => x >= t,
                    Mode::Gt => x > t,
                    Mode::Eq => x == t,
                    Mode::Neq => x != t,
                    Mode::Leaf => unreachable!(),
                }
            };
            node = &self.nodes[if goes_true { node.a } else { node.b } as usize];
        }
        node
    }

    /// Scores one row into `out` (`n_outputs` columns, after the base values
    /// and the post transform). `scratch` holds `n_outputs` entries.
    fn score_row(&self, row: &[f32], scratch: &mut [(f64, bool)], out: &mut [f32]) {
        scratch.fill((0.0, false));
        for &root in &self.roots {
            let leaf = self.leaf(row, root);
            if leaf.mode != Mode::Leaf {
                continue;
            }
            for &(o, w) in &self.votes[leaf.a as usize..leaf.b as usize] {
                let (s, seen) = &mut scratch[o as usize];
                *s = match self.aggregate {
                    Aggregate::Sum | Aggregate::Average => *s + w,
                    Aggregate::Min if *seen => s.min(w),
                    Aggregate::Max if *seen => s.max(w),
                    Aggregate::Min | Aggregate::Max => w,
                };
                *seen = true;
            }
        }
        let trees = self.roots.len() as f64;
        let mut scores: Vec<f64> =
            scratch.iter().map(|(s, _)| if self.aggregate == Aggregate::Average { s / trees } else { *s }).collect();
        if self.binary != Binary::No {
            let s = scores.iter().sum::<f64>() + self.base.first().copied().unwrap_or(0.0);
            let (p0, p1) = match (self.binary, self.post) {
                (_, PostTransform::Logistic) => (logistic(-s), logistic(s)),
                (Binary::Probability, _) => (1.0 - s, s),
                _ => (-s, s),
            };
            out[0] = p0 as f32;
            out[1] = p1 as f32;
            return;
        }
        for (s, b) in scores.iter_mut().zip(&self.base) {
            *s += b;
        }
        match self.post {
            PostTransform::None => {}
            PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic(*s)),
            PostTransform::Softmax => softmax(&mut scores, false),
            PostTransform::SoftmaxZero => softmax(&mut scores, true),
        }
        for (o, s) in out.iter_mut().zip(&scores) {
            *o = *s as f32;
        }
    }

    /// Scores a row-major `[rows, n_features]` batch into `[rows, n_outputs]`,
    /// splitting large batches across the machine's cores.
    pub fn eval(&self, input: &[f32], n_features: usize) -> Vec<f32> {
        let rows = input.len().checked_div(n_features).unwrap_or(0);
        let k = self.n_outputs;
        let mut out = vec![0f32; rows * k];
        let threads = berth_data::cores().min(rows / 4096).max(1);
        let score = |chunk_in: &[f32], chunk_out: &mut [f32]| {
            let mut scratch = vec![(0.0, false); k];
            for (row, o) in chunk_in.chunks_exact(n_features).zip(chunk_out.chunks_exact_mut(k)) {
                self.score_row(row, &mut scratch, o);
            }
        };
        if threads == 1 {
            score(input, &mut out);
            return out;
        }
        let per = rows.div_ceil(threads);
        std::thread::scope(|scope| {
            for (chunk_in, chunk_out) in input.chunks(per * n_features).zip(out.chunks_mut(per * k)) {
                scope.spawn(move || score(chunk_in, chunk_out));
            }
        });
        out
    }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Softmax over `v`; with `keep_zeros`, entries equal to zero stay zero and
/// are left out of the normaliser (ONNX's `SOFTMAX_ZERO`).
fn softmax(v: &mut [f64], keep_zeros: bool) {
    let max = v.iter().filter(|x| !keep_zeros || **x != 0.0).fold(f64::NEG_INFINITY, |m, x| m.max(*x));
    let mut sum = 0.0;
    for x in v.iter_mut() {
        if keep_zeros && *x == 0.0 {
            continue;
        }
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        for x in v.iter_mut() {
            *x /= sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr_ints(name: &str, v: &[i64]) -> pb::AttributeProto {
        pb::AttributeProto { name: name.into(), ints: v.to_vec(), ..Default::default() }
    }

    fn attr_floats(name: &str, v: &[f32]) -> pb::AttributeProto {
        pb::AttributeProto { name: name.into(), floats: v.to_vec(), ..Default::default() }
    }

    fn attr_str(name: &str, v: &str) -> pb::AttributeProto {
        pb::AttributeProto { name: name.into(), s: v.as_bytes().to_vec(), ..Default::default() }
    }

    /// Tree 0: x0 <= 0.5 ? 1 : 2 (NaN goes to the true side);
    /// tree 1: x1 == 3 ? 10 : 20.
    fn regressor(extra: Vec<pb::AttributeProto>) -> pb::NodeProto {
        let modes = ["BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_EQ", "LEAF", "LEAF"];
        let mut attribute = vec![
            attr_ints("nodes_treeids", &[0, 0, 0, 1, 1, 1]),
            attr_ints("nodes_nodeids", &[0, 1, 2, 0, 1, 2]),
            attr_ints("nodes_featureids", &[0, 0, 0, 1, 0, 0]),
            attr_floats("nodes_values", &[0.5, 0.0, 0.0, 3.0, 0.0, 0.0]),
            attr_ints("nodes_truenodeids", &[1, 0, 0, 1, 0, 0]),
            attr_ints("nodes_falsenodeids", &[2, 0, 0, 2, 0, 0]),
            attr_ints("nodes_missing_value_tracks_true", &[1, 0, 0, 0, 0, 0]),
            pb::AttributeProto {
                name: "nodes_modes".into(),
                strings: modes.iter().map(|m| m.as_bytes().to_vec()).collect(),
                ..Default::default()
            },
            attr_ints("target_treeids", &[0, 0, 1, 1]),
            attr_ints("target_nodeids", &[1, 2, 1, 2]),
            attr_ints("target_ids", &[0, 0, 0, 0]),
            attr_floats("target_weights", &[1.0, 2.0, 10.0, 20.0]),
        ];
        attribute.extend(extra);
        pb::NodeProto { op_type: "TreeEnsembleRegressor".into(), name: "t".into(), attribute, ..Default::default() }
    }

    #[test]
    fn branches_missing_values_and_aggregates() {
        let e = TreeEnsemble::from_node(&regressor(vec![]), false).unwrap();
        let x = [0.2, 3.0, 0.9, 3.0, f32::NAN, 4.0, 0.9, f32::NAN];
        assert_eq!(e.eval(&x, 2), vec![11.0, 12.0, 21.0, 22.0]);
        let avg = regressor(vec![attr_str("aggregate_function", "AVERAGE"), attr_floats("base_values", &[100.0])]);
        assert_eq!(TreeEnsemble::from_node(&avg, false).unwrap().eval(&x, 2), vec![105.5, 106.0, 110.5, 111.0]);
        let max = regressor(vec![attr_str("aggregate_function", "MAX")]);
        assert_eq!(TreeEnsemble::from_node(&max, false).unwrap().eval(&x, 2), vec![10.0, 10.0, 20.0, 20.0]);
    }

    #[test]
    fn malformed_ensembles_are_refused_with_the_reason() {
        let mut bad_child = regressor(vec![]);
        bad_child.attribute[4] = attr_ints("nodes_truenodeids", &[7, 0, 0, 1, 0, 0]);
        let e = TreeEnsemble::from_node(&bad_child, false).unwrap_err();
        assert!(e.contains("true child 7, which does not exist"), "{e}");
        let probit = regressor(vec![attr_str("post_transform", "PROBIT")]);
        assert!(TreeEnsemble::from_node(&probit, false).unwrap_err().contains("PROBIT"));
        let base = regressor(vec![attr_floats("base_values", &[1.0, 2.0])]);
        assert!(TreeEnsemble::from_node(&base, false).unwrap_err().contains("base_values has 2 entries"));
        let mut short = regressor(vec![]);
        short.attribute[3] = attr_floats("nodes_values", &[0.5]);
        assert!(TreeEnsemble::from_node(&short, false).unwrap_err().contains("nodes_values has 1 entries"));
        assert!(TreeEnsemble::from_node(&regressor(vec![]), true).unwrap_err().contains("no class labels"));
    }

    #[test]
    fn a_cycle_ends_instead_of_looping() {
        let mut cyclic = regressor(vec![]);
        // Tree 0's root points back to itself on the true side.
        cyclic.attribute[4] = attr_ints("nodes_truenodeids", &[0, 0, 0, 1, 0, 0]);
        let e = TreeEnsemble::from_node(&cyclic, false).unwrap();
        assert_eq!(e.eval(&[0.2, 3.0], 2), vec![10.0]);
    }
}
