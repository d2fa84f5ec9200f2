//! Built-in trainers. The config follows the usual training-job shape:
//! `model_type`, `algorithm`, `hyperparameters`, `features`, `target`,
//! `validation_split`, `seed`. The same data, config and seed give the same
//! model, byte for byte.

use std::collections::BTreeMap;

use berth_data::{ColumnType, Field, Rng, Table};
use serde::{Deserialize, Serialize};

use crate::algorithm::{
    Algorithm, AlgorithmName, GradientBoostingParams, IsolationForestParams, NaiveBayesParams, RandomForestParams,
};
use crate::ensemble::{BoostParams, ForestParams};
use crate::features::FeatureEncoder;
use crate::forecast::ModelType;
use crate::hyperparameter::Hyper;
use crate::linalg::{cholesky_solve, lbfgs};
use crate::model::{Estimator, FORMAT, FORMAT_VERSION, Model, Signature, Task};
use crate::tree::{Target, TreeParams};
use crate::{MlError, Result};

/// A training config, checked: the algorithm fits the model type and its
/// hyperparameters are its own and in range. It is read from and written as
/// a [`TrainConfigDraft`] (`algorithm = "…"` and `[hyperparameters]`), so a
/// config that parses is one that can train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TrainConfigDraft", into = "TrainConfigDraft")]
pub struct TrainConfig {
    pub model_type: ModelType,
    pub algorithm: Algorithm,
    /// Feature columns; every column but the target when absent.
    pub features: Option<Vec<String>>,
    /// The column to predict; optional for anomaly detection (when given,
    /// 1/true marks a known anomaly and is used only to score the model).
    pub target: Option<String>,
    pub validation_split: f64,
    pub seed: u64,
    /// The training data file, if the config names it.
    pub data: Option<String>,
    /// A forecast's time column; the one timestamp feature when absent.
    pub time_column: Option<String>,
}

impl TrainConfig {
    /// The task of the model it trains.
    pub fn task(&self) -> Task {
        self.model_type.task()
    }
}

/// A training config as written: the algorithm by name and its
/// hyperparameters as numbers by name. Flags are laid over a draft (a
/// hyperparameter given for a config's algorithm still applies when only
/// the data changes), and [`TrainConfig::try_from`] checks it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfigDraft {
    pub model_type: ModelType,
    pub algorithm: AlgorithmName,
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, Hyper>,
    #[serde(default)]
    pub features: Option<Vec<String>>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default = "default_split")]
    pub validation_split: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_column: Option<String>,
}

impl TrainConfigDraft {
    /// A draft of `algorithm` for `model_type` with every other key at its default.
    pub fn new(model_type: ModelType, algorithm: AlgorithmName) -> TrainConfigDraft {
        TrainConfigDraft {
            model_type,
            algorithm,
            hyperparameters: BTreeMap::new(),
            features: None,
            target: None,
            validation_split: default_split(),
            seed: default_seed(),
            data: None,
            time_column: None,
        }
    }
}

impl TryFrom<TrainConfigDraft> for TrainConfig {
    type Error = MlError;

    fn try_from(d: TrainConfigDraft) -> Result<TrainConfig> {
        d.algorithm.check_task(d.model_type.task())?;
        if d.time_column.is_some() && d.model_type != ModelType::Forecast {
            return Err(MlError::Invalid(format!(
                "time_column orders a forecast's rows, and this is a {} model; \
                 set model_type = \"forecast\", or remove time_column",
                d.model_type
            )));
        }
        Ok(TrainConfig {
            model_type: d.model_type,
            algorithm: Algorithm::new(d.algorithm, &d.hyperparameters)?,
            features: d.features,
            target: d.target,
            validation_split: d.validation_split,
            seed: d.seed,
            data: d.data,
            time_column: d.time_column,
        })
    }
}

/// Written back, a config lists every hyperparameter, defaults included, so
/// it says exactly what was trained.
impl From<TrainConfig> for TrainConfigDraft {
    fn from(c: TrainConfig) -> TrainConfigDraft {
        TrainConfigDraft {
            model_type: c.model_type,
            algorithm: c.algorithm.name(),
            hyperparameters: c.algorithm.hyperparameters(),
            features: c.features,
            target: c.target,
            validation_split: c.validation_split,
            seed: c.seed,
            data: c.data,
            time_column: c.time_column,
        }
    }
}

fn default_split() -> f64 {
    0.2
}

fn default_seed() -> u64 {
    42
}

#[derive(Debug)]
pub struct Trained {
    pub model: Model,
    pub train_rows: Vec<usize>,
    pub validation_rows: Vec<usize>,
    pub iterations: usize,
}

