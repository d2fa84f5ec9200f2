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
use berth_data::Profile;
use berth_ml::Signature;
use berth_service::{ErrorKind, Operations, Scorer, ServiceError};
use serde::{Deserialize, Serialize};

use crate::live::LiveWindow;
use crate::reach::Reach;
use crate::served::{Served, Source, inputs_of, smoke_test};
use crate::state::{State, now};
use crate::synthetic;

pub enum Target {
    /// A model file; served under `name` (default: the file's stem).
    File { path: PathBuf, name: Option<String>, features: Option<Vec<String>> },
    /// A ref, followed through the registry or a hub, reached on first use
    /// (so that a server whose registry is down still starts and serves its
    /// cached copy).
    Registry { reach: Arc<Reach>, reference: Ref, features: Option<Vec<String>> },
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

/// Which version a model file is and where it came from: what `/health`,
/// the metrics and every answer's header name it by.
pub(crate) struct Identity {
    pub name: String,
    pub version: String,
    /// sha256 of the model file.
    pub digest: String,
    pub source: Source,
}

/// Opens and smoke-tests a model file whose digest the caller has checked.
pub(crate) fn open_checked(
    state: &State,
    identity: Identity,
    file: PathBuf,
    features: Option<Vec<String>>,
    profile: Option<Profile>,
    started: Instant,
) -> Result<Served, String> {
    let scorer =
        Scorer::open_file(&file, features).map_err(|e| format!("{}@{}: {e}", identity.name, identity.version))?;
    finish(state, identity, scorer, profile, started)
}

/// Smoke-tests an opened scorer and makes it a version ready to serve,
/// its live traffic compared with `profile` (what it was trained on).
pub(crate) fn finish(
    state: &State,
    identity: Identity,
    scorer: Scorer,
    profile: Option<Profile>,
    started: Instant,
) -> Result<Served, String> {
    let Identity { name, version, digest, source } = identity;
    let inputs = inputs_of(&scorer);
    smoke_test(&scorer, &inputs).map_err(|e| format!("{name}@{version} failed its smoke test: {e}"))?;
    let metrics = state.metrics.version(&name, &version, scorer.classes().unwrap_or(&[]));
    let target = scorer.signature().and_then(|s| s.target.as_deref());
    let live = LiveWindow::new(state.drift_window, profile.as_ref(), &inputs, target, scorer.classes());
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
        live,
    })
}

/// Why a round could not serve what is wanted, sorted by what may stand in.
#[derive(Debug, Clone, PartialEq)]
enum Failure {
    /// The registry or store could not be reached. With nothing served, the
    /// last verified cached copy stands in; at start the server waits.
    Unreachable(String),
    /// They answered, and the answer was no: nothing by that name yet, a
    /// corrupt blob, a model that does not open or fails its smoke test.
    /// The loader keeps retrying, but a cached copy never stands in for an
    /// answer, and at start a ref that names nothing stops the server.
    Refused(String),
}

impl Failure {
    fn of(e: &ServiceError) -> Failure {
        if unreachable(e) { Failure::Unreachable(shown(e)) } else { Failure::Refused(shown(e)) }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Unreachable(m) | Failure::Refused(m) => m,
        }
    }
}

/// Errors that mean "could not reach", as opposed to "not there" or "bad".
fn unreachable(e: &ServiceError) -> bool {
    e.kind() == ErrorKind::Unavailable
}

fn shown(e: &ServiceError) -> String {
    match e.hint() {
        Some(h) => format!("{e} ({h})"),
        None => e.to_string(),
    }
}

struct Round<'a> {
    state: &'a Arc<State>,
    target: &'a Target,
    berth: Option<Arc<dyn Operations>>,
    /// The file's size and modification time at the last look.
    file_seen: Option<(u64, SystemTime)>,
}

