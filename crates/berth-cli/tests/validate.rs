//! `berth validate` and `berth data drift` end to end: verdicts and exit
//! codes, the four reports, a baseline, drift against the stored profile,
//! the report stored on the version, and bad input.

mod support;

use support::Project;

const TRAIN: &str = r#"
model_type = "classification"
algorithm = "logistic_regression"
target = "target"
validation_split = 0.25
seed = 7
data = "train.csv"
"#;

/// A project with a classifier pushed as churn@1, its training data, test
/// data from the same generator (the same seed: synthetic data's
/// relationship changes with the seed) and a drifted copy of it.
fn project() -> Project {
    let p = Project::new();
    let synth = |seed: &str, out: &str| {
        p.berth(&["data", "synth", "--kind", "classification", "--rows", "3000", "--seed", seed, "-o", out]).ok();
    };
    synth("1", "train.csv");
    synth("1", "test.csv");
    p.berth(&[
        "data",
        "synth",
        "--kind",
        "classification",
        "--rows",
        "3000",
        "--seed",
        "1",
        "--drift",
        "shift:f0=2",
        "--drift",
        "shift:f1=2",
        "--drift",
        "scale:f2=3",
        "--drift",
        "shift:f3=2",
        "--drift",
        "shift:f4=2",
        "--drift",
        "shift:f5=2",
        "--drift",
        "shift:f6=2",
        "-o",
        "drifted.csv",
    ])
    .ok();
    p.write("train.toml", TRAIN.as_bytes());
    p.berth(&["train", "--config", "train.toml", "-o", "out", "--push", "churn"]).ok();
    p
}

#[test]
fn a_passing_gate_exits_0_and_writes_every_report() {
    let p = project();
    p.write(
        "gate.toml",
        br#"
name = "release"
[metrics]
accuracy = { min = 0.6 }
per_class_recall = { min = 0.5 }
[stability]
max_cv = 0.9
[range]
sigmas = 3.0
max_share = 0.05
[latency]
runs = 20
max_p99_ms = 1000
[drift]
"#,
    );
    let summary = p.path().join("summary.md");
    let r = p
        .command(&[
            "validate",
            "churn@1",
            "--data",
            "test.csv",
            "--gate",
            "gate.toml",
            "--report-json",
            "r.json",
            "--report-md",
            "r.md",
            "--junit",
            "r.xml",
        ])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&r.stderr));
    assert!(stdout.contains("✓ PASSED") && stdout.contains("accuracy"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(p.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(report["passed"], true);
    for key in
        ["accuracy", "accuracy_threshold", "latency_p50_ms", "latency_p99_ms", "per_class_recall", "checks", "errors"]
    {
        assert!(!report[key].is_null(), "{key} missing from the report");
    }
    assert_eq!(report["checks"]["drift"], true);
    assert_eq!(report["drift"]["tested"], 11);
    assert_eq!(report["data"]["rows"], 3000);
    assert!(report["data"]["digest"].as_str().unwrap().starts_with("sha256:"));
    let md = std::fs::read_to_string(p.path().join("r.md")).unwrap();
    assert!(md.contains("gate `release` — passed"), "{md}");
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), md);
    let xml = std::fs::read_to_string(p.path().join("r.xml")).unwrap();
    assert!(xml.contains("failures=\"0\"") && xml.contains("name=\"metric.accuracy\""), "{xml}");

    // The verdict is stored on the version, with the data's digest.
    let show = p.berth(&["show", "churn@1", "--json"]).ok().json();
    assert_eq!(show["gates"][0]["gate"], "release");
    assert_eq!(show["gates"][0]["passed"], true);
    assert_eq!(show["gates"][0]["data_digest"], report["data"]["digest"]);
    let text = p.berth(&["show", "churn@1"]).ok().stdout;
    assert!(text.contains("✓ passed release"), "{text}");
}

