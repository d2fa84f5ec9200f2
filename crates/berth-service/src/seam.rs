//! The seam: what a client of berth can ask, whoever carries it out. [`Berth`]
//! does it in-process, against the store and registry it holds;
//! [`crate::HubClient`] asks a hub over HTTP, which does it with a `Berth` of
//! its own acting as the caller's token. The CLI holds a `dyn Operations`
//! and cannot tell the two apart; `conformance` runs one suite against both.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use berth_core::{
    AliasEvent, AliasName, Approval, AuditEntry, Delivery, Digest, GateRecord, Lineage, ModelName, MonitorRecord, Ref,
    Timestamp, VersionRecord,
};
use serde::{Deserialize, Serialize};

use crate::{
    ApprovalFilter, ApproveReport, Berth, CheckReport, CheckRequest, DeploymentRecord, LogSegment, LogSegmentPut,
    ModelFile, ModelSummary, MonitorRecorded, NewTokenReport, PolicyApplyReport, PolicyRecord, PolicySet,
    PolicyShowReport, Principal, PromoteReport, PullReport, PushOptions, PushReport, PushRequest, Result,
    RollbackReport, Scorer, ShowReport, TokenRecord, TokenRequest, TrainReport, Transfer, VersionsReport,
};

#[async_trait]
pub trait Operations: Send + Sync {
    /// Who the calls act as.
    async fn whoami(&self) -> Result<Principal>;
    async fn models(&self) -> Result<Vec<ModelSummary>>;
    async fn versions_with_aliases(&self, model: &ModelName) -> Result<VersionsReport>;
    async fn show(&self, r: &Ref) -> Result<ShowReport>;
    async fn resolve(&self, r: &Ref) -> Result<VersionRecord>;
    async fn tag(&self, r: &Ref, tags: &BTreeMap<String, String>) -> Result<VersionRecord>;
    async fn alias_set(
        &self,
        model: &ModelName,
        alias: &AliasName,
        n: u64,
        reason: Option<&str>,
    ) -> Result<Option<AliasEvent>>;
    async fn alias_rm(&self, model: &ModelName, alias: &AliasName, reason: Option<&str>) -> Result<AliasEvent>;
    async fn alias_history(&self, model: &ModelName, alias: Option<&AliasName>) -> Result<Vec<AliasEvent>>;
    async fn promote_into(
        &self,
        r: &Ref,
        env: &AliasName,
        reason: Option<&str>,
        new_env: bool,
    ) -> Result<PromoteReport>;
    async fn approve(&self, r: &Ref, env: &AliasName, comment: Option<&str>) -> Result<ApproveReport>;
    async fn approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>>;
    async fn rollback(
        &self,
        model: &ModelName,
        env: &AliasName,
        to: Option<u64>,
        reason: Option<&str>,
    ) -> Result<RollbackReport>;
    /// Live metrics against the ones the version live in an environment
    /// passed its gate with; rolls back beyond the allowed drop.
    async fn check(&self, req: &CheckRequest) -> Result<CheckReport>;
    async fn deployments(&self, model: &ModelName, env: Option<&AliasName>) -> Result<Vec<DeploymentRecord>>;
    async fn log(&self, model: Option<ModelName>, limit: Option<u32>) -> Result<Vec<AuditEntry>>;
    async fn notifications(&self, limit: Option<u32>) -> Result<Vec<Delivery>>;
    async fn create_token(&self, req: &TokenRequest) -> Result<NewTokenReport>;
    async fn tokens(&self) -> Result<Vec<TokenRecord>>;
    async fn revoke_token(&self, id: &str) -> Result<TokenRecord>;
    async fn policy_show(&self) -> Result<PolicyShowReport>;
    async fn policy_history(&self) -> Result<Vec<PolicyRecord>>;
    async fn policy_apply(&self, environments: &PolicySet, source: &str) -> Result<PolicyApplyReport>;
    /// A warning for a person about to move an environment, if the rules
    /// enforced are not the ones they hold locally.
    async fn policy_warning(&self) -> Result<Option<String>>;
    /// Pushes the files `req` names as a new version (hashed on this
    /// machine either way; the bytes go to the store or to the hub).
    async fn push_files(&self, req: PushRequest, opts: &PushOptions, transfer: &dyn Transfer) -> Result<PushReport>;
    /// Writes the files of the version `r` names into `dir` (by default
    /// `MODEL-vN`), verified, leaving alone those that already hold the right bytes.
    async fn pull(&self, r: &Ref, dir: Option<PathBuf>, transfer: &dyn Transfer) -> Result<PullReport>;

