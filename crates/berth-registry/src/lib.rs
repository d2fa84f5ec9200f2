//! The registry: models, versions, aliases (environments) with their full
//! history, upload leases that keep garbage collection safe, and the
//! append-only audit log. One [`Registry`] trait, implemented once
//! (`registry.rs`) over `sqlx::Any` for SQLite (the embedded default) and
//! PostgreSQL with the same SQL; one test suite runs against both. The SQL
//! is split by aggregate (`versions.rs`, `aliases.rs`, `gate_reports.rs`,
//! `monitor_reports.rs`, `audit.rs`, `leases.rs`, `approvals.rs`, `deliveries.rs`, `tokens.rs`,
//! `policies.rs`, `notes.rs`, `staged.rs`, `migrate.rs`); what differs between the engines is in
//! `engine.rs`, and how each is opened in `sqlite.rs` and `postgres.rs`. The registry stores digests,
//! never bytes: it must not depend on the blob store.

mod access;
mod aliases;
mod approvals;
mod audit;
mod connect;
mod db;
mod deliveries;
mod deploy;
mod engine;
mod error;
mod gate_reports;
mod leases;
mod lfs;
mod log_segments;
mod migrate;
mod monitor_reports;
mod notes;
mod policies;
mod postgres;
mod registry;
mod rows;
mod sqlite;
mod staged;
mod tokens;
mod versions;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use berth_core::{
    AliasEvent, AliasName, Approval, AuditEntry, Delivery, Digest, GateRecord, ModelName, MonitorRecord, NewVersion,
    Ref, Timestamp, VersionRecord,
};
use serde::{Deserialize, Serialize};

pub use access::{Access, NewToken, PolicyRecord, TokenRecord};
pub use connect::{RegistryUrl, connect};
pub use deploy::{ApprovalFilter, DeliveryUpdate, Deploy, DeployTarget, MoveFacts, MoveGuard, NewDelivery};
pub use error::RegistryError;
pub use lfs::LfsObject;
pub use log_segments::LogSegment;
pub use notes::{ModelNotes, NoteEdit};
pub use postgres::PgRegistry;
pub use sqlite::SqliteRegistry;
pub use staged::StagedFile;

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub name: ModelName,
    pub versions: u64,
    pub latest: Option<u64>,
    pub aliases: BTreeMap<String, u64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A promise from a push in progress: "these blobs are about to be
/// referenced". Garbage collection treats leased blobs as live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcRunId(pub i64);

/// An upload lease as stored: who holds it (`host:pid`) and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: LeaseId,
    pub holder: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// This process, as a lease holder: `host:pid`.
pub fn this_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()));
    format!("{host}:{}", std::process::id())
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub model: Option<ModelName>,
    pub limit: Option<u32>,
}

/// Who is acting, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The principal: a person or a service account.
    pub name: String,
    /// The token it came with (its id, never its secret), when it came with one.
    pub token: Option<String>,
}

impl Actor {
    /// A local actor, without a token.
    pub fn named(name: impl Into<String>) -> Actor {
        Actor { name: name.into(), token: None }
    }
}

/// What `add_gate_report` stores.
#[derive(Debug, Clone)]
pub struct NewGateReport<'a> {
    pub model: &'a ModelName,
    pub version: u64,
    pub gate: &'a str,
    pub data_digest: &'a str,
    pub passed: bool,
    pub report: &'a serde_json::Value,
}

/// What `add_monitor_report` stores: the report and the two flags alerts
/// follow, pulled out of it by the caller.
#[derive(Debug, Clone)]
pub struct NewMonitorReport<'a> {
    pub model: &'a ModelName,
    pub version: u64,
    pub env: &'a AliasName,
    pub degraded: bool,
    pub drift: bool,
    /// Where the report's window ends, so reports can be found by the time they cover.
    pub window_end: Option<Timestamp>,
    pub report: &'a serde_json::Value,
}

/// Which of a model's monitor reports `monitor_reports` returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonitorFilter<'a> {
    /// Only this environment's; every environment's when `None`.
    pub env: Option<&'a AliasName>,
    /// Only reports whose window ends at or after this.
    pub window_ends_from: Option<Timestamp>,
    /// Only reports whose window ends at or before this.
    pub window_ends_to: Option<Timestamp>,
    /// At most this many; all when `None`.
    pub limit: Option<u32>,
}

#[async_trait]
pub trait Registry: Access + Send + Sync {
    /// The registry's URL with any password hidden, for messages.
    fn url(&self) -> String;

