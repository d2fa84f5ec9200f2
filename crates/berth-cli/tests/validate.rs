//! `berth validate` and `berth data drift` end to end: verdicts and exit
//! codes, the four reports, a baseline, drift against the stored profile,
//! the report stored on the version, bad input, metric units (MAPE in
//! percent, fractions refused as percentages), timestamps left out of
//! drift, the variance test beside the z-test, and the gate reference in
//! `--help`.

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

    // --no-store leaves the version as it was; without it the report is stored.
    p.berth(&["validate", "churn@1", "--data", "test.csv", "--min-accuracy", "0.99", "--no-store"]).fails(1);
    let show = p.berth(&["show", "churn@1", "--json"]).ok().json();
    assert!(show["gates"].as_array().is_none_or(|g| g.is_empty()), "{show}");
    p.berth(&["validate", "churn@1", "--data", "test.csv", "--min-accuracy", "0.99"]).fails(1);
    let show = p.berth(&["show", "churn@1", "--json"]).ok().json();
    assert_eq!(show["gates"][0]["passed"], false, "{show}");
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

/// A truth column and predictions 30% above it, as files: MAPE is 30%.
fn thirty_percent_off(p: &Project) {
    let (mut data, mut preds) = (String::from("y\n"), String::from("prediction\n"));
    for i in 1..=200 {
        let y = f64::from(i) * 2.5;
        data.push_str(&format!("{y}\n"));
        preds.push_str(&format!("{}\n", y * 1.3));
    }
    p.write("truth.csv", data.as_bytes());
    p.write("preds.csv", preds.as_bytes());
}

const BY_PREDICTIONS: [&str; 9] =
    ["validate", "--predictions", "preds.csv", "--data", "truth.csv", "--target", "y", "--task", "regression"];

