//! The load chain and hot swap, in one background task.
//!
//! Each round asks: which version is wanted now (the file's digest, or what
//! the ref resolves to)? If it is not the one serving, fetch it (verified),
//! open it, smoke-test it, and swap it in; if anything fails, keep the
//! current version and say why. While nothing is served, retry with backoff;
//! when the registry or store cannot be reached, serve the last verified
//! cached copy; in CI, when allowed, serve a synthetic stand-in. Then wait
//! for the poll interval or a reload request (admin endpoint, SIGHUP).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use berth_core::{Ref, Selector};
use berth_ml::Signature;
use berth_registry::RegistryError;
use berth_service::{Berth, Config, Scorer, ServiceError};
use berth_store::StoreError;
use serde::{Deserialize, Serialize};

use crate::served::{Served, Source, inputs_of, smoke_test};
use crate::state::{State, now};
use crate::synthetic;

pub enum Target {
    /// A model file; served under `name` (default: the file's stem).
    File { path: PathBuf, name: Option<String>, features: Option<Vec<String>> },
    /// A ref, followed. The registry and store are opened on first use, so
    /// that a server whose registry is down still starts (and serves its
    /// cached copy).
    Registry { config: Box<Config>, actor: String, reference: Ref, features: Option<Vec<String>> },
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::File { path, .. } => path.display().to_string(),
            Target::Registry { reference, .. } => reference.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Follow {
    /// How often to check for a new version (and the longest retry wait).
    pub poll: Duration,
    /// Serve a synthetic stand-in while no real model can be had.
    pub synthetic: bool,
    /// The signature the stand-in takes, when known in advance.
    pub signature: Option<Signature>,
}

/// What a round found.
enum Wanted {
    Unchanged,
    Candidate(Box<Served>),
}

/// The last version served for a ref, so that a restart can serve it when
/// the registry or store is down.
#[derive(Debug, Serialize, Deserialize)]
struct CacheRecord {
    model: String,
    version: String,
    digest: String,
    file: PathBuf,
}

fn digest_of(path: &Path) -> Result<String, String> {
    berth_service::file_digest(path).map(|d| d.to_string()).map_err(|e| e.to_string())
}

/// Runs the blocking part of a load (hashing, parsing, smoke test) off the
/// async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| format!("the load was interrupted: {e}"))?
}

/// Opens and smoke-tests a model file whose digest the caller has checked.
#[allow(clippy::too_many_arguments)]
pub(crate) fn open_checked(
    state: &State,
    name: String,
    version: String,
    digest: String,
    source: Source,
    file: PathBuf,
    features: Option<Vec<String>>,
    started: Instant,
) -> Result<Served, String> {
    let scorer = Scorer::open_file(&file, features).map_err(|e| format!("{name}@{version}: {e}"))?;
    finish(state, name, version, digest, source, scorer, started)
}

fn finish(
    state: &State,
    name: String,
    version: String,
    digest: String,
    source: Source,
    scorer: Scorer,
    started: Instant,
) -> Result<Served, String> {
    let inputs = inputs_of(&scorer);
    smoke_test(&scorer, &inputs).map_err(|e| format!("{name}@{version} failed its smoke test: {e}"))?;
    let metrics = state.metrics.version(&name, &version, scorer.classes().unwrap_or(&[]));
    Ok(Served {
        name,
        version,
        digest,
        source,
        scorer,
        inputs,
        load_duration: started.elapsed(),
        loaded_at: SystemTime::now(),
        metrics,
    })
}

/// Errors that mean "could not reach", as opposed to "not there" or "bad".
fn unreachable(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::Registry(
            RegistryError::Db { .. } | RegistryError::Locked { .. } | RegistryError::Unreachable { .. }
        ) | ServiceError::Store(StoreError::Remote { .. } | StoreError::Io { .. })
    )
}

fn shown(e: &ServiceError) -> String {
    use berth_core::Exit;
    match e.hint() {
        Some(h) => format!("{e} ({h})"),
        None => e.to_string(),
    }
}

struct Round<'a> {
    state: &'a Arc<State>,
    target: &'a Target,
    berth: Option<Berth>,
    /// The file's size and modification time at the last look.
    file_seen: Option<(u64, SystemTime)>,
}

