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

use axum::http::{HeaderMap, StatusCode};
use berth_core::{AliasName, ModelName, Ref, Selector};
use berth_data::Table;
use berth_deploy::rollout::{
    Arm, Phase, RolloutSpec, RolloutState, ShadowStats, Side, StepRecord, Verdict, analyze, route,
};
use berth_ml::Prediction;
use berth_service::{ErrorKind, Operations, RolloutEnd};
use serde::{Deserialize, Serialize};

use crate::loader::Identity;
use crate::reach::Reach;
use crate::refusal::Refusal;
use crate::served::{Served, Source};
use crate::state::State;

/// The header that asks for the blue-green preview.
pub const PREVIEW_HEADER: &str = "x-berth-preview";

/// What rollouts need from the server's target: a ref that follows an
/// environment, and the means to reach the registry.
pub struct Control {
    pub reach: Arc<Reach>,
    pub model: ModelName,
    pub env: AliasName,
    pub features: Option<Vec<String>>,
    berth: tokio::sync::OnceCell<Arc<dyn Operations>>,
    /// Serialises starts, actions and the driver's transitions.
    pub lock: tokio::sync::Mutex<()>,
}

impl Control {
    /// Rollouts are possible when the server follows `NAME@ENV`.
    pub fn new(reach: Arc<Reach>, reference: &Ref, features: Option<Vec<String>>) -> Option<Control> {
        let Selector::Alias(env) = &reference.selector else { return None };
        Some(Control {
            reach,
            model: reference.model.clone(),
            env: env.clone(),
            features,
            berth: tokio::sync::OnceCell::new(),
            lock: tokio::sync::Mutex::new(()),
        })
    }

    pub async fn berth(&self) -> Result<&Arc<dyn Operations>, String> {
        self.berth.get_or_try_init(|| self.reach.open()).await.map_err(|e| e.to_string())
    }

    fn file(&self) -> PathBuf {
        self.reach.state("serve").join(format!("rollout-{}_{}.json", self.model, self.env))
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
    /// The candidate's verified copy, remembered for restarts once it is promoted.
    candidate_file: PathBuf,
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
    fn new(state: RolloutState, (candidate, candidate_file): (Served, PathBuf), shadow: ShadowStats) -> Rollout {
        Rollout {
            state: Mutex::new(state),
            candidate: Arc::new(candidate),
            candidate_file,
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
            if let (Ok(c), Some(live)) = (&answer, &me.candidate.live) {
                live.observe(&table, c);
            }
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
    if let Err(e) = crate::state::write_json(&at, p) {
        tracing::warn!("cannot save the rollout to {}: {e}", at.display());
    }
}

fn load(control: &Control) -> Option<Persisted> {
    let text = std::fs::read_to_string(control.file()).ok()?;
    serde_json::from_str(&text).map_err(|e| tracing::warn!("ignoring an unreadable rollout file: {e}")).ok()
}

/// Fetches (verified), opens and smoke-tests a version of the served model;
/// returns it and its verified copy.
async fn load_candidate(state: &Arc<State>, control: &Control, version: u64) -> Result<(Served, PathBuf), String> {
    let berth = control.berth().await?;
    let pinned = Ref { model: control.model.clone(), selector: Selector::Version(version) };
    let started = Instant::now();
    let (file, digest, v) = berth.fetch_model(&pinned).await.map_err(|e| e.to_string())?;
    let profile = crate::profile::of_version(berth.as_ref(), &v, &control.reach, &digest.to_string()).await;
    let path = file.path().to_path_buf();
    let identity = Identity {
        name: control.model.to_string(),
        version: version.to_string(),
        digest: digest.to_string(),
        source: Source::Store,
    };
    let (st, features) = (state.clone(), control.features.clone());
    let file = path.clone();
    let served = tokio::task::spawn_blocking(move || {
        crate::loader::open_checked(&st, identity, path, features, profile, started)
    })
    .await
    .map_err(|e| format!("the load was interrupted: {e}"))??;
    Ok((served, file))
}

/// What an operator can ask of a running rollout, as the last segment of
/// `POST /admin/rollout/{action}` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Move the environment to the candidate now (a canary, or a switched blue-green).
    Promote,
    /// Drop the candidate; the environment stays where it is.
    Abort,
    /// Blue-green: the candidate answers everything.
    Switch,
    /// Blue-green: back to the preview, stable answers again.
    Back,
    /// End the rollout as its phase allows: promote a switched blue-green,
    /// stop a preview or a shadow.
    Finish,
}

impl Action {
    pub const ALL: [Action; 5] = [Action::Promote, Action::Abort, Action::Switch, Action::Back, Action::Finish];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Promote => "promote",
            Action::Abort => "abort",
            Action::Switch => "switch",
            Action::Back => "back",
            Action::Finish => "finish",
        }
    }

