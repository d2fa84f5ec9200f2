//! The core flows once more, in hub mode on PostgreSQL and an S3-protocol
//! server: machines that hold only a token train and push, validate (the
//! report stored through the hub), promote under the policy, approve and
//! roll back; a server follows an environment through the hub with a
//! reader token, keeps serving its verified copy while the hub is down, and
//! the rollouts it runs move the environment through the hub's policy.

mod support;

use std::time::{Duration, Instant};

use berth_testkit::{PgDatabase, s3_bucket};
use serde_json::{Value, json};
use support::Project;
use support::http::{Resp, Server, get, send};

const POLICY: &str = r#"
[environments.staging]
require_gates = ["quality"]

[environments.production]
require_gates = ["quality"]
approvals = 1
"#;

const TRAIN: &str = r#"
model_type = "classification"
algorithm = "logistic_regression"
target = "target"
seed = 7
data = "train.csv"
"#;

fn api(port: u16, method: &str, path: &str, token: &str, body: &Value) -> Resp {
    support::http::api(port, method, path, Some(token), body)
}

fn token(port: u16, admin: &str, body: Value) -> String {
    support::http::make_token(port, admin, body).0
}

/// The hub's project: the registry on PostgreSQL, the store in a bucket.
fn hub_project(db: &PgDatabase, bucket: &str) -> Project {
    let p = Project::on_bucket(Some(&db.url), bucket);
    p.configure(POLICY);
    p.berth(&["policy", "apply"]).ok();
    p
}

/// A machine with no project, no database and no bucket: the hub and a token.
fn machine(url: &str, token: &str) -> Project {
    let p = Project::empty().with_env("BERTH_HUB_URL", url).with_env("BERTH_TOKEN", token);
    let cache = p.path().join(".cache");
    p.with_env("XDG_CACHE_HOME", cache.to_str().unwrap())
}

/// Sends one row; returns which version answered.
fn predict(s: &Server, row: &Value) -> String {
    let body = json!({"instances": [row]}).to_string();
    let r = send(s.port, "POST", "/predict", body.as_bytes(), &[("Content-Type", "application/json")]);
    assert_eq!(r.status, 200, "{}\n{}", r.body, s.log());
    r.header("x-berth-version").unwrap().to_string()
}

fn wait_version(s: &Server, v: &str) {
    s.wait_health(&format!("version {v}"), |c, h| c == 200 && h["version"] == v);
}

