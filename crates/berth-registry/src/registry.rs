//! The one [`Registry`] implementation, the same for both engines. Each method
//! hands off to the module that holds its aggregate's SQL: `versions.rs`,
//! `aliases.rs`, `gate_reports.rs`, `monitor_reports.rs`, `audit.rs`, `leases.rs`, `approvals.rs`
//! and `deliveries.rs`.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

use async_trait::async_trait;
use berth_core::{
    AliasEvent, AliasName, Approval, AuditEntry, Delivery, Digest, GateRecord, ModelName, MonitorRecord, NewVersion,
    Ref, VersionRecord,
};

use crate::db::Db;
use crate::{
    Actor, ApprovalFilter, AuditFilter, DeliveryUpdate, Deploy, GcRunId, Lease, LeaseId, ModelSummary, MonitorFilter,
    NewDelivery, NewGateReport, NewMonitorReport, Registry, Result,
};

/// A registry on one engine. `E` only tells the engines apart at the type
/// level, so that each has its own `open` (see [`crate::SqliteRegistry`] and
/// [`crate::PgRegistry`]); everything else is shared.
pub struct SqlRegistry<E> {
    pub(crate) db: Db,
    engine: PhantomData<fn() -> E>,
}

impl<E> SqlRegistry<E> {
    pub(crate) fn new(db: Db) -> Self {
        SqlRegistry { db, engine: PhantomData }
    }

    /// Closes the connection pool, waiting for connections in use to be
    /// returned. Later calls on this registry fail.
    pub async fn close(&self) {
        self.db.pool.close().await;
    }
}

#[async_trait]
impl<E> Registry for SqlRegistry<E> {
    fn url(&self) -> String {
        self.db.url.clone()
    }

    async fn create_version(&self, v: NewVersion, blobs: &[Digest], lease: Option<LeaseId>) -> Result<VersionRecord> {
        self.db.create_version(v, blobs, lease).await
    }

    async fn models(&self) -> Result<Vec<ModelSummary>> {
        self.db.models().await
    }

    async fn versions_page(
        &self,
        model: &ModelName,
        before: Option<u64>,
        limit: Option<u32>,
    ) -> Result<Vec<VersionRecord>> {
        self.db.versions(model, before, limit).await
    }

    async fn version(&self, model: &ModelName, n: u64) -> Result<VersionRecord> {
        self.db.version(model, n).await
    }

    async fn newest_with_manifest(&self, model: &ModelName, manifest: &Digest) -> Result<Option<VersionRecord>> {
        self.db.newest_with_manifest(model, manifest).await
    }

    async fn resolve(&self, r: &Ref) -> Result<VersionRecord> {
        self.db.resolve(r).await
    }

    async fn set_tags(
        &self,
        model: &ModelName,
        n: u64,
        tags: &BTreeMap<String, String>,
        actor: &Actor,
    ) -> Result<VersionRecord> {
        self.db.set_tags(model, n, tags, actor).await
    }