/// Splits row indices into (train, validation) with a seeded shuffle.
fn split(n: usize, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..0.9).contains(&fraction) {
        return Err(MlError::Invalid(format!("validation_split is {fraction}; use a value from 0 to 0.9")));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    Rng::new(seed).shuffle(&mut idx);
    let n_val = (n as f64 * fraction).round() as usize;
    let mut val = idx[..n_val].to_vec();
    let mut train = idx[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    if train.len() < 2 {
        return Err(MlError::Invalid(format!(
            "only {} training row(s) after the validation split; need at least 2",
            train.len()
        )));
    }
    Ok((train, val))
}

/// Class labels in output order: integers numerically, text alphabetically.
fn classes_of(table: &Table, target: &str) -> Result<(Vec<String>, Vec<usize>)> {
    let c = table.column(target).expect("checked");
    let labels: Vec<String> = (0..c.len())
        .map(|i| {
            if c.is_null(i) {
                return Err(MlError::BadValues {
                    column: target.into(),
                    what: "null",
                    count: c.null_count(),
                    first_row: i,
                });
            }
            Ok(match c.ty() {
                ColumnType::Str => c.str_at(i).unwrap_or_default().to_string(),
                ColumnType::Float => {
                    let x = c.as_f64(i).unwrap_or(f64::NAN);
                    if x.fract() != 0.0 || !x.is_finite() {
                        return Err(MlError::WrongType {
                            column: target.into(),
                            expected: "a classification target must hold classes (integers, booleans or text)".into(),
                            found: format!("float (row {i} is {x})"),
                        });
                    }
                    format!("{}", x as i64)
                }
                _ => c.display(i),
            })
        })
        .collect::<Result<_>>()?;
    let mut classes = labels.clone();
    classes.sort_by(|a, b| match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    });
    classes.dedup();
    let y = labels.iter().map(|l| classes.iter().position(|c| c == l).expect("present")).collect();
    Ok((classes, y))
}

