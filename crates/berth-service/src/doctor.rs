//! `berth doctor`: what stands between a project and shipping models safely,
//! each finding with its severity and the command that fixes it.
//!
//! - git: model-like files tracked now and anywhere in history (the largest
//!   blobs, as `git rev-list --objects --all | git cat-file --batch-check`
//!   lists them), the size of `.git`, Git LFS in use (with the quota's
//!   figures), and whether `.gitignore` keeps the model files in the work
//!   tree out;
//! - berth: the registry and the store answer, every blob is sound (fsck's
//!   summary), and the policy guards the road (an environment without gates,
//!   production without approvals).
//!
//! Git is asked through its own commands: the history scan is two processes
//! in a pipe, which no git library in Rust does faster, and a library would
//! cost the build more than everything else here.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::Berth;
use crate::lineage::git;

/// A model file in history above this is an error: it is in every clone forever.
const BIG_MODEL: u64 = 50 << 20;
/// A `.git` above this is the usual sign it is time to move model files out.
const BIG_GIT_DIR: u64 = 500 << 20;
/// How many of the largest history blobs a report lists.
const LARGEST: usize = 10;

/// The file extensions model files go by.
const MODEL_EXTENSIONS: &[&str] = &[
    "pkl",
    "pickle",
    "joblib",
    "onnx",
    "pt",
    "pth",
    "ckpt",
    "safetensors",
    "h5",
    "hdf5",
    "keras",
    "pb",
    "tflite",
    "berth",
    "model",
    "bin",
    "npy",
    "npz",
    "gguf",
    "mlmodel",
    "cbm",
    "xgb",
    "lgb",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One thing the doctor found: what, how bad, and the command that fixes it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable name for the kind of finding, e.g. `git.model_in_history`.
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// A blob of git's history: the path it was committed at and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryBlob {
    pub path: String,
    pub size: u64,
    /// Still tracked at HEAD (otherwise only in history).
    pub at_head: bool,
}

/// What the doctor read off the git repository.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GitFacts {
    pub repo: String,
    pub git_dir_bytes: u64,
    /// The largest model-like blobs anywhere in history, largest first.
    pub largest_models: Vec<HistoryBlob>,
    pub lfs_files: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// False when a finding is an error (the command then exits 1).
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<GitFacts>,
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    pub fn new(git: Option<GitFacts>, mut findings: Vec<Finding>) -> DoctorReport {
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let ok = findings.iter().all(|f| f.severity != Severity::Error);
        DoctorReport { ok, git, findings }
    }
}

fn finding(severity: Severity, code: &'static str, message: String, fix: Option<String>) -> Finding {
    Finding { severity, code, message, fix }
}

