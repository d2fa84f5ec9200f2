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

/// What a version says about itself, beyond its files: the same fields
/// whether a push asks for them, the registry stores them or `berth show`
/// prints them. Embedded (flattened in JSON) where each of those needs it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// The model format (`onnx`, `berth`, …), given or inferred from the files.
    pub format: Option<String>,
    /// The model's inputs and outputs, as the model's own signature file has them.
    pub signature: Option<serde_json::Value>,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    pub description: Option<String>,
    pub lineage: Lineage,
}

/// What a push hands the registry; the registry assigns the number and time.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    pub model: ModelName,
    pub manifest: Digest,
    pub size: u64,
    pub meta: VersionMeta,
    pub created_by: String,
    /// The id of the token the publisher came with, for the audit log.
    pub created_by_token: Option<String>,
}

/// A version as the registry keeps it. Its metadata serialises flattened,
/// so the JSON keeps one level: `{"model", "version", …,
/// "format", "metrics", …, "status"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub model: ModelName,
    pub version: u64,
    pub manifest: Digest,
    pub size: u64,
    #[serde(flatten)]
    pub meta: VersionMeta,
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
    /// The id of the token the actor came with (never its secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
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

/// A monitor report stored on a version for one environment: whether live
/// quality was degraded and the data drifted, and the full report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorRecord {
    pub id: i64,
    pub model: ModelName,
    pub version: u64,
    pub env: AliasName,
    pub degraded: bool,
    pub drift: bool,
    pub created_by: String,
    pub created_at: Timestamp,
    pub report: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> VersionRecord {
        VersionRecord {
            model: ModelName::parse("churn").unwrap(),
            version: 3,
            manifest: Digest::of(b"manifest"),
            size: 42,
            meta: VersionMeta {
                format: Some("berth".into()),
                signature: Some(serde_json::json!({"inputs": []})),
                params: BTreeMap::from([("seed".into(), "7".into())]),
                metrics: BTreeMap::from([("accuracy".into(), 0.9)]),
                tags: BTreeMap::from([("team".into(), "risk".into())]),
                description: Some("a retrain".into()),
                lineage: Lineage { git_branch: Some("main".into()), ..Default::default() },
            },
            created_by: "alice".into(),
            created_at: Timestamp::from_millis(1_700_000_000_000),
            status: VersionStatus::Ready,
        }
    }

    #[test]
    fn a_record_serialises_with_its_metadata_at_the_top_level_in_the_same_order() {
        let r = record();
        let text = serde_json::to_string(&r).unwrap();
        let keys = [
            "model",
            "version",
            "manifest",
            "size",
            "format",
            "signature",
            "params",
            "metrics",
            "tags",
            "description",
            "lineage",
            "created_by",
            "created_at",
            "status",
        ];
        let at: Vec<usize> = keys.iter().map(|k| text.find(&format!("\"{k}\":")).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "keys in the order they always had: {text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value.as_object().unwrap().len(), keys.len(), "no nested meta object: {text}");
        assert_eq!(value["metrics"]["accuracy"], 0.9);
        assert_eq!(value["lineage"]["git_branch"], "main");
        let back: VersionRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn metadata_reads_as_the_records_own_fields() {
        let r = record();
        assert_eq!(r.meta.format.as_deref(), Some("berth"));
        assert_eq!(r.meta.tags["team"], "risk");
        assert_eq!(r.meta.lineage.git_branch.as_deref(), Some("main"));
    }
}