impl Round<'_> {
    async fn wanted(&mut self) -> Result<Wanted, Failure> {
        let current = self.state.current();
        let started = Instant::now();
        match self.target {
            Target::File { path, name, features } => {
                let meta = std::fs::metadata(path).map_err(|e| {
                    Failure::Refused(format!("model file {}: {e}; berth keeps looking for it", path.display()))
                })?;
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
                    let identity = Identity { name, version, digest, source: Source::Local };
                    let profile = crate::profile::beside(&path);
                    open_checked(&state, identity, path, features, profile, started).map(Some)
                })
                .await
                .map_err(Failure::Refused)?;
                self.file_seen = Some(seen);
                Ok(served.map_or(Wanted::Unchanged, |s| Wanted::Candidate(Box::new(s))))
            }
            Target::Registry { reach, reference, features } => {
                let berth = match self.berth {
                    Some(ref b) => b,
                    None => self.berth.insert(reach.open().await.map_err(|e| Failure::of(&e))?),
                };
                let v = berth.resolve(reference).await.map_err(|e| Failure::of(&e))?;
                let version = v.version.to_string();
                if current.as_ref().is_some_and(|c| c.source == Source::Store && c.version == version) {
                    return Ok(Wanted::Unchanged);
                }
                let pinned = Ref { model: v.model.clone(), selector: Selector::Version(v.version) };
                let (file, digest, _) = berth.fetch_model(&pinned).await.map_err(|e| Failure::of(&e))?;
                let profile = crate::profile::of_version(berth.as_ref(), &v, reach, &digest.to_string()).await;
                let path = file.path().to_path_buf();
                let (name, features, state) = (v.model.to_string(), features.clone(), self.state.clone());
                let record_at = cache_record_path(reach, reference);
                let served = blocking(move || {
                    let identity = Identity { name, version, digest: digest.to_string(), source: Source::Store };
                    let served = open_checked(&state, identity, path.clone(), features, profile, started)?;
                    write_record(&record_at, &served, path);
                    Ok(served)
                })
                .await
                .map_err(Failure::Refused)?;
                Ok(Wanted::Candidate(Box::new(served)))
            }
        }
    }

    /// The last verified copy of the ref, when the registry or store is down.
    async fn cached(&self) -> Option<Served> {
        let Target::Registry { reach, reference, features } = self.target else { return None };
        let at = cache_record_path(reach, reference);
        let (features, state, reach) = (features.clone(), self.state.clone(), reach.clone());
        let started = Instant::now();
        blocking(move || {
            let text = std::fs::read_to_string(&at).map_err(|e| e.to_string())?;
            let r: CacheRecord = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if digest_of(&r.file)? != r.digest {
                return Err(format!("the cached copy {} no longer matches {}", r.file.display(), r.digest));
            }
            let profile = crate::profile::kept(&reach, &r.digest);
            let identity = Identity { name: r.model, version: r.version, digest: r.digest, source: Source::Cache };
            open_checked(&state, identity, r.file, features, profile, started)
        })
        .await
        .map_err(|e| tracing::warn!("no usable cached copy: {e}"))
        .ok()
    }
}

/// Remembers `served` (its verified copy at `file`) as what `reference`
/// last resolved to, so a restart while the registry or hub is down serves it.
pub(crate) fn remember(reach: &Reach, reference: &Ref, served: &Served, file: PathBuf) {
    write_record(&cache_record_path(reach, reference), served, file);
}

fn write_record(at: &Path, served: &Served, file: PathBuf) {
    let record = CacheRecord {
        model: served.name.clone(),
        version: served.version.clone(),
        digest: served.digest.clone(),
        file,
    };
    if let Err(e) = crate::state::write_json(at, &record) {
        tracing::warn!("cannot remember the served version in {}: {e}", at.display());
    }
}

fn cache_record_path(reach: &Reach, reference: &Ref) -> PathBuf {
    reach.state("cache/serve").join(format!("{}.json", reference.to_string().replace(['@', '/'], "_")))
}

/// Before serving a ref: whether it names something that exists or can
/// come to exist (`Berth::check_servable`). An error is a mistake that
/// retrying would never fix (a model that does not exist, a bad registry
/// URL); a note says what the server will wait for, including a registry
/// or store it cannot reach now (which the load chain retries, serving the
/// cached copy meanwhile). A file target is not checked: the server waits
/// for a missing file to appear.
pub async fn check_target(target: &Target) -> Result<Option<String>, ServiceError> {
    let Target::Registry { reach, reference, .. } = target else { return Ok(None) };
    let checked = async { reach.open().await?.check_servable(reference).await };
    // A registry that neither answers nor refuses is the load chain's to retry.
    let limit = Duration::from_secs(10);
    at_start(reference, tokio::time::timeout(limit, checked).await.ok(), limit)
}

