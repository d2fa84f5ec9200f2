//! `berth ci init` tested by running what it writes: the generated GitHub
//! workflow and GitLab pipeline are checked against their published schemas
//! (check-jsonschema's vendored copies), then every shell step of every job
//! runs in order in a git repository with the real binary (`ci_run.py`, the
//! CI's runner stood in for, with the CI's output files and variables). A
//! good model goes train → gate → staging (smoke-tested against a real
//! `berth serve churn@staging`, waiting for it to swap the new version in) and stops at
//! production, whose policy wants an approval; a worse model on a pull
//! request fails the gate, and the comment posted is the gate's Markdown
//! report. Writing the file again leaves it, an edited file is kept without
//! --force. `.ci/run` installs the runner's Python (PyYAML, check-jsonschema)
//! and names it in `BERTH_CI_PYTHON`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::Project;
use support::http::Server;

const POLICY: &str = r#"
[environments.staging]
require_gates = ["quality"]

[environments.production]
require_gates = ["quality"]
approvals = 1
"#;

const TRAIN: &str = r#"model_type = "classification"
algorithm = "logistic_regression"
target = "target"
data = "train.csv"
seed = 1
"#;

/// A config that cannot learn: one feature, a handful of rows.
const WORSE: &str = r#"model_type = "classification"
algorithm = "logistic_regression"
target = "target"
features = ["f0"]
data = "tiny.csv"
seed = 1
"#;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_CI_PYTHON") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "BERTH_CI_PYTHON names {}, which is not a file; run .ci/run", p.display());
        return p;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let venv = home.join(".cache/berth/venv-ci/bin/python");
    assert!(venv.is_file(), "neither BERTH_CI_PYTHON nor {} exists; run .ci/run, which installs it", venv.display());
    venv
}

fn git(dir: &Path, args: &[&str]) {
    support::git(dir, args);
}

/// A berth project in a git repository: data, a training config, a gate, a policy.
fn repository() -> Project {
    let p = Project::new();
    p.configure(POLICY);
    git(p.path(), &["init", "-q", "-b", "main"]);
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "3000", "--seed", "1", "-o", "all.csv"]).ok();
    let all = std::fs::read_to_string(p.path().join("all.csv")).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    let (head, body) = (lines[0], &lines[1..]);
    let csv = |rows: &[&str]| format!("{head}\n{}\n", rows.join("\n"));
    p.write("train.csv", csv(&body[..2000]).as_bytes());
    p.write("test.csv", csv(&body[2000..]).as_bytes());
    p.write("tiny.csv", csv(&body[..12]).as_bytes());
    p.write("train.toml", TRAIN.as_bytes());
    p.write("gates/quality.toml", b"target = \"target\"\n[metrics]\naccuracy = { min = 0.75 }\n");
    git(p.path(), &["add", "-A"]);
    git(p.path(), &["commit", "-q", "-m", "a model and its gate"]);
    p
}

/// What staging serves before the pipeline runs: churn@1, gated and promoted.
fn staging_server(p: &Project) -> Server {
    p.berth(&["train", "--config", "train.toml", "-o", "model", "--push", "churn"]).ok();
    p.berth(&["validate", "churn@1", "--gate", "gates/quality.toml", "--data", "test.csv"]).ok();
    p.berth(&["promote", "churn@1", "--to", "staging"]).ok();
    let s = Server::start(p, &["churn@staging", "--poll", "300ms"]);
    s.wait_health("churn@1 loaded", |code, _| code == 200);
    s
}

/// A directory for PATH holding `berth` and a `gh` that records the pull
/// request comment it is asked to post.
fn tools(p: &Project) -> PathBuf {
    let bin = p.path().join(".tools");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(support::bin(), bin.join("berth")).unwrap();
    let gh = bin.join("gh");
    let record = p.path().join(".gh-comment");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\n[ \"$1 $2\" = \"pr comment\" ] || {{ echo \"gh $*: not a comment\" >&2; exit 2; }}\n\
             [ \"$4\" = \"--body-file\" ] || exit 2\necho \"$3\" > {0}.pr && cp \"$5\" {0}\n",
            record.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&gh).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&gh, perms).unwrap();
    bin
}

