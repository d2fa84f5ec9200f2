//! Promotion under policies, approvals, rollback, `berth check` and the
//! notifications they send, through the real binary on the embedded default.

mod support;

use support::http::receiver;
use support::{Project, Run};

const TRAIN: &str = r#"
model_type = "classification"
algorithm = "logistic_regression"
target = "target"
seed = 7
data = "train.csv"
"#;

const POLICY: &str = r#"
[environments.staging]
require_gates = ["staging"]

[environments.production]
require_gates = ["production"]
approvals = 1
allowed_branches = ["main"]
promoters = ["ci", "alice"]
max_degradation = 0.2
"#;

fn as_user(p: &Project, user: &str, args: &[&str]) -> Run {
    p.command(args).env("BERTH_USER", user).output().unwrap().into()
}

/// A project with a policy; `alice` pushes versions built on `main` unless told otherwise.
fn project(extra_config: &str) -> Project {
    let p = Project::new();
    let mut cfg = std::fs::read_to_string(p.path().join("berth.toml")).unwrap();
    cfg.push_str(POLICY);
    cfg.push_str(extra_config);
    p.write("berth.toml", cfg.as_bytes());
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "1500", "--seed", "1", "-o", "train.csv"]).ok();
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "1500", "--seed", "1", "-o", "test.csv"]).ok();
    p.write("train.toml", TRAIN.as_bytes());
    p.write("gates/production.toml", b"[metrics]\naccuracy = { min = 0.6 }\n");
    p.write("gates/staging.toml", b"[metrics]\naccuracy = { min = 0.5 }\n");
    p
}

/// Trains and pushes a version as alice from `branch`.
fn push(p: &Project, branch: &str) {
    p.command(&["train", "--config", "train.toml", "-o", "out", "--push", "churn"])
        .env("BERTH_USER", "alice")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REF_NAME", branch)
        .output()
        .map(Run::from)
        .unwrap()
        .ok();
}

fn validate(p: &Project, reference: &str, gate: &str) {
    as_user(p, "ci", &["validate", reference, "--data", "test.csv", "--gate", &format!("gates/{gate}.toml")]).ok();
}

fn missing(j: &serde_json::Value) -> Vec<String> {
    j["missing"].as_array().unwrap().iter().map(|m| m["detail"]["missing"].as_str().unwrap().to_string()).collect()
}

