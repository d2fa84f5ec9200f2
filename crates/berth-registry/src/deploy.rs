//! What the registry needs to know about deployments beyond storing them:
//! the requests that move environments, record approvals and deliveries, and
//! which earlier version a rollback goes back to.

use berth_core::{AliasName, Approval, DeliveryStatus, GateRecord, ModelName, MoveKind, VersionRecord};

use crate::PolicyRecord;

/// Where [`crate::Registry::deploy`] moves an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployTarget {
    Version(u64),
    /// The most recent earlier version the environment pointed at that it
    /// did not leave by a rollback, decided inside the transaction.
    PreviousHealthy,
}

/// A move of an environment with its kind, reason and evidence.
#[derive(Clone)]
pub struct Deploy<'a> {
    pub model: &'a ModelName,
    pub env: &'a AliasName,
    pub to: DeployTarget,
    pub kind: MoveKind,
    pub reason: Option<&'a str>,
    pub evidence: Option<serde_json::Value>,
    /// Judges the move inside its transaction, on the facts read there; the
    /// move happens only if it allows it.
    pub guard: Option<&'a dyn MoveGuard>,
}

impl std::fmt::Debug for Deploy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deploy")
            .field("model", &self.model)
            .field("env", &self.env)
            .field("to", &self.to)
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("guarded", &self.guard.is_some())
            .finish()
    }
}

/// What a move into an environment is judged on, read inside the
/// transaction that makes the move, under the model's lock: the policy in
/// force, the target version, its gate reports and its approvals for the
/// environment. Nothing a judge sees can change before the move commits
/// (approvals and gate reports of the model take the same lock; a policy
/// applied meanwhile governs the moves after it).
#[derive(Debug, Clone, Copy)]
pub struct MoveFacts<'a> {
    pub model: &'a ModelName,
    pub env: &'a AliasName,
    /// Where the environment points now.
    pub from: Option<u64>,
    pub target: &'a VersionRecord,
    pub kind: MoveKind,
    pub policy: Option<&'a PolicyRecord>,
    /// The target's gate reports, oldest first.
    pub gates: &'a [GateRecord],
    /// The target's approvals for this environment, oldest first.
    pub approvals: &'a [Approval],
}

/// Decides a move from its [`MoveFacts`]: the evidence to record with it
/// (replacing the request's when `Some`), or the reason it is refused.
pub trait MoveGuard: Send + Sync {
    fn judge(&self, facts: &MoveFacts<'_>) -> Result<Option<serde_json::Value>, String>;
}

/// Which approvals to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct ApprovalFilter {
    pub model: Option<ModelName>,
    pub version: Option<u64>,
    pub env: Option<AliasName>,
}

/// A delivery about to be attempted.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub event_id: &'a str,
    pub event: &'a str,
    pub model: Option<&'a ModelName>,
    pub notifier: &'a str,
    pub target: &'a str,
}

/// How a delivery ended (or stands after an attempt).
#[derive(Debug, Clone)]
pub struct DeliveryUpdate {
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

/// The rollback target from an environment's moves, newest first, as
/// `(from, to, kind)`: the newest version moved to that is not `current`
/// and whose latest departure was not a rollback.
pub(crate) fn previous_healthy(moves: &[(Option<u64>, Option<u64>, MoveKind)], current: Option<u64>) -> Option<u64> {
    let mut left_by_rollback = std::collections::HashMap::new();
    for (from, _, kind) in moves {
        if let Some(v) = from {
            left_by_rollback.entry(*v).or_insert(kind.is_rollback());
        }
    }
    moves
        .iter()
        .filter_map(|(_, to, _)| *to)
        .find(|v| Some(*v) != current && !left_by_rollback.get(v).copied().unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use MoveKind::*;

    #[test]
    fn rollback_skips_the_current_and_rolled_back_versions() {
        // 1 -> 2 -> 3, then rolled back 3 -> 2: newest first.
        let moves = [
            (Some(3), Some(2), Rollback),
            (Some(2), Some(3), Promote),
            (Some(1), Some(2), Promote),
            (None, Some(1), Promote),
        ];
        // From 2, version 3 was rolled back from, so 1 is next.
        assert_eq!(previous_healthy(&moves, Some(2)), Some(1));
        // A plain move away from a version keeps it healthy.
        let moves = [(Some(2), Some(3), Promote), (Some(1), Some(2), Promote), (None, Some(1), Promote)];
        assert_eq!(previous_healthy(&moves, Some(3)), Some(2));
        assert_eq!(previous_healthy(&[(None, Some(1), Promote)], Some(1)), None);
        assert_eq!(previous_healthy(&[], None), None);
    }

    #[test]
    fn a_version_promoted_again_after_a_rollback_counts_its_latest_departure() {
        // 1 -> 2, rolled back 2 -> 1, promoted 1 -> 2 again, then 2 -> 3.
        let moves = [
            (Some(2), Some(3), Promote),
            (Some(1), Some(2), Promote),
            (Some(2), Some(1), Rollback),
            (Some(1), Some(2), Promote),
            (None, Some(1), Promote),
        ];
        assert_eq!(previous_healthy(&moves, Some(3)), Some(2));
    }
}
