//! Runs a gate's checks on what the caller measured: predictions against the
//! truth, a baseline's predictions or stored metrics, drift columns, latency
//! samples, the data's columns. The caller does the I/O (loading, scoring,
//! timing); this module only computes and decides.

use std::collections::{BTreeMap, BTreeSet};

use berth_data::{Rng, Table};
use berth_ml::{Prediction, Signature, Task};

use crate::drift;
use crate::gate::{BaselineMode, Bootstrap, Bound, Gate, Tolerance};
use crate::metrics::{self, ClassificationMetrics, Direction, Metric, MetricError, Unit};
use crate::report::{BaselineMetric, BaselineReport, Check, Latency, Report};

/// The true target, in the form its task scores it; the variant is the task.
#[derive(Debug, Clone)]
pub enum Truth {
    /// Classification: each row's class.
    Labels(Vec<String>),
    /// Regression: each row's value.
    Values(Vec<f64>),
    /// Anomaly detection: whether each row is a known anomaly.
    Anomalies(Vec<bool>),
}

impl Truth {
    fn len(&self) -> usize {
        match self {
            Truth::Labels(v) => v.len(),
            Truth::Values(v) => v.len(),
            Truth::Anomalies(v) => v.len(),
        }
    }

    /// The task this truth is scored for.
    pub fn task(&self) -> Task {
        match self {
            Truth::Labels(_) => Task::Classification,
            Truth::Values(_) => Task::Regression,
            Truth::Anomalies(_) => Task::Anomaly,
        }
    }

    fn take(&self, rows: &[usize]) -> Truth {
        match self {
            Truth::Labels(v) => Truth::Labels(rows.iter().map(|&i| v[i].clone()).collect()),
            Truth::Values(v) => Truth::Values(rows.iter().map(|&i| v[i]).collect()),
            Truth::Anomalies(v) => Truth::Anomalies(rows.iter().map(|&i| v[i]).collect()),
        }
    }
}

pub enum BaselineInput {
    /// The baseline model's predictions on the same rows.
    Rescored(Prediction),
    /// Metrics stored on the baseline version, by name.
    Stored(BTreeMap<String, f64>),
}

/// Single-row latencies (ms, after warm-up) and one batch's throughput.
pub struct LatencySample {
    pub single_ms: Vec<f64>,
    pub batch_rows: usize,
    pub batch_seconds: f64,
}

pub struct Inputs<'a> {
    /// The truth; its variant is the model's task.
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

/// All metrics of `prediction` against `truth`, flat.
pub fn score(truth: &Truth, p: &Prediction) -> Result<Scores, MetricError> {
    let task = truth.task();
    match truth {
        Truth::Values(y) => {
            let values = p.values.as_deref().ok_or(MetricError::Missing("values", task))?;
            Ok(Scores { map: metrics::regression(y, values)?.to_map(), classification: None })
        }
        Truth::Anomalies(y) => {
            let labels = p.labels.as_deref().ok_or(MetricError::Missing("labels", task))?;
            // An anomaly model labels an anomaly "1" (see `Task::Anomaly`).
            let flagged: Vec<bool> = labels.iter().map(|l| l == "1").collect();
            Ok(Scores { map: metrics::anomaly(y, &flagged)?.to_map(), classification: None })
        }
        Truth::Labels(y) => {
            let labels = p.labels.as_deref().ok_or(MetricError::Missing("labels", task))?;
            let proba = p.probabilities.as_deref().zip(p.classes.as_deref());
            let m = metrics::classification(y, labels, proba)?;
            Ok(Scores { map: m.to_map(), classification: Some(m) })
        }
    }
}

pub struct Scores {
    /// Every metric computed, by name, as the report stores them.
    pub map: BTreeMap<String, f64>,
    pub classification: Option<ClassificationMetrics>,
}

impl Scores {
    pub fn get(&self, metric: &Metric) -> Option<f64> {
        self.map.get(&*metric.name()).copied()
    }
}

fn fmt(v: f64) -> String {
    format!("{v:.4}")
}

/// A bound in the metric's unit: `<= 10%` for MAPE.
fn bound_shown(metric: &Metric, bound: &Bound) -> String {
    bound.with_suffix(metric.unit().suffix())
}

/// What the checks after scoring share: the gate, the truth, the model's
/// predictions and the metrics computed from them.
struct Scored<'a> {
    gate: &'a Gate,
    truth: &'a Truth,
    prediction: &'a Prediction,
    scores: &'a Scores,
}

