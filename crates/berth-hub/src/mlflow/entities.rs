//! berth's models and versions as MLflow's `RegisteredModel` and
//! `ModelVersion` JSON. A version's number is a string, its status always
//! `READY` (berth creates a version only once every byte is stored), its
//! stage `None` (berth has environments, which MLflow calls aliases: every
//! alias and environment of a model is listed, `production` included).

use std::collections::BTreeMap;

use berth_core::VersionRecord;
use berth_service::ModelNotes;
use serde_json::{Value, json};

use super::artifacts::version_uri;

/// Lineage keys under which a version made through MLflow keeps what MLflow sent.
pub(crate) const SOURCE_KEY: &str = "mlflow_source";
pub(crate) const RUN_ID_KEY: &str = "mlflow_run_id";

fn tags(t: &BTreeMap<String, String>) -> Value {
    Value::Array(t.iter().map(|(k, v)| json!({"key": k, "value": v})).collect())
}

/// A version as MLflow's `ModelVersion`; `aliases` are the model's aliases
/// (name → version), of which the ones pointing here are listed.
pub(crate) fn model_version(v: &VersionRecord, aliases: &BTreeMap<String, u64>) -> Value {
    let extra = &v.meta.lineage.extra;
    let source = extra.get(SOURCE_KEY).cloned().unwrap_or_else(|| version_uri(&v.model, v.version));
    let mine: Vec<&String> = aliases.iter().filter(|(_, n)| **n == v.version).map(|(a, _)| a).collect();
    let mut out = json!({
        "name": v.model,
        "version": v.version.to_string(),
        "creation_timestamp": v.created_at.millis(),
        "last_updated_timestamp": v.created_at.millis(),
        "user_id": v.created_by,
        "current_stage": "None",
        "source": source,
        "status": "READY",
        "tags": tags(&v.meta.tags),
        "aliases": mine,
    });
    if let Some(d) = &v.meta.description {
        out["description"] = json!(d);
    }
    if let Some(run) = extra.get(RUN_ID_KEY) {
        out["run_id"] = json!(run);
    }
    out
}

/// A model as MLflow's `RegisteredModel`, with its newest version as
/// `latest_versions` and every alias.
pub(crate) fn registered_model(
    notes: &ModelNotes,
    latest: Option<&VersionRecord>,
    aliases: &BTreeMap<String, u64>,
) -> Value {
    let mut out = json!({
        "name": notes.name,
        "creation_timestamp": notes.created_at.millis(),
        "last_updated_timestamp": notes.updated_at.millis(),
        "tags": tags(&notes.tags),
        "aliases": aliases.iter().map(|(a, n)| json!({"alias": a, "version": n.to_string()})).collect::<Vec<_>>(),
        "latest_versions": latest.map(|v| vec![model_version(v, aliases)]).unwrap_or_default(),
    });
    if let Some(d) = &notes.description {
        out["description"] = json!(d);
    }
    out
}
