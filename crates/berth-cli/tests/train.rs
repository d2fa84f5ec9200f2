//! `berth train` and `berth predict` end to end: outputs, determinism, push
//! with lineage, scoring by file and by ref, and bad input.

mod support;

use support::Project;

const CONFIG: &str = r#"
model_type = "classification"
algorithm = "logistic_regression"
target = "target"
validation_split = 0.25
seed = 7
data = "train.csv"

[hyperparameters]
C = 0.5
"#;

fn project_with_data() -> Project {
    let p = Project::new();
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "2000", "--classes", "3", "-o", "train.csv"]).ok();
    p.write("train.toml", CONFIG.as_bytes());
    p
}

#[test]
fn training_writes_a_model_metrics_summary_signature_and_profile() {
    let p = project_with_data();
    let r = p.berth(&["train", "--config", "train.toml", "-o", "out", "--json"]).ok().json();
    for f in ["model.berth", "metrics.json", "training_summary.json", "signature.json", "profile.json"] {
        assert!(p.path().join("out").join(f).is_file(), "{f} is missing");
    }
    assert_eq!(r["train"]["validation_rows"], 500);
    assert_eq!(r["train"]["metrics_on"], "validation");
    let acc = r["train"]["metrics"]["accuracy"].as_f64().unwrap();
    assert!(acc > 0.6, "accuracy {acc}");
    let sig: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join("out/signature.json")).unwrap()).unwrap();
    assert_eq!(sig["classes"], serde_json::json!(["0", "1", "2"]));
    assert_eq!(sig["inputs"].as_array().unwrap().len(), 11);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join("out/training_summary.json")).unwrap()).unwrap();
    assert_eq!(summary["hyperparameters"]["C"], 0.5);
    assert_eq!(summary["data"]["rows"], 2000);
}

#[test]
fn the_same_data_config_and_seed_give_a_byte_identical_model() {
    let p = project_with_data();
    p.berth(&["train", "--config", "train.toml", "-o", "a"]).ok();
    p.berth(&["train", "--config", "train.toml", "-o", "b"]).ok();
    assert!(
        std::fs::read(p.path().join("a/model.berth")).unwrap()
            == std::fs::read(p.path().join("b/model.berth")).unwrap()
    );
    p.berth(&["train", "--config", "train.toml", "--seed", "8", "-o", "c"]).ok();
    assert!(
        std::fs::read(p.path().join("a/model.berth")).unwrap()
            != std::fs::read(p.path().join("c/model.berth")).unwrap()
    );
}

#[test]
fn a_pushed_training_run_records_metrics_params_signature_and_data_lineage() {
    let p = project_with_data();
    let r = p.berth(&["train", "--config", "train.toml", "-o", "out", "--push", "churn", "--json"]).ok().json();
    assert_eq!(r["push"]["ref"], "churn@1");
    let show = p.berth(&["show", "churn@1", "--json"]).ok().json();
    assert_eq!(show["format"], "berth");
    assert_eq!(show["params"]["algorithm"], "logistic_regression");
    assert_eq!(show["params"]["C"], "0.5");
    assert_eq!(show["metrics"]["accuracy"], r["train"]["metrics"]["accuracy"]);
    assert_eq!(show["signature"]["target"], "target");
    assert_eq!(show["lineage"]["data"]["training_data"], r["train"]["data_digest"]);
    assert_eq!(show["files"].as_array().unwrap().len(), 5);
}

#[test]
fn predictions_by_file_and_by_ref_agree() {
    let p = project_with_data();
    p.berth(&["train", "--config", "train.toml", "-o", "out", "--push", "churn"]).ok();
    p.berth(&["predict", "out/model.berth", "--data", "train.csv", "-o", "by_file.csv"]).ok();
    let r = p.berth(&["predict", "churn@latest", "--data", "train.csv", "-o", "by_ref.csv", "--json"]).ok().json();
    assert_eq!(r["rows"], 2000);
    assert_eq!(r["columns"], serde_json::json!(["prediction", "proba_0", "proba_1", "proba_2"]));
    assert_eq!(
        std::fs::read(p.path().join("by_file.csv")).unwrap(),
        std::fs::read(p.path().join("by_ref.csv")).unwrap()
    );
}