/// Runs every check the gate names and returns the report (the caller
/// fills in model, data and time).
pub fn evaluate(gate: &Gate, inputs: Inputs<'_>, report: &mut Report) {
    report.task = Some(inputs.truth.task());
    report.notes.extend(gate.notes());
    if let Some((table, signature)) = inputs.data {
        data_checks(gate, table, signature, &inputs.target, report);
    }
    if inputs.prediction.len() != inputs.truth.len() {
        report.check(Check::failed(
            "model_predicts",
            format!("{} predictions for {} rows", inputs.prediction.len(), inputs.truth.len()),
        ));
        return;
    }
    let scores = match score(&inputs.truth, inputs.prediction) {
        Ok(s) => s,
        Err(e) => {
            report.check(Check::failed("metrics", format!("cannot compute metrics: {e}")));
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
    let scored = Scored { gate, truth: &inputs.truth, prediction: inputs.prediction, scores: &scores };
    if let Some((name, input)) = inputs.baseline {
        baseline(&scored, name, input, report);
    }
    if let Some(d) = inputs.drift {
        let spec = gate.drift.clone().unwrap_or_default();
        let drifted: Vec<&str> = d.columns.iter().filter(|c| c.drifted).map(|c| c.column.as_str()).collect();
        let skipped: Vec<String> =
            d.columns.iter().filter_map(|c| c.skipped.as_ref().map(|why| format!("{} ({why})", c.column))).collect();
        report.check(
            Check::new(
                "drift",
                !d.dataset_drift,
                format!(
                    "data drift: {} of {} columns drifted ({:.0}%){}{}",
                    d.drifted,
                    d.tested,
                    d.share * 100.0,
                    if drifted.is_empty() { String::new() } else { format!(": {}", drifted.join(", ")) },
                    if skipped.is_empty() { String::new() } else { format!("; skipped: {}", skipped.join("; ")) }
                ),
            )
            .with_value(d.share)
            .with_threshold(format!("drifted share <= {}", spec.max_drifted_share)),
        );
        report.drift = serde_json::to_value(&d).ok();
    }
    stability_and_range(gate, inputs.prediction, report);
    if let Some(l) = inputs.latency {
        latency(gate, l, report);
    }
}

fn thresholds(gate: &Gate, scores: &Scores, report: &mut Report) {
    for (metric, bound) in &gate.metrics {
        if *metric == Metric::PerClassRecall {
            report.recall_threshold = bound.min;
            let per_class = scores.classification.as_ref().map(|c| c.per_class_recall.clone()).unwrap_or_default();
            for (class, r) in per_class {
                report.check(
                    Check::new(
                        format!("metric.recall.{class}"),
                        bound.admits(r),
                        format!(
                            "recall for {class:?}: {} {}",
                            fmt(r),
                            verdict_word(bound.admits(r), &bound.to_string())
                        ),
                    )
                    .with_value(r)
                    .with_threshold(bound.to_string()),
                );
            }
            continue;
        }
        if *metric == Metric::Accuracy {
            report.accuracy_threshold = bound.min;
        }
        let rule = bound_shown(metric, bound);
        let name = format!("metric.{metric}");
        report.check(match scores.get(metric) {
            Some(v) => Check::new(
                name,
                bound.admits(v),
                format!("{metric}: {} {}", metric.show(v), verdict_word(bound.admits(v), &rule)),
            )
            .with_value(v)
            .with_threshold(rule),
            None => Check::failed(
                name,
                format!("{metric} could not be computed on this data (a class missing, or no probabilities)"),
            )
            .with_threshold(rule),
        });
    }
}

fn verdict_word(ok: bool, rule: &str) -> String {
    if ok { format!("(required {rule})") } else { format!("violates {rule}") }
}

/// The metrics compared with the baseline: those the gate lists with their
/// tolerances; else the metrics it bounds, else the task's headline metrics,
/// at the baseline's relative `tolerance`.
fn baseline_metrics(gate: &Gate, task: Task) -> BTreeMap<Metric, Tolerance> {
    let spec = gate.baseline.clone().unwrap_or_default();
    if !spec.metrics.is_empty() {
        return spec.metrics;
    }
    let tolerance = Tolerance { tolerance: spec.tolerance.unwrap_or(0.0), relative: true };
    let bounded: Vec<&Metric> = gate.metrics.keys().filter(|m| **m != Metric::PerClassRecall).collect();
    if !bounded.is_empty() {
        return bounded.into_iter().map(|m| (m.clone(), tolerance)).collect();
    }
    let headline: &[Metric] = match task {
        Task::Classification => &[Metric::Accuracy, Metric::F1Macro],
        Task::Regression => &[Metric::Mae, Metric::Rmse],
        Task::Anomaly => &[Metric::FlaggedF1],
    };
    headline.iter().map(|m| (m.clone(), tolerance)).collect()
}

fn baseline(scored: &Scored<'_>, name: String, input: BaselineInput, report: &mut Report) {
    let Scored { gate, truth, prediction, scores } = *scored;
    let (base_map, base_prediction, mode) = match input {
        BaselineInput::Stored(m) => (m, None, BaselineMode::Stored),
        BaselineInput::Rescored(p) => match score(truth, &p) {
            Ok(s) => (s.map, Some(p), BaselineMode::Rescore),
            Err(e) => {
                report.check(Check::failed("baseline", format!("cannot score the baseline {name}: {e}")));
                return;
            }
        },
    };
    let bootstrap = gate.baseline.as_ref().and_then(|b| b.bootstrap);
    let mut rows = Vec::new();
    for (metric, tol) in baseline_metrics(gate, truth.task()) {
        let check = format!("baseline.{metric}");
        let (Some(value), Some(&base)) = (scores.get(&metric), base_map.get(&*metric.name())) else {
            report.check(Check::failed(
                check,
                format!(
                    "{metric} is missing from the {mode} baseline {name}",
                    mode = match mode {
                        BaselineMode::Rescore => "rescored",
                        BaselineMode::Stored => "stored",
                    }
                ),
            ));
            continue;
        };
        let allowed = if tol.relative { tol.tolerance * base.abs() } else { tol.tolerance };
        let direction = metric.direction();
        // Signed improvement: positive when the new model is better.
        let gain = direction.gain(value, base);
        let interval = match (&bootstrap, &base_prediction) {
            (Some(b), Some(bp)) => paired_bootstrap(&Paired { truth, new: prediction, base: bp }, &metric, b),
            _ => None,
        };
        // With an interval, the worse end of the new-minus-baseline
        // difference decides.
        let worst_gain = match (interval, direction) {
            (Some((_, hi)), Direction::LowerIsBetter) => -hi,
            (Some((lo, _)), Direction::HigherIsBetter) => lo,
            (None, _) => gain,
        };
        let passed = worst_gain >= -allowed;
        let change_pct = if base != 0.0 { (value - base) / base.abs() * 100.0 } else { 0.0 };
        // A relative tolerance reads in percent of the baseline; an absolute
        // one in the metric's unit (for MAPE, percentage points).
        let amount = |t: f64| match (tol.relative, metric.unit()) {
            (true, _) => format!("{}%", t * 100.0),
            (false, Unit::Percent) => format!("{t} percentage points"),
            (false, _) => format!("{t}"),
        };
        let rule = if tol.tolerance >= 0.0 {
            format!("at most {} worse", amount(tol.tolerance))
        } else {
            format!("better by at least {}", amount(-tol.tolerance))
        };
        report.check(
            Check::new(
                check,
                passed,
                format!(
                    "{metric}: {} vs baseline {} ({change_pct:+.2}%){}; required {rule}",
                    metric.show(value),
                    metric.show(base),
                    interval
                        .map(|(a, z)| format!(
                            ", {:.0}% CI of the difference [{a:+.4}, {z:+.4}]",
                            bootstrap.map_or(0.0, |b| b.confidence * 100.0)
                        ))
                        .unwrap_or_default()
                ),
            )
            .with_value(value)
            .with_threshold(rule),
        );
        rows.push(BaselineMetric { metric: metric.to_string(), value, baseline: base, change_pct, interval, passed });
    }
    report.baseline = Some(BaselineReport { model: name, mode, metrics: rows });
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

/// Two models' predictions on the same rows, and the truth they are
/// scored against.
pub struct Paired<'a> {
    pub truth: &'a Truth,
    pub new: &'a Prediction,
    pub base: &'a Prediction,
}

/// Percentile interval of `metric(new) − metric(base)` over the bootstrap's
/// resamples of the rows (the same rows for both models), seeded.
pub fn paired_bootstrap(pair: &Paired<'_>, metric: &Metric, bootstrap: &Bootstrap) -> Option<(f64, f64)> {
    let n = pair.truth.len();
    if n == 0 {
        return None;
    }
    let with_proba = metric.needs_probabilities();
    let mut rng = Rng::new(bootstrap.seed);
    let mut diffs = Vec::with_capacity(bootstrap.samples);
    let mut rows = vec![0usize; n];
    for _ in 0..bootstrap.samples {
        for r in rows.iter_mut() {
            *r = rng.below(n as u64) as usize;
        }
        let t = pair.truth.take(&rows);
        let a = score(&t, &take_prediction(pair.new, &rows, with_proba)).ok()?;
        let b = score(&t, &take_prediction(pair.base, &rows, with_proba)).ok()?;
        if let (Some(x), Some(y)) = (a.get(metric), b.get(metric)) {
            diffs.push(x - y);
        }
    }
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_by(f64::total_cmp);
    let tail = (1.0 - bootstrap.confidence) / 2.0;
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
        report.check(Check::failed("stability", "the predictions carry no numbers to measure"));
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
            Check::new(
                "stability",
                cv <= s.max_cv,
                format!("prediction stability: coefficient of variation {} (max {})", fmt(cv), s.max_cv),
            )
            .with_value(cv)
            .with_threshold(format!("<= {}", s.max_cv)),
        );
    }
    if let Some(r) = gate.range {
        let outside = v.iter().filter(|x| (*x - mean).abs() > r.sigmas * std).count() as f64 / v.len() as f64;
        report.prediction_outlier_share = Some(outside);
        report.check(
            Check::new(
                "range",
                outside <= r.max_share,
                format!(
                    "prediction range: {:.2}% beyond {}σ (max {:.2}%)",
                    outside * 100.0,
                    r.sigmas,
                    r.max_share * 100.0
                ),
            )
            .with_value(outside)
            .with_threshold(format!("<= {}", r.max_share)),
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
    for (quantile, ms, max) in [("p50", lat.p50_ms, spec.max_p50_ms), ("p99", lat.p99_ms, spec.max_p99_ms)] {
        let Some(max) = max else { continue };
        report.check(
            Check::new(
                format!("latency.{quantile}"),
                ms <= max,
                format!("{quantile} latency {ms:.3} ms (max {max} ms, {} runs)", lat.runs),
            )
            .with_value(ms)
            .with_threshold(format!("<= {max} ms")),
        );
    }
    if let Some(min) = spec.min_rows_per_s {
        report.check(
            Check::new(
                "latency.throughput",
                rows_per_s >= min,
                format!("batch throughput {rows_per_s:.0} rows/s on {} rows (min {min})", l.batch_rows),
            )
            .with_value(rows_per_s)
            .with_threshold(format!(">= {min} rows/s")),
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
        report.check(Check::new(
            "data.schema",
            problems.is_empty(),
            if problems.is_empty() {
                format!("the data has the model's {} input columns", signature.inputs.len())
            } else {
                format!("the data does not match the model's signature: {}", problems.join("; "))
            },
        ));
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
            Check::new(
                format!("data.nulls.{name}"),
                share <= max,
                format!("column {name:?}: {:.2}% nulls (max {:.2}%)", share * 100.0, max * 100.0),
            )
            .with_value(share)
            .with_threshold(format!("<= {max}")),
        );
    }
    for (name, bound) in &spec.ranges {
        let Some(c) = table.column(name) else {
            report.check(Check::failed(format!("data.range.{name}"), format!("no column {name:?} in the data")));
            continue;
        };
        let outside = (0..c.len()).filter_map(|i| c.as_f64(i)).filter(|v| !bound.admits(*v)).count();
        report.check(
            Check::new(
                format!("data.range.{name}"),
                outside == 0,
                format!("column {name:?}: {outside} value(s) outside {bound}"),
            )
            .with_value(outside as f64)
            .with_threshold(bound.to_string()),
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
            Check::new(
                "data.class_balance",
                share >= min,
                format!("smallest class {class:?}: {:.2}% of rows (min {:.2}%)", share * 100.0, min * 100.0),
            )
            .with_value(share)
            .with_threshold(format!(">= {min}")),
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

    fn labels(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn per_class_recall_checks_every_class_and_a_single_class_has_its_own_check() {
        let gate = Gate::parse(
            "[metrics]\nper_class_recall = { min = 0.6 }\n\"precision.b\" = { min = 0.9 }\n\"f1.z\" = { min = 0.1 }\n",
            "g.toml",
        )
        .unwrap();
        let prediction = Prediction {
            values: None,
            labels: Some(labels(&["a", "b", "b", "b"])),
            probabilities: None,
            classes: None,
        };
        let mut report = Report::new("g", "m");
        let inputs = Inputs {
            truth: Truth::Labels(labels(&["a", "b", "a", "b"])),
            prediction: &prediction,
            baseline: None,
            drift: None,
            latency: None,
            data: None,
            target: "y".into(),
        };
        evaluate(&gate, inputs, &mut report);
        assert_eq!(report.task, Some(Task::Classification));
        assert_eq!(report.recall_threshold, Some(0.6));
        assert_eq!((report.checks["metric.recall.a"], report.checks["metric.recall.b"]), (false, true));
        let b = report.results.iter().find(|c| c.name == "metric.precision.b").unwrap();
        assert_eq!(b.message, "precision.b: 0.6667 violates >= 0.9");
        // A class absent from the data cannot be scored: a failed check, not a pass.
        let z = report.results.iter().find(|c| c.name == "metric.f1.z").unwrap();
        assert!(!z.passed && z.message.contains("could not be computed"), "{z:?}");
    }

    #[test]
    fn anomaly_truth_is_scored_as_flags() {
        let gate = Gate::parse("[metrics]\nrecall = { min = 0.5 }\nflagged = { max = 0.5 }\n", "g.toml").unwrap();
        let prediction = Prediction {
            values: Some(vec![0.9, 0.1, 0.8, 0.2]),
            labels: Some(labels(&["1", "0", "1", "0"])),
            probabilities: None,
            classes: None,
        };
        let mut report = Report::new("g", "m");
        let inputs = Inputs {
            truth: Truth::Anomalies(vec![true, false, false, false]),
            prediction: &prediction,
            baseline: None,
            drift: None,
            latency: None,
            data: None,
            target: "y".into(),
        };
        evaluate(&gate, inputs, &mut report);
        assert!(report.passed, "{}", report.to_text());
        assert_eq!(report.task, Some(Task::Anomaly));
        assert_eq!((report.metrics["recall"], report.metrics["precision"], report.metrics["flagged"]), (1.0, 0.5, 0.5));
    }

    #[test]
    fn predictions_without_values_cannot_score_a_regression() {
        let prediction = Prediction { values: None, labels: Some(labels(&["1"])), probabilities: None, classes: None };
        let e = score(&Truth::Values(vec![1.0]), &prediction).err().unwrap();
        assert_eq!(e.to_string(), "the predictions carry no values; a regression model's predictions need them");
    }

    #[test]
    fn a_bootstrap_interval_decides_on_the_worse_end_for_a_lower_is_better_metric() {
        let truth: Vec<f64> = (1..=60).map(f64::from).collect();
        // The new model is 10% off, the baseline 20%: lower MAE, better.
        let new = values(truth.iter().map(|t| t * 1.1).collect());
        let base = values(truth.iter().map(|t| t * 1.2).collect());
        let t = Truth::Values(truth);
        let bootstrap = Bootstrap { samples: 200, confidence: 0.9, seed: 3 };
        let (lo, hi) =
            paired_bootstrap(&Paired { truth: &t, new: &new, base: &base }, &Metric::Mae, &bootstrap).unwrap();
        assert!(lo <= hi && hi < 0.0, "new minus baseline MAE is negative throughout: [{lo}, {hi}]");
        let gate = Gate::parse(
            "[baseline]\nmetrics = { mae = { tolerance = 0 } }\nbootstrap = { samples = 200, seed = 3 }\n",
            "g.toml",
        )
        .unwrap();
        let mut report = Report::new("g", "m");
        let inputs = Inputs {
            truth: t,
            prediction: &new,
            baseline: Some(("m@1".into(), BaselineInput::Rescored(base))),
            drift: None,
            latency: None,
            data: None,
            target: "y".into(),
        };
        evaluate(&gate, inputs, &mut report);
        assert!(report.checks["baseline.mae"], "{}", report.to_text());
        let b = report.baseline.unwrap();
        assert_eq!(b.mode, BaselineMode::Rescore);
        assert!(b.metrics[0].interval.is_some());
    }
}
