//! Classification and regression metrics with scikit-learn's definitions
//! (`zero_division=0`; labels are the union of true and predicted ones).
//!
//! One exception to "equal to scikit-learn": MAPE is reported in percent
//! (scikit-learn's `mean_absolute_percentage_error` × 100), because its name
//! says percentage and people write thresholds such as `mape = { max = 10 }`
//! meaning 10 %; as a fraction, that threshold would pass every model.
//! [`unit`] says what each metric's values are.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricError {
    #[error("{what}: {a} true values but {b} predictions")]
    Length { what: &'static str, a: usize, b: usize },
    #[error("no rows to score")]
    Empty,
    #[error("probability row {row} has {found} columns, expected {expected} (one per class)")]
    ProbaShape { row: usize, found: usize, expected: usize },
    #[error("true label {label:?} is not one of the model's classes {classes:?}")]
    UnknownLabel { label: String, classes: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationMetrics {
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub precision_macro: f64,
    pub recall_macro: f64,
    pub f1_macro: f64,
    pub precision_weighted: f64,
    pub recall_weighted: f64,
    pub f1_weighted: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_loss: Option<f64>,
    /// Binary: the second class is the positive one; more classes: the
    /// macro average of one-vs-rest areas (scikit-learn's `multi_class="ovr"`).
    /// Needs probabilities and every class present among the true labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    /// Average precision (area under the precision-recall curve, as
    /// scikit-learn's `average_precision_score`), binary or one-vs-rest macro.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr_auc: Option<f64>,
    /// Per class (classes present among the true labels).
    pub per_class_recall: BTreeMap<String, f64>,
    pub per_class_precision: BTreeMap<String, f64>,
    pub per_class_f1: BTreeMap<String, f64>,
    /// Rows: true label; columns: predicted label; both in `labels` order.
    pub confusion_matrix: ConfusionMatrix,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ConfusionMatrix {
    pub labels: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionMetrics {
    pub mae: f64,
    pub mse: f64,
    pub rmse: f64,
    pub r2: f64,
    pub max_error: f64,
    pub median_absolute_error: f64,
    /// Mean absolute percentage error, in percent (10.0 is 10 %).
    pub mape: f64,
}

/// What a metric's values are: their range, for refusing thresholds that
/// cannot mean what they say, and how to show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A share in [0, 1]: accuracy, precision, recall, F1, ROC AUC, PR AUC,
    /// balanced accuracy, per-class scores, the share of rows flagged.
    Fraction,
    /// Percent, 0 or more (MAPE: 10 is 10 %).
    Percent,
    /// The coefficient of determination: at most 1 (a perfect fit),
    /// unbounded below (worse than predicting the mean).
    AtMostOne,
    /// The target's own units, 0 or more (MAE, RMSE, max and median
    /// absolute error).
    Target,
    /// The target's units squared, 0 or more (MSE).
    TargetSquared,
    /// Nats, 0 or more (log loss).
    Nats,
}

impl Unit {
    /// The values the metric can take, as the gate reference writes them.
    pub fn range(self) -> &'static str {
        match self {
            Unit::Fraction => "a fraction in [0, 1]",
            Unit::Percent => "in percent, 0 or more (10 means 10%)",
            Unit::AtMostOne => "at most 1 (a perfect fit), unbounded below",
            Unit::Target => "in the target's units, 0 or more",
            Unit::TargetSquared => "in the target's units squared, 0 or more",
            Unit::Nats => "in nats, 0 or more",
        }
    }

    /// Whether `v` is a value the metric can take.
    pub fn admits(self, v: f64) -> bool {
        match self {
            Unit::Fraction => (0.0..=1.0).contains(&v),
            Unit::AtMostOne => v <= 1.0,
            Unit::Percent | Unit::Target | Unit::TargetSquared | Unit::Nats => v >= 0.0,
        }
    }

    /// `v` for a person: percent with its sign, the rest to four decimals.
    pub fn show(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{v:.2}%"),
            _ => format!("{v:.4}"),
        }
    }
}

/// The unit of a metric named as the gate file and the report name it
/// (`accuracy`, `mape`, `recall.<class>`, `per_class_recall`, …); `None`
/// for a name berth does not compute.
pub fn unit(metric: &str) -> Option<Unit> {
    const FRACTIONS: [&str; 15] = [
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "precision_weighted",
        "recall_weighted",
        "f1_weighted",
        "roc_auc",
        "pr_auc",
        "per_class_recall",
        // Anomaly detection.
        "precision",
        "recall",
        "f1",
        "flagged",
    ];
    let per_class = ["recall.", "precision.", "f1."].iter().any(|p| metric.starts_with(p));
    Some(match metric {
        _ if per_class || FRACTIONS.contains(&metric) => Unit::Fraction,
        "mape" => Unit::Percent,
        "r2" => Unit::AtMostOne,
        "mae" | "rmse" | "max_error" | "median_absolute_error" => Unit::Target,
        "mse" => Unit::TargetSquared,
        "log_loss" => Unit::Nats,
        _ => return None,
    })
}

impl ClassificationMetrics {
    /// Flat `name → value`, as stored on a version.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::from([
            ("accuracy".to_string(), self.accuracy),
            ("balanced_accuracy".into(), self.balanced_accuracy),
            ("precision_macro".into(), self.precision_macro),
            ("recall_macro".into(), self.recall_macro),
            ("f1_macro".into(), self.f1_macro),
            ("precision_weighted".into(), self.precision_weighted),
            ("recall_weighted".into(), self.recall_weighted),
            ("f1_weighted".into(), self.f1_weighted),
        ]);
        if let Some(v) = self.log_loss {
            m.insert("log_loss".into(), v);
        }
        if let Some(v) = self.roc_auc {
            m.insert("roc_auc".into(), v);
        }
        if let Some(v) = self.pr_auc {
            m.insert("pr_auc".into(), v);
        }
        for (prefix, per_class) in
            [("recall", &self.per_class_recall), ("precision", &self.per_class_precision), ("f1", &self.per_class_f1)]
        {
            for (k, v) in per_class {
                m.insert(format!("{prefix}.{k}"), *v);
            }
        }
        m
    }
}