#[test]
fn mape_is_in_percent_so_a_ten_percent_ceiling_fails_a_model_thirty_percent_off() {
    let p = Project::empty();
    thirty_percent_off(&p);
    p.write("gate.toml", b"[metrics]\nmape = { max = 10.0 }\n");
    let args = |extra: &[&'static str]| [BY_PREDICTIONS.as_slice(), extra].concat();
    let r = p.berth(&args(&["--gate", "gate.toml"])).fails(1);
    assert!(r.stdout.contains("✗ mape: 30.00% violates <= 10%"), "{}", r.stdout);
    let j = p.berth(&args(&["--gate", "gate.toml", "--json"])).fails(1).json();
    assert!((j["metrics"]["mape"].as_f64().unwrap() - 30.0).abs() < 1e-9, "{j}");
    assert_eq!(j["checks"]["metric.mape"], false);
    // The same bound as a flag, and a ceiling above 30% passes.
    p.berth(&args(&["--max", "mape=10"])).fails(1);
    p.berth(&args(&["--max", "mape=31"])).ok();
    // A ceiling below 1 is kept, with a note that it means less than 1%.
    p.write("tiny.toml", b"[metrics]\nmape = { max = 0.5 }\n");
    let r = p.berth(&args(&["--gate", "tiny.toml"])).fails(1);
    assert!(r.stdout.contains("Note:    metrics.mape.max = 0.5: mape is in percent"), "{}", r.stdout);
    assert!(r.stderr.contains("write max = 50"), "{}", r.stderr);
}

#[test]
fn a_fraction_threshold_written_as_a_percentage_exits_2_with_the_fix() {
    let p = Project::empty();
    thirty_percent_off(&p);
    p.write("gate.toml", b"name = \"release\"\n[metrics]\naccuracy = { min = 85 }\n");
    let r = p.berth(&["validate", "model.berth", "--data", "truth.csv", "--gate", "gate.toml"]).fails(2);
    assert!(
        r.stderr.contains(
            "gate.toml line 3: metrics.accuracy.min = 85: accuracy is a fraction in [0, 1]; did you mean 0.85?"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("help: see `berth validate --help` for the gate file reference"), "{}", r.stderr);
    // The same from a flag.
    let r = p.berth(&["validate", "model.berth", "--data", "truth.csv", "--min-accuracy", "85"]).fails(2);
    assert!(r.stderr.contains("did you mean 0.85?") && r.stderr.contains("berth validate --help"), "{}", r.stderr);
    // Every gate-file error points at the reference, an unknown key included.
    p.write("typo.toml", b"[drift]\nmax_drfited_share = 0.3\n");
    let r = p.berth(&["validate", "model.berth", "--data", "truth.csv", "--gate", "typo.toml"]).fails(2);
    assert!(r.stderr.contains("line 2") && r.stderr.contains("max_drfited_share"), "{}", r.stderr);
    assert!(r.stderr.contains("help: see `berth validate --help`"), "{}", r.stderr);
}

#[test]
fn validate_help_prints_the_whole_gate_reference() {
    let p = Project::empty();
    // At a known width: the reference's lines fit in 80 columns.
    let r = support::Run::from(p.command(&["validate", "--help"]).env("COLUMNS", "100").output().unwrap()).ok();
    let normalised = |s: &str| s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
    assert!(
        normalised(&r.stdout).contains(&normalised(berth_gate::gate::GATE_REFERENCE)),
        "the reference is missing from --help:\n{}",
        r.stdout
    );
    for needle in
        ["mape                       in PERCENT", "[drift]", "include = [\"timestamp\"]", "A complete example:"]
    {
        assert!(r.stdout.contains(needle), "{needle:?} missing");
    }
}

/// A project with a load forecaster pushed as load@1 (its inputs include the
/// hourly timestamp), trained on 3000 hours of forecast data.
fn forecast_project() -> Project {
    let p = Project::new();
    p.berth(&["data", "synth", "--kind", "forecast", "--rows", "3000", "--seed", "42", "-o", "train.csv"]).ok();
    p.write(
        "train.toml",
        b"model_type = \"regression\"\nalgorithm = \"ridge\"\ntarget = \"load\"\nseed = 1\ndata = \"train.csv\"\n",
    );
    p.berth(&["train", "--config", "train.toml", "-o", "out", "--push", "load"]).ok();
    p
}

fn column<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["drift"]["columns"].as_array().unwrap().iter().find(|c| c["column"] == name).unwrap()
}

#[test]
fn forecast_data_does_not_drift_on_its_timestamp_and_a_wider_spread_fails_the_variance_test() {
    let p = forecast_project();
    let synth = |out: &str, drift: &[&str]| {
        let mut args = vec!["data", "synth", "--kind", "forecast", "--rows", "800", "--seed", "7", "-o", out];
        for d in drift {
            args.extend(["--drift", d]);
        }
        p.berth(&args).ok();
    };
    synth("later.csv", &[]);
    synth("wider.csv", &["scale:humidity=1.5"]);
    let validate = |data: &str, gate: &str| {
        p.write("gate.toml", gate.as_bytes());
        p.berth(&["validate", "load@1", "--data", data, "--gate", "gate.toml", "--json"])
    };

    // The timestamp is the model's input, but not drift-tested: it is listed, with the reason.
    let j = validate("later.csv", "[drift]\nmax_drifted_share = 0.2\n").ok().json();
    assert_eq!(j["checks"]["drift"], true, "{}", j["drift"]);
    assert_eq!(j["drift"]["tested"], 2);
    let ts = column(&j, "timestamp");
    assert_eq!((ts["kind"].as_str(), ts["drifted"].as_bool()), (Some("timestamp"), Some(false)));
    assert!(ts["skipped"].as_str().unwrap().contains("a timestamp column"), "{ts}");
    let text = p.berth(&["validate", "load@1", "--data", "later.csv", "--gate", "gate.toml"]).ok().stdout;
    assert!(text.contains("skipped: timestamp (a timestamp column"), "{text}");
    // Asked for, it is tested, and a later window drifts on it.
    let j = validate("later.csv", "[drift]\nmax_drifted_share = 0.2\ninclude = [\"timestamp\"]\n").fails(1).json();
    assert_eq!(column(&j, "timestamp")["drifted"], true);

    // Humidity spread 1.5 times as wide around the same mean: the z-test alone misses it ...
    let z_only = "[drift]\nnumeric_test = \"z\"\nvariance_test = false\nmax_drifted_share = 0.2\n";
    let j = validate("wider.csv", z_only).ok().json();
    let humidity = column(&j, "humidity");
    assert_eq!(humidity["drifted"], false, "{humidity}");
    let z_p = humidity["p_value"].as_f64().unwrap();
    assert!(z_p > 0.05, "{humidity}");
    // ... and Levene's test, beside it by default, finds it.
    let j = validate("wider.csv", "[drift]\nnumeric_test = \"z\"\nmax_drifted_share = 0.2\n").fails(1).json();
    assert_eq!(j["checks"]["drift"], false);
    let humidity = column(&j, "humidity");
    assert_eq!((humidity["test"].as_str(), humidity["drifted"].as_bool()), (Some("z+levene"), Some(true)));
    let levene_p = humidity["tests"][1]["p_value"].as_f64().unwrap();
    assert!(levene_p < 1e-6, "{humidity}");
    println!("humidity scaled 1.5x: z p = {z_p}, Levene p = {levene_p}");
    let j = validate("wider.csv", "[drift]\nnumeric_test = \"levene\"\nmax_drifted_share = 0.2\n").fails(1).json();
    assert_eq!(column(&j, "humidity")["drifted"], true);
    assert_eq!(column(&j, "temperature")["drifted"], false);
}

#[test]
fn the_subject_and_the_metrics_are_decided_where_the_arguments_enter() {
    let p = Project::empty();
    thirty_percent_off(&p);
    p.write("typo.toml", b"[metrics]\nrsme = { max = 3 }\n");
    p.write("accuracy.toml", b"[metrics]\naccuracy = { min = 0.8 }\n");
    p.write("bad-baseline.toml", b"[baseline]\nref = \"Bad@1\"\n");
    let with = |extra: &[&'static str]| [BY_PREDICTIONS.as_slice(), extra].concat();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["validate", "model.berth", "--data", "truth.csv", "--min", "acuracy=0.8"],
            "--min \"acuracy=0.8\": unknown metric \"acuracy\"; did you mean accuracy?",
        ),
        (with(&["--gate", "typo.toml"]), "typo.toml line 2: unknown metric \"rsme\"; did you mean rmse?"),
        (
            with(&["--gate", "accuracy.toml", "--max", "mae=3"]),
            "metrics.mae is for regression models, but metrics.accuracy is for classification models",
        ),
        // The model's task is known only once it is: a metric it lacks is refused then.
        (with(&["--min", "accuracy=0.5"]), "metric \"accuracy\" does not apply to a regression model"),
        (vec!["validate", "--predictions", "preds.csv", "--data", "truth.csv"], "say the task"),
        (
            vec!["validate", "--predictions", "preds.csv", "--data", "truth.csv", "--task", "ranking"],
            "[possible values: classification, regression, anomaly, forecast]",
        ),
        (with(&["model.berth"]), "cannot be used with"),
        (vec!["validate", "--endpoint", "staging:8080", "--data", "truth.csv"], "must start with http:// or https://"),
        (vec!["validate", "Churn@1", "--data", "truth.csv"], "\"Churn@1\" is neither a model file nor a ref"),
        (with(&["--baseline", "Bad@1"]), "\"Bad@1\" is neither a model file nor a ref"),
        (with(&["--gate", "bad-baseline.toml"]), "\"Bad@1\" is neither a model file nor a ref"),
        (vec!["validate", "--data", "truth.csv"], "nothing to validate"),
    ];
    for (args, needle) in &cases {
        let r = p.berth(args).fails(2);
        assert!(r.stderr.contains(needle), "{args:?}: expected {needle:?} in\n{}", r.stderr);
    }
    // A server that does not answer is a failed check, named by its address.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let j =
        p.berth(&["validate", "--endpoint", &url, "--data", "truth.csv", "--target", "y", "--json"]).fails(1).json();
    assert_eq!(j["checks"]["model_loads"], false, "{j}");
    assert_eq!(j["model"], url.as_str());
}
