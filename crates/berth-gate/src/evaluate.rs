//! Runs a gate's checks on what the caller measured: predictions against the
//! truth, a baseline's predictions or stored metrics, drift columns, latency
//! samples, the data's columns. The caller does the I/O (loading, scoring,
//! timing); this module only computes and decides.

use std::collections::{BTreeMap, BTreeSet};

use berth_data::{Rng, Table};
use berth_ml::{Prediction, Signature, Task};

use crate::drift;
use crate::gate::{BaselineMode, Gate, Tolerance};
use crate::metrics::{self, MetricError};
use crate::report::{BaselineMetric, BaselineReport, Latency, Report};

/// The true target, as labels (classification, anomaly "0"/"1") or values.
#[derive(Debug, Clone)]
pub enum Truth {
    Labels(Vec<String>),
    Values(Vec<f64>),
}

impl Truth {
    fn len(&self) -> usize {
        match self {
            Truth::Labels(v) => v.len(),
            Truth::Values(v) => v.len(),
        }
    }
}

pub enum BaselineInput {
    /// The baseline model's predictions on the same rows.
    Rescored(Prediction),
    /// Metrics stored on the baseline version.
    Stored(BTreeMap<String, f64>),
}

/// Single-row latencies (ms, after warm-up) and one batch's throughput.
pub struct LatencySample {
    pub single_ms: Vec<f64>,
    pub batch_rows: usize,
    pub batch_seconds: f64,
}

pub struct Inputs<'a> {
    pub task: Task,
    pub truth: Truth,
    pub prediction: &'a Prediction,
    pub baseline: Option<(String, BaselineInput)>,
    /// The drift check's result: the caller runs [`drift::drift`] (it
    /// needs nothing the other checks compute, so it can run beside them).
    pub drift: Option<drift::DriftReport>,
    pub latency: Option<LatencySample>,
    /// The evaluation data and the model's signature, for the data checks.
    pub data: Option<(&'a Table, &'a Signature)>,
    /// The target column's name (for the class-balance check).
    pub target: String,
}

/// Metrics where lower is better; every other metric is better higher.
const LOWER_IS_BETTER: [&str; 7] = ["mae", "mse", "rmse", "mape", "max_error", "median_absolute_error", "log_loss"];

pub fn lower_is_better(metric: &str) -> bool {
    LOWER_IS_BETTER.contains(&metric)
}

/// The metrics a task computes (per-class ones as `recall.<class>` etc.).
pub fn metric_names(task: Task) -> &'static [&'static str] {
    match task {
        Task::Classification => &[
            "accuracy",
            "balanced_accuracy",
            "precision_macro",
            "recall_macro",
            "f1_macro",
            "precision_weighted",
            "recall_weighted",
            "f1_weighted",
            "log_loss",
            "roc_auc",
            "pr_auc",
            "per_class_recall",
        ],
        Task::Regression => &["mae", "mse", "rmse", "mape", "r2", "max_error", "median_absolute_error"],
        Task::Anomaly => &["precision", "recall", "f1", "flagged"],
    }
}

/// Refuses metrics that do not apply to the task, before anything runs.
pub fn check_metric_names(gate: &Gate, task: Task) -> Result<(), String> {
    let valid = metric_names(task);
    let named = gate.metrics.keys().chain(gate.baseline.iter().flat_map(|b| b.metrics.keys()));
    for name in named {
        let per_class = ["recall.", "precision.", "f1."].iter().any(|p| name.starts_with(p));
        if !(valid.contains(&name.as_str()) || per_class && task == Task::Classification) {
            return Err(format!(
                "metric {name:?} does not apply to a {task} model; valid: {}{}",
                valid.join(", "),
                if task == Task::Classification { ", recall.<class>, precision.<class>, f1.<class>" } else { "" }
            ));
        }
    }
    Ok(())
}