    /// The action a path segment names; anything else is a 404 that lists them.
    pub fn parse(s: &str) -> Result<Action, Refusal> {
        Action::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            let all: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
            Refusal::not_found(format!("no rollout action {s:?}; the actions are {}", all.join(", ")))
        })
    }
}

/// What an action does in a phase; `None` when the phase does not allow it.
fn step_for(action: Action, phase: &Phase) -> Option<Step> {
    match (action, phase) {
        (Action::Abort, _) => Some(Step::End(Ending::Abort("aborted by an operator".into()))),
        (Action::Promote, Phase::Canary { .. } | Phase::Switched) | (Action::Finish, Phase::Switched) => {
            Some(Step::End(Ending::Promote("promoted by an operator".into())))
        }
        (Action::Finish, Phase::Preview | Phase::Shadowing) => Some(Step::End(Ending::Stop)),
        (Action::Switch, Phase::Preview) => Some(Step::Move(Phase::Switched)),
        (Action::Back, Phase::Switched) => Some(Step::Move(Phase::Preview)),
        _ => None,
    }
}

/// What an operator's action comes to: the rollout ends, or it moves to
/// another phase.
#[derive(Debug, PartialEq)]
enum Step {
    End(Ending),
    Move(Phase),
}

/// A service error as a refusal: what went wrong and how to fix it, under
/// the status its kind calls for ([`refusal_status`]).
fn refusal(e: &berth_service::ServiceError, context: &str) -> Refusal {
    let hint = e.hint().map(|h| format!(" (to fix: {h})")).unwrap_or_default();
    Refusal::new(refusal_status(e.kind()), format!("{context}: {}{hint}", e.message()))
}

/// The status of a rollout call the service refused. A policy's no is 403,
/// the message naming everything missing. The call is about the
/// rollout, not the versions it names, so a version that does not exist or
/// an environment in the wrong state makes the request unprocessable (422)
/// rather than a missing route (404) or a clash with another call (409). A
/// damaged store or registry, like an unreachable one, leaves this server
/// unable to roll out until an operator acts (503: the rollout may be asked
/// for again, unchanged, once it is repaired).
fn refusal_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Denied | ErrorKind::Unauthenticated => StatusCode::FORBIDDEN,
        ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::BadInput => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unavailable | ErrorKind::Corrupt => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The registry could not be opened for a rollout.
fn no_registry(e: String) -> Refusal {
    Refusal::new(StatusCode::SERVICE_UNAVAILABLE, e)
}

/// Starts a rollout of `spec.candidate` against the version serving now.
pub async fn start(state: &Arc<State>, spec: RolloutSpec) -> Result<serde_json::Value, Refusal> {
    let Some(control) = state.control.as_ref() else {
        return Err(Refusal::conflict(format!(
            "rollouts need a server that follows an environment (NAME@ENV); this one serves {}",
            state.target
        )));
    };
    let problems = spec.problems();
    if !problems.is_empty() {
        return Err(Refusal::malformed(problems.join("; ")));
    }
    let _guard = control.lock.lock().await;
    if let Some(r) = state.rollout() {
        let s = r.snapshot();
        return Err(Refusal::conflict(format!(
            "a {} rollout of {} is already running; abort or finish it first",
            s.spec.strategy.as_str(),
            r.candidate.label()
        )));
    }
    let Some(stable) = state.current().filter(|c| c.source == Source::Store) else {
        return Err(Refusal::conflict("no version from the registry is serving yet; wait until /health says ready"));
    };
    let stable_version: u64 =
        stable.version.parse().map_err(|_| Refusal::conflict(format!("{} has no version number", stable.label())))?;
    if stable_version == spec.candidate {
        return Err(Refusal::malformed(format!("{} is already serving; pick another candidate", stable.label())));
    }
    let berth = control.berth().await.map_err(no_registry)?;
    berth
        .rollout_allowed(&control.model, &control.env, spec.candidate)
        .await
        .map_err(|e| refusal(&e, "cannot start the rollout"))?;
    let candidate = load_candidate(state, control, spec.candidate)
        .await
        .map_err(|e| Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, format!("cannot load the candidate: {e}")))?;
    let rs = RolloutState::new(control.model.as_str(), Some(control.env.as_str()), stable_version, spec, now_ms());
    let rollout = Arc::new(Rollout::new(rs, candidate, ShadowStats::default()));
    save(control, &rollout.persisted());
    tracing::info!(strategy = rollout.snapshot().spec.strategy.as_str(), candidate = %rollout.candidate.label(), "rollout started");
    state.set_rollout(Some(rollout.clone()));
    Ok(rollout.status())
}