#[test]
fn regression_trains_from_flags() {
    let p = Project::empty();
    p.berth(&["data", "synth", "--kind", "forecast", "--rows", "1500", "-o", "f.csv"]).ok();
    let r = p
        .berth(&[
            "train",
            "--data",
            "f.csv",
            "--model-type",
            "regression",
            "--algorithm",
            "ridge",
            "--target",
            "load",
            "--features",
            "temperature,humidity",
            "--set",
            "alpha=0.1",
            "--json",
        ])
        .ok()
        .json();
    assert!(r["train"]["metrics"]["r2"].as_f64().unwrap() > 0.3, "{r}");
    p.berth(&["predict", "model/model.berth", "--data", "f.csv", "-o", "p.parquet"]).ok();
    let schema = p.berth(&["data", "schema", "p.parquet", "--json"]).ok().json();
    assert_eq!(schema["fields"][0]["type"], "float");
}

#[test]
fn bad_training_input_is_named() {
    let p = project_with_data();
    p.write("nan.csv", b"x,y\n1,0\nNaN,1\n3,0\n4,1\n5,0\n6,1\n");
    p.write("one.csv", b"x,y\n1,1\n2,1\n3,1\n4,1\n");
    p.write("bad.toml", b"model_type = \"classification\"\nalgoritm = \"x\"\n");
    p.write("broken.berth", b"{\"format\": \"berth-model\", \"vers");
    let base = ["train", "--model-type", "classification", "--algorithm", "logistic_regression"];
    let with =
        |extra: &[&'static str]| -> Vec<&'static str> { base.iter().copied().chain(extra.iter().copied()).collect() };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["train", "--config", "train.toml", "--algorithm", "forest"], "valid: logistic_regression"),
        (vec!["train", "--config", "train.toml", "--set", "depth=3"], "valid: C, max_iter, tol"),
        (vec!["train", "--config", "train.toml", "--set", "C=-1"], "must be above 0"),
        (vec!["train", "--config", "bad.toml"], "algoritm"),
        (with(&["--target", "y", "--data", "nan.csv"]), "\"x\" has 1 NaN value(s) (first at row 1)"),
        (with(&["--target", "y", "--data", "one.csv", "--validation-split", "0"]), "single class"),
        (with(&["--target", "nope", "--data", "train.csv"]), "missing column(s) [\"nope\"]"),
        (with(&["--target", "target", "--data", "train.csv", "--features", "f0,zz"]), "[\"zz\"]"),
        (vec!["train", "--data", "train.csv"], "needs --model-type, --algorithm, --target"),
        (vec!["predict", "broken.berth", "--data", "train.csv"], "not a berth model file"),
        (vec!["predict", "ghost@1", "--data", "train.csv"], "model \"ghost\" does not exist"),
    ];
    for (args, needle) in cases {
        let r = p.berth(&args).fails(2);
        assert!(r.stderr.contains(needle), "{args:?}: expected {needle:?} in\n{}", r.stderr);
    }
}

#[test]
fn text_trains_with_naive_bayes() {
    let p = Project::empty();
    p.berth(&["data", "synth", "--kind", "text", "--rows", "1500", "-o", "t.csv"]).ok();
    let r = p
        .berth(&[
            "train",
            "--data",
            "t.csv",
            "--model-type",
            "classification",
            "--algorithm",
            "naive_bayes",
            "--target",
            "label",
            "--features",
            "text",
            "--json",
        ])
        .ok()
        .json();
    assert!(r["train"]["metrics"]["accuracy"].as_f64().unwrap() > 0.85, "{r}");
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "100", "-o", "c.csv"]).ok();
    let nb = [
        "train",
        "--data",
        "c.csv",
        "--model-type",
        "classification",
        "--algorithm",
        "naive_bayes",
        "--target",
        "target",
    ];
    let e = p.berth(&nb).fails(2);
    assert!(e.stderr.contains("exactly one text column"), "{}", e.stderr);
}

