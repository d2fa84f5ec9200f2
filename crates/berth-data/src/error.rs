use std::path::PathBuf;

use berth_core::{ErrorClass, Exit};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error("{path}, line {line}: {message}")]
    Csv { path: PathBuf, line: u64, message: String },
    #[error("{path}: not a readable Parquet file: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("{path}: column {column:?} has type {found}, which berth cannot read")]
    UnsupportedType { path: PathBuf, column: String, found: String },
    #[error("missing column(s) {missing:?}; the data has {available:?}")]
    MissingColumns { missing: Vec<String>, available: Vec<String> },
    #[error("column {column:?} is {found}, expected {expected}")]
    WrongType { column: String, expected: String, found: String },
    #[error("{path}: unknown file type; use a .csv or .parquet file")]
    UnknownFormat { path: PathBuf },
    #[error("{0}")]
    Invalid(String),
}

impl Exit for DataError {
    fn class(&self) -> ErrorClass {
        match self {
            DataError::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound => ErrorClass::Infra,
            _ => ErrorClass::Input,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            DataError::MissingColumns { .. } => Some("check the column names (they are case-sensitive)".into()),
            DataError::Csv { .. } => Some("fix the line, or export the data again".into()),
            DataError::UnknownFormat { .. } => Some("name the file with a .csv or .parquet extension".into()),
            _ => None,
        }
    }
}