/// All metrics of `prediction` against `truth`, flat.
pub fn score(task: Task, truth: &Truth, p: &Prediction) -> Result<Scores, MetricError> {
    match (task, truth) {
        (Task::Regression, Truth::Values(y)) => {
            let values = p.values.as_deref().ok_or(MetricError::Empty)?;
            Ok(Scores { map: metrics::regression(y, values)?.to_map(), classification: None })
        }
        (Task::Anomaly, Truth::Labels(y)) => {
            let labels = p.labels.as_deref().ok_or(MetricError::Empty)?;
            let truth: Vec<bool> = y.iter().map(|l| l == "1").collect();
            let flagged: Vec<bool> = labels.iter().map(|l| l == "1").collect();
            Ok(Scores { map: metrics::anomaly(&truth, &flagged)?.to_map(), classification: None })
        }
        (_, Truth::Labels(y)) => {
            let labels = p.labels.as_deref().ok_or(MetricError::Empty)?;
            let proba = p.probabilities.as_deref().zip(p.classes.as_deref());
            let m = metrics::classification(y, labels, proba)?;
            Ok(Scores { map: m.to_map(), classification: Some(m) })
        }
        (_, Truth::Values(_)) => Err(MetricError::Empty),
    }
}

pub struct Scores {
    pub map: BTreeMap<String, f64>,
    pub classification: Option<metrics::ClassificationMetrics>,
}

fn fmt(v: f64) -> String {
    format!("{v:.4}")
}

/// A metric's value as a person reads it: MAPE with its percent sign.
fn shown(metric: &str, v: f64) -> String {
    metrics::unit(metric).map_or_else(|| fmt(v), |u| u.show(v))
}

/// A bound in the metric's unit: `<= 10%` for MAPE.
fn bound_shown(metric: &str, bound: &crate::gate::Bound) -> String {
    bound.with_suffix(if metrics::unit(metric) == Some(metrics::Unit::Percent) { "%" } else { "" })
}

/// Runs every check the gate names and returns the report (the caller
/// fills in model, data and time).
pub fn evaluate(gate: &Gate, inputs: Inputs<'_>, report: &mut Report) {
    report.task = Some(inputs.task.to_string());
    report.notes.extend(gate.notes());
    if let Some((table, signature)) = inputs.data {
        data_checks(gate, table, signature, &inputs.target, report);
    }
    if inputs.prediction.len() != inputs.truth.len() {
        report.check(
            "model_predicts",
            false,
            None,
            None,
            format!("{} predictions for {} rows", inputs.prediction.len(), inputs.truth.len()),
        );
        return;
    }
    let scores = match score(inputs.task, &inputs.truth, inputs.prediction) {
        Ok(s) => s,
        Err(e) => {
            report.check("metrics", false, None, None, format!("cannot compute metrics: {e}"));
            return;
        }
    };
    report.metrics = scores.map.clone();
    if let Some(c) = &scores.classification {
        report.per_class_recall = c.per_class_recall.clone();
        report.accuracy = Some(c.accuracy);
        report.confusion_matrix = Some(c.confusion_matrix.clone());
    }
    thresholds(gate, &scores, report);
    if let Some((name, input)) = inputs.baseline {
        baseline(gate, inputs.task, &inputs.truth, inputs.prediction, &scores, name, input, report);
    }
    if let Some(d) = inputs.drift {
        let spec = gate.drift.clone().unwrap_or_default();
        let drifted: Vec<&str> = d.columns.iter().filter(|c| c.drifted).map(|c| c.column.as_str()).collect();
        let skipped: Vec<String> =
            d.columns.iter().filter_map(|c| c.skipped.as_ref().map(|why| format!("{} ({why})", c.column))).collect();
        report.check(
            "drift",
            !d.dataset_drift,
            Some(d.share),
            Some(format!("drifted share <= {}", spec.max_drifted_share)),
            format!(
                "data drift: {} of {} columns drifted ({:.0}%){}{}",
                d.drifted,
                d.tested,
                d.share * 100.0,
                if drifted.is_empty() { String::new() } else { format!(": {}", drifted.join(", ")) },
                if skipped.is_empty() { String::new() } else { format!("; skipped: {}", skipped.join("; ")) }
            ),
        );
        report.drift = serde_json::to_value(&d).ok();
    }
    stability_and_range(gate, inputs.prediction, report);
    if let Some(l) = inputs.latency {
        latency(gate, l, report);
    }
}