#[test]
fn anomaly_detection_trains_without_a_target_and_scores_with_one() {
    let p = Project::empty();
    p.berth(&["data", "synth", "--kind", "anomaly", "--rows", "3000", "--features", "4", "-o", "a.csv"]).ok();
    let base = ["train", "--data", "a.csv", "--model-type", "anomaly", "--algorithm", "isolation_forest", "--json"];
    let unlabeled: Vec<&str> = base.iter().copied().chain(["--features", "x0,x1,x2,x3", "-o", "u"]).collect();
    let r = p.berth(&unlabeled).ok().json();
    assert!(r["train"]["metrics"]["flagged"].as_f64().is_some(), "{r}");
    let labeled: Vec<&str> =
        base.iter().copied().chain(["--target", "is_anomaly", "--set", "contamination=0.05", "-o", "l"]).collect();
    let r = p.berth(&labeled).ok().json();
    let m = &r["train"]["metrics"];
    assert!(m["precision"].as_f64().unwrap() > 0.7 && m["recall"].as_f64().unwrap() > 0.7, "{m}");
    let out = p.berth(&["predict", "l/model.berth", "--data", "a.csv", "-o", "s.csv", "--json"]).ok().json();
    assert_eq!(out["columns"], serde_json::json!(["prediction", "score"]));
}

fn onnx_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-ml/tests/data/onnx").join(name)
}

#[test]
fn an_exported_onnx_model_predicts_like_onnxruntime() {
    let p = Project::empty();
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(onnx_fixture("random_forest_multiclass.json")).unwrap()).unwrap();
    let mut csv = String::from("a,b,c,d,label\n");
    for row in reference["input"].as_array().unwrap() {
        let cells: Vec<String> =
            row.as_array().unwrap().iter().map(|v| format!("{:?}", v.as_f64().unwrap() as f32)).collect();
        csv.push_str(&format!("{},x\n", cells.join(",")));
    }
    p.write("batch.csv", csv.as_bytes());
    let model = onnx_fixture("random_forest_multiclass.onnx");
    let model = model.to_str().unwrap();
    let r = p.berth(&["predict", model, "--data", "batch.csv", "-o", "p.csv", "--json"]).ok().json();
    assert_eq!(r["rows"], 200);
    let out = std::fs::read_to_string(p.path().join("p.csv")).unwrap();
    let labels: Vec<&str> = out.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    let want: Vec<String> =
        reference["outputs"]["output_label"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
    assert_eq!(labels, want);

    let r = p.berth(&["predict", model, "--data", "batch.csv", "--features", "a,b", "-o", "q.csv"]).fails(2);
    assert!(r.stderr.contains("takes 4 features"), "{}", r.stderr);
    // Pushed to the registry, the same model scores by ref.
    p.berth(&["init"]).ok();
    p.berth(&["push", model, "--model", "forest"]).ok();
    let by_ref = p.berth(&["predict", "forest@latest", "--data", "batch.csv", "-o", "r.csv", "--json"]).ok().json();
    assert_eq!(by_ref["model"], "forest@1");
    assert_eq!(std::fs::read(p.path().join("r.csv")).unwrap(), std::fs::read(p.path().join("p.csv")).unwrap());
    // A regressor's values equal onnxruntime's.
    let regressor = onnx_fixture("gradient_boosting_regressor.onnx");
    let want: serde_json::Value =
        serde_json::from_slice(&std::fs::read(onnx_fixture("gradient_boosting_regressor.json")).unwrap()).unwrap();
    p.berth(&["predict", regressor.to_str().unwrap(), "--data", "batch.csv", "-o", "v.csv"]).ok();
    let values = std::fs::read_to_string(p.path().join("v.csv")).unwrap();
    for (line, w) in values.lines().skip(1).zip(want["outputs"]["variable"].as_array().unwrap()) {
        let (got, w) = (line.parse::<f64>().unwrap(), w[0].as_f64().unwrap());
        assert!((got - w).abs() <= 1e-5 * w.abs().max(1.0), "{got} vs onnxruntime {w}");
    }
    // An operator berth does not run is named with its node.
    let det = onnx_fixture("unsupported_operator.onnx");
    let r = p.berth(&["predict", det.to_str().unwrap(), "--data", "batch.csv", "-o", "q.csv"]).fails(2);
    assert!(r.stderr.contains("Det") && r.stderr.contains("node \"Det\""), "{}", r.stderr);
}

