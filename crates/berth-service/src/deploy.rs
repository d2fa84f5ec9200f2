//! Moving versions between environments under their policies: promote,
//! approve, roll back (by hand, or `check` on degraded live metrics), the
//! deployment history, and the notifications each of these sends.

use std::collections::BTreeMap;

use berth_core::{
    AliasEvent, AliasName, Approval, Delivery, Digest, GateRecord, ModelName, MoveKind, Ref, VersionRecord,
};
use berth_deploy::degradation::{DegradationReport, compare};
use berth_deploy::notify::Outcome;
use berth_deploy::policy::{Missing, counted_approvals};
use berth_deploy::{Event, EventKind};
use berth_registry::{ApprovalFilter, Deploy, DeployTarget};
use serde::{Deserialize, Serialize};

use berth_core::Role;

use crate::environment::{Rule, not_a_promoter};
use crate::seam::RolloutEnd;
use crate::{Berth, Result, ServiceError};

/// A requirement a promotion does not meet, with what to do about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lack {
    pub message: String,
    pub fix: String,
    pub detail: Missing,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromoteReport {
    pub model: ModelName,
    pub version: u64,
    pub env: AliasName,
    /// What the environment pointed at before.
    pub from: Option<u64>,
    /// True when the environment now points at the version because of this call.
    pub promoted: bool,
    /// Empty when the policy is met.
    pub missing: Vec<Lack>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<AliasEvent>,
    pub notified: Vec<Outcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApproveReport {
    pub approval: Approval,
    /// False when this approver had approved already (the first approval stands).
    pub new: bool,
    /// Approvals that count for the environment's policy, and how many it needs.
    pub counted: u32,
    pub needed: u32,
    pub notified: Vec<Outcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollbackReport {
    pub model: ModelName,
    pub env: AliasName,
    pub deployment: AliasEvent,
    pub notified: Vec<Outcome>,
}

/// `berth check`: what to hold against the version live in an environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckRequest {
    pub model: ModelName,
    pub env: AliasName,
    /// Live metrics by the gate's names.
    pub live: BTreeMap<String, f64>,
    /// The largest drop allowed (a fraction); default: the environment's policy.
    #[serde(default)]
    pub max_degradation: Option<f64>,
    /// Compare only; never roll back.
    #[serde(default)]
    pub dry_run: bool,
    /// Kept with a rollback beside the comparison (`berth monitor` names its report).
    #[serde(default)]
    pub evidence: Option<serde_json::Value>,
}

/// `berth check`: live metrics against the gate metrics of the live version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub model: ModelName,
    pub env: AliasName,
    pub version: u64,
    /// Where the comparison's reference came from: `gate NAME (report ID)` or
    /// `training metrics`.
    pub against: String,
    #[serde(flatten)]
    pub comparison: DegradationReport,
    pub degraded: bool,
    /// Set when the check rolled the environment back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<AliasEvent>,
    /// Why a degraded version could not be rolled back (no earlier healthy version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_refused: Option<String>,
    pub dry_run: bool,
    pub notified: Vec<Outcome>,
}

/// One line of `berth deployments`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentRecord {
    #[serde(flatten)]
    pub event: AliasEvent,
    /// The digests of the gate reports the move rested on.
    pub gate_reports: Vec<String>,
}

pub(crate) fn digest_of_report(g: &GateRecord) -> String {
    Digest::of(g.report.to_string().as_bytes()).to_string()
}

impl Berth {
    /// Sends an event to the configured notifiers; never fails.
    pub async fn notify(&self, event: Event) -> Vec<Outcome> {
        if self.notifiers.is_empty() {
            return Vec::new();
        }
        self.notifiers.send(&*self.registry, &event).await
    }

    fn event(&self, kind: EventKind, summary: String) -> Event {
        Event::new(kind, self.now(), &self.actor.name, summary)
    }

    /// Promotes a version to an environment if its policy is met; otherwise
    /// reports everything that is missing (and asks for approval when
    /// approvals are among it).
    pub async fn promote(&self, r: &Ref, env: &AliasName, reason: Option<&str>) -> Result<PromoteReport> {
        self.promote_into(r, env, reason, false).await
    }

