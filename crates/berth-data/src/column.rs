//! Typed columns with nulls, and tables of equal-length columns.

use crate::schema::{ColumnType, Field, Schema};
use crate::text_index::TextIndex;
use crate::{DataError, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    /// Text as a dictionary: `levels[codes[i]]` is row i's value.
    Str {
        levels: Vec<String>,
        codes: Vec<u32>,
    },
    /// Seconds since the Unix epoch, UTC.
    Timestamp(Vec<i64>),
}

/// Builds a text column's dictionary as values arrive: each distinct value
/// becomes a level, in order of first appearance.
#[derive(Debug, Default)]
pub(crate) struct Dictionary {
    levels: TextIndex,
    codes: Vec<u32>,
}

impl Dictionary {
    pub(crate) fn push(&mut self, s: &str) {
        let code = self.levels.code(s);
        self.codes.push(code);
    }

    /// A dictionary holding a text column's values (levels distinct).
    pub(crate) fn from_parts(levels: Vec<String>, codes: Vec<u32>) -> Dictionary {
        Dictionary { levels: TextIndex::from_levels(levels), codes }
    }

    pub(crate) fn finish(self) -> ColumnData {
        ColumnData::Str { levels: self.levels.into_levels(), codes: self.codes }
    }

    /// Appends `other`'s values after this one's; its levels that are new
    /// here are added in their order of first appearance there, so the
    /// result equals pushing every value in sequence.
    pub(crate) fn append(&mut self, other: Dictionary) {
        let mut first_seen = vec![u32::MAX; other.levels.len()];
        let mut map = vec![0u32; other.levels.len()];
        for (i, code) in other.codes.iter().enumerate() {
            let c = *code as usize;
            if first_seen[c] == u32::MAX {
                first_seen[c] = i as u32;
            }
        }
        let mut order: Vec<usize> = (0..other.levels.len()).collect();
        order.sort_by_key(|c| first_seen[*c]);
        let levels = other.levels.levels();
        for c in order {
            map[c] = self.levels.code(&levels[c]);
        }
        self.codes.extend(other.codes.iter().map(|c| map[*c as usize]));
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub data: ColumnData,
    /// `None` when no value is null; otherwise `valid[i]` is false for a null.
    pub valid: Option<Vec<bool>>,
}

impl Column {
    pub fn new(name: impl Into<String>, data: ColumnData) -> Column {
        Column { name: name.into(), data, valid: None }
    }

    pub fn float(name: impl Into<String>, v: Vec<f64>) -> Column {
        Column::new(name, ColumnData::Float(v))
    }

    pub fn int(name: impl Into<String>, v: Vec<i64>) -> Column {
        Column::new(name, ColumnData::Int(v))
    }

    pub fn timestamp(name: impl Into<String>, v: Vec<i64>) -> Column {
        Column::new(name, ColumnData::Timestamp(v))
    }

    /// A text column; distinct values become levels in order of first appearance.
    pub fn strings<S: AsRef<str>>(name: impl Into<String>, values: &[S]) -> Column {
        let mut d = Dictionary::default();
        values.iter().for_each(|v| d.push(v.as_ref()));
        Column::new(name, d.finish())
    }