impl Round<'_> {
    async fn wanted(&mut self) -> Result<Wanted, (String, bool)> {
        let current = self.state.current();
        let started = Instant::now();
        match self.target {
            Target::File { path, name, features } => {
                let meta = std::fs::metadata(path)
                    .map_err(|e| (format!("model file {}: {e}; berth keeps looking for it", path.display()), false))?;
                let seen = (meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH));
                if current.as_ref().is_some_and(|c| c.source == Source::Local) && self.file_seen == Some(seen) {
                    return Ok(Wanted::Unchanged);
                }
                let (path, features, state) = (path.clone(), features.clone(), self.state.clone());
                let name = name.clone();
                let current_digest = current.as_ref().map(|c| c.digest.clone());
                let served = blocking(move || {
                    let digest = digest_of(&path)?;
                    if current_digest.as_deref() == Some(digest.as_str()) {
                        return Ok(None);
                    }
                    let name = name.unwrap_or_else(|| {
                        path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
                    });
                    let version = digest.trim_start_matches("sha256:")[..12].to_string();
                    open_checked(&state, name, version, digest, Source::Local, path, features, started).map(Some)
                })
                .await
                .map_err(|e| (e, false))?;
                self.file_seen = Some(seen);
                Ok(served.map_or(Wanted::Unchanged, |s| Wanted::Candidate(Box::new(s))))
            }
            Target::Registry { config, actor, reference, features } => {
                if self.berth.is_none() {
                    let b = Berth::open((**config).clone(), actor.clone())
                        .await
                        .map_err(|e| (shown(&e), unreachable(&e)))?;
                    self.berth = Some(b);
                }
                let berth = self.berth.as_ref().expect("opened above");
                let v = berth.resolve(reference).await.map_err(|e| (shown(&e), unreachable(&e)))?;
                let version = v.version.to_string();
                if current.as_ref().is_some_and(|c| c.source == Source::Store && c.version == version) {
                    return Ok(Wanted::Unchanged);
                }
                let pinned = Ref { model: v.model.clone(), selector: Selector::Version(v.version) };
                let (file, digest, _) = berth.fetch_model(&pinned).await.map_err(|e| (shown(&e), unreachable(&e)))?;
                let path = match &file {
                    berth_service::ModelFile::Berth(p) | berth_service::ModelFile::Onnx(p) => p.clone(),
                };
                let (name, features, state) = (v.model.to_string(), features.clone(), self.state.clone());
                let record_at = cache_record_path(config, reference);
                let served = blocking(move || {
                    let digest = digest.to_string();
                    let served =
                        open_checked(&state, name, version, digest, Source::Store, path.clone(), features, started)?;
                    let record = CacheRecord {
                        model: served.name.clone(),
                        version: served.version.clone(),
                        digest: served.digest.clone(),
                        file: path,
                    };
                    if let Err(e) = write_record(&record_at, &record) {
                        tracing::warn!("cannot remember the served version in {}: {e}", record_at.display());
                    }
                    Ok(served)
                })
                .await
                .map_err(|e| (e, false))?;
                Ok(Wanted::Candidate(Box::new(served)))
            }
        }
    }

    /// The last verified copy of the ref, when the registry or store is down.
    async fn cached(&self) -> Option<Served> {
        let Target::Registry { config, reference, features, .. } = self.target else { return None };
        let at = cache_record_path(config, reference);
        let (features, state) = (features.clone(), self.state.clone());
        let started = Instant::now();
        blocking(move || {
            let text = std::fs::read_to_string(&at).map_err(|e| e.to_string())?;
            let r: CacheRecord = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if digest_of(&r.file)? != r.digest {
                return Err(format!("the cached copy {} no longer matches {}", r.file.display(), r.digest));
            }
            open_checked(&state, r.model, r.version, r.digest, Source::Cache, r.file, features, started)
        })
        .await
        .map_err(|e| tracing::warn!("no usable cached copy: {e}"))
        .ok()
    }
}

fn cache_record_path(config: &Config, reference: &Ref) -> PathBuf {
    let dir = match config.state_dir() {
        Some(d) => d.join("cache").join("serve"),
        None => std::env::temp_dir().join("berth-serve"),
    };
    dir.join(format!("{}.json", reference.to_string().replace(['@', '/'], "_")))
}

fn write_record(at: &Path, r: &CacheRecord) -> std::io::Result<()> {
    if let Some(d) = at.parent() {
        std::fs::create_dir_all(d)?;
    }
    let tmp = at.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?)?;
    std::fs::rename(tmp, at)
}