    /// [`Berth::promote`]; `new_env` allows an environment name that neither
    /// `berth.toml` nor the model knows yet.
    pub async fn promote_into(
        &self,
        r: &Ref,
        env: &AliasName,
        reason: Option<&str>,
        new_env: bool,
    ) -> Result<PromoteReport> {
        self.allow(Role::Deployer, Some(&r.model), Some(env))?;
        let v = self.registry.resolve(r).await?;
        self.known_environment(&v.model, env, new_env).await?;
        let assessment = self.assess(&v, env).await?;
        let from = self.registry.aliases(&v.model).await?.get(env.as_str()).copied();
        let mut report = PromoteReport {
            model: v.model.clone(),
            version: v.version,
            env: env.clone(),
            from,
            promoted: false,
            missing: assessment.missing.clone(),
            deployment: None,
            notified: Vec::new(),
        };
        if !report.missing.is_empty() {
            if report.missing.iter().any(|m| matches!(m.detail, Missing::Approvals { .. })) {
                let e = self
                    .event(
                        EventKind::PromotionRequested,
                        format!("{}@{} awaits approval for {env}", v.model, v.version),
                    )
                    .version(&v.model, v.version)
                    .env(env.as_str())
                    .details(serde_json::json!({"missing": report.missing, "reason": reason}));
                report.notified = self.notify(e).await;
            }
            return Ok(report);
        }
        // Judged again inside the move's transaction, on what holds then.
        let guard = self.guard(Rule::Policy { how: "the promotion", extra: None });
        let d = Deploy {
            model: &v.model,
            env,
            to: DeployTarget::Version(v.version),
            kind: MoveKind::Promote,
            reason,
            evidence: None,
            guard: Some(&guard),
        };
        report.deployment = self.registry.deploy(d, &self.actor).await.map_err(|e| Berth::refused(&guard, e))?;
        report.promoted = report.deployment.is_some();
        if report.promoted {
            let e = self
                .event(EventKind::PromotionDone, format!("{}@{} promoted to {env}", v.model, v.version))
                .version(&v.model, v.version)
                .env(env.as_str())
                .details(serde_json::json!({"from": from, "reason": reason}));
            report.notified = self.notify(e).await;
        }
        Ok(report)
    }

    /// Whether a rollout of version `candidate` into `env` may start: the
    /// same requirements as a promotion, refused with everything missing.
    pub async fn rollout_allowed(&self, model: &ModelName, env: &AliasName, candidate: u64) -> Result<()> {
        self.allow(Role::Deployer, Some(model), Some(env))?;
        let v = self.registry.version(model, candidate).await?;
        let assessment = self.assess(&v, env).await?;
        if assessment.missing.is_empty() { Ok(()) } else { Err(assessment.denial(&v, env, "a rollout")) }
    }

    /// The end of a successful rollout: the policy is checked again (a
    /// rollout can run for hours) and the environment moved with kind
    /// `rollout`, the rollout's record and the policy's evidence attached;
    /// the notifiers are told.
    pub async fn rollout_promote(&self, end: &RolloutEnd) -> Result<Option<AliasEvent>> {
        let (model, env) = (&end.model, &end.env);
        self.allow(Role::Deployer, Some(model), Some(env))?;
        let guard = self
            .guard(Rule::Policy { how: "the promotion of a rollout", extra: Some(("rollout", end.record.clone())) });
        let d = Deploy {
            model,
            env,
            to: DeployTarget::Version(end.candidate),
            kind: MoveKind::Rollout,
            reason: Some(&end.reason),
            evidence: None,
            guard: Some(&guard),
        };
        let moved = self.registry.deploy(d, &self.actor).await.map_err(|e| Berth::refused(&guard, e))?;
        let strategy = end.record["strategy"].as_str().unwrap_or("rollout");
        let summary = format!("{model}@{} promoted to {env} by a {strategy} rollout", end.candidate);
        self.notify(self.rollout_event(EventKind::RolloutPromoted, summary, end)).await;
        Ok(moved)
    }

