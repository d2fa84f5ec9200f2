//! The monitor's judgment of live traffic: what a window of logged
//! predictions (and the labels joined to them) says about the version that
//! answered. The same definitions as the gate — its metrics, its drift
//! tests and correction — on what the server saw instead of a test set,
//! plus what only live traffic has: how much of it there was, how fast it
//! was answered, and whether its values still look like the training data
//! (nulls, values outside the training range, categories never seen).
//!
//! The thresholds are a `[monitors.MODEL]` section of berth.toml
//! ([`MonitorSpec`]). Breaking one is either *degradation* (metrics,
//! latency, volume) or *drift* (the inputs or the predictions moved, the
//! data's quality changed); the caller turns a change between the two into
//! an alert.

use std::collections::BTreeMap;

use berth_data::{Column, ColumnProfile, ColumnType, Profile, Table};
use berth_ml::Prediction;
use serde::{Deserialize, Serialize};

use crate::drift::{self, Current, DriftReport, Reference};
use crate::evaluate::{Truth, score};
use crate::gate::{Bound, DriftSpec};
use crate::metrics::Metric;

/// `[monitors.MODEL]` in berth.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    /// The prediction log directory (`berth serve --prediction-log DIR`),
    /// relative to the project root.
    pub log: Option<String>,
    /// Read the log from the store (the segments servers with
    /// `--prediction-log-to-store` sent), mirrored into `log` (default
    /// `.berth/plog/MODEL`), instead of from the directory alone.
    #[serde(default)]
    pub log_from_store: bool,
    /// How far back the window reaches: `7d`, `12h`, `30m`, `90s`.
    pub window: Option<String>,
    /// The window is the last this many predictions instead.
    pub last: Option<u64>,
    /// Metrics are judged only over at least this many labelled rows.
    #[serde(default = "default_min_labelled")]
    pub min_labelled: u64,
    /// Absolute bounds on live metrics, as in a gate file:
    /// `accuracy = { min = 0.8 }`.
    #[serde(default)]
    pub metrics: BTreeMap<Metric, Bound>,
    /// The largest drop from the metrics the version passed its gate with
    /// (a fraction); beyond it the environment is rolled back. Default:
    /// the environment's `max_degradation`.
    pub max_degradation: Option<f64>,
    /// Roll back on degradation (default); `false` only alerts.
    #[serde(default = "yes")]
    pub rollback: bool,
    /// Input drift against the version's reference profile, as in a gate
    /// file's `[drift]` (its tests, correction and effect-size floors).
    #[serde(default)]
    pub drift: DriftSpec,
    /// The inputs drift when more than this many columns drift (default 0:
    /// any one column). A gate judges a dataset by the share of its columns
    /// (`drift.max_drifted_share`); live, one feature moving is news.
    #[serde(default)]
    pub max_drifted_columns: usize,
    /// The predictions drift when their PSI against the training target's
    /// distribution exceeds this.
    #[serde(default = "default_psi")]
    pub max_prediction_psi: f64,
    /// Data quality: the largest share of nulls (or NaN) in an input
    /// column, of numbers outside the training range, of categories the
    /// training data never had.
    #[serde(default = "default_share")]
    pub max_null_share: f64,
    #[serde(default = "default_share")]
    pub max_out_of_range_share: f64,
    #[serde(default = "default_share")]
    pub max_unseen_share: f64,
    /// Serving: the slowest the 95th percentile of latency may be.
    pub max_latency_p95_ms: Option<f64>,
    /// Volume: the fewest predictions the window should hold.
    pub min_predictions: Option<u64>,
}

fn default_min_labelled() -> u64 {
    100
}
fn default_psi() -> f64 {
    0.2
}
fn default_share() -> f64 {
    0.05
}
fn yes() -> bool {
    true
}

impl MonitorSpec {
    /// The window as a duration (`window = "7d"`), if one is set.
    pub fn window(&self) -> Result<Option<std::time::Duration>, String> {
        self.window
            .as_deref()
            .map(|w| humantime::parse_duration(w).map_err(|e| format!("window = {w:?}: {e} (write e.g. 7d, 12h, 30m)")))
            .transpose()
    }

