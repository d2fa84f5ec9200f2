//! ONNX models exported from Python (scripts/export_onnx_fixtures.py) run in
//! berth and give onnxruntime's outputs: labels equal, probabilities and
//! values within 1e-5. Models whose operators berth cannot run yet are
//! refused at load with the operator and the node named.

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

/// Models berth runs: every operator is tract's or rewritten by berth (labels
/// come from the probabilities, which also fixes tract's binary tree labels;
/// Scaler becomes Sub and Mul).
const RUNS: &[&str] = &[
    "logistic_binary",
    "logistic_multiclass",
    "linear_regression",
    "ridge",
    "random_forest_binary",
    "random_forest_multiclass",
    "gradient_boosting_multiclass",
    "xgboost_multiclass",
    "lightgbm_binary",
    "lightgbm_multiclass",
    "scaler_logistic",
    "scaler_ridge",
];

#[test]
fn supported_models_give_onnxruntimes_outputs() {
    let failures: Vec<String> = RUNS.iter().filter_map(|n| check(n).err().map(|e| format!("{n}: {e}"))).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Operators berth does not run yet are named, with their node, at load time.
#[test]
fn unsupported_operators_are_named_with_their_node() {
    let cases = [
        ("random_forest_regressor", "ai.onnx.ml.TreeEnsembleRegressor", "TreeEnsembleRegressor"),
        ("gradient_boosting_regressor", "ai.onnx.ml.TreeEnsembleRegressor", "TreeEnsembleRegressor"),
        ("xgboost_regressor", "ai.onnx.ml.TreeEnsembleRegressor", "TreeEnsembleRegressor"),
        ("lightgbm_regressor", "ai.onnx.ml.TreeEnsembleRegressor", "LgbmRegressor"),
    ];
    for (name, op, node) in cases {
        match load(name).0 {
            Err(MlError::UnsupportedOperator { op: o, node: n }) => {
                assert_eq!((o.as_str(), n.as_str()), (op, node), "{name}")
            }
            Err(e) => panic!("{name}: {e}"),
            Ok(_) => panic!("{name} loaded; move it to RUNS"),
        }
    }
}

/// Binary gradient-boosted classifiers carry two base values, which tract's
/// TreeEnsembleClassifier refuses; the error says so instead of guessing.
#[test]
fn binary_boosted_classifiers_are_refused_with_the_reason() {
    for name in ["gradient_boosting_binary", "xgboost_binary"] {
        let e = load(name).0.err().unwrap_or_else(|| panic!("{name} loaded")).to_string();
        assert!(e.contains("base_values"), "{name}: {e}");
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
