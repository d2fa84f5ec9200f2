//! `berth serve` end to end: the real binary over real HTTP. Loading states,
//! a corrupted artifact, hot swap under concurrent load, the Open Inference
//! Protocol's shapes and errors, the cached copy when the registry is down,
//! the CI stand-in, the prediction log and a graceful shutdown; refs that
//! name nothing refused at start; the admin token; slow, idle and surplus
//! connections closed.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::http::{Resp, Server, get, post, send};
use support::{Project, flip_one_byte};

const ROW: &str =
    r#"{"f0":0.1,"f1":-0.2,"f2":0.3,"f3":0.0,"f4":1.2,"f5":-1.0,"f6":0.5,"f7":0.0,"f8":0.2,"f9":-0.4,"segment":"b"}"#;

fn row() -> Value {
    serde_json::from_str(ROW).unwrap()
}

fn synth(p: &Project) {
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "1500", "--seed", "3", "-o", "train.csv"]).ok();
}

/// Trains and pushes a classifier; returns the new version's model.berth digest.
fn push_model(p: &Project, algorithm: &str, seed: &str) -> String {
    let out = format!("out-{algorithm}-{seed}");
    let mut args = vec!["train", "--data", "train.csv", "--model-type", "classification", "--algorithm", algorithm];
    args.extend_from_slice(&["--target", "target", "--seed", seed, "-o", &out, "--push", "churn", "-q"]);
    if algorithm == "random_forest" {
        args.extend_from_slice(&["--set", "n_estimators=10"]);
    }
    p.berth(&args).ok();
    let show = p.berth(&["show", "churn", "--json"]).ok().json();
    let files = show["files"].as_array().unwrap();
    let f = files.iter().find(|f| f["path"] == "model.berth").unwrap();
    f["digest"].as_str().unwrap().to_string()
}

#[test]
fn health_is_503_while_the_alias_is_unset_and_200_once_it_points_at_a_version() {
    let p = Project::new();
    synth(&p);
    let digest = push_model(&p, "logistic_regression", "1");
    let s = Server::start(&p, &["churn@production", "--poll", "300ms"]);

    let (code, h) = s.health();
    assert_eq!(code, 503, "{h}");
    assert_eq!(h["model_loaded"], false);
    assert_eq!(h["target"], "churn@production");
    assert_eq!(get(s.port, "/livez").status, 200, "alive while loading");
    assert_eq!(get(s.port, "/readyz").status, 503);
    assert_eq!(get(s.port, "/v2/health/live").status, 200);
    assert_eq!(get(s.port, "/v2/health/ready").status, 400, "the protocol's 4xx for not ready");
    let h = s.wait_health("the missing model's error", |_, h| h["load_status"]["error"].is_string());
    let err = h["load_status"]["error"].as_str().unwrap();
    assert!(err.contains("churn"), "the error names what is missing: {err}");
    assert_eq!(h["load_status"]["completed"], false);
    let refused = post(s.port, "/predict", &json!({ "instances": [row()] }));
    assert_eq!(refused.status, 503);
    assert!(refused.header("retry-after").is_some(), "a 503 says when to come back");
    assert_eq!(refused.header("x-berth-version"), None, "no version was serving to refuse it");
    assert!(refused.json()["error"].as_str().unwrap().contains("no model is loaded"), "{}", refused.body);

    p.berth(&["alias", "set", "churn", "production", "1", "-q"]).ok();
    let h = s.wait_health("the model loaded", |code, _| code == 200);
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["model_loaded"], true);
    assert_eq!(h["model"], "churn");
    assert_eq!(h["version"], "1");
    assert_eq!(h["source"], "store");
    assert_eq!(h["digest"], digest.as_str(), "the served file is the pushed one");
    assert_eq!(h["load_status"]["completed"], true);
    assert!(h["load_status"]["load_duration"].as_f64().unwrap() > 0.0);
    assert!(h["load_status"]["error"].is_null());
    assert_eq!(get(s.port, "/readyz").status, 200);

    let r = post(s.port, "/predict", &json!({ "instances": [row(), row()] }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-berth-version"), Some("churn@1"));
    let body = r.json();
    assert_eq!(body["predictions"].as_array().unwrap().len(), 2);
    let probs = body["probabilities"][0].as_object().unwrap();
    let total: f64 = probs.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9, "{probs:?}");

    // Berth's own batch prediction gives the same answer for the same row.
    p.write(
        "one.csv",
        format!("{}\n{}\n", "f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,segment", "0.1,-0.2,0.3,0.0,1.2,-1.0,0.5,0.0,0.2,-0.4,b")
            .as_bytes(),
    );
    p.berth(&["predict", "churn@1", "--data", "one.csv", "-o", "one-out.csv"]).ok();
    let batch = std::fs::read_to_string(p.path().join("one-out.csv")).unwrap();
    let label = body["predictions"][0].as_str().unwrap();
    assert!(batch.lines().nth(1).unwrap().starts_with(&format!("{label},")), "{batch} vs {}", r.body);
}