#[test]
fn a_trained_version_holds_exactly_what_that_training_wrote() {
    let p = project_with_data();
    p.berth(&["train", "--config", "train.toml", "-o", "out", "--push", "churn"]).ok();
    // A stray file from elsewhere in the output directory: refused, and nothing is pushed.
    p.write("out/old-weights.bin", b"an earlier model's file");
    let r = p.berth(&["train", "--config", "train.toml", "-o", "out", "--push", "churn"]).fails(2);
    assert!(r.stderr.contains("old-weights.bin") && r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(p.berth(&["versions", "churn", "--json"]).ok().json().as_array().unwrap().len(), 1);
    // With --force the training runs there, and the version still holds only its own five files.
    p.berth(&["train", "--config", "train.toml", "-o", "out", "--push", "churn", "--force"]).ok();
    let show = p.berth(&["show", "churn@2", "--json"]).ok().json();
    let mut files: Vec<&str> = show["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    files.sort();
    assert_eq!(files, ["metrics.json", "model.berth", "profile.json", "signature.json", "training_summary.json"]);
    // Training again into a directory holding only training outputs needs no flag.
    p.berth(&["train", "--config", "train.toml", "-o", "out2"]).ok();
    p.berth(&["train", "--config", "train.toml", "-o", "out2"]).ok();
    p.write("file-not-dir", b"x");
    p.berth(&["train", "--config", "train.toml", "-o", "file-not-dir"]).fails(2);
}

#[test]
fn a_path_is_taken_for_a_file_and_pickles_are_never_loaded() {
    let p = project_with_data();
    p.write("models/model.pkl", b"\x80\x04\x95 not really a pickle");
    for cmd in [
        &["validate", "models/model.pkl", "--data", "train.csv"][..],
        &["predict", "models/model.pkl", "--data", "train.csv"],
    ] {
        let r = p.berth(cmd).fails(2);
        assert!(r.stderr.contains("models/model.pkl: pickle files are never loaded"), "{}", r.stderr);
        assert!(r.stderr.contains("export the model to ONNX"), "{}", r.stderr);
        assert!(!r.stderr.contains("invalid model name"), "{}", r.stderr);
    }
    let r = p.berth(&["predict", "models/missing.onnx", "--data", "train.csv"]).fails(2);
    assert!(r.stderr.contains("models/missing.onnx: no such model file"), "{}", r.stderr);
    let r = p.berth(&["validate", "out/model.berth", "--data", "train.csv"]).fails(2);
    assert!(r.stderr.contains("out/model.berth: no such model file"), "{}", r.stderr);
}

/// The seeds' forecast: hourly temperature and humidity to load, with a
/// daily cycle. Its thresholds are met at every regression algorithm's
/// defaults, on the latest hours of training data and on hours the model
/// never saw, because the timestamp reaches the model as its calendar.
#[test]
fn a_forecast_sees_the_hour_of_day_and_meets_the_seeds_thresholds_at_defaults() {
    let p = Project::new();
    p.berth(&["data", "synth", "--kind", "forecast", "--rows", "6000", "--seed", "42", "-o", "train.csv"]).ok();
    p.berth(&["data", "synth", "--kind", "forecast", "--rows", "1000", "--seed", "7", "-o", "later.csv"]).ok();
    p.write(
        "gate.toml",
        b"[metrics]\nmae = { max = 50.0 }\nrmse = { max = 75.0 }\nmape = { max = 10.0 }\nr2 = { min = 0.7 }\n",
    );
    for algorithm in ["ridge", "hist_gradient_boosting", "random_forest", "gradient_boosting"] {
        let out = format!("out-{algorithm}");
        let r = p
            .berth(&[
                "train",
                "--data",
                "train.csv",
                "--model-type",
                "forecast",
                "--algorithm",
                algorithm,
                "--target",
                "load",
                "-o",
                &out,
                "--json",
            ])
            .ok()
            .json();
        let m = &r["train"]["metrics"];
        assert!(m["r2"].as_f64().unwrap() >= 0.85 && m["mape"].as_f64().unwrap() <= 4.0, "{algorithm}: {m}");
        assert_eq!(r["train"]["validation_rows"], 1200);
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.path().join(&out).join("training_summary.json")).unwrap()).unwrap();
        assert_eq!(summary["config"]["model_type"], "forecast", "{summary}");
        let model = format!("{out}/model.berth");
        p.berth(&["validate", &model, "--data", "later.csv", "--gate", "gate.toml"]).ok();
    }
    // The same data as a plain regression on temperature and humidity alone
    // cannot see the cycle, and the seeds' R² floor fails it.
    p.berth(&[
        "train",
        "--data",
        "train.csv",
        "--model-type",
        "regression",
        "--algorithm",
        "ridge",
        "--target",
        "load",
        "--features",
        "temperature,humidity",
        "-o",
        "blind",
    ])
    .ok();
    let r = p.berth(&["validate", "blind/model.berth", "--data", "later.csv", "--gate", "gate.toml", "--json"]);
    let j = r.fails(1).json();
    assert!(j["metrics"]["r2"].as_f64().unwrap() < 0.7, "{}", j["metrics"]);

    // A forecast without a timestamp, or with time_column on another model type, is refused with the fix.
    let e = p
        .berth(&[
            "train",
            "--data",
            "train.csv",
            "--model-type",
            "forecast",
            "--algorithm",
            "ridge",
            "--target",
            "load",
            "--features",
            "temperature,humidity",
            "-o",
            "x",
        ])
        .fails(2)
        .stderr;
    assert!(e.contains("needs a timestamp column") && e.contains("time_column"), "{e}");
    p.write(
        "bad.toml",
        b"model_type = \"regression\"\nalgorithm = \"ridge\"\ntarget = \"load\"\ntime_column = \"timestamp\"\n",
    );
    let e = p.berth(&["train", "--config", "bad.toml", "--data", "train.csv", "-o", "y"]).fails(2).stderr;
    assert!(e.contains("model_type = \"forecast\""), "{e}");
}