    pub fn with_valid(mut self, valid: Vec<bool>) -> Column {
        self.valid = if valid.iter().all(|v| *v) { None } else { Some(valid) };
        self
    }

    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Float(v) => v.len(),
            ColumnData::Int(v) | ColumnData::Timestamp(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Str { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn ty(&self) -> ColumnType {
        match &self.data {
            ColumnData::Float(_) => ColumnType::Float,
            ColumnData::Int(_) => ColumnType::Int,
            ColumnData::Bool(_) => ColumnType::Bool,
            ColumnData::Str { .. } => ColumnType::Str,
            ColumnData::Timestamp(_) => ColumnType::Timestamp,
        }
    }

    pub fn is_null(&self, i: usize) -> bool {
        self.valid.as_ref().is_some_and(|v| !v[i])
    }

    pub fn null_count(&self) -> usize {
        self.valid.as_ref().map_or(0, |v| v.iter().filter(|x| !**x).count())
    }

    /// Row i as a number: floats, integers, booleans (0/1) and timestamps;
    /// `None` for a null or a text column.
    pub fn as_f64(&self, i: usize) -> Option<f64> {
        if self.is_null(i) {
            return None;
        }
        match &self.data {
            ColumnData::Float(v) => Some(v[i]),
            ColumnData::Int(v) | ColumnData::Timestamp(v) => Some(v[i] as f64),
            ColumnData::Bool(v) => Some(f64::from(u8::from(v[i]))),
            ColumnData::Str { .. } => None,
        }
    }

    /// Row i of a text column; `None` for a null or another type.
    pub fn str_at(&self, i: usize) -> Option<&str> {
        if self.is_null(i) {
            return None;
        }
        match &self.data {
            ColumnData::Str { levels, codes } => Some(&levels[codes[i] as usize]),
            _ => None,
        }
    }

    /// Row i as text, as CSV writes it ("" for a null).
    pub fn display(&self, i: usize) -> String {
        if self.is_null(i) {
            return String::new();
        }
        match &self.data {
            ColumnData::Float(v) => format_float(v[i]),
            ColumnData::Int(v) => v[i].to_string(),
            ColumnData::Bool(v) => v[i].to_string(),
            ColumnData::Str { levels, codes } => levels[codes[i] as usize].clone(),
            ColumnData::Timestamp(v) => crate::csv_io::format_timestamp(v[i]),
        }
    }

    /// Keeps the rows whose index is listed, in that order.
    /// Row `i` as a JSON value of the column's type (null for a null).
    pub fn json_at(&self, i: usize) -> serde_json::Value {
        if self.is_null(i) {
            return serde_json::Value::Null;
        }
        match &self.data {
            ColumnData::Float(v) => serde_json::json!(v[i]),
            ColumnData::Int(v) | ColumnData::Timestamp(v) => serde_json::json!(v[i]),
            ColumnData::Bool(v) => serde_json::json!(v[i]),
            ColumnData::Str { levels, codes } => serde_json::json!(levels[codes[i] as usize]),
        }
    }

    pub fn take(&self, rows: &[usize]) -> Column {
        let data = match &self.data {
            ColumnData::Float(v) => ColumnData::Float(rows.iter().map(|&i| v[i]).collect()),
            ColumnData::Int(v) => ColumnData::Int(rows.iter().map(|&i| v[i]).collect()),
            ColumnData::Timestamp(v) => ColumnData::Timestamp(rows.iter().map(|&i| v[i]).collect()),
            ColumnData::Bool(v) => ColumnData::Bool(rows.iter().map(|&i| v[i]).collect()),
            ColumnData::Str { levels, codes } => {
                ColumnData::Str { levels: levels.clone(), codes: rows.iter().map(|&i| codes[i]).collect() }
            }
        };
        let valid = self.valid.as_ref().map(|v| rows.iter().map(|&i| v[i]).collect());
        Column { name: self.name.clone(), data, valid }.normalised()
    }

    fn normalised(mut self) -> Column {
        if self.valid.as_ref().is_some_and(|v| v.iter().all(|x| *x)) {
            self.valid = None;
        }
        self
    }
}

/// Shortest text that reads back as the same float; NaN and infinities as
/// `NaN`, `inf`, `-inf`.
pub fn format_float(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        let s = format!("{x}");
        s
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    columns: Vec<Column>,
}

impl Table {
    /// A table of equal-length columns with distinct names.
    pub fn new(columns: Vec<Column>) -> Result<Table> {
        if let Some(first) = columns.first() {
            let n = first.len();
            if let Some(c) = columns.iter().find(|c| c.len() != n) {
                return Err(DataError::Invalid(format!(
                    "column {:?} has {} rows, column {:?} has {n}",
                    c.name,
                    c.len(),
                    first.name
                )));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(c) = columns.iter().find(|c| !seen.insert(c.name.as_str())) {
            return Err(DataError::Invalid(format!("column {:?} appears twice", c.name)));
        }
        Ok(Table { columns })
    }

    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn into_columns(self) -> Vec<Column> {
        self.columns
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column `name`, or the error that names it and the columns there are.
    pub fn required(&self, name: &str) -> Result<&Column> {
        self.column(name)
            .ok_or_else(|| DataError::MissingColumns { missing: vec![name.to_string()], available: self.names() })
    }

    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    pub fn schema(&self) -> Schema {
        Schema { fields: self.columns.iter().map(|c| Field { name: c.name.clone(), ty: c.ty() }).collect() }
    }

    /// The named columns in the order given; every missing name is listed.
    pub fn select(&self, names: &[String]) -> Result<Table> {
        let missing: Vec<String> = names.iter().filter(|n| self.column(n).is_none()).cloned().collect();
        if !missing.is_empty() {
            return Err(DataError::MissingColumns { missing, available: self.names() });
        }
        Table::new(names.iter().map(|n| self.column(n).expect("checked above").clone()).collect())
    }

    /// Keeps the listed rows, in that order.
    /// Row `i` as a JSON object keyed by column name (a record, as
    /// inference endpoints take them).
    pub fn record(&self, i: usize) -> serde_json::Map<String, serde_json::Value> {
        self.columns.iter().map(|c| (c.name.clone(), c.json_at(i))).collect()
    }

    pub fn take(&self, rows: &[usize]) -> Table {
        Table { columns: self.columns.iter().map(|c| c.take(rows)).collect() }
    }

    pub fn push(&mut self, c: Column) -> Result<()> {
        let mut cols = std::mem::take(&mut self.columns);
        cols.push(c);
        *self = Table::new(cols)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_lists_every_missing_column() {
        let t = Table::new(vec![Column::float("a", vec![1.0]), Column::int("b", vec![2])]).unwrap();
        let e = t.select(&["a".into(), "x".into(), "y".into()]).unwrap_err();
        assert!(e.to_string().contains("[\"x\", \"y\"]"), "{e}");
        assert_eq!(t.select(&["b".into(), "a".into()]).unwrap().names(), ["b", "a"]);
    }

    #[test]
    fn tables_refuse_ragged_or_duplicate_columns() {
        assert!(Table::new(vec![Column::float("a", vec![1.0]), Column::float("b", vec![])]).is_err());
        assert!(Table::new(vec![Column::float("a", vec![1.0]), Column::float("a", vec![2.0])]).is_err());
    }

    #[test]
    fn strings_become_a_dictionary() {
        let c = Column::strings("s", &["b", "a", "b"]);
        let ColumnData::Str { levels, codes } = &c.data else { panic!() };
        assert_eq!(levels, &["b", "a"]);
        assert_eq!(codes, &[0, 1, 0]);
        assert_eq!(c.str_at(2), Some("b"));
    }

    #[test]
    fn floats_print_so_they_read_back_exactly() {
        for x in [0.1, 1e-300, 123456789.123, -0.5, 1.0] {
            assert_eq!(format_float(x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(format_float(f64::NAN), "NaN");
    }
}