    /// The time as the service keeps it (its injected clock in-process).
    fn now(&self) -> Timestamp;
    /// A version's model (`model.berth`, or its only `.onnx` file), verified,
    /// in this machine's cache; the digest is the file's.
    async fn fetch_model(&self, r: &Ref) -> Result<(ModelFile, Digest, VersionRecord)>;
    /// One file of a version, whole and verified; `None` when it has no such file.
    async fn version_file(&self, v: &VersionRecord, path: &str) -> Result<Option<Vec<u8>>>;
    /// Records a gate's report on a version (and tells the notifiers).
    async fn store_gate_report(&self, v: &VersionRecord, gate: &str, report: &berth_gate::Report)
    -> Result<GateRecord>;
    /// Records a monitor report on a version for an environment and tells
    /// the notifiers what changed since the previous one (deployer role).
    async fn record_monitor_report(
        &self,
        v: &VersionRecord,
        env: &AliasName,
        report: &serde_json::Value,
    ) -> Result<MonitorRecorded>;
    /// A model's monitor reports (of one environment, or all), newest first.
    async fn monitor_reports(
        &self,
        model: &ModelName,
        env: Option<&AliasName>,
        limit: Option<u32>,
    ) -> Result<Vec<MonitorRecord>>;
    /// Whether a server can follow `r`: an error for a mistake that waiting
    /// would never fix, else what the server will wait for, if anything.
    async fn check_servable(&self, r: &Ref) -> Result<Option<String>>;
    /// Whether a rollout of `candidate` into `env` may start (the promotion policy).
    async fn rollout_allowed(&self, model: &ModelName, env: &AliasName, candidate: u64) -> Result<()>;
    /// A rollout's end: `env` moves to `candidate` if the policy still holds.
    async fn rollout_promote(&self, end: &RolloutEnd) -> Result<Option<AliasEvent>>;
    /// A rollout dropped: nothing moves; the notifiers are told.
    async fn rollout_aborted(&self, end: &RolloutEnd) -> Result<()>;
    /// Stores `bytes` as segment `name` of `model`'s prediction log (publisher role).
    async fn put_log_segment(&self, model: &ModelName, name: &str, bytes: Vec<u8>) -> Result<LogSegmentPut>;
    /// The segments of `model`'s prediction log in the store, in name order.
    async fn log_segments(&self, model: &ModelName) -> Result<Vec<LogSegment>>;
    /// The bytes of a segment a listing named, verified against its digest.
    async fn log_segment(&self, segment: &LogSegment) -> Result<Vec<u8>>;

    /// A version's model, fetched and opened for scoring.
    async fn open_scorer(&self, r: &Ref, features: Option<Vec<String>>) -> Result<(Scorer, VersionRecord)> {
        let (file, _, v) = self.fetch_model(r).await?;
        Ok((Scorer::from_model_file(&file, features)?, v))
    }
    /// Pushes a training run's directory as a new version of `model`, with
    /// its metrics, hyperparameters, signature and data digest: every caller
    /// that trains and pushes, in-process or through a hub, records the same.
    async fn push_training(
        &self,
        report: &TrainReport,
        model: ModelName,
        lineage: Lineage,
        transfer: &dyn Transfer,
    ) -> Result<PushReport> {
        let req = crate::train::push_request_for(report, model, lineage)?;
        self.push_files(req, &PushOptions::default(), transfer).await
    }
}

/// How a rollout ended, as the service records and announces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutEnd {
    pub model: ModelName,
    pub env: AliasName,
    pub candidate: u64,
    pub reason: String,
    /// The rollout's strategy and steps, kept with the move and the event.
    pub record: serde_json::Value,
}

