//! The validation gate's mathematics: metrics (equal to scikit-learn's, pinned
//! by reference values it computed) and, as the gate grows, statistical
//! tests, checks and reports. Works on in-memory columns only: no I/O, no
//! network, nothing from the store or the registry.

pub mod metrics;