fn check_schema(file: &Path, schema: &str) {
    let out =
        Command::new(python()).args(["-m", "check_jsonschema", "--builtin-schema", schema]).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "{} does not match {schema}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the pipeline with `ci_run.py`; the result per job.
fn run(p: &Project, kind: &str, context: Value) -> Value {
    let file = if kind == "github" { ".github/workflows/berth.yml" } else { ".gitlab-ci.yml" };
    let tools = tools_path(p);
    p.write(".ci-context.json", context.to_string().as_bytes());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ci_run.py");
    let path = format!("{}:{}", tools.display(), std::env::var("PATH").unwrap_or_default());
    let mut c = Command::new(python());
    c.arg(&script).arg(kind).arg(p.path().join(file)).arg(p.path()).arg(p.path().join(".ci-context.json"));
    c.arg(p.path().join(".ci-result.json")).env("PATH", path);
    for (k, v) in &p.env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "the runner failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(p.path().join(".ci-result.json")).unwrap()).unwrap()
}

fn tools_path(p: &Project) -> PathBuf {
    let bin = p.path().join(".tools");
    if bin.exists() { bin } else { tools(p) }
}

fn status(result: &Value, job: &str) -> String {
    result[job]["status"].as_str().unwrap_or("absent").to_string()
}

/// Everything a job printed.
fn printed(result: &Value, job: &str) -> String {
    result[job]["steps"].as_array().into_iter().flatten().filter_map(|s| s["output"].as_str()).collect()
}

#[test]
fn the_github_workflow_runs_the_road_to_production() {
    let p = repository();
    let init = ["ci", "init", "github", "--model", "churn", "--image", "ghcr.io/acme/churn-server"];
    let wrote = p.berth(&init).ok();
    assert!(wrote.stdout.contains("wrote .github/workflows/berth.yml"), "{}", wrote.stdout);
    assert!(wrote.stdout.contains("wrote Dockerfile.berth"), "{}", wrote.stdout);
    let image = std::fs::read_to_string(p.path().join("Dockerfile.berth")).unwrap();
    for want in ["cargo install --locked berth-cli --version", "USER berth", "ENTRYPOINT [\"berth\"]", "/readyz"] {
        assert!(image.contains(want), "{want} missing:\n{image}");
    }
    let file = p.path().join(".github/workflows/berth.yml");
    check_schema(&file, "vendor.github-workflows");
    git(p.path(), &["add", "-A"]);
    git(p.path(), &["commit", "-q", "-m", "the pipeline"]);

    // Written again: unchanged. Edited: kept, a diff shown, replaced with --force.
    let again = p.berth(&init).ok();
    assert!(again.stdout.contains("unchanged .github/workflows/berth.yml"), "{}", again.stdout);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("name: berth\n", "name: our pipeline\n")).unwrap();
    let kept = p.berth(&init).fails(2);
    assert!(kept.stderr.contains("was edited") && kept.stderr.contains("--force"), "{}", kept.stderr);
    let diff = p.berth(&[&init[..], &["--dry-run"]].concat()).ok();
    assert!(diff.stdout.contains("- name: our pipeline") && diff.stdout.contains("+ name: berth"), "{}", diff.stdout);
    p.berth(&[&init[..], &["--force"]].concat()).ok();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    // A push to main: train, gate, staging (smoke-tested), production refused for want of approval.
    let staging = staging_server(&p);
    // The image job builds with docker: run where an engine answers, off where none does.
    let engine = Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success());
    let context = json!({
        "event": "push",
        "github_event": {"head_commit": {"message": "retrain"}},
        "vars": {"BERTH_STAGING_URL": format!("http://127.0.0.1:{}", staging.port),
                 "BERTH_BUILD_IMAGE": if engine { "true" } else { "false" }},
        "secrets": {"BERTH_TOKEN": "", "BERTH_HUB_URL": ""},
    });
    let r = run(&p, "github", context.clone());
    assert_eq!(status(&r, "train"), "success", "{}", printed(&r, "train"));
    assert_eq!(r["train"]["outputs"]["ref"], "churn@2", "{r}");
    assert_eq!(status(&r, "gate"), "success", "{}", printed(&r, "gate"));
    assert!(r["gate"]["summary"].as_str().unwrap().contains("accuracy"), "the report is in the job summary");
    assert_eq!(status(&r, "promote-staging"), "success", "{}", printed(&r, "promote-staging"));
    assert!(printed(&r, "promote-staging").contains("serves churn@2"), "{}", printed(&r, "promote-staging"));
    assert_eq!(status(&r, "promote-production"), "failure");
    assert!(printed(&r, "promote-production").contains("approval"), "{}", printed(&r, "promote-production"));
    let shown = p.berth(&["show", "churn@staging", "--json"]).ok().json();
    assert_eq!(shown["version"], 2, "{shown}");
    assert_eq!(
        status(&r, "serving-image"),
        if engine { "success" } else { "skipped" },
        "{}",
        printed(&r, "serving-image")
    );

    // A worse model on a pull request: the gate fails the job, annotates the
    // failed check, and the comment posted is the gate's Markdown report.
    p.write("train.toml", WORSE.as_bytes());
    let pr =
        json!({"event": "pull_request", "github_event": {"pull_request": {"number": 7}}, "vars": {}, "secrets": {}});
    let r = run(&p, "github", pr);
    assert_eq!(r["train"]["outputs"]["ref"], "churn@3", "{r}");
    assert_eq!(status(&r, "gate"), "failure", "{}", printed(&r, "gate"));
    assert!(
        printed(&r, "gate").contains("::error title=gate quality%3A metric.accuracy::accuracy: "),
        "{}",
        printed(&r, "gate")
    );
    assert_eq!(status(&r, "promote-staging"), "skipped");
    let comment = std::fs::read_to_string(p.path().join(".gh-comment")).unwrap();
    let report = std::fs::read_to_string(p.path().join("gate-quality.md")).unwrap();
    assert_eq!(comment, report, "the comment is the Markdown report");
    assert_eq!(std::fs::read_to_string(p.path().join(".gh-comment.pr")).unwrap().trim(), "7");
    assert!(!staging.log().contains("panicked"));
}