#[test]
fn each_missing_requirement_is_refused_with_its_reason_until_the_policy_is_met() {
    let p = project("");
    push(&p, "main");
    // Nothing done yet: the gate has not run and nobody approved.
    let r = as_user(&p, "alice", &["promote", "churn@1", "--to", "production", "--json"]).fails(1);
    assert_eq!(missing(&r.json()), ["gate_not_run", "approvals"]);
    let text = as_user(&p, "alice", &["promote", "churn@1", "--to", "production"]).fails(1).stdout;
    assert!(text.contains("gate \"production\" has not run on this version"), "{text}");
    assert!(text.contains("berth validate churn@1 --gate gates/production.toml"), "{text}");
    assert!(text.contains("0 of 1 approvals"), "{text}");

    // A failing gate is named with its data.
    p.write("gates/production.toml", b"[metrics]\naccuracy = { min = 0.999 }\n");
    as_user(&p, "ci", &["validate", "churn@1", "--data", "test.csv", "--gate", "gates/production.toml"]).fails(1);
    let j = as_user(&p, "alice", &["promote", "churn@1", "--to", "production", "--json"]).fails(1).json();
    assert_eq!(j["missing"][0]["detail"]["missing"], "gate_failed");
    assert!(j["missing"][0]["message"].as_str().unwrap().contains("failed on test.csv"), "{j}");
    assert_eq!(j["missing"][0]["detail"]["failed"][0], "metric.accuracy");
    p.write("gates/production.toml", b"[metrics]\naccuracy = { min = 0.6 }\n");
    validate(&p, "churn@1", "production");

    // Four eyes: the publisher cannot approve; someone else can.
    let r = as_user(&p, "alice", &["approve", "churn@1", "--env", "production"]).fails(1);
    assert!(r.stderr.contains("alice published churn@1, so cannot approve it"), "{}", r.stderr);
    let j = as_user(&p, "bob", &["approve", "churn@1", "--env", "production", "--comment", "ok", "--json"]).ok().json();
    assert_eq!((j["new"].as_bool(), j["counted"].as_u64(), j["needed"].as_u64()), (Some(true), Some(1), Some(1)));
    let j = as_user(&p, "bob", &["approve", "churn@1", "--env", "production", "--json"]).ok().json();
    assert_eq!(j["new"], false, "approving twice keeps one approval");

    // Only promoters may promote.
    let j = as_user(&p, "mallory", &["promote", "churn@1", "--to", "production", "--json"]).fails(1).json();
    assert_eq!(missing(&j), ["promoter"]);

    let j =
        as_user(&p, "alice", &["promote", "churn@1", "--to", "production", "--reason", "first", "--json"]).ok().json();
    assert_eq!((j["promoted"].as_bool(), j["from"].is_null()), (Some(true), true));
    let again = as_user(&p, "alice", &["promote", "churn@1", "--to", "production"]).ok().stdout;
    assert!(again.contains("already points at churn@1"), "{again}");

    // A version built on another branch is refused for production.
    push(&p, "feature/x");
    validate(&p, "churn@2", "production");
    as_user(&p, "bob", &["approve", "churn@2", "--env", "production"]).ok();
    let j = as_user(&p, "ci", &["promote", "churn@2", "--to", "production", "--json"]).fails(1).json();
    assert_eq!(missing(&j), ["branch"]);
    assert!(j["missing"][0]["message"].as_str().unwrap().contains("\"feature/x\""));

    // Staging only needs its gate; an environment without a policy takes anything.
    let j = as_user(&p, "dave", &["promote", "churn@2", "--to", "staging", "--json"]).fails(1).json();
    assert_eq!(missing(&j), ["gate_not_run"]);
    validate(&p, "churn@2", "staging");
    as_user(&p, "dave", &["promote", "churn@2", "--to", "staging"]).ok();
    // berth.toml defines environments, so a new one is an explicit act.
    let r = as_user(&p, "dave", &["promote", "churn@2", "--to", "qa"]).fails(2);
    assert!(r.stderr.contains("unknown environment \"qa\"") && r.stderr.contains("--new-env"), "{}", r.stderr);
    as_user(&p, "dave", &["promote", "churn@2", "--to", "qa", "--new-env"]).ok();
    as_user(&p, "dave", &["promote", "churn@1", "--to", "qa"]).ok();

    let list = p.berth(&["approvals", "churn", "--env", "production", "--json"]).ok().json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let h = p.berth(&["deployments", "churn", "--env", "production", "--json"]).ok().json();
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0]["kind"].as_str(), h[0]["actor"].as_str(), h[0]["reason"].as_str()),
        (Some("promote"), Some("alice"), Some("first"))
    );
    let digest = h[0]["gate_reports"][0].as_str().unwrap();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert_eq!(h[0]["evidence"]["approvals"][0]["approver"], "bob");
}

