//! Data drift between a reference and the evaluation data, column by column.
//!
//! - Numeric columns: two-sample Kolmogorov–Smirnov (or the z-test on means
//!   that the seeds use), PSI over the reference's deciles, and the
//!   Wasserstein distance divided by the reference's standard deviation.
//! - Categorical columns: chi-square on the 2 × k contingency table
//!   (reference counts against current counts — a two-sample test, not a
//!   one-sample test against reference frequencies), PSI and the
//!   Jensen–Shannon distance.
//!
//! The p-values of all tested columns are adjusted together (Holm by
//! default, or Benjamini–Hochberg). A column drifts when its adjusted p-value
//! is below α **and** its effect size reaches the floor (normalised
//! Wasserstein for numbers, Jensen–Shannon for categories): with a million
//! rows, a shift nobody cares about is still "significant". The dataset
//! drifts when more than `max_drifted_share` of the columns drift.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::gate::{Correction, DriftSpec, NumericTest};
use crate::stats;

/// One column's reference: a sample of its values, or its category counts.
#[derive(Debug, Clone)]
pub enum Reference {
    /// `sorted`: finite values, ascending (a profile's sample or all of a
    /// reference file's values); `mean`, `std` (n − 1) and `count` describe
    /// the whole column.
    Numeric {
        sorted: Vec<f64>,
        mean: f64,
        std: f64,
        count: u64,
    },
    /// Every finite value of a reference column, unsorted: the worker that
    /// tests the column sorts it, so that columns sort in parallel.
    Column(Vec<f64>),
    Categorical {
        counts: BTreeMap<String, u64>,
    },
}

