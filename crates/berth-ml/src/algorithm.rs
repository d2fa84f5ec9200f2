//! The built-in algorithms and their hyperparameters, typed. A config names an
//! algorithm and gives hyperparameters as numbers by name (the usual
//! training-job shape); [`Algorithm::new`] turns that into one variant with
//! its own parameter struct, once, refusing unknown names, hyperparameters
//! that belong to another algorithm and values out of range. The trainers
//! then only ever see checked values, and no name is matched twice.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::hyperparameter::{EarlyStopping, HistLoss, Hyper, Value};
use crate::model::Task;
use crate::{MlError, Result};

/// An algorithm by the name configs and `--algorithm` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlgorithmName {
    Ridge,
    LogisticRegression,
    RandomForest,
    GradientBoosting,
    HistGradientBoosting,
    NaiveBayes,
    IsolationForest,
}

/// The tasks in the order listings show them.
const TASKS: [Task; 3] = [Task::Classification, Task::Regression, Task::Anomaly];

impl AlgorithmName {
    pub const ALL: [AlgorithmName; 7] = [
        AlgorithmName::Ridge,
        AlgorithmName::LogisticRegression,
        AlgorithmName::RandomForest,
        AlgorithmName::GradientBoosting,
        AlgorithmName::HistGradientBoosting,
        AlgorithmName::NaiveBayes,
        AlgorithmName::IsolationForest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlgorithmName::Ridge => "ridge",
            AlgorithmName::LogisticRegression => "logistic_regression",
            AlgorithmName::RandomForest => "random_forest",
            AlgorithmName::GradientBoosting => "gradient_boosting",
            AlgorithmName::HistGradientBoosting => "hist_gradient_boosting",
            AlgorithmName::NaiveBayes => "naive_bayes",
            AlgorithmName::IsolationForest => "isolation_forest",
        }
    }

    /// The algorithms that train models for `task`, in the order listings
    /// show them. This table is the one place that says which algorithm fits
    /// which model type.
    pub fn for_task(task: Task) -> &'static [AlgorithmName] {
        match task {
            Task::Classification => &[
                AlgorithmName::LogisticRegression,
                AlgorithmName::RandomForest,
                AlgorithmName::GradientBoosting,
                AlgorithmName::HistGradientBoosting,
                AlgorithmName::NaiveBayes,
            ],
            Task::Regression => &[
                AlgorithmName::Ridge,
                AlgorithmName::RandomForest,
                AlgorithmName::GradientBoosting,
                AlgorithmName::HistGradientBoosting,
            ],
            Task::Anomaly => &[AlgorithmName::IsolationForest],
        }
    }

    pub fn fits(self, task: Task) -> bool {
        AlgorithmName::for_task(task).contains(&self)
    }

    /// Refuses an algorithm that does not train `task` models.
    pub fn check_task(self, task: Task) -> Result<()> {
        if self.fits(task) { Ok(()) } else { Err(self.misfit(task)) }
    }

    /// Why this algorithm cannot train a `task` model: both named, and what
    /// `task` offers.
    pub fn misfit(self, task: Task) -> MlError {
        let trains: Vec<String> = TASKS.iter().filter(|t| self.fits(**t)).map(|t| t.to_string()).collect();
        MlError::AlgorithmDoesNotFit {
            algorithm: self.to_string(),
            task: task.to_string(),
            trains: trains.join(" and "),
            valid: AlgorithmName::offered_for(task),
        }
    }

    /// Its hyperparameters' names, in the order listings show them.
    pub fn hyperparameter_names(self) -> &'static [&'static str] {
        match self {
            AlgorithmName::Ridge => RidgeParams::NAMES,
            AlgorithmName::LogisticRegression => LogisticRegressionParams::NAMES,
            AlgorithmName::RandomForest => RandomForestParams::NAMES,
            AlgorithmName::GradientBoosting => GradientBoostingParams::NAMES,
            AlgorithmName::HistGradientBoosting => HistGradientBoostingParams::NAMES,
            AlgorithmName::NaiveBayes => NaiveBayesParams::NAMES,
            AlgorithmName::IsolationForest => IsolationForestParams::NAMES,
        }
    }

    /// What `task` offers, e.g. "ridge, random_forest, gradient_boosting".
    pub fn offered_for(task: Task) -> String {
        AlgorithmName::for_task(task).iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Every algorithm with its model type, e.g. "…, naive_bayes
    /// (classification); ridge, … (regression); isolation_forest (anomaly)".
    pub fn offered() -> String {
        TASKS.iter().map(|t| format!("{} ({t})", AlgorithmName::offered_for(*t))).collect::<Vec<_>>().join("; ")
    }
}

