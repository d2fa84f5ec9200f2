//! The trees histogram gradient boosting predicts with. A split sends a row
//! left when its value is at most the threshold (numeric) or its category
//! code is in the split's set (categorical); a missing value (NaN) goes the
//! way the split learned. Nodes are in depth-first order, so a split's left
//! child is always the next node; leaves hold their value, the learning rate
//! included.
//!
//! Serialised compactly as base64 of little-endian arrays: every node's
//! feature (i32, -1 for a leaf); for splits only, their threshold (f64),
//! right child (u32) and flags (u8: 1 = missing values go left,
//! 2 = categorical); for categorical splits only, the set of codes going left
//! (four u64 words, bit c for code c); for leaves only, their value (f64).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::bins::category_code;

/// A fitted tree of histogram gradient boosting, held as one record per
/// node so a prediction walks one array.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistTree {
    nodes: Vec<Node>,
    /// The category codes each categorical split sends left (bit c for code c).
    sets: Vec<[u64; 4]>,
}

/// One node: 24 bytes, so a path through a tree touches few cache lines.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    /// A numeric split's threshold, or a leaf's value.
    value: f64,
    /// The feature a split reads; -1 for a leaf.
    feature: i32,
    /// A split's right child (its left child is the next node).
    right: u32,
    /// A categorical split's index in `sets`.
    set: u32,
    /// [`MISSING_LEFT`] and [`CATEGORICAL`].
    flags: u8,
}

const MISSING_LEFT: u8 = 1;
const CATEGORICAL: u8 = 2;

impl HistTree {
    pub(crate) fn push_leaf(&mut self, value: f64) {
        self.nodes.push(Node { value, feature: -1, right: 0, set: 0, flags: 0 });
    }

    pub(crate) fn push_split(&mut self, feature: usize, threshold: f64, missing_left: bool, set: Option<[u64; 4]>) {
        let mut flags = if missing_left { MISSING_LEFT } else { 0 };
        let index = match set {
            Some(words) => {
                flags |= CATEGORICAL;
                self.sets.push(words);
                self.sets.len() as u32 - 1
            }
            None => 0,
        };
        // A categorical split has no threshold.
        let value = if set.is_some() { 0.0 } else { threshold };
        self.nodes.push(Node { value, feature: feature as i32, right: 0, set: index, flags });
    }

    /// The number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Points split `node` at its right child.
    pub(crate) fn set_right(&mut self, node: usize, right: usize) {
        self.nodes[node].right = right as u32;
    }

    /// Replaces leaf `node`'s value.
    pub(crate) fn set_leaf_value(&mut self, node: usize, value: f64) {
        debug_assert!(self.nodes[node].feature < 0, "node {node} is a split");
        self.nodes[node].value = value;
    }

    /// The value of the leaf `row` reaches.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            let n = &self.nodes[i];
            if n.feature < 0 {
                return n.value;
            }
            let x = row[n.feature as usize];
            let left = if x.is_nan() {
                n.flags & MISSING_LEFT != 0
            } else if n.flags & CATEGORICAL != 0 {
                let set = &self.sets[n.set as usize];
                category_code(x, 256).is_some_and(|c| set[c / 64] >> (c % 64) & 1 == 1)
            } else {
                x <= n.value
            };
            i = if left { i + 1 } else { n.right as usize };
        }
    }

    /// Checks the structure of a tree read from a file: features are in
    /// range, children point forward and sets exist, so prediction always
    /// terminates.
    pub fn is_well_formed(&self, n_features: usize) -> bool {
        let n = self.nodes.len();
        n > 0
            && self.nodes.iter().enumerate().all(|(i, node)| {
                node.feature < 0
                    || ((node.feature as usize) < n_features
                        && (node.right as usize) < n
                        && node.right as usize > i + 1
                        && (node.flags & CATEGORICAL == 0 || (node.set as usize) < self.sets.len()))
            })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repr {
    nodes: usize,
    feature: String,
    threshold: String,
    right: String,
    flags: String,
    categories: String,
    value: String,
}

impl Serialize for HistTree {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut b: [Vec<u8>; 6] = Default::default();
        let [feature, threshold, right, flags, categories, value] = &mut b;
        for n in &self.nodes {
            feature.extend_from_slice(&n.feature.to_le_bytes());
            if n.feature < 0 {
                value.extend_from_slice(&n.value.to_le_bytes());
                continue;
            }
            threshold.extend_from_slice(&n.value.to_le_bytes());
            right.extend_from_slice(&n.right.to_le_bytes());
            if n.flags & CATEGORICAL != 0 {
                self.sets[n.set as usize].iter().for_each(|w| categories.extend_from_slice(&w.to_le_bytes()));
            }
            flags.push(n.flags);
        }
        Repr {
            nodes: self.nodes.len(),
            feature: B64.encode(feature),
            threshold: B64.encode(threshold),
            right: B64.encode(right),
            flags: B64.encode(flags),
            categories: B64.encode(categories),
            value: B64.encode(value),
        }
        .serialize(s)
    }
}

fn words<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes.chunks_exact(N).map(|c| c.try_into().expect("chunks are N bytes"))
}

impl<'de> Deserialize<'de> for HistTree {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = Repr::deserialize(d)?;
        let decode = |field: &str, text: &str| {
            B64.decode(text).map_err(|e| D::Error::custom(format!("histogram tree {field}: {e}")))
        };
        let feature: Vec<i32> = words::<4>(&decode("feature", &r.feature)?).map(i32::from_le_bytes).collect();
        if feature.len() != r.nodes {
            return Err(D::Error::custom("histogram tree: the node count and the features disagree"));
        }
        let threshold: Vec<f64> = words::<8>(&decode("threshold", &r.threshold)?).map(f64::from_le_bytes).collect();
        let right: Vec<u32> = words::<4>(&decode("right", &r.right)?).map(u32::from_le_bytes).collect();
        let flags = decode("flags", &r.flags)?;
        let categories: Vec<u64> = words::<8>(&decode("categories", &r.categories)?).map(u64::from_le_bytes).collect();
        let value: Vec<f64> = words::<8>(&decode("value", &r.value)?).map(f64::from_le_bytes).collect();
        let splits = feature.iter().filter(|f| **f >= 0).count();
        let categorical = flags.iter().filter(|f| *f & CATEGORICAL != 0).count();
        if threshold.len() != splits
            || right.len() != splits
            || flags.len() != splits
            || categories.len() != categorical * 4
            || value.len() != r.nodes - splits
        {
            return Err(D::Error::custom("histogram tree: array lengths do not match the nodes"));
        }
        let mut t = HistTree::default();
        let (mut split, mut leaf, mut cat) = (0, 0, 0);
        for f in feature {
            if f < 0 {
                t.push_leaf(value[leaf]);
                leaf += 1;
                continue;
            }
            let set = (flags[split] & CATEGORICAL != 0).then(|| {
                cat += 4;
                [categories[cat - 4], categories[cat - 3], categories[cat - 2], categories[cat - 1]]
            });
            // A negative feature is a leaf, so the cast keeps the value.
            t.push_split(f as usize, threshold[split], flags[split] & MISSING_LEFT != 0, set);
            let me = t.len() - 1;
            t.set_right(me, right[split] as usize);
            split += 1;
        }
        Ok(t)
    }
}