fn thresholds(gate: &Gate, scores: &Scores, report: &mut Report) {
    for (name, bound) in &gate.metrics {
        if name == "per_class_recall" {
            report.recall_threshold = bound.min;
            let per_class = scores.classification.as_ref().map(|c| c.per_class_recall.clone()).unwrap_or_default();
            for (class, r) in per_class {
                report.check(
                    format!("metric.recall.{class}"),
                    bound.admits(r),
                    Some(r),
                    Some(bound.to_string()),
                    format!("recall for {class:?}: {} {}", fmt(r), verdict_word(bound.admits(r), &bound.to_string())),
                );
            }
            continue;
        }
        if name == "accuracy" {
            report.accuracy_threshold = bound.min;
        }
        let rule = bound_shown(name, bound);
        match scores.map.get(name) {
            Some(v) => report.check(
                format!("metric.{name}"),
                bound.admits(*v),
                Some(*v),
                Some(rule.clone()),
                format!("{name}: {} {}", shown(name, *v), verdict_word(bound.admits(*v), &rule)),
            ),
            None => report.check(
                format!("metric.{name}"),
                false,
                None,
                Some(rule),
                format!("{name} could not be computed on this data (a class missing, or no probabilities)"),
            ),
        }
    }
}

fn verdict_word(ok: bool, rule: &str) -> String {
    if ok { format!("(required {rule})") } else { format!("violates {rule}") }
}

/// The metrics compared with the baseline: those the gate lists with their
/// tolerances; else the metrics it bounds, else the task's headline metrics,
/// at the baseline's relative `tolerance`.
fn baseline_metrics(gate: &Gate, task: Task) -> BTreeMap<String, Tolerance> {
    let spec = gate.baseline.clone().unwrap_or_default();
    if !spec.metrics.is_empty() {
        return spec.metrics;
    }
    let tolerance = Tolerance { tolerance: spec.tolerance.unwrap_or(0.0), relative: true };
    let bounded: Vec<&String> = gate.metrics.keys().filter(|k| *k != "per_class_recall").collect();
    if !bounded.is_empty() {
        return bounded.into_iter().map(|m| (m.clone(), tolerance)).collect();
    }
    let headline: &[&str] = match task {
        Task::Classification => &["accuracy", "f1_macro"],
        Task::Regression => &["mae", "rmse"],
        Task::Anomaly => &["f1"],
    };
    headline.iter().map(|m| (m.to_string(), tolerance)).collect()
}

#[allow(clippy::too_many_arguments)]
fn baseline(
    gate: &Gate,
    task: Task,
    truth: &Truth,
    prediction: &Prediction,
    scores: &Scores,
    name: String,
    input: BaselineInput,
    report: &mut Report,
) {
    let (base_map, base_prediction, mode) = match input {
        BaselineInput::Stored(m) => (m, None, BaselineMode::Stored),
        BaselineInput::Rescored(p) => match score(task, truth, &p) {
            Ok(s) => (s.map, Some(p), BaselineMode::Rescore),
            Err(e) => {
                report.check("baseline", false, None, None, format!("cannot score the baseline {name}: {e}"));
                return;
            }
        },
    };
    let bootstrap = gate.baseline.as_ref().and_then(|b| b.bootstrap);
    let mut rows = Vec::new();
    for (metric, tol) in baseline_metrics(gate, task) {
        let (Some(&value), Some(&base)) = (scores.map.get(&metric), base_map.get(&metric)) else {
            report.check(
                format!("baseline.{metric}"),
                false,
                None,
                None,
                format!(
                    "{metric} is missing from the {} baseline {name}",
                    if base_prediction.is_some() { "rescored" } else { "stored" }
                ),
            );
            continue;
        };
        let allowed = if tol.relative { tol.tolerance * base.abs() } else { tol.tolerance };
        // Signed improvement: positive when the new model is better.
        let gain = if lower_is_better(&metric) { base - value } else { value - base };
        let interval = match (&bootstrap, &base_prediction) {
            (Some(b), Some(bp)) => {
                paired_bootstrap(task, truth, prediction, bp, &metric, b.samples, b.confidence, b.seed)
            }
            _ => None,
        };
        // With an interval, the worse end of the new-minus-baseline
        // difference decides.
        let worst_gain = match interval {
            Some((lo, hi)) => {
                if lower_is_better(&metric) {
                    -hi
                } else {
                    lo
                }
            }
            None => gain,
        };
        let passed = worst_gain >= -allowed;
        let change_pct = if base != 0.0 { (value - base) / base.abs() * 100.0 } else { 0.0 };
        // A relative tolerance reads in percent of the baseline; an absolute
        // one in the metric's unit (for MAPE, percentage points).
        let amount = |t: f64| match (tol.relative, metrics::unit(&metric)) {
            (true, _) => format!("{}%", t * 100.0),
            (false, Some(metrics::Unit::Percent)) => format!("{t} percentage points"),
            (false, _) => format!("{t}"),
        };
        let rule = if tol.tolerance >= 0.0 {
            format!("at most {} worse", amount(tol.tolerance))
        } else {
            format!("better by at least {}", amount(-tol.tolerance))
        };
        report.check(
            format!("baseline.{metric}"),
            passed,
            Some(value),
            Some(rule.clone()),
            format!(
                "{metric}: {} vs baseline {} ({change_pct:+.2}%){}; required {rule}",
                shown(&metric, value),
                shown(&metric, base),
                interval
                    .map(|(a, z)| format!(
                        ", {:.0}% CI of the difference [{a:+.4}, {z:+.4}]",
                        bootstrap.map_or(0.0, |b| b.confidence * 100.0)
                    ))
                    .unwrap_or_default()
            ),
        );
        rows.push(BaselineMetric { metric, value, baseline: base, change_pct, interval, passed });
    }
    report.baseline = Some(BaselineReport {
        model: name,
        mode: if mode == BaselineMode::Rescore { "rescore".into() } else { "stored".into() },
        metrics: rows,
    });
}

