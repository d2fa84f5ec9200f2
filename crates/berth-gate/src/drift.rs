//! Data drift between a reference and the evaluation data, column by column.
//!
//! - Numeric columns: two-sample Kolmogorov–Smirnov by default; or the
//!   z-test on means, which sees a moved mean and nothing else (a column
//!   scaled 1.5× around the same mean passes it), so Levene's test on the
//!   spread runs beside it and the column's p-value is the Bonferroni
//!   combination of the two (twice the smaller, at most 1: the column is
//!   still one test at level α); or Levene's test alone. Also PSI over the
//!   reference's deciles, and the Wasserstein distance divided by the
//!   reference's standard deviation.
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
//!
//! Some columns are not tested unless the gate's `[drift] include` names
//! them, because they differ between any two windows of data by
//! construction, and "drifted" would say nothing about the model's inputs:
//!
//! - timestamp columns (data from a later window is later);
//! - identifiers: a column named `id`, `uuid` or `guid`, or ending in `_id`,
//!   `-id`, `.id`, `_uuid` or `Id` (`userId`); a text column of at least
//!   [`DISTINCT_AT_LEAST`] values, all distinct (keys, not categories); an
//!   integer column of at least that many values, all distinct, that is in
//!   strictly increasing or decreasing row order or fills at least half of
//!   the integers between its smallest and largest value (a counter or a
//!   sequence number). An all-distinct integer column that is neither — a
//!   price in cents, say — is a measurement, and is tested.
//!
//! They are listed in the report, each with the reason.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bins::{bin_counts, decile_edges, proportions};
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
    /// A column drift does not test unless the gate's `include` names it,
    /// with its values for when it does.
    Untested(Untested, Box<Current>),
}

/// The fewest values from which "every value is distinct" marks a column
/// as an identifier: below it, distinct values are no evidence.
pub const DISTINCT_AT_LEAST: usize = 20;

/// Why a column is left untested by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untested {
    /// Seconds since the epoch: later in any later window.
    Timestamp,
    /// An identifier, and what shows it.
    Identifier(String),
}

impl std::fmt::Display for Untested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Untested::Timestamp => write!(f, "a timestamp column: data from a later window differs by construction"),
            Untested::Identifier(why) => write!(f, "an identifier ({why}): its values label rows, not measure them"),
        }
    }
}

/// Whether a column's name marks it as an identifier: `id`, `uuid`, `guid`
/// in any case, a `_id`, `-id`, `.id` or `_uuid` suffix, or camel case ending in
/// `Id` or `ID` after a lowercase letter or digit (`userId`, `orderID`).
pub fn named_like_identifier(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if matches!(lower.as_str(), "id" | "uuid" | "guid") {
        return true;
    }
    if ["_id", "-id", "_uuid", ".id"].iter().any(|s| lower.ends_with(s)) {
        return true;
    }
    let bytes = name.as_bytes();
    let n = bytes.len();
    n >= 3
        && (name.ends_with("Id") || name.ends_with("ID"))
        && (bytes[n - 3].is_ascii_lowercase() || bytes[n - 3].is_ascii_digit())
}

/// Integers that look like a counter: at least [`DISTINCT_AT_LEAST`] of
/// them, all distinct, and either strictly monotone in row order or filling
/// at least half of the range between their extremes.
fn counter_like(values: &[i64]) -> bool {
    if values.len() < DISTINCT_AT_LEAST {
        return false;
    }
    let increasing = values.windows(2).all(|w| w[0] < w[1]);
    let decreasing = values.windows(2).all(|w| w[0] > w[1]);
    if increasing || decreasing {
        return true;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return false;
    }
    let span = (sorted[sorted.len() - 1] as i128 - sorted[0] as i128 + 1) as f64;
    values.len() as f64 >= span / 2.0
}

