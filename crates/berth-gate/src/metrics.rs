//! Classification and regression metrics with scikit-learn's definitions
//! (`zero_division=0`; labels are the union of true and predicted ones).
//!
//! One exception to "equal to scikit-learn": MAPE is reported in percent
//! (scikit-learn's `mean_absolute_percentage_error` × 100), because its name
//! says percentage and people write thresholds such as `mape = { max = 10 }`
//! meaning 10 %; as a fraction, that threshold would pass every model.
//! [`Metric`] is the closed set of metrics a gate can name: each knows its
//! task, its [`Unit`] and its [`Direction`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use berth_ml::Task;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricError {
    #[error("{what}: {a} true values but {b} predictions")]
    Length { what: &'static str, a: usize, b: usize },
    #[error("no rows to score")]
    Empty,
    #[error("the predictions carry no {0}; a {1} model's predictions need them")]
    Missing(&'static str, Task),
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

/// A metric berth computes, named as the gate file, the flags and the
/// report name it (`accuracy`, `recall.churned`, `mape`). A name is parsed
/// once, where a gate enters ([`Metric::parse`]); after that the task the
/// metric belongs to, its unit and its direction come from the value, not
/// from string comparisons scattered over the checks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Metric {
    // Classification.
    Accuracy,
    BalancedAccuracy,
    PrecisionMacro,
    RecallMacro,
    F1Macro,
    PrecisionWeighted,
    RecallWeighted,
    F1Weighted,
    /// Needs class probabilities.
    LogLoss,
    /// Needs class probabilities.
    RocAuc,
    /// Needs class probabilities.
    PrAuc,
    /// The recall of every class among the true labels: one bound, one
    /// check per class (`metric.recall.<class>`).
    PerClassRecall,
    /// One class's score: `recall.<class>`, `precision.<class>`, `f1.<class>`.
    OfClass(ClassScore, String),
    // Regression.
    Mae,
    Mse,
    Rmse,
    /// In percent (10.0 is 10 %).
    Mape,
    R2,
    MaxError,
    MedianAbsoluteError,
    // Anomaly detection: the flagged rows against the known anomalies.
    FlaggedPrecision,
    FlaggedRecall,
    FlaggedF1,
    /// The share of rows flagged.
    Flagged,
}

/// A score computed for each class of a classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClassScore {
    Recall,
    Precision,
    F1,
}

impl ClassScore {
    pub const ALL: [ClassScore; 3] = [ClassScore::Recall, ClassScore::Precision, ClassScore::F1];

    /// The prefix before the class in a metric's name (`recall` in `recall.churned`).
    pub fn name(self) -> &'static str {
        match self {
            ClassScore::Recall => "recall",
            ClassScore::Precision => "precision",
            ClassScore::F1 => "f1",
        }
    }
}

/// Which way a metric improves: what "worse than the baseline" and "live
/// metrics degraded" mean for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

impl Direction {
    /// How much better `value` is than `reference`: positive when better,
    /// negative when worse, in the metric's unit.
    pub fn gain(self, value: f64, reference: f64) -> f64 {
        match self {
            Direction::HigherIsBetter => value - reference,
            Direction::LowerIsBetter => reference - value,
        }
    }
}

static CLASSIFICATION: [Metric; 12] = [
    Metric::Accuracy,
    Metric::BalancedAccuracy,
    Metric::PrecisionMacro,
    Metric::RecallMacro,
    Metric::F1Macro,
    Metric::PrecisionWeighted,
    Metric::RecallWeighted,
    Metric::F1Weighted,
    Metric::LogLoss,
    Metric::RocAuc,
    Metric::PrAuc,
    Metric::PerClassRecall,
];
static REGRESSION: [Metric; 7] =
    [Metric::Mae, Metric::Mse, Metric::Rmse, Metric::Mape, Metric::R2, Metric::MaxError, Metric::MedianAbsoluteError];
static ANOMALY: [Metric; 4] = [Metric::FlaggedPrecision, Metric::FlaggedRecall, Metric::FlaggedF1, Metric::Flagged];

/// A metric name berth does not compute, or a per-class one without its class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricNameError {
    #[error("unknown metric {name:?}{suggestion}; berth computes {known}", known = Metric::known())]
    Unknown { name: String, suggestion: String },
    #[error("metric {name:?} names no class; write e.g. \"{name}churned\" (quoted in TOML) for the class \"churned\"")]
    NoClass { name: String },
}

