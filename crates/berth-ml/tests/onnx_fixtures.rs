//! ONNX models exported from Python (scripts/export_onnx_fixtures.py) run in
//! berth and give onnxruntime's outputs: labels equal, probabilities, scores
//! and values within 1e-5 (relative above 1, absolute below). A model berth
//! cannot run is refused at load with the operator and the node named.

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

/// How far `got` is from onnxruntime's `want`: relative, or absolute
/// below 1.
fn error(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs().max(1.0)
}

/// Runs a fixture and compares it with onnxruntime's outputs; returns the
/// largest [`error`] seen.
fn check(name: &str) -> Result<f64, String> {
    let (model, reference) = load(name);
    let model = model.map_err(|e| e.to_string())?;
    let (data, rows) = batch(&reference);
    let p = model.run(data, rows).map_err(|e| e.to_string())?;
    let outputs = reference["outputs"].as_object().unwrap();
    if let Some(values) = p.values {
        let want: Vec<f64> = outputs["variable"].as_array().unwrap().iter().map(|r| r[0].as_f64().unwrap()).collect();
        if values.len() != want.len() {
            return Err(format!("{} values vs onnxruntime's {}", values.len(), want.len()));
        }
        let mut worst = 0f64;
        for (i, (g, w)) in values.iter().zip(&want).enumerate() {
            worst = worst.max(error(*g, *w));
            if error(*g, *w) > 1e-5 {
                return Err(format!("row {i}: {g} vs onnxruntime {w}"));
            }
        }
        return Ok(worst);
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
    if probs.len() != want_probs.len() {
        return Err(format!("{} rows of scores vs onnxruntime's {}", probs.len(), want_probs.len()));
    }
    let mut worst = 0f64;
    for (i, (g, w)) in probs.iter().zip(&want_probs).enumerate() {
        worst = g.iter().zip(w).fold(worst, |m, (a, b)| m.max(error(*a, *b)));
        if g.len() != w.len() || g.iter().zip(w).any(|(a, b)| error(*a, *b) > 1e-5) {
            return Err(format!("row {i}: probabilities {g:?} vs onnxruntime {w:?}"));
        }
    }
    let want_labels: Vec<String> =
        outputs[label_key].as_array().unwrap().iter().map(|v| v.to_string().trim_matches('"').to_string()).collect();
    if p.labels.as_ref().unwrap() != &want_labels {
        return Err(format!("labels {:?} vs onnxruntime {want_labels:?}", p.labels.unwrap()));
    }
    Ok(worst)
}

/// Every fixture the export script writes that berth runs.
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
    "svm_rbf_binary",
    "svm_rbf_multiclass",
    "svm_rbf_multiclass_opset17",
    "svm_probability_binary",
    "svm_probability_multiclass",
    "svm_probability_multiclass_opset17",
    "svm_scaler",
    "svm_linear_kernel",
    "svm_poly_kernel",
    "svm_sigmoid_kernel",
    "svm_string_labels",
    "svr_rbf",
    "svr_rbf_opset17",
    "svr_linear_kernel",
    "svr_poly_kernel",
    "binarizer_logistic_opset17",
    "imputer_ridge_opset17",
    "kbins_onehot_ridge_opset17",
    "binarizer_logistic",
    "imputer_ridge",
    "kbins_onehot_ridge",
    "kbins_ordinal_ridge",
    "polynomial_ridge",
    "adaboost_regressor",
    "linear_svc_binary",
    "linear_svc_multiclass",
    "logistic_string_labels",
    "label_encoder_floats",
    "label_encoder_ints_strings",
    "label_encoder_opset1",
    "label_encoder_tensors",
    "feature_vectorizer",
    "svm_linear_mode_binary",
    "svm_linear_mode_softmax",
];

/// Fixtures berth refuses at load, each checked by a test below.
const REFUSED: &[&str] = &[
    "unsupported_operator",
    "svm_unknown_kernel",
    "feature_vectorizer_two_inputs",
    "dict_vectorizer",
    "shape_mismatch",
];

fn refusal(name: &str) -> String {
    match load(name).0 {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{name} loaded; move it to RUNS"),
    }
}

