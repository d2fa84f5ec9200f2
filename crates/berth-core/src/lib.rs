//! Domain types shared by every berth crate: names, digests, refs, manifests,
//! version records, audit entries, the clock and the error classification that
//! maps failures to exit codes. This crate does no I/O and depends on no other
//! berth crate; everything else builds on its vocabulary.

pub mod access;
pub mod clock;
pub mod deploy;
pub mod digest;
pub mod error;
pub mod key_value;
pub mod manifest;
pub mod model_arg;
pub mod name;
pub mod reference;
pub mod suggest;
pub mod version;

pub use access::{Grant, ModelPattern, PatternError, Role};
pub use clock::{Clock, FixedClock, SystemClock, Timestamp};
pub use deploy::{Approval, Delivery, DeliveryStatus, MoveKind};
pub use digest::{Digest, DigestError, Sha256Hasher};
pub use error::{ErrorClass, Exit};
pub use key_value::{KeyValue, KeyValueError};
pub use manifest::{Manifest, ManifestEntry, ManifestError, RelPath};
pub use model_arg::{ModelArg, ModelArgError};
pub use name::{AliasName, ModelName, NameError};
pub use reference::{Ref, RefError, Selector};
pub use version::{
    AliasEvent, AuditEntry, GateRecord, Lineage, MonitorRecord, NewVersion, VersionMeta, VersionRecord, VersionStatus,
};