#[test]
fn a_failing_gate_exits_1_and_names_what_failed() {
    let p = project();
    let r = p.berth(&[
        "validate",
        "out/model.berth",
        "--data",
        "test.csv",
        "--min-accuracy",
        "0.99",
        "--min-recall",
        "0.99",
    ]);
    let r = r.fails(1);
    assert!(r.stdout.contains("✗ FAILED") && r.stdout.contains("accuracy"), "{}", r.stdout);
    let j = p
        .berth(&["validate", "out/model.berth", "--data", "test.csv", "--min-accuracy", "0.99", "--json"])
        .fails(1)
        .json();
    assert_eq!(j["passed"], false);
    assert_eq!(j["checks"]["metric.accuracy"], false);
    assert_eq!(j["accuracy_threshold"], 0.99);
    assert!(j["errors"][0].as_str().unwrap().contains("accuracy"), "{j}");
}

#[test]
fn drifted_data_fails_the_drift_check_against_the_stored_profile() {
    let p = project();
    p.write("gate.toml", b"[drift]\nmax_drifted_share = 0.3\n");
    let j = p.berth(&["validate", "churn@1", "--data", "drifted.csv", "--gate", "gate.toml", "--json"]).fails(1).json();
    assert_eq!(j["checks"]["drift"], false);
    let drifted: Vec<&str> = j["drift"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drifted"] == true)
        .map(|c| c["column"].as_str().unwrap())
        .collect();
    for c in ["f0", "f1", "f2", "f3"] {
        assert!(drifted.contains(&c), "{c} not flagged: {drifted:?}");
    }
    // The same data has no drift against itself.
    let d = p.berth(&["data", "drift", "--reference", "test.csv", "--data", "test.csv", "--json"]).ok().json();
    assert_eq!(d["drifted"], 0);
    p.berth(&["data", "drift", "--reference", "test.csv", "--data", "drifted.csv"]).fails(1);
}

#[test]
fn a_baseline_is_rescored_and_compared_with_a_signed_tolerance() {
    let p = project();
    // A second version: same algorithm, another seed, pushed as churn@2.
    p.berth(&["train", "--config", "train.toml", "--seed", "8", "-o", "out2", "--push", "churn"]).ok();
    let j = p
        .berth(&["validate", "churn@2", "--data", "test.csv", "--baseline", "churn@1", "--tolerance", "0.05", "--json"])
        .ok()
        .json();
    assert_eq!(j["baseline"]["model"], "churn@1");
    assert_eq!(j["baseline"]["mode"], "rescore");
    assert_eq!(j["checks"]["baseline.accuracy"], true);
    // Demanding a 50% improvement fails.
    p.write("gate.toml", b"[baseline]\nref = \"churn@1\"\nmetrics = { accuracy = { tolerance = -0.5, relative = true } }\nbootstrap = { samples = 200, seed = 1 }\n");
    let j = p.berth(&["validate", "churn@2", "--data", "test.csv", "--gate", "gate.toml", "--json"]).fails(1).json();
    assert_eq!(j["checks"]["baseline.accuracy"], false);
    let ci = j["baseline"]["metrics"][0]["interval"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= ci[1].as_f64().unwrap());
}

#[test]
fn a_predictions_file_is_validated_without_a_model() {
    let p = project();
    p.berth(&["predict", "out/model.berth", "--data", "test.csv", "-o", "preds.csv"]).ok();
    let j = p
        .berth(&[
            "validate",
            "--predictions",
            "preds.csv",
            "--data",
            "test.csv",
            "--target",
            "target",
            "--task",
            "classification",
            "--min",
            "roc_auc=0.5",
            "--json",
        ])
        .ok()
        .json();
    assert!(j["metrics"]["roc_auc"].as_f64().unwrap() > 0.5);
    assert!(j["metrics"]["log_loss"].is_number());
}

#[test]
fn bad_input_is_refused_with_exit_2_and_a_clear_message() {
    let p = project();
    let cases: &[(&[&str], &str)] = &[
        (&["validate", "out/model.berth", "--data", "test.csv", "--target", "nope"], "no label column \"nope\""),
        (
            &["validate", "out/model.berth", "--data", "test.csv", "--max", "mae=3"],
            "does not apply to a classification model",
        ),
        (&["validate", "out/model.berth", "--data", "test.csv", "--min", "accuracy"], "is not METRIC=VALUE"),
        (
            &[
                "validate",
                "--predictions",
                "short.csv",
                "--data",
                "test.csv",
                "--target",
                "target",
                "--task",
                "classification",
            ],
            "3 predictions for 3000 data rows",
        ),
        (
            &[
                "validate",
                "--predictions",
                "nan.csv",
                "--data",
                "small.csv",
                "--target",
                "target",
                "--task",
                "regression",
            ],
            "prediction 1 is empty or NaN",
        ),
        (&["validate", "out/model.berth", "--data", "empty.csv"], "no rows"),
        (&["validate", "out/model.berth", "--data", "unseen.csv"], "never seen in training"),
        (&["validate", "out/model.berth", "--data", "test.csv", "--gate", "badkey.toml"], "line 3"),
        (&["validate", "out/model.berth", "--data", "test.csv", "--gate", "badtype.toml"], "line 2"),
    ];
    p.write("short.csv", b"prediction\n0\n1\n0\n");
    p.write("small.csv", b"target\n1.0\n2.0\n3.0\n");
    p.write("nan.csv", b"prediction\n1.0\nNaN\n3.0\n");
    let header = std::fs::read_to_string(p.path().join("test.csv")).unwrap().lines().next().unwrap().to_string();
    p.write("empty.csv", format!("{header}\n").as_bytes());
    let mut unseen = std::fs::read_to_string(p.path().join("test.csv")).unwrap();
    unseen = unseen.replacen(",0\n", ",7\n", 1);
    p.write("unseen.csv", unseen.as_bytes());
    p.write("badkey.toml", b"[metrics]\naccuracy = { min = 0.5 }\n[stabilty]\nmax_cv = 1\n");
    p.write("badtype.toml", b"[metrics]\naccuracy = { min = \"high\" }\n");
    for (args, needle) in cases {
        let r = p.berth(args).fails(2);
        assert!(r.stderr.contains(needle), "{args:?}: expected {needle:?} in\n{}", r.stderr);
    }
    // A model file that does not load is a failed check (exit 1), reported.
    p.write("broken.berth", b"{\"format\": \"berth-model\"");
    let j = p.berth(&["validate", "broken.berth", "--data", "test.csv", "--json"]).fails(1).json();
    assert_eq!(j["checks"]["model_loads"], false);
}

#[test]
fn an_exported_onnx_model_is_validated_on_every_numeric_column_but_the_label() {
    let p = Project::empty();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-ml/tests/data/onnx");
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("gradient_boosting_regressor.json")).unwrap()).unwrap();
    let mut csv = String::from("a,b,c,d,y\n");
    for (row, y) in
        reference["input"].as_array().unwrap().iter().zip(reference["outputs"]["variable"].as_array().unwrap())
    {
        let cells: Vec<String> =
            row.as_array().unwrap().iter().map(|v| format!("{:?}", v.as_f64().unwrap() as f32)).collect();
        csv.push_str(&format!("{},{}\n", cells.join(","), y[0].as_f64().unwrap()));
    }
    p.write("batch.csv", csv.as_bytes());
    let model = dir.join("gradient_boosting_regressor.onnx");
    let j = p
        .berth(&[
            "validate",
            model.to_str().unwrap(),
            "--data",
            "batch.csv",
            "--target",
            "y",
            "--max",
            "mae=1e-4",
            "--json",
        ])
        .ok()
        .json();
    assert!(j["metrics"]["mae"].as_f64().unwrap() < 1e-4, "{j}");
    assert_eq!(j["task"], "regression");
}