fn model_like(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').is_some_and(|(_, ext)| MODEL_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Every file under `dir`, summed.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// The model-like blobs of every commit reachable from any ref, largest
/// first, each once (at the first path it was seen at).
fn history_models(top: &Path) -> std::io::Result<Vec<(String, u64)>> {
    let mut list = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["rev-list", "--objects", "--all"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut sizes = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["cat-file", "--batch-check=%(objecttype) %(objectname) %(objectsize) %(rest)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let (Some(listed), Some(mut feed), Some(out)) = (list.stdout.take(), sizes.stdin.take(), sizes.stdout.take())
    else {
        return Ok(Vec::new());
    };
    // Only objects with a path (blobs and trees) go on; commits have none.
    let feeder = std::thread::spawn(move || -> std::io::Result<()> {
        for line in BufReader::new(listed).lines() {
            let line = line?;
            if line.contains(' ') {
                writeln!(feed, "{line}")?;
            }
        }
        Ok(())
    });
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for line in BufReader::new(out).lines() {
        let line = line?;
        let mut parts = line.splitn(4, ' ');
        let (Some("blob"), Some(id), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(size) = size.parse::<u64>() else { continue };
        if model_like(path) && seen.insert(id.to_string()) {
            found.push((path.to_string(), size));
        }
    }
    feeder.join().unwrap_or(Ok(()))?;
    list.wait()?;
    sizes.wait()?;
    found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(found)
}

/// What git says about model files in the repository holding `dir`.
pub fn git_findings(dir: &Path) -> (Option<GitFacts>, Vec<Finding>) {
    let mut out = Vec::new();
    let Some(top) = git(dir, &["rev-parse", "--show-toplevel"]) else {
        out.push(finding(Severity::Info, "git.none", format!("{} is not in a git repository", dir.display()), None));
        return (None, out);
    };
    let top = Path::new(&top).to_path_buf();
    let git_dir = git(&top, &["rev-parse", "--absolute-git-dir"]).map(std::path::PathBuf::from);
    let mut facts = GitFacts {
        repo: top.display().to_string(),
        git_dir_bytes: git_dir.as_deref().map(dir_size).unwrap_or(0),
        ..GitFacts::default()
    };
    let at_head: std::collections::BTreeSet<String> =
        git(&top, &["ls-files", "-z"]).map(|s| s.split('\0').map(str::to_string).collect()).unwrap_or_default();

    match history_models(&top) {
        Ok(models) => {
            for (path, size) in &models {
                let tracked = at_head.contains(path);
                let big = *size >= BIG_MODEL;
                let pattern = path.rsplit_once('.').map(|(_, e)| format!("*.{e}")).unwrap_or_else(|| path.clone());
                let dir_glob = match path.rsplit_once('/') {
                    Some((d, _)) => format!("{d}/{pattern}"),
                    None => pattern.clone(),
                };
                let (code, message) = if tracked {
                    ("git.model_tracked", format!("{path} ({}) is a model file tracked in git", mib(*size)))
                } else {
                    ("git.model_in_history", format!("{path} ({}) is a model file in git's history", mib(*size)))
                };
                let fix = format!(
                    "berth import-git '{dir_glob}' --model NAME (each commit's file becomes a version with its \
                     lineage), then remove it from history: git filter-repo --invert-paths --path-glob '{dir_glob}'"
                );
                let severity = if big { Severity::Error } else { Severity::Warning };
                out.push(finding(severity, code, message, Some(fix)));
            }
            facts.largest_models = models
                .into_iter()
                .take(LARGEST)
                .map(|(path, size)| HistoryBlob { at_head: at_head.contains(&path), path, size })
                .collect();
        }
        Err(e) => out.push(finding(
            Severity::Warning,
            "git.history_unread",
            format!("git's history could not be read: {e}"),
            Some("check that git is installed and the repository is readable".into()),
        )),
    }
    if facts.git_dir_bytes >= BIG_GIT_DIR {
        out.push(finding(
            Severity::Error,
            "git.large",
            format!(
                "{} is {} (over 500 MiB): every clone and CI checkout carries it",
                top.join(".git").display(),
                mib(facts.git_dir_bytes)
            ),
            Some("move the model files to berth (berth import-git) and rewrite history (git filter-repo)".into()),
        ));
    }
    let lfs = Command::new("git").arg("-C").arg(&top).args(["lfs", "ls-files", "--name-only"]).output();
    if let Some(o) = lfs.ok().filter(|o| o.status.success()) {
        facts.lfs_files = String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.is_empty()).count();
        if facts.lfs_files > 0 {
            out.push(finding(
                Severity::Info,
                "git.lfs",
                format!(
                    "{} file(s) are in Git LFS; GitHub gives 1 GB of LFS storage and 1 GB of bandwidth a month free, \
                     then $5 a month per 50 GB data pack, and every CI checkout downloads them",
                    facts.lfs_files
                ),
                Some(
                    "send them to a berth hub instead (berth lfs install NAME --url HUB --write), or register them \
                     without re-uploading: berth push --from-lfs FILE --model NAME"
                        .into(),
                ),
            ));
        }
    }
    // Model files in the work tree that .gitignore lets through.
    let untracked = git(&top, &["ls-files", "--others", "--exclude-standard", "-z"]).unwrap_or_default();
    let mut exposed: Vec<&str> = untracked.split('\0').filter(|p| !p.is_empty() && model_like(p)).collect();
    exposed.sort();
    for path in exposed.iter().take(LARGEST) {
        out.push(finding(
            Severity::Warning,
            "git.not_ignored",
            format!("{path} is a model file .gitignore does not exclude: one `git add .` commits it"),
            Some(format!("echo '/{path}' >> .gitignore (or a pattern for its kind), and push it to berth instead")),
        ));
    }
    (Some(facts), out)
}

/// What the project's berth says about itself: reachable, sound, guarded.
pub async fn berth_findings(b: &Berth) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Err(e) = b.readiness().await {
        out.push(finding(Severity::Error, "berth.unreachable", e.message(), e.hint()));
        return out;
    }
    match b.fsck().await {
        Ok(r) if r.ok => out.push(finding(
            Severity::Info,
            "berth.fsck",
            format!("the store's {} blob(s) are sound ({} referenced by versions)", r.blobs_checked, r.referenced),
            None,
        )),
        Ok(r) => out.push(finding(
            Severity::Error,
            "berth.fsck",
            format!("{} blob(s) are missing and {} corrupt", r.missing.len(), r.corrupt.len()),
            Some("run `berth fsck` for the list, then `berth fsck --repair DIR` with good copies of the files".into()),
        )),
        Err(e) => {
            out.push(finding(Severity::Warning, "berth.fsck", format!("fsck could not run: {}", e.message()), e.hint()))
        }
    }
    match b.policy().await {
        Ok(p) if p.environments.is_empty() => out.push(finding(
            Severity::Warning,
            "policy.none",
            "no environment has a policy: anyone with a deployer's token can point production at any version".into(),
            Some("add [environments.production] with require_gates and approvals to berth.toml".into()),
        )),
        Ok(p) => {
            for (env, policy) in &p.environments {
                if policy.require_gates.is_empty() {
                    out.push(finding(
                        Severity::Warning,
                        "policy.no_gates",
                        format!(
                            "environment {env} requires no gate: a version that was never validated can be promoted"
                        ),
                        Some(format!("add require_gates = [\"quality\"] under [environments.{env}] in berth.toml")),
                    ));
                }
                if (env == "production" || env == "prod") && policy.approvals == 0 {
                    out.push(finding(
                        Severity::Warning,
                        "policy.no_approvals",
                        format!("{env} needs no approval: its publisher can promote alone"),
                        Some(format!("add approvals = 1 under [environments.{env}] in berth.toml")),
                    ));
                }
            }
        }
        Err(e) => out.push(finding(Severity::Warning, "policy.unread", e.message(), e.hint())),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_files_are_known_by_their_extension() {
        for p in ["models/churn.joblib", "a/b/model.ONNX", "weights.safetensors", "x.pkl"] {
            assert!(model_like(p), "{p}");
        }
        for p in ["train.py", "README.md", "data.csv", "joblib"] {
            assert!(!model_like(p), "{p}");
        }
    }

    #[test]
    fn errors_come_first_and_make_the_report_fail() {
        let r = DoctorReport::new(
            None,
            vec![finding(Severity::Info, "a", "a".into(), None), finding(Severity::Error, "b", "b".into(), None)],
        );
        assert!(!r.ok);
        assert_eq!(r.findings[0].code, "b");
        assert!(DoctorReport::new(None, vec![finding(Severity::Warning, "w", "w".into(), None)]).ok);
    }
}
