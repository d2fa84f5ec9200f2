//! Feature binning for histogram gradient boosting. Each numeric feature's
//! training values are cut into at most `max_bins` bins (every distinct value
//! when there are fewer, else quantile midpoints, as scikit-learn does); a
//! categorical feature's bin is its level's code. Missing values (NaN) get a
//! bin of their own, [`MISSING_BIN`], after every value bin. The binned data
//! is one flat column-major array of bytes.

use crate::Encoded;

/// The bin that holds missing values; value bins are numbered below it.
pub(crate) const MISSING_BIN: u8 = 255;

/// The most value bins a feature can have (one byte per cell, one bin kept
/// for missing values).
pub(crate) const MAX_BINS: usize = 255;

/// How one feature's values map to bins.
#[derive(Debug, Clone)]
pub(crate) struct FeatureBins {
    /// Numeric: bin b holds `thresholds[b-1] < x <= thresholds[b]`, so there
    /// are `thresholds.len() + 1` value bins. Empty for a categorical feature.
    pub thresholds: Vec<f64>,
    /// Value bins in use (missing excluded).
    pub n_bins: usize,
    pub categorical: bool,
    /// Whether the training data had missing values in this feature.
    pub has_missing: bool,
}

impl FeatureBins {
    /// The bin of value `x`.
    pub fn bin_of(&self, x: f64) -> u8 {
        if x.is_nan() {
            return MISSING_BIN;
        }
        if self.categorical {
            return category_code(x, self.n_bins).map_or(MISSING_BIN, |c| c as u8);
        }
        self.thresholds.partition_point(|t| *t < x) as u8
    }

    /// The real-valued upper bound of bin `b` (a split at `b` sends
    /// `x <= threshold` left); the last bin has none, so +∞.
    pub fn upper_bound(&self, b: usize) -> f64 {
        self.thresholds.get(b).copied().unwrap_or(f64::INFINITY)
    }
}

/// The category code `x` stands for, if it is one of `levels` codes.
pub(crate) fn category_code(x: f64, levels: usize) -> Option<usize> {
    (x >= 0.0 && x.fract() == 0.0 && x < levels as f64).then_some(x as usize)
}

/// Thresholds that cut `values` (sorted, NaN removed) into at most
/// `max_bins` bins: midpoints between distinct values when there are few
/// enough, else the midpoint percentiles at `q / max_bins`, q = 1..max_bins.
fn thresholds(sorted: &[f64], max_bins: usize) -> Vec<f64> {
    let mut distinct = sorted.to_vec();
    distinct.dedup();
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2.0).collect();
    }
    let last = (sorted.len() - 1) as f64;
    let mut cuts: Vec<f64> = (1..max_bins)
        .map(|q| {
            let pos = q as f64 / max_bins as f64 * last;
            let (lo, hi) = (sorted[pos.floor() as usize], sorted[pos.ceil() as usize]);
            lo + (hi - lo) / 2.0
        })
        .collect();
    cuts.dedup();
    cuts
}

/// Learns every feature's bins from the rows of `x`. `levels[f]` is
/// `Some(n)` for a categorical feature whose cells hold codes 0..n.
pub(crate) fn fit(x: &Encoded, levels: &[Option<usize>], max_bins: usize) -> Vec<FeatureBins> {
    let (n, d) = (x.rows, x.cols);
    (0..d)
        .map(|f| {
            let mut col: Vec<f64> = (0..n).map(|i| x.data[i * d + f]).filter(|v| !v.is_nan()).collect();
            let has_missing = col.len() < n;
            match levels.get(f).copied().flatten() {
                Some(k) => FeatureBins { thresholds: Vec::new(), n_bins: k, categorical: true, has_missing },
                None => {
                    col.sort_by(f64::total_cmp);
                    let thresholds = if col.is_empty() { Vec::new() } else { thresholds(&col, max_bins) };
                    let n_bins = thresholds.len() + 1;
                    FeatureBins { thresholds, n_bins, categorical: false, has_missing }
                }
            }
        })
        .collect()
}

/// Rows cut into bins, column-major: feature f's bins are
/// `data[f * rows .. (f + 1) * rows]`.
pub(crate) struct Binned {
    pub rows: usize,
    pub data: Vec<u8>,
}

impl Binned {
    pub fn new(x: &Encoded, bins: &[FeatureBins]) -> Binned {
        let (n, d) = (x.rows, x.cols);
        let mut data = vec![0u8; n * d];
        for (f, fb) in bins.iter().enumerate() {
            let col = &mut data[f * n..(f + 1) * n];
            for (i, c) in col.iter_mut().enumerate() {
                *c = fb.bin_of(x.data[i * d + f]);
            }
        }
        Binned { rows: n, data }
    }

    pub fn column(&self, f: usize) -> &[u8] {
        &self.data[f * self.rows..(f + 1) * self.rows]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(col: &[f64]) -> Encoded {
        Encoded { rows: col.len(), cols: 1, data: col.to_vec() }
    }

    #[test]
    fn few_distinct_values_get_a_bin_each_and_nan_the_missing_bin() {
        let x = encoded(&[3.0, 1.0, f64::NAN, 2.0, 1.0]);
        let b = fit(&x, &[None], 255);
        assert_eq!(b[0].thresholds, [1.5, 2.5]);
        assert!(b[0].has_missing);
        let binned = Binned::new(&x, &b);
        assert_eq!(binned.column(0), [2, 0, MISSING_BIN, 1, 0]);
        assert_eq!(b[0].upper_bound(2), f64::INFINITY);
    }

    #[test]
    fn many_values_are_cut_at_quantiles() {
        let col: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
        let b = fit(&encoded(&col), &[None], 255);
        assert_eq!(b[0].n_bins, 255);
        let binned = Binned::new(&encoded(&col), &b);
        let mut counts = [0usize; 256];
        binned.column(0).iter().for_each(|v| counts[*v as usize] += 1);
        assert!(counts[..255].iter().all(|c| (38..=41).contains(c)), "{counts:?}");
    }

    #[test]
    fn categories_are_their_codes() {
        let x = encoded(&[0.0, 2.0, f64::NAN, 1.0, 7.0]);
        let b = fit(&x, &[Some(3)], 255);
        assert_eq!(Binned::new(&x, &b).column(0), [0, 2, MISSING_BIN, 1, MISSING_BIN]);
    }
}