/// Accepts one HTTP request on a loopback port, in a thread: its body.
fn one_request() -> (u16, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut len = 0;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        s.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}").unwrap();
        String::from_utf8(body).unwrap()
    });
    (port, h)
}

/// `application/x-www-form-urlencoded` decoded.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn the_gitlab_pipeline_runs_the_road_to_production() {
    let p = repository();
    p.berth(&["ci", "init", "gitlab", "--model", "churn", "--image", "registry.gitlab.com/acme/churn-server"]).ok();
    check_schema(&p.path().join(".gitlab-ci.yml"), "vendor.gitlab-ci");
    let dir = p.path().display().to_string();
    let staging = staging_server(&p);
    let vars = json!({
        "CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_MESSAGE": "retrain",
        "CI_PROJECT_DIR": dir, "CI_PIPELINE_ID": "41",
        "BERTH_STAGING_URL": format!("http://127.0.0.1:{}", staging.port), "BERTH_BUILD_IMAGE": "false",
    });
    let r = run(&p, "gitlab", json!({"variables": vars}));
    assert_eq!(status(&r, "train"), "success", "{}", printed(&r, "train"));
    assert_eq!(r["train"]["dotenv"]["ref"], "churn@2", "{r}");
    assert_eq!(status(&r, "gate"), "success", "{}", printed(&r, "gate"));
    assert_eq!(status(&r, "promote-staging"), "success", "{}", printed(&r, "promote-staging"));
    assert!(printed(&r, "promote-staging").contains("serves churn@2"), "{}", printed(&r, "promote-staging"));
    assert_eq!(status(&r, "promote-production"), "manual", "production waits for someone to start it");
    assert_eq!(status(&r, "serving-image"), "skipped", "no image is built without a container engine");

    // `[skip ci]` starts nothing.
    let skip = json!({"variables": {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main",
                                    "CI_COMMIT_MESSAGE": "docs [skip ci]"}});
    assert_eq!(run(&p, "gitlab", skip), json!({}));

    // A worse model on a merge request: the gate fails; the note posted is the report.
    p.write("train.toml", WORSE.as_bytes());
    let (port, note) = one_request();
    let mr = json!({"variables": {
        "CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_MESSAGE": "try", "CI_PROJECT_DIR": dir,
        "CI_API_V4_URL": format!("http://127.0.0.1:{port}/api/v4"), "CI_PROJECT_ID": "9",
        "CI_MERGE_REQUEST_IID": "3", "BERTH_GITLAB_TOKEN": "glpat-test",
    }});
    let r = run(&p, "gitlab", mr);
    assert_eq!(r["train"]["dotenv"]["ref"], "churn@3", "{r}");
    assert_eq!(status(&r, "gate"), "failure", "{}", printed(&r, "gate"));
    assert_eq!(status(&r, "promote-staging"), "skipped");
    let body = note.join().unwrap();
    let report = std::fs::read_to_string(p.path().join("gate-quality.md")).unwrap();
    assert_eq!(form_decode(body.strip_prefix("body=").unwrap()), report, "the note is the Markdown report");
}
