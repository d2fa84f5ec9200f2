//! `berth lfs install`: the `.lfsconfig` that points a repository's Git LFS
//! at the hub (`lfs.url`, and `lfs.locksverify = false` since the hub offers
//! no locking API), printed or written, and how to hand git lfs a token
//! without committing it: `http.<url>.extraHeader` in the clone's own git
//! config, or git's credential helper.

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_service::{Result, ServiceError, lfs_url};
use serde::Serialize;

use crate::cli_lfs::LfsCommand;

/// What `install` did, for `--json`.
#[derive(Debug, Serialize)]
struct Installed {
    /// The Git LFS URL of the model's repository on the hub.
    url: String,
    /// The `.lfsconfig` it wrote, if it wrote one.
    written: Option<PathBuf>,
    /// What `.lfsconfig` holds (the keys berth sets).
    lfsconfig: String,
    /// The command that gives git lfs a token through a header, for this URL only.
    extra_header: String,
}

pub async fn run(cmd: &LfsCommand, dir: &Path, json: bool) -> Result<()> {
    let LfsCommand::Install { model, url, write } = cmd;
    let hub = url.clone().or_else(|| crate::run::hub_url(dir)).ok_or_else(|| {
        ServiceError::input(
            "no hub to point Git LFS at",
            Some("give --url https://HUB, or set BERTH_HUB_URL or [hub] url in berth.toml".into()),
        )
    })?;
    let hub = crate::cli_lfs::hub_url(&hub)
        .map_err(|e| ServiceError::input(format!("the hub URL: {e}"), Some("give --url https://HUB[:PORT]".into())))?;
    let url = lfs_url(&hub, model);
    let lfsconfig = format!("[lfs]\n\turl = {url}\n\tlocksverify = false\n");
    let extra_header = format!("git config http.{url}.extraHeader \"Authorization: Bearer $BERTH_TOKEN\"");
    let written = if *write { Some(write_lfsconfig(dir, &url)?) } else { None };
    let report = Installed { url, written, lfsconfig, extra_header };
    if json {
        crate::render::json(&report);
        return Ok(());
    }
    match &report.written {
        Some(path) => println!("wrote {}: lfs.url = {} (commit it)", path.display(), report.url),
        None => print!("{}", report.lfsconfig),
    }
    eprintln!(
        "Give git lfs a berth token (publisher to push, reader to pull) without committing it, either as a header \
         for this URL only:\n  {}\nor as the password (any user name) that git's credential helper keeps for {hub}.",
        report.extra_header
    );
    Ok(())
}

/// Sets `lfs.url` and `lfs.locksverify` in `.lfsconfig` at the top of the
/// git work tree `dir` is in, keeping whatever else the file holds.
fn write_lfsconfig(dir: &Path, url: &str) -> Result<PathBuf> {
    let top = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|e| {
        ServiceError::input(
            format!("--write: {} is not in a git work tree ({e})", dir.display()),
            Some("run it inside the repository (or -C REPO), or leave out --write and save what it prints".into()),
        )
    })?;
    let path = PathBuf::from(top.trim()).join(".lfsconfig");
    let file = path.display().to_string();
    for (key, value) in [("lfs.url", url), ("lfs.locksverify", "false")] {
        git(dir, &["config", "--file", &file, key, value]).map_err(|e| {
            ServiceError::input(
                format!("--write: cannot set {key} in {file}: {e}"),
                Some("check that the file is writable and is git config syntax".into()),
            )
        })?;
    }
    Ok(path)
}

/// Runs git in `dir`; its stdout, or what went wrong.
fn git(dir: &Path, args: &[&str]) -> std::result::Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("git could not be run: {e}; is it installed and on PATH?"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
