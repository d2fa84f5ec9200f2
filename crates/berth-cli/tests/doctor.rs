//! `berth doctor` on a repository that has every problem it looks for — a
//! 60 MB model in git's history, a file in Git LFS, a model file .gitignore
//! lets through, a production policy without gates or approvals — reports
//! each with its fix and exits 1; and `berth import-git` turns five commits
//! of a model file into five versions with those commits' lineage and bytes,
//! importing nothing twice. Git runs with a configuration of its own.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::Project;

fn git(p: &Project, args: &[&str]) -> String {
    support::git(p.path(), args)
}

fn codes(report: &Value, severity: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn doctor_reports_every_finding_with_its_fix_and_fails_on_errors() {
    let p = Project::new();
    p.configure("\n[environments.production]\napprovals = 0\n");
    git(&p, &["init", "-q", "-b", "main"]);
    git(&p, &["config", "--global", "user.name", "Tess Ter"]);
    // A 60 MB model committed, then removed: in every clone forever.
    p.write("models/big.onnx", &support::noise(3, 60 << 20));
    git(&p, &["add", "models/big.onnx"]);
    git(&p, &["commit", "-q", "-m", "the model"]);
    git(&p, &["rm", "-q", "models/big.onnx"]);
    git(&p, &["commit", "-q", "-m", "out of the tree, not out of history"]);
    // A file in Git LFS.
    git(&p, &["lfs", "install", "--local"]);
    git(&p, &["lfs", "track", "*.bin"]);
    p.write("weights.bin", &support::noise(4, 1000));
    git(&p, &["add", ".gitattributes", "weights.bin"]);
    git(&p, &["commit", "-q", "-m", "lfs"]);
    // A model file nothing ignores.
    p.write("scratch/model.pkl", b"pickled");

    let r = p.berth(&["doctor", "--json"]).fails(1);
    let report = r.json();
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(codes(&report, "error"), ["git.model_in_history"], "{report}");
    let warnings = codes(&report, "warning");
    for want in ["git.not_ignored", "policy.no_gates", "policy.no_approvals"] {
        assert!(warnings.iter().any(|w| w == want), "{want} missing: {report}");
    }
    let info = codes(&report, "info");
    assert!(info.contains(&"git.lfs".to_string()) && info.contains(&"berth.fsck".to_string()), "{report}");
    let big = &report["git"]["largest_models"][0];
    assert_eq!(
        (big["path"].as_str(), big["size"].as_u64(), big["at_head"].as_bool()),
        (Some("models/big.onnx"), Some(60 << 20), Some(false))
    );
    let history = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "git.model_in_history").unwrap();
    assert!(history["fix"].as_str().unwrap().contains("berth import-git 'models/*.onnx'"), "{history}");
    let lfs = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "git.lfs").unwrap();
    assert!(lfs["message"].as_str().unwrap().contains("$5 a month per 50 GB"), "{lfs}");

    let text = p.berth(&["doctor"]).fails(1);
    assert!(
        text.stdout.contains("error: models/big.onnx (60.0 MiB) is a model file in git's history"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("fix: echo '/scratch/model.pkl' >> .gitignore"), "{}", text.stdout);

    // Fixed: the history has no models, production is guarded: exit 0.
    let clean = Project::new();
    clean.configure("\n[environments.production]\nrequire_gates = [\"quality\"]\napprovals = 1\n");
    git(&clean, &["init", "-q", "-b", "main"]);
    clean.write("train.py", b"print('train')\n");
    git(&clean, &["add", "train.py"]);
    git(&clean, &["commit", "-q", "-m", "code only"]);
    let ok = clean.berth(&["doctor", "--json"]).ok().json();
    assert_eq!(
        (ok["ok"].as_bool(), codes(&ok, "error").len(), codes(&ok, "warning").len()),
        (Some(true), 0, 0),
        "{ok}"
    );
}

