//! Keeping model files out of git: a pushed file that sits inside a git work
//! tree and is not ignored gets a warning with the `.gitignore` line to add.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::lineage::git;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitWarning {
    pub path: String,
    pub repo: String,
    /// The line to add to the repository's `.gitignore`.
    pub suggestion: String,
    pub tracked: bool,
}

/// Checks each pushed path (file or directory) once.
pub(crate) fn check(paths: &[std::path::PathBuf]) -> Vec<GitWarning> {
    let mut out = Vec::new();
    for p in paths {
        let Ok(abs) = std::fs::canonicalize(p) else { continue };
        let dir = if abs.is_dir() { abs.clone() } else { abs.parent().map(Path::to_path_buf).unwrap_or_default() };
        let Some(top) = git(&dir, &["rev-parse", "--show-toplevel"]) else { continue };
        let Ok(top) = std::fs::canonicalize(&top) else { continue };
        let Ok(rel) = abs.strip_prefix(&top) else { continue };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let ignored = Command::new("git")
            .arg("-C")
            .arg(&top)
            .args(["check-ignore", "-q", "--"])
            .arg(rel)
            .status()
            .map(|s| s.success())
            .unwrap_or(true);
        if ignored {
            continue;
        }
        let tracked = git(&top, &["ls-files", "--", &rel.to_string_lossy()]).is_some_and(|s| !s.is_empty());
        let rel_s = rel.to_string_lossy().replace('\\', "/");
        let suggestion = if abs.is_dir() { format!("/{rel_s}/") } else { format!("/{rel_s}") };
        out.push(GitWarning { path: p.display().to_string(), repo: top.display().to_string(), suggestion, tracked });
    }
    out
}
