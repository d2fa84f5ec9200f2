//! The monitoring loop end to end, with the real server and real traffic:
//! predictions logged as Parquet segments, labels sent later to
//! `POST /feedback` and by `berth feedback`, `berth monitor` judging the
//! window, alerting once per episode to a webhook receiver, and rolling the
//! environment back with its report as evidence.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Project;
use support::http::{Inbox, Server, get, receiver, send};

const BATCH: usize = 100;

/// churn@1 and churn@2 (two logistic regressions on the same data),
/// production on 2, a webhook notifier for monitor events and rollbacks,
/// and `[monitors.churn]` reading `plog`.
fn project() -> (Project, Inbox) {
    let p = Project::new().with_env("HOOK_SECRET", "hush");
    let (url, inbox) = receiver(0);
    p.configure(&format!(
        "\n[[notifiers]]\nname = \"oncall\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"HOOK_SECRET\"\nevents = [\"monitor.*\", \"rollback\"]\n\
         \n[monitors.churn]\nlog = \"plog\"\nmin_labelled = 100\n"
    ));
    // One population: the model trains on its first 3,000 rows, live traffic is drawn from the rest.
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "28000", "--seed", "3", "-o", "all.csv"]).ok();
    split(&p, "all.csv", "train.csv", 0..3000);
    split(&p, "all.csv", "live.csv", 3000..23000);
    for c in ["1.0", "0.5"] {
        let out = format!("out-{c}");
        let set = format!("C={c}");
        p.berth(&[
            "train",
            "--data",
            "train.csv",
            "--model-type",
            "classification",
            "--algorithm",
            "logistic_regression",
            "--target",
            "target",
            "--set",
            &set,
            "-o",
            &out,
            "--push",
            "churn",
            "-q",
        ])
        .ok();
    }
    p.berth(&["alias", "set", "churn", "production", "1"]).ok();
    p.berth(&["alias", "set", "churn", "production", "2"]).ok();
    (p, inbox)
}

fn serve(p: &Project, version: &str) -> Server {
    let s = Server::start(
        p,
        &["churn@production", "--poll", "1s", "--prediction-log", "plog", "--prediction-log-rotate", "1s"],
    );
    s.wait_health("the version in production", |c, h| c == 200 && h["version"] == version);
    s
}

/// Rows `range` of the CSV `from` (with its header) as the CSV `to`.
fn split(p: &Project, from: &str, to: &str, range: std::ops::Range<usize>) {
    let text = std::fs::read_to_string(p.path().join(from)).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for l in lines.skip(range.start).take(range.len()) {
        out.push_str(l);
        out.push('\n');
    }
    p.write(to, out.as_bytes());
}

/// The rows of a CSV: the features as instances, and the targets.
fn rows(p: &Project, file: &str) -> (Vec<Value>, Vec<String>) {
    let instances = support::instances(p, file);
    let text = std::fs::read_to_string(p.path().join(file)).unwrap();
    let mut lines = text.lines();
    let at = lines.next().unwrap().split(',').position(|c| c == "target").unwrap();
    let targets = lines.map(|l| l.split(',').nth(at).unwrap().to_string()).collect();
    (instances, targets)
}