#[test]
fn a_governed_environment_moves_only_through_its_policy() {
    let p = project("");
    push(&p, "main");
    // The production gate fails on churn@1, and the user may not promote.
    p.write("gates/production.toml", b"[metrics]\naccuracy = { min = 0.999 }\n");
    as_user(&p, "ci", &["validate", "churn@1", "--data", "test.csv", "--gate", "gates/production.toml"]).fails(1);
    let aliases = |p: &Project| p.berth(&["show", "churn@1", "--json"]).ok().json()["aliases"].clone();

    // `alias set` and `alias rm` are no side door into a governed environment.
    let r = as_user(&p, "mallory", &["alias", "set", "churn", "production", "1", "--reason", "bypass"]).fails(2);
    assert!(r.stderr.contains("berth promote churn@1 --to production"), "{}", r.stderr);
    let r = as_user(&p, "alice", &["alias", "set", "churn", "staging", "1"]).fails(2);
    assert!(r.stderr.contains("environment with a policy"), "{}", r.stderr);
    as_user(&p, "alice", &["alias", "rm", "churn", "production"]).fails(2);
    assert_eq!(aliases(&p), serde_json::json!([]));
    // A plain alias (no policy) still moves freely.
    as_user(&p, "mallory", &["alias", "set", "churn", "champion", "1"]).ok();
    as_user(&p, "mallory", &["alias", "rm", "churn", "champion"]).ok();

    // A typo of an environment is refused with a suggestion, for every command that names one.
    let r = as_user(&p, "alice", &["promote", "churn@1", "--to", "prodution"]).fails(2);
    assert!(r.stderr.contains("unknown environment \"prodution\""), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean production?"), "{}", r.stderr);
    let r = as_user(&p, "bob", &["approve", "churn@1", "--env", "nosuchenv"]).fails(2);
    assert!(r.stderr.contains("unknown environment \"nosuchenv\""), "{}", r.stderr);
    let r = as_user(&p, "bob", &["approve", "churn@1", "--env", "stagign"]).fails(2);
    assert!(r.stderr.contains("did you mean staging?"), "{}", r.stderr);
    as_user(&p, "alice", &["rollback", "churn", "--env", "prodution"]).fails(2);
    p.write("live.json", b"{\"accuracy\": 0.1}");
    as_user(&p, "ci", &["check", "churn", "--env", "prodution", "--metrics", "live.json"]).fails(2);
    as_user(&p, "ci", &["deployments", "churn", "--env", "prodution"]).fails(2);
    assert!(p.berth(&["approvals", "--json"]).ok().json().as_array().unwrap().is_empty());
    assert_eq!(aliases(&p), serde_json::json!([]));
    let log = p.berth(&["log", "--json"]).ok().json();
    let moved: Vec<&str> = log.as_array().unwrap().iter().filter_map(|e| e["after"]["alias"].as_str()).collect();
    assert_eq!(moved, ["champion", "champion"], "only the plain alias moved: {log}");
}

#[test]
fn rollback_goes_to_the_previous_healthy_version_and_check_rolls_back_on_degradation() {
    let p = project("");
    for _ in 0..3 {
        push(&p, "main");
    }
    for n in 1..=3 {
        let r = format!("churn@{n}");
        validate(&p, &r, "production");
        as_user(&p, "bob", &["approve", &r, "--env", "production"]).ok();
        as_user(&p, "ci", &["promote", &r, "--to", "production"]).ok();
    }
    // Not a promoter: refused.
    let r = as_user(&p, "mallory", &["rollback", "churn", "--env", "production"]).fails(1);
    assert!(r.stderr.contains("may not roll back production"), "{}", r.stderr);
    let j = as_user(&p, "alice", &["rollback", "churn", "--env", "production", "--reason", "errors up", "--json"])
        .ok()
        .json();
    assert_eq!((j["deployment"]["from"].as_u64(), j["deployment"]["to"].as_u64()), (Some(3), Some(2)));

    // Healthy live metrics: nothing moves. The gate measured accuracy on test.csv.
    let show = p.berth(&["show", "churn@2", "--json"]).ok().json();
    assert_eq!(show["gates"][0]["gate"], "production");
    let gate_report = p
        .berth(&[
            "validate",
            "churn@2",
            "--data",
            "test.csv",
            "--gate",
            "gates/production.toml",
            "--no-store",
            "--json",
        ])
        .ok()
        .json();
    let acc = gate_report["metrics"]["accuracy"].as_f64().unwrap();
    p.write("live.json", format!("{{\"accuracy\": {}, \"requests\": 1000}}", acc * 0.9).as_bytes());
    let j =
        as_user(&p, "ci", &["check", "churn", "--env", "production", "--metrics", "live.json", "--json"]).ok().json();
    assert_eq!((j["degraded"].as_bool(), j["version"].as_u64()), (Some(false), Some(2)));
    assert_eq!(j["not_compared"][0], "requests");

    // 25% worse: rolled back automatically, past 3 (left by a rollback) to 1.
    p.write("live.json", format!("{{\"accuracy\": {}}}", acc * 0.75).as_bytes());
    let dry =
        as_user(&p, "ci", &["check", "churn", "--env", "production", "--metrics", "live.json", "--dry-run", "--json"])
            .fails(1)
            .json();
    assert!(dry["rollback"].is_null());
    let j = as_user(&p, "ci", &["check", "churn", "--env", "production", "--metrics", "live.json", "--json"])
        .fails(1)
        .json();
    assert_eq!((j["rollback"]["from"].as_u64(), j["rollback"]["to"].as_u64()), (Some(2), Some(1)));
    assert_eq!(j["rollback"]["kind"], "auto_rollback");
    assert!(j["rollback"]["reason"].as_str().unwrap().contains("accuracy fell"), "{j}");

    let h = p.berth(&["deployments", "churn", "--env", "production", "--json"]).ok().json();
    let kinds: Vec<_> = h.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["promote", "promote", "promote", "rollback", "auto_rollback"]);
    // Explicitly back to 3.
    as_user(&p, "alice", &["rollback", "churn", "--env", "production", "--to", "3"]).ok();
    let text = p.berth(&["deployments", "churn"]).ok().stdout;
    assert!(text.contains("auto_rollback") && text.contains("errors up"), "{text}");
    // Metrics the gate never measured are an error, not a verdict.
    p.write("live.json", b"{\"latency\": 3}");
    as_user(&p, "ci", &["check", "churn", "--env", "production", "--metrics", "live.json"]).fails(2);
}

