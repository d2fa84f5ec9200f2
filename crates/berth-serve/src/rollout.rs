//! Rollouts inside the server: a candidate version loaded beside the stable
//! one, requests routed between them (canary weights, a blue-green preview
//! or switch, shadow mirroring), the canary's analysis on a timer, and the
//! promotion (the environment moved in the registry) or abort at the end.
//!
//! The plan and the judgement live in `berth_deploy::rollout`; this module
//! does the I/O. The rollout is written to the state directory at every
//! change of phase, so a restarted server resumes it (each step's analysis
//! window starts afresh; the step's clock does not).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use berth_core::{AliasName, ModelName, Ref, Selector};
use berth_data::Table;
use berth_deploy::rollout::{
    Arm, Phase, RolloutSpec, RolloutState, ShadowStats, Side, StepRecord, Verdict, analyze, route,
};
use berth_deploy::{Event, EventKind};
use berth_ml::Prediction;
use berth_service::{Berth, Config};
use serde::{Deserialize, Serialize};

use crate::served::{Served, Source};
use crate::state::State;

/// The header that asks for the blue-green preview.
pub const PREVIEW_HEADER: &str = "x-berth-preview";

/// What rollouts need from the server's target: a ref that follows an
/// environment, and the means to reach the registry.
pub struct Control {
    pub config: Config,
    pub actor: String,
    pub model: ModelName,
    pub env: AliasName,
    pub features: Option<Vec<String>>,
    berth: tokio::sync::OnceCell<Berth>,
    /// Serialises starts, actions and the driver's transitions.
    pub lock: tokio::sync::Mutex<()>,
}