#[async_trait]
impl Operations for Berth {
    async fn whoami(&self) -> Result<Principal> {
        Ok(self.principal().clone())
    }
    async fn models(&self) -> Result<Vec<ModelSummary>> {
        Berth::models(self).await
    }
    async fn versions_with_aliases(&self, model: &ModelName) -> Result<VersionsReport> {
        Berth::versions_with_aliases(self, model).await
    }
    async fn show(&self, r: &Ref) -> Result<ShowReport> {
        Berth::show(self, r).await
    }
    async fn resolve(&self, r: &Ref) -> Result<VersionRecord> {
        Berth::resolve(self, r).await
    }
    async fn tag(&self, r: &Ref, tags: &BTreeMap<String, String>) -> Result<VersionRecord> {
        Berth::tag(self, r, tags).await
    }
    async fn alias_set(
        &self,
        model: &ModelName,
        alias: &AliasName,
        n: u64,
        reason: Option<&str>,
    ) -> Result<Option<AliasEvent>> {
        Berth::alias_set(self, model, alias, n, reason).await
    }
    async fn alias_rm(&self, model: &ModelName, alias: &AliasName, reason: Option<&str>) -> Result<AliasEvent> {
        Berth::alias_rm(self, model, alias, reason).await
    }
    async fn alias_history(&self, model: &ModelName, alias: Option<&AliasName>) -> Result<Vec<AliasEvent>> {
        Berth::alias_history(self, model, alias).await
    }
    async fn promote_into(
        &self,
        r: &Ref,
        env: &AliasName,
        reason: Option<&str>,
        new_env: bool,
    ) -> Result<PromoteReport> {
        Berth::promote_into(self, r, env, reason, new_env).await
    }
    async fn approve(&self, r: &Ref, env: &AliasName, comment: Option<&str>) -> Result<ApproveReport> {
        Berth::approve(self, r, env, comment).await
    }
    async fn approvals(&self, filter: &ApprovalFilter) -> Result<Vec<Approval>> {
        Berth::approvals(self, filter).await
    }
    async fn rollback(
        &self,
        model: &ModelName,
        env: &AliasName,
        to: Option<u64>,
        reason: Option<&str>,
    ) -> Result<RollbackReport> {
        Berth::rollback(self, model, env, to, reason).await
    }
    async fn check(&self, req: &CheckRequest) -> Result<CheckReport> {
        Berth::check(self, req).await
    }
    async fn deployments(&self, model: &ModelName, env: Option<&AliasName>) -> Result<Vec<DeploymentRecord>> {
        Berth::deployments(self, model, env).await
    }
    async fn log(&self, model: Option<ModelName>, limit: Option<u32>) -> Result<Vec<AuditEntry>> {
        Berth::log(self, model, limit).await
    }
    async fn notifications(&self, limit: Option<u32>) -> Result<Vec<Delivery>> {
        Berth::notifications(self, limit).await
    }
    async fn create_token(&self, req: &TokenRequest) -> Result<NewTokenReport> {
        Berth::create_token(self, req).await
    }
    async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        Berth::tokens(self).await
    }
    async fn revoke_token(&self, id: &str) -> Result<TokenRecord> {
        Berth::revoke_token(self, id).await
    }
    async fn policy_show(&self) -> Result<PolicyShowReport> {
        Berth::policy_show(self).await
    }
    async fn policy_history(&self) -> Result<Vec<PolicyRecord>> {
        Berth::policy_history(self).await
    }
    async fn policy_apply(&self, environments: &PolicySet, source: &str) -> Result<PolicyApplyReport> {
        Berth::policy_apply(self, environments, source).await
    }
    async fn policy_warning(&self) -> Result<Option<String>> {
        Berth::policy_warning(self).await
    }
    async fn push_files(&self, req: PushRequest, opts: &PushOptions, transfer: &dyn Transfer) -> Result<PushReport> {
        Berth::push_with(self, req, opts, transfer).await
    }
    async fn pull(&self, r: &Ref, dir: Option<PathBuf>, transfer: &dyn Transfer) -> Result<PullReport> {
        Berth::pull(self, r, dir, transfer).await
    }
    fn now(&self) -> Timestamp {
        Berth::now(self)
    }
    async fn fetch_model(&self, r: &Ref) -> Result<(ModelFile, Digest, VersionRecord)> {
        Berth::fetch_model(self, r).await
    }
    async fn version_file(&self, v: &VersionRecord, path: &str) -> Result<Option<Vec<u8>>> {
        Berth::version_file(self, v, path).await
    }
    async fn store_gate_report(
        &self,
        v: &VersionRecord,
        gate: &str,
        report: &berth_gate::Report,
    ) -> Result<GateRecord> {
        Berth::store_gate_report(self, v, gate, report).await
    }
    async fn record_monitor_report(
        &self,
        v: &VersionRecord,
        env: &AliasName,
        report: &serde_json::Value,
    ) -> Result<MonitorRecorded> {
        Berth::record_monitor_report(self, v, env, report).await
    }
    async fn monitor_reports(
        &self,
        model: &ModelName,
        env: Option<&AliasName>,
        limit: Option<u32>,
    ) -> Result<Vec<MonitorRecord>> {
        Berth::monitor_reports(self, model, env, limit).await
    }
    async fn check_servable(&self, r: &Ref) -> Result<Option<String>> {
        Berth::check_servable(self, r).await
    }
    async fn rollout_allowed(&self, model: &ModelName, env: &AliasName, candidate: u64) -> Result<()> {
        Berth::rollout_allowed(self, model, env, candidate).await
    }
    async fn rollout_promote(&self, end: &RolloutEnd) -> Result<Option<AliasEvent>> {
        Berth::rollout_promote(self, end).await
    }
    async fn rollout_aborted(&self, end: &RolloutEnd) -> Result<()> {
        Berth::rollout_aborted(self, end).await
    }
    async fn put_log_segment(&self, model: &ModelName, name: &str, bytes: Vec<u8>) -> Result<LogSegmentPut> {
        Berth::put_log_segment(self, model, name, bytes).await
    }
    async fn log_segments(&self, model: &ModelName) -> Result<Vec<LogSegment>> {
        Berth::log_segments(self, model).await
    }
    async fn log_segment(&self, segment: &LogSegment) -> Result<Vec<u8>> {
        match Berth::log_segment(self, &segment.model, &segment.name).await? {
            Some((s, bytes)) if s.digest == segment.digest => Ok(bytes),
            Some((s, _)) => Err(crate::ServiceError::Conflict {
                message: format!("segment {} of {} is {}, not {}", s.name, s.model, s.digest, segment.digest),
                hint: Some("list the segments again".into()),
            }),
            None => Err(crate::log_store::no_segment(&segment.model, &segment.name)),
        }
    }
}
