//! `berth ci init`: the project's facts gathered (the training config or
//! the files to push, the gate files, the environments of berth.toml in
//! promotion order), the pipeline written by `berth-ci`, the file replaced
//! only when berth wrote it and nobody edited it (or with --force).

use std::path::{Path, PathBuf};

use berth_ci::{Ci, Decision, Pipeline, Source};
use berth_service::{Result, ServiceError};

use crate::cli_ci::{CiCommand, CiKind};

fn bad(message: String, hint: &str) -> ServiceError {
    ServiceError::input(message, Some(hint.to_string()))
}

/// `path` as the repository names it: relative to `dir`, with `/`.
fn in_repo(dir: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(bad(
            format!("{} is outside the repository at {}", path.display(), dir.display()),
            "the pipeline runs in a checkout: name files inside it",
        ));
    }
    Ok(rel.to_string_lossy().replace('\\', "/"))
}

fn must_exist(dir: &Path, path: &Path, what: &str, hint: &str) -> Result<String> {
    let full = dir.join(path);
    if !full.exists() {
        return Err(bad(format!("{what} {} does not exist", full.display()), hint));
    }
    in_repo(dir, &full)
}

/// The gate files: those named, else every `gates/*.toml`, in name order.
fn gates(dir: &Path, named: &[PathBuf]) -> Result<Vec<(String, String)>> {
    let paths: Vec<PathBuf> = if named.is_empty() {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join("gates"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    } else {
        named.iter().map(|p| dir.join(p)).collect()
    };
    if paths.is_empty() {
        return Err(bad(
            format!("no gate files: {} has no *.toml", dir.join("gates").display()),
            "write one (e.g. gates/quality.toml; `berth validate --help` has the reference) or name it with --gate",
        ));
    }
    let mut out = Vec::new();
    for p in paths {
        let rel = must_exist(dir, &p, "gate file", "name a gate file that exists")?;
        let name = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        out.push((name, rel));
    }
    Ok(out)
}

/// The `data` a training config names, when it is a path inside the repository.
fn training_data(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    let table: toml::Table = text.parse().ok()?;
    let data = table.get("data")?.as_str()?;
    (!data.starts_with('/') && !data.contains("..") && !data.contains("://")).then(|| data.to_string())
}

/// The environments berth.toml names, in promotion order; staging and
/// production when it names none.
fn environments(dir: &Path) -> Result<Vec<berth_ci::Environment>> {
    let file = dir.join("berth.toml");
    let names: Vec<String> =
        if file.exists() { berth_service::read_policy_file(&file)?.into_keys().collect() } else { Vec::new() };
    if names.is_empty() {
        tracing::warn!(
            "berth.toml names no environments: the pipeline promotes to staging and production, which no policy \
             governs yet; add [environments.production] with require_gates and approvals"
        );
        return Ok(Pipeline::environments_in_order(["staging".to_string(), "production".to_string()]));
    }
    Ok(Pipeline::environments_in_order(names))
}

pub fn run(cmd: &CiCommand, dir: &Path, json: bool) -> Result<u8> {
    let CiCommand::Init {
        ci,
        model,
        train_config,
        push,
        train_command,
        gates: named,
        data,
        image,
        branch,
        dry_run,
        force,
    } = cmd;
    let ci = match ci {
        CiKind::Github => Ci::GitHub,
        CiKind::Gitlab => Ci::GitLab,
    };
    let source = match (push, train_config) {
        (Some(p), _) => Source::Push { path: in_repo(dir, &dir.join(p))?, train_command: train_command.clone() },
        (None, Some(c)) => {
            Source::Train { config: must_exist(dir, c, "training config", "name the config berth train runs")? }
        }
        (None, None) if dir.join("train.toml").exists() => Source::Train { config: "train.toml".into() },
        (None, None) => {
            return Err(bad(
                format!("{} has no train.toml, and nothing says what to push", dir.display()),
                "name the training config with --train-config, or the files your training makes with --push PATH \
                 (and the command that makes them with --train-command)",
            ));
        }
    };
    let data = must_exist(dir, data, "gate data", "commit the labelled data the gates score and name it with --data")?;
    let gates = gates(dir, named)?;
    let mut paths = vec!["berth.toml".to_string(), ci.path().to_string(), data.clone(), "gates/**".to_string()];
    match &source {
        Source::Train { config } => {
            // The training data is the config's too: a change to it retrains.
            if let Some(data) = training_data(&dir.join(config)) {
                paths.insert(0, data);
            }
            paths.insert(0, config.clone());
        }
        Source::Push { path, .. } => paths.insert(0, format!("{path}/**")),
    }
    let pipeline = Pipeline {
        model: model.clone(),
        source,
        gates,
        data,
        environments: environments(dir)?,
        berth_version: env!("CARGO_PKG_VERSION").to_string(),
        branch: branch.clone(),
        paths,
        image: image.clone(),
    };
    if image.is_some() {
        write_stamped(dir, berth_ci::DOCKERFILE, &pipeline.dockerfile(), *dry_run, *force, json)?;
    }
    write_stamped(dir, ci.path(), &pipeline.render(ci), *dry_run, *force, json)?;
    if !json && !*dry_run {
        println!("  secrets it reads by name: BERTH_HUB_URL, BERTH_TOKEN (a publisher's token for the train job)");
    }
    Ok(0)
}

/// Writes `text` to `rel` under `dir` unless it is there already or was
/// edited since berth wrote it (then only with `force`); with `dry_run`
/// prints what would change instead.
fn write_stamped(dir: &Path, rel: &str, text: &str, dry_run: bool, force: bool, json: bool) -> Result<()> {
    let target = &dir.join(rel);
    let existing = match std::fs::read_to_string(target) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(bad(format!("cannot read {}: {e}", target.display()), "check its permissions")),
    };
    let decision = berth_ci::decide(existing.as_deref(), text, force);
    if dry_run {
        match &existing {
            Some(old) if decision != Decision::Unchanged => print!("{}", berth_ci::diff(old, text)),
            Some(_) => println!("{} is up to date", target.display()),
            None => print!("{text}"),
        }
        return Ok(());
    }
    let verb = match decision {
        Decision::Unchanged => "unchanged",
        Decision::KeepEdited => {
            return Err(ServiceError::Conflict {
                message: format!("{} was edited since berth wrote it; it is kept as it is", target.display()),
                hint: Some("see what would change with --dry-run; replace it with --force".into()),
            });
        }
        Decision::Create | Decision::Replace => {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| bad(format!("cannot create {}: {e}", parent.display()), "check the permissions"))?;
            }
            std::fs::write(target, text)
                .map_err(|e| bad(format!("cannot write {}: {e}", target.display()), "check the permissions"))?;
            if decision == Decision::Create { "wrote" } else { "rewrote" }
        }
    };
    if json {
        crate::render::json(&serde_json::json!({"path": rel, "action": verb}));
    } else {
        println!("{verb} {rel}");
    }
    Ok(())
}
