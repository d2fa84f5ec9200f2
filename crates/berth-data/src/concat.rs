//! Tables appended one after another: the segments of a prediction log, or
//! any set of files with the same columns, read as one table.

use crate::column::Dictionary;
use crate::{Column, ColumnData, ColumnType, DataError, Result, Table};

impl Table {
    /// The rows of every table in order. The columns are the union, in order
    /// of first appearance; a column a table lacks is null on its rows (a
    /// segment written before a model gained an input). Integers and floats
    /// in one column become floats; any other mix of types is refused,
    /// naming the column and both types.
    pub fn concat(tables: Vec<Table>) -> Result<Table> {
        let mut names: Vec<(String, ColumnType)> = Vec::new();
        for t in &tables {
            for c in t.columns() {
                match names.iter_mut().find(|(n, _)| *n == c.name) {
                    None => names.push((c.name.clone(), c.ty())),
                    Some((_, ty)) if *ty == c.ty() => {}
                    Some((_, ty)) => *ty = widened(&c.name, *ty, c.ty())?,
                }
            }
        }
        let rows: Vec<usize> = tables.iter().map(Table::rows).collect();
        let columns = names
            .iter()
            .map(|(name, ty)| {
                let parts: Vec<Option<&Column>> = tables.iter().map(|t| t.column(name)).collect();
                join(name, *ty, &parts, &rows)
            })
            .collect();
        Table::new(columns)
    }
}

fn widened(name: &str, a: ColumnType, b: ColumnType) -> Result<ColumnType> {
    match (a, b) {
        (ColumnType::Int, ColumnType::Float) | (ColumnType::Float, ColumnType::Int) => Ok(ColumnType::Float),
        _ => Err(DataError::Invalid(format!(
            "column {name:?} is {a} in one part and {b} in another; the parts cannot be read as one table"
        ))),
    }
}

/// One column of the result: each part's values, or nulls where a part
/// lacks the column.
fn join(name: &str, ty: ColumnType, parts: &[Option<&Column>], rows: &[usize]) -> Column {
    let total: usize = rows.iter().sum();
    let mut valid = Vec::with_capacity(total);
    for (part, &n) in parts.iter().zip(rows) {
        match part {
            Some(c) => valid.extend((0..n).map(|i| !c.is_null(i))),
            None => valid.extend(std::iter::repeat_n(false, n)),
        }
    }
    let data = match ty {
        ColumnType::Float => {
            let mut v = Vec::with_capacity(total);
            for (part, &n) in parts.iter().zip(rows) {
                match part.map(|c| &c.data) {
                    Some(ColumnData::Float(x)) => v.extend_from_slice(x),
                    Some(ColumnData::Int(x)) => v.extend(x.iter().map(|&i| i as f64)),
                    _ => v.extend(std::iter::repeat_n(0.0, n)),
                }
            }
            ColumnData::Float(v)
        }
        ColumnType::Int | ColumnType::Timestamp => {
            let mut v = Vec::with_capacity(total);
            for (part, &n) in parts.iter().zip(rows) {
                match part.map(|c| &c.data) {
                    Some(ColumnData::Int(x)) | Some(ColumnData::Timestamp(x)) => v.extend_from_slice(x),
                    _ => v.extend(std::iter::repeat_n(0, n)),
                }
            }
            if ty == ColumnType::Int { ColumnData::Int(v) } else { ColumnData::Timestamp(v) }
        }
        ColumnType::Bool => {
            let mut v = Vec::with_capacity(total);
            for (part, &n) in parts.iter().zip(rows) {
                match part.map(|c| &c.data) {
                    Some(ColumnData::Bool(x)) => v.extend_from_slice(x),
                    _ => v.extend(std::iter::repeat_n(false, n)),
                }
            }
            ColumnData::Bool(v)
        }
        ColumnType::Str => {
            // The present parts' values in order; a missing part's rows are
            // null and point at the first level, so no phantom level appears.
            let mut d = Dictionary::default();
            for part in parts.iter().flatten() {
                if let ColumnData::Str { levels, codes } = &part.data {
                    d.append(Dictionary::from_parts(levels.clone(), codes.clone()));
                }
            }
            let ColumnData::Str { mut levels, codes: present } = d.finish() else {
                unreachable!("a dictionary is text")
            };
            if levels.is_empty() {
                levels.push(String::new());
            }
            let mut codes = Vec::with_capacity(total);
            let mut next = present.into_iter();
            for (part, &n) in parts.iter().zip(rows) {
                match part {
                    Some(_) => codes.extend(next.by_ref().take(n)),
                    None => codes.extend(std::iter::repeat_n(0, n)),
                }
            }
            ColumnData::Str { levels, codes }
        }
    };
    Column::new(name, data).with_valid(valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_appended_and_missing_columns_are_null() {
        let a = Table::new(vec![Column::strings("s", &["x", "y"]), Column::int("n", vec![1, 2])]).unwrap();
        let b =
            Table::new(vec![Column::float("n", vec![2.5]), Column::strings("s", &["z"]), Column::int("k", vec![7])])
                .unwrap();
        let t = Table::concat(vec![a, b]).unwrap();
        assert_eq!(t.names(), ["s", "n", "k"]);
        assert_eq!(t.rows(), 3);
        let s = t.column("s").unwrap();
        assert_eq!((s.str_at(0), s.str_at(1), s.str_at(2)), (Some("x"), Some("y"), Some("z")));
        let n = t.column("n").unwrap();
        assert_eq!(n.ty(), ColumnType::Float);
        assert_eq!((n.as_f64(0), n.as_f64(2)), (Some(1.0), Some(2.5)));
        let k = t.column("k").unwrap();
        assert!(k.is_null(0) && k.is_null(1));
        assert_eq!(k.as_f64(2), Some(7.0));
    }

    #[test]
    fn text_and_numbers_in_one_column_are_refused_by_name() {
        let a = Table::new(vec![Column::strings("plan", &["x"])]).unwrap();
        let b = Table::new(vec![Column::float("plan", vec![1.0])]).unwrap();
        let e = Table::concat(vec![a, b]).unwrap_err().to_string();
        assert!(e.contains("\"plan\"") && e.contains("str") && e.contains("float"), "{e}");
    }

    #[test]
    fn no_parts_make_an_empty_table() {
        assert_eq!(Table::concat(Vec::new()).unwrap().rows(), 0);
    }
}