    /// Creates the next version of `v.model` (creating the model on its first
    /// version) in one transaction with its blob references and an audit
    /// entry; releases `lease` in the same transaction.
    async fn create_version(&self, v: NewVersion, blobs: &[Digest], lease: Option<LeaseId>) -> Result<VersionRecord>;

    async fn models(&self) -> Result<Vec<ModelSummary>>;

    /// Every version of a model, newest first.
    async fn versions(&self, model: &ModelName) -> Result<Vec<VersionRecord>> {
        self.versions_page(model, None, None).await
    }

    /// A page of a model's versions, newest first: those numbered below
    /// `before`, at most `limit` of them (all when `None`).
    async fn versions_page(
        &self,
        model: &ModelName,
        before: Option<u64>,
        limit: Option<u32>,
    ) -> Result<Vec<VersionRecord>>;

    async fn version(&self, model: &ModelName, n: u64) -> Result<VersionRecord>;

    /// The newest version of `model` whose manifest is `manifest`, if any.
    async fn newest_with_manifest(&self, model: &ModelName, manifest: &Digest) -> Result<Option<VersionRecord>>;

    /// Resolves `name@N`, `name@alias` or `name@latest` to a version.
    async fn resolve(&self, r: &Ref) -> Result<VersionRecord>;

    /// Sets tags on a version (tags are the one mutable part of a version).
    async fn set_tags(
        &self,
        model: &ModelName,
        n: u64,
        tags: &BTreeMap<String, String>,
        actor: &Actor,
    ) -> Result<VersionRecord>;

