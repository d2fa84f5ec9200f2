//! The hub's MLflow API driven by the real `mlflow` client
//! (`mlflow_client.py` beside this file): a registered model created,
//! an ONNX file uploaded through the artifact proxy and made a version,
//! searched, described, tagged, aliased, downloaded, loaded with
//! `mlflow.pyfunc` and scored; an alias the policy governs refused with
//! what is missing; tokens deciding who may do what. The version made
//! through MLflow is an ordinary berth version: listed, checked by fsck,
//! and `berth predict` on it gives what `mlflow.pyfunc` gave. `.ci/run`
//! installs the pinned client into a virtualenv and names its Python in
//! `BERTH_MLFLOW_PYTHON`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::Project;
use support::http::Server;

const POLICY: &str = r#"
[environments.production]
require_gates = ["quality"]
"#;

/// The virtualenv's Python: `BERTH_MLFLOW_PYTHON`, else the one `.ci/run` makes.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_MLFLOW_PYTHON") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "BERTH_MLFLOW_PYTHON names {}, which is not a file; run .ci/run", p.display());
        return p;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let venv = home.join(".cache/berth/venv-mlflow/bin/python");
    assert!(
        venv.is_file(),
        "mlflow is not installed: neither BERTH_MLFLOW_PYTHON nor {} exists; run .ci/run, which installs it",
        venv.display()
    );
    venv
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-ml/tests/data/onnx").join(name)
}