impl Metric {
    /// The metrics `task` computes, per-class ones aside (`recall.<class>`, …).
    pub fn of_task(task: Task) -> &'static [Metric] {
        match task {
            Task::Classification => &CLASSIFICATION,
            Task::Regression => &REGRESSION,
            Task::Anomaly => &ANOMALY,
        }
    }

    /// The metric named `name`, as the gate file and the report write it.
    pub fn parse(name: &str) -> Result<Metric, MetricNameError> {
        if let Some((prefix, class)) = name.split_once('.')
            && let Some(score) = ClassScore::ALL.into_iter().find(|s| s.name() == prefix)
        {
            if class.is_empty() {
                return Err(MetricNameError::NoClass { name: name.to_string() });
            }
            return Ok(Metric::OfClass(score, class.to_string()));
        }
        let fixed = || [Task::Classification, Task::Regression, Task::Anomaly].into_iter().flat_map(Metric::of_task);
        let fixed = fixed().filter_map(|m| Some((m, m.fixed_name()?)));
        let known: Vec<(&Metric, &str)> = fixed.collect();
        match known.iter().find(|(_, n)| *n == name) {
            Some((m, _)) => Ok((*m).clone()),
            None => Err(MetricNameError::Unknown {
                name: name.to_string(),
                suggestion: berth_core::suggest::did_you_mean(name, known.iter().map(|(_, n)| *n)),
            }),
        }
    }

    /// Every metric name, by task, for messages.
    fn known() -> String {
        let names = |task| Metric::of_task(task).iter().map(|m| m.name()).collect::<Vec<_>>().join(", ");
        format!(
            "classification: {}, \"recall.<class>\", \"precision.<class>\", \"f1.<class>\"; regression: {}; \
             anomaly: {}",
            names(Task::Classification),
            names(Task::Regression),
            names(Task::Anomaly)
        )
    }

    /// The name the gate file, the flags and the report use.
    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Metric::OfClass(score, class) => Cow::Owned(format!("{}.{class}", score.name())),
            m => Cow::Borrowed(m.fixed_name().unwrap_or_default()),
        }
    }

    /// The name of a metric that is not per class.
    fn fixed_name(&self) -> Option<&'static str> {
        Some(match self {
            Metric::Accuracy => "accuracy",
            Metric::BalancedAccuracy => "balanced_accuracy",
            Metric::PrecisionMacro => "precision_macro",
            Metric::RecallMacro => "recall_macro",
            Metric::F1Macro => "f1_macro",
            Metric::PrecisionWeighted => "precision_weighted",
            Metric::RecallWeighted => "recall_weighted",
            Metric::F1Weighted => "f1_weighted",
            Metric::LogLoss => "log_loss",
            Metric::RocAuc => "roc_auc",
            Metric::PrAuc => "pr_auc",
            Metric::PerClassRecall => "per_class_recall",
            Metric::OfClass(..) => return None,
            Metric::Mae => "mae",
            Metric::Mse => "mse",
            Metric::Rmse => "rmse",
            Metric::Mape => "mape",
            Metric::R2 => "r2",
            Metric::MaxError => "max_error",
            Metric::MedianAbsoluteError => "median_absolute_error",
            Metric::FlaggedPrecision => "precision",
            Metric::FlaggedRecall => "recall",
            Metric::FlaggedF1 => "f1",
            Metric::Flagged => "flagged",
        })
    }

    /// The task whose models have this metric.
    pub fn task(&self) -> Task {
        match self {
            Metric::Accuracy
            | Metric::BalancedAccuracy
            | Metric::PrecisionMacro
            | Metric::RecallMacro
            | Metric::F1Macro
            | Metric::PrecisionWeighted
            | Metric::RecallWeighted
            | Metric::F1Weighted
            | Metric::LogLoss
            | Metric::RocAuc
            | Metric::PrAuc
            | Metric::PerClassRecall
            | Metric::OfClass(..) => Task::Classification,
            Metric::Mae
            | Metric::Mse
            | Metric::Rmse
            | Metric::Mape
            | Metric::R2
            | Metric::MaxError
            | Metric::MedianAbsoluteError => Task::Regression,
            Metric::FlaggedPrecision | Metric::FlaggedRecall | Metric::FlaggedF1 | Metric::Flagged => Task::Anomaly,
        }
    }

    /// What the metric's values are.
    pub fn unit(&self) -> Unit {
        match self {
            Metric::Mape => Unit::Percent,
            Metric::R2 => Unit::AtMostOne,
            Metric::Mae | Metric::Rmse | Metric::MaxError | Metric::MedianAbsoluteError => Unit::Target,
            Metric::Mse => Unit::TargetSquared,
            Metric::LogLoss => Unit::Nats,
            _ => Unit::Fraction,
        }
    }

    pub fn direction(&self) -> Direction {
        match self {
            Metric::Mae
            | Metric::Mse
            | Metric::Rmse
            | Metric::Mape
            | Metric::MaxError
            | Metric::MedianAbsoluteError
            | Metric::LogLoss => Direction::LowerIsBetter,
            _ => Direction::HigherIsBetter,
        }
    }

    /// Whether computing it needs the class probabilities, not only the labels.
    pub fn needs_probabilities(&self) -> bool {
        matches!(self, Metric::LogLoss | Metric::RocAuc | Metric::PrAuc)
    }

    /// `v` for a person, in the metric's unit (MAPE with its percent sign).
    pub fn show(&self, v: f64) -> String {
        self.unit().show(v)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for Metric {
    type Err = MetricNameError;
    fn from_str(s: &str) -> Result<Metric, MetricNameError> {
        Metric::parse(s)
    }
}

impl TryFrom<String> for Metric {
    type Error = MetricNameError;
    fn try_from(s: String) -> Result<Metric, MetricNameError> {
        Metric::parse(&s)
    }
}

impl From<Metric> for String {
    fn from(m: Metric) -> String {
        m.name().into_owned()
    }
}

/// By name, so gates and reports list metrics alphabetically, as they did
/// when metrics were strings.
impl Ord for Metric {
    fn cmp(&self, other: &Metric) -> std::cmp::Ordering {
        self.name().cmp(&other.name())
    }
}

impl PartialOrd for Metric {
    fn partial_cmp(&self, other: &Metric) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
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

    /// What follows a number in a threshold: `%` for percent, else nothing.
    pub fn suffix(self) -> &'static str {
        if self == Unit::Percent { "%" } else { "" }
    }
}

