//! Parquet in and out, through the arrow reader and writer of the `parquet`
//! crate. Arrow is used only at this edge: batches are converted to berth's
//! columns as they are read.

use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field as ArrowField, Schema as ArrowSchema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::column::{Column, ColumnData, Dictionary};
use crate::{DataError, Result, Table};

fn pq_err(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> DataError + '_ {
    move |e| DataError::Parquet { path: path.to_path_buf(), message: e.to_string() }
}

/// Accumulates one column across record batches.
enum Acc {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Ts(Vec<i64>, i64),
    Str(Dictionary),
}

fn acc_for(path: &Path, f: &ArrowField) -> Result<Acc> {
    let unsupported = || DataError::UnsupportedType {
        path: path.to_path_buf(),
        column: f.name().clone(),
        found: f.data_type().to_string(),
    };
    Ok(match f.data_type() {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Acc::Float(Vec::new()),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Acc::Int(Vec::new()),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Acc::Int(Vec::new()),
        DataType::Boolean => Acc::Bool(Vec::new()),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Acc::Str(Dictionary::default()),
        DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8) => {
            Acc::Str(Dictionary::default())
        }
        DataType::Timestamp(unit, _) => Acc::Ts(
            Vec::new(),
            match unit {
                TimeUnit::Second => 1,
                TimeUnit::Millisecond => 1_000,
                TimeUnit::Microsecond => 1_000_000,
                TimeUnit::Nanosecond => 1_000_000_000,
            },
        ),
        DataType::Date32 => Acc::Ts(Vec::new(), 0),
        _ => return Err(unsupported()),
    })
}

fn append(acc: &mut Acc, a: &ArrayRef, valid: &mut Vec<bool>) -> std::result::Result<(), String> {
    let n = a.len();
    valid.extend((0..n).map(|i| a.is_valid(i)));
    macro_rules! ints {
        ($v:expr, $($t:ty),*) => {{
            $(if let Some(p) = a.as_primitive_opt::<$t>() {
                for i in 0..n { $v.push(if p.is_valid(i) { i64::try_from(p.value(i)).map_err(|_| "integer too large".to_string())? } else { 0 }); }
                return Ok(());
            })*
        }};
    }
    match acc {
        Acc::Float(v) => {
            if let Some(p) = a.as_primitive_opt::<Float64Type>() {
                v.extend((0..n).map(|i| if p.is_valid(i) { p.value(i) } else { 0.0 }));
            } else if let Some(p) = a.as_primitive_opt::<Float32Type>() {
                v.extend((0..n).map(|i| if p.is_valid(i) { f64::from(p.value(i)) } else { 0.0 }));
            } else if let Some(p) = a.as_primitive_opt::<Float16Type>() {
                v.extend((0..n).map(|i| if p.is_valid(i) { f64::from(p.value(i)) } else { 0.0 }));
            }
        }
        Acc::Int(v) => {
            ints!(v, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type);
        }
        Acc::Bool(v) => {
            let b = a.as_boolean();
            v.extend((0..n).map(|i| b.is_valid(i) && b.value(i)));
        }
        Acc::Ts(v, per_sec) => {
            if *per_sec == 0 {
                let d = a.as_primitive::<Date32Type>();
                v.extend((0..n).map(|i| if d.is_valid(i) { i64::from(d.value(i)) * 86_400 } else { 0 }));
            } else {
                let div = *per_sec;
                macro_rules! ts {
                    ($($t:ty),*) => {$(
                        if let Some(p) = a.as_primitive_opt::<$t>() {
                            v.extend((0..n).map(|i| if p.is_valid(i) { p.value(i).div_euclid(div) } else { 0 }));
                        }
                    )*};
                }
                ts!(TimestampSecondType, TimestampMillisecondType, TimestampMicrosecondType, TimestampNanosecondType);
            }
        }
        Acc::Str(dict) => {
            let value = |i: usize| -> Option<&str> {
                if !a.is_valid(i) {
                    None
                } else if let Some(s) = a.as_string_opt::<i32>() {
                    Some(s.value(i))
                } else if let Some(s) = a.as_string_opt::<i64>() {
                    Some(s.value(i))
                } else {
                    a.as_string_view_opt().map(|s| s.value(i))
                }
            };
            if let Some(d) = a.as_any_dictionary_opt() {
                let keys = d.normalized_keys();
                let values = d.values();
                let text = |k: usize| -> &str {
                    if let Some(s) = values.as_string_opt::<i32>() {
                        s.value(k)
                    } else if let Some(s) = values.as_string_opt::<i64>() {
                        s.value(k)
                    } else {
                        ""
                    }
                };
                (0..n).for_each(|i| dict.push(if a.is_valid(i) { text(keys[i]) } else { "" }));
            } else {
                (0..n).for_each(|i| dict.push(value(i).unwrap_or("")));
            }
        }
    }
    Ok(())
}