#[test]
fn import_git_makes_a_version_of_each_commit_with_its_lineage_and_bytes() {
    let p = Project::new();
    git(&p, &["init", "-q", "-b", "main"]);
    let mut commits = Vec::new();
    for i in 0..5u64 {
        p.write("models/churn.joblib", &support::noise(i + 10, 4096 + i as usize));
        git(&p, &["add", "models/churn.joblib"]);
        git(&p, &["commit", "-q", "-m", &format!("retrain {i}")]);
        commits.push(git(&p, &["rev-parse", "HEAD"]));
        p.write("notes.txt", format!("{i}").as_bytes());
        git(&p, &["add", "notes.txt"]);
        git(&p, &["commit", "-q", "-m", "notes, not a model"]);
    }
    let r = p.berth(&["import-git", "models/*.joblib", "--model", "churn", "--json"]).ok().json();
    let made: Vec<&str> = r["commits"].as_array().unwrap().iter().map(|c| c["ref"].as_str().unwrap()).collect();
    assert_eq!(made, ["churn@1", "churn@2", "churn@3", "churn@4", "churn@5"], "{r}");
    assert_eq!(r["rewrite"], "git filter-repo --invert-paths --path-glob 'models/*.joblib'");
    for (i, commit) in commits.iter().enumerate() {
        let v = format!("churn@{}", i + 1);
        let shown = p.berth(&["show", &v, "--json"]).ok().json();
        assert_eq!(shown["lineage"]["git_commit"].as_str(), Some(commit.as_str()), "{shown}");
        assert_eq!(shown["lineage"]["extra"]["git_message"], format!("retrain {i}"), "{shown}");
        assert_eq!(shown["lineage"]["extra"]["git_author"], "Tess Ter <tess@example.com>", "{shown}");
        let out = format!("pulled-{i}");
        p.berth(&["pull", &v, "-o", &out]).ok();
        let pulled = std::fs::read(p.path().join(&out).join("models/churn.joblib")).unwrap();
        let blob = Command::new("git")
            .args(["cat-file", "blob", &format!("{commit}:models/churn.joblib")])
            .current_dir(p.path())
            .output()
            .unwrap()
            .stdout;
        assert!(pulled == blob, "{v} holds the bytes of {commit}");
    }
    let again = p.berth(&["import-git", "models/*.joblib", "--model", "churn", "--json"]).ok().json();
    assert!(again["commits"].as_array().unwrap().iter().all(|c| c["ref"].is_null()), "imported twice: {again}");
    let none = p.berth(&["import-git", "weights/*.pt", "--model", "churn"]).fails(2);
    assert!(none.stderr.contains("no commit") && none.stderr.contains("models/*.joblib"), "{}", none.stderr);
    assert!(Path::new(&p.path().join("models/churn.joblib")).exists(), "the work tree is untouched");

    // --rewrite runs git filter-repo (from the virtualenv .ci/run makes): the files leave
    // every commit of the history; the versions keep their bytes.
    let mut rewrite = p.command(&["import-git", "models/*.joblib", "--model", "churn", "--rewrite"]);
    let path = format!("{}:{}", filter_repo_dir().display(), std::env::var("PATH").unwrap_or_default());
    rewrite.env("PATH", path).env("HOME", p.path().join(".git-home"));
    let r: support::Run = rewrite.output().unwrap().into();
    let r = r.ok();
    assert!(r.stdout.contains("5 version(s)") || r.stdout.contains("0 version(s)"), "{}", r.stdout);
    assert_eq!(git(&p, &["log", "--all", "--format=%H", "--", "models/churn.joblib"]), "", "gone from history");
    assert_eq!(git(&p, &["log", "--all", "--oneline"]).lines().count(), 5, "the other commits stay");
    let out = p.path().join("after-rewrite");
    p.berth(&["pull", "churn@5", "-o", out.to_str().unwrap()]).ok();
    assert!(out.join("models/churn.joblib").exists(), "the version still holds the file");
}

/// Where `git-filter-repo` is: beside the Python `.ci/run` installs for these tests.
fn filter_repo_dir() -> std::path::PathBuf {
    let python = std::env::var_os("BERTH_CI_PYTHON").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default();
        home.join(".cache/berth/venv-ci/bin/python")
    });
    let dir = python.parent().map(Path::to_path_buf).unwrap_or_default();
    assert!(dir.join("git-filter-repo").is_file(), "git-filter-repo is not in {}; run .ci/run", dir.display());
    dir
}