/// Trains the model `cfg` describes. The config's algorithm decides the
/// trainer; one that does not fit the model type is refused, never replaced.
pub fn train(table: &Table, cfg: &TrainConfig) -> Result<Trained> {
    let task = cfg.task();
    cfg.algorithm.check_task(task)?;
    cfg.algorithm.check()?;
    let target = cfg.target.as_deref().filter(|t| !t.is_empty());
    if target.is_none() && task != Task::Anomaly {
        return Err(MlError::Invalid(format!("a {} model needs a target column (set `target`)", cfg.model_type)));
    }
    if let Some(t) = target {
        table.required(t)?;
    }
    let tname = target.unwrap_or_default();
    let features: Vec<String> = match &cfg.features {
        Some(f) if f.is_empty() => return Err(MlError::Invalid("the feature list is empty".into())),
        Some(f) => f.clone(),
        None => table.names().into_iter().filter(|n| Some(n.as_str()) != target).collect(),
    };
    if let Some(t) = target
        && features.iter().any(|f| f == t)
    {
        return Err(MlError::Invalid(format!("the target {t:?} is also listed as a feature")));
    }
    let in_time_order = cfg.model_type == ModelType::Forecast;
    let (train_rows, validation_rows) = if in_time_order {
        let time = crate::forecast::time_column(table, &features, cfg.time_column.as_deref())?;
        crate::forecast::split_by_time(table, &time, cfg.validation_split)?
    } else {
        split(table.rows(), cfg.validation_split, cfg.seed)?
    };
    if let Algorithm::NaiveBayes(p) = &cfg.algorithm {
        return train_text(table, cfg, &features, p, train_rows, validation_rows);
    }
    let encoder = match &cfg.algorithm {
        Algorithm::HistGradientBoosting(_) => FeatureEncoder::fit_native(table, &features, &train_rows)?,
        _ => FeatureEncoder::fit(table, &features, &train_rows)?,
    };
    let x = encoder.encode(table, Some(&train_rows))?;
    let inputs: Vec<Field> =
        features.iter().map(|f| Field { name: f.clone(), ty: table.column(f).expect("encoded").ty() }).collect();
    // Checked above; the arms for algorithms of other model types say so again rather than guess.
    let misfit = || Err(cfg.algorithm.name().misfit(task));
    let (estimator, classes, iterations) = match task {
        Task::Regression => {
            let c = table.column(tname).expect("checked");
            if c.ty() == ColumnType::Str {
                return Err(MlError::WrongType {
                    column: tname.to_string(),
                    expected: "a regression target must be numeric".into(),
                    found: "text".into(),
                });
            }
            let mut y = Vec::with_capacity(train_rows.len());
            for &i in &train_rows {
                match c.as_f64(i) {
                    Some(v) if v.is_finite() => y.push(v),
                    _ => {
                        return Err(MlError::BadValues {
                            column: tname.to_string(),
                            what: "null, NaN or infinite",
                            count: 1,
                            first_row: i,
                        });
                    }
                }
            }
            let est = match &cfg.algorithm {
                Algorithm::Ridge(p) => ridge(&x, &y, p.alpha)?,
                Algorithm::RandomForest(p) => Estimator::RandomForestRegressor {
                    trees: crate::ensemble::forest(
                        &x,
                        &Target::Values { y: &y },
                        &forest_params(p, x.cols, false, cfg.seed),
                    ),
                },
                Algorithm::GradientBoosting(p) => {
                    let (init, trees) = crate::ensemble::boost_regression(&x, &y, &boost_params(p, cfg.seed));
                    Estimator::GradientBoostingRegressor { learning_rate: p.learning_rate, init, trees }
                }
                Algorithm::HistGradientBoosting(p) => {
                    let loss = crate::train_hist::regression_loss(p.loss, tname, &y, &train_rows)?;
                    let fitted = crate::train_hist::fit(&x, &y, &encoder, loss, p, cfg.seed, in_time_order)?;
                    Estimator::HistGradientBoostingRegressor {
                        baseline: fitted.baseline[0],
                        trees: fitted.rounds.into_iter().flatten().collect(),
                        log_link: loss == crate::hist::Loss::Poisson,
                    }
                }
                Algorithm::LogisticRegression(_) | Algorithm::NaiveBayes(_) | Algorithm::IsolationForest(_) => {
                    return misfit();
                }
            };
            let iterations = match &est {
                Estimator::HistGradientBoostingRegressor { trees, .. } => trees.len(),
                _ => 1,
            };
            (est, None, iterations)
        }
        Task::Classification => {
            let (classes, all_y) = classes_of(table, tname)?;
            let y: Vec<usize> = train_rows.iter().map(|&i| all_y[i]).collect();
            let mut seen: Vec<usize> = y.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() < 2 {
                return Err(MlError::SingleClass { column: tname.to_string(), class: classes[seen[0]].clone() });
            }
            let k = classes.len();
            let (est, iters) = match &cfg.algorithm {
                Algorithm::LogisticRegression(p) => logistic(&x, &y, k, p.c, p.max_iter, p.tol),
                Algorithm::RandomForest(p) => {
                    let p = forest_params(p, x.cols, true, cfg.seed);
                    (
                        Estimator::RandomForestClassifier {
                            trees: crate::ensemble::forest(&x, &Target::Classes { y: &y, k }, &p),
                        },
                        1,
                    )
                }
                Algorithm::GradientBoosting(p) => {
                    let (init, rounds) = crate::ensemble::boost_classification(&x, &y, k, &boost_params(p, cfg.seed));
                    (Estimator::GradientBoostingClassifier { learning_rate: p.learning_rate, init, rounds }, 1)
                }
                Algorithm::HistGradientBoosting(p) => {
                    let loss = crate::train_hist::classification_loss(p.loss, k)?;
                    let yf: Vec<f64> = y.iter().map(|c| *c as f64).collect();
                    let fitted = crate::train_hist::fit(&x, &yf, &encoder, loss, p, cfg.seed, false)?;
                    let iterations = fitted.rounds.len();
                    (
                        Estimator::HistGradientBoostingClassifier { baseline: fitted.baseline, rounds: fitted.rounds },
                        iterations,
                    )
                }
                Algorithm::Ridge(_) | Algorithm::NaiveBayes(_) | Algorithm::IsolationForest(_) => return misfit(),
            };
            (est, Some(classes), iters)
        }
        Task::Anomaly => match &cfg.algorithm {
            Algorithm::IsolationForest(p) => (isolation_forest(&x, p, cfg.seed), None, 1),
            Algorithm::Ridge(_)
            | Algorithm::LogisticRegression(_)
            | Algorithm::RandomForest(_)
            | Algorithm::GradientBoosting(_)
            | Algorithm::HistGradientBoosting(_)
            | Algorithm::NaiveBayes(_) => return misfit(),
        },
    };
    let model = Model {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        signature: Signature { task, inputs, target: target.map(str::to_string), classes },
        hyperparameters: cfg.algorithm.hyperparameters(),
        encoder,
        estimator,
    };
    Ok(Trained { model, train_rows, validation_rows, iterations })
}

fn isolation_forest(x: &crate::Encoded, p: &IsolationForestParams, seed: u64) -> Estimator {
    let params = crate::iforest::Params { n_estimators: p.n_estimators, max_samples: p.max_samples, seed };
    let (trees, sample_size, scores) = crate::iforest::fit(x, &params);
    let threshold = crate::iforest::threshold(&scores, p.contamination);
    Estimator::IsolationForest { sample_size, threshold, trees }
}

