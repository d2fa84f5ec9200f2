//! The bins PSI is counted in, one definition for the gate's drift report
//! and for anything that counts live values one at a time (a server's
//! rolling window): numbers fall into the bins cut at the reference's
//! deciles (a value equal to an edge falls in the bin above it, `-0.0` is
//! `0.0`), text into the reference's categories, with a category the
//! reference never saw as a bin of its own that the reference holds none of.

use std::collections::BTreeMap;

use berth_data::ColumnProfile;

use crate::stats;

/// The reference's deciles (NumPy's interpolation), repeated edges dropped:
/// where PSI cuts a numeric column.
pub fn decile_edges(sorted_reference: &[f64]) -> Vec<f64> {
    let mut edges: Vec<f64> = (1..10).map(|q| berth_data::quantile_sorted(sorted_reference, q as f64 / 10.0)).collect();
    edges.dedup();
    edges
}

/// The bin of `x` among the bins cut at `edges`.
pub fn bin_of(edges: &[f64], x: f64) -> usize {
    let x = x + 0.0;
    edges.partition_point(|e| *e <= x)
}

/// Counts of `sorted` values in the bins cut at `edges`.
pub fn bin_counts(sorted: &[f64], edges: &[f64]) -> Vec<f64> {
    let mut counts = Vec::with_capacity(edges.len() + 1);
    let mut start = 0;
    for e in edges {
        let end = sorted.partition_point(|v| v < e);
        counts.push((end - start) as f64);
        start = end;
    }
    counts.push((sorted.len() - start) as f64);
    counts
}

/// Counts as proportions of their total (all zero when the total is).
pub fn proportions(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts.iter().map(|c| if total > 0.0 { c / total } else { 0.0 }).collect()
}

/// A reference column's bins and what share of the reference fell in each.
#[derive(Debug, Clone, PartialEq)]
pub enum Bins {
    Numeric {
        edges: Vec<f64>,
        expected: Vec<f64>,
    },
    /// Categories in name order, as the gate lists them.
    Categorical {
        levels: Vec<String>,
        expected: Vec<f64>,
    },
}

impl Bins {
    /// The bins of a profiled column; `None` when the profile holds no
    /// finite value or no category to compare against.
    pub fn from_profile(p: &ColumnProfile) -> Option<Bins> {
        match p {
            ColumnProfile::Numeric(n) if !n.sample.is_empty() => {
                let mut sorted = n.sample.clone();
                sorted.iter_mut().for_each(|x| *x += 0.0);
                stats::sort_f64(&mut sorted);
                let edges = decile_edges(&sorted);
                let expected = proportions(&bin_counts(&sorted, &edges));
                Some(Bins::Numeric { edges, expected })
            }
            ColumnProfile::Categorical(c) if c.frequencies.values().any(|n| *n > 0) => {
                Some(Bins::categorical(&c.frequencies))
            }
            _ => None,
        }
    }

    fn categorical(counts: &BTreeMap<String, u64>) -> Bins {
        let levels: Vec<String> = counts.keys().cloned().collect();
        let expected = proportions(&counts.values().map(|n| *n as f64).collect::<Vec<_>>());
        Bins::Categorical { levels, expected }
    }

    /// How many bins values of the reference can fall in.
    pub fn len(&self) -> usize {
        match self {
            Bins::Numeric { expected, .. } | Bins::Categorical { expected, .. } => expected.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// PSI of `counts` against the reference: one count per bin, then (for
    /// categories) one per category the reference never saw, in any order.
    /// `None` when no value was counted.
    pub fn psi(&self, counts: &[u64]) -> Option<f64> {
        let actual = proportions(&counts.iter().map(|n| *n as f64).collect::<Vec<_>>());
        if actual.iter().all(|p| *p == 0.0) {
            return None;
        }
        let mut expected = match self {
            Bins::Numeric { expected, .. } | Bins::Categorical { expected, .. } => expected.clone(),
        };
        expected.resize(actual.len().max(expected.len()), 0.0);
        stats::psi(&expected, &actual).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_fall_in_the_bin_above_and_negative_zero_is_zero() {
        let edges = [0.0, 1.0, 2.0];
        assert_eq!(bin_of(&edges, -1.0), 0);
        assert_eq!(bin_of(&edges, -0.0), 1);
        assert_eq!(bin_of(&edges, 0.5), 1);
        assert_eq!(bin_of(&edges, 2.0), 3);
        let sorted = [-1.0, 0.0, 0.5, 2.0, 9.0];
        let by_one: Vec<usize> = sorted.iter().map(|x| bin_of(&edges, *x)).collect();
        let counts = bin_counts(&sorted, &edges);
        for (b, n) in counts.iter().enumerate() {
            assert_eq!(*n as usize, by_one.iter().filter(|x| **x == b).count());
        }
    }

    #[test]
    fn an_unseen_category_is_a_bin_the_reference_holds_none_of() {
        let bins = Bins::categorical(&BTreeMap::from([("a".into(), 3), ("b".into(), 1)]));
        assert_eq!(bins.psi(&[3, 1]), Some(0.0));
        let with_unseen = bins.psi(&[3, 1, 4]).unwrap();
        let by_hand = stats::psi(&[0.75, 0.25, 0.0], &[3.0 / 8.0, 1.0 / 8.0, 0.5]).unwrap();
        assert_eq!(with_unseen, by_hand);
        assert_eq!(bins.psi(&[0, 0]), None);
    }
}
