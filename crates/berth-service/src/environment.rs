//! Which environments exist, and the one way a governed environment moves.
//!
//! An environment the policy in force names (`[environments.NAME]`, applied
//! to the registry; see `policy.rs`) is governed: it moves only by promotion,
//! rollback, `check` and rollouts, each of which holds the version to the
//! policy here. `alias set` and `alias rm` refuse it. When the policy names
//! any environment, a name that is neither named nor already in use on the
//! model is taken for a typo unless the caller asks to create it.

use berth_core::suggest::did_you_mean;
use berth_core::{AliasName, Approval, GateRecord, ModelName, VersionRecord};
use berth_deploy::Policy;
use berth_deploy::policy::{Facts, check, counted_approvals, passing_reports};
use std::sync::Mutex;

use berth_registry::{ApprovalFilter, MoveFacts, MoveGuard, RegistryError};

use crate::deploy::{Lack, digest_of_report};
use crate::{Berth, PolicySet, Result, ServiceError};

/// The facts a move into an environment was judged on, and the verdict.
pub(crate) struct Assessment {
    pub policy: Policy,
    pub gates: Vec<GateRecord>,
    pub approvals: Vec<Approval>,
    /// Empty when the policy is met.
    pub missing: Vec<Lack>,
}

impl Assessment {
    /// What a move rests on: the passing gate reports (with digests) and the
    /// approvals that counted.
    pub fn evidence(&self, v: &VersionRecord) -> serde_json::Value {
        serde_json::json!({
            "gates": passing_reports(&self.policy, &self.gates).iter().map(|g| serde_json::json!({
                "id": g.id, "gate": g.gate, "data_digest": g.data_digest, "report_digest": digest_of_report(g),
                "at": g.created_at,
            })).collect::<Vec<_>>(),
            "approvals": counted_approvals(v, &self.approvals).iter().map(|a| serde_json::json!({
                "approver": a.approver, "at": a.at,
            })).collect::<Vec<_>>(),
        })
    }

    /// The refusal of a move that lacks something, listing all of it.
    pub fn denial(&self, v: &VersionRecord, env: &AliasName, how: &str) -> ServiceError {
        let list: Vec<String> = self.missing.iter().map(|l| l.message.clone()).collect();
        let fixes: Vec<String> = self.missing.iter().map(|l| l.fix.clone()).collect();
        ServiceError::Denied {
            message: format!(
                "{how} of {}@{} to {env} refused: the policy of {env} is not met: {}",
                v.model,
                v.version,
                list.join("; ")
            ),
            hint: Some(fixes.join("; ")),
            missing: self.missing.clone(),
        }
    }
}

impl Berth {
    /// True when the policy in force gives the environment a section.
    pub async fn governed(&self, env: &AliasName) -> Result<bool> {
        Ok(self.policy().await?.governs(env))
    }

    /// Refuses an environment name that looks like a typo: when the policy
    /// names environments, a name that is neither named nor already an alias
    /// of the model is refused unless `create` is set.
    pub async fn known_environment(&self, model: &ModelName, env: &AliasName, create: bool) -> Result<()> {
        let in_force = self.policy().await?;
        let configured = &in_force.environments;
        if configured.is_empty() || create || configured.contains_key(env.as_str()) {
            return Ok(());
        }
        let aliases = self.registry.aliases(model).await?;
        if aliases.contains_key(env.as_str()) {
            return Ok(());
        }
        let known: Vec<&str> =
            configured.keys().map(String::as_str).chain(aliases.keys().map(String::as_str)).collect();
        Err(ServiceError::input(
            format!(
                "unknown environment {:?}: {} defines {}{}",
                env.as_str(),
                in_force.source(),
                configured.keys().cloned().collect::<Vec<_>>().join(", "),
                did_you_mean(env.as_str(), known)
            ),
            Some(format!(
                "to start a new environment, add [environments.{env}] to berth.toml or pass --new-env to berth promote"
            )),
        ))
    }

    /// Refuses a plain alias change of a governed environment.
    pub(crate) async fn refuse_alias_change(&self, model: &ModelName, alias: &AliasName, n: Option<u64>) -> Result<()> {
        let in_force = self.policy().await?;
        if !in_force.governs(alias) {
            return Ok(());
        }
        let version = n.map(|n| n.to_string()).unwrap_or_else(|| "N".into());
        Err(ServiceError::input(
            format!(
                "{alias} is an environment with a policy ({}); `berth alias` cannot move it past that policy",
                in_force.source()
            ),
            Some(format!(
                "move it with `berth promote {model}@{version} --to {alias}`, `berth rollback {model} --env {alias}` \
                 or a rollout"
            )),
        ))
    }

    /// Judges a move of version `v` into `env` against the environment's
    /// policy, from the registry's facts now: what a caller shows before it
    /// asks for the move, which the move's own transaction judges again.
    pub(crate) async fn assess(&self, v: &VersionRecord, env: &AliasName) -> Result<Assessment> {
        let policy = self.policy().await?.of(env);
        let gates = self.registry.gate_reports(&v.model, v.version).await?;
        let filter = ApprovalFilter { model: Some(v.model.clone()), version: Some(v.version), env: Some(env.clone()) };
        let approvals = self.registry.approvals(&filter).await?;
        Ok(Assessment::of(policy, v, env, gates, approvals, &self.actor.name))
    }