impl RegressionMetrics {
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("mae".to_string(), self.mae),
            ("mse".into(), self.mse),
            ("rmse".into(), self.rmse),
            ("r2".into(), self.r2),
            ("max_error".into(), self.max_error),
            ("median_absolute_error".into(), self.median_absolute_error),
            ("mape".into(), self.mape),
        ])
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Average ranks (1-based), ties sharing the mean of their positions.
fn average_ranks(x: &[f64]) -> Vec<f64> {
    let order = sorted_by_score(x);
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && order[j + 1].0 == order[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for (_, k) in &order[i..=j] {
            ranks[*k as usize] = r;
        }
        i = j + 1;
    }
    ranks
}

/// (score, row) ascending by score. The order among equal scores does not
/// matter to the callers, which treat ties as one group.
fn sorted_by_score(x: &[f64]) -> Vec<(f64, u32)> {
    let mut pairs: Vec<(f64, u32)> = x.iter().copied().zip(0u32..).collect();
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    pairs
}

/// Area under the ROC curve from scores of the positive class: the
/// Mann–Whitney statistic with average ranks for ties, which equals the
/// trapezoidal area scikit-learn computes. `None` when a class is absent.
pub fn roc_auc(positive: &[bool], score: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|p| **p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    let ranks = average_ranks(score);
    let sum_pos: f64 = ranks.iter().zip(positive).filter(|(_, p)| **p).map(|(r, _)| r).sum();
    Some((sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Average precision from scores of the positive class: the sum over
/// distinct thresholds (descending) of precision × recall gained, as
/// scikit-learn computes it. `None` without positives.
pub fn average_precision(positive: &[bool], score: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|p| **p).count() as f64;
    if n_pos == 0.0 {
        return None;
    }
    // Descending by score.
    let order: Vec<(f64, u32)> = sorted_by_score(score).into_iter().rev().collect();
    let (mut tp, mut fp, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let threshold = order[i].0;
        while i < order.len() && order[i].0.total_cmp(&threshold).is_eq() {
            if positive[order[i].1 as usize] {
                tp += 1.0
            } else {
                fp += 1.0
            }
            i += 1;
        }
        let recall = tp / n_pos;
        ap += (recall - last_recall) * tp / (tp + fp);
        last_recall = recall;
    }
    Some(ap)
}

/// One-vs-rest areas: binary problems score the second class; more classes
/// average each class against the rest. `None` when a class has no true row.
fn one_vs_rest(
    y_true: &[String],
    rows: &[Vec<f64>],
    classes: &[String],
    area: fn(&[bool], &[f64]) -> Option<f64>,
) -> Option<f64> {
    let for_class = |c: usize| {
        let positive: Vec<bool> = y_true.iter().map(|t| *t == classes[c]).collect();
        let score: Vec<f64> = rows.iter().map(|r| r[c]).collect();
        area(&positive, &score)
    };
    match classes.len() {
        0 | 1 => None,
        2 => {
            // Both classes must be present, as for scikit-learn.
            if y_true.iter().all(|t| *t == classes[1]) { None } else { for_class(1) }
        }
        k => (0..k).map(for_class).sum::<Option<f64>>().map(|s| s / k as f64),
    }
}

/// `proba`: one row per sample, one column per entry of `classes`.
pub fn classification(
    y_true: &[String],
    y_pred: &[String],
    proba: Option<(&[Vec<f64>], &[String])>,
) -> Result<ClassificationMetrics, MetricError> {
    if y_true.len() != y_pred.len() {
        return Err(MetricError::Length { what: "labels", a: y_true.len(), b: y_pred.len() });
    }
    if y_true.is_empty() {
        return Err(MetricError::Empty);
    }
    let n = y_true.len() as f64;
    // Per label: true positives, times predicted, times true. Hashed while
    // counting (hundreds of thousands of rows), sorted once (a few labels).
    let mut counts: std::collections::HashMap<&String, [f64; 3]> = std::collections::HashMap::new();
    for (t, p) in y_true.iter().zip(y_pred) {
        let c = counts.entry(t).or_default();
        c[2] += 1.0;
        if t == p {
            c[0] += 1.0;
        }
        counts.entry(p).or_default()[1] += 1.0;
    }
    let mut labels: Vec<&String> = counts.keys().copied().collect();
    labels.sort();
    let (tp, pred_n, true_n) = (0, 1, 2);
    let get = |which: usize, k: &String| counts.get(k).map_or(0.0, |c| c[which]);
    let (mut p_macro, mut r_macro, mut f_macro, mut p_w, mut r_w, mut f_w) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut per_class_recall, mut per_class_precision, mut per_class_f1) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for l in &labels {
        let (tpl, pl, tl) = (get(tp, l), get(pred_n, l), get(true_n, l));
        let precision = ratio(tpl, pl);
        let recall = ratio(tpl, tl);
        let f1 = ratio(2.0 * precision * recall, precision + recall);
        p_macro += precision;
        r_macro += recall;
        f_macro += f1;
        p_w += precision * tl;
        r_w += recall * tl;
        f_w += f1 * tl;
        if tl > 0.0 {
            per_class_recall.insert((*l).clone(), recall);
            per_class_precision.insert((*l).clone(), precision);
            per_class_f1.insert((*l).clone(), f1);
        }
    }
    let k = labels.len() as f64;
    let correct: f64 = labels.iter().map(|l| get(tp, l)).sum();
    let balanced_accuracy = per_class_recall.values().sum::<f64>() / per_class_recall.len() as f64;
    let (log_loss, roc_auc, pr_auc) = match proba {
        None => (None, None, None),
        Some((rows, classes)) => {
            if rows.len() != y_true.len() {
                return Err(MetricError::Length { what: "probabilities", a: y_true.len(), b: rows.len() });
            }
            let eps = f64::EPSILON;
            let mut loss = 0.0;
            for (i, (row, t)) in rows.iter().zip(y_true).enumerate() {
                if row.len() != classes.len() {
                    return Err(MetricError::ProbaShape { row: i, found: row.len(), expected: classes.len() });
                }
                let c = classes
                    .iter()
                    .position(|c| c == t)
                    .ok_or_else(|| MetricError::UnknownLabel { label: t.clone(), classes: classes.to_vec() })?;
                loss -= row[c].clamp(eps, 1.0 - eps).ln();
            }
            let roc = one_vs_rest(y_true, rows, classes, roc_auc);
            let pr = one_vs_rest(y_true, rows, classes, average_precision);
            (Some(loss / n), roc, pr)
        }
    };
    let label_list: Vec<String> = labels.iter().map(|l| (*l).clone()).collect();
    let mut counts = vec![vec![0u64; label_list.len()]; label_list.len()];
    for (t, p) in y_true.iter().zip(y_pred) {
        // Both are in `labels` by construction.
        let (i, j) = (label_list.binary_search(t).unwrap_or(0), label_list.binary_search(p).unwrap_or(0));
        counts[i][j] += 1;
    }
    Ok(ClassificationMetrics {
        accuracy: correct / n,
        balanced_accuracy,
        precision_macro: p_macro / k,
        recall_macro: r_macro / k,
        f1_macro: f_macro / k,
        precision_weighted: p_w / n,
        recall_weighted: r_w / n,
        f1_weighted: f_w / n,
        log_loss,
        roc_auc,
        pr_auc,
        per_class_recall,
        per_class_precision,
        per_class_f1,
        confusion_matrix: ConfusionMatrix { labels: label_list, counts },
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

pub fn regression(y_true: &[f64], y_pred: &[f64]) -> Result<RegressionMetrics, MetricError> {
    if y_true.len() != y_pred.len() {
        return Err(MetricError::Length { what: "values", a: y_true.len(), b: y_pred.len() });
    }
    if y_true.is_empty() {
        return Err(MetricError::Empty);
    }
    let n = y_true.len() as f64;
    let abs: Vec<f64> = y_true.iter().zip(y_pred).map(|(t, p)| (t - p).abs()).collect();
    let mae = abs.iter().sum::<f64>() / n;
    let ss_res: f64 = abs.iter().map(|a| a * a).sum();
    let mse = ss_res / n;
    let mean = y_true.iter().sum::<f64>() / n;
    let ss_tot: f64 = y_true.iter().map(|t| (t - mean).powi(2)).sum();
    let r2 = if ss_tot == 0.0 { if ss_res == 0.0 { 1.0 } else { 0.0 } } else { 1.0 - ss_res / ss_tot };
    // scikit-learn's fraction (true values of 0 count as ε), in percent.
    let mape = abs.iter().zip(y_true).map(|(a, t)| a / t.abs().max(f64::EPSILON)).sum::<f64>() / n * 100.0;
    Ok(RegressionMetrics {
        mae,
        mse,
        rmse: mse.sqrt(),
        r2,
        max_error: abs.iter().cloned().fold(0.0, f64::max),
        median_absolute_error: median(abs),
        mape,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyMetrics {
    /// Of the rows flagged, the share that are anomalies.
    pub precision: f64,
    /// Of the anomalies, the share flagged.
    pub recall: f64,
    pub f1: f64,
    /// Share of rows flagged (compare with the contamination).
    pub flagged: f64,
}

impl AnomalyMetrics {
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("precision".to_string(), self.precision),
            ("recall".into(), self.recall),
            ("f1".into(), self.f1),
            ("flagged".into(), self.flagged),
        ])
    }
}

/// Precision and recall of flagged rows against known anomalies
/// (scikit-learn's binary scores with `zero_division=0`).
pub fn anomaly(is_anomaly: &[bool], flagged: &[bool]) -> Result<AnomalyMetrics, MetricError> {
    if is_anomaly.len() != flagged.len() {
        return Err(MetricError::Length { what: "labels", a: is_anomaly.len(), b: flagged.len() });
    }
    if is_anomaly.is_empty() {
        return Err(MetricError::Empty);
    }
    let tp = is_anomaly.iter().zip(flagged).filter(|(a, f)| **a && **f).count() as f64;
    let n_flagged = flagged.iter().filter(|f| **f).count() as f64;
    let n_true = is_anomaly.iter().filter(|a| **a).count() as f64;
    let precision = ratio(tp, n_flagged);
    let recall = ratio(tp, n_true);
    Ok(AnomalyMetrics {
        precision,
        recall,
        f1: ratio(2.0 * precision * recall, precision + recall),
        flagged: n_flagged / flagged.len() as f64,
    })
}
