//! ONNX models exported from Python (scripts/export_onnx_fixtures.py) run in
//! berth and give onnxruntime's outputs: labels equal, probabilities and
//! values within 1e-5. A model whose operators berth cannot run is refused
//! at load with the operator and the node named.

use std::path::Path;

use berth_ml::{MlError, OnnxModel};
use serde_json::Value;

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/onnx")
}

fn load(name: &str) -> (Result<OnnxModel, MlError>, Value) {
    let bytes = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
    let reference: Value = serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.json"))).unwrap()).unwrap();
    (OnnxModel::from_bytes(&bytes), reference)
}

fn batch(reference: &Value) -> (Vec<f32>, usize) {
    let rows = reference["input"].as_array().unwrap();
    let data = rows.iter().flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32)).collect();
    (data, rows.len())
}

fn check(name: &str) -> Result<(), String> {
    let (model, reference) = load(name);
    let model = model.map_err(|e| e.to_string())?;
    let (data, rows) = batch(&reference);
    let p = model.run(data, rows).map_err(|e| e.to_string())?;
    let outputs = reference["outputs"].as_object().unwrap();
    if let Some(values) = p.values {
        let want: Vec<f64> = outputs["variable"].as_array().unwrap().iter().map(|r| r[0].as_f64().unwrap()).collect();
        for (i, (g, w)) in values.iter().zip(&want).enumerate() {
            if (g - w).abs() > 1e-5 * w.abs().max(1.0) {
                return Err(format!("row {i}: {g} vs onnxruntime {w}"));
            }
        }
        return Ok(());
    }
    let probs = p.probabilities.unwrap();
    let (label_key, prob_key) = if outputs.contains_key("output_label") {
        ("output_label", "output_probability")
    } else {
        ("label", "probabilities")
    };
    let want_probs: Vec<Vec<f64>> = match &outputs[prob_key] {
        Value::Object(z) => z["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
            .collect(),
        Value::Array(a) => {
            a.iter().map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()).collect()
        }
        _ => unreachable!(),
    };
    for (i, (g, w)) in probs.iter().zip(&want_probs).enumerate() {
        if g.len() != w.len() || g.iter().zip(w).any(|(a, b)| (a - b).abs() > 1e-5) {
            return Err(format!("row {i}: probabilities {g:?} vs onnxruntime {w:?}"));
        }
    }
    let want_labels: Vec<String> =
        outputs[label_key].as_array().unwrap().iter().map(|v| v.to_string().trim_matches('"').to_string()).collect();
    if p.labels.as_ref().unwrap() != &want_labels {
        return Err(format!("labels {:?} vs onnxruntime {want_labels:?}", p.labels.unwrap()));
    }
    Ok(())
}

/// Every fixture the export script writes, but the one kept to exercise the
/// refusal of an unknown operator.
const RUNS: &[&str] = &[
    "logistic_binary",
    "logistic_multiclass",
    "linear_regression",
    "ridge",
    "scaler_logistic",
    "scaler_ridge",
    "random_forest_binary",
    "random_forest_multiclass",
    "random_forest_regressor",
    "random_forest_string_labels",
    "gradient_boosting_binary",
    "gradient_boosting_multiclass",
    "gradient_boosting_regressor",
    "xgboost_binary",
    "xgboost_multiclass",
    "xgboost_regressor",
    "lightgbm_binary",
    "lightgbm_multiclass",
    "lightgbm_regressor",
];

#[test]
fn every_exported_model_gives_onnxruntimes_outputs() {
    let failures: Vec<String> = RUNS.iter().filter_map(|n| check(n).err().map(|e| format!("{n}: {e}"))).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_fixture_is_checked() {
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.extension().is_some_and(|e| e == "onnx") && name != "svm_unsupported" {
            assert!(RUNS.contains(&name.as_str()), "{name} is not in RUNS");
        }
    }
}

/// An operator berth does not run is named, with its node, at load time.
#[test]
fn unsupported_operators_are_named_with_their_node() {
    match load("svm_unsupported").0 {
        Err(MlError::UnsupportedOperator { op, node }) => {
            assert_eq!((op.as_str(), node.as_str()), ("ai.onnx.ml.SVMClassifier", "SVMc"))
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("an SVM loaded; move it to RUNS"),
    }
}

#[test]
fn files_that_are_not_onnx_are_refused() {
    let truncated = std::fs::read(dir().join("logistic_binary.onnx")).unwrap();
    let e = OnnxModel::from_bytes(&truncated[..truncated.len() / 2]).err().unwrap().to_string();
    assert!(e.contains("not an ONNX model") || e.contains("cannot load"), "{e}");
    let e = OnnxModel::from_bytes(b"{\"format\": \"berth-model\"}").err().unwrap().to_string();
    assert!(e.contains("not an ONNX model"), "{e}");
}
