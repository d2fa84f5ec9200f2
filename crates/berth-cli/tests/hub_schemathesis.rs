//! The hub against its own OpenAPI document: schemathesis generates requests
//! from `/api/v1/openapi.json` (valid and invalid ones) and checks every
//! answer against the document — no server errors, every status and body as
//! documented, invalid input refused, valid input accepted. `.ci/run`
//! installs the pinned schemathesis into a virtualenv and names it in
//! `BERTH_SCHEMATHESIS`.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::Project;
use support::http::Server;

/// The `st` executable: `BERTH_SCHEMATHESIS`, else the virtualenv `.ci/run` makes.
fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_SCHEMATHESIS") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "BERTH_SCHEMATHESIS names {}, which is not a file; run .ci/run to install it",
            p.display()
        );
        return p;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let venv = home.join(".cache/berth/venv/bin/st");
    assert!(
        venv.is_file(),
        "schemathesis is not installed: neither BERTH_SCHEMATHESIS nor {} exists; run .ci/run, which installs it",
        venv.display()
    );
    venv
}

/// What schemathesis is told beyond the command line.
///
/// - Revoking tokens is left out: schemathesis learns token ids from
///   `GET /tokens` and would revoke the one it runs with.
/// - A request can be schema-valid and still refused (422) for what the
///   registry holds — an environment the policy does not define (policies
///   the run itself applies), a blob or manifest the upload did not begin
///   with, a model a server cannot follow, a gate report that is an object
///   but not a report (its schema is the gate's own, described loosely), a
///   monitor report about another version, live metrics the gate never
///   measured, a time range that ends before
///   it starts, a log segment whose bytes are not a Parquet file; for these operations 422 counts as an answer, not a rejection of
///   valid data.
const CONFIG: &str = r#"
[[operations]]
include-operation-id = "revokeToken"
enabled = false

[[operations]]
include-operation-id = ["promote", "rollback", "seedRollback", "approveVersion", "listDeployments", "putBlob", "commitUpload", "storeGateReport", "checkServable", "rolloutAllowed", "rolloutPromoted", "rolloutAborted", "recordMonitorReport", "seedPerformance", "listMonitorReports", "checkLive", "putLogSegment"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"#;

/// How long the run may take before it is stopped and the test fails.
const DEADLINE: Duration = Duration::from_secs(300);

#[test]
fn the_hub_answers_as_its_openapi_document_says() {
    let st = schemathesis();
    let p = Project::new();
    p.write("model.txt", b"a model");
    p.berth(&["push", "model.txt", "--model", "churn"]).ok();
    p.berth(&["alias", "set", "churn", "staging", "1"]).ok();
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();
    let hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let url = format!("http://127.0.0.1:{}/api/v1/openapi.json", hub.port);
    let config = p.write("schemathesis.toml", CONFIG.as_bytes());
    let log_path = p.path().join("schemathesis.log");
    let log = std::fs::File::create(&log_path).unwrap();

    let started = Instant::now();
    let mut child = Command::new(&st)
        .arg("--config-file")
        .arg(&config)
        // One worker: CPython 3.11's parser is not safe to enter from two threads at
        // once, which hypothesis does when it describes lambdas (an internal error
        // "AST constructor recursion depth mismatch", not a finding about the hub).
        .args(["run", &url, "--checks", "all", "--max-examples", "25", "--seed", "1", "--workers", "1"])
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args(["--request-timeout", "30", "--output-sanitize", "false"])
        .arg("--report-dir")
        .arg(p.path().join("schemathesis-report"))
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", st.display()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    match status {
        None => panic!("schemathesis ran over {DEADLINE:?} and was stopped:\n{output}"),
        Some(s) => assert!(
            s.success(),
            "schemathesis found failures ({s}, {:.0?}):\n{output}\nhub log:\n{}",
            started.elapsed(),
            hub.log()
        ),
    }
    assert!(output.contains("passed"), "schemathesis reported nothing:\n{output}");
    assert!(!hub.log().contains("panicked"), "the hub panicked:\n{}", hub.log());
}