impl fmt::Display for AlgorithmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Libraries people ask for by name whose models berth runs from ONNX but
/// does not train: the names they go by, the library, and the onnxmltools
/// converter that exports them.
const FOREIGN: [(&[&str], &str, &str); 2] = [
    (&["lgbm", "lightgbm", "lgb"], "LightGBM", "convert_lightgbm"),
    (&["xgboost", "xgb"], "XGBoost", "convert_xgboost"),
];

impl FromStr for AlgorithmName {
    type Err = MlError;

    fn from_str(s: &str) -> Result<AlgorithmName> {
        if let Some(a) = AlgorithmName::ALL.into_iter().find(|a| a.as_str() == s) {
            return Ok(a);
        }
        let lower = s.to_ascii_lowercase();
        if let Some((_, library, converter)) = FOREIGN.iter().find(|(names, _, _)| names.contains(&lower.as_str())) {
            return Err(MlError::ForeignAlgorithm {
                found: s.to_string(),
                library,
                converter,
                valid: AlgorithmName::offered(),
            });
        }
        let suggestion = berth_core::suggest::closest(s, AlgorithmName::ALL.iter().map(|a| a.as_str()))
            .map(|a| format!(" (did you mean {a}?)"))
            .unwrap_or_default();
        Err(MlError::UnknownAlgorithm { found: s.to_string(), suggestion, valid: AlgorithmName::offered() })
    }
}

impl Serialize for AlgorithmName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AlgorithmName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn bad(name: &str, value: impl fmt::Display, reason: &str) -> MlError {
    MlError::BadHyperparameter { name: name.to_string(), value: value.to_string(), reason: reason.to_string() }
}

/// Refuses `value` of hyperparameter `name` unless `ok`.
fn require(name: &str, value: f64, ok: bool, reason: &str) -> Result<()> {
    if ok { Ok(()) } else { Err(bad(name, value, reason)) }
}