/// One test's result on one column.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestOutcome {
    /// `ks`, `z`, `levene` or `chi2`.
    pub test: &'static str,
    pub statistic: f64,
    pub p_value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDrift {
    pub column: String,
    /// `numeric`, `categorical` or `timestamp`.
    pub kind: &'static str,
    /// The test behind `p_value`: `ks`, `z`, `levene` or `chi2`; `z+levene`
    /// when both ran (`tests` has each); `none` when the column was skipped.
    pub test: &'static str,
    /// The (first) test's statistic.
    pub statistic: f64,
    /// The column's p-value: its test's, or with two tests the Bonferroni
    /// combination (twice the smaller, at most 1).
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
    /// Each test's own result, when more than one ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestOutcome>,
    /// Why the column was not tested (a timestamp, an identifier, an empty
    /// side), if so.
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
    /// One or two tests; the first names the column's statistic.
    outcomes: Vec<TestOutcome>,
    psi: f64,
    wasserstein_norm: Option<f64>,
    jensen_shannon: Option<f64>,
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
    spec: &DriftSpec,
) -> Result<Raw, String> {
    // Sorted once; the KS test, Levene's medians, the PSI bins and
    // Wasserstein share it.
    sort_folded(&mut current);
    if let Some(i) = current.iter().chain(reference).position(|v| !v.is_finite()) {
        return Err(format!("value {i} is not finite"));
    }
    let z = || {
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
        TestOutcome { test: "z", statistic: z, p_value: (2.0 * stats::normal_sf(z.abs())).min(1.0) }
    };
    let levene = || -> Result<TestOutcome, String> {
        let r = stats::levene_sorted(&[reference, &current]).map_err(|e| e.to_string())?;
        Ok(TestOutcome { test: "levene", statistic: r.statistic, p_value: r.pvalue })
    };
    let outcomes = match spec.numeric_test {
        NumericTest::Ks => {
            let r = stats::ks_2samp_sorted(reference, &current);
            vec![TestOutcome { test: "ks", statistic: r.statistic, p_value: r.pvalue }]
        }
        NumericTest::Z if spec.variance_test => vec![z(), levene()?],
        NumericTest::Z => vec![z()],
        NumericTest::Levene => vec![levene()?],
    };
    let edges = decile_edges(reference);
    let psi = stats::psi(&proportions(&bin_counts(reference, &edges)), &proportions(&bin_counts(&current, &edges)))
        .map_err(|e| e.to_string())?;
    let w = stats::wasserstein_sorted(reference, &current);
    Ok(Raw { outcomes, psi, wasserstein_norm: Some(if std > 0.0 { w / std } else { w }), jensen_shannon: None })
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
        outcomes: vec![TestOutcome { test: "chi2", statistic, p_value }],
        psi: stats::psi(&pr, &pc).map_err(|e| e.to_string())?,
        wasserstein_norm: None,
        jensen_shannon: Some(stats::jensenshannon(&pr, &pc).map_err(|e| e.to_string())?),
    })
}

impl Raw {
    /// The column's p-value: its test's, or the Bonferroni combination.
    fn p_value(&self) -> f64 {
        let smallest = self.outcomes.iter().map(|o| o.p_value).fold(1.0, f64::min);
        (smallest * self.outcomes.len() as f64).min(1.0)
    }

    fn test(&self) -> &'static str {
        match self.outcomes.as_slice() {
            [one] => one.test,
            _ => "z+levene",
        }
    }
}

/// The kind shown for a column: its reference's, or `timestamp`.
fn kind(reference: &Reference, current: &Current) -> &'static str {
    match (reference, current) {
        (_, Current::Untested(Untested::Timestamp, _)) => "timestamp",
        (Reference::Categorical { .. }, _) => "categorical",
        _ => "numeric",
    }
}

fn raw(name: &str, reference: Reference, current: Current, spec: &DriftSpec) -> Result<Raw, String> {
    let current = match current {
        Current::Untested(_, values) if spec.include.iter().any(|c| c == name) => *values,
        Current::Untested(why, _) => {
            return Err(format!("{why}; name it in [drift] include to test it"));
        }
        c => c,
    };
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
            numeric(sorted, *mean, *std, *count, c, spec)
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
        (_, Current::Untested(..)) => unreachable!("unwrapped above"),
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
                        let kind = kind(&r, &c);
                        let outcome = raw(&name, r, c, spec);
                        done.push((i, name, kind, outcome));
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
    let pvalues: Vec<f64> = tested.iter().map(|i| results[*i].2.as_ref().map_or(1.0, Raw::p_value)).collect();
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
                    test: r.test(),
                    statistic: r.outcomes.first().map_or(f64::NAN, |o| o.statistic),
                    p_value: r.p_value(),
                    p_adjusted,
                    psi: r.psi,
                    wasserstein_norm: r.wasserstein_norm,
                    jensen_shannon: r.jensen_shannon,
                    drifted: p_adjusted < spec.alpha && effect_ok,
                    tests: if r.outcomes.len() > 1 { r.outcomes } else { Vec::new() },
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
                tests: Vec::new(),
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

    /// From a whole reference column (every value, not a sample). Whether
    /// the column is tested at all is the current data's to say.
    pub fn from_column(c: &berth_data::Column) -> Reference {
        fn of(values: Current) -> Reference {
            match values {
                Current::Categorical(counts) => Reference::Categorical { counts },
                Current::Numeric(v) => Reference::Column(v),
                Current::Untested(_, values) => of(*values),
            }
        }
        of(Current::values(c))
    }
}