#[test]
fn a_corrupted_artifact_leaves_the_server_up_and_reporting_why() {
    let p = Project::new();
    synth(&p);
    let digest = push_model(&p, "logistic_regression", "1");
    flip_one_byte(&p.blob_path(&digest));
    let s = Server::start(&p, &["churn@1", "--poll", "300ms"]);
    let h = s.wait_health("the corruption", |_, h| h["load_status"]["error"].is_string());
    let err = h["load_status"]["error"].as_str().unwrap();
    assert!(err.contains("corrupt") && err.contains(&digest), "{err}");
    assert_eq!(s.health().0, 503);
    assert_eq!(get(s.port, "/livez").status, 200, "the process is up");
    assert_eq!(post(s.port, "/predict", &json!({ "instances": [row()] })).status, 503);
}

#[test]
fn a_bad_candidate_is_not_swapped_in_and_health_says_why() {
    let p = Project::new();
    synth(&p);
    push_model(&p, "logistic_regression", "1");
    p.berth(&["alias", "set", "churn", "production", "1", "-q"]).ok();
    let s = Server::start(&p, &["churn@production", "--poll", "1h"]);
    s.wait_health("v1", |code, h| code == 200 && h["version"] == "1");

    let bad = push_model(&p, "logistic_regression", "2");
    flip_one_byte(&p.blob_path(&bad));
    p.berth(&["alias", "set", "churn", "production", "2", "-q"]).ok();
    assert_eq!(post(s.port, "/admin/reload", &json!({})).status, 202);
    let h = s.wait_health("the failed swap", |_, h| h["load_status"]["last_swap"]["ok"] == false);
    assert_eq!(h["version"], "1", "the old version keeps serving");
    assert_eq!(h["status"], "degraded");
    assert!(h["load_status"]["last_swap"]["error"].as_str().unwrap().contains("corrupt"), "{h}");
    let r = post(s.port, "/predict", &json!({ "instances": [row()] }));
    assert_eq!((r.status, r.header("x-berth-version")), (200, Some("churn@1")));
}

#[test]
fn hot_swaps_under_concurrent_load_drop_no_request() {
    let p = Project::new();
    synth(&p);
    push_model(&p, "logistic_regression", "1");
    push_model(&p, "random_forest", "2");
    p.berth(&["alias", "set", "churn", "production", "1", "-q"]).ok();
    let s = Server::start(&p, &["churn@production", "--poll", "1h"]);
    s.wait_health("v1", |code, _| code == 200);

    let stop = Arc::new(AtomicBool::new(false));
    let port = s.port;
    let body = json!({ "instances": [row()] }).to_string();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (stop, body) = (stop.clone(), body.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let r = send(port, "POST", "/predict", body.as_bytes(), &[("Content-Type", "application/json")]);
                    seen.push((r.status, r.header("x-berth-version").unwrap_or("").to_string()));
                }
                seen
            })
        })
        .collect();
    let started = Instant::now();
    for (i, v) in ["2", "1", "2", "1", "2"].into_iter().enumerate() {
        std::thread::sleep(Duration::from_millis(700));
        p.berth(&["alias", "set", "churn", "production", v, "-q"]).ok();
        assert_eq!(post(s.port, "/admin/reload", &json!({})).status, 202);
        s.wait_health(&format!("swap {i} to v{v}"), |_, h| h["version"] == v);
    }
    while started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<(u16, String)> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
    let failed: Vec<_> = seen.iter().filter(|(code, _)| *code != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        seen.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(seen.iter().all(|(_, v)| v == "churn@1" || v == "churn@2"), "every answer names v1 or v2");
    assert!(seen.iter().any(|(_, v)| v == "churn@1") && seen.iter().any(|(_, v)| v == "churn@2"));
    assert!(seen.len() > 100, "the clients kept the server busy: {} requests", seen.len());
    let metrics = get(s.port, "/metrics").body;
    assert!(
        metrics.contains(r#"berth_requests_total{model="churn",version="2",endpoint="predict",code="200"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("berth_model_load_seconds{model=\"churn\",version=\"2\",source=\"store\"}"));
    assert!(metrics.contains(
        "berth_request_duration_seconds_bucket{model=\"churn\",version=\"1\",endpoint=\"predict\",le=\"+Inf\"}"
    ));
    assert!(metrics.contains("berth_predicted_class_total{model=\"churn\",version=\"1\",class="));
}

fn model_file_server(p: &Project, extra: &[&str]) -> Server {
    synth(p);
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
        "-o",
        "m",
        "-q",
    ])
    .ok();
    let mut args = vec!["--model", "m/model.berth", "--name", "churn"];
    args.extend_from_slice(extra);
    let s = Server::start(p, &args);
    s.wait_health("the file loaded", |code, _| code == 200);
    s
}