fn take_prediction(p: &Prediction, rows: &[usize], with_proba: bool) -> Prediction {
    Prediction {
        values: p.values.as_ref().map(|v| rows.iter().map(|&i| v[i]).collect()),
        labels: p.labels.as_ref().map(|v| rows.iter().map(|&i| v[i].clone()).collect()),
        probabilities: if with_proba {
            p.probabilities.as_ref().map(|v| rows.iter().map(|&i| v[i].clone()).collect())
        } else {
            None
        },
        classes: p.classes.clone(),
    }
}

fn take_truth(t: &Truth, rows: &[usize]) -> Truth {
    match t {
        Truth::Labels(v) => Truth::Labels(rows.iter().map(|&i| v[i].clone()).collect()),
        Truth::Values(v) => Truth::Values(rows.iter().map(|&i| v[i]).collect()),
    }
}

/// Percentile interval of `metric(new) − metric(baseline)` over `samples`
/// resamples of the rows (the same rows for both models), seeded.
#[allow(clippy::too_many_arguments)]
pub fn paired_bootstrap(
    task: Task,
    truth: &Truth,
    new: &Prediction,
    base: &Prediction,
    metric: &str,
    samples: usize,
    confidence: f64,
    seed: u64,
) -> Option<(f64, f64)> {
    let n = truth.len();
    if n == 0 {
        return None;
    }
    let with_proba = matches!(metric, "log_loss" | "roc_auc" | "pr_auc");
    let mut rng = Rng::new(seed);
    let mut diffs = Vec::with_capacity(samples);
    let mut rows = vec![0usize; n];
    for _ in 0..samples {
        for r in rows.iter_mut() {
            *r = rng.below(n as u64) as usize;
        }
        let t = take_truth(truth, &rows);
        let a = score(task, &t, &take_prediction(new, &rows, with_proba)).ok()?;
        let b = score(task, &t, &take_prediction(base, &rows, with_proba)).ok()?;
        if let (Some(x), Some(y)) = (a.map.get(metric), b.map.get(metric)) {
            diffs.push(x - y);
        }
    }
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some((berth_data::quantile_sorted(&diffs, tail), berth_data::quantile_sorted(&diffs, 1.0 - tail)))
}

/// The numbers the stability and range checks look at: values
/// (regression, anomaly scores), else the probability of the predicted
/// class.
fn prediction_numbers(p: &Prediction) -> Vec<f64> {
    if let Some(v) = &p.values {
        return v.clone();
    }
    match &p.probabilities {
        Some(rows) => rows.iter().map(|r| r.iter().copied().fold(f64::NEG_INFINITY, f64::max)).collect(),
        None => Vec::new(),
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt())
}

fn stability_and_range(gate: &Gate, p: &Prediction, report: &mut Report) {
    if gate.stability.is_none() && gate.range.is_none() {
        return;
    }
    let v = prediction_numbers(p);
    if v.is_empty() {
        report.check("stability", false, None, None, "the predictions carry no numbers to measure".into());
        return;
    }
    let (mean, std) = mean_std(&v);
    if let Some(s) = gate.stability {
        let cv = if mean != 0.0 {
            std / mean.abs()
        } else if std == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        report.prediction_cv = Some(cv);
        report.check(
            "stability",
            cv <= s.max_cv,
            Some(cv),
            Some(format!("<= {}", s.max_cv)),
            format!("prediction stability: coefficient of variation {} (max {})", fmt(cv), s.max_cv),
        );
    }
    if let Some(r) = gate.range {
        let outside = v.iter().filter(|x| (*x - mean).abs() > r.sigmas * std).count() as f64 / v.len() as f64;
        report.prediction_outlier_share = Some(outside);
        report.check(
            "range",
            outside <= r.max_share,
            Some(outside),
            Some(format!("<= {}", r.max_share)),
            format!("prediction range: {:.2}% beyond {}σ (max {:.2}%)", outside * 100.0, r.sigmas, r.max_share * 100.0),
        );
    }
}

