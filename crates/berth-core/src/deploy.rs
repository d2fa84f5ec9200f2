//! Records of the road to production: why an environment moved (a plain
//! alias move, a promotion, a rollback), the approvals a policy counts, and
//! the delivery of notifications about it all.

use serde::{Deserialize, Serialize};

use crate::{AliasName, ModelName, Timestamp};

/// Why an environment (an alias) moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MoveKind {
    /// `berth alias set/rm`: a pointer moved without a policy.
    #[default]
    Alias,
    /// `berth promote`: the policy was checked and met.
    Promote,
    /// `berth rollback`: back to an earlier version, by hand.
    Rollback,
    /// `berth check` (or a monitor) found the live version degraded.
    AutoRollback,
    /// A rollout in `berth serve` finished and moved the environment.
    Rollout,
}

impl MoveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MoveKind::Alias => "alias",
            MoveKind::Promote => "promote",
            MoveKind::Rollback => "rollback",
            MoveKind::AutoRollback => "auto_rollback",
            MoveKind::Rollout => "rollout",
        }
    }

    pub fn parse(s: &str) -> Option<MoveKind> {
        Some(match s {
            "alias" => MoveKind::Alias,
            "promote" => MoveKind::Promote,
            "rollback" => MoveKind::Rollback,
            "auto_rollback" => MoveKind::AutoRollback,
            "rollout" => MoveKind::Rollout,
            _ => return None,
        })
    }

    /// A move away from a version because it misbehaved: the version it left
    /// is not a healthy rollback target any more.
    pub fn is_rollback(self) -> bool {
        matches!(self, MoveKind::Rollback | MoveKind::AutoRollback)
    }
}

/// Somebody's approval of a version for an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: i64,
    pub model: ModelName,
    pub version: u64,
    pub env: AliasName,
    pub approver: String,
    pub comment: Option<String>,
    pub at: Timestamp,
}

/// Where a notification's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        Some(match s {
            "pending" => DeliveryStatus::Pending,
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            _ => return None,
        })
    }
}

/// One notification sent (or tried) to one notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: i64,
    /// The event's id, shared by its deliveries to every notifier.
    pub event_id: String,
    /// What happened, e.g. `promotion.done`.
    pub event: String,
    pub model: Option<ModelName>,
    pub notifier: String,
    /// The receiver, with any secret part hidden.
    pub target: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}
