//! The validation gate: the gate file ([`gate`], its reference in
//! [`GATE_REFERENCE`]), metrics equal to scikit-learn's ([`metrics`]; MAPE in
//! percent; [`Metric`] is the closed set a gate names), statistical tests
//! equal to SciPy's ([`stats`]), drift ([`drift`]; the bins PSI counts in,
//! shared with live counters, in [`bins`]), the checks and their
//! verdict ([`evaluate`]), the report in its four renderings ([`report`]) and the
//! judgment of a window of live traffic ([`monitor`]). Works on
//! in-memory columns only: no I/O, no network, nothing from the store or the
//! registry; the caller loads, scores and times, the gate computes and decides.

pub mod bins;
pub mod drift;
pub mod evaluate;
pub mod gate;
pub mod metrics;
pub mod monitor;
pub mod report;
pub mod stats;

pub use gate::{GATE_REFERENCE, Gate, GateError};
pub use metrics::Metric;
pub use report::Report;
