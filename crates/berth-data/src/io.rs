//! Reading and writing a table by file extension.

use std::path::Path;

use crate::{DataError, Result, Schema, Table};

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Declared column types (CSV); inferred when absent.
    pub schema: Option<Schema>,
    /// Keep only these columns, in this order.
    pub columns: Option<Vec<String>>,
}

enum Format {
    Csv,
    Parquet,
}

fn format_of(path: &Path) -> Result<Format> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") | Some("txt") => Ok(Format::Csv),
        Some("parquet") | Some("pq") => Ok(Format::Parquet),
        _ => Err(DataError::UnknownFormat { path: path.to_path_buf() }),
    }
}

pub fn read_table(path: &Path, opts: &ReadOptions) -> Result<Table> {
    match format_of(path)? {
        Format::Csv => crate::csv_io::read_csv(path, opts.schema.as_ref(), opts.columns.as_deref()),
        Format::Parquet => {
            let t = crate::parquet_io::read_parquet(path, opts.columns.as_deref())?;
            if let Some(s) = &opts.schema {
                for f in &s.fields {
                    if let Some(c) = t.column(&f.name)
                        && c.ty() != f.ty
                    {
                        return Err(DataError::WrongType {
                            column: f.name.clone(),
                            expected: f.ty.to_string(),
                            found: c.ty().to_string(),
                        });
                    }
                }
            }
            Ok(t)
        }
    }
}

pub fn write_table(table: &Table, path: &Path) -> Result<()> {
    match format_of(path)? {
        Format::Csv => crate::csv_io::write_csv(table, path),
        Format::Parquet => crate::parquet_io::write_parquet(table, path),
    }
}
