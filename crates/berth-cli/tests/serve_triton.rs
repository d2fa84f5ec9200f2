//! `berth serve` of an ONNX file against Triton's own HTTP client
//! (`tritonclient[http]`): the client reads the model's metadata, builds its
//! input from it and infers with its defaults (binary tensor data) and with
//! JSON only, and every output must match onnxruntime's for the same file
//! (`triton_client.py` beside this file); binary bodies whose sizes do not
//! add up are refused over real HTTP. `.ci/run` installs the pinned
//! client into a virtualenv and names its Python in `BERTH_TRITON_PYTHON`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Project;
use support::http::Server;

/// The virtualenv's Python: `BERTH_TRITON_PYTHON`, else the one `.ci/run` makes.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_TRITON_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "BERTH_TRITON_PYTHON names {}, which is not a file; run .ci/run to install it",
            p.display()
        );
        return p;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let venv = home.join(".cache/berth/venv-triton/bin/python");
    assert!(
        venv.is_file(),
        "tritonclient is not installed: neither BERTH_TRITON_PYTHON nor {} exists; run .ci/run, which installs it",
        venv.display()
    );
    venv
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-ml/tests/data/onnx")
}

/// Serves `fixture.onnx` and runs the client against it; panics with the
/// client's and the server's output when a check fails.
fn triton_client_agrees(fixture: &str) {
    let python = python();
    let p = Project::new();
    let model = fixtures().join(format!("{fixture}.onnx"));
    let s = Server::start(&p, &["--model", model.to_str().unwrap(), "--name", fixture]);
    s.wait_health("the model loaded", |code, _| code == 200);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/triton_client.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(format!("127.0.0.1:{}", s.port))
        .arg(fixture)
        .arg(fixtures().join(format!("{fixture}.json")))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the Triton client disagrees on {fixture} ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        s.log()
    );
    println!("{stdout}");
    assert!(stdout.contains("ok binary") && stdout.contains("ok json"), "{stdout}");
    assert!(!s.log().contains("panicked"), "the server panicked:\n{}", s.log());
}

#[test]
fn a_binary_classifier_with_int64_labels_and_a_zipmap() {
    triton_client_agrees("logistic_binary");
}

#[test]
fn a_classifier_with_string_labels() {
    triton_client_agrees("random_forest_string_labels");
}

#[test]
fn a_regressor() {
    triton_client_agrees("ridge");
}

#[test]
fn a_classifier_exported_without_a_zipmap() {
    triton_client_agrees("xgboost_binary");
}

#[test]
fn a_column_transformer_with_an_input_per_column_numeric_and_text() {
    triton_client_agrees("column_transformer_logistic");
}

/// Binary requests whose sizes do not add up are 400s that name the input
/// and the numbers, over real HTTP; the server never panics.
#[test]
fn malformed_binary_requests_are_refused_with_the_input_and_the_numbers() {
    let p = Project::new();
    let model = fixtures().join("logistic_binary.onnx");
    let s = Server::start(&p, &["--model", model.to_str().unwrap(), "--name", "m"]);
    s.wait_health("the model loaded", |code, _| code == 200);
    let head = r#"{"inputs":[{"name":"X","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}"#;
    let n = head.len().to_string();
    let cases: Vec<(Vec<u8>, String, &str)> = vec![
        (
            [head.as_bytes(), &[0u8; 16]].concat(),
            n.clone(),
            "binary_data_size 32 from byte 0 of the binary data, which is 16 bytes",
        ),
        (
            [head.as_bytes(), &[0u8; 40]].concat(),
            n.clone(),
            "40 bytes follow the JSON but the inputs' binary_data_size add up to 32",
        ),
        (head.as_bytes().to_vec(), "100000".into(), "Inference-Header-Content-Length is 100000 but the body is"),
        (
            r#"{"inputs":[{"name":"X","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":28}}]}"#
                .bytes()
                .chain([0u8; 28])
                .collect(),
            "94".into(),
            "\"X\" has shape [2, 4]: 8 values of FP32 (32 bytes), but binary_data_size is 28",
        ),
    ];
    for (body, length, want) in cases {
        let r = support::http::send(
            s.port,
            "POST",
            "/v2/models/m/infer",
            &body,
            &[("Inference-Header-Content-Length", &length)],
        );
        assert_eq!(r.status, 400, "{want}: {}", r.body);
        let e = r.json()["error"].as_str().unwrap().to_string();
        assert!(e.contains(want), "{e}");
    }
    assert!(!s.log().contains("panicked"), "{}", s.log());
}