/// Naive Bayes reads one text column itself (sparse TF-IDF), so it skips the
/// dense feature encoder.
fn train_text(
    table: &Table,
    cfg: &TrainConfig,
    features: &[String],
    p: &NaiveBayesParams,
    train_rows: Vec<usize>,
    validation_rows: Vec<usize>,
) -> Result<Trained> {
    let [column] = features else {
        return Err(MlError::Invalid(format!(
            "naive_bayes reads exactly one text column; the features are {features:?} (set features = [\"text\"])"
        )));
    };
    let c = table.required(column)?;
    if c.ty() != ColumnType::Str {
        return Err(MlError::WrongType {
            column: column.clone(),
            expected: "naive_bayes needs text".into(),
            found: c.ty().to_string(),
        });
    }
    let (classes, all_y) = classes_of(table, cfg.target.as_deref().unwrap_or_default())?;
    let docs: Vec<&str> = train_rows.iter().map(|&i| c.str_at(i).unwrap_or("")).collect();
    let y: Vec<usize> = train_rows.iter().map(|&i| all_y[i]).collect();
    let mut seen = y.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() < 2 {
        return Err(MlError::SingleClass {
            column: cfg.target.clone().unwrap_or_default(),
            class: classes[seen[0]].clone(),
        });
    }
    let nb = crate::text::NaiveBayes::fit(column, &docs, &y, classes.len(), p.alpha, p.max_features);
    let model = Model {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        signature: Signature {
            task: Task::Classification,
            inputs: vec![Field { name: column.clone(), ty: ColumnType::Str }],
            target: cfg.target.clone(),
            classes: Some(classes),
        },
        hyperparameters: cfg.algorithm.hyperparameters(),
        encoder: FeatureEncoder { features: Vec::new(), missing: false },
        estimator: Estimator::NaiveBayes(nb),
    };
    Ok(Trained { model, train_rows, validation_rows, iterations: 1 })
}

fn tree_params(max_depth: usize, min_samples_split: usize, min_samples_leaf: usize, max_features: usize) -> TreeParams {
    TreeParams { max_depth, min_samples_split, min_samples_leaf, max_features }
}

fn forest_params(p: &RandomForestParams, d: usize, classification: bool, seed: u64) -> ForestParams {
    let mf = p.max_features;
    let max_features = if mf == 0.0 {
        if classification { ((d as f64).sqrt() as usize).max(1) } else { d }
    } else {
        ((d as f64 * mf).round() as usize).max(1)
    };
    ForestParams {
        n_estimators: p.n_estimators,
        tree: tree_params(p.max_depth, p.min_samples_split, p.min_samples_leaf, max_features),
        bootstrap: p.bootstrap,
        seed,
    }
}

fn boost_params(p: &GradientBoostingParams, seed: u64) -> BoostParams {
    BoostParams {
        n_estimators: p.n_estimators,
        learning_rate: p.learning_rate,
        subsample: p.subsample,
        tree: tree_params(p.max_depth, p.min_samples_split, p.min_samples_leaf, usize::MAX),
        seed,
    }
}

/// Ridge regression with an unpenalised intercept (as scikit-learn's `Ridge`).
fn ridge(x: &crate::Encoded, y: &[f64], alpha: f64) -> Result<Estimator> {
    let (n, d) = (x.rows, x.cols);
    let nf = n as f64;
    let mx: Vec<f64> = (0..d).map(|j| (0..n).map(|i| x.row(i)[j]).sum::<f64>() / nf).collect();
    let my = y.iter().sum::<f64>() / nf;
    let mut a = vec![0.0; d * d];
    let mut b = vec![0.0; d];
    let mut xc = vec![0.0; d];
    for (i, yi) in y.iter().enumerate() {
        let row = x.row(i);
        for j in 0..d {
            xc[j] = row[j] - mx[j];
        }
        for j in 0..d {
            b[j] += xc[j] * (yi - my);
            for k in 0..=j {
                a[j * d + k] += xc[j] * xc[k];
            }
        }
    }
    for j in 0..d {
        for k in 0..j {
            a[k * d + j] = a[j * d + k];
        }
        a[j * d + j] += alpha.max(1e-10);
    }
    let w = cholesky_solve(&a, &b, d)
        .ok_or_else(|| MlError::Invalid("the features are degenerate (the normal equations are singular)".into()))?;
    let intercept = my - mx.iter().zip(&w).map(|(m, w)| m * w).sum::<f64>();
    Ok(Estimator::Ridge { weights: w, intercept })
}

