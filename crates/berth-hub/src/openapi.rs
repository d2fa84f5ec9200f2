//! `GET /api/v1/openapi.json`: the hub described as OpenAPI 3.1, generated
//! from one table of operations. Each row is a route as the router spells it
//! (`{*path}` included), who may call it, what its body and query look like
//! and what it answers. Request bodies are written here as JSON Schemas,
//! beside the table, from the request types of the route modules: strict
//! where those refuse unknown fields, with the names' pattern. The service's
//! reports are described loosely (`type: object`); the error body exactly.
//! The tests below hold the table and the router to each other.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

/// A model or alias name: what `berth_core::name` accepts.
pub const NAME_REGEX: &str = "^[a-z0-9][a-z0-9._-]{0,63}$";

/// An alias or environment name: a name, not all digits, not `latest`.
pub const ALIAS_REGEX: &str = "^(?!latest$)(?![0-9]+$)[a-z0-9][a-z0-9._-]{0,63}$";

/// Every code an error body may carry.
pub const ERROR_CODES: &[&str] = &[
    "malformed",
    "bad_input",
    "not_found",
    "conflict",
    "denied",
    "unauthenticated",
    "unavailable",
    "corrupt",
    "too_large",
    "bad_range",
];

/// A token's lifetime: a count and a unit from a second up.
const DURATION_REGEX: &str = "^[1-9][0-9]{0,5} ?(?:seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y)$";

/// The largest version number the schemas promise to take (2^53 - 1, the
/// largest integer every JSON reader keeps exactly).
const MAX_VERSION: u64 = (1 << 53) - 1;

/// What a successful answer carries.
#[derive(Clone, Copy)]
pub enum Body {
    /// A JSON document of this schema.
    Json(fn() -> Value),
    /// A file's bytes.
    Bytes,
    /// The Prometheus text format.
    Text,
    /// No body (`HEAD`).
    Empty,
}

/// A query parameter: its name, what it means, its schema.
pub struct Query {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: fn() -> Value,
}

/// One operation of the hub.
pub struct Operation {
    pub method: &'static str,
    /// The route as the router spells it.
    pub path: &'static str,
    pub id: &'static str,
    pub summary: &'static str,
    /// The least role that may call it; `None`: no token needed.
    pub role: Option<&'static str>,
    pub query: &'static [Query],
    /// The request body's schema.
    pub body: Option<fn() -> Value>,
    /// The successful answers by status.
    pub ok: &'static [(u16, &'static str, Body)],
    /// Error statuses this operation answers beyond the common ones.
    pub errors: &'static [u16],
}

const fn q(name: &'static str, description: &'static str, schema: fn() -> Value) -> Query {
    Query { name, description, schema }
}

const LIMIT: Query = q("limit", "at most this many, newest first", count);
const MODEL_Q: Query = q("model", "only this model's", model_name);
const ENV_Q: Query = q("env", "only this environment's", alias_name);