#[test]
fn the_open_inference_protocol_has_its_shapes_and_errors() {
    let p = Project::new();
    let s = model_file_server(&p, &[]);
    let h = s.health().1;
    assert_eq!(h["source"], "local");
    let version = h["version"].as_str().unwrap().to_string();

    let server = get(s.port, "/v2").json();
    assert_eq!(server["name"], "berth");
    assert!(server["version"].is_string() && server["extensions"].is_array());
    for path in ["/v2/health/live", "/v2/health/ready", "/v2/models/churn/ready"] {
        let r = get(s.port, path);
        assert_eq!((r.status, r.body.as_str()), (200, ""), "{path}");
    }
    assert_eq!(get(s.port, &format!("/v2/models/churn/versions/{version}/ready")).status, 200);

    let meta = get(s.port, "/v2/models/churn").json();
    assert_eq!(meta["name"], "churn");
    assert_eq!(meta["versions"], json!([version]));
    assert_eq!(meta["platform"], "berth");
    let inputs: Vec<(&str, &str)> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["datatype"].as_str().unwrap()))
        .collect();
    assert_eq!(inputs.len(), 11);
    assert_eq!(inputs[0], ("f0", "FP64"));
    assert_eq!(inputs[10], ("segment", "BYTES"));
    assert_eq!(meta["outputs"][1]["shape"], json!([-1, 2]));

    let mut tensors: Vec<Value> = (0..10)
        .map(|j| json!({ "name": format!("f{j}"), "shape": [2], "datatype": "FP32", "data": [0.1 * j as f64, -0.5] }))
        .collect();
    tensors.push(json!({ "name": "segment", "shape": [2, 1], "datatype": "BYTES", "data": [["a"], ["d"]] }));
    let r = post(s.port, "/v2/models/churn/infer", &json!({ "id": "req-42", "inputs": tensors }));
    assert_eq!(r.status, 200, "{}", r.body);
    let out = r.json();
    assert_eq!(out["model_name"], "churn");
    assert_eq!(out["model_version"], version.as_str());
    assert_eq!(out["id"], "req-42", "the request id is echoed");
    let label = &out["outputs"][0];
    assert_eq!(
        (label["name"].as_str(), label["datatype"].as_str(), &label["shape"]),
        (Some("label"), Some("BYTES"), &json!([2]))
    );
    let probs = &out["outputs"][1];
    assert_eq!((probs["datatype"].as_str(), &probs["shape"]), (Some("FP64"), &json!([2, 2])));
    assert_eq!(probs["data"].as_array().unwrap().len(), 4);

    // Only the outputs asked for; a pinned version; the request id header.
    let only = send(
        s.port,
        "POST",
        &format!("/v2/models/churn/versions/{version}/infer"),
        json!({ "inputs": tensors, "outputs": [{ "name": "probabilities" }] }).to_string().as_bytes(),
        &[("X-Request-Id", "abc-1")],
    );
    assert_eq!(only.status, 200, "{}", only.body);
    assert_eq!(only.header("x-request-id"), Some("abc-1"));
    let outs = only.json()["outputs"].as_array().unwrap().clone();
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0]["name"], "probabilities");

    // Errors are exactly {"error": string}, with the right status.
    let errors = [
        ("/v2/models/churn/infer", json!({ "inputs": [] }), 400),
        (
            "/v2/models/churn/infer",
            json!({ "inputs": [{ "name": "f0", "shape": [2], "datatype": "FP32", "data": [1] }] }),
            400,
        ),
        ("/v2/models/churn/infer", json!({ "inputs": tensors, "outputs": [{ "name": "nope" }] }), 400),
        ("/v2/models/churn/infer", json!({ "nothing": 1 }), 400),
        ("/v2/models/other/infer", json!({ "inputs": tensors }), 404),
        ("/v2/models/churn/versions/999/infer", json!({ "inputs": tensors }), 404),
    ];
    let serving = format!("churn@{version}");
    for (path, body, status) in errors {
        let r = post(s.port, path, &body);
        assert_eq!(r.status, status, "{path} {body}: {}", r.body);
        let e = r.json();
        let obj = e.as_object().unwrap();
        assert_eq!(obj.len(), 1, "only the error key: {e}");
        assert!(!obj["error"].as_str().unwrap().is_empty());
        assert_eq!(r.header("x-berth-version"), Some(serving.as_str()), "the version that refused: {path} {body}");
    }
    let wrong_type = {
        let mut t = tensors.clone();
        t[0] = json!({ "name": "f0", "shape": [2], "datatype": "FP32", "data": ["a", 1] });
        post(s.port, "/v2/models/churn/infer", &json!({ "inputs": t }))
    };
    assert_eq!(wrong_type.status, 422);
    assert_eq!(wrong_type.header("x-berth-version"), Some(serving.as_str()));
    let msg = wrong_type.json()["error"].as_str().unwrap().to_string();
    assert!(msg.contains("f0 (row 0): expected a number, got string \"a\""), "{msg}");
    assert_eq!(get(s.port, "/v2/models/other").status, 404);

    // KServe v1 and the simple endpoint answer the same model.
    let v1 = post(s.port, "/v1/models/churn:predict", &json!({ "instances": [row()] }));
    assert_eq!(v1.status, 200, "{}", v1.body);
    assert_eq!(v1.json()["predictions"].as_array().unwrap().len(), 1);
    assert_eq!(get(s.port, "/v1/models/churn").json()["ready"], true);
    assert_eq!(post(s.port, "/v1/models/other:predict", &json!({ "instances": [row()] })).status, 404);
}