/// Carries out an operator's action on the running rollout.
pub async fn act(state: &Arc<State>, action: Action) -> Result<serde_json::Value, Refusal> {
    let Some(control) = state.control.as_ref() else {
        return Err(Refusal::conflict("no rollout can run on this server"));
    };
    let _guard = control.lock.lock().await;
    let Some(r) = state.rollout() else { return Err(Refusal::conflict("no rollout is running")) };
    let snapshot = r.snapshot();
    match step_for(action, &snapshot.phase) {
        Some(Step::End(how)) => end(state, control, &r, how).await?,
        Some(Step::Move(phase)) => transition(control, &r, phase),
        None => {
            return Err(Refusal::conflict(format!(
                "cannot {} a {} rollout in phase {}; see GET /admin/rollout",
                action.as_str(),
                snapshot.spec.strategy.as_str(),
                serde_json::to_value(&snapshot.phase)
                    .ok()
                    .and_then(|v| v["phase"].as_str().map(str::to_string))
                    .unwrap_or_default()
            )));
        }
    }
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

/// How a rollout ends.
#[derive(Debug, PartialEq)]
enum Ending {
    Promote(String),
    Abort(String),
    /// A shadow or an unswitched blue-green ends: nothing moves.
    Stop,
}

/// Ends a rollout: moves the environment and serves the candidate
/// (promote), or drops the candidate (abort, stop). Notifies either way.
async fn end(state: &Arc<State>, control: &Control, r: &Arc<Rollout>, how: Ending) -> Result<(), Refusal> {
    let at_ms = now_ms();
    let snapshot = r.snapshot();
    let candidate = snapshot.spec.candidate;
    let end = |reason: &str| RolloutEnd {
        model: control.model.clone(),
        env: control.env.clone(),
        candidate,
        reason: reason.to_string(),
        record: serde_json::json!({"strategy": snapshot.spec.strategy, "steps": snapshot.steps}),
    };
    let (phase, aborted) = match &how {
        Ending::Promote(reason) => {
            let berth = control.berth().await.map_err(no_registry)?;
            berth
                .rollout_promote(&end(reason))
                .await
                .map_err(|e| refusal(&e, &format!("cannot move {}@{}", control.model, control.env)))?;
            // Serve the candidate as the stable version from now on, and
            // after a restart while the registry is out of reach.
            state.install_shared(r.candidate.clone(), None);
            let followed = Ref { model: control.model.clone(), selector: Selector::Alias(control.env.clone()) };
            crate::loader::remember(&control.reach, &followed, &r.candidate, r.candidate_file.clone());
            (Phase::Promoted { at_ms }, None)
        }
        Ending::Abort(reason) => (Phase::Aborted { at_ms, reason: reason.clone() }, Some(end(reason))),
        Ending::Stop => (Phase::Ended { at_ms }, None),
    };
    lock(&r.state).phase = phase;
    save(control, &r.persisted());
    state.set_rollout(None);
    tracing::info!(candidate, outcome = ?r.snapshot().phase, "rollout ended");
    if let Some(end) = aborted {
        let told = match control.berth().await {
            Ok(berth) => berth.rollout_aborted(&end).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        if let Err(e) = told {
            tracing::warn!("the abort of the rollout was not announced: {e}");
        }
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
                        Err(e) if e.status == StatusCode::FORBIDDEN => {
                            tracing::warn!("the canary passed but the environment's policy refuses it: {}", e.message);
                            let _ = end(&state, control, &r, Ending::Abort(e.message)).await;
                        }
                        Err(e) => tracing::warn!("the canary passed but cannot be promoted yet: {}", e.message),
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
            Ok(loaded) => {
                tracing::info!(candidate = %loaded.0.label(), "resuming the rollout");
                state.set_rollout(Some(Arc::new(Rollout::new(p.state, loaded, p.shadow))));
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

#[cfg(test)]
mod tests {
    use super::*;
    use berth_registry::RegistryError;
    use berth_service::ServiceError;

    #[test]
    fn actions_parse_from_their_path_segment_and_anything_else_lists_them() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Ok(a));
        }
        let r = Action::parse("explode").unwrap_err();
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.message.contains("\"explode\""), "{}", r.message);
        assert!(r.message.contains("promote, abort, switch, back, finish"), "{}", r.message);
        assert!(Action::parse("Promote").is_err(), "actions are lowercase, as the CLI sends them");
        assert!(Action::parse("").is_err());
    }

    #[test]
    fn each_phase_allows_only_the_actions_that_make_sense_in_it() {
        let canary = Phase::Canary { step: 0, since_ms: 0 };
        let promote = Some(Step::End(Ending::Promote("promoted by an operator".into())));
        let abort = Some(Step::End(Ending::Abort("aborted by an operator".into())));
        assert_eq!(step_for(Action::Promote, &canary), promote);
        assert_eq!(step_for(Action::Abort, &canary), abort);
        assert_eq!(step_for(Action::Switch, &canary), None);
        assert_eq!(step_for(Action::Finish, &canary), None, "a canary ends by its analysis or a promote");
        assert_eq!(step_for(Action::Switch, &Phase::Preview), Some(Step::Move(Phase::Switched)));
        assert_eq!(step_for(Action::Back, &Phase::Switched), Some(Step::Move(Phase::Preview)));
        assert_eq!(step_for(Action::Back, &Phase::Preview), None);
        assert_eq!(step_for(Action::Finish, &Phase::Switched), promote, "a switched blue-green finishes by promoting");
        assert_eq!(step_for(Action::Finish, &Phase::Preview), Some(Step::End(Ending::Stop)));
        assert_eq!(step_for(Action::Finish, &Phase::Shadowing), Some(Step::End(Ending::Stop)));
        assert_eq!(step_for(Action::Promote, &Phase::Shadowing), None, "a shadow never moves the environment");
        assert_eq!(step_for(Action::Abort, &Phase::Shadowing), abort);
    }

    #[test]
    fn service_errors_become_refusals_by_what_the_caller_can_do() {
        let denied = ServiceError::Denied {
            message: "the policy of production is not met".into(),
            hint: Some("berth validate churn@3 --gate gates/production.toml".into()),
            missing: Vec::new(),
        };
        let r = refusal(&denied, "cannot start the rollout");
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            r.message,
            "cannot start the rollout: the policy of production is not met \
             (to fix: berth validate churn@3 --gate gates/production.toml)"
        );
        let missing = ServiceError::Registry(RegistryError::VersionNotFound {
            model: "churn".into(),
            version: 9,
            latest: "3".into(),
        });
        assert_eq!(refusal(&missing, "x").status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refusal(&missing, "x").message.contains("berth versions churn"), "the hint comes along");
        assert_eq!(refusal(&ServiceError::input("bad", None), "x").status, StatusCode::UNPROCESSABLE_ENTITY);
        let down = ServiceError::Registry(RegistryError::Unreachable {
            engine: "PostgreSQL",
            address: "127.0.0.1:1".into(),
            reason: "connection refused".into(),
        });
        assert_eq!(refusal(&down, "x").status, StatusCode::SERVICE_UNAVAILABLE);
        let infra = ServiceError::Infra { message: "disk full".into(), hint: None };
        assert_eq!(refusal(&infra, "x"), Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "x: disk full"));
        let corrupt = ServiceError::Corrupt { message: "churn@3: manifest is unreadable".into(), hint: None };
        assert_eq!(refusal(&corrupt, "x").status, StatusCode::SERVICE_UNAVAILABLE, "an operator must repair it");
        let nothing_earlier = ServiceError::Registry(RegistryError::NothingToRollBack {
            model: "churn".into(),
            env: "production".into(),
            current: Some(1),
            moves: 1,
        });
        assert_eq!(refusal(&nothing_earlier, "x").status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