impl Current {
    /// A column's finite values or category counts, marked [`Untested`] when
    /// it is a timestamp or looks like an identifier.
    pub fn from_column(c: &berth_data::Column) -> Current {
        let values = Current::values(c);
        let non_null = c.len() - c.null_count();
        let why = match &c.data {
            berth_data::ColumnData::Timestamp(_) => Some(Untested::Timestamp),
            _ if named_like_identifier(&c.name) => Some(Untested::Identifier(format!("named {:?}", c.name))),
            berth_data::ColumnData::Str { .. } => match &values {
                Current::Categorical(counts) if non_null >= DISTINCT_AT_LEAST && counts.values().all(|n| *n == 1) => {
                    Some(Untested::Identifier(format!("all {non_null} text values are distinct")))
                }
                _ => None,
            },
            berth_data::ColumnData::Int(v) => {
                let present: Vec<i64> = (0..v.len()).filter(|i| !c.is_null(*i)).map(|i| v[i]).collect();
                counter_like(&present).then(|| {
                    Untested::Identifier(format!("all {} integer values are distinct, like a counter's", present.len()))
                })
            }
            _ => None,
        };
        match why {
            Some(why) => Current::Untested(why, Box::new(values)),
            None => values,
        }
    }

    fn values(c: &berth_data::Column) -> Current {
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
            // As the profile counts them: categories "true" and "false".
            berth_data::ColumnData::Bool(v) => {
                let mut counts = BTreeMap::new();
                for (i, b) in v.iter().enumerate() {
                    if !c.is_null(i) {
                        *counts.entry(b.to_string()).or_insert(0) += 1;
                    }
                }
                Current::Categorical(counts)
            }
            berth_data::ColumnData::Float(v) if c.valid.is_none() => {
                Current::Numeric(v.iter().copied().filter(|x| x.is_finite()).collect())
            }
            _ => Current::Numeric((0..c.len()).filter_map(|i| c.as_f64(i)).filter(|v| v.is_finite()).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use berth_data::{Column, Rng};

    use super::*;

    fn spec() -> DriftSpec {
        DriftSpec { correction: Correction::None, ..DriftSpec::default() }
    }

    /// Hourly timestamps from `start_hour`, and a feature that does not move.
    fn window(start_hour: i64, rows: usize, seed: u64) -> (Column, Column) {
        let mut rng = Rng::new(seed);
        let ts: Vec<i64> = (0..rows as i64).map(|h| 1_704_067_200 + 3600 * (start_hour + h)).collect();
        let temperature: Vec<f64> = (0..rows).map(|_| rng.normal_with(20.0, 5.0)).collect();
        (Column::timestamp("timestamp", ts), Column::float("temperature", temperature))
    }

    fn columns(reference: &[&Column], current: &[&Column]) -> Vec<(String, Reference, Current)> {
        reference
            .iter()
            .zip(current)
            .map(|(r, c)| (r.name.clone(), Reference::from_column(r), Current::from_column(c)))
            .collect()
    }

    #[test]
    fn a_later_window_does_not_drift_on_its_timestamps_unless_they_are_included() {
        let (ts_ref, t_ref) = window(0, 2000, 1);
        let (ts_now, t_now) = window(5000, 500, 2);
        let r = drift(columns(&[&ts_ref, &t_ref], &[&ts_now, &t_now]), &spec());
        assert!(!r.dataset_drift, "{r:?}");
        assert_eq!((r.tested, r.drifted), (1, 0));
        let ts = &r.columns[0];
        assert_eq!((ts.column.as_str(), ts.kind, ts.test, ts.drifted), ("timestamp", "timestamp", "none", false));
        let why = ts.skipped.as_deref().unwrap();
        assert!(why.contains("a timestamp column") && why.contains("[drift] include"), "{why}");
        // Asked for, it is tested, and drifts as it must.
        let included = DriftSpec { include: vec!["timestamp".into()], ..spec() };
        let r = drift(columns(&[&ts_ref, &t_ref], &[&ts_now, &t_now]), &included);
        assert_eq!((r.tested, r.columns[0].drifted), (2, true), "{r:?}");
    }

    #[test]
    fn a_flag_column_is_tested_as_the_profile_counts_it_true_and_false() {
        let flags = |trues: usize| {
            let v: Vec<bool> = (0..400).map(|i| i < trues).collect();
            Column::new("member", berth_data::ColumnData::Bool(v))
        };
        let reference = Reference::from_profile(&berth_data::ColumnProfile::of(&flags(200)));
        let r = drift(vec![("member".into(), reference, Current::from_column(&flags(380)))], &spec());
        let c = &r.columns[0];
        assert_eq!((c.kind, c.test, c.skipped.as_deref()), ("categorical", "chi2", None), "{c:?}");
        assert!(c.drifted, "{c:?}");
    }

    #[test]
    fn identifiers_are_known_by_name_or_by_distinct_counter_like_values() {
        for name in ["id", "ID", "uuid", "customer_id", "order-id", "session_uuid", "userId", "orderID", "row.id"] {
            assert!(named_like_identifier(name), "{name}");
        }
        for name in ["paid", "valid", "grid", "idle", "width", "identity", "Idaho", "ID_card"] {
            assert!(!named_like_identifier(name), "{name}");
        }
        let untested = |c: &Column| matches!(Current::from_column(c), Current::Untested(Untested::Identifier(_), _));
        let ids: Vec<i64> = (1000..1100).collect();
        assert!(untested(&Column::int("customer", ids.clone())));
        // Shuffled but dense: still a counter.
        let mut shuffled = ids.clone();
        shuffled.swap(3, 70);
        assert!(untested(&Column::int("n", shuffled)));
        // All distinct, in no order and sparse: a measurement (prices in cents).
        let mut rng = Rng::new(5);
        let prices: Vec<i64> = (0..100).map(|i| i * 100_003 % 9_999_991 + rng.below(50) as i64).collect();
        let mut prices_shuffled = prices.clone();
        prices_shuffled.reverse();
        prices_shuffled.swap(0, 50);
        assert!(!untested(&Column::int("price_cents", prices_shuffled)));
        // Repeated integers, and too few values to tell.
        assert!(!untested(&Column::int("age", (0..100).map(|i| 20 + i % 50).collect())));
        assert!(!untested(&Column::int("n", (0..10).collect())));
        // Text: every value distinct is a key; repeated values are categories.
        let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        assert!(untested(&Column::strings("email", &keys)));
        let plans: Vec<&str> = (0..50).map(|i| ["free", "pro"][i % 2]).collect();
        assert!(!untested(&Column::strings("plan", &plans)));
        // A float column is never an identifier by its values.
        assert!(!untested(&Column::float("x", (0..100).map(f64::from).collect())));
    }

    #[test]
    fn the_z_test_misses_a_wider_spread_that_levene_beside_it_finds() {
        let mut rng = Rng::new(11);
        let reference: Vec<f64> = (0..2000).map(|_| rng.normal()).collect();
        let wider: Vec<f64> = (0..2000).map(|_| 1.5 * rng.normal()).collect();
        let run = |spec: &DriftSpec| {
            let r =
                drift(vec![("x".into(), Reference::Column(reference.clone()), Current::Numeric(wider.clone()))], spec);
            r.columns[0].clone()
        };
        let z_only = run(&DriftSpec { numeric_test: NumericTest::Z, variance_test: false, ..spec() });
        assert!(!z_only.drifted && z_only.p_value > 0.05, "{z_only:?}");
        let both = run(&DriftSpec { numeric_test: NumericTest::Z, ..spec() });
        assert_eq!(both.test, "z+levene");
        assert!(both.drifted && both.p_value < 1e-10, "{both:?}");
        assert_eq!(both.tests.iter().map(|t| t.test).collect::<Vec<_>>(), ["z", "levene"]);
        // Twice the smaller p-value: one test per column at level α.
        assert_eq!(both.p_value, (2.0 * both.tests[1].p_value).min(1.0));
        let levene = run(&DriftSpec { numeric_test: NumericTest::Levene, ..spec() });
        assert!(levene.drifted && levene.test == "levene" && levene.tests.is_empty(), "{levene:?}");
        println!("1.5x spread: z p = {}, levene p = {}", z_only.p_value, levene.p_value);
    }
}
