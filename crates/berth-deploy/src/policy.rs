//! An environment's policy (`[environments.NAME]` in `berth.toml`) and the
//! check of a promotion against it: every requirement not met, each saying
//! what is missing and how to get it.

use std::fmt;

use berth_core::{Approval, GateRecord, VersionRecord};
use serde::{Deserialize, Serialize};

/// What an environment requires before it accepts a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Gates whose newest report on the version must have passed.
    #[serde(default)]
    pub require_gates: Vec<String>,
    /// How many approvals for this environment, from people other than the
    /// version's publisher.
    #[serde(default)]
    pub approvals: u32,
    /// Branches a version must have been built from (its lineage); empty
    /// allows any.
    #[serde(default)]
    pub allowed_branches: Vec<String>,
    /// Who may promote to (and roll back) this environment; empty allows
    /// anyone.
    #[serde(default)]
    pub promoters: Vec<String>,
    /// `berth check` rolls back when a live metric is worse than the
    /// version's gate metric by more than this fraction (0.2 = 20%).
    #[serde(default)]
    pub max_degradation: Option<f64>,
}

/// The customary threshold: roll back when a live metric is over 20% worse.
pub const DEFAULT_MAX_DEGRADATION: f64 = 0.2;

impl Policy {
    pub fn max_degradation(&self) -> f64 {
        self.max_degradation.unwrap_or(DEFAULT_MAX_DEGRADATION)
    }

    /// Problems with the policy itself, for `berth.toml` errors.
    pub fn problems(&self, env: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(d) = self.max_degradation
            && !(d.is_finite() && d > 0.0)
        {
            out.push(format!("environments.{env}.max_degradation is {d}; it is a fraction above 0, e.g. 0.2 for 20%"));
        }
        for (what, list) in [("require_gates", &self.require_gates), ("allowed_branches", &self.allowed_branches)] {
            if list.iter().any(|s| s.trim().is_empty()) {
                out.push(format!("environments.{env}.{what} holds an empty name"));
            }
        }
        out
    }

    pub fn may_promote(&self, actor: &str) -> bool {
        self.promoters.is_empty() || self.promoters.iter().any(|p| p == actor)
    }
}

/// What a promotion is judged on.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub version: &'a VersionRecord,
    /// Every gate report stored on the version, oldest first.
    pub gates: &'a [GateRecord],
    /// The approvals of this version for this environment.
    pub approvals: &'a [Approval],
    pub actor: &'a str,
}

/// One requirement of the policy that a promotion does not meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "missing", rename_all = "snake_case")]
pub enum Missing {
    /// The actor is not among the environment's promoters.
    Promoter { actor: String, promoters: Vec<String> },
    /// The version was built from a branch the environment does not accept.
    Branch { branch: Option<String>, allowed: Vec<String> },
    /// The gate has never run on the version.
    GateNotRun { gate: String },
    /// The gate's newest report on the version failed.
    GateFailed { gate: String, data: String, data_digest: String, at: String, failed: Vec<String> },
    /// Not enough approvals from people other than the publisher.
    Approvals { have: u32, need: u32, publisher: String, ignored: Vec<String> },
}

