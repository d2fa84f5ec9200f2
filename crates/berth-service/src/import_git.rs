//! `berth import-git GLOB --model NAME`: model files that were committed to
//! git become versions, oldest first — one per commit that changed a file
//! matching the glob, holding that commit's matching files at their paths,
//! with its lineage (commit, author, date, message). A commit imported
//! before is skipped, so running it again imports only what is new. Then
//! the history can be rewritten without them (`git filter-repo`), and the
//! files live in berth.
//!
//! Git is asked through its own commands (`log`, `ls-tree`, `cat-file`);
//! each blob is streamed to a file, never held whole.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use berth_core::{Lineage, ModelName, VersionMeta};
use serde::Serialize;

use crate::lineage::git;
use crate::{NoTransfer, Operations, PushOptions, PushRequest, Result, ServiceError};

/// One commit made into a version (or skipped, having been made before).
#[derive(Debug, Clone, Serialize)]
pub struct ImportedCommit {
    pub commit: String,
    pub files: Vec<String>,
    /// `NAME@N`, or `None` when an earlier import made it.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub model: ModelName,
    pub glob: String,
    pub commits: Vec<ImportedCommit>,
    /// The command that removes the files from every commit of the history.
    pub rewrite: String,
}

/// The lineage keys an imported version keeps its commit's facts under.
const AUTHOR: &str = "git_author";
const DATE: &str = "git_date";
const MESSAGE: &str = "git_message";

fn pathspec(glob: &str) -> String {
    format!(":(glob){glob}")
}

/// The history rewrite that removes the files `glob` matches.
fn rewrite_command(glob: &str) -> String {
    format!("git filter-repo --invert-paths --path-glob '{glob}'")
}

fn git_error(what: &str, dir: &Path) -> ServiceError {
    ServiceError::input(
        format!("{what} in {}", dir.display()),
        Some("run berth import-git inside the git repository that holds the model files".into()),
    )
}

/// Git's `:(glob)` matching: `*` and `?` stay within a path segment, `**`
/// spans segments (`a/**/b`, `**/b`, `a/**`).
fn glob_match(glob: &str, path: &str) -> bool {
    fn segment(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => segment(&p[1..], s) || (!s.is_empty() && segment(p, &s[1..])),
            (Some(b'?'), Some(_)) => segment(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => segment(&p[1..], &s[1..]),
            _ => false,
        }
    }
    fn segments(p: &[&str], s: &[&str]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(&"**"), _) => segments(&p[1..], s) || (!s.is_empty() && segments(p, &s[1..])),
            (Some(a), Some(b)) => segment(a.as_bytes(), b.as_bytes()) && segments(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let (p, s): (Vec<&str>, Vec<&str>) = (glob.trim_start_matches('/').split('/').collect(), path.split('/').collect());
    segments(&p, &s)
}

/// Writes `commit:path`'s blob to `dest`.
fn write_blob(top: &Path, commit: &str, path: &str, dest: &Path) -> Result<()> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ServiceError::input(format!("{}: {e}", parent.display()), None))?;
    }
    let file =
        std::fs::File::create(dest).map_err(|e| ServiceError::input(format!("{}: {e}", dest.display()), None))?;
    let status = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["cat-file", "blob", &format!("{commit}:{path}")])
        .stdout(file)
        .stderr(Stdio::null())
        .status()
        .map_err(|e| ServiceError::input(format!("cannot run git: {e}"), Some("install git".into())))?;
    if !status.success() {
        return Err(git_error(&format!("git cannot read {path} at {commit}"), top));
    }
    Ok(())
}

/// Imports every commit that changed a file matching `glob` in the git
/// repository holding `dir` as a version of `model`, oldest first.
pub async fn import_git(ops: &dyn Operations, dir: &Path, glob: &str, model: &ModelName) -> Result<ImportReport> {
    let top = git(dir, &["rev-parse", "--show-toplevel"]).ok_or_else(|| git_error("no git repository", dir))?;
    let top = Path::new(&top);
    let spec = pathspec(glob);
    let log = git(top, &["log", "--reverse", "--format=%H", "--all", "--", &spec]).unwrap_or_default();
    let commits: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    if commits.is_empty() {
        return Err(ServiceError::input(
            format!("no commit in {} changed a file matching {glob:?}", top.display()),
            Some("write the glob as git's pathspecs do, from the repository's top: e.g. 'models/*.joblib'".into()),
        ));
    }
    // Commits imported before: the versions whose lineage names them.
    let done: BTreeSet<String> = match ops.versions_with_aliases(model).await {
        Ok(r) => r.versions.into_iter().filter_map(|v| v.meta.lineage.git_commit).collect(),
        Err(e) if e.kind() == crate::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => return Err(e),
    };
    let mut report =
        ImportReport { model: model.clone(), glob: glob.into(), commits: Vec::new(), rewrite: rewrite_command(glob) };
    for commit in commits {
        // ls-tree takes no pathspec magic: list the commit's files and match here.
        let listed = git(top, &["ls-tree", "-r", "--name-only", commit]).unwrap_or_default();
        let files: Vec<String> = listed.lines().filter(|l| glob_match(glob, l)).map(str::to_string).collect();
        if files.is_empty() {
            // The commit removed the files: nothing to hold.
            continue;
        }
        if done.contains(commit) {
            report.commits.push(ImportedCommit { commit: commit.into(), files, reference: None });
            continue;
        }
        let stage = tempfile::tempdir()
            .map_err(|e| ServiceError::input(format!("cannot make a temporary directory: {e}"), None))?;
        for f in &files {
            write_blob(top, commit, f, &stage.path().join(f))?;
        }
        let facts = git(top, &["show", "-s", "--format=%an <%ae>%x00%aI%x00%s", commit]).unwrap_or_default();
        let mut parts = facts.split('\0');
        let mut lineage = Lineage { git_commit: Some(commit.into()), ..Lineage::default() };
        for key in [AUTHOR, DATE, MESSAGE] {
            if let Some(v) = parts.next().filter(|v| !v.is_empty()) {
                lineage.extra.insert(key.into(), v.into());
            }
        }
        let meta = VersionMeta { lineage, ..VersionMeta::default() };
        let req = PushRequest { paths: vec![stage.path().to_path_buf()], model: Some(model.clone()), meta };
        let pushed = ops.push_files(req, &PushOptions::default(), &NoTransfer).await?;
        report.commits.push(ImportedCommit { commit: commit.into(), files, reference: Some(pushed.reference) });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_as_git_reads_them() {
        assert!(glob_match("models/*.joblib", "models/churn.joblib"));
        assert!(!glob_match("models/*.joblib", "models/old/churn.joblib"), "* stays in its segment");
        assert!(glob_match("models/**/*.joblib", "models/old/churn.joblib"));
        assert!(glob_match("models/**/*.joblib", "models/churn.joblib"));
        assert!(glob_match("**/*.pkl", "a/b/c.pkl") && glob_match("**/*.pkl", "c.pkl"));
        assert!(glob_match("model?.bin", "model1.bin") && !glob_match("model?.bin", "model12.bin"));
        assert!(!glob_match("*.joblib", "models/churn.joblib"));
    }
}