impl ClassificationMetrics {
    fn per_class(&self, score: ClassScore) -> &BTreeMap<String, f64> {
        match score {
            ClassScore::Recall => &self.per_class_recall,
            ClassScore::Precision => &self.per_class_precision,
            ClassScore::F1 => &self.per_class_f1,
        }
    }

    /// The value of `metric`: `None` for another task's metric, for one
    /// that needs probabilities the predictions lack, and for a class
    /// absent from the true labels.
    pub fn get(&self, metric: &Metric) -> Option<f64> {
        Some(match metric {
            Metric::Accuracy => self.accuracy,
            Metric::BalancedAccuracy => self.balanced_accuracy,
            Metric::PrecisionMacro => self.precision_macro,
            Metric::RecallMacro => self.recall_macro,
            Metric::F1Macro => self.f1_macro,
            Metric::PrecisionWeighted => self.precision_weighted,
            Metric::RecallWeighted => self.recall_weighted,
            Metric::F1Weighted => self.f1_weighted,
            Metric::LogLoss => return self.log_loss,
            Metric::RocAuc => return self.roc_auc,
            Metric::PrAuc => return self.pr_auc,
            Metric::OfClass(score, class) => return self.per_class(*score).get(class).copied(),
            _ => return None,
        })
    }

    /// Flat `name → value`, as stored on a version and in a report.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let fixed = Metric::of_task(Task::Classification).iter().filter_map(|m| Some((m.to_string(), self.get(m)?)));
        let per_class = ClassScore::ALL.into_iter().flat_map(|score| {
            self.per_class(score).iter().map(move |(class, v)| (Metric::OfClass(score, class.clone()).to_string(), *v))
        });
        fixed.chain(per_class).collect()
    }
}

impl RegressionMetrics {
    /// The value of `metric`; `None` for another task's metric.
    pub fn get(&self, metric: &Metric) -> Option<f64> {
        Some(match metric {
            Metric::Mae => self.mae,
            Metric::Mse => self.mse,
            Metric::Rmse => self.rmse,
            Metric::R2 => self.r2,
            Metric::MaxError => self.max_error,
            Metric::MedianAbsoluteError => self.median_absolute_error,
            Metric::Mape => self.mape,
            _ => return None,
        })
    }

    /// Flat `name → value`, as stored on a version and in a report.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        Metric::of_task(Task::Regression).iter().filter_map(|m| Some((m.to_string(), self.get(m)?))).collect()
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
    /// The value of `metric`; `None` for another task's metric.
    pub fn get(&self, metric: &Metric) -> Option<f64> {
        Some(match metric {
            Metric::FlaggedPrecision => self.precision,
            Metric::FlaggedRecall => self.recall,
            Metric::FlaggedF1 => self.f1,
            Metric::Flagged => self.flagged,
            _ => return None,
        })
    }

