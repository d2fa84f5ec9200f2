//! berth's native model format and the [`Predictor`] abstraction.
//!
//! A model file is one JSON document: `{"format": "berth-model", "version":
//! 1, "signature": …, "encoder": …, "estimator": …}`. Loading it runs no code
//! (it is data), refuses files over [`MAX_MODEL_BYTES`], and checks every
//! shape before the model is used; the same model always serialises to the
//! same bytes, so its digest is stable.

use std::collections::BTreeMap;
use std::path::Path;

use berth_data::{Field, Table};
use serde::{Deserialize, Serialize};

use crate::features::FeatureEncoder;
use crate::hist::HistTree;
use crate::hyperparameter::Hyper;
use crate::tree::Tree;
use crate::{MlError, Result};

pub const FORMAT: &str = "berth-model";
pub const FORMAT_VERSION: u32 = 1;
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Regression,
    Classification,
    /// Anomaly detection: a score per row (higher is more anomalous) and a
    /// label, "1" for an anomaly and "0" otherwise.
    Anomaly,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Regression => "regression",
            Task::Classification => "classification",
            Task::Anomaly => "anomaly",
        })
    }
}

/// What a model takes and gives: its input columns and types, its target,
/// and for classifiers the class labels in output order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    pub task: Task,
    pub inputs: Vec<Field>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum Estimator {
    Ridge {
        weights: Vec<f64>,
        intercept: f64,
    },
    LogisticRegression {
        weights: Vec<Vec<f64>>,
        intercepts: Vec<f64>,
    },
    /// Leaves hold class probabilities; the forest averages them.
    RandomForestClassifier {
        trees: Vec<Tree>,
    },
    RandomForestRegressor {
        trees: Vec<Tree>,
    },
    /// Scores start at `init` and add `learning_rate ×` each tree's leaf.
    GradientBoostingRegressor {
        learning_rate: f64,
        init: f64,
        trees: Vec<Tree>,
    },
    /// One tree per round for two classes (log-odds of the second class),
    /// one per class per round otherwise (softmax).
    GradientBoostingClassifier {
        learning_rate: f64,
        init: Vec<f64>,
        rounds: Vec<Vec<Tree>>,
    },
    /// Histogram gradient boosting: the value is `baseline` plus every
    /// tree's leaf (the learning rate is in the leaves), or with `log_link`
    /// (the Poisson loss) the exponential of that sum.
    HistGradientBoostingRegressor {
        baseline: f64,
        trees: Vec<HistTree>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        log_link: bool,
    },
    /// Histogram gradient boosting: one tree per iteration for two classes
    /// (log-odds of the second class), one per class per iteration
    /// otherwise (softmax), added to `baseline`.
    HistGradientBoostingClassifier {
        baseline: Vec<f64>,
        rounds: Vec<Vec<HistTree>>,
    },
    /// Isolation trees; a leaf holds the path length to it (depth plus the
    /// expected length below it). Rows scoring above `threshold` are anomalies.
    IsolationForest {
        sample_size: usize,
        threshold: f64,
        trees: Vec<Tree>,
    },
    /// TF-IDF of one text column, then multinomial naive Bayes.
    NaiveBayes(crate::text::NaiveBayes),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub format: String,
    pub version: u32,
    pub signature: Signature,
    pub hyperparameters: BTreeMap<String, Hyper>,
    pub encoder: FeatureEncoder,
    pub estimator: Estimator,
}

/// What a predictor returns for a batch: values for regression; labels and
/// per-class probabilities (columns in `classes` order) for classification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<Vec<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
}

impl Prediction {
    pub fn len(&self) -> usize {
        self.values.as_ref().map(Vec::len).or(self.labels.as_ref().map(Vec::len)).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A batch in, predictions out; inputs are checked against the signature.
pub trait Predictor: Send + Sync {
    fn signature(&self) -> &Signature;
    fn predict(&self, table: &Table) -> Result<Prediction>;
}

/// `f` of every row index, in order; large batches are split across the
/// machine's cores (each row's answer does not depend on the split).
fn par_rows<T: Send>(n: usize, f: &(dyn Fn(usize) -> T + Sync)) -> Vec<T> {
    const PARALLEL_ROWS: usize = 20_000;
    if n < PARALLEL_ROWS || berth_data::cores() < 2 {
        return (0..n).map(f).collect();
    }
    let threads = berth_data::cores().min(8);
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || (t * per..((t + 1) * per).min(n)).map(f).collect::<Vec<T>>()))
            .collect();
        parts.into_iter().flat_map(|h| h.join().expect("a prediction worker panicked")).collect()
    })
}

pub(crate) fn softmax_in_place(z: &mut [f64]) {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for v in z.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    z.iter_mut().for_each(|v| *v /= s);
}