#[test]
fn a_corpus_of_malformed_requests_gets_no_5xx() {
    let p = Project::new();
    let s = model_file_server(&p, &["--max-body-bytes", "20000"]);
    let good = row();
    let with = |k: &str, v: Value| {
        let mut r = good.clone();
        r[k] = v;
        json!({ "instances": [r] }).to_string()
    };
    let mut bodies: Vec<(String, String)> = Vec::new();
    let raw = [
        "",
        "{",
        "}",
        "[]",
        "null",
        "true",
        "1",
        "\"x\"",
        "{\"instances\":",
        "{\"instances\": null}",
        "{\"instances\": {}}",
        "{\"instances\": []}",
        "{\"instances\": [null]}",
        "{\"instances\": [1]}",
        "{\"instances\": [\"a\"]}",
        "{\"instances\": [[]]}",
        "{\"instances\": [[1,2]]}",
        "{\"instances\": [{}]}",
        "{\"instance\": [{}]}",
        "{\"instances\": [{\"f0\": NaN}]}",
        "{\"instances\": [{\"f0\": Infinity}]}",
        "{\"instances\": [{\"f0\": 1e999}]}",
        "{\"instances\": [{\"f0\": -}]}",
        "\u{feff}{}",
        "{\"a\":1}{\"b\":2}",
        "{\"instances\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    ];
    for b in raw {
        bodies.push(("/predict".into(), b.into()));
        bodies.push(("/v1/models/churn:predict".into(), b.into()));
        bodies.push(("/v2/models/churn/infer".into(), b.into()));
    }
    for (k, v) in [
        ("f0", json!("1.5")),
        ("f0", json!(null)),
        ("f0", json!(true)),
        ("f0", json!([1])),
        ("f0", json!({"a": 1})),
        ("f0", json!(1e308)),
        ("f0", json!(-1e308)),
        ("f9", json!(1.7976931348623157e308)),
        ("f3", json!(u64::MAX)),
        ("f3", json!(i64::MIN)),
        ("segment", json!(3)),
        ("segment", json!(null)),
        ("segment", json!("never seen in training")),
        ("segment", json!("")),
        ("segment", json!("x".repeat(5000))),
        ("segment", json!(["a"])),
        ("unknown", json!(1)),
        ("", json!(1)),
    ] {
        bodies.push(("/predict".into(), with(k, v)));
    }
    let missing = {
        let mut r = good.clone();
        r.as_object_mut().unwrap().remove("f4");
        json!({ "instances": [r] }).to_string()
    };
    bodies.push(("/predict".into(), missing));
    bodies.push(("/predict".into(), json!({ "instances": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "a"], [1]] }).to_string()));
    bodies.push(("/predict".into(), json!({ "instances": vec![good.clone(); 400] }).to_string()));
    let t = |name: &str, shape: Value, datatype: &str, data: Value| json!({ "name": name, "shape": shape, "datatype": datatype, "data": data });
    let tensor_cases = [
        json!({ "inputs": [t("f0", json!([-1]), "FP64", json!([1]))] }),
        json!({ "inputs": [t("x", json!([9223372036854775807i64, 9223372036854775807i64]), "FP64", json!([1]))] }),
        json!({ "inputs": [t("x", json!([1, 11]), "FP64", json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]))] }),
        json!({ "inputs": [t("x", json!([1, 3]), "FP64", json!([1, 2, 3]))] }),
        json!({ "inputs": [t("f0", json!([1]), "COMPLEX", json!([1]))] }),
        json!({ "inputs": [t("f0", json!([1]), "FP64", json!("abc"))] }),
        json!({ "inputs": [t("f0", json!("x"), "FP64", json!([1]))] }),
        json!({ "inputs": [{ "name": "f0" }] }),
        json!({ "inputs": "all" }),
        json!({ "inputs": [t("segment", json!([1]), "FP64", json!([1]))] }),
        json!({ "id": 5, "inputs": [] }),
        json!({ "inputs": [t("f0", json!([0]), "FP64", json!([]))] }),
    ];
    for c in tensor_cases {
        bodies.push(("/v2/models/churn/infer".into(), c.to_string()));
        bodies.push(("/v2/models/churn/versions/x/infer".into(), c.to_string()));
    }
    bodies.push(("/predict".into(), format!("{{\"instances\": [{}]}}", "1,".repeat(15000) + "1")));

    let mut answered = 0;
    for (path, body) in &bodies {
        let r = send(s.port, "POST", path, body.as_bytes(), &[("Content-Type", "application/json")]);
        assert!((200..500).contains(&r.status), "POST {path} {:.200} got {}: {}", body, r.status, r.body);
        if r.status >= 400 {
            let e = r.json();
            assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()), "{path}: {}", r.body);
            assert!(!r.body.contains("panicked") && !r.body.contains("src/"), "no internals: {}", r.body);
        }
        answered += 1;
    }
    // Not JSON at all, wrong methods, unknown paths, bytes that are not UTF-8.
    let odd: Vec<Resp> = vec![
        send(s.port, "POST", "/predict", &[0xff, 0xfe, 0x00, 0x80], &[]),
        send(s.port, "POST", "/predict", b"instances=1", &[("Content-Type", "application/x-www-form-urlencoded")]),
        send(s.port, "GET", "/predict", b"", &[]),
        send(s.port, "DELETE", "/v2/models/churn", b"", &[]),
        send(s.port, "GET", "/v2/models/churn/infer", b"", &[]),
        send(s.port, "POST", "/v1/models/churn", b"{}", &[]),
        send(s.port, "POST", "/v1/models/churn:explain", b"{}", &[]),
        send(s.port, "GET", "/nope", b"", &[]),
        send(s.port, "GET", "/v2/models/%ff%fe", b"", &[]),
        send(s.port, "PUT", "/health", b"", &[]),
    ];
    for r in &odd {
        assert!((400..500).contains(&r.status), "{} {}", r.status, r.body);
        answered += 1;
    }
    assert!(answered >= 100, "the corpus has {answered} requests");
    let r = post(s.port, "/predict", &json!({ "instances": [good] }));
    assert_eq!(r.status, 200, "still serving after the corpus: {}", r.body);
    let metrics = get(s.port, "/metrics").body;
    assert!(metrics.contains(r#"endpoint="predict",code="422"}"#), "{metrics}");
    assert!(!metrics.contains(r#"code="500""#), "{metrics}");
}

#[test]
fn the_last_verified_copy_is_served_when_the_registry_is_unreachable() {
    let p = Project::new();
    synth(&p);
    let digest = push_model(&p, "logistic_regression", "1");
    {
        let s = Server::start(&p, &["churn@1", "--poll", "1h"]);
        s.wait_health("v1 from the store", |code, h| code == 200 && h["source"] == "store");
    }
    let down = format!("postgres://berth@127.0.0.1:{}/none", berth_testkit::closed_port());
    let p = p.with_env("BERTH_REGISTRY_URL", &down);
    let s = Server::start(&p, &["churn@1", "--poll", "1h"]);
    let h = s.wait_health("the cached copy", |code, _| code == 200);
    assert_eq!(h["source"], "cache");
    assert_eq!(h["version"], "1");
    assert_eq!(h["digest"], digest.as_str());
    assert_eq!(h["status"], "degraded", "it says it is not on the live registry: {h}");
    assert!(h["load_status"]["error"].as_str().unwrap().contains("cached copy"), "{h}");
    assert_eq!(post(s.port, "/predict", &json!({ "instances": [row()] })).status, 200);
}

#[test]
fn in_ci_a_synthetic_stand_in_is_served_only_when_allowed_and_says_so() {
    let p = Project::new().with_env("CI", "true");
    let s = Server::start(&p, &["churn@production", "--poll", "300ms", "--allow-synthetic"]);
    let h = s.wait_health("the stand-in", |code, _| code == 200);
    assert_eq!(h["source"], "synthetic");
    assert!(h["load_status"]["error"].as_str().unwrap().contains("synthetic"), "{h}");
    let r = post(s.port, "/predict", &json!({ "instances": [row()] }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-berth-version"), Some("synthetic@0"));

    // The real model replaces it as soon as it exists.
    synth(&p);
    push_model(&p, "logistic_regression", "1");
    p.berth(&["alias", "set", "churn", "production", "1", "-q"]).ok();
    let h = s.wait_health("the real model", |_, h| h["source"] == "store");
    assert_eq!(h["status"], "healthy");

    // Outside CI the flag does nothing: a model that does not exist is an error at start.
    let q = Project::new();
    let r = serve_exits(&q, &["churn@production", "--poll", "300ms", "--allow-synthetic"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no model churn"), "{}", r.stderr);
}

#[test]
fn the_prediction_log_samples_requests_and_shutdown_drains_them() {
    let p = Project::new();
    let s = model_file_server(&p, &["--prediction-log", "plog", "--prediction-log-sample", "0.5"]);
    // Eleven small requests: the 2nd, 4th, …, 10th are logged, and the 12th (the batch) is.
    for i in 0..11 {
        let r = send(
            s.port,
            "POST",
            "/predict",
            json!({ "instances": [row()] }).to_string().as_bytes(),
            &[("X-Request-Id", &format!("req-{i}"))],
        );
        assert_eq!(r.status, 200);
    }
    // A large batch is still in flight when SIGTERM comes; it is answered.
    let port = s.port;
    let big_body = json!({ "instances": vec![row(); 20000] }).to_string();
    let big = std::thread::spawn(move || {
        send(port, "POST", "/predict", big_body.as_bytes(), &[("Content-Type", "application/json")])
    });
    // The signal goes once the server counts the batch in flight (or it is already answered).
    let in_flight = |metrics: &str| {
        metrics
            .lines()
            .filter(|l| l.starts_with("berth_requests_in_flight{model=\"churn\""))
            .any(|l| !l.ends_with(" 0"))
    };
    while !big.is_finished() && !in_flight(&get(port, "/metrics").body) {
        std::thread::sleep(Duration::from_millis(5));
    }
    s.signal("TERM");
    let r = big.join().unwrap();
    assert_eq!(r.status, 200, "the request in flight finished: {}", r.body);
    let mut s = s;
    let status = s.child.wait().unwrap();
    assert!(status.success(), "a clean exit: {status:?}\n{}", s.log());

    // Every segment was written by the time the server exited: one Parquet
    // table of one row per predicted row.
    let log = berth_data::read_table(&p.path().join("plog"), &Default::default()).unwrap();
    let ids = log.column("request_id").unwrap();
    let small: Vec<usize> = (0..log.rows()).filter(|&i| ids.str_at(i).unwrap().starts_with("req-")).collect();
    assert_eq!(small.len(), 5, "one request in two of the first eleven");
    assert_eq!(log.rows(), 5 + 20000, "the batch in flight at SIGTERM is in the log, every row");
    let at = |c: &str| log.column(c).unwrap_or_else(|| panic!("no column {c}: {:?}", log.names()));
    let i = small[0];
    assert_eq!(at("model").str_at(i), Some("churn"));
    assert!(at("version").str_at(i).is_some() && at("ts").as_f64(i).unwrap() > 1.7e9);
    assert_eq!(at("segment").str_at(i), Some("b"));
    assert!(at("prediction").str_at(i).is_some(), "a label");
    let probabilities: Vec<String> = log.names().into_iter().filter(|n| n.starts_with("proba_")).collect();
    assert_eq!(probabilities.len(), 2, "one probability column per class: {:?}", log.names());
    let sum: f64 = probabilities.iter().map(|c| at(c).as_f64(i).unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    assert!(at("latency_ms").as_f64(i).unwrap() >= 0.0);
    // berth reads its own log back.
    let profile = p.berth(&["data", "profile", "plog"]).ok();
    assert!(profile.stdout.contains("segment") && profile.stdout.contains("20005"), "{}", profile.stdout);
}

#[test]
fn validate_through_a_running_server_agrees_with_validating_the_file() {
    let p = Project::new();
    let s = model_file_server(&p, &[]);
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "700", "--seed", "3", "-o", "test.csv"]).ok();
    let common = ["--data", "test.csv", "--target", "target", "--min-accuracy", "0.5", "--no-store"];
    let mut direct = vec!["validate", "m/model.berth", "--report-json", "direct.json"];
    direct.extend_from_slice(&common);
    p.berth(&direct).ok();
    let url = format!("http://127.0.0.1:{}", s.port);
    let mut via = vec!["validate", "--endpoint", &url, "--max-latency-ms", "1000", "--report-json", "via.json"];
    via.extend_from_slice(&common);
    let out = p.berth(&via).ok();
    assert!(out.stdout.contains("churn@"), "{}", out.stdout);

    let read = |f: &str| serde_json::from_str::<Value>(&std::fs::read_to_string(p.path().join(f)).unwrap()).unwrap();
    let (d, v) = (read("direct.json"), read("via.json"));
    assert!(v["model"].as_str().unwrap().contains(&url), "{}", v["model"]);
    for m in ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"] {
        let (a, b) = (d["metrics"][m].as_f64().unwrap(), v["metrics"][m].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{m}: the file says {a}, the server {b}");
    }
    assert_eq!(v["checks"]["latency.p99"], true, "{v}");
    assert!(v["latency_p99_ms"].as_f64().unwrap() > 0.0, "{v}");

    let mut strict = vec!["validate", "--endpoint", &url, "--min-accuracy", "0.999"];
    strict.extend_from_slice(&common[..4]);
    p.berth(&strict).fails(1);
    let gone = format!("http://127.0.0.1:{}", berth_testkit::closed_port());
    let mut down = vec!["validate", "--endpoint", &gone];
    down.extend_from_slice(&common[..4]);
    let r = p.berth(&down).fails(1);
    assert!(r.stdout.contains("does not answer"), "{}", r.stdout);
    p.berth(&["validate", "--endpoint", "ftp://x", "--data", "test.csv"]).fails(2);
}

#[test]
fn smoke_sends_real_requests_and_exits_by_the_verdict() {
    let p = Project::new();
    let s = model_file_server(&p, &[]);
    let url = format!("http://127.0.0.1:{}", s.port);
    let ok = p.berth(&["smoke", "--endpoint", &url, "--data", "train.csv", "--rows", "30", "--json"]).ok().json();
    assert_eq!(ok["passed"], true, "{ok}");
    assert_eq!(ok["requests"], 31, "30 single rows and one batch");
    assert_eq!(ok["failures"], 0);
    assert!(ok["model"].as_str().unwrap().starts_with("churn@"));
    assert!(ok["p99_ms"].as_f64().unwrap() > 0.0);
    let text = p.berth(&["smoke", "--endpoint", &url, "--data", "train.csv", "--rows", "5"]).ok();
    assert!(text.stdout.contains("✓ PASSED"), "{}", text.stdout);

    let slow =
        p.berth(&["smoke", "--endpoint", &url, "--data", "train.csv", "--rows", "5", "--max-latency-ms", "0.000001"]);
    let slow = slow.fails(1);
    assert!(slow.stdout.contains("p99"), "{}", slow.stdout);

    // Data the model cannot take is bad input, not a failed smoke test.
    p.write("other.csv", b"a,b\n1,2\n");
    p.berth(&["smoke", "--endpoint", &url, "--data", "other.csv"]).fails(2);

    // A server without a model fails the health check.
    let q = Project::new();
    let empty = Server::start(&q, &["--model", "not-there-yet.berth", "--poll", "1h"]);
    let url = format!("http://127.0.0.1:{}", empty.port);
    let r = p.berth(&["smoke", "--endpoint", &url, "--data", "train.csv"]).fails(1);
    assert!(r.stdout.contains("✗"), "{}", r.stdout);
}

/// Runs `berth ARGS`, which must end by itself; after a minute it is killed
/// and the test fails.
fn exits(p: &Project, args: &[&str]) -> support::Run {
    exits_with(p.command(args), args)
}

fn exits_with(mut c: std::process::Command, args: &[&str]) -> support::Run {
    use std::process::Stdio;
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start berth");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("`berth {}` never exited:\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap().into()
}

/// `berth serve` on a free loopback port, which must exit by itself.
fn serve_exits(p: &Project, args: &[&str]) -> support::Run {
    let mut all = vec!["serve", "--addr", "127.0.0.1:0"];
    all.extend_from_slice(args);
    exits(p, &all)
}

/// A version of `churn` whose file is no model at all: enough for the
/// registry to know the name.
fn push_placeholder(p: &Project) {
    p.write("placeholder/model.berth", b"not a model");
    p.berth(&["push", "placeholder", "--model", "churn", "-q"]).ok();
}

#[test]
fn a_ref_naming_nothing_is_an_error_at_start_with_the_nearest_name() {
    let p = Project::new();
    let r = serve_exits(&p, &["churn@production"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no model churn") && r.stderr.contains("no models yet"), "{}", r.stderr);

    push_placeholder(&p);
    p.berth(&["alias", "set", "churn", "production", "1", "-q"]).ok();
    let r = serve_exits(&p, &["chrun@production"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no model chrun; did you mean churn?"), "{}", r.stderr);
    assert!(!r.stderr.contains("listening"), "it never started: {}", r.stderr);

    let r = serve_exits(&p, &["churn@prodution"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("churn has no alias prodution; did you mean production?"), "{}", r.stderr);
    assert!(r.stderr.contains("its aliases: production"), "{}", r.stderr);

    let r = serve_exits(&p, &["churn@7"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("churn has no version 7; its latest is 1"), "{}", r.stderr);

    // An alias not set yet, and no near miss of one: waited for (a first promotion).
    let s = Server::start(&p, &["churn@canary", "--poll", "1h"]);
    let (code, h) = s.health();
    assert_eq!(code, 503, "{h}");
    assert!(s.log().contains("churn@canary is not set yet (its aliases: production)"), "{}", s.log());
}

#[test]
fn the_admin_endpoints_need_the_token_the_server_was_given() {
    const TOKEN: &str = "tok-3f9a1c0e7b2d4a6f8e1c5d";
    let p = Project::new().with_env("SERVE_ADMIN_TOKEN", TOKEN);
    let s = Server::start(&p, &["--model", "not-there.berth", "--admin-token-env", "SERVE_ADMIN_TOKEN"]);
    let bearer = format!("Bearer {TOKEN}");

    let none = post(s.port, "/admin/reload", &json!({}));
    assert_eq!(none.status, 401, "{}", none.body);
    assert!(none.json()["error"].as_str().unwrap().contains("Authorization: Bearer"), "{}", none.body);
    assert!(none.json()["hint"].as_str().unwrap().contains("--admin-token-env"), "{}", none.body);
    assert!(none.header("www-authenticate").unwrap().starts_with("Bearer"));
    let wrong = send(s.port, "POST", "/admin/reload", b"{}", &[("Authorization", "Bearer tok-3f9a1c0e7b2d4a6f8e1c5e")]);
    assert_eq!(wrong.status, 401);
    assert!(wrong.json()["error"].as_str().unwrap().contains("not this server's"), "{}", wrong.body);
    let basic = send(s.port, "GET", "/admin/rollout", b"", &[("Authorization", TOKEN)]);
    assert_eq!(basic.status, 401, "a bare token is not a bearer token");
    for r in [&none, &wrong, &basic] {
        assert!(!r.body.contains(TOKEN) && !r.body.contains("SERVE_ADMIN_TOKEN"), "{}", r.body);
    }
    assert_eq!(send(s.port, "POST", "/admin/reload", b"{}", &[("Authorization", &bearer)]).status, 202);
    assert_eq!(send(s.port, "GET", "/admin/rollout", b"", &[("Authorization", &bearer)]).status, 200);
    assert_eq!(get(s.port, "/livez").status, 200, "only /admin/* takes the token");

    // `berth rollout` sends BERTH_ADMIN_TOKEN, or the variable it is told.
    let url = format!("http://127.0.0.1:{}", s.port);
    let r = p.berth(&["rollout", "status", "--endpoint", &url]).fails(2);
    assert!(r.stderr.contains("401") && r.stderr.contains("BERTH_ADMIN_TOKEN"), "{}", r.stderr);
    let mut c = p.command(&["rollout", "status", "--endpoint", &url]);
    let r: support::Run = c.env("BERTH_ADMIN_TOKEN", TOKEN).output().unwrap().into();
    assert!(r.ok().stdout.contains("no rollout has run"));
    p.berth(&["rollout", "status", "--endpoint", &url, "--admin-token-env", "SERVE_ADMIN_TOKEN"]).ok();
    let r = p.berth(&["rollout", "abort", "--endpoint", &url, "--admin-token-env", "NOT_SET_ANYWHERE"]).fails(2);
    assert!(r.stderr.contains("NOT_SET_ANYWHERE is not set"), "{}", r.stderr);

    let metrics = get(s.port, "/metrics").body;
    assert!(metric(&metrics, "berth_admin_refused_total") >= 4.0, "{metrics}");
    assert!(!s.log().contains(TOKEN), "the token is never logged:\n{}", s.log());
    drop(s);

    // Start-up: the variable must hold a token; beyond loopback a token is required.
    let r = serve_exits(&p, &["--model", "m.berth", "--admin-token-env", "NOT_SET_ANYWHERE"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("NOT_SET_ANYWHERE is not set"), "{}", r.stderr);
    let mut c = p.command(&["serve", "--addr", "127.0.0.1:0", "--model", "m.berth", "--admin-token-env", "EMPTY"]);
    c.env("EMPTY", "");
    let r = exits_with(c, &["serve", "--admin-token-env", "EMPTY"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("EMPTY is empty"), "{}", r.stderr);
    let r = exits(&p, &["serve", "--addr", "0.0.0.0:0", "--model", "m.berth"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("other machines can reach") && r.stderr.contains("--admin-token-env"), "{}", r.stderr);

    let open =
        Listening::start(&p, &["--addr", "0.0.0.0:0", "--model", "m.berth", "--admin-token-env", "SERVE_ADMIN_TOKEN"]);
    assert_eq!(post(open.port, "/admin/reload", &json!({})).status, 401);
    assert_eq!(send(open.port, "POST", "/admin/reload", b"{}", &[("Authorization", &bearer)]).status, 202);
}

/// A `berth serve` with an address of the test's choosing, killed when dropped.
struct Listening {
    child: std::process::Child,
    port: u16,
}

impl Listening {
    fn start(p: &Project, args: &[&str]) -> Listening {
        use std::io::BufRead;
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let mut child = p.command(&all).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(60)).expect("the server never said where it listens");
        Listening { child, port: addr.rsplit(':').next().unwrap().parse().unwrap() }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of an unlabelled (or fully labelled) series in Prometheus text.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// Whether the server has closed `s`: a read finds the end of the stream or
/// a reset (anything already sent is read and dropped).
fn is_closed(s: &mut std::net::TcpStream) -> bool {
    use std::io::{ErrorKind, Read};
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1024];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break true,
        }
    };
    let _ = s.set_nonblocking(false);
    closed
}

/// Reads one answer off a kept-alive connection; returns its status.
fn read_answer(s: &mut std::net::TcpStream) -> u16 {
    use std::io::Read;
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = s.read(&mut buf).expect("an answer");
        assert!(n > 0, "closed before answering: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
            }
        }
    }
}

const KEEP_ALIVE: &[u8] = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

#[test]
fn slow_and_idle_connections_are_closed_while_a_normal_client_is_answered() {
    use std::io::Write;
    use std::net::TcpStream;
    let p = Project::new();
    let s = Server::start(
        &p,
        &[
            "--model",
            "not-there.berth",
            "--header-read-timeout",
            "1s",
            "--idle-timeout",
            "1s",
            "--max-connections",
            "50",
        ],
    );
    let connect = || TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let opened = Instant::now();
    // Slowloris: a request head begun, then a byte every 200 ms, never finished.
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = connect();
            c.write_all(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").unwrap();
            c
        })
        .collect();
    // Connected, and silent.
    let mut silent: Vec<TcpStream> = (0..20).map(|_| connect()).collect();
    // Answered once, then idle on a kept-alive connection.
    let mut kept = connect();
    kept.write_all(KEEP_ALIVE).unwrap();
    assert_eq!(read_answer(&mut kept), 200);
    let mut kept = vec![kept];

    assert_eq!(get(s.port, "/livez").status, 200, "a normal client is answered while the others dawdle");
    // A bound on correctness (they are closed at all), far above the timeouts.
    let deadline = opened + Duration::from_secs(10);
    loop {
        slow.retain_mut(|c| !(c.write_all(b"a").is_err() || is_closed(c)));
        silent.retain_mut(|c| !is_closed(c));
        kept.retain_mut(|c| !is_closed(c));
        if slow.is_empty() && silent.is_empty() && kept.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still open after 10 s: {} slow, {} silent, {} idle\n{}",
            slow.len(),
            silent.len(),
            kept.len(),
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = get(s.port, "/metrics").body;
    assert!(metric(&metrics, r#"berth_connections_timed_out_total{reason="header"}"#) >= 40.0, "{metrics}");
    assert!(metric(&metrics, r#"berth_connections_timed_out_total{reason="idle"}"#) >= 1.0, "{metrics}");
    assert_eq!(metric(&metrics, "berth_connections_refused_total"), 0.0, "{metrics}");
}

#[test]
fn connections_over_the_limit_are_refused_at_once_and_counted() {
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpStream;
    let p = Project::new();
    let s = Server::start(&p, &["--model", "not-there.berth", "--max-connections", "3"]);
    let connect = || TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    // Three kept-alive clients hold every slot; each was answered, so each was accepted.
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut c = connect();
            c.write_all(KEEP_ALIVE).unwrap();
            assert_eq!(read_answer(&mut c), 200);
            c
        })
        .collect();

    let mut extra = connect();
    extra.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = extra.write_all(KEEP_ALIVE);
    let mut got = Vec::new();
    if let Err(e) = extra.read_to_end(&mut got) {
        assert!(
            !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "the connection over the limit was left open"
        );
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 503"), "refused with a 503 or closed: {text}");
    if !text.is_empty() {
        assert!(text.contains("--max-connections"), "{text}");
    }

    // A slot freed serves again; the refusal was counted.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let r = get(s.port, "/metrics");
        if r.status == 200 {
            break r.body;
        }
        assert!(Instant::now() < deadline, "no slot came free: {} {}", r.status, r.body);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(metric(&metrics, "berth_connections_refused_total") >= 1.0, "{metrics}");
    assert!(metric(&metrics, "berth_connections_open") >= 2.0, "the two held are still open: {metrics}");
    for c in &mut held {
        c.write_all(KEEP_ALIVE).unwrap();
        assert_eq!(read_answer(c), 200, "the held connections are still served");
    }
}