    /// A rollout dropped before it moved anything: the notifiers are told.
    pub async fn rollout_aborted(&self, end: &RolloutEnd) -> Result<()> {
        self.allow(Role::Deployer, Some(&end.model), Some(&end.env))?;
        // An abort names a version that exists, as a start did.
        self.registry.version(&end.model, end.candidate).await?;
        let strategy = end.record["strategy"].as_str().unwrap_or("rollout");
        let summary =
            format!("{strategy} rollout of {}@{} to {} aborted: {}", end.model, end.candidate, end.env, end.reason);
        self.notify(self.rollout_event(EventKind::RolloutAborted, summary, end)).await;
        Ok(())
    }

    fn rollout_event(&self, kind: EventKind, summary: String, end: &RolloutEnd) -> Event {
        let mut details = serde_json::json!({"reason": end.reason});
        if let (Some(d), Some(r)) = (details.as_object_mut(), end.record.as_object()) {
            d.extend(r.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        self.event(kind, summary).version(&end.model, end.candidate).env(end.env.as_str()).details(details)
    }

    /// Approves a version for an environment. The publisher of a version
    /// cannot approve it (four eyes).
    pub async fn approve(&self, r: &Ref, env: &AliasName, comment: Option<&str>) -> Result<ApproveReport> {
        self.allow(Role::Approver, Some(&r.model), Some(env))?;
        let v = self.registry.resolve(r).await?;
        self.known_environment(&v.model, env, false).await?;
        if v.created_by == self.actor.name {
            return Err(ServiceError::Denied {
                message: format!(
                    "{} published {}@{}, so cannot approve it: approvals must come from someone else",
                    self.actor.name, v.model, v.version
                ),
                hint: Some(format!("ask a colleague to run `berth approve {}@{} --env {env}`", v.model, v.version)),
                missing: Vec::new(),
            });
        }
        let (approval, new) = self.registry.approve(&v.model, v.version, env, &self.actor, comment).await?;
        let filter = ApprovalFilter { model: Some(v.model.clone()), version: Some(v.version), env: Some(env.clone()) };
        let all = self.registry.approvals(&filter).await?;
        let counted = counted_approvals(&v, &all).len() as u32;
        let needed = self.policy().await?.of(env).approvals;
        let notified = if new {
            let e = self
                .event(
                    EventKind::PromotionApproved,
                    format!("{}@{} approved for {env} by {}", v.model, v.version, self.actor.name),
                )
                .version(&v.model, v.version)
                .env(env.as_str())
                .details(serde_json::json!({"comment": comment, "counted": counted, "needed": needed}));
            self.notify(e).await
        } else {
            Vec::new()
        };
        Ok(ApproveReport { approval, new, counted, needed, notified })
    }

    pub async fn approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>> {
        self.allow(Role::Reader, filter.model.as_ref(), None)?;
        Ok(self.registry.approvals(filter).await?)
    }

    /// Moves an environment back: to `to`, or to the previous version it
    /// pointed at that was not rolled back from. Only promoters may.
    pub async fn rollback(
        &self,
        model: &ModelName,
        env: &AliasName,
        to: Option<u64>,
        reason: Option<&str>,
    ) -> Result<RollbackReport> {
        self.allow(Role::Deployer, Some(model), Some(env))?;
        self.known_environment(model, env, false).await?;
        // Refused before anything is read about the target, and again inside the move.
        let in_force = self.policy().await?;
        let policy = in_force.of(env);
        if !policy.may_promote(&self.actor.name) {
            return Err(not_a_promoter(&self.actor.name, env, &policy, &in_force.source()));
        }
        let target = to.map(DeployTarget::Version).unwrap_or(DeployTarget::PreviousHealthy);
        let reason = reason.unwrap_or("manual rollback");
        let guard = self.guard(Rule::Promoters);
        let d = Deploy {
            model,
            env,
            to: target,
            kind: MoveKind::Rollback,
            reason: Some(reason),
            evidence: None,
            guard: Some(&guard),
        };
        let moved = self.registry.deploy(d, &self.actor).await.map_err(|e| Berth::refused(&guard, e))?;
        let deployment = moved.ok_or_else(|| {
            ServiceError::input(
                format!("{model}@{env} already points at version {}", to.unwrap_or_default()),
                Some(format!("`berth deployments {model} --env {env}` shows its history")),
            )
        })?;
        let notified = self.notify_rollback(&deployment, MoveKind::Rollback).await;
        Ok(RollbackReport { model: model.clone(), env: env.clone(), deployment, notified })
    }

    async fn notify_rollback(&self, d: &AliasEvent, kind: MoveKind) -> Vec<Outcome> {
        let (model, env) = (&d.model, &d.alias);
        let from = d.from.map(|f| format!("version {f}")).unwrap_or_else(|| "nothing".into());
        let e = self
            .event(
                EventKind::Rollback,
                format!("{model}@{env} rolled back from {from} to version {}", d.to.unwrap_or_default()),
            )
            .version(model, d.to.unwrap_or_default())
            .env(env.as_str())
            .details(serde_json::json!({"kind": kind, "from": d.from, "reason": d.reason, "evidence": d.evidence}));
        self.notify(e).await
    }

    /// Compares live metrics with the metrics the live version passed its
    /// gate with, and rolls back when any is worse than the policy allows.
    pub async fn check(&self, req: &CheckRequest) -> Result<CheckReport> {
        let CheckRequest { model, env, live, max_degradation, dry_run, evidence } = req;
        let (max_degradation, dry_run) = (*max_degradation, *dry_run);
        self.allow(Role::Deployer, Some(model), Some(env))?;
        self.known_environment(model, env, false).await?;
        let r = Ref { model: model.clone(), selector: berth_core::Selector::Alias(env.clone()) };
        let v = self.registry.resolve(&r).await?;
        let policy = self.policy().await?.of(env);
        let allowed = max_degradation.unwrap_or_else(|| policy.max_degradation());
        if !(allowed.is_finite() && allowed > 0.0) {
            return Err(ServiceError::input(
                format!("the allowed degradation is {allowed}; it is a fraction above 0"),
                Some("e.g. --max-degradation 0.2 for 20%".into()),
            ));
        }
        let gates = self.registry.gate_reports(&v.model, v.version).await?;
        let (against, reference) = reference_metrics(&v, &gates, &policy.require_gates);
        let comparison = compare(&reference, live, allowed);
        if comparison.compared.is_empty() {
            return Err(ServiceError::input(
                format!(
                    "none of the live metrics ({}) was measured by {against} ({})",
                    live.keys().cloned().collect::<Vec<_>>().join(", "),
                    reference.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                Some("name the live metrics as the gate report does, e.g. {\"accuracy\": 0.91}".into()),
            ));
        }
        let degraded = comparison.degraded();
        let mut report = CheckReport {
            model: model.clone(),
            env: env.clone(),
            version: v.version,
            against,
            comparison,
            degraded,
            rollback: None,
            rollback_refused: None,
            dry_run,
            notified: Vec::new(),
        };
        if degraded && !dry_run {
            let why: Vec<String> = report.comparison.exceeded().map(|d| d.describe(allowed)).collect();
            let reason = format!("automatic rollback: {}", why.join("; "));
            let d = Deploy {
                model,
                env,
                to: DeployTarget::PreviousHealthy,
                kind: MoveKind::AutoRollback,
                reason: Some(&reason),
                evidence: Some({
                    let mut e =
                        serde_json::json!({"against": report.against, "live": live, "comparison": report.comparison});
                    if let (Some(extra), Some(e)) = (evidence.as_ref().and_then(|x| x.as_object()), e.as_object_mut()) {
                        e.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    e
                }),
                // A rollback on degraded live metrics is the safety net: no policy holds it back.
                guard: None,
            };
            let ev = match self.registry.deploy(d, &self.actor).await {
                Err(e @ berth_registry::RegistryError::NothingToRollBack { .. }) => {
                    report.rollback_refused = Some(e.to_string());
                    return Ok(report);
                }
                r => r?,
            };
            if let Some(ev) = &ev {
                report.notified = self.notify_rollback(ev, MoveKind::AutoRollback).await;
            }
            report.rollback = ev;
        }
        Ok(report)
    }

    /// An environment's full history, oldest first.
    pub async fn deployments(&self, model: &ModelName, env: Option<&AliasName>) -> Result<Vec<DeploymentRecord>> {
        self.allow(Role::Reader, Some(model), None)?;
        // An unknown model is an error, not an empty history.
        self.require_model(model).await?;
        if let Some(env) = env {
            self.known_environment(model, env, false).await?;
        }
        let events = self.registry.alias_history(model, env).await?;
        Ok(events
            .into_iter()
            .map(|event| {
                let gate_reports = event
                    .evidence
                    .as_ref()
                    .and_then(|e| e["gates"].as_array())
                    .map(|gs| gs.iter().filter_map(|g| g["report_digest"].as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                DeploymentRecord { event, gate_reports }
            })
            .collect())
    }

    /// The notification delivery log, newest first.
    pub async fn notifications(&self, limit: Option<u32>) -> Result<Vec<Delivery>> {
        self.allow(Role::Reader, None, None)?;
        Ok(self.registry.deliveries(limit).await?)
    }
}

/// The metrics to hold live ones against: the newest passed report of a
/// gate the environment requires, else of any gate, else the version's own
/// (training) metrics.
fn reference_metrics(v: &VersionRecord, gates: &[GateRecord], required: &[String]) -> (String, BTreeMap<String, f64>) {
    let passed = |g: &&GateRecord| g.passed;
    let chosen = gates
        .iter()
        .rev()
        .filter(passed)
        .find(|g| required.contains(&g.gate))
        .or_else(|| gates.iter().rev().find(passed));
    if let Some(g) = chosen
        && let Ok(m) = serde_json::from_value::<BTreeMap<String, f64>>(g.report["metrics"].clone())
    {
        return (format!("gate {:?} (report {})", g.gate, g.id), m);
    }
    ("the version's training metrics".to_string(), v.meta.metrics.clone())
}

#[cfg(test)]
mod tests {
    use berth_core::Timestamp;

    use crate::service::tests::{open_at, project, push_one};

    /// Whether `t` was read from a clock started at `start_ms` (a fixed clock
    /// advances a millisecond per reading, so allow a few readings).
    fn from_clock(t: Timestamp, start_ms: i64) -> bool {
        (start_ms..start_ms + 1_000).contains(&t.millis())
    }

    #[tokio::test]
    async fn versions_approvals_and_promotions_carry_the_injected_clock_s_time() {
        const ALICE: i64 = 1_700_000_000_000;
        const BOB: i64 = 1_800_000_000_000;
        let (dir, config) = project();
        let alice = open_at(&config, "alice", ALICE).await;
        let bob = open_at(&config, "bob", BOB).await;
        push_one(&alice, dir.path(), "churn", b"weights").await;
        let r = "churn@1".parse().unwrap();
        let staging = berth_core::AliasName::parse("staging").unwrap();

        let v = alice.resolve(&r).await.unwrap();
        assert!(from_clock(v.created_at, ALICE), "pushed at {}", v.created_at);
        let approved = bob.approve(&r, &staging, Some("looks good")).await.unwrap();
        assert!(from_clock(approved.approval.at, BOB), "approved at {}", approved.approval.at);
        let promoted = alice.promote(&r, &staging, Some("first release")).await.unwrap();
        assert!(promoted.promoted, "{promoted:?}");
        let moved = promoted.deployment.expect("the promotion moved staging");
        assert!(from_clock(moved.at, ALICE), "promoted at {}", moved.at);
        let history = bob.deployments(&v.model, Some(&staging)).await.unwrap();
        assert_eq!(history.iter().map(|d| d.event.at).collect::<Vec<_>>(), [moved.at], "as recorded");
    }
}