#[test]
fn the_core_flows_run_through_the_hub_on_postgres_and_s3() {
    let db = PgDatabase::create();
    let bucket = s3_bucket();
    let p = hub_project(&db, &bucket);
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();
    let mut hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let (port, url) = (hub.port, format!("http://127.0.0.1:{}", hub.port));
    let ci = machine(&url, &token(port, &admin, json!({"principal": "ci", "role": "publisher", "models": "churn"})));
    let carol =
        machine(&url, &token(port, &admin, json!({"principal": "carol", "role": "deployer", "models": "churn"})));
    let bob = machine(&url, &token(port, &admin, json!({"principal": "bob", "role": "approver", "models": "churn"})));
    let reader = token(port, &admin, json!({"principal": "server", "role": "reader", "models": "churn"}));

    // CI trains and pushes through the hub; the version is the token's.
    for (args, to) in
        [(&["--rows", "1500", "--seed", "1"][..], "train.csv"), (&["--rows", "600", "--seed", "1"], "test.csv")]
    {
        let mut all = vec!["data", "synth", "--kind", "classification", "-o", to];
        all.extend_from_slice(args);
        ci.berth(&all).ok();
    }
    ci.write("train.toml", TRAIN.as_bytes());
    ci.write("quality.toml", b"[metrics]\naccuracy = { min = 0.6 }\n");
    for _ in 0..2 {
        let pushed =
            ci.berth(&["train", "--config", "train.toml", "-o", "out", "--force", "--push", "churn", "--json"]).ok();
        assert!(pushed.json()["push"]["ref"].as_str().unwrap().starts_with("churn@"), "{}", pushed.stdout);
    }
    let shown = carol.berth(&["show", "churn@1", "--json"]).ok().json();
    assert_eq!(shown["created_by"], "ci", "{shown}");
    assert_eq!(shown["params"]["algorithm"], "logistic_regression", "{shown}");
    // What was pushed comes back byte for byte, from the bucket through the hub.
    carol.berth(&["pull", "churn@2", "-o", "v2"]).ok();
    for f in ["model.berth", "signature.json", "profile.json"] {
        let (pushed, pulled) = (ci.path().join("out").join(f), carol.path().join("v2").join(f));
        assert!(std::fs::read(&pulled).unwrap() == std::fs::read(&pushed).unwrap(), "{f} differs after the pull");
    }

    // The gate: without its report the policy refuses; validate stores the
    // report through the hub (the reader token cannot), and then it holds.
    let r = carol.berth(&["promote", "churn@1", "--to", "staging"]).fails(1);
    assert!(format!("{}{}", r.stdout, r.stderr).contains("quality"), "{}{}", r.stdout, r.stderr);
    let rita = machine(&url, &reader);
    rita.write("quality.toml", b"[metrics]\naccuracy = { min = 0.6 }\n");
    std::fs::copy(ci.path().join("test.csv"), rita.path().join("test.csv")).unwrap();
    let r = rita.berth(&["validate", "churn@1", "--data", "test.csv", "--gate", "quality.toml"]).fails(1);
    assert!(r.stderr.contains("needs the publisher role"), "{}", r.stderr);
    for v in ["churn@1", "churn@2"] {
        let report = ci.berth(&["validate", v, "--data", "test.csv", "--gate", "quality.toml", "--json"]).ok().json();
        assert_eq!(report["passed"], true, "{report}");
    }
    let gates = api(port, "GET", "/api/v1/models/churn/versions/1/gate-reports", &reader, &Value::Null).json();
    let g = &gates["gate_reports"][0];
    assert_eq!(
        (g["gate"].as_str(), g["passed"].as_bool(), g["created_by"].as_str()),
        (Some("quality"), Some(true), Some("ci")),
        "{gates}"
    );
    carol.berth(&["promote", "churn@1", "--to", "staging"]).ok();
    bob.berth(&["approve", "churn@1", "--env", "production"]).ok();
    carol.berth(&["promote", "churn@1", "--to", "production"]).ok();
    // Predictions from a version in the registry, through the hub.
    ci.berth(&["predict", "churn@production", "--data", "test.csv", "-o", "preds.csv"]).ok();
    assert!(std::fs::read_to_string(ci.path().join("preds.csv")).unwrap().lines().count() > 600);

    // A server follows churn@production through the hub with a reader token.
    let server = machine(&url, &reader);
    let s = Server::start(&server, &["churn@production", "--poll", "1s"]);
    wait_version(&s, "1");
    let data = support::instances(&ci, "test.csv");
    assert_eq!(predict(&s, &data[0]), "churn@1");
    // It follows a promotion.
    bob.berth(&["approve", "churn@2", "--env", "production"]).ok();
    carol.berth(&["promote", "churn@2", "--to", "production"]).ok();
    wait_version(&s, "2");
    // A rollback through the hub, and the server follows it back.
    let rolled = carol.berth(&["rollback", "churn", "--env", "production", "--json"]).ok().json();
    assert_eq!(rolled["deployment"]["to"].as_u64(), Some(1), "{rolled}");
    wait_version(&s, "1");

    // A rollout on this server asks the hub, as the server's token: a reader
    // may not start one, and nothing moves.
    let start = |machine: &Project, s: &Server| {
        let endpoint = format!("http://127.0.0.1:{}", s.port);
        let canary = ["--strategy", "canary", "--candidate", "2", "--steps", "50,100", "--pause", "1s"];
        let mut args = vec!["rollout", "start"];
        args.extend_from_slice(&canary);
        args.extend_from_slice(&["--min-requests", "10", "--endpoint", &endpoint]);
        machine.berth(&args)
    };
    let r = start(&server, &s).fails(1);
    assert!(r.stderr.contains("deployer"), "{}", r.stderr);
    drop(s);

    // With a deployer's token, the rollout runs and its end moves production
    // through the hub, recorded as a rollout by the token's principal.
    let deployer = token(port, &admin, json!({"principal": "edge-1", "role": "deployer", "models": "churn"}));
    let edge = machine(&url, &deployer);
    let s = Server::start(&edge, &["churn@production", "--poll", "1s"]);
    wait_version(&s, "1");
    start(&edge, &s).ok();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut i = 0;
    while get(s.port, "/admin/rollout").json()["active"] != false {
        predict(&s, &data[i % data.len()]);
        i += 1;
        assert!(Instant::now() < deadline, "the rollout never ended: {}", get(s.port, "/admin/rollout").body);
    }
    let last = get(s.port, "/admin/rollout").json();
    assert_eq!(last["last"]["state"]["phase"]["phase"], "promoted", "{last}");
    let history = carol.berth(&["deployments", "churn", "--env", "production", "--json"]).ok().json();
    let newest = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (newest["kind"].as_str(), newest["to"].as_u64(), newest["actor"].as_str()),
        (Some("rollout"), Some(2), Some("edge-1")),
        "{history}"
    );

    // The hub goes down: the server keeps answering with what it serves,
    // and a server started meanwhile serves its verified cached copy.
    let _ = hub.child.kill();
    let _ = hub.child.wait();
    assert_eq!(predict(&s, &data[1]), "churn@2");
    drop(s);
    let s = Server::start(&edge, &["churn@production", "--poll", "1s"]);
    let h = s.wait_health("the cached copy", |c, h| c == 200 && h["version"] == "2");
    assert_eq!(h["source"], "cache", "{h}");
    assert_eq!(predict(&s, &data[2]), "churn@2");
    // The hub back (on another port): nothing lost, the chain intact.
    hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let versions = api(hub.port, "GET", "/api/v1/models/churn/versions", &reader, &Value::Null).json();
    assert_eq!(versions["aliases"]["production"].as_u64(), Some(2), "{versions}");
    assert!(!hub.log().contains(&reader) && !hub.log().contains(&deployer));
}