    /// What is wrong with the section, each naming the key and value.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = self.window() {
            out.push(e);
        }
        if self.window.is_some() && self.last.is_some() {
            out.push("window and last are both set; the window is one or the other".into());
        }
        if self.last == Some(0) {
            out.push("last = 0: the window would hold nothing".into());
        }
        if let Some(m) = self.max_degradation
            && !(m.is_finite() && m > 0.0)
        {
            out.push(format!("max_degradation = {m}: it is a fraction above 0, e.g. 0.2"));
        }
        for (key, v) in [
            ("max_null_share", self.max_null_share),
            ("max_out_of_range_share", self.max_out_of_range_share),
            ("max_unseen_share", self.max_unseen_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                out.push(format!("{key} = {v}: it is a share from 0 to 1"));
            }
        }
        if !(self.max_prediction_psi.is_finite() && self.max_prediction_psi > 0.0) {
            out.push(format!("max_prediction_psi = {}: it is a number above 0, e.g. 0.2", self.max_prediction_psi));
        }
        for (metric, bound) in &self.metrics {
            if let (Some(lo), Some(hi)) = (bound.min, bound.max)
                && lo > hi
            {
                out.push(format!("metrics.{}: min {lo} is above max {hi}", metric.name()));
            }
        }
        out
    }
}

impl Default for MonitorSpec {
    fn default() -> Self {
        MonitorSpec {
            log: None,
            log_from_store: false,
            window: None,
            last: None,
            min_labelled: default_min_labelled(),
            metrics: BTreeMap::new(),
            max_degradation: None,
            rollback: true,
            drift: DriftSpec::default(),
            max_drifted_columns: 0,
            max_prediction_psi: default_psi(),
            max_null_share: default_share(),
            max_out_of_range_share: default_share(),
            max_unseen_share: default_share(),
            max_latency_p95_ms: None,
            min_predictions: None,
        }
    }
}

/// A window of live traffic, as the caller read and joined it.
pub struct Live<'a> {
    /// The model's input columns, one row per prediction.
    pub inputs: &'a Table,
    /// The `prediction` column (label or value), one row per prediction.
    pub predicted: Option<&'a Column>,
    pub latency_ms: &'a [f64],
    pub requests: u64,
    /// The labelled rows: their truth and what the model predicted for them.
    pub labelled: Option<(Truth, Prediction)>,
}

