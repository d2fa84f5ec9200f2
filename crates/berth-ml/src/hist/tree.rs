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

/// A fitted tree of histogram gradient boosting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistTree {
    pub feature: Vec<i32>,
    pub threshold: Vec<f64>,
    pub right: Vec<u32>,
    pub missing_left: Vec<bool>,
    /// The category codes a categorical split sends left.
    pub categories: Vec<Option<[u64; 4]>>,
    pub value: Vec<f64>,
}

const MISSING_LEFT: u8 = 1;
const CATEGORICAL: u8 = 2;

impl HistTree {
    pub(crate) fn push_leaf(&mut self, value: f64) {
        self.push(-1, 0.0, false, None, value);
    }

    pub(crate) fn push_split(&mut self, feature: usize, threshold: f64, missing_left: bool, set: Option<[u64; 4]>) {
        self.push(feature as i32, threshold, missing_left, set, 0.0);
    }

    fn push(&mut self, feature: i32, threshold: f64, missing_left: bool, set: Option<[u64; 4]>, value: f64) {
        self.feature.push(feature);
        self.threshold.push(threshold);
        self.right.push(0);
        self.missing_left.push(missing_left);
        self.categories.push(set);
        self.value.push(value);
    }

    /// The value of the leaf `row` reaches.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut i = 0;
        while self.feature[i] >= 0 {
            let x = row[self.feature[i] as usize];
            let left = if x.is_nan() {
                self.missing_left[i]
            } else if let Some(set) = &self.categories[i] {
                category_code(x, 256).is_some_and(|c| set[c / 64] >> (c % 64) & 1 == 1)
            } else {
                x <= self.threshold[i]
            };
            i = if left { i + 1 } else { self.right[i] as usize };
        }
        self.value[i]
    }

    /// Checks the structure of a tree read from a file: every array has a
    /// value per node, features are in range and children point forward, so
    /// prediction always terminates.
    pub fn is_well_formed(&self, n_features: usize) -> bool {
        let n = self.feature.len();
        n > 0
            && [
                self.threshold.len(),
                self.right.len(),
                self.missing_left.len(),
                self.categories.len(),
                self.value.len(),
            ]
            .iter()
            .all(|l| *l == n)
            && (0..n).all(|i| {
                self.feature[i] < 0
                    || ((self.feature[i] as usize) < n_features
                        && (self.right[i] as usize) < n
                        && self.right[i] as usize > i + 1)
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
        for i in 0..self.feature.len() {
            feature.extend_from_slice(&self.feature[i].to_le_bytes());
            if self.feature[i] < 0 {
                value.extend_from_slice(&self.value[i].to_le_bytes());
                continue;
            }
            threshold.extend_from_slice(&self.threshold[i].to_le_bytes());
            right.extend_from_slice(&self.right[i].to_le_bytes());
            let mut flag = if self.missing_left[i] { MISSING_LEFT } else { 0 };
            if let Some(set) = &self.categories[i] {
                flag |= CATEGORICAL;
                set.iter().for_each(|w| categories.extend_from_slice(&w.to_le_bytes()));
            }
            flags.push(flag);
        }
        Repr {
            nodes: self.feature.len(),
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
                t.push(f, 0.0, false, None, value[leaf]);
                leaf += 1;
                continue;
            }
            let set = (flags[split] & CATEGORICAL != 0).then(|| {
                cat += 4;
                [categories[cat - 4], categories[cat - 3], categories[cat - 2], categories[cat - 1]]
            });
            t.push(f, threshold[split], flags[split] & MISSING_LEFT != 0, set, 0.0);
            *t.right.last_mut().expect("just pushed") = right[split];
            split += 1;
        }
        Ok(t)
    }
}