impl Control {
    /// Rollouts are possible when the server follows `NAME@ENV`.
    pub fn new(config: Config, actor: String, reference: &Ref, features: Option<Vec<String>>) -> Option<Control> {
        let Selector::Alias(env) = &reference.selector else { return None };
        Some(Control {
            config,
            actor,
            model: reference.model.clone(),
            env: env.clone(),
            features,
            berth: tokio::sync::OnceCell::new(),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    pub async fn berth(&self) -> Result<&Berth, String> {
        self.berth
            .get_or_try_init(|| Berth::open(self.config.clone(), self.actor.clone()))
            .await
            .map_err(|e| e.to_string())
    }

    fn file(&self) -> PathBuf {
        let dir = match self.config.state_dir() {
            Some(d) => d.join("serve"),
            None => std::env::temp_dir().join("berth-serve"),
        };
        dir.join(format!("rollout-{}_{}.json", self.model, self.env))
    }
}

/// What is written to disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Persisted {
    pub state: RolloutState,
    #[serde(default)]
    pub shadow: ShadowStats,
}

pub struct Rollout {
    pub state: Mutex<RolloutState>,
    pub candidate: Arc<Served>,
    /// Stable's traffic over the rollout, the candidate's in this step.
    arms: Mutex<(Arm, Arm)>,
    shadow: Mutex<ShadowStats>,
    sequence: AtomicU64,
    /// Mirrored requests being scored now (shadow).
    mirrors: AtomicUsize,
}

/// Mirrors allowed in flight before shadowing skips requests.
pub const MAX_MIRRORS: usize = 64;

/// Decrements the in-flight mirror count when a mirror ends, however it ends.
struct Finished<'a>(&'a AtomicUsize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One row's score as the analysis compares them.
fn scores(p: &Prediction) -> Vec<f64> {
    match (&p.probabilities, &p.values) {
        (Some(rows), _) => rows.iter().map(|r| r.first().copied().unwrap_or(f64::NAN)).collect(),
        (None, Some(v)) => v.clone(),
        (None, None) => Vec::new(),
    }
}

impl Rollout {
    fn new(state: RolloutState, candidate: Arc<Served>, shadow: ShadowStats) -> Rollout {
        Rollout {
            state: Mutex::new(state),
            candidate,
            arms: Mutex::new(Default::default()),
            shadow: Mutex::new(shadow),
            sequence: AtomicU64::new(0),
            mirrors: AtomicUsize::new(0),
        }
    }

    pub fn snapshot(&self) -> RolloutState {
        lock(&self.state).clone()
    }

    /// Which side answers this request.
    pub fn side(&self, headers: &HeaderMap) -> Side {
        let s = lock(&self.state);
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        match &s.phase {
            Phase::Canary { .. } => {
                let key = s.spec.sticky_header.as_deref().and_then(header);
                route(s.weight(), key, self.sequence.fetch_add(1, Ordering::Relaxed))
            }
            Phase::Preview => match header(PREVIEW_HEADER) {
                Some("1" | "true" | "yes") => Side::Candidate,
                _ => Side::Stable,
            },
            Phase::Switched => Side::Candidate,
            _ => Side::Stable,
        }
    }

    pub fn shadowing(&self) -> bool {
        lock(&self.state).phase == Phase::Shadowing
    }

    /// Counts an answered request on its side.
    pub fn record(&self, side: Side, ok: bool, latency: Duration, p: Option<&Prediction>) {
        let mut arms = lock(&self.arms);
        let arm = if side == Side::Candidate { &mut arms.1 } else { &mut arms.0 };
        arm.record(ok, latency.as_secs_f64() * 1e3);
        if let Some(p) = p {
            arm.predicted(scores(p), p.labels.clone().unwrap_or_default());
        }
    }

    /// Scores a request's rows on the candidate too and compares (shadow).
    /// At most [`MAX_MIRRORS`] run at once; beyond, a request is counted as
    /// skipped rather than queued.
    pub fn mirror(self: &Arc<Self>, table: Table, stable: Prediction, stable_took: Duration) {
        if self.mirrors.fetch_add(1, Ordering::AcqRel) >= MAX_MIRRORS {
            self.mirrors.fetch_sub(1, Ordering::AcqRel);
            lock(&self.shadow).skipped += 1;
            return;
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let _done = Finished(&me.mirrors);
            let started = Instant::now();
            let answer = me.candidate.scorer.predict(&table);
            let took = started.elapsed();
            let mut s = lock(&me.shadow);
            s.requests += 1;
            s.stable_ms_sum += stable_took.as_secs_f64() * 1e3;
            s.candidate_ms_sum += took.as_secs_f64() * 1e3;
            match answer {
                Ok(c) => s.compare((&scores(&stable), stable.labels.as_deref()), (&scores(&c), c.labels.as_deref())),
                Err(_) => s.candidate_errors += 1,
            }
        });
    }

    /// What `GET /admin/rollout` shows.
    pub fn status(&self) -> serde_json::Value {
        let s = self.snapshot();
        if !s.phase.active() {
            return ended(&self.persisted());
        }
        let arms = lock(&self.arms).clone();
        let analysis = match s.phase {
            Phase::Canary { .. } => serde_json::to_value(analyze(&arms.0, &arms.1, &s.spec.thresholds)).ok(),
            _ => None,
        };
        let arm = |a: &Arm| {
            serde_json::json!({
                "requests": a.requests, "errors": a.errors, "error_rate": a.error_rate(), "p99_ms": a.p99(), "labels": a.labels,
            })
        };
        serde_json::json!({
            "active": s.phase.active(),
            "rollout": s,
            "weight": s.weight(),
            "candidate": self.candidate.label(),
            "step": { "stable": arm(&arms.0), "candidate": arm(&arms.1) },
            "analysis": analysis,
            "shadow": lock(&self.shadow).summary(),
        })
    }

    fn persisted(&self) -> Persisted {
        Persisted { state: self.snapshot(), shadow: lock(&self.shadow).clone() }
    }
}

fn save(control: &Control, p: &Persisted) {
    let at = control.file();
    let write = || -> std::io::Result<()> {
        if let Some(d) = at.parent() {
            std::fs::create_dir_all(d)?;
        }
        let tmp = at.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(p).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, &at)
    };
    if let Err(e) = write() {
        tracing::warn!("cannot save the rollout to {}: {e}", at.display());
    }
}