/// One algorithm's parameter struct: its fields with the defaults the
/// trainer uses, the names configs write them under, and the conversion
/// from and to numbers by name (what a config holds and a model records).
macro_rules! hyperparameters {
    ($(#[$doc:meta])* $ty:ident { $($(#[$fdoc:meta])* $field:ident: $fty:ty = $default:expr => $key:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $ty {
            $($(#[$fdoc])* pub $field: $fty,)*
        }

        impl Default for $ty {
            fn default() -> Self {
                $ty { $($field: $default,)* }
            }
        }

        impl $ty {
            /// The names configs use, in the order listings show them.
            pub const NAMES: &'static [&'static str] = &[$($key),*];

            /// The defaults with `given` laid over them; names are checked
            /// against [`Self::NAMES`] before this.
            fn from_values(given: &BTreeMap<String, Hyper>) -> Result<Self> {
                let mut p = $ty::default();
                $(
                    if let Some(x) = given.get($key) {
                        p.$field = Value::from_hyper(x).map_err(|reason| bad($key, x, reason))?;
                    }
                )*
                Ok(p)
            }

            /// Every hyperparameter by name, defaults included.
            fn values(&self) -> BTreeMap<String, Hyper> {
                BTreeMap::from([$(($key.to_string(), Value::to_hyper(self.$field))),*])
            }
        }
    };
}

hyperparameters! {
    /// Ridge regression (scikit-learn's `Ridge`).
    RidgeParams {
        /// The L2 penalty on the weights.
        alpha: f64 = 1.0 => "alpha",
    }
}

hyperparameters! {
    /// Multinomial logistic regression (scikit-learn's objective, L-BFGS).
    LogisticRegressionParams {
        /// The inverse of the regularisation strength.
        c: f64 = 1.0 => "C",
        max_iter: usize = 100 => "max_iter",
        /// Stop when the gradient's largest component falls below this.
        tol: f64 = 1e-6 => "tol",
    }
}

hyperparameters! {
    /// A random forest of binned CART trees.
    RandomForestParams {
        n_estimators: usize = 100 => "n_estimators",
        /// 0 means unlimited.
        max_depth: usize = 0 => "max_depth",
        min_samples_split: usize = 2 => "min_samples_split",
        /// 20 by default, not scikit-learn's 1: a forest of 100 trees grown
        /// to single rows on 80k rows is over 150 MB (regression); at 20 it
        /// is about 12 MB, at a cost in accuracy the training benchmark
        /// shows. Set 1 for scikit-learn's fully grown trees.
        min_samples_leaf: usize = 20 => "min_samples_leaf",
        /// The share of features each split considers; 0 means √features for
        /// classification and all features for regression (scikit-learn's
        /// defaults).
        max_features: f64 = 0.0 => "max_features",
        /// Each tree sees a bootstrap sample of the rows (else all of them).
        bootstrap: bool = true => "bootstrap",
    }
}

hyperparameters! {
    /// Gradient boosting on binned CART trees (Friedman's algorithm).
    GradientBoostingParams {
        n_estimators: usize = 100 => "n_estimators",
        learning_rate: f64 = 0.1 => "learning_rate",
        /// 0 means unlimited.
        max_depth: usize = 3 => "max_depth",
        min_samples_split: usize = 2 => "min_samples_split",
        min_samples_leaf: usize = 1 => "min_samples_leaf",
        /// The share of rows each round is fitted on.
        subsample: f64 = 1.0 => "subsample",
    }
}

hyperparameters! {
    /// Histogram gradient boosting (scikit-learn's `HistGradientBoosting*`,
    /// LightGBM's algorithm): binned features, trees grown best first,
    /// missing values and text categories handled natively. The defaults are
    /// scikit-learn's.
    HistGradientBoostingParams {
        /// Boosting iterations (one tree per class per iteration for more
        /// than two classes).
        max_iter: usize = 100 => "max_iter",
        learning_rate: f64 = 0.1 => "learning_rate",
        /// The most leaves a tree has; 0 means unlimited.
        max_leaf_nodes: usize = 31 => "max_leaf_nodes",
        /// 0 means unlimited.
        max_depth: usize = 0 => "max_depth",
        min_samples_leaf: usize = 20 => "min_samples_leaf",
        /// The L2 penalty on leaf values.
        l2_regularization: f64 = 0.0 => "l2_regularization",
        /// Bins per numeric feature, 2 to 255 (missing values get one more).
        max_bins: usize = 255 => "max_bins",
        /// Stop when the loss on a held-out share of the training rows stops
        /// improving: 1 on, 0 off, -1 (auto) on above 10000 training rows.
        early_stopping: EarlyStopping = EarlyStopping::Auto => "early_stopping",
        /// The share of training rows early stopping holds out.
        validation_fraction: f64 = 0.1 => "validation_fraction",
        /// Iterations without improvement before stopping.
        n_iter_no_change: usize = 10 => "n_iter_no_change",
        /// The improvement in held-out loss that counts.
        tol: f64 = 1e-7 => "tol",
        /// What boosting minimises: "auto" is log loss for a classifier and
        /// squared error for a regressor; a regressor also takes
        /// "absolute_error" and "poisson" (a log link, for counts and other
        /// non-negative targets).
        loss: HistLoss = HistLoss::Auto => "loss",
    }
}

hyperparameters! {
    /// Multinomial naive Bayes over one text column's TF-IDF.
    NaiveBayesParams {
        /// Additive smoothing.
        alpha: f64 = 1.0 => "alpha",
        /// The vocabulary's size limit, most frequent terms first; 0 means no limit.
        max_features: usize = 0 => "max_features",
    }
}

hyperparameters! {
    /// An isolation forest.
    IsolationForestParams {
        n_estimators: usize = 100 => "n_estimators",
        /// The rows each tree isolates.
        max_samples: usize = 256 => "max_samples",
        /// The expected share of anomalies, which sets the threshold; 0
        /// flags rows scoring above 0.5 (scikit-learn's "auto").
        contamination: f64 = 0.0 => "contamination",
    }
}

/// An algorithm with its hyperparameters, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Algorithm {
    Ridge(RidgeParams),
    LogisticRegression(LogisticRegressionParams),
    RandomForest(RandomForestParams),
    GradientBoosting(GradientBoostingParams),
    HistGradientBoosting(HistGradientBoostingParams),
    NaiveBayes(NaiveBayesParams),
    IsolationForest(IsolationForestParams),
}