/// Before serving a ref: whether it names something that exists or can
/// come to exist (`Berth::check_servable`). An error is a mistake that
/// retrying would never fix (a model that does not exist, a bad registry
/// URL); a note says what the server will wait for, including a registry
/// or store it cannot reach now (which the load chain retries, serving the
/// cached copy meanwhile). A file target is not checked: the server waits
/// for a missing file to appear.
pub async fn check_target(target: &Target) -> Result<Option<String>, ServiceError> {
    let Target::Registry { config, actor, reference, .. } = target else { return Ok(None) };
    let checked = async {
        let berth = Berth::open((**config).clone(), actor.clone()).await?;
        berth.check_servable(reference).await
    };
    // A registry that neither answers nor refuses is the load chain's to retry.
    let limit = Duration::from_secs(10);
    match tokio::time::timeout(limit, checked).await {
        Ok(Err(e)) if unreachable(&e) => {
            Ok(Some(format!("cannot check {reference} now: {}; retrying in the background", shown(&e))))
        }
        Ok(outcome) => outcome,
        Err(_) => Ok(Some(format!("the registry did not answer within {limit:?}; retrying in the background"))),
    }
}

/// Loads, follows and swaps, forever.
pub async fn run(state: Arc<State>, target: Target, follow: Follow) {
    let first_retry = Duration::from_millis(200);
    let mut retry = first_retry;
    let mut round = Round { state: &state, target: &target, berth: None, file_seen: None };
    // Each distinct error is logged once, not at every retry.
    let mut last_logged: Option<String> = None;
    loop {
        state.update_status(|s| {
            s.attempts += 1;
            s.last_attempt = Some(now());
            s.next_retry_in = None;
        });
        let outcome = round.wanted().await;
        let current = state.current();
        let settled = match outcome {
            Ok(Wanted::Unchanged) => {
                let real = current.as_ref().is_some_and(|c| matches!(c.source, Source::Local | Source::Store));
                if real {
                    state.update_status(|s| s.error = None);
                }
                real
            }
            Ok(Wanted::Candidate(next)) => {
                state.install(*next, None);
                true
            }
            Err((error, unreachable)) => {
                match &current {
                    Some(c) => {
                        if last_logged.as_ref() != Some(&error) {
                            tracing::warn!(serving = %c.label(), "keeping the current version: {error}");
                        }
                        state.update_status(|s| {
                            s.error = Some(error.clone());
                            s.last_swap = Some(crate::state::SwapStatus {
                                at: now(),
                                from: Some(c.label()),
                                to: target.describe(),
                                ok: false,
                                error: Some(error.clone()),
                            });
                        });
                    }
                    None => {
                        if last_logged.as_ref() != Some(&error) {
                            tracing::warn!(target = %target.describe(), "no model to serve yet: {error}");
                        }
                        let fallback = if unreachable { round.cached().await } else { None };
                        if let Some(copy) = fallback {
                            let note = format!(
                                "{error}; serving the verified cached copy of {} until it can be reached",
                                copy.label()
                            );
                            state.install(copy, Some(note));
                        } else if follow.synthetic {
                            let sig = follow.signature.clone();
                            let started = Instant::now();
                            let st = state.clone();
                            let stand_in = blocking(move || {
                                let model = synthetic::train(sig.as_ref())?;
                                let digest = berth_core::Digest::of(&model.to_bytes()).to_string();
                                let scorer = Scorer::Native(Box::new(model));
                                finish(&st, "synthetic".into(), "0".into(), digest, Source::Synthetic, scorer, started)
                            })
                            .await;
                            match stand_in {
                                Ok(s) => state.install(
                                    s,
                                    Some(format!("{error}; serving a synthetic stand-in (CI only, --allow-synthetic)")),
                                ),
                                Err(e) => state.update_status(|s| s.error = Some(format!("{error}; {e}"))),
                            }
                        } else {
                            state.update_status(|s| {
                                s.completed = false;
                                s.error = Some(error.clone());
                            });
                        }
                    }
                }
                last_logged = Some(error);
                false
            }
        };
        if settled {
            last_logged = None;
        }
        let wait = if settled {
            retry = first_retry;
            follow.poll
        } else {
            let w = retry.min(follow.poll);
            retry = (retry * 2).min(Duration::from_secs(30));
            state.update_status(|s| s.next_retry_in = Some(w.as_secs_f64()));
            w
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.reload.notified() => {}
        }
    }
}
