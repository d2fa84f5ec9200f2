//! An ONNX export with one input per column (a scikit-learn
//! `ColumnTransformer`: two numeric columns scaled, a text column one-hot
//! encoded) scored from a CSV file by `berth predict` and `berth validate`:
//! each graph input is the column of its name, whatever the file's column
//! order, and the answers are onnxruntime's.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::Project;

fn fixture() -> (PathBuf, Value) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-ml/tests/data/onnx");
    let reference = serde_json::from_slice(&std::fs::read(dir.join("column_transformer_logistic.json")).unwrap());
    (dir.join("column_transformer_logistic.onnx"), reference.unwrap())
}

/// The reference batch as CSV, columns in another order than the graph's
/// inputs, with onnxruntime's label as `y`.
fn batch_csv(reference: &Value) -> String {
    let column = |name: &str| reference["inputs"][name].as_array().unwrap().clone();
    let (a, b, plan) = (column("a"), column("b"), column("plan"));
    let labels = reference["outputs"]["output_label"].as_array().unwrap();
    let mut csv = String::from("plan,b,a,y\n");
    for i in 0..a.len() {
        let f = |v: &Value| format!("{:?}", v[0].as_f64().unwrap() as f32);
        csv.push_str(&format!("{},{},{},{}\n", plan[i][0].as_str().unwrap(), f(&b[i]), f(&a[i]), labels[i]));
    }
    csv
}

#[test]
fn predict_reads_each_input_from_the_column_of_its_name() {
    let (model, reference) = fixture();
    let p = Project::empty();
    p.write("batch.csv", batch_csv(&reference).as_bytes());
    p.berth(&["predict", model.to_str().unwrap(), "--data", "batch.csv", "-o", "out.csv"]).ok();
    let out = std::fs::read_to_string(p.path().join("out.csv")).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("prediction,proba_0,proba_1"));
    let want = reference["outputs"]["output_label"].as_array().unwrap();
    let got: Vec<String> = lines.map(|l| l.split(',').next().unwrap().to_string()).collect();
    assert_eq!(got, want.iter().map(|v| v.to_string()).collect::<Vec<_>>());

    let refused = p
        .berth(&["predict", model.to_str().unwrap(), "--data", "batch.csv", "-o", "x.csv", "--features", "a,b"])
        .fails(2);
    assert!(refused.stderr.contains("reads its columns by name"), "{}", refused.stderr);
}

#[test]
fn validate_scores_the_named_columns_and_leaves_the_label_out() {
    let (model, reference) = fixture();
    let p = Project::empty();
    p.write("batch.csv", batch_csv(&reference).as_bytes());
    let args = ["validate", model.to_str().unwrap(), "--data", "batch.csv", "--target", "y", "--json"];
    let j = p.berth(&[&args[..], &["--min", "accuracy=1.0"]].concat()).ok().json();
    assert_eq!(j["task"], "classification", "{j}");
    assert_eq!(j["metrics"]["accuracy"], 1.0, "{j}");
}