fn load(control: &Control) -> Option<Persisted> {
    let text = std::fs::read_to_string(control.file()).ok()?;
    serde_json::from_str(&text).map_err(|e| tracing::warn!("ignoring an unreadable rollout file: {e}")).ok()
}

/// Fetches (verified), opens and smoke-tests a version of the served model.
async fn load_candidate(state: &Arc<State>, control: &Control, version: u64) -> Result<Served, String> {
    let berth = control.berth().await?;
    let pinned = Ref { model: control.model.clone(), selector: Selector::Version(version) };
    let started = Instant::now();
    let (file, digest, _) = berth.fetch_model(&pinned).await.map_err(|e| e.to_string())?;
    let path = match file {
        berth_service::ModelFile::Berth(p) | berth_service::ModelFile::Onnx(p) => p,
    };
    let (st, features, name) = (state.clone(), control.features.clone(), control.model.to_string());
    tokio::task::spawn_blocking(move || {
        crate::loader::open_checked(
            &st,
            name,
            version.to_string(),
            digest.to_string(),
            Source::Store,
            path,
            features,
            started,
        )
    })
    .await
    .map_err(|e| format!("the load was interrupted: {e}"))?
}

/// A refusal of a rollout request: the HTTP status and why.
pub type Refused = (u16, String);

/// A service error as a refusal: a policy's no is 403 with everything
/// missing and its fixes; unknown versions and bad input are 4xx; the rest
/// means the registry or store could not be reached.
fn refusal(e: &berth_service::ServiceError, context: &str) -> Refused {
    use berth_core::{ErrorClass, Exit};
    let hint = e.hint().map(|h| format!(" (to fix: {h})")).unwrap_or_default();
    let status = match (e, e.class()) {
        (berth_service::ServiceError::Denied { .. }, _) => 403,
        (_, ErrorClass::Input | ErrorClass::Failed) => 422,
        (_, ErrorClass::Infra) => 503,
    };
    (status, format!("{context}: {e}{hint}"))
}

/// Starts a rollout of `spec.candidate` against the version serving now.
pub async fn start(state: &Arc<State>, spec: RolloutSpec) -> Result<serde_json::Value, Refused> {
    let Some(control) = state.control.as_ref() else {
        return Err((
            409,
            format!("rollouts need a server that follows an environment (NAME@ENV); this one serves {}", state.target),
        ));
    };
    let problems = spec.problems();
    if !problems.is_empty() {
        return Err((400, problems.join("; ")));
    }
    let _guard = control.lock.lock().await;
    if let Some(r) = state.rollout() {
        let s = r.snapshot();
        return Err((
            409,
            format!(
                "a {} rollout of {} is already running; abort or finish it first",
                s.spec.strategy.as_str(),
                r.candidate.label()
            ),
        ));
    }
    let Some(stable) = state.current().filter(|c| c.source == Source::Store) else {
        return Err((409, "no version from the registry is serving yet; wait until /health says ready".into()));
    };
    let stable_version: u64 =
        stable.version.parse().map_err(|_| (409, format!("{} has no version number", stable.label())))?;
    if stable_version == spec.candidate {
        return Err((400, format!("{} is already serving; pick another candidate", stable.label())));
    }
    let berth = control.berth().await.map_err(|e| (503, e))?;
    berth
        .rollout_allowed(&control.model, &control.env, spec.candidate)
        .await
        .map_err(|e| refusal(&e, "cannot start the rollout"))?;
    let candidate = load_candidate(state, control, spec.candidate)
        .await
        .map_err(|e| (422, format!("cannot load the candidate: {e}")))?;
    let rs = RolloutState::new(control.model.as_str(), Some(control.env.as_str()), stable_version, spec, now_ms());
    let rollout = Arc::new(Rollout::new(rs, Arc::new(candidate), ShadowStats::default()));
    save(control, &rollout.persisted());
    tracing::info!(strategy = rollout.snapshot().spec.strategy.as_str(), candidate = %rollout.candidate.label(), "rollout started");
    state.set_rollout(Some(rollout.clone()));
    Ok(rollout.status())
}