fn latency(gate: &Gate, l: LatencySample, report: &mut Report) {
    let spec = gate.latency.unwrap_or_default();
    let mut ms = l.single_ms;
    if ms.is_empty() {
        return;
    }
    ms.sort_by(f64::total_cmp);
    let q = |p: f64| berth_data::quantile_sorted(&ms, p);
    let rows_per_s = if l.batch_seconds > 0.0 { l.batch_rows as f64 / l.batch_seconds } else { f64::INFINITY };
    let lat = Latency {
        runs: ms.len(),
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
        max_ms: ms[ms.len() - 1],
        batch_rows: l.batch_rows,
        rows_per_s,
    };
    report.latency = Some(lat);
    report.latency_p50_ms = Some(lat.p50_ms);
    report.latency_p99_ms = Some(lat.p99_ms);
    report.latency_threshold_ms = spec.max_p99_ms;
    if let Some(max) = spec.max_p50_ms {
        report.check(
            "latency.p50",
            lat.p50_ms <= max,
            Some(lat.p50_ms),
            Some(format!("<= {max} ms")),
            format!("p50 latency {:.3} ms (max {max} ms, {} runs)", lat.p50_ms, lat.runs),
        );
    }
    if let Some(max) = spec.max_p99_ms {
        report.check(
            "latency.p99",
            lat.p99_ms <= max,
            Some(lat.p99_ms),
            Some(format!("<= {max} ms")),
            format!("p99 latency {:.3} ms (max {max} ms, {} runs)", lat.p99_ms, lat.runs),
        );
    }
    if let Some(min) = spec.min_rows_per_s {
        report.check(
            "latency.throughput",
            rows_per_s >= min,
            Some(rows_per_s),
            Some(format!(">= {min} rows/s")),
            format!("batch throughput {rows_per_s:.0} rows/s on {} rows (min {min})", l.batch_rows),
        );
    }
}

fn data_checks(gate: &Gate, table: &Table, signature: &Signature, target: &str, report: &mut Report) {
    let spec = gate.data.clone().unwrap_or_default();
    if spec.schema {
        let mut problems = Vec::new();
        for f in &signature.inputs {
            match table.column(&f.name) {
                None => problems.push(format!("missing column {:?}", f.name)),
                Some(c) if c.ty().is_numeric() != f.ty.is_numeric() => {
                    problems.push(format!("column {:?} is {}, the model takes {}", f.name, c.ty(), f.ty))
                }
                Some(_) => {}
            }
        }
        report.check(
            "data.schema",
            problems.is_empty(),
            None,
            None,
            if problems.is_empty() {
                format!("the data has the model's {} input columns", signature.inputs.len())
            } else {
                format!("the data does not match the model's signature: {}", problems.join("; "))
            },
        );
    }
    let rows = table.rows().max(1) as f64;
    let limits: BTreeMap<&str, f64> = table
        .columns()
        .iter()
        .filter_map(|c| spec.null_share.get(&c.name).copied().or(spec.max_null_share).map(|m| (c.name.as_str(), m)))
        .collect();
    for (name, max) in limits {
        let share = table.column(name).map_or(0.0, |c| c.null_count() as f64 / rows);
        report.check(
            format!("data.nulls.{name}"),
            share <= max,
            Some(share),
            Some(format!("<= {max}")),
            format!("column {name:?}: {:.2}% nulls (max {:.2}%)", share * 100.0, max * 100.0),
        );
    }
    for (name, bound) in &spec.ranges {
        let Some(c) = table.column(name) else {
            report.check(format!("data.range.{name}"), false, None, None, format!("no column {name:?} in the data"));
            continue;
        };
        let outside = (0..c.len()).filter_map(|i| c.as_f64(i)).filter(|v| !bound.admits(*v)).count();
        report.check(
            format!("data.range.{name}"),
            outside == 0,
            Some(outside as f64),
            Some(bound.to_string()),
            format!("column {name:?}: {outside} value(s) outside {bound}"),
        );
    }
    if let Some(min) = spec.min_class_share
        && let Some(c) = table.column(target)
    {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..c.len() {
            if !c.is_null(i) {
                *counts.entry(c.display(i)).or_insert(0) += 1;
            }
        }
        let total: usize = counts.values().sum();
        let (class, n) = counts.iter().min_by_key(|(_, n)| **n).map(|(k, n)| (k.clone(), *n)).unwrap_or_default();
        let share = if total > 0 { n as f64 / total as f64 } else { 0.0 };
        report.check(
            "data.class_balance",
            share >= min,
            Some(share),
            Some(format!(">= {min}")),
            format!("smallest class {class:?}: {:.2}% of rows (min {:.2}%)", share * 100.0, min * 100.0),
        );
    }
}