/// Sends the rows in requests of [`BATCH`] with ids `{prefix}-{n}`; returns
/// each row's predicted label.
fn predict_all(s: &Server, prefix: &str, instances: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for (n, chunk) in instances.chunks(BATCH).enumerate() {
        let id = format!("{prefix}-{n}");
        let body = json!({ "instances": chunk }).to_string();
        let r = send(s.port, "POST", "/predict", body.as_bytes(), &[("X-Request-Id", &id)]);
        assert_eq!(r.status, 200, "{}", r.body);
        out.extend(r.json()["predictions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()));
    }
    out
}

/// A labels file for `berth feedback`: `labels[k]` is row `first + k` of
/// the traffic sent as requests `{prefix}-{n}`.
fn label_file(p: &Project, name: &str, prefix: &str, first: usize, labels: &[String]) {
    let mut out = String::from("request_id,row,y\n");
    for (k, label) in labels.iter().enumerate() {
        let i = first + k;
        out.push_str(&format!("{prefix}-{},{},{label}\n", i / BATCH, i % BATCH));
    }
    p.write(name, out.as_bytes());
}

fn feedback(s: &Server, path: &str, body: &Value) -> support::http::Resp {
    send(s.port, "POST", path, body.to_string().as_bytes(), &[("Content-Type", "application/json")])
}

/// Rows in the log's segments of one kind (`""` predictions, `"feedback"` labels).
fn logged(p: &Project, sub: &str) -> usize {
    let dir = p.path().join("plog").join(sub);
    let files: Vec<_> = berth_data::data_files(&dir).unwrap_or_default();
    if files.is_empty() {
        return 0;
    }
    berth_data::read_files(&files, &Default::default()).map(|t| t.rows()).unwrap_or(0)
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The webhook events received so far, by name.
fn events(inbox: &Inbox) -> Vec<String> {
    inbox
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap()["event"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn monitor(p: &Project) -> (i32, Value) {
    let out = p.berth(&["monitor", "churn", "--env", "production", "--window", "1h", "--json"]);
    let code = out.code;
    assert!(code == 0 || code == 1, "monitor failed ({code}): {}\n{}", out.stderr, out.stdout);
    (code, out.json())
}

#[test]
fn live_traffic_with_labels_alerts_once_per_episode_and_rolls_back() {
    let (p, inbox) = project();
    let s = serve(&p, "2");
    let (instances, truth) = rows(&p, "live.csv");
    let predicted = predict_all(&s, "ok", &instances);

    // Labels: the first ten requests' through POST /feedback, one per row;
    // the rest in a batch file through `berth feedback`.
    for n in 0..10 {
        for row in 0..BATCH {
            let i = n * BATCH + row;
            let label: i64 = truth[i].parse().unwrap();
            let r = feedback(
                &s,
                "/v2/models/churn/feedback",
                &json!({"id": format!("ok-{n}"), "row": row, "label": label}),
            );
            assert_eq!(r.status, 202, "{}", r.body);
        }
    }
    label_file(&p, "labels.csv", "ok", 10 * BATCH, &truth[10 * BATCH..]);
    wait_for("every prediction written", || logged(&p, "") == 20000);
    let fb = p
        .berth(&["feedback", "--data", "labels.csv", "--log", "plog", "--target", "y", "--row-column", "row", "--json"])
        .ok()
        .json();
    assert_eq!((fb["labels"].as_u64(), fb["matched"].as_u64()), (Some(19000), Some(19000)), "{fb}");
    wait_for("every label written", || logged(&p, "feedback") == 20000);

    let (code, healthy) = monitor(&p);
    assert_eq!(code, 0, "{healthy:#}");
    let r = &healthy["report"];
    assert_eq!((r["degraded"].as_bool(), r["data_drift_detected"].as_bool()), (Some(false), Some(false)), "{r:#}");
    assert_eq!(r["window"]["predictions"], 20000);
    assert_eq!(r["window"]["requests"], 200);
    assert_eq!(r["window"]["labelled"], 20000);
    // The live accuracy is the share of rows the server got right.
    let right = predicted.iter().zip(&truth).filter(|(a, b)| a == b).count();
    assert_eq!(r["metrics"]["accuracy"].as_f64().unwrap(), right as f64 / 20000.0);
    assert!(events(&inbox).is_empty(), "a healthy first look alerts nobody: {:?}", events(&inbox));

    // Drifted traffic (one feature moved by about one standard deviation)
    // with labels that disagree with the model on most rows.
    p.berth(&[
        "data",
        "synth",
        "--kind",
        "classification",
        "--rows",
        "28000",
        "--seed",
        "3",
        "--drift",
        "shift:f0=1.0",
        "-o",
        "all-drifted.csv",
    ])
    .ok();
    split(&p, "all-drifted.csv", "drifted.csv", 23000..28000);
    let (drifted, _) = rows(&p, "drifted.csv");
    let predicted = predict_all(&s, "late", &drifted);
    let flip =
        |(i, l): (usize, &String)| if i % 10 < 7 { if l == "1" { "0" } else { "1" }.to_string() } else { l.clone() };
    let wrong: Vec<String> = predicted.iter().enumerate().map(flip).collect();
    label_file(&p, "late.csv", "late", 0, &wrong);
    wait_for("the drifted predictions written", || logged(&p, "") == 25000);
    p.berth(&["feedback", "--data", "late.csv", "--log", "plog", "--target", "y", "--row-column", "row"]).ok();

    let out = p.berth(&["monitor", "churn", "--env", "production", "--last", "5000", "--json"]).fails(1);
    let bad = out.json();
    let r = &bad["report"];
    assert_eq!((r["degraded"].as_bool(), r["data_drift_detected"].as_bool()), (Some(true), Some(true)), "{r:#}");
    let drift = &r["live"]["drift"];
    let f0 = drift["columns"].as_array().unwrap().iter().find(|c| c["column"] == "f0").unwrap();
    assert_eq!(f0["drifted"], true, "{drift:#}");
    assert_eq!(drift["drifted"], 1, "only f0 moved: {drift:#}");
    // The gate finds the same p-values on the same rows against the same profile.
    p.write("drift-gate.toml", b"[drift]\n");
    let args = ["validate", "churn@2", "--data", "drifted.csv", "--target", "target", "--gate", "drift-gate.toml"];
    let mut args = args.to_vec();
    args.extend_from_slice(&["--report-json", "gate.json", "--no-store"]);
    p.berth(&args);
    let gate: Value = serde_json::from_str(&std::fs::read_to_string(p.path().join("gate.json")).unwrap()).unwrap();
    let p_values = |d: &Value| -> Vec<(String, f64)> {
        let cols = d["columns"].as_array().unwrap_or_else(|| panic!("no drift columns: {d:#}"));
        cols.iter().map(|c| (c["column"].as_str().unwrap().to_string(), c["p_value"].as_f64().unwrap())).collect()
    };
    assert_eq!(p_values(drift), p_values(&gate["drift"]), "the monitor's drift and the gate's");
    let rollback = &bad["check"]["rollback"];
    assert_eq!((rollback["from"].as_u64(), rollback["to"].as_u64()), (Some(2), Some(1)), "{bad:#}");
    let report_id = bad["recorded"]["record"]["id"].clone();
    assert_eq!(rollback["evidence"]["monitor_report"], report_id, "the rollback names the report: {rollback:#}");
    let mut seen = events(&inbox);
    seen.sort();
    assert_eq!(seen, ["monitor.degraded", "monitor.drift", "rollback"], "each alert once");

    // The report is on version 2 and in `berth show`'s and the seeds' view.
    let deployments = p.berth(&["deployments", "churn", "--env", "production", "--json"]).ok().json();
    let last = deployments.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["kind"].as_str(), last["to"].as_u64()), (Some("auto_rollback"), Some(1)), "{last:#}");

    // The server follows production back to 1; its traffic is healthy again.
    s.wait_health("version 1 back", |c, h| c == 200 && h["version"] == "1");
    let (instances, truth) = rows(&p, "live.csv");
    let predicted = predict_all(&s, "again", &instances[..2000]);
    assert_eq!(predicted.len(), 2000);
    label_file(&p, "again.csv", "again", 0, &truth[..2000]);
    wait_for("version 1's predictions written", || logged(&p, "") == 27000);
    p.berth(&["feedback", "--data", "again.csv", "--log", "plog", "--target", "y", "--row-column", "row"]).ok();
    let (code, back) = monitor(&p);
    assert_eq!(code, 0, "{back:#}");
    assert_eq!(back["report"]["version"], 1);
    assert_eq!(back["report"]["window"]["predictions"], 2000, "only version 1's traffic");
    let (code, _) = monitor(&p);
    assert_eq!(code, 0);
    let recovered = events(&inbox).iter().filter(|e| *e == "monitor.recovered").count();
    assert_eq!(recovered, 1, "recovery announced once: {:?}", events(&inbox));
    assert_eq!(events(&inbox).len(), 4, "{:?}", events(&inbox));
}

#[test]
fn feedback_that_does_not_fit_is_refused_and_changes_nothing() {
    let (p, _) = project();
    let s = serve(&p, "2");
    let (instances, _) = rows(&p, "live.csv");
    predict_all(&s, "one", &instances[..1]);
    let two = json!({ "instances": &instances[1..3] }).to_string();
    assert_eq!(send(s.port, "POST", "/predict", two.as_bytes(), &[("X-Request-Id", "two")]).status, 200);
    let count = || {
        get(s.port, "/metrics")
            .body
            .lines()
            .find(|l| l.starts_with("berth_feedback_received_total"))
            .unwrap()
            .to_string()
    };
    let before = count();
    let cases = [
        (b"{not json".to_vec(), 400, "not a JSON object"),
        (json!({"label": 1}).to_string().into_bytes(), 422, r#"no \"request_id"#),
        (json!({"request_id": "nobody", "label": 1}).to_string().into_bytes(), 404, r#"has id \"nobody"#),
        (json!({"request_id": "one-0", "label": "maybe"}).to_string().into_bytes(), 422, "not one of the classes"),
        (json!({"request_id": "one-0", "label": [1]}).to_string().into_bytes(), 422, "one text, number or boolean"),
        (json!({"request_id": "one-0", "label": 1, "value": 2}).to_string().into_bytes(), 422, "not both"),
        (json!({"request_id": "two", "label": 1}).to_string().into_bytes(), 422, "had 2 rows"),
        (json!({"request_id": "two", "row": 2, "label": 1}).to_string().into_bytes(), 422, "row 2 is not one of them"),
        (json!({"request_id": "one-0", "label": 1, "colour": "red"}).to_string().into_bytes(), 400, "unknown field"),
    ];
    for (body, status, says) in cases {
        let r = send(s.port, "POST", "/feedback", &body, &[("Content-Type", "application/json")]);
        assert_eq!(r.status, status, "{}: {}", String::from_utf8_lossy(&body), r.body);
        assert!(r.body.contains(says), "{} should say {says:?}: {}", String::from_utf8_lossy(&body), r.body);
    }
    let other = feedback(&s, "/v2/models/fraud/feedback", &json!({"request_id": "one-0", "label": 1}));
    assert_eq!(other.status, 404, "{}", other.body);
    assert!(other.body.contains(r#"answered by model \"churn"#), "{}", other.body);
    assert_eq!(count(), before, "nothing was taken");
    // The same label, well formed, is taken.
    assert_eq!(feedback(&s, "/feedback", &json!({"request_id": "two", "row": 1, "label": 0})).status, 202);
    assert_ne!(count(), before);
}

#[test]
fn two_replicas_logging_to_one_directory_add_up_for_one_monitor() {
    let (p, _) = project();
    let (a, b) = (serve(&p, "2"), serve(&p, "2"));
    let (instances, truth) = rows(&p, "live.csv");
    predict_all(&a, "a", &instances[..1700]);
    predict_all(&b, "b", &instances[1700..3000]);
    // Each replica takes labels for the requests it answered, and only those.
    let r = feedback(&b, "/feedback", &json!({"request_id": "a-0", "row": 0, "label": 1}));
    assert_eq!(r.status, 404, "{}", r.body);
    for (s, prefix, from, to) in [(&a, "a", 0, 300), (&b, "b", 1700, 2000)] {
        for (local, label) in truth[from..to].iter().enumerate() {
            let id = format!("{prefix}-{}", local / BATCH);
            let body = json!({"request_id": id, "row": local % BATCH, "label": label.parse::<i64>().unwrap()});
            assert_eq!(feedback(s, "/feedback", &body).status, 202);
        }
    }
    wait_for("both replicas' predictions written", || logged(&p, "") == 3000);
    wait_for("both replicas' labels written", || logged(&p, "feedback") == 600);
    let names: Vec<String> = std::fs::read_dir(p.path().join("plog"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("predictions-"))
        .collect();
    let replicas: std::collections::BTreeSet<String> =
        names.iter().map(|n| n.split('-').nth(3).unwrap_or_default().to_string()).collect();
    assert_eq!(replicas.len(), 2, "each replica writes its own segments: {names:?}");
    let (_, r) = monitor(&p);
    let w = &r["report"]["window"];
    assert_eq!(
        (w["predictions"].as_u64(), w["requests"].as_u64(), w["labelled"].as_u64()),
        (Some(3000), Some(30), Some(600)),
        "{w}"
    );
}

/// The value of the series `name{…}` whose labels include `labels`.
fn gauge(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| (l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))) && l.contains(labels))
        .find_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
}

#[test]
fn live_drift_gauges_follow_the_window_and_equal_the_gates_psi() {
    let (p, _inbox) = project();
    let s = Server::start(&p, &["churn@production", "--drift-window", "2000"]);
    s.wait_health("the version in production", |c, h| c == 200 && h["version"] == "2");
    let (live, _) = rows(&p, "live.csv");
    predict_all(&s, "same", &live[..3000]);
    let m = get(s.port, "/metrics").body;
    assert_eq!(gauge(&m, "berth_live_window_rows", "version=\"2\""), Some(2000.0), "{m}");
    let mut features: Vec<String> = (0..10).map(|j| format!("f{j}")).collect();
    features.push("segment".into());
    for f in &features {
        let psi = gauge(&m, "berth_live_drift_psi", &format!("column=\"{f}\""));
        assert!(psi.is_some_and(|x| x < 0.05), "{f}: {psi:?} on traffic like the training data\n{m}");
    }
    let prediction = gauge(&m, "berth_live_prediction_psi", "version=\"2\"");
    assert!(prediction.is_some_and(f64::is_finite), "prediction PSI {prediction:?}\n{m}");
    let classes: f64 = ["0", "1"]
        .iter()
        .map(|c| gauge(&m, "berth_live_predicted_class_ratio", &format!("class=\"{c}\"")).unwrap())
        .sum();
    assert!((classes - 1.0).abs() < 1e-12, "{m}");

    // Two thousand rows with f0 moved: the window holds only them.
    let args = ["data", "synth", "--kind", "classification", "--rows", "28000", "--seed", "3"];
    let mut args = args.to_vec();
    args.extend_from_slice(&["--drift", "shift:f0=1.0", "-o", "all-drifted.csv"]);
    p.berth(&args).ok();
    split(&p, "all-drifted.csv", "drifted.csv", 23000..25000);
    let (drifted, _) = rows(&p, "drifted.csv");
    predict_all(&s, "moved", &drifted);
    let m = get(s.port, "/metrics").body;
    let f0 = gauge(&m, "berth_live_drift_psi", "column=\"f0\"").unwrap();
    assert!(f0 > 0.2, "f0 moved by a standard deviation: PSI {f0}\n{m}");
    for f in &features[1..] {
        let psi = gauge(&m, "berth_live_drift_psi", &format!("column=\"{f}\"")).unwrap();
        assert!(psi < 0.05, "{f} did not move: PSI {psi}\n{m}");
    }
    // The gate's PSI of the same rows against the same profile.
    p.write("drift-gate.toml", b"[drift]\n");
    let args = ["validate", "churn@2", "--data", "drifted.csv", "--target", "target", "--gate", "drift-gate.toml"];
    let mut args = args.to_vec();
    args.extend_from_slice(&["--report-json", "gate.json", "--no-store"]);
    p.berth(&args);
    let gate: Value = serde_json::from_str(&std::fs::read_to_string(p.path().join("gate.json")).unwrap()).unwrap();
    let mut compared = 0;
    for c in gate["drift"]["columns"].as_array().unwrap() {
        let column = c["column"].as_str().unwrap();
        if !features.iter().any(|f| f == column) {
            continue;
        }
        let expected = c["psi"].as_f64().unwrap();
        let live = gauge(&m, "berth_live_drift_psi", &format!("column=\"{column}\"")).unwrap();
        assert!((live - expected).abs() <= 1e-12 * expected.max(1.0), "{column}: live {live}, gate {expected}");
        compared += 1;
    }
    assert_eq!(compared, features.len(), "{:#}", gate["drift"]);
}

#[test]
fn replicas_send_their_logs_to_the_store_and_a_monitor_anywhere_reads_them_all() {
    let (p, _) = project();
    let start = |dir: &str| {
        let args = ["churn@production", "--poll", "1s", "--prediction-log", dir, "--prediction-log-rotate", "1s"];
        let mut args = args.to_vec();
        args.push("--prediction-log-to-store");
        let s = Server::start(&p, &args);
        s.wait_health("the version in production", |c, h| c == 200 && h["version"] == "2");
        s
    };
    let (a, b) = (start("plog-a"), start("plog-b"));
    let (instances, truth) = rows(&p, "live.csv");
    predict_all(&a, "a", &instances[..1200]);
    predict_all(&b, "b", &instances[1200..2000]);
    for (s, prefix, from, to) in [(&a, "a", 0, 200), (&b, "b", 1200, 1300)] {
        for (local, label) in truth[from..to].iter().enumerate() {
            let id = format!("{prefix}-{}", local / BATCH);
            let body = json!({"request_id": id, "row": local % BATCH, "label": label.parse::<i64>().unwrap()});
            assert_eq!(feedback(s, "/feedback", &body).status, 202);
        }
    }
    // Rounds run every second; a stop sends what the shutdown wrote.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = get(a.port, "/metrics").body;
        if gauge(&m, "berth_prediction_log_uploaded_total", "").is_some_and(|n| n > 0.0) {
            break;
        }
        assert!(Instant::now() < deadline, "no segment sent while serving:\n{m}\nserver log:\n{}", a.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(a.terminate().success() && b.terminate().success());
    // Labels that come later in a batch, sent to the store from where they were written.
    label_file(&p, "late.csv", "a", 200, &truth[200..500]);
    let args = ["feedback", "--data", "late.csv", "--log", "plog-a", "--target", "y", "--row-column", "row"];
    let mut args = args.to_vec();
    args.extend_from_slice(&["--to-store", "churn", "--json"]);
    let sent = p.berth(&args).ok().json();
    assert_eq!(sent["stored"]["moved"].as_array().map(Vec::len), Some(1), "only the new segment: {sent:#}");

    // The monitor reads neither replica's directory: only what the store holds.
    let look = |mirror: &str| {
        let args = ["monitor", "churn", "--env", "production", "--log-from-store", "--log", mirror];
        let mut args = args.to_vec();
        args.extend_from_slice(&["--window", "1h", "--dry-run", "--json"]);
        let out = p.berth(&args);
        assert!(out.code == 0 || out.code == 1, "monitor failed ({}): {}", out.code, out.stderr);
        out.json()["report"]["window"].clone()
    };
    let counts = |w: &Value| (w["predictions"].as_u64(), w["requests"].as_u64(), w["labelled"].as_u64());
    let w = look("mirror");
    assert_eq!(counts(&w), (Some(2000), Some(20), Some(600)), "{w}");
    let mirrored: Vec<String> = std::fs::read_dir(p.path().join("mirror"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("predictions-"))
        .collect();
    let replicas: std::collections::BTreeSet<&str> =
        mirrored.iter().map(|n| n.split('-').nth(3).unwrap_or_default()).collect();
    assert_eq!(replicas.len(), 2, "both replicas' segments: {mirrored:?}");
    assert_eq!(counts(&look("mirror")), counts(&w), "a second look downloads nothing new and counts the same");
    // gc keeps every segment: a fresh mirror after it sees the same traffic.
    p.berth(&["gc"]).ok();
    assert_eq!(counts(&look("mirror-after-gc")), counts(&w));
}
