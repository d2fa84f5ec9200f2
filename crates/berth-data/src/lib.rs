//! Tabular data in and out: CSV and Parquet read into typed columns (float,
//! integer, bool, categorical text, timestamp — each with nulls), schemas,
//! one-pass reference profiles, and seeded synthetic data for CI and demos.
//! Depends only on `berth-core`; it knows nothing of models, stores or
//! registries, and does no network I/O.

mod calendar;
mod column;
mod concat;
mod csv_io;
mod error;
mod io;
mod parquet_io;
mod profile;
mod rng;
mod schema;
pub mod synth;
mod text_index;

pub use calendar::Calendar;
pub use column::{Column, ColumnData, Table};
pub use error::DataError;
pub use io::{ReadOptions, data_files, read_files, read_table, write_table};
pub use profile::{CategoricalProfile, ColumnProfile, MAX_CATEGORIES, NumericProfile, OTHER, Profile, quantile_sorted};
pub use rng::Rng;
pub use schema::{ColumnType, Field, Schema};
pub use text_index::TextIndex;

pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// The cores this process may use, read once: the standard library's answer
/// reads cgroup files on every call, too slow for a per-request path.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