/// An operator's action: promote, abort, switch, back, finish.
pub async fn act(state: &Arc<State>, action: &str) -> Result<serde_json::Value, Refused> {
    let Some(control) = state.control.as_ref() else { return Err((409, "no rollout can run on this server".into())) };
    let _guard = control.lock.lock().await;
    let Some(r) = state.rollout() else { return Err((409, "no rollout is running".into())) };
    let phase = r.snapshot().phase;
    match (action, &phase) {
        ("abort", _) => end(state, control, &r, Ending::Abort("aborted by an operator".into())).await,
        ("promote", Phase::Canary { .. } | Phase::Switched) | ("finish", Phase::Switched) => {
            end(state, control, &r, Ending::Promote("promoted by an operator".into())).await
        }
        ("finish", Phase::Preview | Phase::Shadowing) => end(state, control, &r, Ending::Stop).await,
        ("switch", Phase::Preview) => {
            transition(control, &r, Phase::Switched);
            Ok(())
        }
        ("back", Phase::Switched) => {
            transition(control, &r, Phase::Preview);
            Ok(())
        }
        _ => Err((
            409,
            format!(
                "cannot {action} a {} rollout in phase {}; see GET /admin/rollout",
                r.snapshot().spec.strategy.as_str(),
                serde_json::to_value(&phase)
                    .ok()
                    .and_then(|v| v["phase"].as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        )),
    }?;
    Ok(state.rollout().map(|r| r.status()).unwrap_or_else(|| last_status(state)))
}

/// Moves to the next phase or step. The candidate's window starts afresh;
/// stable's keeps accumulating over the whole rollout, so that a step
/// where the candidate takes every request still has stable's behaviour to
/// be held against.
fn transition(control: &Control, r: &Rollout, phase: Phase) {
    lock(&r.state).phase = phase;
    lock(&r.arms).1 = Arm::default();
    save(control, &r.persisted());
}

/// The last rollout, ended, as `GET /admin/rollout` shows it.
pub fn last_status(state: &State) -> serde_json::Value {
    match state.control.as_ref().and_then(load) {
        Some(p) => ended(&p),
        None => serde_json::json!({ "active": false, "last": null }),
    }
}

fn ended(p: &Persisted) -> serde_json::Value {
    serde_json::json!({ "active": false, "last": { "state": p.state, "shadow": p.shadow.summary() } })
}

enum Ending {
    Promote(String),
    Abort(String),
    /// A shadow or an unswitched blue-green ends: nothing moves.
    Stop,
}

/// Ends a rollout: moves the environment and serves the candidate
/// (promote), or drops the candidate (abort, stop). Notifies either way.
async fn end(state: &Arc<State>, control: &Control, r: &Arc<Rollout>, how: Ending) -> Result<(), Refused> {
    let at_ms = now_ms();
    let snapshot = r.snapshot();
    let candidate = snapshot.spec.candidate;
    let (phase, event) = match &how {
        Ending::Promote(reason) => {
            let berth = control.berth().await.map_err(|e| (503, e))?;
            let record = serde_json::json!({"strategy": snapshot.spec.strategy, "steps": snapshot.steps});
            berth
                .rollout_promote(&control.model, &control.env, candidate, reason, record)
                .await
                .map_err(|e| refusal(&e, &format!("cannot move {}@{}", control.model, control.env)))?;
            // Serve the candidate as the stable version from now on.
            state.install_shared(r.candidate.clone(), None);
            (
                Phase::Promoted { at_ms },
                Some((
                    EventKind::RolloutPromoted,
                    format!(
                        "{}@{candidate} promoted to {} by a {} rollout",
                        control.model,
                        control.env,
                        snapshot.spec.strategy.as_str()
                    ),
                    reason.clone(),
                )),
            )
        }
        Ending::Abort(reason) => (
            Phase::Aborted { at_ms, reason: reason.clone() },
            Some((
                EventKind::RolloutAborted,
                format!(
                    "{} rollout of {}@{candidate} to {} aborted: {reason}",
                    snapshot.spec.strategy.as_str(),
                    control.model,
                    control.env
                ),
                reason.clone(),
            )),
        ),
        Ending::Stop => (Phase::Ended { at_ms }, None),
    };
    lock(&r.state).phase = phase;
    save(control, &r.persisted());
    state.set_rollout(None);
    tracing::info!(candidate, outcome = ?r.snapshot().phase, "rollout ended");
    if let Some((kind, summary, reason)) = event
        && let Ok(berth) = control.berth().await
    {
        let e = Event::new(kind, berth_core::Clock::now(&berth_core::SystemClock), &control.actor, summary)
            .version(&control.model, candidate)
            .env(control.env.as_str())
            .details(
                serde_json::json!({"reason": reason, "strategy": snapshot.spec.strategy, "steps": r.snapshot().steps}),
            );
        berth.notify(e).await;
    }
    Ok(())
}

/// Resumes a persisted rollout, then judges canary steps as their pauses
/// end, forever.
pub async fn drive(state: Arc<State>) {
    let Some(control) = state.control.as_ref() else { return };
    resume(&state, control).await;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(r) = state.rollout() else { continue };
        let s = r.snapshot();
        let Phase::Canary { step, since_ms } = s.phase else { continue };
        if now_ms() - since_ms < s.spec.pause_ms as i64 {
            continue;
        }
        let arms = lock(&r.arms).clone();
        let verdict = analyze(&arms.0, &arms.1, &s.spec.thresholds);
        let _guard = control.lock.lock().await;
        if state.rollout().is_none_or(|now| !Arc::ptr_eq(&now, &r)) {
            continue; // ended meanwhile
        }
        let weight = s.weight();
        match verdict {
            Verdict::Wait { .. } => {}
            Verdict::Pass { checks } => {
                lock(&r.state).steps.push(StepRecord { weight, at_ms: now_ms(), passed: true, checks });
                if step + 1 < s.spec.steps.len() {
                    tracing::info!(weight, next = s.spec.steps[step + 1], "canary step passed");
                    transition(control, &r, Phase::Canary { step: step + 1, since_ms: now_ms() });
                } else {
                    let reason = format!("canary passed every step ({:?}%)", s.spec.steps);
                    match end(&state, control, &r, Ending::Promote(reason)).await {
                        Err((403, e)) => {
                            tracing::warn!("the canary passed but the environment's policy refuses it: {e}");
                            let _ = end(&state, control, &r, Ending::Abort(e)).await;
                        }
                        Err((_, e)) => tracing::warn!("the canary passed but cannot be promoted yet: {e}"),
                        Ok(()) => {}
                    }
                }
            }
            Verdict::Fail { checks } => {
                let failed: Vec<String> =
                    checks.iter().filter(|c| !c.passed).map(|c| format!("{}: {}", c.name, c.detail)).collect();
                lock(&r.state).steps.push(StepRecord { weight, at_ms: now_ms(), passed: false, checks });
                let reason = format!("analysis at {weight}% failed: {}", failed.join("; "));
                tracing::warn!("{reason}");
                let _ = end(&state, control, &r, Ending::Abort(reason)).await;
            }
        }
    }
}

async fn resume(state: &Arc<State>, control: &Control) {
    let Some(p) = load(control) else { return };
    if !p.state.phase.active() {
        return;
    }
    let candidate = p.state.spec.candidate;
    // Retry until the candidate can be had: the registry may be starting too.
    let mut wait = Duration::from_millis(200);
    loop {
        match load_candidate(state, control, candidate).await {
            Ok(served) => {
                tracing::info!(candidate = %served.label(), "resuming the rollout");
                state.set_rollout(Some(Arc::new(Rollout::new(p.state, Arc::new(served), p.shadow))));
                return;
            }
            Err(e) => {
                tracing::warn!("cannot resume the rollout of version {candidate} yet: {e}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}