/// hist_gradient_boosting's loss is a name, from a config or `--set`; a
/// name it does not take, a number where a name belongs (and the reverse),
/// a classifier given a regression loss and a negative target for Poisson
/// are each refused with what to write instead.
#[test]
fn hist_gradient_boosting_takes_its_loss_by_name() {
    let p = Project::new();
    p.berth(&["data", "synth", "--kind", "forecast", "--rows", "3000", "-o", "f.csv"]).ok();
    p.berth(&["data", "synth", "--kind", "regression", "--rows", "500", "-o", "r.csv"]).ok();
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "500", "-o", "c.csv"]).ok();
    p.write(
        "ae.toml",
        b"model_type = \"forecast\"\nalgorithm = \"hist_gradient_boosting\"\ntarget = \"load\"\n\
          [hyperparameters]\nloss = \"absolute_error\"\nmax_iter = 50\n",
    );
    let r = p.berth(&["train", "--config", "ae.toml", "--data", "f.csv", "-o", "ae", "--json"]).ok().json();
    assert!(r["train"]["metrics"]["r2"].as_f64().unwrap() > 0.8, "{r}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join("ae/training_summary.json")).unwrap()).unwrap();
    assert_eq!(summary["hyperparameters"]["loss"], "absolute_error");
    assert_eq!(summary["config"]["hyperparameters"]["max_iter"], 50.0);
    let train = |data: &str, task: &str, target: &str, set: &str| {
        p.berth(&[
            "train",
            "--data",
            data,
            "--model-type",
            task,
            "--algorithm",
            "hist_gradient_boosting",
            "--target",
            target,
            "--set",
            set,
            "-o",
            "out",
            "--force",
            "--json",
        ])
    };
    let r = train("f.csv", "regression", "load", "loss=poisson").ok().json();
    assert!(r["train"]["metrics"]["r2"].as_f64().unwrap() > 0.8, "{r}");
    for (data, task, target, set, needle) in [
        ("f.csv", "regression", "load", "loss=huber", "must be one of auto, squared_error, absolute_error, poisson"),
        ("f.csv", "regression", "load", "loss=1", "must be a name"),
        ("f.csv", "regression", "load", "max_iter=many", "max_iter = many: must be a number"),
        ("c.csv", "classification", "target", "loss=poisson", "is a regression loss; a classifier minimises log_loss"),
        ("r.csv", "regression", "target", "loss=poisson", "needs a target that is never negative"),
    ] {
        let e = train(data, task, target, set).fails(2).stderr;
        assert!(e.contains(needle), "{set}: {e}");
    }
}
