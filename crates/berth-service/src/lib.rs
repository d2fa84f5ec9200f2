//! The operations users perform — init, push, pull, resolve, tag, alias, log,
//! gc, fsck — over a blob store and a registry. This is the one service layer:
//! the CLI calls it today and the hub will call it tomorrow, so nothing may
//! reach the store or the registry around it. It does no argument parsing and
//! no printing; results are plain serialisable structs.

mod access;
mod config;
mod deploy;
mod doctor;
mod endpoint;
mod environment;
mod error;
mod files;
mod fsck;
mod gc;
mod gitignore;
mod hub_client;
mod hub_log;
mod hub_transfer;
mod import_git;
mod lfs;
mod lfs_pointer;
mod lineage;
pub mod log_store;
mod metrics_file;
pub mod monitor;
mod monitor_reports;
mod notes;
mod policy;
mod predict;
pub mod prediction_log;
mod pull;
mod push;
mod seam;
mod service;
mod smoke;
mod staged;
#[cfg(test)]
mod testing;
mod train;
mod transport;
mod upload;
mod validate;

pub use access::{NewTokenReport, Principal, TOKEN_PREFIX, TokenRequest};
pub use config::{Config, ENV_PREFIX, InitOutcome, init};
pub use deploy::{ApproveReport, CheckReport, CheckRequest, DeploymentRecord, Lack, PromoteReport, RollbackReport};
pub use doctor::{DoctorReport, Finding, GitFacts, HistoryBlob, Severity, berth_findings, git_findings};
pub use endpoint::{Endpoint, EndpointUrl};
pub use error::{ErrorKind, ServiceError};
pub use fsck::{FsckProblem, FsckReport, RepairedBlob};
pub use gc::GcReport;
pub use gitignore::GitWarning;
pub use hub_client::HubClient;
pub use import_git::{ImportReport, ImportedCommit, import_git};
pub use lfs::{LfsObjectState, LfsOperation, LfsPut, lfs_oid, lfs_url};
pub use lineage::{Env, detect_actor, detect_lineage};
pub use log_store::{LogSegmentPut, SegmentSync, download_segments, upload_segments};
pub use metrics_file::read_metrics;
pub use monitor_reports::{MonitorRecorded, parse_time_bound};
pub use policy::{PolicyApplyReport, PolicyInForce, PolicySet, PolicyShowReport, read_policy_file};
pub use predict::{ModelFile, PredictReport, Scorer, predict_to_file};
pub use pull::PullReport;
pub use push::{PushOptions, PushReport, PushRequest};
pub use seam::{Operations, RolloutEnd};
pub use service::{Berth, NoTransfer, ShowFile, ShowGate, ShowReport, Transfer, VersionsReport};
pub use smoke::{SmokeCheck, SmokeReport, SmokeRequest, smoke};
pub use train::{MODEL_FILE, TrainReport, TrainRequest, file_digest, load_train_config, train, train_off_runtime};
pub use upload::{BlobPut, CommitReport, UploadBegun, UploadId, VersionFile};
pub use validate::{Subject, ValidateRequest, model_arg, needs_project, validate};

// Values callers pass in or get back that the store and registry define:
// re-exported so that callers depend on this crate alone.
pub use berth_gate::Report as GateReport;
pub use berth_registry::{
    ApprovalFilter, LfsObject, LogSegment, ModelNotes, ModelSummary, NoteEdit, PolicyRecord, RegistryUrl, StagedFile,
    TokenRecord,
};
pub use berth_store::{Hashed, Progress, StoreUrl};

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