/// One column of the evaluation data.
#[derive(Debug, Clone)]
pub enum Current {
    /// Finite values (nulls and NaN left out).
    Numeric(Vec<f64>),
    Categorical(BTreeMap<String, u64>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDrift {
    pub column: String,
    pub kind: &'static str,
    /// `ks`, `z` or `chi2`.
    pub test: &'static str,
    pub statistic: f64,
    pub p_value: f64,
    /// After the correction for testing many columns.
    pub p_adjusted: f64,
    pub psi: f64,
    /// Numeric columns: Wasserstein distance / reference std.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wasserstein_norm: Option<f64>,
    /// Categorical columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jensen_shannon: Option<f64>,
    pub drifted: bool,
    /// Why the column was not tested (an empty side), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    pub columns: Vec<ColumnDrift>,
    pub tested: usize,
    pub drifted: usize,
    pub share: f64,
    pub max_drifted_share: f64,
    pub dataset_drift: bool,
    pub alpha: f64,
    pub correction: Correction,
}

/// One column's outcome before the correction: its name, its kind, and
/// its test results or why it was skipped.
type Tested = (String, &'static str, Result<Raw, String>);

struct Raw {
    test: &'static str,
    statistic: f64,
    p_value: f64,
    psi: f64,
    wasserstein_norm: Option<f64>,
    jensen_shannon: Option<f64>,
}

fn proportions(counts: &[f64]) -> Vec<f64> {
    let total: f64 = counts.iter().sum();
    counts.iter().map(|c| if total > 0.0 { c / total } else { 0.0 }).collect()
}

/// Counts of `sorted` values in the bins cut at `edges` (a value equal to an
/// edge falls in the bin above it).
fn bin_counts(sorted: &[f64], edges: &[f64]) -> Vec<f64> {
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

/// Sorts ascending with `-0.0` folded into `0.0`, as the statistics expect.
fn sort_folded(v: &mut [f64]) {
    v.iter_mut().for_each(|x| *x += 0.0);
    stats::sort_f64(v);
}

fn numeric(
    reference: &[f64],
    mean: f64,
    std: f64,
    count: u64,
    mut current: Vec<f64>,
    test: NumericTest,
) -> Result<Raw, String> {
    // Sorted once; the KS test, the PSI bins and Wasserstein share it.
    sort_folded(&mut current);
    if let Some(i) = current.iter().chain(reference).position(|v| !v.is_finite()) {
        return Err(format!("value {i} is not finite"));
    }
    let (statistic, p_value, name) = match test {
        NumericTest::Ks => {
            let r = stats::ks_2samp_sorted(reference, &current);
            (r.statistic, r.pvalue, "ks")
        }
        NumericTest::Z => {
            let n = current.len() as f64;
            let m = current.iter().sum::<f64>() / n;
            let var = if n > 1.0 { current.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
            let se = (std * std / count as f64 + var / n).sqrt();
            let z = if se > 0.0 {
                (m - mean) / se
            } else if m == mean {
                0.0
            } else {
                f64::INFINITY
            };
            (z, 2.0 * stats::normal_sf(z.abs()), "z")
        }
    };
    // Deciles of the reference as PSI bins.
    let mut edges: Vec<f64> = (1..10).map(|q| berth_data::quantile_sorted(reference, q as f64 / 10.0)).collect();
    edges.dedup();
    let psi = stats::psi(&proportions(&bin_counts(reference, &edges)), &proportions(&bin_counts(&current, &edges)))
        .map_err(|e| e.to_string())?;
    let w = stats::wasserstein_sorted(reference, &current);
    Ok(Raw {
        test: name,
        statistic,
        p_value,
        psi,
        wasserstein_norm: Some(if std > 0.0 { w / std } else { w }),
        jensen_shannon: None,
    })
}

fn categorical(reference: &BTreeMap<String, u64>, current: &BTreeMap<String, u64>) -> Result<Raw, String> {
    let mut keys: Vec<&String> = reference.keys().chain(current.keys()).collect();
    keys.sort();
    keys.dedup();
    let r: Vec<f64> = keys.iter().map(|k| reference.get(*k).copied().unwrap_or(0) as f64).collect();
    let c: Vec<f64> = keys.iter().map(|k| current.get(*k).copied().unwrap_or(0) as f64).collect();
    let (pr, pc) = (proportions(&r), proportions(&c));
    let (statistic, p_value) = if keys.len() < 2 {
        // One category on both sides: nothing can have shifted.
        (0.0, 1.0)
    } else {
        let t = stats::chi2_contingency(&[r, c]).map_err(|e| e.to_string())?;
        (t.statistic, t.pvalue)
    };
    Ok(Raw {
        test: "chi2",
        statistic,
        p_value,
        psi: stats::psi(&pr, &pc).map_err(|e| e.to_string())?,
        wasserstein_norm: None,
        jensen_shannon: Some(stats::jensenshannon(&pr, &pc).map_err(|e| e.to_string())?),
    })
}

fn raw(reference: Reference, current: Current, spec: &DriftSpec) -> Result<Raw, String> {
    let reference = match reference {
        Reference::Column(mut v) => {
            sort_folded(&mut v);
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let std =
                if n > 1.0 { (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
            Reference::Numeric { count: v.len() as u64, sorted: v, mean, std }
        }
        r => r,
    };
    match (&reference, current) {
        (Reference::Numeric { sorted, .. }, Current::Numeric(c)) if sorted.is_empty() || c.is_empty() => {
            Err(format!("no values to compare ({} in the reference, {} now)", sorted.len(), c.len()))
        }
        (Reference::Numeric { sorted, mean, std, count }, Current::Numeric(c)) => {
            numeric(sorted, *mean, *std, *count, c, spec.numeric_test)
        }
        (Reference::Categorical { counts }, Current::Categorical(c)) => {
            if counts.values().sum::<u64>() == 0 || c.values().sum::<u64>() == 0 {
                return Err("no values to compare".into());
            }
            categorical(counts, &c)
        }
        (Reference::Numeric { .. } | Reference::Column(_), Current::Categorical(_)) => {
            Err("numeric in the reference, categorical in the data".into())
        }
        (Reference::Categorical { .. }, Current::Numeric(_)) => {
            Err("categorical in the reference, numeric in the data".into())
        }
        (Reference::Column(_), Current::Numeric(_)) => unreachable!("made Numeric above"),
    }
}

/// Tests every column (in parallel across the machine's cores) and decides.
pub fn drift(columns: Vec<(String, Reference, Current)>, spec: &DriftSpec) -> DriftReport {
    let threads = berth_data::cores().min(columns.len()).max(1);
    let n = columns.len();
    // Workers take the next column from a shared queue, so a few large
    // columns do not end up on the same core.
    let queue = std::sync::Mutex::new(columns.into_iter().enumerate());
    let mut results: Vec<Option<Tested>> = Vec::new();
    results.resize_with(n, || None);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                        let Some((i, (name, r, c))) = next else { break };
                        let kind = if matches!(r, Reference::Categorical { .. }) { "categorical" } else { "numeric" };
                        done.push((i, name, kind, raw(r, c, spec)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            for (i, name, kind, r) in h.join().expect("a drift worker panicked") {
                results[i] = Some((name, kind, r));
            }
        }
    });
    let results: Vec<Tested> = results.into_iter().flatten().collect();

    let tested: Vec<usize> = (0..results.len()).filter(|i| results[*i].2.is_ok()).collect();
    let pvalues: Vec<f64> = tested.iter().map(|i| results[*i].2.as_ref().map_or(1.0, |r| r.p_value)).collect();
    let adjusted = match spec.correction {
        _ if pvalues.is_empty() => Ok(vec![]),
        Correction::Holm => stats::holm(&pvalues),
        Correction::Bh => stats::benjamini_hochberg(&pvalues),
        Correction::None => Ok(pvalues.clone()),
    }
    // p-values from the tests above are always in [0, 1].
    .unwrap_or_else(|_| pvalues.clone());
    let mut adjusted_of = BTreeMap::new();
    for (k, i) in tested.iter().enumerate() {
        adjusted_of.insert(*i, adjusted[k]);
    }
    let columns: Vec<ColumnDrift> = results
        .into_iter()
        .enumerate()
        .map(|(i, (column, kind, r))| match r {
            Ok(r) => {
                let p_adjusted = adjusted_of[&i];
                let effect_ok = match (r.wasserstein_norm, r.jensen_shannon) {
                    (Some(w), _) => w >= spec.min_wasserstein,
                    (None, Some(js)) => js >= spec.min_jensen_shannon,
                    _ => true,
                };
                ColumnDrift {
                    column,
                    kind,
                    test: r.test,
                    statistic: r.statistic,
                    p_value: r.p_value,
                    p_adjusted,
                    psi: r.psi,
                    wasserstein_norm: r.wasserstein_norm,
                    jensen_shannon: r.jensen_shannon,
                    drifted: p_adjusted < spec.alpha && effect_ok,
                    skipped: None,
                }
            }
            Err(why) => ColumnDrift {
                column,
                kind,
                test: "none",
                statistic: f64::NAN,
                p_value: f64::NAN,
                p_adjusted: f64::NAN,
                psi: f64::NAN,
                wasserstein_norm: None,
                jensen_shannon: None,
                drifted: false,
                skipped: Some(why),
            },
        })
        .collect();
    let drifted = columns.iter().filter(|c| c.drifted).count();
    let share = if tested.is_empty() { 0.0 } else { drifted as f64 / tested.len() as f64 };
    DriftReport {
        tested: tested.len(),
        drifted,
        share,
        max_drifted_share: spec.max_drifted_share,
        dataset_drift: share > spec.max_drifted_share,
        alpha: spec.alpha,
        correction: spec.correction,
        columns,
    }
}

impl Reference {
    /// From a reference profile's column.
    pub fn from_profile(p: &berth_data::ColumnProfile) -> Reference {
        match p {
            berth_data::ColumnProfile::Numeric(n) => {
                let mut sorted = n.sample.clone();
                sort_folded(&mut sorted);
                Reference::Numeric { sorted, mean: n.mean, std: n.std, count: n.count - n.nan }
            }
            berth_data::ColumnProfile::Categorical(c) => Reference::Categorical { counts: c.frequencies.clone() },
        }
    }

    /// From a whole reference column (every value, not a sample).
    pub fn from_column(c: &berth_data::Column) -> Reference {
        match Current::from_column(c) {
            Current::Numeric(v) => Reference::Column(v),
            Current::Categorical(counts) => Reference::Categorical { counts },
        }
    }
}

impl Current {
    pub fn from_column(c: &berth_data::Column) -> Current {
        match &c.data {
            berth_data::ColumnData::Str { levels, codes } => {
                let mut by_code = vec![0u64; levels.len()];
                for (i, code) in codes.iter().enumerate() {
                    if !c.is_null(i) {
                        by_code[*code as usize] += 1;
                    }
                }
                Current::Categorical(levels.iter().cloned().zip(by_code).filter(|(_, n)| *n > 0).collect())
            }
            berth_data::ColumnData::Float(v) if c.valid.is_none() => {
                Current::Numeric(v.iter().copied().filter(|x| x.is_finite()).collect())
            }
            _ => Current::Numeric((0..c.len()).filter_map(|i| c.as_f64(i)).filter(|v| v.is_finite()).collect()),
        }
    }
}