impl Algorithm {
    /// `name` with `given` hyperparameters laid over its defaults. A
    /// hyperparameter it does not have is refused with the ones it has; a
    /// value out of range is refused with the range.
    pub fn new(name: AlgorithmName, given: &BTreeMap<String, Hyper>) -> Result<Algorithm> {
        let names = name.hyperparameter_names();
        if let Some(k) = given.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(MlError::UnknownHyperparameter {
                found: k.clone(),
                algorithm: name.to_string(),
                valid: names.join(", "),
            });
        }
        let algorithm = match name {
            AlgorithmName::Ridge => Algorithm::Ridge(RidgeParams::from_values(given)?),
            AlgorithmName::LogisticRegression => {
                Algorithm::LogisticRegression(LogisticRegressionParams::from_values(given)?)
            }
            AlgorithmName::RandomForest => Algorithm::RandomForest(RandomForestParams::from_values(given)?),
            AlgorithmName::GradientBoosting => Algorithm::GradientBoosting(GradientBoostingParams::from_values(given)?),
            AlgorithmName::HistGradientBoosting => {
                Algorithm::HistGradientBoosting(HistGradientBoostingParams::from_values(given)?)
            }
            AlgorithmName::NaiveBayes => Algorithm::NaiveBayes(NaiveBayesParams::from_values(given)?),
            AlgorithmName::IsolationForest => Algorithm::IsolationForest(IsolationForestParams::from_values(given)?),
        };
        algorithm.check()?;
        Ok(algorithm)
    }

    /// `name` with every hyperparameter at its default.
    pub fn with_defaults(name: AlgorithmName) -> Algorithm {
        match name {
            AlgorithmName::Ridge => Algorithm::Ridge(RidgeParams::default()),
            AlgorithmName::LogisticRegression => Algorithm::LogisticRegression(LogisticRegressionParams::default()),
            AlgorithmName::RandomForest => Algorithm::RandomForest(RandomForestParams::default()),
            AlgorithmName::GradientBoosting => Algorithm::GradientBoosting(GradientBoostingParams::default()),
            AlgorithmName::HistGradientBoosting => {
                Algorithm::HistGradientBoosting(HistGradientBoostingParams::default())
            }
            AlgorithmName::NaiveBayes => Algorithm::NaiveBayes(NaiveBayesParams::default()),
            AlgorithmName::IsolationForest => Algorithm::IsolationForest(IsolationForestParams::default()),
        }
    }

    pub fn name(&self) -> AlgorithmName {
        match self {
            Algorithm::Ridge(_) => AlgorithmName::Ridge,
            Algorithm::LogisticRegression(_) => AlgorithmName::LogisticRegression,
            Algorithm::RandomForest(_) => AlgorithmName::RandomForest,
            Algorithm::GradientBoosting(_) => AlgorithmName::GradientBoosting,
            Algorithm::HistGradientBoosting(_) => AlgorithmName::HistGradientBoosting,
            Algorithm::NaiveBayes(_) => AlgorithmName::NaiveBayes,
            Algorithm::IsolationForest(_) => AlgorithmName::IsolationForest,
        }
    }

    /// Every hyperparameter by name, defaults included: what a config of
    /// this algorithm says and what its model records.
    pub fn hyperparameters(&self) -> BTreeMap<String, Hyper> {
        match self {
            Algorithm::Ridge(p) => p.values(),
            Algorithm::LogisticRegression(p) => p.values(),
            Algorithm::RandomForest(p) => p.values(),
            Algorithm::GradientBoosting(p) => p.values(),
            Algorithm::HistGradientBoosting(p) => p.values(),
            Algorithm::NaiveBayes(p) => p.values(),
            Algorithm::IsolationForest(p) => p.values(),
        }
    }

    /// Refuses an algorithm that does not train `task` models.
    pub fn check_task(&self, task: Task) -> Result<()> {
        self.name().check_task(task)
    }

    /// Refuses values out of range. [`Algorithm::new`] runs it; the trainer
    /// runs it again, since the fields can be set directly.
    pub fn check(&self) -> Result<()> {
        let at_least_one = |name: &str, n: usize| require(name, n as f64, n >= 1, "must be a whole number, 1 or more");
        let share = |name: &str, x: f64, zero_ok: bool| {
            let ok = (0.0..=1.0).contains(&x) && (zero_ok || x > 0.0);
            require(name, x, ok, if zero_ok { "must be from 0 to 1" } else { "must be above 0 and at most 1" })
        };
        match self {
            Algorithm::Ridge(p) => {
                require("alpha", p.alpha, p.alpha >= 0.0 && p.alpha.is_finite(), "must be 0 or more")
            }
            Algorithm::LogisticRegression(p) => {
                require("C", p.c, p.c > 0.0 && p.c.is_finite(), "must be above 0")?;
                at_least_one("max_iter", p.max_iter)?;
                require("tol", p.tol, p.tol > 0.0, "must be above 0")
            }
            Algorithm::RandomForest(p) => {
                at_least_one("n_estimators", p.n_estimators)?;
                share("max_features", p.max_features, true)
            }
            Algorithm::GradientBoosting(p) => {
                at_least_one("n_estimators", p.n_estimators)?;
                let lr = p.learning_rate;
                require("learning_rate", lr, lr > 0.0 && lr.is_finite(), "must be above 0")?;
                share("subsample", p.subsample, false)
            }
            Algorithm::HistGradientBoosting(p) => {
                at_least_one("max_iter", p.max_iter)?;
                let lr = p.learning_rate;
                require("learning_rate", lr, lr > 0.0 && lr.is_finite(), "must be above 0")?;
                let leaves = p.max_leaf_nodes;
                require("max_leaf_nodes", leaves as f64, leaves != 1, "must be 2 or more (or 0 for unlimited)")?;
                at_least_one("min_samples_leaf", p.min_samples_leaf)?;
                let l2 = p.l2_regularization;
                require("l2_regularization", l2, l2 >= 0.0 && l2.is_finite(), "must be 0 or more")?;
                let bins = p.max_bins;
                require("max_bins", bins as f64, (2..=crate::hist::MAX_BINS).contains(&bins), "must be from 2 to 255")?;
                let vf = p.validation_fraction;
                require("validation_fraction", vf, vf > 0.0 && vf < 1.0, "must be above 0 and below 1")?;
                at_least_one("n_iter_no_change", p.n_iter_no_change)?;
                require("tol", p.tol, p.tol >= 0.0 && p.tol.is_finite(), "must be 0 or more")
            }
            Algorithm::NaiveBayes(p) => {
                require("alpha", p.alpha, p.alpha >= 0.0 && p.alpha.is_finite(), "must be 0 or more")
            }
            Algorithm::IsolationForest(p) => {
                at_least_one("n_estimators", p.n_estimators)?;
                let c = p.contamination;
                require("contamination", c, (0.0..=0.5).contains(&c), "must be from 0 to 0.5")
            }
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, f64)]) -> BTreeMap<String, Hyper> {
        pairs.iter().map(|(k, v)| (k.to_string(), Hyper::Number(*v))).collect()
    }

    #[test]
    fn names_round_trip_and_every_algorithm_fits_some_task() {
        for a in AlgorithmName::ALL {
            assert_eq!(a.as_str().parse::<AlgorithmName>().unwrap(), a);
            assert!(TASKS.iter().any(|t| a.fits(*t)), "{a}");
            assert_eq!(Algorithm::with_defaults(a).name(), a);
            assert_eq!(Algorithm::new(a, &BTreeMap::new()).unwrap(), Algorithm::with_defaults(a));
        }
    }

    /// The defaults the trainers used when hyperparameters were a table of
    /// numbers; a model records them, so changing one changes its bytes.
    #[test]
    fn the_defaults_are_the_trainers_defaults() {
        let defaults = |a| Algorithm::with_defaults(a).hyperparameters();
        assert_eq!(defaults(AlgorithmName::Ridge), given(&[("alpha", 1.0)]));
        assert_eq!(
            defaults(AlgorithmName::LogisticRegression),
            given(&[("C", 1.0), ("max_iter", 100.0), ("tol", 1e-6)])
        );
        assert_eq!(
            defaults(AlgorithmName::RandomForest),
            given(&[
                ("n_estimators", 100.0),
                ("max_depth", 0.0),
                ("min_samples_split", 2.0),
                ("min_samples_leaf", 20.0),
                ("max_features", 0.0),
                ("bootstrap", 1.0),
            ])
        );
        assert_eq!(
            defaults(AlgorithmName::GradientBoosting),
            given(&[
                ("n_estimators", 100.0),
                ("learning_rate", 0.1),
                ("max_depth", 3.0),
                ("min_samples_split", 2.0),
                ("min_samples_leaf", 1.0),
                ("subsample", 1.0),
            ])
        );
        assert_eq!(
            defaults(AlgorithmName::HistGradientBoosting),
            given(&[
                ("max_iter", 100.0),
                ("learning_rate", 0.1),
                ("max_leaf_nodes", 31.0),
                ("max_depth", 0.0),
                ("min_samples_leaf", 20.0),
                ("l2_regularization", 0.0),
                ("max_bins", 255.0),
                ("early_stopping", -1.0),
                ("validation_fraction", 0.1),
                ("n_iter_no_change", 10.0),
                ("tol", 1e-7),
            ])
            .into_iter()
            .chain([("loss".to_string(), Hyper::Name("auto".into()))])
            .collect()
        );
        assert_eq!(defaults(AlgorithmName::NaiveBayes), given(&[("alpha", 1.0), ("max_features", 0.0)]));
        assert_eq!(
            defaults(AlgorithmName::IsolationForest),
            given(&[("n_estimators", 100.0), ("max_samples", 256.0), ("contamination", 0.0)])
        );
    }

    #[test]
    fn given_values_are_recorded_as_given() {
        let g = given(&[("n_estimators", 15.0), ("max_depth", 4.0), ("bootstrap", 0.0), ("max_features", 0.5)]);
        let a = Algorithm::new(AlgorithmName::RandomForest, &g).unwrap();
        let Algorithm::RandomForest(p) = &a else { panic!("{a:?}") };
        assert_eq!((p.n_estimators, p.max_depth, p.bootstrap, p.max_features), (15, 4, false, 0.5));
        let recorded = a.hyperparameters();
        for (k, v) in &g {
            assert_eq!(recorded[k], *v, "{k}");
        }
    }

    #[test]
    fn unknown_names_and_bad_values_are_refused_saying_what_is_valid() {
        let e = "forest".parse::<AlgorithmName>().unwrap_err().to_string();
        assert!(e.contains("unknown algorithm \"forest\"") && e.contains("valid: logistic_regression"), "{e}");
        let e = "random_forrest".parse::<AlgorithmName>().unwrap_err().to_string();
        assert!(e.contains("did you mean random_forest?"), "{e}");
        let e = Algorithm::new(AlgorithmName::LogisticRegression, &given(&[("depth", 3.0)])).unwrap_err().to_string();
        assert!(e.contains("\"depth\"") && e.contains("valid: C, max_iter, tol"), "{e}");
        let cases: [(AlgorithmName, &str, f64, &str); 9] = [
            (AlgorithmName::LogisticRegression, "C", -1.0, "must be above 0"),
            (AlgorithmName::LogisticRegression, "max_iter", 0.0, "1 or more"),
            (AlgorithmName::RandomForest, "n_estimators", 10.5, "whole number"),
            (AlgorithmName::RandomForest, "bootstrap", 2.0, "1 (on) or 0 (off)"),
            (AlgorithmName::GradientBoosting, "subsample", 0.0, "above 0 and at most 1"),
            (AlgorithmName::IsolationForest, "contamination", 0.7, "from 0 to 0.5"),
            (AlgorithmName::HistGradientBoosting, "early_stopping", 2.0, "-1 (auto"),
            (AlgorithmName::HistGradientBoosting, "max_bins", 256.0, "from 2 to 255"),
            (AlgorithmName::Ridge, "alpha", f64::NAN, "0 or more"),
        ];
        for (a, k, v, needle) in cases {
            let e = Algorithm::new(a, &given(&[(k, v)])).unwrap_err().to_string();
            assert!(e.contains(&format!("hyperparameter {k} = ")) && e.contains(needle), "{a} {k}={v}: {e}");
        }
    }

    #[test]
    fn an_algorithm_for_another_model_type_is_refused_naming_both() {
        let e = Algorithm::with_defaults(AlgorithmName::LogisticRegression)
            .check_task(Task::Regression)
            .unwrap_err()
            .to_string();
        assert!(e.contains("logistic_regression") && e.contains("regression models"), "{e}");
        assert!(e.contains("ridge, random_forest, gradient_boosting"), "{e}");
        for task in TASKS {
            for a in AlgorithmName::for_task(task) {
                Algorithm::with_defaults(*a).check_task(task).unwrap();
            }
        }
    }

    #[test]
    fn lightgbm_and_xgboost_are_answered_with_the_way_to_bring_them() {
        for (name, library) in [("lgbm", "LightGBM"), ("LightGBM", "LightGBM"), ("xgboost", "XGBoost")] {
            let e = name.parse::<AlgorithmName>().unwrap_err().to_string();
            assert!(e.contains(library) && e.contains("onnxmltools") && e.contains("berth predict model.onnx"), "{e}");
            assert!(e.contains("hist_gradient_boosting"), "{e}");
        }
    }
}
