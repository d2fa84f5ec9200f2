//! Rollouts in `berth serve`, driven by real traffic against the real
//! server: a canary that aborts on a bad candidate and one that promotes a
//! good one, a rollout that survives a restart, a blue-green switch and
//! switch-back, and shadow statistics.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Project;
use support::http::{Inbox, Server, get, receiver, send};

/// churn@1 (stable, in production), churn@2 (bad: regularised until its
/// probabilities all sit near 0.5), churn@3 (a good retrain).
fn project() -> Project {
    let p = Project::new();
    project_in(p)
}

/// The same, with a webhook notifier for rollout events.
fn project_notifying() -> (Project, Inbox) {
    let p = Project::new();
    let (url, inbox) = receiver(0);
    let mut cfg = std::fs::read_to_string(p.path().join("berth.toml")).unwrap();
    cfg.push_str(&format!(
        "\n[[notifiers]]\nname = \"rollouts\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"HOOK_SECRET\"\nevents = [\"rollout.*\"]\n"
    ));
    p.write("berth.toml", cfg.as_bytes());
    (project_in(p.with_env("HOOK_SECRET", "hush")), inbox)
}

fn project_in(p: Project) -> Project {
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "1500", "--seed", "3", "-o", "train.csv"]).ok();
    for c in ["1.0", "0.000001", "0.5"] {
        let out = format!("out-{c}");
        let args =
            ["train", "--data", "train.csv", "--model-type", "classification", "--algorithm", "logistic_regression"];
        let mut args: Vec<&str> = args.to_vec();
        let set = format!("C={c}");
        args.extend_from_slice(&["--target", "target", "--set", &set, "-o", &out, "--push", "churn", "-q"]);
        p.berth(&args).ok();
    }
    p.berth(&["alias", "set", "churn", "production", "1"]).ok();
    p
}

fn serve(p: &Project) -> Server {
    let s = Server::start(p, &["churn@production", "--poll", "1s"]);
    s.wait_health("churn@1 loaded", |c, h| c == 200 && h["version"] == "1");
    s
}

/// Sends one row; returns which version answered.
fn predict(s: &Server, row: &Value, headers: &[(&str, &str)]) -> String {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    let r = send(s.port, "POST", "/predict", json!({"instances": [row]}).to_string().as_bytes(), &all);
    assert_eq!(r.status, 200, "{}", r.body);
    r.header("x-berth-version").unwrap().to_string()
}