    /// A guard that holds a move to the policy in force inside the move's
    /// own transaction (see [`Guard`]).
    pub(crate) fn guard(&self, rule: Rule) -> Guard {
        Guard {
            rule,
            actor: self.actor.name.clone(),
            fallback: self.config.environments.clone(),
            refusal: Mutex::new(None),
        }
    }

    /// Turns a registry refusal by `guard` into the service's denial.
    pub(crate) fn refused(guard: &Guard, e: RegistryError) -> ServiceError {
        match (e, guard.refusal.lock().unwrap_or_else(|p| p.into_inner()).take()) {
            (RegistryError::MoveRefused { .. }, Some(denial)) => denial,
            (e, _) => e.into(),
        }
    }
}

impl Assessment {
    fn of(
        policy: Policy,
        v: &VersionRecord,
        env: &AliasName,
        gates: Vec<GateRecord>,
        approvals: Vec<Approval>,
        actor: &str,
    ) -> Assessment {
        let facts = Facts { version: v, gates: &gates, approvals: &approvals, actor };
        let missing = check(&policy, facts)
            .into_iter()
            .map(|m| Lack { message: m.to_string(), fix: m.fix(v.model.as_str(), v.version, env.as_str()), detail: m })
            .collect();
        Assessment { policy, gates, approvals, missing }
    }
}

/// The refusal of a rollback by someone who is not among the promoters.
pub(crate) fn not_a_promoter(actor: &str, env: &AliasName, policy: &Policy, source: &str) -> ServiceError {
    ServiceError::Denied {
        message: format!(
            "{actor:?} may not roll back {env}; its promoters ({source}) are {}",
            policy.promoters.join(", ")
        ),
        hint: Some(format!(
            "ask one of them, or add yourself to environments.{env}.promoters and `berth policy apply`"
        )),
        missing: Vec::new(),
    }
}

/// What a guarded move must satisfy.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    /// Every requirement of the environment's policy (a promotion, a
    /// rollout's start and end); the evidence is recorded with the move, and
    /// `extra` (a rollout's record) beside it.
    Policy { how: &'static str, extra: Option<(&'static str, serde_json::Value)> },
    /// Only the environment's promoters may roll it back.
    Promoters,
    /// A plain alias move: refused for an environment the policy governs.
    NotGoverned,
}

/// Judges a move inside its transaction on the facts read there, against the
/// policy in force then (the caller's `berth.toml` only while the registry
/// has none). A refusal is kept for the caller, who reports it as a denial.
pub(crate) struct Guard {
    rule: Rule,
    actor: String,
    fallback: PolicySet,
    refusal: Mutex<Option<ServiceError>>,
}

impl Guard {
    fn refuse(&self, e: ServiceError) -> Result<Option<serde_json::Value>, String> {
        let message = e.message();
        *self.refusal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        Err(message)
    }
}

impl MoveGuard for Guard {
    fn judge(&self, f: &MoveFacts<'_>) -> Result<Option<serde_json::Value>, String> {
        let set: PolicySet = match f.policy {
            Some(r) => match serde_json::from_value(r.document.clone()) {
                Ok(set) => set,
                Err(e) => {
                    return self.refuse(ServiceError::Corrupt {
                        message: format!("policy version {} in the registry cannot be read: {e}", r.version),
                        hint: Some("apply a good one with `berth policy apply berth.toml`".into()),
                    });
                }
            },
            None => self.fallback.clone(),
        };
        let source = f.policy.map(|r| format!("policy version {}", r.version)).unwrap_or_else(|| "berth.toml".into());
        let policy = set.get(f.env.as_str()).cloned().unwrap_or_default();
        match &self.rule {
            Rule::Policy { how, extra } => {
                let a = Assessment::of(policy, f.target, f.env, f.gates.to_vec(), f.approvals.to_vec(), &self.actor);
                if !a.missing.is_empty() {
                    return self.refuse(a.denial(f.target, f.env, how));
                }
                let mut evidence = a.evidence(f.target);
                if let Some(p) = f.policy {
                    evidence["policy"] = serde_json::json!({"version": p.version, "digest": p.digest});
                }
                if let Some((k, v)) = extra {
                    evidence[*k] = v.clone();
                }
                Ok(Some(evidence))
            }
            Rule::Promoters if !policy.may_promote(&self.actor) => {
                self.refuse(not_a_promoter(&self.actor, f.env, &policy, &source))
            }
            Rule::NotGoverned if set.contains_key(f.env.as_str()) => self.refuse(ServiceError::input(
                format!(
                    "{} is an environment with a policy ({source}); `berth alias` cannot move it past that policy",
                    f.env
                ),
                Some(format!(
                    "move it with `berth promote {}@{} --to {}`, `berth rollback {} --env {}` or a rollout",
                    f.model, f.target.version, f.env, f.model, f.env
                )),
            )),
            Rule::Promoters | Rule::NotGoverned => Ok(None),
        }
    }
}
