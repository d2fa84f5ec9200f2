//! Carries out a parsed command: open the service, call it, print.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_core::{KeyValue, VersionMeta};
use berth_service::{
    Berth, Config, HubClient, Operations, PushOptions, PushRequest, Result, ServiceError, detect_actor, detect_lineage,
    read_metrics,
};

use crate::cli::{AliasCommand, Cli, Command};
use crate::progress::Bars;
use crate::render;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// `-C DIR` works as in git: as if berth were started in DIR.
fn workdir(cli: &Cli) -> Result<PathBuf> {
    if let Some(p) = &cli.global.project {
        std::env::set_current_dir(p)
            .map_err(|e| ServiceError::input(format!("-C {}: cannot enter the directory: {e}", p.display()), None))?;
    }
    std::env::current_dir().map_err(|e| ServiceError::input(format!("cannot read the current directory: {e}"), None))
}

/// The hub this command goes through, if one is configured (`BERTH_HUB_URL`
/// or `[hub] url` in berth.toml).
pub(crate) fn hub_url(dir: &Path) -> Option<String> {
    env("BERTH_HUB_URL").filter(|u| !u.is_empty()).or_else(|| Config::discover(dir, &env).ok()?.hub_url)
}

/// The service in this process, over the registry and store the project
/// names. Refused when a hub is configured: the command does not go through
/// the hub yet, and reaching around it would skip its rules.
pub(crate) async fn open(dir: &Path) -> Result<Berth> {
    if let Some(url) = hub_url(dir) {
        return Err(ServiceError::input(
            format!("this command does not go through the hub ({url}) yet"),
            Some("run it where the registry is reachable, without BERTH_HUB_URL or [hub] url".to_string()),
        ));
    }
    open_here(dir).await
}

/// [`open`], whether or not a hub is configured (for what only the server does, such as `berth hub`).
pub(crate) async fn open_here(dir: &Path) -> Result<Berth> {
    let config = Config::discover(dir, &env)?;
    let actor = detect_actor(config.user.as_deref(), &env);
    Berth::open(config, actor).await
}

/// What the command asks, carried out through the hub when one is
/// configured, else in this process.
pub(crate) async fn ops(dir: &Path) -> Result<Box<dyn Operations>> {
    match hub_url(dir) {
        Some(url) => Ok(Box::new(HubClient::from_environment(&url, &env)?)),
        None => Ok(Box::new(open_here(dir).await?)),
    }
}

/// [`open`], for a command that moves an environment: says so when the
/// policy the registry enforces is not the one this project's berth.toml holds.
async fn open_to_move(dir: &Path) -> Result<Box<dyn Operations>> {
    let b = ops(dir).await?;
    if let Some(w) = b.policy_warning().await? {
        render::warn(&w, None);
    }
    Ok(b)
}