/// What a start-up check's outcome means (`None`: no answer within `limit`):
/// a registry or store out of reach is a note, retried in the background;
/// any other error stops the server.
fn at_start(
    reference: &Ref,
    outcome: Option<Result<Option<String>, ServiceError>>,
    limit: Duration,
) -> Result<Option<String>, ServiceError> {
    match outcome {
        Some(Err(e)) => match Failure::of(&e) {
            Failure::Unreachable(why) => {
                Ok(Some(format!("cannot check {reference} now: {why}; retrying in the background")))
            }
            Failure::Refused(_) => Err(e),
        },
        Some(checked) => checked,
        None => Ok(Some(format!("the registry did not answer within {limit:?}; retrying in the background"))),
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
            Err(failure) => {
                let error = failure.message().to_string();
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
                        let fallback = match failure {
                            Failure::Unreachable(_) => round.cached().await,
                            Failure::Refused(_) => None,
                        };
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
                                let identity = Identity {
                                    name: "synthetic".into(),
                                    version: "0".into(),
                                    digest,
                                    source: Source::Synthetic,
                                };
                                finish(&st, identity, scorer, None, started)
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

#[cfg(test)]
mod tests {
    use berth_registry::RegistryError;
    use berth_store::StoreError;

    use super::*;

    fn reference() -> Ref {
        "churn@production".parse().unwrap()
    }

    fn down() -> ServiceError {
        ServiceError::Registry(RegistryError::Unreachable {
            engine: "PostgreSQL",
            address: "127.0.0.1:1".into(),
            reason: "connection refused".into(),
        })
    }

    fn io(kind: std::io::ErrorKind) -> std::io::Error {
        std::io::Error::new(kind, "gone")
    }

    #[test]
    fn out_of_reach_is_told_from_a_no() {
        let unreachable = [
            down(),
            ServiceError::Registry(RegistryError::Db { url: "postgres://x".into(), source: sqlx::Error::PoolTimedOut }),
            ServiceError::Registry(RegistryError::Locked {
                url: "sqlite://r.db".into(),
                source: sqlx::Error::PoolTimedOut,
            }),
            ServiceError::Store(StoreError::Io {
                what: "read",
                path: "blobs".into(),
                source: io(std::io::ErrorKind::NotFound),
            }),
        ];
        for e in unreachable {
            assert!(matches!(Failure::of(&e), Failure::Unreachable(_)), "{e}");
        }
        let digest = berth_core::Digest::of(b"m");
        let refused = [
            ServiceError::Registry(RegistryError::ModelNotFound("churn".into())),
            ServiceError::Registry(RegistryError::AliasNotFound { model: "churn".into(), alias: "production".into() }),
            ServiceError::Registry(RegistryError::Url { url: "mysql://x".into(), reason: "unknown engine".into() }),
            ServiceError::Store(StoreError::Corrupt {
                digest,
                actual: berth_core::Digest::of(b"n"),
                location: "s".into(),
            }),
            ServiceError::Store(StoreError::NotFound { digest, location: "s".into() }),
            ServiceError::input("not a model", None),
            ServiceError::Corrupt { message: "churn@3: manifest is unreadable".into(), hint: None },
        ];
        for e in refused {
            assert!(matches!(Failure::of(&e), Failure::Refused(_)), "{e}");
        }
        // What the failure says carries the error's hint.
        let shown = Failure::of(&ServiceError::Registry(RegistryError::ModelNotFound("churn".into())));
        assert!(shown.message().contains("churn") && shown.message().contains("berth models"), "{shown:?}");
    }

    #[test]
    fn at_start_only_a_no_stops_the_server() {
        let limit = Duration::from_secs(10);
        let note = at_start(&reference(), Some(Err(down())), limit).unwrap().unwrap();
        assert!(note.starts_with("cannot check churn@production now: cannot connect to PostgreSQL"), "{note}");
        assert!(note.ends_with("retrying in the background"), "{note}");
        let silent = at_start(&reference(), None, limit).unwrap().unwrap();
        assert_eq!(silent, "the registry did not answer within 10s; retrying in the background");
        let missing = ServiceError::Registry(RegistryError::ModelNotFound("churn".into()));
        let e = at_start(&reference(), Some(Err(missing)), limit).unwrap_err();
        assert!(matches!(e, ServiceError::Registry(RegistryError::ModelNotFound(_))), "{e}");
        let waiting = Some(Ok(Some("churn@production is not set yet".to_string())));
        assert_eq!(at_start(&reference(), waiting, limit).unwrap().as_deref(), Some("churn@production is not set yet"));
        assert_eq!(at_start(&reference(), Some(Ok(None)), limit).unwrap(), None);
    }

    #[tokio::test]
    async fn a_file_target_is_not_checked_at_start() {
        let t = Target::File { path: "not-there.berth".into(), name: None, features: None };
        assert_eq!(check_target(&t).await.unwrap(), None, "the server waits for the file to appear");
    }
}