/// The fixture's reference rows as CSV, one column per feature, and with
/// onnxruntime's label as `y` when `labelled`.
fn rows_csv(labelled: bool) -> String {
    let reference: Value = serde_json::from_slice(&std::fs::read(fixture("logistic_binary.json")).unwrap()).unwrap();
    let rows = reference["input"].as_array().unwrap();
    let labels = reference["outputs"]["output_label"].as_array().unwrap();
    let mut csv = String::from(if labelled { "x0,x1,x2,x3,y\n" } else { "x0,x1,x2,x3\n" });
    for (r, label) in rows.iter().zip(labels).take(40) {
        let mut cells: Vec<String> =
            r.as_array().unwrap().iter().map(|v| format!("{:?}", v.as_f64().unwrap() as f32)).collect();
        if labelled {
            cells.push(label.to_string());
        }
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    csv
}

#[test]
fn the_mlflow_client_registers_loads_and_is_governed_through_the_hub() {
    let python = python();
    let p = Project::new();
    p.configure(POLICY);
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();
    let hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let port = hub.port;
    let url = format!("http://127.0.0.1:{port}");
    let token = |body: Value| support::http::make_token(port, &admin, body).0;
    let tokens = json!({
        "publisher": token(json!({"principal": "ci", "role": "publisher", "models": "*"})),
        "deployer": token(json!({"principal": "cd", "role": "deployer", "models": "churn"})),
        "reader": token(json!({"principal": "bob", "role": "reader", "models": "churn"})),
    });
    p.write("tokens.json", tokens.to_string().as_bytes());
    p.write("rows.csv", rows_csv(false).as_bytes());

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlflow_client.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&url)
        .arg(p.path().join("tokens.json"))
        .arg(fixture("logistic_binary.onnx"))
        .arg(p.path().join("rows.csv"))
        .arg(p.path().join("mlflow.json"))
        .env_remove("MLFLOW_TRACKING_URI")
        .env("HOME", p.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the mlflow client failed ({}):\n{stdout}\n{stderr}\nhub log:\n{}",
        out.status,
        hub.log()
    );
    assert!(stdout.ends_with("ok\n"), "{stdout}");
    let seen: Value = serde_json::from_slice(&std::fs::read(p.path().join("mlflow.json")).unwrap()).unwrap();
    // The client adds `registered_model_meta` of its own to what it downloads.
    let downloaded: Vec<&str> = seen["downloaded"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for file in ["MLmodel", "extra/notes.txt", "model.onnx"] {
        assert!(downloaded.contains(&file), "{file} was not downloaded: {downloaded:?}");
    }

    // An ordinary berth version: listed with what MLflow sent, checked by fsck.
    let shown = p.berth(&["show", "churn@1", "--json"]).ok().json();
    assert_eq!(shown["description"], "first cut, checked", "{shown}");
    assert_eq!(shown["lineage"]["extra"]["mlflow_source"], "mlflow-artifacts:/churn/run-1/model");
    let fsck = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!((fsck["ok"].as_bool(), fsck["staged_files"].as_u64()), (Some(true), Some(2)), "{fsck}");
    assert!(fsck["orphaned"].as_array().unwrap().is_empty(), "{fsck}");

    // `berth predict` on the version gives what mlflow.pyfunc gave.
    p.berth(&["predict", "churn@1", "--data", "rows.csv", "-o", "berth.csv"]).ok();
    let berth = std::fs::read_to_string(p.path().join("berth.csv")).unwrap();
    let mut lines = berth.lines();
    assert_eq!(lines.next(), Some("prediction,proba_0,proba_1"));
    let (labels, probabilities) = (seen["labels"].as_array().unwrap(), seen["probabilities"].as_array().unwrap());
    let mut n = 0;
    for ((line, label), probs) in lines.zip(labels).zip(probabilities) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], label.to_string(), "row {n}: {line}");
        for (k, cell) in cells[1..].iter().enumerate() {
            let (ours, theirs) = (cell.parse::<f64>().unwrap(), probs[k].as_f64().unwrap());
            assert!((ours - theirs).abs() < 1e-6, "row {n}, class {k}: berth {ours}, onnxruntime {theirs}");
        }
        n += 1;
    }
    assert_eq!(n, 40, "{berth}");

    // The refused move moved nothing; once the gate has passed on the version,
    // the same MLflow call promotes it, recorded as a promotion.
    let shown = p.berth(&["show", "churn@1", "--json"]).ok().json();
    assert!(shown["aliases"].as_array().is_none_or(|a| a.is_empty()), "{shown}");
    p.write("labelled.csv", rows_csv(true).as_bytes());
    p.write("quality.toml", b"[metrics]\naccuracy = { min = 0.9 }\n");
    let gate = ["validate", "churn@1", "--data", "labelled.csv", "--target", "y", "--gate", "quality.toml", "--json"];
    let report = p.berth(&gate).ok().json();
    assert_eq!(report["passed"], true, "{report}");
    let auth = format!("Bearer {}", tokens["deployer"].as_str().unwrap());
    let body = json!({"name": "churn", "alias": "production", "version": "1"}).to_string();
    let headers = [("Content-Type", "application/json"), ("Authorization", auth.as_str())];
    let r = support::http::send(port, "POST", "/api/2.0/mlflow/registered-models/alias", body.as_bytes(), &headers);
    assert_eq!(r.status, 200, "{}", r.body);
    let moves = p.berth(&["deployments", "churn", "--env", "production", "--json"]).ok().json();
    let latest = moves.as_array().unwrap().last().unwrap();
    assert_eq!((latest["to"].as_u64(), latest["kind"].as_str()), (Some(1), Some("promote")), "{moves}");
    assert_eq!(latest["actor"], "cd", "{moves}");
    // Removing a governed environment through MLflow's alias call is refused as `berth alias rm` is.
    let body = json!({"name": "churn", "alias": "production"}).to_string();
    let r = support::http::send(port, "DELETE", "/api/2.0/mlflow/registered-models/alias", body.as_bytes(), &headers);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("is an environment with a policy"), "{}", r.body);
    let shown = p.berth(&["show", "churn@production", "--json"]).ok().json();
    assert_eq!(shown["version"], 1, "production still points at churn@1: {shown}");
    assert!(!hub.log().contains("panicked"), "the hub panicked:\n{}", hub.log());
}
