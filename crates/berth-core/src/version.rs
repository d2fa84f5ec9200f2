//! Records the registry keeps: versions with their lineage, alias history and
//! the audit log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::digest::Digest;
use crate::name::{AliasName, ModelName};

/// Where a version came from. Filled in automatically by `berth push` from
/// the git work tree and the CI environment; later stages add data digests
/// and the training config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run_url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, Digest>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    /// Every blob is in the store and the manifest is complete.
    Ready,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Ready => "ready",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ready" => Some(VersionStatus::Ready),
            _ => None,
        }
    }
}

/// What a push hands the registry; the registry assigns the number and time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    pub model: ModelName,
    pub manifest: Digest,
    pub size: u64,
    pub format: Option<String>,
    pub signature: Option<serde_json::Value>,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    pub description: Option<String>,
    pub lineage: Lineage,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub model: ModelName,
    pub version: u64,
    pub manifest: Digest,
    pub size: u64,
    pub format: Option<String>,
    pub signature: Option<serde_json::Value>,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    pub description: Option<String>,
    pub lineage: Lineage,
    pub created_by: String,
    pub created_at: Timestamp,
    pub status: VersionStatus,
}

/// One move of an alias: from which version to which, by whom and why.
/// `to = None` is a removal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasEvent {
    pub id: i64,
    pub model: ModelName,
    pub alias: AliasName,
    pub from: Option<u64>,
    pub to: Option<u64>,
    pub actor: String,
    pub reason: Option<String>,
    pub at: Timestamp,
    /// Why it moved; `alias` for a plain `berth alias` move.
    #[serde(default)]
    pub kind: crate::MoveKind,
    /// What the move was based on: the gate reports (id, gate, data digest,
    /// report digest) and approvals a promotion met, the metrics that
    /// triggered an automatic rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub model: Option<ModelName>,
    pub version: Option<u64>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// A gate's verdict stored on a version: which gate, on which data (by
/// digest), passed or not, and the full report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateRecord {
    pub id: i64,
    pub model: ModelName,
    pub version: u64,
    pub gate: String,
    pub data_digest: String,
    pub passed: bool,
    pub created_by: String,
    pub created_at: Timestamp,
    pub report: serde_json::Value,
}