/// Multinomial logistic regression minimising `0.5·‖W‖² + C·Σ cross-entropy`
/// (scikit-learn's objective; the intercepts are not penalised) with L-BFGS.
fn logistic(x: &crate::Encoded, y: &[usize], k: usize, c: f64, max_iter: usize, tol: f64) -> (Estimator, usize) {
    let (n, d) = (x.rows, x.cols);
    let stride = d + 1;
    let mut params = vec![0.0; k * stride];
    let scale = 1.0 / (c * n as f64);
    let iters = lbfgs(&mut params, max_iter, tol, |p, g| {
        g.iter_mut().for_each(|v| *v = 0.0);
        let mut loss = 0.0;
        let mut z = vec![0.0; k];
        for i in 0..n {
            let row = x.row(i);
            for (cls, zc) in z.iter_mut().enumerate() {
                let w = &p[cls * stride..cls * stride + d];
                *zc = p[cls * stride + d] + row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
            }
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            loss += lse - z[y[i]];
            for cls in 0..k {
                let pr = (z[cls] - lse).exp() - f64::from(u8::from(cls == y[i]));
                let gw = &mut g[cls * stride..cls * stride + stride];
                for j in 0..d {
                    gw[j] += pr * row[j];
                }
                gw[d] += pr;
            }
        }
        let inv_n = 1.0 / n as f64;
        let mut reg = 0.0;
        for cls in 0..k {
            for j in 0..stride {
                g[cls * stride + j] *= inv_n;
                if j < d {
                    let w = p[cls * stride + j];
                    reg += w * w;
                    g[cls * stride + j] += scale * w;
                }
            }
        }
        loss * inv_n + 0.5 * scale * reg
    });
    let weights = (0..k).map(|cls| params[cls * stride..cls * stride + d].to_vec()).collect();
    let intercepts = (0..k).map(|cls| params[cls * stride + d]).collect();
    (Estimator::LogisticRegression { weights, intercepts }, iters)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Predictor;
    use berth_data::synth::{Kind, SynthOptions, generate};

    fn cfg(task: Task, algorithm: &str, target: &str) -> TrainConfig {
        draft(task, algorithm, target).try_into().unwrap()
    }

    fn draft(task: Task, algorithm: &str, target: &str) -> TrainConfigDraft {
        TrainConfigDraft {
            target: Some(target.into()),
            ..TrainConfigDraft::new(task.into(), algorithm.parse().unwrap())
        }
    }

    fn checked(d: TrainConfigDraft) -> Result<TrainConfig> {
        TrainConfig::try_from(d)
    }

    #[test]
    fn ridge_recovers_a_linear_relation() {
        let t = generate(Kind::Regression, &SynthOptions { rows: 2000, features: 3, ..Default::default() }).unwrap();
        let trained = train(&t, &cfg(Task::Regression, "ridge", "target")).unwrap();
        let val = t.take(&trained.validation_rows);
        let p = trained.model.predict(&val).unwrap().values.unwrap();
        let y: Vec<f64> = (0..val.rows()).map(|i| val.column("target").unwrap().as_f64(i).unwrap()).collect();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let ss_res: f64 = y.iter().zip(&p).map(|(a, b)| (a - b).powi(2)).sum();
        let ss_tot: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
        assert!(1.0 - ss_res / ss_tot > 0.8, "R² {}", 1.0 - ss_res / ss_tot);
    }

    #[test]
    fn logistic_regression_learns_and_is_deterministic() {
        let t = generate(Kind::Classification, &SynthOptions { rows: 3000, classes: 3, ..Default::default() }).unwrap();
        let a = train(&t, &cfg(Task::Classification, "logistic_regression", "target")).unwrap();
        let b = train(&t, &cfg(Task::Classification, "logistic_regression", "target")).unwrap();
        assert_eq!(a.model.to_bytes(), b.model.to_bytes());
        let val = t.take(&a.validation_rows);
        let p = a.model.predict(&val).unwrap();
        let labels = p.labels.unwrap();
        let correct = (0..val.rows()).filter(|&i| val.column("target").unwrap().display(i) == labels[i]).count();
        assert!(correct as f64 / val.rows() as f64 > 0.6, "accuracy {}", correct as f64 / val.rows() as f64);
        let probs = p.probabilities.unwrap();
        assert!(probs.iter().all(|r| (r.iter().sum::<f64>() - 1.0).abs() < 1e-9));
        let back = Model::from_bytes(&a.model.to_bytes()).unwrap();
        assert_eq!(back, a.model);
    }

    #[test]
    fn bad_configs_list_what_is_valid() {
        let t = generate(Kind::Classification, &SynthOptions { rows: 100, ..Default::default() }).unwrap();
        let e = "svm".parse::<AlgorithmName>().unwrap_err().to_string();
        assert!(e.contains("valid: logistic_regression"), "{e}");
        let mut d = draft(Task::Classification, "logistic_regression", "target");
        d.hyperparameters.insert("depth".into(), 3.0.into());
        let e = checked(d).unwrap_err().to_string();
        assert!(e.contains("valid: C, max_iter, tol"), "{e}");
        let mut d = draft(Task::Classification, "logistic_regression", "target");
        d.hyperparameters.insert("C".into(), (-1.0).into());
        assert!(checked(d).unwrap_err().to_string().contains("must be above 0"));
        let e = checked(draft(Task::Regression, "logistic_regression", "target")).unwrap_err().to_string();
        assert!(e.contains("logistic_regression trains classification models, not regression models"), "{e}");
        let e = train(&t, &cfg(Task::Classification, "logistic_regression", "nope")).unwrap_err().to_string();
        assert!(e.contains("missing column"), "{e}");
        // Set directly, out-of-range or misplaced values are refused when training, too.
        let mut c = cfg(Task::Classification, "logistic_regression", "target");
        c.algorithm = Algorithm::LogisticRegression(crate::LogisticRegressionParams { c: 0.0, ..Default::default() });
        assert!(train(&t, &c).unwrap_err().to_string().contains("must be above 0"));
        c.algorithm = Algorithm::with_defaults(AlgorithmName::Ridge);
        assert!(train(&t, &c).unwrap_err().to_string().contains("ridge trains regression models"));
    }

    #[test]
    fn configs_read_as_written_and_write_back_every_hyperparameter() {
        let text = "model_type = \"classification\"\nalgorithm = \"gradient_boosting\"\ntarget = \"target\"\n\
                    [hyperparameters]\nn_estimators = 100\nlearning_rate = 0.05\n";
        let c: TrainConfig = toml::from_str(text).unwrap();
        let Algorithm::GradientBoosting(p) = &c.algorithm else { panic!("{c:?}") };
        assert_eq!((p.n_estimators, p.learning_rate, p.max_depth), (100, 0.05, 3));
        assert_eq!((c.validation_split, c.seed), (0.2, 42));
        let written = serde_json::to_value(&c).unwrap();
        assert_eq!(written["algorithm"], "gradient_boosting");
        assert_eq!(written["hyperparameters"]["subsample"], 1.0);
        assert_eq!(serde_json::from_value::<TrainConfig>(written).unwrap(), c);
        for (text, needle) in [
            ("model_type = \"classification\"\nalgorithm = \"lgbm\"\n", "onnxmltools"),
            ("model_type = \"classification\"\nalgorithm = \"ridge\"\n", "not classification models"),
            (
                "model_type = \"regression\"\nalgorithm = \"ridge\"\n[hyperparameters]\nC = 1\n",
                "unknown hyperparameter \"C\" for ridge; valid: alpha",
            ),
            ("model_type = \"regression\"\nalgoritm = \"ridge\"\n", "algoritm"),
        ] {
            let e = toml::from_str::<TrainConfig>(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn a_single_class_target_is_refused() {
        let t = Table::new(vec![
            berth_data::Column::float("x", vec![1.0, 2.0, 3.0, 4.0]),
            berth_data::Column::int("y", vec![1, 1, 1, 1]),
        ])
        .unwrap();
        let mut c = cfg(Task::Classification, "logistic_regression", "y");
        c.validation_split = 0.0;
        let e = train(&t, &c).unwrap_err().to_string();
        assert!(e.contains("single class"), "{e}");
    }

    #[test]
    fn a_model_file_with_wrong_shapes_or_format_is_refused() {
        assert!(Model::from_bytes(b"\x00\x01binary").unwrap_err().to_string().contains("not JSON"));
        assert!(Model::from_bytes(b"{\"format\":\"onnx\"}").unwrap_err().to_string().contains("format"));
        let t = generate(Kind::Regression, &SynthOptions { rows: 100, features: 2, ..Default::default() }).unwrap();
        let m = train(&t, &cfg(Task::Regression, "ridge", "target")).unwrap().model;
        let mut v: serde_json::Value = serde_json::from_slice(&m.to_bytes()).unwrap();
        v["estimator"]["weights"] = serde_json::json!([1.0]);
        let e = Model::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err().to_string();
        assert!(e.contains("estimator does not fit"), "{e}");
    }
}

#[cfg(test)]
mod ensemble_tests {
    use super::*;
    use crate::Predictor;
    use berth_data::synth::{Kind, SynthOptions, generate};

    fn run(
        kind: Kind,
        task: Task,
        algorithm: &str,
        target: &str,
        hyper: &[(&str, f64)],
        classes: usize,
    ) -> (Trained, f64) {
        let t = generate(kind, &SynthOptions { rows: 3000, classes, features: 6, ..Default::default() }).unwrap();
        let cfg = TrainConfig {
            model_type: task.into(),
            algorithm: Algorithm::new(
                algorithm.parse().unwrap(),
                &hyper.iter().map(|(k, v)| (k.to_string(), Hyper::Number(*v))).collect(),
            )
            .unwrap(),
            features: None,
            target: Some(target.into()),
            validation_split: 0.25,
            seed: 3,
            data: None,
            time_column: None,
        };
        let trained = train(&t, &cfg).unwrap();
        let val = t.take(&trained.validation_rows);
        let p = trained.model.predict(&val).unwrap();
        let y = val.column(target).unwrap();
        let score = match task {
            Task::Classification => {
                let labels = p.labels.unwrap();
                (0..val.rows()).filter(|&i| y.display(i) == labels[i]).count() as f64 / val.rows() as f64
            }
            Task::Regression => {
                let v = p.values.unwrap();
                let ys: Vec<f64> = (0..val.rows()).map(|i| y.as_f64(i).unwrap()).collect();
                let m = ys.iter().sum::<f64>() / ys.len() as f64;
                1.0 - ys.iter().zip(&v).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
                    / ys.iter().map(|a| (a - m).powi(2)).sum::<f64>()
            }
            Task::Anomaly => unreachable!("anomaly models are tested on their own"),
        };
        (trained, score)
    }

    #[test]
    fn forests_and_boosting_learn_every_task() {
        let cases = [
            (Kind::Classification, Task::Classification, "random_forest", "target", 2, 0.7),
            (Kind::Classification, Task::Classification, "random_forest", "target", 3, 0.6),
            (Kind::Classification, Task::Classification, "gradient_boosting", "target", 2, 0.7),
            (Kind::Classification, Task::Classification, "gradient_boosting", "target", 3, 0.6),
            (Kind::Regression, Task::Regression, "random_forest", "target", 2, 0.7),
            (Kind::Regression, Task::Regression, "gradient_boosting", "target", 2, 0.8),
        ];
        for (kind, task, algo, target, classes, floor) in cases {
            let (trained, score) = run(kind, task, algo, target, &[("n_estimators", 30.0)], classes);
            assert!(score > floor, "{algo} {task} ({classes} classes): {score}");
            let back = Model::from_bytes(&trained.model.to_bytes()).unwrap();
            assert_eq!(back, trained.model, "{algo} round-trips");
        }
    }

    #[test]
    fn naive_bayes_classifies_synthetic_sentiment() {
        let t = generate(Kind::Text, &SynthOptions { rows: 2000, ..Default::default() }).unwrap();
        let mut cfg = TrainConfig {
            model_type: ModelType::Classification,
            algorithm: Algorithm::with_defaults(AlgorithmName::NaiveBayes),
            features: None,
            target: Some("label".into()),
            validation_split: 0.25,
            seed: 1,
            data: None,
            time_column: None,
        };
        let trained = train(&t, &cfg).unwrap();
        let val = t.take(&trained.validation_rows);
        let labels = trained.model.predict(&val).unwrap().labels.unwrap();
        let acc = (0..val.rows()).filter(|&i| val.column("label").unwrap().display(i) == labels[i]).count() as f64
            / val.rows() as f64;
        assert!(acc > 0.85, "accuracy {acc}");
        assert_eq!(Model::from_bytes(&trained.model.to_bytes()).unwrap(), trained.model);
        cfg.features = Some(vec!["text".into(), "label".into()]);
        assert!(train(&t, &cfg).is_err());
    }

    #[test]
    fn isolation_forest_finds_the_planted_outliers() {
        let t = generate(
            Kind::Anomaly,
            &SynthOptions { rows: 2000, features: 4, contamination: 0.05, ..Default::default() },
        )
        .unwrap();
        let cfg = TrainConfig {
            model_type: ModelType::Anomaly,
            algorithm: Algorithm::IsolationForest(crate::IsolationForestParams {
                contamination: 0.05,
                ..Default::default()
            }),
            features: Some((0..4).map(|i| format!("x{i}")).collect()),
            target: None,
            validation_split: 0.0,
            seed: 5,
            data: None,
            time_column: None,
        };
        let trained = train(&t, &cfg).unwrap();
        let p = trained.model.predict(&t).unwrap();
        let labels = p.labels.unwrap();
        let truth = t.column("is_anomaly").unwrap();
        let flagged: Vec<usize> = (0..t.rows()).filter(|&i| labels[i] == "1").collect();
        let hits = flagged.iter().filter(|&&i| truth.as_f64(i) == Some(1.0)).count();
        assert!((80..=120).contains(&flagged.len()), "flagged {}", flagged.len());
        assert!(hits as f64 / flagged.len() as f64 > 0.8, "precision {}", hits as f64 / flagged.len() as f64);
        let scores = p.values.unwrap();
        assert!(scores.iter().all(|s| *s > 0.0 && *s <= 1.0));
        assert_eq!(Model::from_bytes(&trained.model.to_bytes()).unwrap(), trained.model);
        let mut no_target = cfg.clone();
        no_target.model_type = ModelType::Classification;
        no_target.algorithm = Algorithm::with_defaults(AlgorithmName::RandomForest);
        assert!(train(&t, &no_target).unwrap_err().to_string().contains("needs a target"));
    }

    #[test]
    fn ensembles_are_deterministic() {
        let a =
            run(Kind::Classification, Task::Classification, "random_forest", "target", &[("n_estimators", 10.0)], 2).0;
        let b =
            run(Kind::Classification, Task::Classification, "random_forest", "target", &[("n_estimators", 10.0)], 2).0;
        assert_eq!(a.model.to_bytes(), b.model.to_bytes());
    }

    #[test]
    fn hist_gradient_boosting_trains_on_missing_values_and_text_that_other_algorithms_refuse() {
        let n = 400;
        let x: Vec<f64> = (0..n).map(|i| if i % 7 == 0 { f64::NAN } else { (i % 40) as f64 }).collect();
        let s: Vec<&str> = (0..n).map(|i| ["red", "green", "blue"][i % 3]).collect();
        let y: Vec<i64> = (0..n).map(|i| i64::from((i % 40 > 20) != (i % 3 == 1))).collect();
        let t = Table::new(vec![
            berth_data::Column::float("x", x),
            berth_data::Column::strings("s", &s),
            berth_data::Column::int("y", y),
        ])
        .unwrap();
        let mut c = TrainConfig {
            model_type: ModelType::Classification,
            algorithm: Algorithm::with_defaults(AlgorithmName::HistGradientBoosting),
            features: None,
            target: Some("y".into()),
            validation_split: 0.25,
            seed: 3,
            data: None,
            time_column: None,
        };
        let trained = train(&t, &c).unwrap();
        let bytes = trained.model.to_bytes();
        assert_eq!(Model::from_bytes(&bytes).unwrap(), trained.model);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("\"missing\":true") && text.contains("\"kind\":\"category\""), "{text:.300}");
        let val = t.take(&trained.validation_rows);
        let labels = trained.model.predict(&val).unwrap().labels.unwrap();
        let correct = (0..val.rows()).filter(|&i| val.column("y").unwrap().display(i) == labels[i]).count();
        // A seventh of the rows hide x, so about 93% is the best there is.
        assert!(correct as f64 / val.rows() as f64 > 0.8, "{correct} of {}", val.rows());
        c.algorithm = Algorithm::with_defaults(AlgorithmName::GradientBoosting);
        let e = train(&t, &c).unwrap_err();
        assert!(e.to_string().contains("NaN"), "{e}");
        assert!(berth_core::Exit::hint(&e).unwrap().contains("hist_gradient_boosting"));
    }

    #[test]
    fn models_of_the_other_algorithms_are_written_as_before() {
        let (trained, _) =
            run(Kind::Regression, Task::Regression, "gradient_boosting", "target", &[("n_estimators", 2.0)], 2);
        let text = String::from_utf8(trained.model.to_bytes()).unwrap();
        assert!(!text.contains("\"missing\""), "an encoder that refuses missing values does not say so");
    }

    #[test]
    fn a_tree_that_points_backwards_is_refused_on_load() {
        let (trained, _) =
            run(Kind::Regression, Task::Regression, "random_forest", "target", &[("n_estimators", 2.0)], 2);
        // Point the root's right child back at the root: a loop, if it were accepted.
        let mut m = trained.model.clone();
        let Estimator::RandomForestRegressor { trees } = &mut m.estimator else { panic!() };
        trees[0].right[0] = 0;
        let e = Model::from_bytes(&m.to_bytes()).unwrap_err().to_string();
        assert!(e.contains("estimator does not fit"), "{e}");
        let mut v: serde_json::Value = serde_json::from_slice(&trained.model.to_bytes()).unwrap();
        v["estimator"]["trees"][0]["nodes"] = serde_json::json!(3);
        let e = Model::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err().to_string();
        assert!(e.contains("disagree"), "{e}");
    }
}
