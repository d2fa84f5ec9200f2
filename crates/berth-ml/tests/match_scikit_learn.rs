//! The built-in trainers against scikit-learn on the same small fixtures
//! (scripts/reference_models.py): naive Bayes and ridge exactly (1e-9),
//! logistic regression — an iterative fit on both sides, run to a tight
//! tolerance — to 1e-6.

use std::collections::BTreeMap;
use std::path::Path;

use berth_data::{ReadOptions, read_table};
use berth_ml::{Algorithm, Predictor, Task, TrainConfig, train};
use serde_json::Value;

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn reference(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(data(name)).unwrap()).unwrap()
}

fn fit(
    file: &str,
    task: Task,
    algorithm: &str,
    target: &str,
    hyper: &[(&str, f64)],
) -> (berth_ml::Prediction, berth_data::Table) {
    let t = read_table(&data(file), &ReadOptions::default()).unwrap();
    let hyper = hyper.iter().map(|(k, v)| (k.to_string(), berth_ml::Hyper::Number(*v))).collect::<BTreeMap<_, _>>();
    let cfg = TrainConfig {
        model_type: task.into(),
        algorithm: Algorithm::new(algorithm.parse().unwrap(), &hyper).unwrap(),
        features: None,
        target: Some(target.into()),
        validation_split: 0.0,
        seed: 1,
        data: None,
        time_column: None,
    };
    let m = train(&t, &cfg).unwrap().model;
    (m.predict(&t).unwrap(), t)
}

fn assert_close(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: berth {got}, scikit-learn {want}");
}

#[test]
fn naive_bayes_equals_tfidf_plus_multinomial_nb() {
    let (p, _) = fit("text.csv", Task::Classification, "naive_bayes", "label", &[]);
    let r = reference("naive_bayes.json");
    assert_eq!(p.classes.as_ref().unwrap(), &["negative", "positive"]);
    for (i, (row, want)) in p.probabilities.unwrap().iter().zip(r["proba"].as_array().unwrap()).enumerate() {
        for (k, w) in want.as_array().unwrap().iter().enumerate() {
            assert_close(&format!("row {i} class {k}"), row[k], w.as_f64().unwrap(), 1e-9);
        }
    }
}

#[test]
fn ridge_equals_standard_scaler_plus_ridge() {
    let (p, _) = fit("regression.csv", Task::Regression, "ridge", "y", &[("alpha", 1.0)]);
    let r = reference("ridge.json");
    for (i, (got, want)) in p.values.unwrap().iter().zip(r["prediction"].as_array().unwrap()).enumerate() {
        assert_close(&format!("row {i}"), *got, want.as_f64().unwrap(), 1e-9);
    }
}

#[test]
fn logistic_regression_matches_scikit_learns_optimum() {
    let (p, _) = fit(
        "classification.csv",
        Task::Classification,
        "logistic_regression",
        "k",
        &[("tol", 1e-10), ("max_iter", 10000.0)],
    );
    let r = reference("logistic.json");
    for (i, (row, want)) in p.probabilities.unwrap().iter().zip(r["proba"].as_array().unwrap()).enumerate() {
        for (k, w) in want.as_array().unwrap().iter().enumerate() {
            assert_close(&format!("row {i} class {k}"), row[k], w.as_f64().unwrap(), 1e-6);
        }
    }
}