/// Labels in the truth that the model never saw in training.
pub fn unseen_labels(truth: &[String], classes: &[String]) -> Vec<String> {
    let known: BTreeSet<&String> = classes.iter().collect();
    let unseen: BTreeSet<&String> = truth.iter().filter(|t| !known.contains(t)).collect();
    unseen.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: Vec<f64>) -> Prediction {
        Prediction { values: Some(v), labels: None, probabilities: None, classes: None }
    }

    /// Predictions 30% above the truth: MAPE 30%.
    fn thirty_percent_off(gate: &Gate) -> Report {
        let truth: Vec<f64> = (1..=50).map(f64::from).collect();
        let prediction = values(truth.iter().map(|t| t * 1.3).collect());
        let mut report = Report::new("g", "m");
        let inputs = Inputs {
            task: Task::Regression,
            truth: Truth::Values(truth),
            prediction: &prediction,
            baseline: None,
            drift: None,
            latency: None,
            data: None,
            target: "y".into(),
        };
        evaluate(gate, inputs, &mut report);
        report
    }

    #[test]
    fn a_mape_of_thirty_percent_fails_a_ten_percent_threshold() {
        let gate = Gate::parse("[metrics]\nmape = { max = 10.0 }\n", "g.toml").unwrap();
        let r = thirty_percent_off(&gate);
        assert!(!r.passed, "{}", r.to_text());
        assert!((r.metrics["mape"] - 30.0).abs() < 1e-9);
        let check = r.results.iter().find(|c| c.name == "metric.mape").unwrap();
        assert_eq!(check.message, "mape: 30.00% violates <= 10%");
        assert_eq!(check.threshold.as_deref(), Some("<= 10%"));
        assert!(thirty_percent_off(&Gate::parse("[metrics]\nmape = { max = 31 }\n", "g.toml").unwrap()).passed);
    }

    #[test]
    fn a_mape_threshold_below_one_percent_is_noted_in_the_report() {
        let r = thirty_percent_off(&Gate::parse("[metrics]\nmape = { max = 0.35 }\n", "g.toml").unwrap());
        assert!(!r.passed);
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        assert!(r.notes[0].contains("write max = 35"), "{:?}", r.notes);
    }

    #[test]
    fn an_absolute_mape_tolerance_reads_in_percentage_points() {
        let gate =
            Gate::parse("[baseline]\nref = \"m@1\"\nmetrics = { mape = { tolerance = 5 } }\n", "g.toml").unwrap();
        let truth: Vec<f64> = (1..=50).map(f64::from).collect();
        let new = values(truth.iter().map(|t| t * 1.3).collect());
        let base = values(truth.iter().map(|t| t * 1.27).collect());
        let mut report = Report::new("g", "m");
        let inputs = Inputs {
            task: Task::Regression,
            truth: Truth::Values(truth),
            prediction: &new,
            baseline: Some(("m@1".into(), BaselineInput::Rescored(base))),
            drift: None,
            latency: None,
            data: None,
            target: "y".into(),
        };
        evaluate(&gate, inputs, &mut report);
        let check = report.results.iter().find(|c| c.name == "baseline.mape").unwrap();
        // 30% against 27%: three points worse, five allowed.
        assert!(check.passed, "{check:?}");
        assert!(check.message.starts_with("mape: 30.00% vs baseline 27.00%"), "{}", check.message);
        assert!(check.message.ends_with("required at most 5 percentage points worse"), "{}", check.message);
    }
}
