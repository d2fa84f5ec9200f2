//! The road to production: environment policies and what a promotion still
//! lacks ([`policy`]), the comparison of live metrics with a version's gate
//! metrics that triggers an automatic rollback ([`degradation`]), and
//! notifications of what happened ([`event`], [`notify`], [`email`]). It decides and
//! delivers; the registry records. It must not depend on the store, the
//! data or model crates, or the server.

pub mod degradation;
pub mod email;
pub mod episode;
pub mod event;
pub mod notify;
pub mod policy;
pub mod rollout;

pub use degradation::{Degradation, DegradationReport, compare};
pub use event::{Event, EventKind};
pub use notify::{NotifierConfig, NotifierKind, Notifiers};
pub use policy::{Facts, Missing, Policy};