    async fn set_alias(
        &self,
        model: &ModelName,
        alias: &AliasName,
        n: u64,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Option<AliasEvent>> {
        self.db.set_alias(model, alias, n, actor, reason).await
    }

    async fn remove_alias(
        &self,
        model: &ModelName,
        alias: &AliasName,
        actor: &Actor,
        reason: Option<&str>,
        guard: Option<&dyn crate::MoveGuard>,
    ) -> Result<AliasEvent> {
        self.db.remove_alias(model, alias, actor, reason, guard).await
    }

    async fn aliases(&self, model: &ModelName) -> Result<BTreeMap<String, u64>> {
        self.db.aliases(model).await
    }

    async fn alias_history(&self, model: &ModelName, alias: Option<&AliasName>) -> Result<Vec<AliasEvent>> {
        self.db.alias_history(model, alias).await
    }

    async fn add_gate_report(&self, report: NewGateReport<'_>, actor: &Actor) -> Result<GateRecord> {
        self.db.add_gate_report(report, actor).await
    }

    async fn gate_reports(&self, model: &ModelName, n: u64) -> Result<Vec<GateRecord>> {
        self.db.gate_reports(model, n).await
    }

    async fn add_monitor_report(
        &self,
        report: NewMonitorReport<'_>,
        actor: &Actor,
    ) -> Result<(Option<MonitorRecord>, MonitorRecord)> {
        self.db.add_monitor_report(report, actor).await
    }

    async fn monitor_reports(&self, model: &ModelName, filter: &MonitorFilter<'_>) -> Result<Vec<MonitorRecord>> {
        self.db.monitor_reports(model, filter).await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        self.db.audit(filter).await
    }

    async fn record(&self, actor: &Actor, action: &str, after: serde_json::Value) -> Result<()> {
        self.db.record(actor, action, after).await
    }

    async fn referenced_blobs(&self) -> Result<BTreeMap<Digest, (ModelName, u64)>> {
        self.db.referenced_blobs().await
    }

    async fn record_lfs_object(&self, repo: &ModelName, oid: &Digest, size: u64, actor: &Actor) -> Result<bool> {
        self.db.record_lfs_object(repo, oid, size, actor).await
    }

    async fn lfs_object(&self, repo: &ModelName, oid: &Digest) -> Result<Option<crate::LfsObject>> {
        self.db.lfs_object(repo, oid).await
    }

    async fn lfs_blobs(&self) -> Result<BTreeMap<Digest, ModelName>> {
        self.db.lfs_blobs().await
    }

    async fn record_log_segment(
        &self,
        model: &ModelName,
        name: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<(crate::LogSegment, bool)> {
        self.db.record_log_segment(model, name, digest, size, actor).await
    }

    async fn log_segment(&self, model: &ModelName, name: &str) -> Result<Option<crate::LogSegment>> {
        self.db.log_segment(model, name).await
    }

    async fn log_segments(&self, model: &ModelName) -> Result<Vec<crate::LogSegment>> {
        self.db.log_segments(model).await
    }

    async fn log_segment_blobs(&self) -> Result<BTreeMap<Digest, ModelName>> {
        self.db.log_segment_blobs().await
    }

    async fn create_model(
        &self,
        model: &ModelName,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
        actor: &Actor,
    ) -> Result<bool> {
        self.db.create_model(model, description, tags, actor).await
    }

    async fn model_notes(&self, model: &ModelName) -> Result<crate::ModelNotes> {
        self.db.model_notes(model).await
    }

    async fn edit_model(&self, model: &ModelName, edit: &crate::NoteEdit, actor: &Actor) -> Result<crate::ModelNotes> {
        self.db.edit_model(model, edit, actor).await
    }

    async fn edit_version(
        &self,
        model: &ModelName,
        n: u64,
        edit: &crate::NoteEdit,
        actor: &Actor,
    ) -> Result<VersionRecord> {
        self.db.edit_version(model, n, edit, actor).await
    }

    async fn delete_model(&self, model: &ModelName, actor: &Actor) -> Result<()> {
        self.db.delete_model(model, actor).await
    }

    async fn stage_file(
        &self,
        model: &ModelName,
        path: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<crate::StagedFile> {
        self.db.stage_file(model, path, digest, size, actor).await
    }

    async fn staged_files(&self, model: &ModelName) -> Result<Vec<crate::StagedFile>> {
        self.db.staged_files(model).await
    }

    async fn staged_blobs(&self) -> Result<BTreeMap<Digest, ModelName>> {
        self.db.staged_blobs().await
    }

    async fn begin_upload(&self, blobs: &[Digest], ttl: Duration) -> Result<LeaseId> {
        self.db.begin_upload(blobs, ttl).await
    }

    async fn end_upload(&self, lease: LeaseId) -> Result<()> {
        self.db.end_upload(lease).await
    }

    async fn leased_blobs(&self) -> Result<Vec<Digest>> {
        self.db.leased_blobs().await
    }

    async fn lease_digests(&self, lease: LeaseId) -> Result<Option<Vec<Digest>>> {
        self.db.lease_digests(lease).await
    }

    async fn active_leases(&self) -> Result<Vec<Lease>> {
        self.db.active_leases().await
    }

    async fn gc_begin(&self, ttl: Duration) -> Result<GcRunId> {
        self.db.gc_begin(ttl).await
    }

    async fn gc_end(&self, run: GcRunId) -> Result<()> {
        self.db.gc_end(run).await
    }

    async fn deploy(&self, d: Deploy<'_>, actor: &Actor) -> Result<Option<AliasEvent>> {
        self.db.deploy(d, actor).await
    }

    async fn approve(
        &self,
        model: &ModelName,
        n: u64,
        env: &AliasName,
        actor: &Actor,
        comment: Option<&str>,
    ) -> Result<(Approval, bool)> {
        self.db.approve(model, n, env, actor, comment).await
    }

    async fn approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>> {
        self.db.approvals(filter).await
    }

    async fn add_delivery(&self, d: NewDelivery<'_>) -> Result<i64> {
        self.db.add_delivery(d).await
    }

    async fn update_delivery(&self, id: i64, u: &DeliveryUpdate) -> Result<()> {
        self.db.update_delivery(id, u).await
    }

    async fn deliveries(&self, limit: Option<u32>) -> Result<Vec<Delivery>> {
        self.db.deliveries(limit).await
    }
}

#[async_trait]
impl<E> crate::Access for SqlRegistry<E> {
    async fn create_token(&self, t: crate::NewToken<'_>, actor: &Actor) -> Result<crate::TokenRecord> {
        self.db.create_token(t, actor).await
    }

    async fn token_by_hash(&self, secret_sha256: &str) -> Result<Option<crate::TokenRecord>> {
        self.db.token_by_hash(secret_sha256).await
    }

    async fn tokens(&self) -> Result<Vec<crate::TokenRecord>> {
        self.db.tokens().await
    }

    async fn revoke_token(&self, id: &str, actor: &Actor) -> Result<crate::TokenRecord> {
        self.db.revoke_token(id, actor).await
    }

    async fn touch_token(&self, id: &str) -> Result<()> {
        self.db.touch_token(id).await
    }

    async fn apply_policy(
        &self,
        document: &serde_json::Value,
        source: Option<&str>,
        actor: &Actor,
    ) -> Result<(crate::PolicyRecord, bool)> {
        self.db.apply_policy(document, source, actor).await
    }

    async fn policy(&self) -> Result<Option<crate::PolicyRecord>> {
        self.db.policy().await
    }

    async fn policy_history(&self) -> Result<Vec<crate::PolicyRecord>> {
        self.db.policy_history().await
    }
}