pub fn read_parquet(path: &Path, columns: Option<&[String]>) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    if file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
        return Err(DataError::Empty { path: path.to_path_buf() });
    }
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq_err(path))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let wanted: Vec<String> = columns.map(<[String]>::to_vec).unwrap_or_else(|| names.clone());
    let missing: Vec<String> = wanted.iter().filter(|w| !names.contains(w)).cloned().collect();
    if !missing.is_empty() {
        return Err(DataError::MissingColumns { missing, available: names });
    }
    let idx: Vec<usize> = wanted.iter().map(|w| names.iter().position(|n| n == w).expect("checked")).collect();
    let mut sorted = idx.clone();
    sorted.sort_unstable();
    let mask = ProjectionMask::roots(builder.parquet_schema(), sorted.iter().copied());
    let reader = builder.with_projection(mask).with_batch_size(64 * 1024).build().map_err(pq_err(path))?;
    let fields: Vec<&ArrowField> = idx.iter().map(|&i| schema.field(i)).collect();
    let mut accs: Vec<Acc> = fields.iter().map(|f| acc_for(path, f)).collect::<Result<_>>()?;
    let mut valid: Vec<Vec<bool>> = vec![Vec::new(); idx.len()];
    let mut row = 0usize;
    for batch in reader {
        let batch = batch
            .map_err(|e| DataError::Parquet { path: path.to_path_buf(), message: format!("after row {row}: {e}") })?;
        for (k, name) in wanted.iter().enumerate() {
            let a = batch.column_by_name(name).expect("projected");
            append(&mut accs[k], a, &mut valid[k]).map_err(|m| DataError::Parquet {
                path: path.to_path_buf(),
                message: format!("column {name:?} near row {row}: {m}"),
            })?;
        }
        row += batch.num_rows();
    }
    let cols = accs
        .into_iter()
        .zip(wanted)
        .zip(valid)
        .map(|((acc, name), valid)| {
            let data = match acc {
                Acc::Float(v) => ColumnData::Float(v),
                Acc::Int(v) => ColumnData::Int(v),
                Acc::Bool(v) => ColumnData::Bool(v),
                Acc::Ts(v, _) => ColumnData::Timestamp(v),
                Acc::Str(dict) => dict.finish(),
            };
            Column::new(name, data).with_valid(valid)
        })
        .collect();
    Table::new(cols)
}

fn to_arrow(c: &Column) -> (ArrowField, ArrayRef) {
    let nullable = c.valid.is_some();
    let ok = |i: usize| !c.is_null(i);
    let n = c.len();
    let (ty, arr): (DataType, ArrayRef) = match &c.data {
        ColumnData::Float(v) => {
            (DataType::Float64, Arc::new(Float64Array::from_iter((0..n).map(|i| ok(i).then_some(v[i])))))
        }
        ColumnData::Int(v) => (DataType::Int64, Arc::new(Int64Array::from_iter((0..n).map(|i| ok(i).then_some(v[i]))))),
        ColumnData::Bool(v) => {
            (DataType::Boolean, Arc::new(BooleanArray::from_iter((0..n).map(|i| ok(i).then_some(v[i])))))
        }
        ColumnData::Timestamp(v) => (
            DataType::Timestamp(TimeUnit::Second, None),
            Arc::new(TimestampSecondArray::from_iter((0..n).map(|i| ok(i).then_some(v[i])))),
        ),
        ColumnData::Str { levels, codes } => (
            DataType::Utf8,
            Arc::new(StringArray::from_iter((0..n).map(|i| ok(i).then(|| levels[codes[i] as usize].as_str())))),
        ),
    };
    (ArrowField::new(&c.name, ty, nullable), arr)
}

pub fn write_parquet(table: &Table, path: &Path) -> Result<()> {
    let (fields, arrays): (Vec<ArrowField>, Vec<ArrayRef>) = table.columns().iter().map(to_arrow).unzip();
    let schema = Arc::new(ArrowSchema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| DataError::Parquet { path: path.to_path_buf(), message: e.to_string() })?;
    let file = std::fs::File::create(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(file, schema, Some(props)).map_err(pq_err(path))?;
    w.write(&batch).map_err(pq_err(path))?;
    w.close().map_err(pq_err(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_round_trips_every_type_with_nulls() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.parquet");
        let t = Table::new(vec![
            Column::float("f", vec![1.5, f64::NAN, 0.0]).with_valid(vec![true, true, false]),
            Column::int("i", vec![1, -2, 3]),
            Column::new("b", ColumnData::Bool(vec![true, false, true])),
            Column::strings("s", &["x", "y", "x"]),
            Column::timestamp("t", vec![0, 3600, 1_704_067_200]),
        ])
        .unwrap();
        write_parquet(&t, &p).unwrap();
        let back = read_parquet(&p, None).unwrap();
        assert_eq!(back.schema(), t.schema());
        assert!(back.column("f").unwrap().is_null(2));
        assert!(back.column("f").unwrap().as_f64(1).unwrap().is_nan());
        assert_eq!(back.column("s").unwrap().str_at(2), Some("x"));
        assert_eq!(back.column("t").unwrap().as_f64(2), Some(1_704_067_200.0));
        let sel = read_parquet(&p, Some(&["s".into(), "i".into()])).unwrap();
        assert_eq!(sel.names(), ["s", "i"]);
    }

    #[test]
    fn a_file_that_is_not_parquet_is_refused_with_the_reason() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.parquet");
        std::fs::write(&p, b"definitely not parquet").unwrap();
        let e = read_parquet(&p, None).unwrap_err();
        assert!(matches!(e, DataError::Parquet { .. }), "{e}");
    }
}