impl Missing {
    /// What to do about it.
    pub fn fix(&self, model: &str, version: u64, env: &str) -> String {
        match self {
            Missing::Promoter { .. } => {
                format!("ask one of the promoters, or add yourself to environments.{env}.promoters in berth.toml")
            }
            Missing::Branch { .. } => "promote a version trained and pushed from an allowed branch".into(),
            Missing::GateNotRun { gate } | Missing::GateFailed { gate, .. } => {
                format!("berth validate {model}@{version} --gate gates/{gate}.toml --data DATA")
            }
            Missing::Approvals { .. } => format!("berth approve {model}@{version} --env {env}  (by someone else)"),
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Promoter { actor, promoters } => {
                write!(f, "{actor:?} may not promote here; the promoters are {}", promoters.join(", "))
            }
            Missing::Branch { branch: Some(b), allowed } => {
                write!(f, "the version was built on branch {b:?}; allowed: {}", allowed.join(", "))
            }
            Missing::Branch { branch: None, allowed } => {
                write!(f, "the version's lineage records no git branch; allowed: {}", allowed.join(", "))
            }
            Missing::GateNotRun { gate } => write!(f, "gate {gate:?} has not run on this version"),
            Missing::GateFailed { gate, data, data_digest, at, failed } => {
                write!(f, "gate {gate:?} failed on {data} ({}) at {at}", short(data_digest))?;
                if !failed.is_empty() {
                    write!(f, ": {}", failed.join(", "))?;
                }
                Ok(())
            }
            Missing::Approvals { have, need, publisher, ignored } => {
                write!(f, "{have} of {need} approvals (approvers must differ from the publisher {publisher:?})")?;
                if !ignored.is_empty() {
                    write!(f, "; not counted: {}", ignored.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

/// The gate reports a promotion rests on: the newest report of each
/// required gate, when it passed.
pub fn passing_reports<'a>(policy: &Policy, gates: &'a [GateRecord]) -> Vec<&'a GateRecord> {
    policy.require_gates.iter().filter_map(|g| gates.iter().rev().find(|r| &r.gate == g)).filter(|r| r.passed).collect()
}

/// Approvals that count: by anyone but the version's publisher.
pub fn counted_approvals<'a>(version: &VersionRecord, approvals: &'a [Approval]) -> Vec<&'a Approval> {
    approvals.iter().filter(|a| a.approver != version.created_by).collect()
}

/// Everything the promotion lacks; empty when the policy is met.
pub fn check(policy: &Policy, f: Facts<'_>) -> Vec<Missing> {
    let mut missing = Vec::new();
    if !policy.may_promote(f.actor) {
        missing.push(Missing::Promoter { actor: f.actor.to_string(), promoters: policy.promoters.clone() });
    }
    if !policy.allowed_branches.is_empty() {
        let branch = f.version.meta.lineage.git_branch.clone();
        if !branch.as_ref().is_some_and(|b| policy.allowed_branches.contains(b)) {
            missing.push(Missing::Branch { branch, allowed: policy.allowed_branches.clone() });
        }
    }
    for gate in &policy.require_gates {
        match f.gates.iter().rev().find(|r| &r.gate == gate) {
            None => missing.push(Missing::GateNotRun { gate: gate.clone() }),
            Some(r) if !r.passed => missing.push(Missing::GateFailed {
                gate: gate.clone(),
                data: r.report["data"]["path"].as_str().unwrap_or("its data").to_string(),
                data_digest: r.data_digest.clone(),
                at: r.created_at.to_string(),
                failed: failed_checks(&r.report),
            }),
            Some(_) => {}
        }
    }
    let counted = counted_approvals(f.version, f.approvals).len() as u32;
    if counted < policy.approvals {
        let ignored = f.approvals.iter().filter(|a| a.approver == f.version.created_by).map(|a| a.approver.clone());
        missing.push(Missing::Approvals {
            have: counted,
            need: policy.approvals,
            publisher: f.version.created_by.clone(),
            ignored: ignored.collect(),
        });
    }
    missing
}

/// The names of a stored report's failed checks.
fn failed_checks(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_object()
        .map(|c| c.iter().filter(|(_, ok)| ok.as_bool() == Some(false)).map(|(k, _)| k.clone()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::{AliasName, Digest, Lineage, ModelName, Timestamp, VersionMeta, VersionStatus};

    fn version(branch: Option<&str>) -> VersionRecord {
        VersionRecord {
            model: ModelName::parse("churn").unwrap(),
            version: 3,
            manifest: Digest::of(b"m"),
            size: 1,
            meta: VersionMeta {
                lineage: Lineage { git_branch: branch.map(str::to_string), ..Default::default() },
                ..Default::default()
            },
            created_by: "alice".into(),
            created_at: Timestamp::from_millis(0),
            status: VersionStatus::Ready,
        }
    }

    fn gate(id: i64, name: &str, passed: bool) -> GateRecord {
        GateRecord {
            id,
            model: ModelName::parse("churn").unwrap(),
            version: 3,
            gate: name.into(),
            data_digest: "sha256:0123456789abcdef0123".into(),
            passed,
            created_by: "ci".into(),
            created_at: Timestamp::from_millis(1_700_000_000_000),
            report: serde_json::json!({"data": {"path": "holdout.csv"}, "checks": {"accuracy": passed, "drift": true}}),
        }
    }

    fn approval(by: &str) -> Approval {
        Approval {
            id: 1,
            model: ModelName::parse("churn").unwrap(),
            version: 3,
            env: AliasName::parse("production").unwrap(),
            approver: by.into(),
            comment: None,
            at: Timestamp::from_millis(0),
        }
    }

    fn production() -> Policy {
        Policy {
            require_gates: vec!["production".into()],
            approvals: 1,
            allowed_branches: vec!["main".into()],
            promoters: vec!["ci".into(), "alice".into()],
            max_degradation: None,
        }
    }

    fn facts<'a>(v: &'a VersionRecord, g: &'a [GateRecord], a: &'a [Approval], actor: &'a str) -> Facts<'a> {
        Facts { version: v, gates: g, approvals: a, actor }
    }

    #[test]
    fn a_version_meeting_every_requirement_is_accepted() {
        let v = version(Some("main"));
        let (g, a) = ([gate(1, "production", true)], [approval("bob")]);
        assert_eq!(check(&production(), facts(&v, &g, &a, "ci")), []);
        assert_eq!(check(&Policy::default(), facts(&v, &[], &[], "anyone")), []);
    }

    #[test]
    fn each_missing_requirement_is_named() {
        let p = production();
        let v = version(Some("main"));
        let (g, a) = ([gate(1, "production", true)], [approval("bob")]);
        let only = |m: Vec<Missing>| {
            assert_eq!(m.len(), 1, "{m:?}");
            m[0].clone()
        };
        let m = only(check(&p, facts(&v, &g, &a, "mallory")));
        assert!(matches!(&m, Missing::Promoter { actor, .. } if actor == "mallory"));
        assert_eq!(m.to_string(), "\"mallory\" may not promote here; the promoters are ci, alice");

        let feature = version(Some("feature/x"));
        let m = only(check(&p, facts(&feature, &g, &a, "ci")));
        assert_eq!(m.to_string(), "the version was built on branch \"feature/x\"; allowed: main");
        let unknown = version(None);
        assert!(matches!(only(check(&p, facts(&unknown, &g, &a, "ci"))), Missing::Branch { branch: None, .. }));

        let m = only(check(&p, facts(&v, &[], &a, "ci")));
        assert_eq!(m, Missing::GateNotRun { gate: "production".into() });
        assert_eq!(m.fix("churn", 3, "production"), "berth validate churn@3 --gate gates/production.toml --data DATA");
        let other_gate = [gate(1, "staging", true)];
        assert!(matches!(only(check(&p, facts(&v, &other_gate, &a, "ci"))), Missing::GateNotRun { .. }));

        let m = only(check(&p, facts(&v, &g, &[], "ci")));
        assert_eq!(m.to_string(), "0 of 1 approvals (approvers must differ from the publisher \"alice\")");
    }

    #[test]
    fn the_newest_report_of_a_gate_decides() {
        let p = production();
        let v = version(Some("main"));
        let a = [approval("bob")];
        let failed_last = [gate(1, "production", true), gate(2, "production", false)];
        let m = check(&p, facts(&v, &failed_last, &a, "ci"));
        let Missing::GateFailed { data, failed, .. } = &m[0] else { panic!("{m:?}") };
        assert_eq!((data.as_str(), failed.as_slice()), ("holdout.csv", ["accuracy".to_string()].as_slice()));
        assert!(
            m[0].to_string().starts_with("gate \"production\" failed on holdout.csv (sha256:0123456789ab)"),
            "{}",
            m[0]
        );
        let passed_last = [gate(1, "production", false), gate(2, "production", true)];
        assert_eq!(check(&p, facts(&v, &passed_last, &a, "ci")), []);
        assert_eq!(passing_reports(&p, &passed_last).iter().map(|r| r.id).collect::<Vec<_>>(), [2]);
        assert!(passing_reports(&p, &failed_last).is_empty());
    }

    #[test]
    fn four_eyes_the_publisher_cannot_approve_their_own_version() {
        let p = production();
        let v = version(Some("main"));
        let g = [gate(1, "production", true)];
        let own = [approval("alice")];
        let m = check(&p, facts(&v, &g, &own, "ci"));
        assert_eq!(
            m[0].to_string(),
            "0 of 1 approvals (approvers must differ from the publisher \"alice\"); not counted: alice"
        );
        let two = Policy { approvals: 2, ..p };
        let some = [approval("alice"), approval("bob")];
        assert!(matches!(check(&two, facts(&v, &g, &some, "ci"))[0], Missing::Approvals { have: 1, need: 2, .. }));
        let enough = [approval("carol"), approval("bob")];
        assert_eq!(check(&two, facts(&v, &g, &enough, "ci")), []);
    }

    #[test]
    fn everything_missing_at_once_is_listed_together() {
        let m = check(&production(), facts(&version(Some("dev")), &[], &[], "eve"));
        assert_eq!(m.len(), 4, "{m:?}");
    }

    #[test]
    fn bad_policies_are_described() {
        let p = Policy { max_degradation: Some(-1.0), require_gates: vec![" ".into()], ..Default::default() };
        assert_eq!(p.problems("production").len(), 2);
        assert_eq!(Policy::default().max_degradation(), 0.2);
    }
}
