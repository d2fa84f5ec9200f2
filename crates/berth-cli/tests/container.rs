//! The `Dockerfile` agrees with the build and the binary: its build stage
//! builds the package that makes the `berth` binary, copies it from where
//! cargo puts it onto the PATH, runs it as its entrypoint as an unprivileged
//! user, and its health check asks the port and path `berth serve` answers
//! on — checked by serving a model with the image's own settings and asking
//! that URL. Where a container engine answers, the image is built and run
//! too; this machine has none, and the test says so.

mod support;

use std::path::Path;
use std::process::Command;

use support::Project;
use support::http::Server;

fn dockerfile() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Dockerfile")).unwrap()
}

/// The instructions of `text`, continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        current.push_str(line.trim_end_matches('\\'));
        current.push(' ');
        if !line.ends_with('\\') {
            let t = current.trim().to_string();
            current.clear();
            if let Some((op, rest)) = t.split_once(' ') {
                out.push((op.to_uppercase(), rest.trim().to_string()));
            }
        }
    }
    out
}

fn one<'a>(ins: &'a [(String, String)], op: &str) -> Vec<&'a str> {
    ins.iter().filter(|(o, _)| o == op).map(|(_, r)| r.as_str()).collect()
}

#[test]
fn the_dockerfile_builds_runs_and_checks_what_the_binary_is() {
    let ins = instructions(&dockerfile());
    let froms = one(&ins, "FROM");
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(froms[0].ends_with("AS build") && froms[1].contains("slim"), "{froms:?}");

    // The build stage builds the binary's package; the binary is called what cargo calls it.
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[[bin]]\nname = \"berth\""), "the binary is `berth`");
    let workdir = one(&ins, "WORKDIR")[0];
    let runs = one(&ins, "RUN");
    assert!(runs.iter().any(|r| r.contains("cargo build --release --locked -p berth-cli")), "{runs:?}");
    let copy = one(&ins, "COPY").into_iter().find(|c| c.starts_with("--from=build")).expect("a COPY from the build");
    assert_eq!(copy, format!("--from=build {workdir}/target/release/berth /usr/local/bin/berth"));
    assert_eq!(one(&ins, "ENTRYPOINT"), ["[\"berth\"]"]);
    let user = one(&ins, "USER");
    assert!(user.len() == 1 && user[0] != "root" && user[0] != "0", "runs unprivileged: {user:?}");

    // The health check asks the port the image serves on, at the path serve answers.
    let addr = one(&ins, "ENV").into_iter().find_map(|e| e.strip_prefix("BERTH_SERVE_ADDR=")).expect("the address");
    let port = addr.rsplit(':').next().unwrap();
    assert_eq!(one(&ins, "EXPOSE"), [port]);
    let health = one(&ins, "HEALTHCHECK")[0];
    let url = format!("http://127.0.0.1:{port}/readyz");
    assert!(health.contains(&format!("curl -fsS {url}")), "{health}");

    // What the image runs, run here: its settings, a model, the health check's path.
    let p = Project::new();
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "500", "--seed", "3", "-o", "train.csv"]).ok();
    let train = ["train", "--data", "train.csv", "--model-type", "classification", "--target", "target", "-o", "m"];
    p.berth(&[&train[..], &["--algorithm", "logistic_regression", "-q"]].concat()).ok();
    let p = p.with_env("BERTH_ADMIN_TOKEN", "an-admin-token-of-at-least-32-characters");
    let refused =
        p.berth(&["serve", "--model", "m/model.berth", "--addr", addr, "--admin-token-env", "NOT_SET"]).fails(2);
    assert!(refused.stderr.contains("NOT_SET is not set"), "{}", refused.stderr);
    // Beyond loopback serve insists on an admin token; the image's BERTH_ADMIN_TOKEN is it.
    let s = Server::spawn(&p, &["serve", "--model", "m/model.berth", "--addr", "127.0.0.1:0"]);
    s.wait_health("the model loaded", |code, _| code == 200);
    let ready = support::http::get(s.port, "/readyz");
    assert_eq!(ready.status, 200, "{}", ready.body);

    let engine = Command::new("docker").args(["info"]).output();
    if !engine.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("no container engine answers here (docker info failed): the image is not built in this run");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = Command::new("docker").args(["build", "-q", "-t", "berth-test"]).arg(&root).output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let run = Command::new("docker").args(["run", "--rm", "berth-test", "--version"]).output().unwrap();
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("berth "), "{run:?}");
}