fn rollout(p: &Project, s: &Server, args: &[&str]) -> Value {
    let endpoint = format!("http://127.0.0.1:{}", s.port);
    let mut all = vec!["rollout"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--endpoint", &endpoint, "--json"]);
    p.berth(&all).ok().json()
}

fn status(s: &Server) -> Value {
    get(s.port, "/admin/rollout").json()
}

/// Sends traffic until the rollout is no longer active; returns its last state.
fn drive(s: &Server, rows: &[Value]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut i = 0;
    loop {
        for _ in 0..20 {
            predict(s, &rows[i % rows.len()], &[]);
            i += 1;
        }
        let st = status(s);
        if st["active"] == false {
            return st;
        }
        assert!(Instant::now() < deadline, "the rollout never ended: {st}\n{}", s.log());
    }
}

fn production(p: &Project) -> u64 {
    let h = p.berth(&["deployments", "churn", "--env", "production", "--json"]).ok().json();
    h.as_array().unwrap().last().unwrap()["to"].as_u64().unwrap()
}

#[test]
fn a_canary_aborts_on_a_bad_candidate_and_promotes_a_good_one() {
    let (p, inbox) = project_notifying();
    let data = support::instances(&p, "train.csv");
    let s = serve(&p);
    let canary = ["start", "--strategy", "canary", "--steps", "50,100", "--pause", "1s", "--min-requests", "30"];

    let mut args = canary.to_vec();
    args.extend_from_slice(&["--candidate", "2"]);
    let started = rollout(&p, &s, &args);
    assert_eq!((started["active"].as_bool(), started["weight"].as_u64()), (Some(true), Some(50)));
    let end = drive(&s, &data);
    let last = &end["last"]["state"];
    assert_eq!(last["phase"]["phase"], "aborted", "{end}");
    let reason = last["phase"]["reason"].as_str().unwrap();
    assert!(reason.contains("analysis at 50% failed") && reason.contains("prediction_distribution"), "{reason}");
    assert_eq!(production(&p), 1, "an aborted canary leaves the environment alone");
    for r in data.iter().take(20) {
        assert_eq!(predict(&s, r, &[]), "churn@1", "stable answers everything after an abort");
    }

    let mut args = canary.to_vec();
    args.extend_from_slice(&["--candidate", "3"]);
    rollout(&p, &s, &args);
    // Both sides answer while the canary runs.
    let answered: std::collections::BTreeSet<String> = data.iter().take(60).map(|r| predict(&s, r, &[])).collect();
    assert_eq!(answered.into_iter().collect::<Vec<_>>(), ["churn@1", "churn@3"]);
    let end = drive(&s, &data);
    let last = &end["last"]["state"];
    assert_eq!(last["phase"]["phase"], "promoted", "{end}");
    let steps = last["steps"].as_array().unwrap();
    assert_eq!(
        steps.iter().map(|s| (s["weight"].as_u64().unwrap(), s["passed"] == true)).collect::<Vec<_>>(),
        [(50, true), (100, true)]
    );
    assert_eq!(production(&p), 3);
    let h = p.berth(&["deployments", "churn", "--env", "production", "--json"]).ok().json();
    assert_eq!(h.as_array().unwrap().last().unwrap()["kind"], "rollout");
    for r in data.iter().take(20) {
        assert_eq!(predict(&s, r, &[]), "churn@3");
    }
    // The loader, following churn@production, agrees: nothing swaps back.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(predict(&s, &data[0], &[]), "churn@3");
    let text = p.berth(&["rollout", "status", "--endpoint", &format!("http://127.0.0.1:{}", s.port)]).ok().stdout;
    assert!(text.contains("promoted") && text.contains("step 50%: passed"), "{text}");
    // Both endings were notified, signed, and logged.
    let events: Vec<Value> =
        inbox.lock().unwrap().iter().map(|(_, body)| serde_json::from_str(body).unwrap()).collect();
    let kinds: Vec<(&str, u64)> =
        events.iter().map(|e| (e["event"].as_str().unwrap(), e["version"].as_u64().unwrap())).collect();
    assert_eq!(kinds, [("rollout.aborted", 2), ("rollout.promoted", 3)]);
    assert!(events[0]["details"]["reason"].as_str().unwrap().contains("prediction_distribution"));
    let log = p.berth(&["notifications", "--json"]).ok().json();
    assert!(log.as_array().unwrap().iter().all(|d| d["status"] == "delivered"), "{log}");
}

#[test]
fn a_rollout_survives_a_restart_of_the_server() {
    let p = project();
    let data = support::instances(&p, "train.csv");
    let s = serve(&p);
    rollout(&p, &s, &["start", "--strategy", "canary", "--candidate", "3", "--steps", "10,100", "--pause", "1h"]);
    let before = status(&s)["rollout"].clone();
    drop(s);
    let s = serve(&p);
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&s)["active"] != true {
        assert!(Instant::now() < deadline, "the rollout was not resumed: {}\n{}", status(&s), s.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = status(&s);
    assert_eq!(after["rollout"], before, "same phase, step and clock");
    assert_eq!((after["candidate"].as_str(), after["weight"].as_u64()), (Some("churn@3"), Some(10)));
    let answered: Vec<String> = data.iter().take(200).map(|r| predict(&s, r, &[])).collect();
    let on_candidate = answered.iter().filter(|v| *v == "churn@3").count();
    assert!((5..50).contains(&on_candidate), "{on_candidate} of 200 at 10%");
    let aborted = rollout(&p, &s, &["abort"]);
    assert_eq!(aborted["last"]["state"]["phase"]["phase"], "aborted");
    // A second rollout can start once the first has ended; the same one cannot run twice.
    rollout(&p, &s, &["start", "--strategy", "shadow", "--candidate", "2"]);
    let endpoint = format!("http://127.0.0.1:{}", s.port);
    let r =
        p.berth(&["rollout", "start", "--strategy", "canary", "--candidate", "3", "--endpoint", &endpoint]).fails(2);
    assert!(r.stderr.contains("already running"), "{}", r.stderr);
}

#[test]
fn blue_green_previews_switches_and_switches_back_instantly() {
    let p = project();
    let data = support::instances(&p, "train.csv");
    let s = serve(&p);
    let st = rollout(&p, &s, &["start", "--strategy", "blue-green", "--candidate", "3"]);
    assert_eq!(st["rollout"]["phase"]["phase"], "preview");
    assert_eq!(predict(&s, &data[0], &[]), "churn@1");
    assert_eq!(predict(&s, &data[0], &[("x-berth-preview", "1")]), "churn@3");
    // The smoke test runs against the preview through the header's route.
    rollout(&p, &s, &["switch"]);
    assert!(data.iter().take(20).all(|r| predict(&s, r, &[]) == "churn@3"));
    rollout(&p, &s, &["back"]);
    assert!(data.iter().take(20).all(|r| predict(&s, r, &[]) == "churn@1"));
    assert_eq!(production(&p), 1, "switching does not move the environment");
    rollout(&p, &s, &["switch"]);
    let done = rollout(&p, &s, &["finish"]);
    assert_eq!(done["last"]["state"]["phase"]["phase"], "promoted");
    assert_eq!(production(&p), 3);
    assert_eq!(predict(&s, &data[0], &[]), "churn@3");
    // Actions out of order are refused with the reason.
    let endpoint = format!("http://127.0.0.1:{}", s.port);
    let r = p.berth(&["rollout", "switch", "--endpoint", &endpoint]).fails(2);
    assert!(r.stderr.contains("no rollout is running"), "{}", r.stderr);
    // An action the server does not know is refused with the ones it does.
    let r = send(s.port, "POST", "/admin/rollout/rewind", b"", &[]);
    assert_eq!(r.status, 404, "{}", r.body);
    let e = r.json()["error"].as_str().unwrap().to_string();
    assert!(e.contains("\"rewind\"") && e.contains("promote, abort, switch, back, finish"), "{e}");
}

#[test]
fn a_rollout_into_a_governed_environment_is_held_to_its_policy_at_start_and_at_promotion() {
    let p = project();
    let mut cfg = std::fs::read_to_string(p.path().join("berth.toml")).unwrap();
    cfg.push_str("\n[environments.production]\nrequire_gates = [\"production\"]\n");
    p.write("berth.toml", cfg.as_bytes());
    let gate = |p: &Project, min: &str| {
        p.write("gates/production.toml", format!("[metrics]\naccuracy = {{ min = {min} }}\n").as_bytes());
        let args = ["validate", "churn@3", "--data", "train.csv", "--gate", "gates/production.toml", "-q"];
        p.berth(&args).code
    };
    let s = serve(&p);
    let endpoint = format!("http://127.0.0.1:{}", s.port);
    let start = ["rollout", "start", "--strategy", "blue-green", "--candidate", "3", "--endpoint", &endpoint];

    // Never gated: refused before anything starts, with what is missing and how to get it.
    let r = p.berth(&start).fails(1);
    assert!(r.stderr.contains("(403)") && r.stderr.contains("gate \"production\" has not run"), "{}", r.stderr);
    assert!(r.stderr.contains("berth validate churn@3 --gate gates/production.toml"), "{}", r.stderr);
    // Gated and failed: refused too.
    assert_eq!(gate(&p, "0.999"), 1);
    let r = p.berth(&start).fails(1);
    assert!(r.stderr.contains("failed"), "{}", r.stderr);
    assert_eq!(status(&s)["active"], false);

    // Passed: it starts. The gate fails again before the finish: the move is refused, production stays.
    assert_eq!(gate(&p, "0.5"), 0);
    p.berth(&start).ok();
    rollout(&p, &s, &["switch"]);
    assert_eq!(gate(&p, "0.999"), 1);
    let r = p.berth(&["rollout", "finish", "--endpoint", &endpoint]).fails(1);
    assert!(r.stderr.contains("policy of production is not met"), "{}", r.stderr);
    assert_eq!(production(&p), 1);
    rollout(&p, &s, &["back"]);
    assert_eq!(gate(&p, "0.5"), 0);
    rollout(&p, &s, &["switch"]);
    let done = rollout(&p, &s, &["finish"]);
    assert_eq!(done["last"]["state"]["phase"]["phase"], "promoted");
    assert_eq!(production(&p), 3);
    let h = p.berth(&["deployments", "churn", "--env", "production", "--json"]).ok().json();
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "rollout");
    assert_eq!(last["gate_reports"].as_array().unwrap().len(), 1, "the passing report is the evidence: {last}");

    // A canary whose candidate loses its gate while it runs passes its analysis but is
    // aborted at the end, with the policy's reason, and production stays.
    // churn@3 is production now; churn@1 is the candidate, gated before it starts.
    p.write("gates/production.toml", b"[metrics]\naccuracy = { min = 0.5 }\n");
    let args = ["validate", "churn@1", "--data", "train.csv", "--gate", "gates/production.toml", "-q"];
    assert_eq!(p.berth(&args).code, 0);
    let canary = ["start", "--strategy", "canary", "--steps", "50,100", "--pause", "1s", "--min-requests", "20"];
    let mut args: Vec<&str> = canary.to_vec();
    args.extend_from_slice(&["--candidate", "1", "--max-psi", "1000"]);
    rollout(&p, &s, &args);
    p.write("gates/production.toml", b"[metrics]\naccuracy = { min = 0.999 }\n");
    let args = ["validate", "churn@1", "--data", "train.csv", "--gate", "gates/production.toml", "-q"];
    assert_eq!(p.berth(&args).code, 1);
    let end = drive(&s, &support::instances(&p, "train.csv"));
    let last = &end["last"]["state"];
    assert_eq!(last["phase"]["phase"], "aborted", "{end}");
    let reason = last["phase"]["reason"].as_str().unwrap();
    assert!(reason.contains("policy of production is not met"), "{reason}");
    assert_eq!(production(&p), 3);
}

#[test]
fn shadow_traffic_is_answered_by_stable_and_compared() {
    let p = project();
    let data = support::instances(&p, "train.csv");
    let s = serve(&p);
    rollout(&p, &s, &["start", "--strategy", "shadow", "--candidate", "2"]);
    for r in data.iter().take(100) {
        assert_eq!(predict(&s, r, &[]), "churn@1", "stable answers every shadowed request");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let shadow = loop {
        let st = status(&s);
        if st["shadow"]["requests"] == 100 {
            break st["shadow"].clone();
        }
        assert!(Instant::now() < deadline, "{st}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(shadow["rows"], 100);
    assert_eq!(shadow["candidate_errors"], 0);
    let agreement = shadow["agreement"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&agreement));
    // The squashed candidate's probabilities sit near 0.5: far from stable's.
    assert!(shadow["mean_abs_diff"].as_f64().unwrap() > 0.1, "{shadow}");
    let done = rollout(&p, &s, &["finish"]);
    assert_eq!(done["last"]["state"]["phase"]["phase"], "ended");
    assert_eq!(production(&p), 1);
}