    /// Points an alias at a version; a no-op (returning `None`) when it already does.
    async fn set_alias(
        &self,
        model: &ModelName,
        alias: &AliasName,
        n: u64,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Option<AliasEvent>>;

    async fn remove_alias(
        &self,
        model: &ModelName,
        alias: &AliasName,
        actor: &Actor,
        reason: Option<&str>,
        guard: Option<&dyn MoveGuard>,
    ) -> Result<AliasEvent>;

    async fn aliases(&self, model: &ModelName) -> Result<BTreeMap<String, u64>>;

    /// Every move of a model's aliases (or of one alias), oldest first.
    async fn alias_history(&self, model: &ModelName, alias: Option<&AliasName>) -> Result<Vec<AliasEvent>>;

    /// Stores a gate's report on a version (audited as `version.gate`).
    async fn add_gate_report(&self, report: NewGateReport<'_>, actor: &Actor) -> Result<GateRecord>;

    /// The gate reports stored on a version, oldest first.
    async fn gate_reports(&self, model: &ModelName, n: u64) -> Result<Vec<GateRecord>>;

    /// Stores a monitor report on a version for an environment (audited as
    /// `version.monitor`) and returns, with it, the report stored before it
    /// for the same model and environment, read in the same transaction, so
    /// that what changed between the two is decided once.
    async fn add_monitor_report(
        &self,
        report: NewMonitorReport<'_>,
        actor: &Actor,
    ) -> Result<(Option<MonitorRecord>, MonitorRecord)>;

    /// A model's monitor reports as `filter` narrows them, newest first.
    async fn monitor_reports(&self, model: &ModelName, filter: &MonitorFilter<'_>) -> Result<Vec<MonitorRecord>>;

    /// The audit log, newest first.
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;

    /// Appends an audit entry for an operation outside the registry (gc).
    async fn record(&self, actor: &Actor, action: &str, after: serde_json::Value) -> Result<()>;

    /// Every blob some version references, with one referencing version each.
    async fn referenced_blobs(&self) -> Result<BTreeMap<Digest, (ModelName, u64)>>;

    /// Records blob `oid` (`size` bytes) as stored through the Git LFS
    /// repository `repo`, audited as `lfs.object`; true when it is new.
    async fn record_lfs_object(&self, repo: &ModelName, oid: &Digest, size: u64, actor: &Actor) -> Result<bool>;

    /// Object `oid` of Git LFS repository `repo`, when that repository recorded it.
    async fn lfs_object(&self, repo: &ModelName, oid: &Digest) -> Result<Option<LfsObject>>;

    /// Every blob stored through Git LFS, with one repository that recorded
    /// it: live for garbage collection whether or not a version references it.
    async fn lfs_blobs(&self) -> Result<BTreeMap<Digest, ModelName>>;

    /// Records segment `name` of `model`'s prediction log as blob `digest`
    /// (`size` bytes), audited as `log.segment`; a name already recorded
    /// keeps what it holds. Returns the name's record and whether it is new.
    async fn record_log_segment(
        &self,
        model: &ModelName,
        name: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<(LogSegment, bool)>;

    /// Segment `name` of `model`'s prediction log, if it is recorded.
    async fn log_segment(&self, model: &ModelName, name: &str) -> Result<Option<LogSegment>>;

    /// The prediction-log segments recorded for `model`, in name order.
    async fn log_segments(&self, model: &ModelName) -> Result<Vec<LogSegment>>;

    /// Every prediction-log segment's blob, with one model that recorded it:
    /// live for garbage collection.
    async fn log_segment_blobs(&self) -> Result<BTreeMap<Digest, ModelName>>;

    /// Creates `model` without versions, with a description and tags
    /// (audited as `model.create`); false when the model exists already.
    async fn create_model(
        &self,
        model: &ModelName,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
        actor: &Actor,
    ) -> Result<bool>;

    /// A model's description and tags.
    async fn model_notes(&self, model: &ModelName) -> Result<ModelNotes>;

    /// Changes a model's description or one of its tags.
    async fn edit_model(&self, model: &ModelName, edit: &NoteEdit, actor: &Actor) -> Result<ModelNotes>;

    /// Changes a version's description or one of its tags.
    async fn edit_version(&self, model: &ModelName, n: u64, edit: &NoteEdit, actor: &Actor) -> Result<VersionRecord>;

    /// Deletes a model that has no versions ([`RegistryError::ModelHasVersions`] otherwise).
    async fn delete_model(&self, model: &ModelName, actor: &Actor) -> Result<()>;

    /// Stages blob `digest` (`size` bytes) at `path` under `model`, replacing
    /// what the path held; audited as `file.stage`.
    async fn stage_file(
        &self,
        model: &ModelName,
        path: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<StagedFile>;

    /// The files staged under `model`, in path order.
    async fn staged_files(&self, model: &ModelName) -> Result<Vec<StagedFile>>;

    /// Every staged file's blob, with one model that staged it: live for
    /// garbage collection whether or not a version references it.
    async fn staged_blobs(&self) -> Result<BTreeMap<Digest, ModelName>>;

    /// Registers the blobs a push is about to reference. Fails with
    /// [`RegistryError::GcRunning`] if a garbage collection is running.
    async fn begin_upload(&self, blobs: &[Digest], ttl: Duration) -> Result<LeaseId>;

    async fn end_upload(&self, lease: LeaseId) -> Result<()>;

    /// Blobs held by unexpired leases.
    async fn leased_blobs(&self) -> Result<Vec<Digest>>;

    /// The blobs one unexpired lease holds; `None` when it has ended or expired.
    async fn lease_digests(&self, lease: LeaseId) -> Result<Option<Vec<Digest>>>;

    /// Unexpired leases, oldest first.
    async fn active_leases(&self) -> Result<Vec<Lease>>;

    /// Marks a garbage collection as running: from now on `begin_upload`
    /// fails with `GcRunning` until [`Registry::gc_end`].
    async fn gc_begin(&self, ttl: Duration) -> Result<GcRunId>;

    async fn gc_end(&self, run: GcRunId) -> Result<()>;

    /// Moves an environment as one transaction: reads where it points, picks
    /// the target (for [`DeployTarget::PreviousHealthy`], from the history it
    /// reads in the same transaction), moves it and appends the move to the
    /// history and the audit log. `None` when it already points there.
    /// Concurrent calls on one model are serialised, so the history is a
    /// chain without gaps.
    async fn deploy(&self, d: Deploy<'_>, actor: &Actor) -> Result<Option<AliasEvent>>;

    /// Records `actor`'s approval of a version for an environment. Approving
    /// twice keeps the first approval; the flag says whether this one is new.
    async fn approve(
        &self,
        model: &ModelName,
        n: u64,
        env: &AliasName,
        actor: &Actor,
        comment: Option<&str>,
    ) -> Result<(Approval, bool)>;

    /// Approvals, oldest first.
    async fn approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>>;

    /// Records a notification about to be delivered; returns its id.
    async fn add_delivery(&self, d: NewDelivery<'_>) -> Result<i64>;

    async fn update_delivery(&self, id: i64, u: &DeliveryUpdate) -> Result<()>;

    /// The delivery log, newest first.
    async fn deliveries(&self, limit: Option<u32>) -> Result<Vec<Delivery>>;
}
