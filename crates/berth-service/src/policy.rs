//! The policy in force: which environments are governed and what each
//! requires. It lives in the registry, versioned and audited, so everyone
//! sharing a registry is held to the same rules. `berth policy apply` makes a
//! `berth.toml`'s `[environments]` the policy in force; an embedded project
//! (a SQLite registry) applies its own `berth.toml` whenever it changes, so
//! editing the file is all a single user does. A registry that has never had
//! a policy applied falls back to the caller's `berth.toml`, and says so.

use std::collections::BTreeMap;
use std::path::Path;

use berth_core::{AliasName, Role};
use berth_deploy::Policy;
use berth_registry::PolicyRecord;
use serde::{Deserialize, Serialize};

use crate::{Berth, Result, ServiceError};

/// Every environment's policy, by name.
pub type PolicySet = BTreeMap<String, Policy>;

/// The policy a move is judged by, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInForce {
    pub environments: PolicySet,
    /// The registry's version of it; `None` when the registry has none and
    /// the caller's `berth.toml` stands in.
    pub record: Option<PolicyRecord>,
}

impl PolicyInForce {
    /// An environment's policy; one the policy does not name requires nothing.
    pub fn of(&self, env: &AliasName) -> Policy {
        self.environments.get(env.as_str()).cloned().unwrap_or_default()
    }

    /// Whether the environment has a policy section (and so moves only by
    /// promotion, rollback, check and rollouts).
    pub fn governs(&self, env: &AliasName) -> bool {
        self.environments.contains_key(env.as_str())
    }

    /// "policy version 3" or "berth.toml", for messages.
    pub fn source(&self) -> String {
        match &self.record {
            Some(r) => format!("policy version {}", r.version),
            None => "berth.toml".into(),
        }
    }
}

/// What `berth policy apply` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyApplyReport {
    pub policy: PolicyRecord,
    /// False when the document was already in force.
    pub applied: bool,
}

/// What `berth policy show` tells.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyShowReport {
    #[serde(flatten)]
    pub in_force: PolicyInForce,
    /// Set when this project's `berth.toml` says something else.
    pub differs_from_config: bool,
}

fn document(environments: &PolicySet) -> serde_json::Value {
    serde_json::to_value(environments).expect("policies always serialise")
}

fn from_record(r: &PolicyRecord) -> Result<PolicySet> {
    serde_json::from_value(r.document.clone()).map_err(|e| ServiceError::Corrupt {
        message: format!("policy version {} in the registry cannot be read: {e}", r.version),
        hint: Some("apply a good one with `berth policy apply berth.toml`".into()),
    })
}

/// The `[environments]` of a `berth.toml`, checked as berth.toml is.
pub fn read_policy_file(path: &Path) -> Result<PolicySet> {
    Ok(crate::config::read_checked(path)?.environments)
}

impl Berth {
    /// The policy in force now, read from the registry. Anyone may read it:
    /// whoever may act should be able to see the rules they are held to.
    pub async fn policy(&self) -> Result<PolicyInForce> {
        match self.registry.policy().await? {
            Some(record) => Ok(PolicyInForce { environments: from_record(&record)?, record: Some(record) }),
            None => Ok(PolicyInForce { environments: self.config.environments.clone(), record: None }),
        }
    }

    /// The policy in force, and whether this project's `berth.toml` differs.
    pub async fn policy_show(&self) -> Result<PolicyShowReport> {
        let in_force = self.policy().await?;
        let differs_from_config = in_force.record.is_some() && in_force.environments != self.config.environments;
        Ok(PolicyShowReport { in_force, differs_from_config })
    }

    /// Every version of the policy, newest first.
    pub async fn policy_history(&self) -> Result<Vec<PolicyRecord>> {
        self.policy().await?;
        Ok(self.registry.policy_history().await?)
    }

    /// Makes `environments` the policy in force (admins only).
    pub async fn policy_apply(&self, environments: &PolicySet, source: &str) -> Result<PolicyApplyReport> {
        self.allow(Role::Admin, None, None)?;
        let mut problems = Vec::new();
        for (name, policy) in environments {
            if let Err(e) = AliasName::parse(name) {
                problems.push(format!("[environments.{name}]: {e}"));
            }
            problems.extend(policy.problems(name));
        }
        if !problems.is_empty() {
            return Err(ServiceError::input(
                format!("the policy is not valid: {}", problems.join("; ")),
                Some("fix the [environments.NAME] sections and apply again".to_string()),
            ));
        }
        let (policy, applied) = self.registry.apply_policy(&document(environments), Some(source), &self.actor).await?;
        Ok(PolicyApplyReport { policy, applied })
    }

    /// An embedded project's `berth.toml` is its policy: applied when it
    /// differs from the registry's, so every change is versioned and audited.
    pub(crate) async fn sync_embedded_policy(&self) -> Result<()> {
        if self.config.root.is_none() {
            return Ok(());
        }
        let current = self.registry.policy().await?;
        let same = match &current {
            Some(r) => from_record(r).is_ok_and(|p| p == self.config.environments),
            None => self.config.environments.is_empty(),
        };
        if !same {
            self.registry.apply_policy(&document(&self.config.environments), Some("berth.toml"), &self.actor).await?;
        }
        Ok(())
    }

    /// A warning when this process holds a policy that is not the one in
    /// force, so a person is not surprised by what the registry enforces.
    pub async fn policy_warning(&self) -> Result<Option<String>> {
        let in_force = self.policy().await?;
        Ok(match &in_force.record {
            None if !self.config.environments.is_empty() && !self.embedded() => Some(format!(
                "the registry has no policy, so this berth.toml's [environments] govern only this client; \
                 run `berth policy apply berth.toml` so everyone sharing {} is held to it",
                self.registry.url()
            )),
            Some(r) if in_force.environments != self.config.environments && self.config.root.is_some() => {
                Some(format!(
                    "berth.toml's [environments] differ from the policy in force (version {}, applied by {}); \
                     the registry's is enforced — `berth policy show` shows it, `berth policy apply` replaces it",
                    r.version, r.applied_by
                ))
            }
            _ => None,
        })
    }
}