impl Model {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = serde_json::to_vec(self).expect("a model always serialises");
        b.push(b'\n');
        b
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        if bytes.len() as u64 > MAX_MODEL_BYTES {
            return Err(MlError::BadModel(format!("{} bytes is over the {MAX_MODEL_BYTES}-byte limit", bytes.len())));
        }
        /// Only the fields that say what the document is; the rest is skipped.
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
            version: Option<u64>,
        }
        let head: Head = serde_json::from_slice(bytes).map_err(|e| MlError::BadModel(format!("not JSON ({e})")))?;
        if head.format.as_deref() != Some(FORMAT) {
            return Err(MlError::BadModel(format!("the \"format\" field is not {FORMAT:?}")));
        }
        let version = head.version.unwrap_or(0);
        if version != u64::from(FORMAT_VERSION) {
            return Err(MlError::BadModel(format!(
                "format version {version}; this berth reads version {FORMAT_VERSION} (upgrade berth)"
            )));
        }
        let m: Model = serde_json::from_slice(bytes).map_err(|e| MlError::BadModel(e.to_string()))?;
        m.check_shapes()?;
        Ok(m)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_bytes())
            .map_err(|e| MlError::Invalid(format!("{}: cannot write the model: {e}", path.display())))
    }

    pub fn load(path: &Path) -> Result<Model> {
        let meta = std::fs::metadata(path)
            .map_err(|e| MlError::Invalid(format!("{}: cannot read the model: {e}", path.display())))?;
        if meta.len() > MAX_MODEL_BYTES {
            return Err(MlError::BadModel(format!("{}: {} bytes is over the limit", path.display(), meta.len())));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| MlError::Invalid(format!("{}: cannot read the model: {e}", path.display())))?;
        Model::from_bytes(&bytes).map_err(|e| match e {
            MlError::BadModel(m) => MlError::BadModel(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    fn check_shapes(&self) -> Result<()> {
        let w = self.encoder.width();
        let k = self.signature.classes.as_ref().map_or(0, Vec::len);
        let bad = |m: String| Err(MlError::BadModel(m));
        let trees_ok = |trees: &[Tree], width: usize| {
            !trees.is_empty() && trees.iter().all(|t| t.width == width && t.is_well_formed(w))
        };
        match (&self.estimator, self.signature.task) {
            (Estimator::Ridge { weights, .. }, Task::Regression) if weights.len() == w => Ok(()),
            (Estimator::LogisticRegression { weights, intercepts }, Task::Classification) => {
                if k < 2 || weights.len() != k || intercepts.len() != k || weights.iter().any(|r| r.len() != w) {
                    return bad(format!("logistic regression shapes do not match {k} classes × {w} features"));
                }
                Ok(())
            }
            (Estimator::RandomForestClassifier { trees }, Task::Classification) if k >= 2 && trees_ok(trees, k) => {
                Ok(())
            }
            (Estimator::RandomForestRegressor { trees }, Task::Regression) if trees_ok(trees, 1) => Ok(()),
            (Estimator::GradientBoostingRegressor { trees, .. }, Task::Regression) if trees_ok(trees, 1) => Ok(()),
            (Estimator::GradientBoostingClassifier { init, rounds, .. }, Task::Classification) => {
                let per_round = if k == 2 { 1 } else { k };
                if k < 2 || init.len() != per_round || rounds.iter().any(|r| r.len() != per_round || !trees_ok(r, 1)) {
                    return bad(format!("gradient boosting shapes do not match {k} classes × {w} features"));
                }
                Ok(())
            }
            (Estimator::HistGradientBoostingRegressor { trees, .. }, Task::Regression)
                if !trees.is_empty() && trees.iter().all(|t| t.is_well_formed(w)) =>
            {
                Ok(())
            }
            (Estimator::HistGradientBoostingClassifier { baseline, rounds }, Task::Classification) => {
                let per_round = if k == 2 { 1 } else { k };
                let ok = k >= 2
                    && baseline.len() == per_round
                    && !rounds.is_empty()
                    && rounds.iter().all(|r| r.len() == per_round && r.iter().all(|t| t.is_well_formed(w)));
                if !ok {
                    return bad(format!("histogram gradient boosting shapes do not match {k} classes × {w} features"));
                }
                Ok(())
            }
            (Estimator::NaiveBayes(nb), Task::Classification) if k >= 2 && nb.is_well_formed(k) => Ok(()),
            (Estimator::IsolationForest { trees, sample_size, .. }, Task::Anomaly)
                if *sample_size >= 2 && trees_ok(trees, 1) =>
            {
                Ok(())
            }
            _ => bad(format!("estimator does not fit a {} model with {w} encoded features", self.signature.task)),
        }
    }

    fn predict_text(&self, nb: &crate::text::NaiveBayes, table: &Table) -> Result<Prediction> {
        let c = table.column(&nb.column).ok_or_else(|| {
            MlError::Data(berth_data::DataError::MissingColumns {
                missing: vec![nb.column.clone()],
                available: table.names(),
            })
        })?;
        if c.ty() != berth_data::ColumnType::Str {
            return Err(MlError::WrongType {
                column: nb.column.clone(),
                expected: "the model reads text".into(),
                found: c.ty().to_string(),
            });
        }
        let docs: Vec<&str> = (0..c.len()).map(|i| c.str_at(i).unwrap_or("")).collect();
        let probs = nb.predict_proba(&docs);
        let classes = self.signature.classes.clone().unwrap_or_default();
        let labels = probs
            .iter()
            .map(|z| classes[z.iter().enumerate().fold(0, |bi, (k, p)| if *p > z[bi] { k } else { bi })].clone())
            .collect();
        Ok(Prediction { values: None, labels: Some(labels), probabilities: Some(probs), classes: Some(classes) })
    }

    fn scores(&self, table: &Table) -> Result<(crate::Encoded, usize)> {
        let x = self.encoder.encode(table, None)?;
        let n = x.rows;
        Ok((x, n))
    }
}

impl Predictor for Model {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, table: &Table) -> Result<Prediction> {
        if let Estimator::NaiveBayes(nb) = &self.estimator {
            return self.predict_text(nb, table);
        }
        let (x, n) = self.scores(table)?;
        let regression = |f: &(dyn Fn(&[f64]) -> f64 + Sync)| {
            let values = par_rows(n, &|i| f(x.row(i)));
            Ok(Prediction { values: Some(values), labels: None, probabilities: None, classes: None })
        };
        let classification = |f: &(dyn Fn(&[f64]) -> Vec<f64> + Sync)| {
            let classes = self.signature.classes.clone().unwrap_or_default();
            let probs = par_rows(n, &|i| f(x.row(i)));
            let labels = probs
                .iter()
                .map(|z| {
                    let best = z.iter().enumerate().fold(0, |bi, (k, p)| if *p > z[bi] { k } else { bi });
                    classes[best].clone()
                })
                .collect();
            Ok(Prediction { values: None, labels: Some(labels), probabilities: Some(probs), classes: Some(classes) })
        };
        match &self.estimator {
            Estimator::Ridge { weights, intercept } => {
                regression(&|row| intercept + row.iter().zip(weights).map(|(a, b)| a * b).sum::<f64>())
            }
            Estimator::LogisticRegression { weights, intercepts } => classification(&|row| {
                let mut z: Vec<f64> = weights
                    .iter()
                    .zip(intercepts)
                    .map(|(w, b)| b + row.iter().zip(w).map(|(a, c)| a * c).sum::<f64>())
                    .collect();
                softmax_in_place(&mut z);
                z
            }),
            Estimator::RandomForestClassifier { trees } => classification(&|row| crate::ensemble::average(trees, row)),
            Estimator::RandomForestRegressor { trees } => regression(&|row| crate::ensemble::average(trees, row)[0]),
            Estimator::GradientBoostingRegressor { learning_rate, init, trees } => {
                regression(&|row| init + learning_rate * trees.iter().map(|t| t.output(row)[0]).sum::<f64>())
            }
            Estimator::HistGradientBoostingRegressor { baseline, trees, log_link } => regression(&|row| {
                let raw = baseline + trees.iter().map(|t| t.predict(row)).sum::<f64>();
                if *log_link { raw.exp() } else { raw }
            }),
            Estimator::HistGradientBoostingClassifier { baseline, rounds } => classification(&|row| {
                let mut z = crate::hist::raw_scores(baseline, rounds, row);
                if z.len() == 1 {
                    let p1 = crate::hist::sigmoid(z[0]);
                    vec![1.0 - p1, p1]
                } else {
                    softmax_in_place(&mut z);
                    z
                }
            }),
            Estimator::NaiveBayes(_) => unreachable!("handled above"),
            Estimator::IsolationForest { sample_size, threshold, trees } => {
                let scores: Vec<f64> = par_rows(n, &|i| crate::iforest::score(trees, *sample_size, x.row(i)));
                let labels = scores.iter().map(|s| if *s > *threshold { "1" } else { "0" }.to_string()).collect();
                Ok(Prediction { values: Some(scores), labels: Some(labels), probabilities: None, classes: None })
            }
            Estimator::GradientBoostingClassifier { learning_rate, init, rounds } => classification(&|row| {
                let mut f = crate::ensemble::boosted_scores(init, rounds, *learning_rate, row);
                if f.len() == 1 {
                    let p1 = 1.0 / (1.0 + (-f[0]).exp());
                    vec![1.0 - p1, p1]
                } else {
                    softmax_in_place(&mut f);
                    f
                }
            }),
        }
    }
}