/// Every operation, in the order the document lists them.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "get",
        path: "/livez",
        id: "livez",
        summary: "The process is up",
        role: None,
        query: &[],
        body: None,
        ok: &[(200, "up", Body::Json(status_ok))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/readyz",
        id: "readyz",
        summary: "The database and the store both answer",
        role: None,
        query: &[],
        body: None,
        ok: &[(200, "ready", Body::Json(status_ready))],
        errors: &[503],
    },
    Operation {
        method: "get",
        path: "/metrics",
        id: "metrics",
        summary: "Requests by route and status, latencies, authentication failures (Prometheus)",
        role: None,
        query: &[],
        body: None,
        ok: &[(200, "the metrics", Body::Text)],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/openapi.json",
        id: "openapi",
        summary: "This document",
        role: None,
        query: &[],
        body: None,
        ok: &[(200, "the OpenAPI document", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/whoami",
        id: "whoami",
        summary: "The principal and grant the token names",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the principal", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/models",
        id: "listModels",
        summary: "The models the token may read",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the models", Body::Json(models_list))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/versions",
        id: "listVersions",
        summary: "A model's versions, newest first, a page at a time, and where its aliases point",
        role: Some("reader"),
        query: &[
            q("limit", "at most this many versions (1000 without it)", page_size),
            q("before", "only versions older than this one (the next page)", version_bound),
        ],
        body: None,
        ok: &[(200, "the versions", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/versions/{version}",
        id: "showVersion",
        summary: "One version: its record, files and aliases",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the version", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "put",
        path: "/api/v1/models/{model}/versions/{version}/tags",
        id: "tagVersion",
        summary: "Sets tags on a version",
        role: Some("publisher"),
        query: &[],
        body: Some(tags_body),
        ok: &[(200, "the version as tagged", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/versions/{version}/gate-reports",
        id: "listGateReports",
        summary: "The gate reports stored on a version",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the reports", Body::Json(gate_reports_list))],
        errors: &[],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/versions/{version}/gate-reports",
        id: "storeGateReport",
        summary: "Stores a gate's report on a version (as `berth validate` does) and tells the notifiers",
        role: Some("publisher"),
        query: &[],
        body: Some(gate_report_body),
        ok: &[(201, "the stored record", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/versions/{version}/servable",
        id: "checkServable",
        summary: "Whether a server can follow the ref, and what it would wait for",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "what a server would wait for, if anything", Body::Json(servable))],
        errors: &[],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/versions/{version}/approvals",
        id: "approveVersion",
        summary: "Approves a version for an environment (once per approver)",
        role: Some("approver"),
        query: &[],
        body: Some(approve_body),
        ok: &[(201, "approved", Body::Json(object)), (200, "already approved by this approver", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/aliases/{alias}",
        id: "resolveAlias",
        summary: "The version an alias points at",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the version", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "put",
        path: "/api/v1/models/{model}/aliases/{alias}",
        id: "setAlias",
        summary: "Points an alias at a version (not an environment a policy governs)",
        role: Some("deployer"),
        query: &[],
        body: Some(alias_body),
        ok: &[(200, "where the alias points", Body::Json(alias_moved))],
        errors: &[413],
    },
    Operation {
        method: "delete",
        path: "/api/v1/models/{model}/aliases/{alias}",
        id: "removeAlias",
        summary: "Removes an alias",
        role: Some("deployer"),
        query: &[q("reason", "why, for the audit log", text)],
        body: None,
        ok: &[(200, "the removal", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/history",
        id: "aliasHistory",
        summary: "Every move of a model's aliases",
        role: Some("reader"),
        query: &[q("alias", "only this alias's moves", alias_name)],
        body: None,
        ok: &[(200, "the moves", Body::Json(history_list))],
        errors: &[],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/promote",
        id: "promote",
        summary: "Promotes a version to an environment, judged by its policy",
        role: Some("deployer"),
        query: &[],
        body: Some(promote_body),
        ok: &[(200, "the promotion", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/rollback",
        id: "rollback",
        summary: "Rolls an environment back to an earlier version",
        role: Some("deployer"),
        query: &[],
        body: Some(rollback_body),
        ok: &[(200, "the rollback", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/check",
        id: "checkLive",
        summary: "Holds live metrics against the gate metrics of the version live in an environment; rolls back beyond the allowed drop",
        role: Some("deployer"),
        query: &[],
        body: Some(check_body),
        ok: &[(200, "the comparison, and the rollback if there was one", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/deployments",
        id: "listDeployments",
        summary: "Where a model's versions are deployed",
        role: Some("reader"),
        query: &[ENV_Q],
        body: None,
        ok: &[(200, "the deployments", Body::Json(deployments_list))],
        errors: &[],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/rollouts/allowed",
        id: "rolloutAllowed",
        summary: "Whether a server may start a rollout of a candidate into an environment (its promotion policy)",
        role: Some("deployer"),
        query: &[],
        body: Some(rollout_start_body),
        ok: &[(200, "it may", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/rollouts/promoted",
        id: "rolloutPromoted",
        summary: "A server's rollout ended well: the environment moves to the candidate if the policy still holds",
        role: Some("deployer"),
        query: &[],
        body: Some(rollout_end_body),
        ok: &[(200, "where the environment points", Body::Json(alias_moved))],
        errors: &[413],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/rollouts/aborted",
        id: "rolloutAborted",
        summary: "A server's rollout was dropped: nothing moves, the notifiers are told",
        role: Some("deployer"),
        query: &[],
        body: Some(rollout_end_body),
        ok: &[(200, "recorded", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/monitor-reports",
        id: "recordMonitorReport",
        summary: "Records what `berth monitor` found live for a version in an environment; alerts on changes of state",
        role: Some("deployer"),
        query: &[],
        body: Some(monitor_report_body),
        ok: &[(201, "the report as stored, the events fired and their deliveries", Body::Json(monitor_recorded))],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/monitor-reports",
        id: "listMonitorReports",
        summary: "A model's monitor reports, newest first",
        role: Some("reader"),
        query: &[ENV_Q, LIMIT],
        body: None,
        ok: &[(200, "the monitor reports", Body::Json(monitor_reports_list))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/log-segments",
        id: "listLogSegments",
        summary: "The prediction-log segments kept in the store for a model, in name order",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the segments: name, digest, size, who stored it and when", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "put",
        path: "/api/v1/models/{model}/log-segments/{name}",
        id: "putLogSegment",
        summary: "Stores a prediction-log segment (its Parquet bytes) under its file name; a name holds one segment",
        role: Some("publisher"),
        query: &[],
        body: None,
        ok: &[(201, "stored", Body::Json(object)), (200, "the name already held these bytes", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/log-segments/{name}",
        id: "getLogSegment",
        summary: "One prediction-log segment's bytes, verified as they are read",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the segment", Body::Bytes)],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/approvals",
        id: "listApprovals",
        summary: "Approvals, filtered",
        role: Some("reader"),
        query: &[MODEL_Q, q("version", "only this version's", any_version), ENV_Q],
        body: None,
        ok: &[(200, "the approvals", Body::Json(approvals_list))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/audit",
        id: "auditLog",
        summary: "The audit log, newest first",
        role: Some("reader"),
        query: &[MODEL_Q, LIMIT],
        body: None,
        ok: &[(200, "the entries", Body::Json(audit_list))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/notifications",
        id: "listNotifications",
        summary: "The notification delivery log",
        role: Some("reader"),
        query: &[LIMIT],
        body: None,
        ok: &[(200, "the deliveries", Body::Json(deliveries_list))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/tokens",
        id: "listTokens",
        summary: "Every token (never a secret)",
        role: Some("admin"),
        query: &[],
        body: None,
        ok: &[(200, "the tokens", Body::Json(tokens_list))],
        errors: &[],
    },
    Operation {
        method: "post",
        path: "/api/v1/tokens",
        id: "createToken",
        summary: "Makes a token; its secret is in this answer only",
        role: Some("admin"),
        query: &[],
        body: Some(token_body),
        ok: &[(201, "the token and its secret", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "delete",
        path: "/api/v1/tokens/{id}",
        id: "revokeToken",
        summary: "Revokes a token",
        role: Some("admin"),
        query: &[],
        body: None,
        ok: &[(200, "the token as revoked", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/api/v1/policy",
        id: "showPolicy",
        summary: "The environment policy in force",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the policy", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "put",
        path: "/api/v1/policy",
        id: "applyPolicy",
        summary: "Applies an environment policy (a new version when it changes)",
        role: Some("admin"),
        query: &[],
        body: Some(policy_body),
        ok: &[(200, "the policy and whether it changed", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "/api/v1/policy/history",
        id: "policyHistory",
        summary: "Every version of the policy",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the policies", Body::Json(policies_list))],
        errors: &[],
    },
    Operation {
        method: "post",
        path: "/api/v1/models/{model}/uploads",
        id: "beginUpload",
        summary: "Begins a push: lists the blobs the store lacks",
        role: Some("publisher"),
        query: &[],
        body: Some(begin_body),
        ok: &[(201, "the upload and the blobs to send", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "put",
        path: "/api/v1/uploads/{upload}/blobs/{digest}",
        id: "putBlob",
        summary: "Sends one blob of an upload; its bytes must hash to the digest",
        role: Some("publisher"),
        query: &[],
        body: None,
        ok: &[(201, "stored", Body::Json(object)), (200, "the store had it", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "post",
        path: "/api/v1/uploads/{upload}/commit",
        id: "commitUpload",
        summary: "Creates the version once every blob is in",
        role: Some("publisher"),
        query: &[],
        body: Some(commit_body),
        ok: &[(201, "the new version", Body::Json(object)), (200, "unchanged (if_changed)", Body::Json(object))],
        errors: &[413],
    },
    Operation {
        method: "get",
        path: "/api/v1/models/{model}/versions/{version}/files/{*path}",
        id: "downloadFile",
        summary: "A version's file, verified as it is read; one byte range may be asked for",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the file", Body::Bytes), (206, "the range asked for", Body::Bytes)],
        errors: &[416],
    },
    Operation {
        method: "head",
        path: "/api/v1/models/{model}/versions/{version}/files/{*path}",
        id: "fileInfo",
        summary: "A version's file's size and digest",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the file's headers", Body::Empty), (206, "the range's headers", Body::Empty)],
        errors: &[416],
    },
    Operation {
        method: "get",
        path: "/models/{model}/versions",
        id: "seedListVersions",
        summary: "Older scripts' path: a model's versions and aliases",
        role: Some("reader"),
        query: &[],
        body: None,
        ok: &[(200, "the versions", Body::Json(object))],
        errors: &[],
    },
    Operation {
        method: "get",
        path: "/models/{model}/performance",
        id: "seedPerformance",
        summary: "Older scripts' path: the newest monitor report whose window ends in the range, its metrics flattened",
        role: Some("reader"),
        query: &[
            q("env", "only this environment's (the newest of any without it)", alias_name),
            q("start_date", "only windows ending at or after this date or time", date_or_time),
            q("end_date", "only windows ending at or before this date (the whole day) or time", date_or_time),
        ],
        body: None,
        ok: &[(200, "the newest report, flat", Body::Json(performance))],
        errors: &[],
    },
    Operation {
        method: "post",
        path: "/models/{model}/rollback",
        id: "seedRollback",
        summary: "Older scripts' path: rolls back an environment (production unless named)",
        role: Some("deployer"),
        query: &[],
        body: Some(seed_rollback_body),
        ok: &[(200, "the rollback", Body::Json(object))],
        errors: &[413],
    },
];

// ---- schemas ---------------------------------------------------------------

fn object() -> Value {
    json!({"type": "object"})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn optional(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

fn model_name() -> Value {
    json!({"type": "string", "pattern": NAME_REGEX})
}

/// An alias or environment: a name that is not all digits nor `latest`.
fn alias_name() -> Value {
    json!({"type": "string", "pattern": ALIAS_REGEX})
}

/// A version in a path: a number from 1, an alias or `latest`.
fn version_path() -> Value {
    json!({"anyOf": [
        {"type": "string", "pattern": "^[1-9][0-9]{0,14}$"},
        alias_name(),
        {"const": "latest"},
    ]})
}

/// A version number as a filter: any whole number (0 matches nothing).
fn any_version() -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})
}

fn version_number() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": MAX_VERSION})
}

/// A version in a body: `3`, `"3"`, `"v3"`, an alias or `"latest"`.
fn version_selector() -> Value {
    json!({"anyOf": [
        version_number(),
        {"type": "string", "pattern": "^v?[1-9][0-9]{0,14}$"},
        alias_name(),
        {"const": "latest"},
    ]})
}

/// A version by number only (a rollback's target): `3`, `"3"` or `"v3"`.
fn version_target() -> Value {
    json!({"anyOf": [
        version_number(),
        {"type": "string", "pattern": "^v?[1-9][0-9]{0,14}$"},
    ]})
}

/// A version number as a bound: any from 1.
fn version_bound() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": u64::MAX})
}

fn page_size() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 1000})
}

fn count() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": u32::MAX})
}

fn digest() -> Value {
    json!({"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"})
}

fn strings() -> Value {
    json!({"type": "object", "additionalProperties": {"type": "string"}})
}

fn list_of(key: &str) -> Value {
    json!({"type": "object", "required": [key], "properties": {key: {"type": "array", "items": {"type": "object"}}}})
}

fn models_list() -> Value {
    list_of("models")
}
fn gate_reports_list() -> Value {
    list_of("gate_reports")
}
fn history_list() -> Value {
    list_of("history")
}
fn deployments_list() -> Value {
    list_of("deployments")
}
fn approvals_list() -> Value {
    list_of("approvals")
}
fn audit_list() -> Value {
    list_of("entries")
}
fn deliveries_list() -> Value {
    list_of("deliveries")
}
fn tokens_list() -> Value {
    list_of("tokens")
}
fn policies_list() -> Value {
    list_of("policies")
}

fn status_ok() -> Value {
    json!({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}})
}

fn status_ready() -> Value {
    json!({"type": "object", "required": ["status"], "properties": {"status": {"const": "ready"}}})
}

fn alias_moved() -> Value {
    json!({
        "type": "object",
        "required": ["moved", "event"],
        "properties": {"moved": {"type": "boolean"}, "event": {"type": ["object", "null"]}},
    })
}

/// The one error body (`error.rs`).
pub fn error_body() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "additionalProperties": false,
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message", "hint"],
            "additionalProperties": false,
            "properties": {
                "code": {"type": "string", "enum": ERROR_CODES},
                "message": {"type": "string"},
                "hint": {"type": ["string", "null"]},
                "missing": {"type": "array", "items": {"type": "object"}},
            },
        }},
    })
}

/// A strict object: these properties, these required, nothing else.
fn strict(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties})
}

/// A manifest (`berth_core::Manifest`): its media type and at least one file.
fn manifest() -> Value {
    json!({
        "type": "object",
        "required": ["mediaType", "files"],
        "properties": {
            "mediaType": {"const": "application/vnd.berth.manifest.v1+json"},
            "files": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {
                    "type": "string",
                    "pattern": "^(?:[^/\\\\\\u0000.][^/\\\\\\u0000]*|\\.[^/\\\\\\u0000.][^/\\\\\\u0000]*|\\.\\.[^/\\\\\\u0000]+)(?:/(?:[^/\\\\\\u0000.][^/\\\\\\u0000]*|\\.[^/\\\\\\u0000.][^/\\\\\\u0000]*|\\.\\.[^/\\\\\\u0000]+))*$",
                },
                "additionalProperties": {
                    "type": "object",
                    "required": ["digest", "size"],
                    "properties": {
                        "digest": digest(),
                        "size": {"type": "integer", "minimum": 0, "maximum": u64::MAX},
                    },
                },
            },
        },
    })
}

/// `routes::TagsBody`.
fn tags_body() -> Value {
    strict(&["tags"], json!({"tags": strings()}))
}

/// `routes::GateReportBody`: the report as `berth validate --report-json` writes it.
fn gate_report_body() -> Value {
    strict(
        &["gate", "report"],
        json!({"gate": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\u0000-\\u001f\\u007f]+$"}, "report": object()}),
    )
}

fn servable() -> Value {
    json!({"type": "object", "required": ["waiting"], "properties": {"waiting": optional(text())}})
}

/// `rollouts::StartBody`.
fn rollout_start_body() -> Value {
    strict(&["env", "candidate"], json!({"env": alias_name(), "candidate": version_number()}))
}

/// `rollouts::EndBody`.
fn rollout_end_body() -> Value {
    strict(
        &["env", "candidate", "reason"],
        json!({"env": alias_name(), "candidate": version_number(), "reason": text(), "record": optional(object())}),
    )
}

/// `monitor::RecordBody`: the report as `berth monitor` writes it; the
/// fields the hub reads are described, the rest is the report's own.
fn monitor_report_body() -> Value {
    let report = json!({
        "type": "object",
        "required": ["version", "env", "degraded"],
        "properties": {
            "version": version_number(),
            "env": alias_name(),
            "degraded": {"type": "boolean"},
            "data_drift_detected": {"type": "boolean"},
            "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
            "window": {"type": "object", "properties": {"to": date_time()}},
            "summary": text(),
            "reasons": {"type": "array", "items": text()},
        },
    });
    strict(&["version", "env", "report"], json!({"version": version_number(), "env": alias_name(), "report": report}))
}

fn monitor_record() -> Value {
    json!({
        "type": "object",
        "required": ["id", "model", "version", "env", "degraded", "drift", "created_by", "created_at", "report"],
        "properties": {
            "id": {"type": "integer"},
            "model": model_name(),
            "version": version_number(),
            "env": alias_name(),
            "degraded": {"type": "boolean"},
            "drift": {"type": "boolean"},
            "created_by": text(),
            "created_at": text(),
            "report": object(),
        },
    })
}

fn monitor_recorded() -> Value {
    json!({
        "type": "object",
        "required": ["record", "events", "notified"],
        "properties": {
            "record": monitor_record(),
            "events": {"type": "array", "items": {"enum": ["monitor.degraded", "monitor.drift", "monitor.recovered"]}},
            "notified": {"type": "array", "items": {"type": "object"}},
        },
    })
}

fn monitor_reports_list() -> Value {
    json!({
        "type": "object",
        "required": ["monitor_reports"],
        "properties": {"monitor_reports": {"type": "array", "items": monitor_record()}},
    })
}

/// `monitor::flat`: what the report is about, and every metric beside it.
fn performance() -> Value {
    json!({
        "type": "object",
        "required": ["model", "version", "env", "created_at", "report_id", "window", "data_drift_detected", "degraded"],
        "properties": {
            "model": model_name(),
            "version": version_number(),
            "env": alias_name(),
            "created_at": text(),
            "report_id": {"type": "integer"},
            "window": object(),
            "data_drift_detected": {"type": "boolean"},
            "degraded": {"type": "boolean"},
        },
        "additionalProperties": {"type": "number"},
    })
}

fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// A bound of a range: a date (a whole day) or an RFC 3339 time.
fn date_or_time() -> Value {
    json!({"anyOf": [{"type": "string", "format": "date"}, date_time()]})
}

/// `routes::ApproveBody`.
fn approve_body() -> Value {
    strict(&["env"], json!({"env": alias_name(), "comment": optional(text())}))
}

/// `routes::AliasBody`.
fn alias_body() -> Value {
    strict(&["version"], json!({"version": version_number(), "reason": optional(text())}))
}

/// `routes::PromoteBody`.
fn promote_body() -> Value {
    strict(
        &["version", "env"],
        json!({
            "version": version_selector(),
            "env": alias_name(),
            "reason": optional(text()),
            "new_env": {"type": "boolean"},
        }),
    )
}

/// `routes::RollbackBody` (`target_version` is the older scripts' `to`).
fn rollback_body() -> Value {
    strict(
        &["env"],
        json!({
            "env": alias_name(),
            "to": optional(version_target()),
            "reason": optional(text()),
            "target_version": optional(version_target()),
        }),
    )
}

/// `routes::CheckBody`.
fn check_body() -> Value {
    strict(
        &["env", "live"],
        json!({
            "env": alias_name(),
            "live": {"type": "object", "additionalProperties": {"type": "number"}},
            "max_degradation": optional(json!({"type": "number", "exclusiveMinimum": 0})),
            "dry_run": optional(json!({"type": "boolean"})),
            "evidence": optional(object()),
        }),
    )
}

/// `seed::SeedRollback`.
fn seed_rollback_body() -> Value {
    strict(
        &[],
        json!({
            "target_version": optional(version_target()),
            "env": optional(alias_name()),
            "reason": optional(text()),
        }),
    )
}

/// `routes::TokenBody`.
fn token_body() -> Value {
    strict(
        &["principal", "role"],
        json!({
            "principal": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "\\S"},
            "role": {"type": "string", "enum": ["reader", "publisher", "approver", "deployer", "admin"]},
            "models": {
                "description": "`*`, a model's name, or a prefix ending in `*` such as `fraud-*`",
                "type": "string",
                "pattern": "^(?:\\*|[a-z0-9][a-z0-9._-]{0,63}|[a-z0-9][a-z0-9._-]{0,62}\\*)$",
            },
            "envs": {"type": "array", "items": alias_name()},
            "expires_in": optional(json!({
                "description": "how long the token lives, e.g. `90d`; without it, until revoked",
                "type": "string",
                "pattern": DURATION_REGEX,
            })),
        }),
    )
}

/// `routes::PolicyBody`, each environment a `berth_deploy::Policy`.
fn policy_body() -> Value {
    let names = json!({"type": "array", "items": {"type": "string", "pattern": "\\S"}});
    let policy = strict(
        &[],
        json!({
            "require_gates": names,
            "approvals": {"type": "integer", "minimum": 0, "maximum": u32::MAX},
            "allowed_branches": names,
            "promoters": {"type": "array", "items": {"type": "string"}},
            "max_degradation": optional(json!({"type": "number", "exclusiveMinimum": 0})),
        }),
    );
    strict(
        &["environments"],
        json!({
            "environments": {"type": "object", "propertyNames": alias_name(), "additionalProperties": policy},
            "source": optional(text()),
        }),
    )
}

/// `blobs::BeginBody`.
fn begin_body() -> Value {
    strict(&["manifest"], json!({"manifest": manifest()}))
}

/// `blobs::CommitBody` with its `MetaBody`.
fn commit_body() -> Value {
    let lineage = json!({
        "type": "object",
        "properties": {
            "git_commit": optional(text()),
            "git_branch": optional(text()),
            "git_dirty": optional(json!({"type": "boolean"})),
            "ci_provider": optional(text()),
            "ci_run_id": optional(text()),
            "ci_run_url": optional(text()),
            "data": {"type": "object", "additionalProperties": digest()},
            "extra": strings(),
        },
    });
    let meta = strict(
        &[],
        json!({
            "format": optional(text()),
            "signature": {},
            "params": strings(),
            "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
            "tags": strings(),
            "description": optional(text()),
            "lineage": lineage,
        }),
    );
    strict(
        &["model", "manifest"],
        json!({"model": model_name(), "manifest": manifest(), "meta": meta, "if_changed": {"type": "boolean"}}),
    )
}

/// A path parameter's schema, what it is, and an example, by its name in the route.
fn path_param(name: &str) -> (Value, &'static str, Option<&'static str>) {
    match name {
        "model" => (model_name(), "the model's name", Some("churn")),
        "version" => (version_path(), "a version number, an alias or `latest`", Some("1")),
        "alias" => (alias_name(), "the alias or environment", Some("staging")),
        "id" => (json!({"type": "string", "minLength": 1}), "the token's id (`tok_…`)", None),
        "upload" => (
            json!({"type": "integer", "minimum": 1, "maximum": i64::MAX}),
            "the upload number that beginning the upload answered",
            None,
        ),
        "digest" => (digest(), "the blob's digest", None),
        "path" => (json!({"type": "string", "minLength": 1}), "the file's path inside the version", Some("model.txt")),
        "name" => (
            json!({"type": "string", "pattern": "^(predictions|feedback)-[A-Za-z0-9._-]{1,200}\\.parquet$"}),
            "the segment's file name",
            Some("feedback-batch-1-1.parquet"),
        ),
        other => panic!("path parameter {other:?} has no schema"),
    }
}

// ---- the document ----------------------------------------------------------

/// The route as OpenAPI spells it (`{*path}` is `{path}`) and its parameters.
fn openapi_path(route: &str) -> (String, Vec<String>) {
    let mut names = Vec::new();
    let path = route
        .split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let name = name.trim_start_matches('*');
                names.push(name.to_string());
                format!("{{{name}}}")
            }
            None => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    (path, names)
}

fn describe(op: &Operation) -> Value {
    let (_, names) = openapi_path(op.path);
    let mut parameters: Vec<Value> = names
        .iter()
        .map(|n| {
            let (schema, description, example) = path_param(n);
            let mut p =
                json!({"name": n, "in": "path", "required": true, "description": description, "schema": schema});
            if let Some(e) = example {
                p["example"] = json!(e);
            }
            p
        })
        .collect();
    parameters.extend(op.query.iter().map(|p| {
        json!({"name": p.name, "in": "query", "required": false, "description": p.description, "schema": (p.schema)()})
    }));

    let mut responses = Map::new();
    for (status, description, body) in op.ok {
        let mut r = json!({"description": description});
        match body {
            Body::Json(schema) => r["content"] = json!({"application/json": {"schema": schema()}}),
            Body::Bytes => {
                r["content"] = json!({"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}})
            }
            Body::Text => r["content"] = json!({"text/plain": {"schema": {"type": "string"}}}),
            Body::Empty => {}
        }
        responses.insert(status.to_string(), r);
    }
    let mut errors: Vec<u16> = op.errors.to_vec();
    if op.role.is_some() {
        // Any authenticated route: a bad request or query, no token, a
        // denial, a name or version that does not exist, a conflict, a value
        // refused, a damaged blob, a backend that does not answer.
        errors.extend([400, 401, 403, 404, 409, 422, 500, 503]);
    }
    errors.sort_unstable();
    errors.dedup();
    for status in errors {
        let description = match status {
            400 => "the request is not well formed",
            401 => "no token, or not one the hub knows",
            403 => "the token's grant or the environment's policy refuses it",
            404 => "no such model, version, alias, file, upload or token",
            409 => "it conflicts with the registry's state",
            413 => "the body is over the hub's limit",
            416 => "the range starts past the file's end",
            422 => "a value is refused",
            500 => "a stored blob is damaged",
            503 => "the database or the store does not answer",
            _ => "an error",
        };
        let mut r = json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        if op.method == "head" {
            r = json!({"description": description});
        }
        responses.insert(status.to_string(), r);
    }

    let mut o = json!({
        "operationId": op.id,
        "summary": op.summary,
        "responses": responses,
    });
    if !parameters.is_empty() {
        o["parameters"] = Value::Array(parameters);
    }
    match op.role {
        None => o["security"] = json!([]),
        Some(role) => {
            o["description"] = json!(format!("Needs a token whose grant is at least `{role}` over the model."));
            o["x-berth-role"] = json!(role);
        }
    }
    if let Some(schema) = op.body {
        let schema = schema();
        let required = schema["required"].as_array().is_some_and(|r| !r.is_empty());
        o["requestBody"] = json!({"required": required, "content": {"application/json": {"schema": schema}}});
    }
    o
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let (path, _) = openapi_path(op.path);
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[op.method] = describe(op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "berth hub",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The team server: every request is the service acting as the token's principal. \
                            A Git LFS server answers at /lfs/{model} in Git LFS's own protocol (its batch API \
                            and basic transfers), which this document leaves to Git LFS's.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": error_body()},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Response {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = BYTES.get_or_init(|| serde_json::to_vec(&document()).expect("the document serialises"));
    let mut r = Response::new(axum::body::Body::from(bytes.clone()));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
