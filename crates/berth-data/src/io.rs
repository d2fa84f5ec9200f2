//! Reading and writing a table by file extension.

use std::path::{Path, PathBuf};

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

/// Reads a CSV or Parquet file by its extension; a directory is every such
/// file directly in it (a prediction log's segments), in name order, read
/// on all cores and appended as one table ([`Table::concat`]).
pub fn read_table(path: &Path, opts: &ReadOptions) -> Result<Table> {
    if path.is_dir() {
        return read_dir(path, opts);
    }
    read_file(path, opts)
}

/// The data files directly in `dir`, in name order; hidden files (a
/// segment still being written) are left out.
pub fn data_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io { path: dir.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .filter(|p| format_of(p).is_ok())
        .collect();
    files.sort();
    Ok(files)
}

fn read_dir(dir: &Path, opts: &ReadOptions) -> Result<Table> {
    let files = data_files(dir)?;
    if files.is_empty() {
        return Err(DataError::Invalid(format!(
            "{} holds no .csv or .parquet files to read (a prediction log's segments appear once they are closed)",
            dir.display()
        )));
    }
    read_files(&files, opts)
}

/// Reads each file on all cores and appends them, in the order given, as
/// one table ([`Table::concat`]).
pub fn read_files(files: &[PathBuf], opts: &ReadOptions) -> Result<Table> {
    let per = files.len().div_ceil(crate::cores()).max(1);
    let parts: Vec<Result<Vec<Table>>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(per)
            .map(|chunk| s.spawn(move || chunk.iter().map(|f| read_file(f, opts)).collect::<Result<Vec<_>>>()))
            .collect();
        handles.into_iter().map(|h| h.join().expect("a reader thread does not panic")).collect()
    });
    let mut tables = Vec::with_capacity(files.len());
    for p in parts {
        tables.extend(p?);
    }
    Table::concat(tables)
}

fn read_file(path: &Path, opts: &ReadOptions) -> Result<Table> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Column;

    #[test]
    fn a_directory_reads_as_its_segments_in_name_order() {
        let d = tempfile::tempdir().unwrap();
        let a = Table::new(vec![Column::int("x", vec![1, 2])]).unwrap();
        let b = Table::new(vec![Column::int("x", vec![3])]).unwrap();
        write_table(&b, &d.path().join("seg-2.parquet")).unwrap();
        write_table(&a, &d.path().join("seg-1.parquet")).unwrap();
        std::fs::write(d.path().join(".seg-3.parquet.partial"), b"half").unwrap();
        std::fs::write(d.path().join("notes.txt.bak"), b"ignored").unwrap();
        let t = read_table(d.path(), &ReadOptions::default()).unwrap();
        let x = t.column("x").unwrap();
        assert_eq!((0..3).map(|i| x.as_f64(i).unwrap()).collect::<Vec<_>>(), [1.0, 2.0, 3.0]);
        let empty = tempfile::tempdir().unwrap();
        let e = read_table(empty.path(), &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("no .csv or .parquet files"), "{e}");
    }
}