#[test]
fn every_exported_model_gives_onnxruntimes_outputs() {
    let mut failures = Vec::new();
    for name in RUNS {
        match check(name) {
            Ok(worst) => eprintln!("{name}: largest difference from onnxruntime {worst:.2e}"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_fixture_is_checked() {
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.extension().is_some_and(|e| e == "onnx") {
            let known = [RUNS, REFUSED, READ_COLUMNS].iter().any(|list| list.contains(&name.as_str()));
            assert!(known, "{name} is not in RUNS");
        }
    }
}

/// An operator berth does not run is named, with its node, at load time.
#[test]
fn unsupported_operators_are_named_with_their_node() {
    match load("unsupported_operator").0 {
        Err(MlError::UnsupportedOperator { op, node }) => assert_eq!((op.as_str(), node.as_str()), ("Det", "Det")),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("Det loaded; move unsupported_operator to RUNS"),
    }
}

/// A FeatureVectorizer joining several tensors is refused with its node.
#[test]
fn a_feature_vectorizer_of_several_inputs_is_named_with_its_node() {
    let e = refusal("feature_vectorizer_two_inputs");
    assert!(e.contains("node 'Join' (ai.onnx.ml.FeatureVectorizer): it joins 2 inputs"), "{e}");
}

/// A DictVectorizer reads a map, not a float matrix: it is named, with its
/// node, as the reason.
#[test]
fn a_dict_vectorizer_input_is_refused_with_its_node() {
    let e = refusal("dict_vectorizer");
    assert!(e.contains("input \"X\" is not a tensor (a map or a sequence) read by node 'DictVectorizer' (ai.onnx.ml.DictVectorizer)"), "{e}");
}

/// A shape error found while tract analyses the graph names the node, its
/// operator and the step, in berth's words.
#[test]
fn a_shape_error_names_its_node() {
    let e = refusal("shape_mismatch");
    assert!(e.contains("node 'Join' (Concat): berth cannot work out the shapes or types of its outputs"), "{e}");
}

/// An attribute value berth does not run is named with its node.
#[test]
fn an_unknown_svm_kernel_is_named_with_its_node() {
    let e = refusal("svm_unknown_kernel");
    assert!(e.contains("node 'SVMc' (ai.onnx.ml.SVMClassifier): kernel_type \"FOO\" is not one berth runs"), "{e}");
}

#[test]
fn files_that_are_not_onnx_are_refused() {
    let truncated = std::fs::read(dir().join("logistic_binary.onnx")).unwrap();
    let e = OnnxModel::from_bytes(&truncated[..truncated.len() / 2]).err().unwrap().to_string();
    assert!(e.contains("not an ONNX model") || e.contains("cannot load"), "{e}");
    let e = OnnxModel::from_bytes(b"{\"format\": \"berth-model\"}").err().unwrap().to_string();
    assert!(e.contains("not an ONNX model"), "{e}");
}

/// Each fixture's inputs and outputs as its graph names and types them:
/// what a server describes to clients written against the same file.
#[test]
fn the_graphs_inputs_and_outputs_are_described_as_declared() {
    let described = |name: &str| {
        let model = load(name).0.unwrap();
        let tensors = |t: &berth_ml::OnnxModel| {
            t.outputs
                .iter()
                .map(|o| (o.tensor.name.clone(), o.tensor.element, o.tensor.dims.clone(), o.labels, o.from_zipmap))
                .collect::<Vec<_>>()
        };
        let input = &model.inputs[0];
        ((input.name.clone(), input.element, input.dims.clone()), tensors(&model))
    };
    let (input, outputs) = described("logistic_binary");
    assert_eq!(input, ("X".to_string(), "float", Some(vec![None, Some(4)])));
    assert_eq!(
        outputs,
        vec![
            ("output_label".to_string(), "int64", Some(vec![None]), true, false),
            ("output_probability".to_string(), "float", Some(vec![None, Some(2)]), false, true),
        ]
    );
    let (_, outputs) = described("ridge");
    assert_eq!(outputs, vec![("variable".to_string(), "float", Some(vec![None, Some(1)]), false, false)]);
    let (_, outputs) = described("random_forest_string_labels");
    assert_eq!((outputs[0].1, outputs[0].3), ("string", true));
}

/// Fixtures with one input per column, scored from a table.
const READ_COLUMNS: &[&str] = &["column_transformer_logistic"];

/// A ColumnTransformer's export reads each column from the input of its
/// name (numbers scaled, text one-hot encoded) and gives onnxruntime's
/// outputs.
#[test]
fn a_column_transformer_reads_numeric_and_text_columns_by_name() {
    use berth_data::{Column, Table};
    let (model, reference) = load("column_transformer_logistic");
    let model = model.unwrap();
    assert!(model.reads_columns());
    let names: Vec<(&str, &str)> = model.inputs.iter().map(|t| (t.name.as_str(), t.element)).collect();
    assert_eq!(names, [("a", "float"), ("b", "float"), ("plan", "string")]);
    assert_eq!(model.known_text("plan"), Some("free"), "the encoder's first category");
    assert_eq!(model.known_text("a"), None);
    let column = |name: &str| reference["inputs"][name].as_array().unwrap().iter().map(|r| r[0].clone());
    let floats = |name: &str| column(name).map(|v| v.as_f64().unwrap()).collect::<Vec<_>>();
    let plans: Vec<String> = column("plan").map(|v| v.as_str().unwrap().to_string()).collect();
    // Columns in another order than the graph's inputs: matched by name.
    let table = Table::new(vec![
        Column::strings("plan", &plans),
        Column::float("b", floats("b")),
        Column::float("a", floats("a")),
    ])
    .unwrap();
    let p = model.run_table(&table).unwrap();
    let want_labels: Vec<String> =
        reference["outputs"]["output_label"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
    assert_eq!(p.labels.unwrap(), want_labels);
    let want = &reference["outputs"]["output_probability"]["values"];
    for (i, row) in p.probabilities.unwrap().iter().enumerate() {
        for (k, got) in row.iter().enumerate() {
            let w = want[i][k].as_f64().unwrap();
            assert!(error(*got, w) < 1e-5, "row {i} class {k}: {got} vs onnxruntime {w}");
        }
    }
    let missing = Table::new(vec![Column::float("a", floats("a"))]).unwrap();
    let e = model.run_table(&missing).unwrap_err().to_string();
    assert!(e.contains("the model reads a column \"b\""), "{e}");
    let wrong = Table::new(vec![
        Column::float("a", floats("a")),
        Column::float("b", floats("b")),
        Column::float("plan", floats("a")),
    ])
    .unwrap();
    let e = model.run_table(&wrong).unwrap_err().to_string();
    assert!(e.contains("column \"plan\" holds"), "{e}");
    assert!(model.run(vec![0.0; 3], 1).unwrap_err().to_string().contains("by name, not one matrix"));
}