/// What the version was trained on: its reference profile and target.
pub struct Baseline<'a> {
    pub profile: Option<&'a Profile>,
    pub target: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundCheck {
    pub metric: String,
    pub value: f64,
    pub bound: String,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionDrift {
    pub psi: f64,
    pub max_psi: f64,
    pub drifted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnQuality {
    pub column: String,
    pub nulls: u64,
    pub null_share: f64,
    /// Numbers below the training minimum or above its maximum.
    pub out_of_range: u64,
    pub out_of_range_share: f64,
    /// Rows whose category the training data never had, and the commonest
    /// of those categories (at most five).
    pub unseen: u64,
    pub unseen_share: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unseen_values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyStats {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// The judgment of one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveReport {
    pub predictions: u64,
    pub requests: u64,
    pub labelled: u64,
    /// Every metric of the labelled rows, by the gate's names (empty below
    /// `min_labelled`).
    pub metrics: BTreeMap<String, f64>,
    pub bounds: Vec<BoundCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_drift: Option<PredictionDrift>,
    pub quality: Vec<ColumnQuality>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyStats>,
    /// Why the window counts as degraded / drifted; empty when it does not.
    pub degraded_because: Vec<String>,
    pub drift_because: Vec<String>,
    /// What could not be judged, and why.
    pub notes: Vec<String>,
}

impl LiveReport {
    pub fn degraded(&self) -> bool {
        !self.degraded_because.is_empty()
    }
    pub fn drifted(&self) -> bool {
        !self.drift_because.is_empty()
    }
}

/// Judges one window of live traffic against the spec and the baseline.
pub fn assess(spec: &MonitorSpec, live: Live<'_>, baseline: &Baseline<'_>) -> LiveReport {
    let predictions = live.inputs.rows() as u64;
    let mut r = LiveReport {
        predictions,
        requests: live.requests,
        labelled: 0,
        metrics: BTreeMap::new(),
        bounds: Vec::new(),
        drift: None,
        prediction_drift: None,
        quality: Vec::new(),
        latency: latency(live.latency_ms),
        degraded_because: Vec::new(),
        drift_because: Vec::new(),
        notes: Vec::new(),
    };
    volume_and_latency(spec, &mut r);
    if let Some((truth, p)) = &live.labelled {
        live_metrics(spec, truth, p, &mut r);
    } else {
        r.notes.push("no labelled rows: live metrics need feedback (POST /feedback or `berth feedback`)".into());
    }
    if predictions == 0 {
        r.notes.push("the window holds no predictions: nothing to test for drift".into());
        return r;
    }
    let Some(profile) = baseline.profile else {
        r.notes.push("the version has no reference profile: drift and data quality are not checked".into());
        return r;
    };
    input_drift(spec, live.inputs, profile, &mut r);
    if let (Some(col), Some(target)) = (live.predicted, baseline.target) {
        prediction_drift(spec, col, profile, target, &mut r);
    }
    quality(spec, live.inputs, profile, &mut r);
    r
}

fn volume_and_latency(spec: &MonitorSpec, r: &mut LiveReport) {
    if let Some(min) = spec.min_predictions
        && r.predictions < min
    {
        r.degraded_because.push(format!("volume: {} predictions in the window, fewer than {min}", r.predictions));
    }
    if let (Some(max), Some(l)) = (spec.max_latency_p95_ms, &r.latency)
        && l.p95_ms > max
    {
        r.degraded_because.push(format!("latency: p95 {:.2} ms is above {max} ms", l.p95_ms));
    }
}

fn live_metrics(spec: &MonitorSpec, truth: &Truth, p: &Prediction, r: &mut LiveReport) {
    let n = match truth {
        Truth::Labels(v) => v.len(),
        Truth::Values(v) => v.len(),
        Truth::Anomalies(v) => v.len(),
    };
    r.labelled = n as u64;
    if (n as u64) < spec.min_labelled.max(1) {
        r.notes.push(format!(
            "{n} labelled rows, fewer than min_labelled = {}: live metrics are not judged",
            spec.min_labelled
        ));
        return;
    }
    match score(truth, p) {
        Ok(scores) => r.metrics = scores.map,
        Err(e) => {
            r.notes.push(format!("live metrics: {e}"));
            return;
        }
    }
    for (metric, bound) in &spec.metrics {
        let name = metric.name();
        let Some(&value) = r.metrics.get(&*name) else {
            r.notes.push(format!("metric {name} is not measured for this model's task"));
            continue;
        };
        let passed = bound.admits(value);
        let shown = bound.with_suffix(metric.unit().suffix());
        if !passed {
            r.degraded_because.push(format!("{name} is {}, not {shown}", metric.show(value)));
        }
        r.bounds.push(BoundCheck { metric: name.into_owned(), value, bound: shown, passed });
    }
}

fn input_drift(spec: &MonitorSpec, inputs: &Table, profile: &Profile, r: &mut LiveReport) {
    let names: Vec<String> = spec.drift.columns.clone().unwrap_or_else(|| inputs.names());
    let mut columns = Vec::new();
    for n in &names {
        match (inputs.column(n), profile.column(n)) {
            (Some(c), Some(p)) => columns.push((n.clone(), Reference::from_profile(p), Current::from_column(c))),
            (None, _) => r.notes.push(format!("drift column {n:?} is not in the logged inputs")),
            (_, None) => r.notes.push(format!("drift column {n:?} is not in the reference profile")),
        }
    }
    if columns.is_empty() {
        return;
    }
    let d = drift::drift(columns, &spec.drift);
    if d.drifted > spec.max_drifted_columns {
        let cols: Vec<&str> = d.columns.iter().filter(|c| c.drifted).map(|c| c.column.as_str()).collect();
        r.drift_because.push(format!(
            "input drift: {} of {} columns drifted ({})",
            d.drifted,
            d.tested,
            cols.join(", ")
        ));
    }
    r.drift = Some(d);
}

fn prediction_drift(spec: &MonitorSpec, predicted: &Column, profile: &Profile, target: &str, r: &mut LiveReport) {
    let Some(p) = profile.column(target) else { return };
    let mut named = as_profiled(predicted, p);
    named.name = target.to_string();
    let one = drift::drift(vec![(target.to_string(), Reference::from_profile(p), Current::from_column(&named))], &{
        let mut s = spec.drift.clone();
        s.include = vec![target.to_string()];
        s.columns = None;
        s
    });
    let Some(c) = one.columns.first().filter(|c| c.skipped.is_none()) else { return };
    let drifted = c.psi > spec.max_prediction_psi;
    if drifted {
        r.drift_because.push(format!(
            "prediction drift: PSI {:.3} of the predictions against the training {target:?} is above {}",
            c.psi, spec.max_prediction_psi
        ));
    }
    r.prediction_drift = Some(PredictionDrift { psi: c.psi, max_psi: spec.max_prediction_psi, drifted });
}

/// Predicted labels as the training target was profiled: a classifier of
/// 0/1 labels predicts the text "0" and "1", while its target column was
/// profiled as numbers.
fn as_profiled(predicted: &Column, reference: &ColumnProfile) -> Column {
    if let (ColumnProfile::Numeric(_), berth_data::ColumnData::Str { .. }) = (reference, &predicted.data) {
        let parsed: Option<Vec<f64>> =
            (0..predicted.len()).map(|i| predicted.str_at(i).and_then(|s| s.trim().parse().ok())).collect();
        if let Some(v) = parsed {
            return Column::float(&predicted.name, v);
        }
    }
    predicted.clone()
}

fn quality(spec: &MonitorSpec, inputs: &Table, profile: &Profile, r: &mut LiveReport) {
    let rows = inputs.rows();
    let share = |k: u64| if rows == 0 { 0.0 } else { k as f64 / rows as f64 };
    for c in inputs.columns() {
        let Some(p) = profile.column(&c.name) else { continue };
        let mut q = ColumnQuality {
            column: c.name.clone(),
            nulls: 0,
            null_share: 0.0,
            out_of_range: 0,
            out_of_range_share: 0.0,
            unseen: 0,
            unseen_share: 0.0,
            unseen_values: Vec::new(),
        };
        match (p, c.ty()) {
            (ColumnProfile::Numeric(n), ColumnType::Float | ColumnType::Int | ColumnType::Bool) => {
                for i in 0..rows {
                    match c.as_f64(i) {
                        None => q.nulls += 1,
                        Some(v) if v.is_nan() => q.nulls += 1,
                        Some(v) if v < n.min || v > n.max => q.out_of_range += 1,
                        Some(_) => {}
                    }
                }
            }
            (ColumnProfile::Categorical(cat), ColumnType::Str) => {
                let mut unseen: BTreeMap<&str, u64> = BTreeMap::new();
                for i in 0..rows {
                    match c.str_at(i) {
                        None => q.nulls += 1,
                        Some(s) if !cat.frequencies.contains_key(s) => *unseen.entry(s).or_default() += 1,
                        Some(_) => {}
                    }
                }
                q.unseen = unseen.values().sum();
                let mut top: Vec<(&str, u64)> = unseen.into_iter().collect();
                top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                q.unseen_values = top.into_iter().take(5).map(|(s, _)| s.to_string()).collect();
            }
            _ => {
                q.nulls = c.null_count() as u64;
                r.notes.push(format!("column {:?} has another type than in the training data", c.name));
            }
        }
        q.null_share = share(q.nulls);
        q.out_of_range_share = share(q.out_of_range);
        q.unseen_share = share(q.unseen);
        let name = &c.name;
        if q.null_share > spec.max_null_share {
            r.drift_because.push(format!(
                "data quality: {:.1}% of {name:?} is null, above {:.1}%",
                q.null_share * 100.0,
                spec.max_null_share * 100.0
            ));
        }
        if q.out_of_range_share > spec.max_out_of_range_share {
            r.drift_because.push(format!(
                "data quality: {:.1}% of {name:?} is outside the training range, above {:.1}%",
                q.out_of_range_share * 100.0,
                spec.max_out_of_range_share * 100.0
            ));
        }
        if q.unseen_share > spec.max_unseen_share {
            r.drift_because.push(format!(
                "data quality: {:.1}% of {name:?} are categories the training data never had ({}), above {:.1}%",
                q.unseen_share * 100.0,
                q.unseen_values.join(", "),
                spec.max_unseen_share * 100.0
            ));
        }
        r.quality.push(q);
    }
}

/// Mean and percentiles (linear interpolation between the closest ranks,
/// as NumPy's default).
fn latency(ms: &[f64]) -> Option<LatencyStats> {
    let mut v: Vec<f64> = ms.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let pos = q * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    };
    Some(LatencyStats {
        mean_ms: v.iter().sum::<f64>() / v.len() as f64,
        p50_ms: at(0.5),
        p95_ms: at(0.95),
        p99_ms: at(0.99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile_of(x: Vec<f64>, colour: &[&str]) -> Profile {
        Profile::of(&Table::new(vec![Column::float("x", x), Column::strings("colour", colour)]).unwrap())
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let l = latency(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        assert_eq!((l.p50_ms, l.mean_ms), (3.0, 22.0));
        assert!((l.p95_ms - 80.8).abs() < 1e-9, "{}", l.p95_ms);
    }

    #[test]
    fn nulls_out_of_range_values_and_unseen_categories_are_counted() {
        let reference = profile_of((0..100).map(f64::from).collect(), &vec!["red"; 100]);
        let live = Table::new(vec![
            Column::float("x", vec![1.0, 500.0, f64::NAN, 2.0]),
            Column::strings("colour", &["red", "mauve", "mauve", "red"]),
        ])
        .unwrap();
        let spec = MonitorSpec::default();
        let mut r = assess(
            &spec,
            Live { inputs: &live, predicted: None, latency_ms: &[], requests: 4, labelled: None },
            &Baseline { profile: Some(&reference), target: None },
        );
        let q: BTreeMap<&str, &ColumnQuality> = r.quality.iter().map(|q| (q.column.as_str(), q)).collect();
        assert_eq!((q["x"].nulls, q["x"].out_of_range), (1, 1));
        assert_eq!((q["colour"].unseen, q["colour"].unseen_values.clone()), (2, vec!["mauve".to_string()]));
        r.drift_because.retain(|w| w.starts_with("data quality"));
        assert_eq!(r.drift_because.len(), 3, "{:?}", r.drift_because);
    }

    #[test]
    fn too_few_labels_are_not_judged_and_bounds_are() {
        let inputs = Table::new(vec![Column::float("x", vec![0.0; 4])]).unwrap();
        let p = Prediction { values: Some(vec![1.0, 2.0, 3.0, 4.0]), labels: None, probabilities: None, classes: None };
        let mut spec = MonitorSpec { min_labelled: 10, ..MonitorSpec::default() };
        spec.metrics.insert(Metric::parse("mae").unwrap(), Bound { min: None, max: Some(0.5) });
        let live = |labelled| Live { inputs: &inputs, predicted: None, latency_ms: &[], requests: 1, labelled };
        let none = Baseline { profile: None, target: None };
        let few = assess(&spec, live(Some((Truth::Values(vec![1.0, 2.0, 3.0, 5.0]), p.clone()))), &none);
        assert!(few.metrics.is_empty() && !few.degraded());
        spec.min_labelled = 4;
        let judged = assess(&spec, live(Some((Truth::Values(vec![1.0, 2.0, 3.0, 5.0]), p))), &none);
        assert_eq!(judged.metrics["mae"], 0.25);
        assert!(!judged.degraded(), "{:?}", judged.degraded_because);
        spec.metrics.insert(Metric::parse("mae").unwrap(), Bound { min: None, max: Some(0.1) });
        let p = Prediction { values: Some(vec![1.0, 2.0, 3.0, 4.0]), labels: None, probabilities: None, classes: None };
        let bad = assess(&spec, live(Some((Truth::Values(vec![1.0, 2.0, 3.0, 5.0]), p))), &none);
        assert!(bad.degraded() && bad.degraded_because[0].starts_with("mae is"), "{:?}", bad.degraded_because);
    }

    #[test]
    fn labels_of_a_target_profiled_as_numbers_are_compared_as_numbers() {
        let target: Vec<f64> = (0..200).map(|i| f64::from(i % 2)).collect();
        let reference = Profile::of(&Table::new(vec![Column::float("churned", target)]).unwrap());
        let inputs = Table::new(vec![Column::float("x", vec![0.0; 100])]).unwrap();
        let judge = |labels: Vec<&str>| {
            let predicted = Column::strings("prediction", &labels);
            let live =
                Live { inputs: &inputs, predicted: Some(&predicted), latency_ms: &[], requests: 1, labelled: None };
            assess(&MonitorSpec::default(), live, &Baseline { profile: Some(&reference), target: Some("churned") })
        };
        let same = judge((0..100).map(|i| if i % 2 == 0 { "0" } else { "1" }).collect());
        assert_eq!(same.prediction_drift.as_ref().map(|d| d.psi), Some(0.0));
        let all_ones = judge(vec!["1"; 100]);
        let d = all_ones.prediction_drift.expect("judged");
        assert!(d.drifted && d.psi > 1.0, "{d:?}");
    }
}