    /// Flat `name → value`, as stored on a version and in a report.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        Metric::of_task(Task::Anomaly).iter().filter_map(|m| Some((m.to_string(), self.get(m)?))).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    const TASKS: [Task; 3] = [Task::Classification, Task::Regression, Task::Anomaly];

    #[test]
    fn every_metric_parses_back_from_its_name_and_belongs_to_its_task() {
        for task in TASKS {
            for m in Metric::of_task(task) {
                assert_eq!(Metric::parse(&m.name()).as_ref(), Ok(m), "{m}");
                assert_eq!(m.task(), task, "{m}");
            }
        }
        let per_class = Metric::parse("recall.churned").unwrap();
        assert_eq!(per_class, Metric::OfClass(ClassScore::Recall, "churned".into()));
        assert_eq!(per_class.to_string(), "recall.churned");
        assert_eq!(per_class.task(), Task::Classification);
        // A class name may itself hold dots.
        assert_eq!(Metric::parse("f1.v1.2").unwrap(), Metric::OfClass(ClassScore::F1, "v1.2".into()));
        // Anomaly detection's precision is its own metric, not a class's.
        assert_eq!(Metric::parse("precision").unwrap().task(), Task::Anomaly);
        assert_eq!(Metric::parse("recall.").unwrap_err(), MetricNameError::NoClass { name: "recall.".into() });
        let e = Metric::parse("f1_marco").unwrap_err();
        assert!(e.to_string().starts_with("unknown metric \"f1_marco\"; did you mean f1_macro?"), "{e}");
    }

    #[test]
    fn units_and_directions_are_those_the_gate_reference_gives() {
        let lower = ["mae", "mse", "rmse", "mape", "max_error", "median_absolute_error", "log_loss"];
        for task in TASKS {
            for m in Metric::of_task(task) {
                let expected =
                    if lower.contains(&&*m.name()) { Direction::LowerIsBetter } else { Direction::HigherIsBetter };
                assert_eq!(m.direction(), expected, "{m}");
            }
        }
        assert_eq!(Metric::Mape.unit(), Unit::Percent);
        assert_eq!(Metric::R2.unit(), Unit::AtMostOne);
        assert_eq!(Metric::Mse.unit(), Unit::TargetSquared);
        assert_eq!(Metric::LogLoss.unit(), Unit::Nats);
        assert_eq!(Metric::Flagged.unit(), Unit::Fraction);
        assert_eq!(Metric::parse("precision.a").unwrap().unit(), Unit::Fraction);
        assert_eq!(Direction::LowerIsBetter.gain(8.0, 10.0), 2.0);
        assert_eq!(Direction::HigherIsBetter.gain(0.8, 0.9), 0.8 - 0.9);
    }

    #[test]
    fn the_flat_maps_are_keyed_by_metric_names() {
        let truth: Vec<String> = ["a", "b", "a", "b"].map(String::from).to_vec();
        let pred: Vec<String> = ["a", "b", "b", "b"].map(String::from).to_vec();
        let c = classification(&truth, &pred, None).unwrap();
        let keys: Vec<String> = c.to_map().into_keys().collect();
        assert_eq!(
            keys,
            [
                "accuracy",
                "balanced_accuracy",
                "f1.a",
                "f1.b",
                "f1_macro",
                "f1_weighted",
                "precision.a",
                "precision.b",
                "precision_macro",
                "precision_weighted",
                "recall.a",
                "recall.b",
                "recall_macro",
                "recall_weighted"
            ]
        );
        for (name, v) in c.to_map() {
            assert_eq!(c.get(&Metric::parse(&name).unwrap()), Some(v), "{name}");
        }
        let r = regression(&[1.0, 2.0], &[1.5, 2.0]).unwrap().to_map();
        let names: Vec<&str> = r.keys().map(String::as_str).collect();
        assert_eq!(names, ["mae", "mape", "max_error", "median_absolute_error", "mse", "r2", "rmse"]);
        let a = anomaly(&[true, false], &[true, true]).unwrap().to_map();
        assert_eq!(a.keys().map(String::as_str).collect::<Vec<_>>(), ["f1", "flagged", "precision", "recall"]);
    }

    #[test]
    fn metrics_sort_by_name_as_the_strings_did() {
        let mut ms = [Metric::Mape, Metric::Accuracy, Metric::parse("recall.x").unwrap(), Metric::F1Macro];
        ms.sort();
        assert_eq!(ms.iter().map(|m| m.to_string()).collect::<Vec<_>>(), ["accuracy", "f1_macro", "mape", "recall.x"]);
    }
}