/// Runs the command; returns the exit code for outcomes that are not errors
/// (fsck finding damage answers "no": 1).
pub async fn run(cli: Cli) -> Result<u8> {
    let dir = workdir(&cli)?;
    let json = cli.global.json;
    let quiet = cli.global.quiet;
    let bars = Bars::new(!json && !quiet);
    match &cli.command {
        Command::Init(a) => {
            let out = berth_service::init(&dir, a.registry.clone(), a.store.clone(), &env)?;
            // Open once so the registry is created and migrated now.
            open(&dir).await?;
            if json {
                render::json(&out);
            } else if out.created {
                println!("initialised berth project in {}", out.root.display());
                println!("  registry: {}", out.registry_url);
                println!("  store:    {}", out.store_url);
            } else {
                println!("already a berth project: {} (nothing changed)", out.root.display());
            }
        }
        Command::Push(a) => {
            let b = ops(&dir).await?;
            let (metrics, skipped) = match &a.metrics {
                Some(p) => read_metrics(&dir.join(p))?,
                None => (BTreeMap::new(), Vec::new()),
            };
            if !skipped.is_empty() && !quiet {
                render::warn(&format!("metrics that are not numbers were not recorded: {}", skipped.join(", ")), None);
            }
            let paths: Vec<PathBuf> = a.paths.iter().map(|p| dir.join(p)).collect();
            let lineage = detect_lineage(paths.first().and_then(|p| p.parent()).unwrap_or(&dir), &env);
            let meta = VersionMeta {
                format: a.format.clone(),
                signature: None,
                params: KeyValue::map(&a.params),
                metrics,
                tags: KeyValue::map(&a.tags),
                description: a.description.clone(),
                lineage,
            };
            let req = PushRequest { paths, model: Some(a.model.clone()), meta };
            let opts =
                PushOptions { follow_symlinks: a.follow_symlinks, if_changed: a.if_changed, from_lfs: a.from_lfs };
            let r = b.push_files(req, &opts, &bars).await?;
            crate::actions::output("ref", &r.reference);
            if json { render::json(&r) } else { render::push(&r, quiet) }
        }
        Command::Pull(a) => {
            let b = ops(&dir).await?;
            let out = b.pull(&a.reference, a.output.clone(), &bars).await?;
            if json { render::json(&out) } else { render::pull(&out) }
        }
        Command::Models => {
            let ms = ops(&dir).await?.models().await?;
            if json { render::json(&ms) } else { render::models(&ms) }
        }
        Command::Versions { model } => {
            let r = ops(&dir).await?.versions_with_aliases(model).await?;
            if json { render::json(&r.versions) } else { render::versions(&r.versions, &r.aliases) }
        }
        Command::Show { reference } => {
            let s = ops(&dir).await?.show(reference).await?;
            if json { render::json(&s) } else { render::show(&s) }
        }
        Command::Tag { reference, tags } => {
            let v = ops(&dir).await?.tag(reference, &KeyValue::map(tags)).await?;
            if json {
                render::json(&v)
            } else {
                println!(
                    "{}@{} tags: {}",
                    v.model,
                    v.version,
                    v.meta.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
                )
            }
        }
        Command::Alias(AliasCommand::Set { model: m, alias: a, version, reason }) => {
            let b = open_to_move(&dir).await?;
            match b.alias_set(m, a, *version, reason.as_deref()).await? {
                Some(ev) if json => render::json(&ev),
                Some(ev) => render::alias_event(&ev),
                None if json => {
                    render::json(&serde_json::json!({"model": m, "alias": a, "version": version, "changed": false}))
                }
                None => println!("{m}@{a} already points at {version} (nothing changed)"),
            }
        }
        Command::Alias(AliasCommand::Rm { model, alias, reason }) => {
            let ev = open_to_move(&dir).await?.alias_rm(model, alias, reason.as_deref()).await?;
            if json { render::json(&ev) } else { render::alias_event(&ev) }
        }
        Command::Alias(AliasCommand::History { model, alias }) => {
            let evs = ops(&dir).await?.alias_history(model, alias.as_ref()).await?;
            if json { render::json(&evs) } else { render::alias_history(&evs) }
        }
        Command::Promote { reference, env, reason, new_env } => {
            let report = open_to_move(&dir).await?.promote_into(reference, env, reason.as_deref(), *new_env).await?;
            if json {
                render::json(&report)
            } else {
                crate::deploy::promote(&report)
            }
            return Ok(if report.missing.is_empty() { 0 } else { 1 });
        }
        Command::Approve { reference, env, comment } => {
            let report = open_to_move(&dir).await?.approve(reference, env, comment.as_deref()).await?;
            if json { render::json(&report) } else { crate::deploy::approve(&report) }
        }
        Command::Approvals { model, env } => {
            let filter = berth_service::ApprovalFilter { model: model.clone(), version: None, env: env.clone() };
            let list = ops(&dir).await?.approvals(&filter).await?;
            if json { render::json(&list) } else { crate::deploy::approvals(&list) }
        }
        Command::Deployments { model, env } => {
            let list = ops(&dir).await?.deployments(model, env.as_ref()).await?;
            if json { render::json(&list) } else { crate::deploy::deployments(&list) }
        }
        Command::Rollback { model, env, to, reason } => {
            let report = open_to_move(&dir).await?.rollback(model, env, *to, reason.as_deref()).await?;
            if json { render::json(&report) } else { crate::deploy::rollback(&report) }
        }
        Command::Check { model, env, metrics, max_degradation, dry_run } => {
            let (live, skipped) = read_metrics(metrics)?;
            if !skipped.is_empty() && !quiet {
                render::warn(&format!("{}: not numbers, ignored: {}", metrics.display(), skipped.join(", ")), None);
            }
            let req = berth_service::CheckRequest {
                model: model.clone(),
                env: env.clone(),
                live,
                max_degradation: *max_degradation,
                dry_run: *dry_run,
                evidence: None,
            };
            let report = open_to_move(&dir).await?.check(&req).await?;
            if json {
                render::json(&report)
            } else {
                crate::deploy::check(&report)
            }
            return Ok(if report.degraded { 1 } else { 0 });
        }
        Command::Monitor(a) => return crate::monitor::run(&dir, a, json).await,
        Command::Feedback(a) => return crate::monitor::feedback(&dir, a, json).await,
        Command::Rollout(cmd) => return crate::rollout::run(cmd, json).await,
        Command::Notifications { limit } => {
            let list = ops(&dir).await?.notifications(Some(*limit)).await?;
            if json { render::json(&list) } else { crate::deploy::notifications(&list) }
        }
        Command::Log { model, limit } => {
            let entries = ops(&dir).await?.log(model.clone(), Some(*limit)).await?;
            if json { render::json(&entries) } else { render::log(&entries) }
        }
        Command::Gc { dry_run, wait } => {
            let r = open(&dir).await?.gc(*dry_run, Duration::from_secs(*wait)).await?;
            if json { render::json(&r) } else { render::gc(&r) }
        }
        Command::Fsck { repair } => {
            let b = open(&dir).await?;
            let r = match repair {
                Some(from) => b.fsck_repair(&dir.join(from)).await?,
                None => b.fsck().await?,
            };
            if json {
                render::json(&r)
            } else {
                render::fsck(&r)
            }
            if !r.ok {
                return Ok(1);
            }
        }
        Command::Data(crate::cli::DataCommand::Drift(a)) => return crate::data::drift(a, json),
        Command::Data(cmd) => crate::data::run(cmd, json)?,
        Command::Train(a) => crate::train::train(a, &dir, json, quiet, &bars).await?,
        Command::Predict { model, data, output, features } => {
            // Decided here, once `-C` has made relative paths mean the project's.
            let model = berth_service::model_arg(model)?;
            crate::train::predict(&model, data, output, features.as_deref(), &dir, json).await?
        }
        Command::Validate(a) => return crate::validate::run(a, &dir, json).await,
        Command::Serve(a) => crate::serve::run(a, &dir).await?,
        Command::Hub(a) => crate::hub::hub(a, &dir, json).await?,
        Command::Token(cmd) => crate::hub::token(cmd, &dir, json).await?,
        Command::Policy(cmd) => crate::hub::policy(cmd, &dir, json).await?,
        Command::Lfs(cmd) => crate::lfs::run(cmd, &dir, json).await?,
        Command::Ci(cmd) => return crate::ci::run(cmd, &dir, json),
        Command::Completions { shell } => crate::completions::completions(*shell),
        Command::Man { dir: out } => crate::completions::man(out.as_ref().map(|d| dir.join(d)).as_deref())?,
        Command::ImportGit { glob, model, rewrite } => {
            let b = ops(&dir).await?;
            let r = berth_service::import_git(&*b, &dir, glob, model).await?;
            if json {
                render::json(&r);
            } else {
                render::import_git(&r);
            }
            if *rewrite {
                rewrite_history(&dir, glob)?;
            } else if !json {
                println!("to remove them from every commit (rewrites history; everyone re-clones):\n  {}", r.rewrite);
            }
        }
        Command::Doctor => {
            let (facts, mut findings) = berth_service::git_findings(&dir);
            match hub_url(&dir) {
                Some(url) => findings.push(berth_service::Finding {
                    severity: berth_service::Severity::Info,
                    code: "berth.hub",
                    message: format!("the registry and store are the hub's ({url}); its operator checks them"),
                    fix: None,
                }),
                None if Config::discover(&dir, &env).is_ok() => {
                    findings.extend(berth_service::berth_findings(&open_here(&dir).await?).await)
                }
                None => findings.push(berth_service::Finding {
                    severity: berth_service::Severity::Info,
                    code: "berth.none",
                    message: format!("{} is not in a berth project", dir.display()),
                    fix: Some("berth init".into()),
                }),
            }
            let report = berth_service::DoctorReport::new(facts, findings);
            if json {
                render::json(&report)
            } else {
                render::doctor(&report)
            }
            return Ok(if report.ok { 0 } else { 1 });
        }
        Command::Smoke { endpoint, data, rows, max_latency_ms, expect, expect_wait } => {
            let expect = expect.as_ref().and_then(|r| match r.selector {
                berth_core::Selector::Version(n) => Some((r.model.clone(), n)),
                _ => None,
            });
            let req = berth_service::SmokeRequest {
                endpoint: endpoint.to_string(),
                data: dir.join(data),
                rows: *rows,
                max_latency_ms: *max_latency_ms,
                expect,
                wait: std::time::Duration::from_secs(*expect_wait),
            };
            let r = berth_service::smoke(&req).await?;
            if json {
                render::json(&r)
            } else {
                render::smoke(&r)
            }
            return Ok(if r.passed { 0 } else { 1 });
        }
        Command::Quickstart { dir: qdir } => {
            crate::quickstart::run(qdir.clone(), json).await?;
        }
    }
    Ok(0)
}

/// Runs `git filter-repo` to drop the files `glob` matches from history.
fn rewrite_history(dir: &Path, glob: &str) -> Result<()> {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["filter-repo", "--force", "--invert-paths", "--path-glob", glob])
        .status()
        .map_err(|e| ServiceError::input(format!("cannot run git: {e}"), None))?;
    if !status.success() {
        return Err(ServiceError::input(
            format!("git filter-repo did not rewrite the history ({status})"),
            Some("install it (pip install git-filter-repo, or apt-get install git-filter-repo) and run again".into()),
        ));
    }
    Ok(())
}