#[test]
fn promotions_notify_a_signed_webhook_and_the_deliveries_are_logged() {
    let (url, got) = receiver(1);
    let notifier = format!(
        "\n[[notifiers]]\nname = \"audit\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"HOOK_SECRET\"\n\
         events = [\"promotion.*\", \"rollback\"]\nbackoff_ms = 20\n\n\
         [[notifiers]]\nname = \"team\"\nkind = \"slack\"\nurl_env = \"UNSET_SLACK_URL\"\n"
    );
    let p = project(&notifier).with_env("HOOK_SECRET", "hush");
    push(&p, "main");
    validate(&p, "churn@1", "staging");
    as_user(&p, "ci", &["promote", "churn@1", "--to", "staging"]).ok();
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "the first answer was a 500, so it was sent twice");
    let (headers, body) = &got[1];
    let header = |k: &str| {
        headers.iter().find_map(|h| h.to_ascii_lowercase().strip_prefix(&format!("{k}: ")).map(str::to_string)).unwrap()
    };
    assert_eq!(header("x-berth-event"), "promotion.done");
    let ts = headers.iter().find_map(|h| h.strip_prefix("x-berth-timestamp: ")).unwrap();
    let sig = headers.iter().find_map(|h| h.strip_prefix("x-berth-signature: ")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(berth_deploy::notify::verify("hush", ts, body.as_bytes(), sig, now, std::time::Duration::from_secs(300)));
    let event: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (event["model"].as_str(), event["env"].as_str(), event["actor"].as_str()),
        (Some("churn"), Some("staging"), Some("ci"))
    );

    let log = p.berth(&["notifications", "--json"]).ok().json();
    let log = log.as_array().unwrap();
    let line = |notifier: &str, event: &str| {
        log.iter()
            .find(|d| d["notifier"] == notifier && d["event"] == event)
            .unwrap_or_else(|| panic!("{notifier} {event}: {log:?}"))
    };
    let audit = line("audit", "promotion.done");
    assert_eq!((audit["status"].as_str(), audit["attempts"].as_u64()), (Some("delivered"), Some(2)));
    // The Slack notifier's URL variable is unset: every event it wants fails, and nothing else does.
    let slack = line("team", "version.pushed");
    assert_eq!(slack["status"], "failed");
    assert_eq!(slack["last_error"], "$UNSET_SLACK_URL is not set");
    assert!(line("team", "gate.passed")["status"] == "failed");
    let text = p.berth(&["notifications"]).ok().stdout;
    assert!(text.contains("delivered") && text.contains("audit"), "{text}");
}

#[test]
fn the_quickstart_runs_the_whole_loop() {
    let p = Project::empty();
    let dir = p.path().join("qs");
    let r = p.berth(&["quickstart", "--dir", dir.to_str().unwrap(), "--json"]).ok();
    let j = r.json();
    assert_eq!((j["staging"].as_u64(), j["blocked"].as_u64(), j["production"].as_u64()), (Some(1), Some(3), Some(1)));
    assert_eq!((j["smoke_passed"].as_bool(), j["fsck_ok"].as_bool()), (Some(true), Some(true)));
    for step in ["[1]", "[2]", "[3]", "[4]", "[5]", "gate production: FAILED", "rolled back automatically"] {
        assert!(r.stderr.contains(step), "{step} missing from:\n{}", r.stderr);
    }
    // The project it leaves behind works with the ordinary commands.
    let h = p.command(&["deployments", "churn", "--env", "production", "--json"]).current_dir(&dir).output().unwrap();
    let h: serde_json::Value = serde_json::from_slice(&h.stdout).unwrap();
    let kinds: Vec<_> = h.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["promote", "promote", "auto_rollback"]);
}
