//! Request bodies into tables, checked against the model's inputs: JSON
//! records (`/predict`, KServe v1) and Open Inference Protocol tensors.
//! Every problem is collected, not just the first, and each names the field,
//! the row, what was expected and what came.

use std::collections::BTreeSet;

use berth_data::{Column, ColumnData, ColumnType, Field, Table};
use serde::Serialize;
use serde_json::Value;

use crate::refusal::Refusal;

/// At most this many problems are listed; the count says how many there were.
const MAX_PROBLEMS: usize = 50;

/// One value that does not fit the model's inputs: which field, in which
/// row, what was expected and what came.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    pub expected: String,
    pub got: String,
}

/// One instance as it arrived: an object's entries (keys borrowed from the
/// request body when they hold no escapes), an array of values, or anything
/// else (refused later, with its row). Parsing straight into this skips the
/// map and the key strings `serde_json::Value` would build for every row.
#[derive(Debug, Clone, PartialEq)]
pub enum Row<'a> {
    Object(Vec<(std::borrow::Cow<'a, str>, Value)>),
    Array(Vec<Value>),
    Other(Value),
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Row<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{MapAccess, SeqAccess, Visitor};
        use std::borrow::Cow;
        struct Key<'a>(Cow<'a, str>);
        impl<'de: 'a, 'a> serde::Deserialize<'de> for Key<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Key<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                        Ok(Key(Cow::Borrowed(s)))
                    }
                    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                        Ok(Key(Cow::Owned(s.to_string())))
                    }
                    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                        Ok(Key(Cow::Owned(s)))
                    }
                }
                d.deserialize_str(V)
            }
        }
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of input values or an array of them")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Row<'de>, M::Error> {
                let mut entries = Vec::with_capacity(m.size_hint().unwrap_or(16));
                while let Some(Key(k)) = m.next_key::<Key<'de>>()? {
                    entries.push((k, m.next_value::<Value>()?));
                }
                Ok(Row::Object(entries))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut s: S) -> Result<Row<'de>, S::Error> {
                let mut values = Vec::with_capacity(s.size_hint().unwrap_or(16));
                while let Some(v) = s.next_element::<Value>()? {
                    values.push(v);
                }
                Ok(Row::Array(values))
            }
            fn visit_bool<E>(self, b: bool) -> Result<Row<'de>, E> {
                Ok(Row::Other(Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Row<'de>, E> {
                Ok(Row::Other(Value::from(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Row<'de>, E> {
                Ok(Row::Other(Value::from(n)))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Row<'de>, E> {
                Ok(Row::Other(Value::from(n)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Row<'de>, E> {
                Ok(Row::Other(Value::from(s)))
            }
            fn visit_unit<E>(self) -> Result<Row<'de>, E> {
                Ok(Row::Other(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Row<'de>, E> {
                Ok(Row::Other(Value::Null))
            }
        }
        d.deserialize_any(RowVisitor)
    }
}

impl From<Value> for Row<'static> {
    fn from(v: Value) -> Row<'static> {
        match v {
            Value::Object(m) => Row::Object(m.into_iter().map(|(k, v)| (std::borrow::Cow::Owned(k), v)).collect()),
            Value::Array(a) => Row::Array(a),
            other => Row::Other(other),
        }
    }
}

/// What the model reads: its input columns, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub fields: Vec<Field>,
}

fn shown(v: &Value) -> String {
    let s = match v {
        Value::Null => return "null".into(),
        Value::Bool(b) => return format!("bool {b}"),
        Value::Number(n) => return format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(a) => return format!("an array of {}", a.len()),
        Value::Object(_) => return "an object".into(),
    };
    if s.len() > 80 { format!("{}…", &s[..s.floor_char_boundary(80)]) } else { s }
}

fn expected(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Float => "a number",
        ColumnType::Int => "an integer",
        ColumnType::Bool => "true or false",
        ColumnType::Str => "a string",
        ColumnType::Timestamp => "seconds since the epoch or an RFC 3339 time",
    }
}

/// Builds one column of `ty` from JSON values; the problems name the rows.
struct Builder {
    ty: ColumnType,
    floats: Vec<f64>,
    ints: Vec<i64>,
    bools: Vec<bool>,
    strings: Vec<String>,
}

impl Builder {
    fn new(ty: ColumnType, rows: usize) -> Builder {
        let mut b = Builder { ty, floats: Vec::new(), ints: Vec::new(), bools: Vec::new(), strings: Vec::new() };
        match ty {
            ColumnType::Float => b.floats.reserve(rows),
            ColumnType::Int | ColumnType::Timestamp => b.ints.reserve(rows),
            ColumnType::Bool => b.bools.reserve(rows),
            ColumnType::Str => b.strings.reserve(rows),
        }
        b
    }

    /// Appends a value; `Err` says why it does not fit (a placeholder is
    /// pushed so that rows stay aligned while problems are collected).
    fn push(&mut self, v: &Value) -> Result<(), ()> {
        let ok = match (self.ty, v) {
            (ColumnType::Float, Value::Number(n)) => n.as_f64().map(|x| self.floats.push(x)).is_some(),
            (ColumnType::Int, Value::Number(n)) => {
                let i = n
                    .as_i64()
                    .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15).map(|x| x as i64));
                i.map(|i| self.ints.push(i)).is_some()
            }
            (ColumnType::Timestamp, Value::Number(n)) => n.as_i64().map(|i| self.ints.push(i)).is_some(),
            (ColumnType::Timestamp, Value::String(s)) => {
                berth_core::Timestamp::parse_rfc3339(s).map(|t| self.ints.push(t.millis().div_euclid(1000))).is_some()
            }
            (ColumnType::Bool, Value::Bool(b)) => {
                self.bools.push(*b);
                true
            }
            (ColumnType::Str, Value::String(s)) => {
                self.strings.push(s.clone());
                true
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            match self.ty {
                ColumnType::Float => self.floats.push(0.0),
                ColumnType::Int | ColumnType::Timestamp => self.ints.push(0),
                ColumnType::Bool => self.bools.push(false),
                ColumnType::Str => self.strings.push(String::new()),
            }
            Err(())
        }
    }

    fn finish(self, name: &str) -> Column {
        match self.ty {
            ColumnType::Float => Column::float(name, self.floats),
            ColumnType::Int => Column::int(name, self.ints),
            ColumnType::Timestamp => Column::timestamp(name, self.ints),
            ColumnType::Bool => Column::new(name, ColumnData::Bool(self.bools)),
            ColumnType::Str => Column::strings(name, &self.strings),
        }
    }
}

struct Problems(Vec<Problem>, usize);

impl Problems {
    fn add(&mut self, field: &str, row: Option<usize>, expected: impl Into<String>, got: impl Into<String>) {
        self.1 += 1;
        if self.0.len() < MAX_PROBLEMS {
            self.0.push(Problem { field: field.into(), row, expected: expected.into(), got: got.into() });
        }
    }

    fn into_result(self, table: impl FnOnce() -> Table) -> Result<Table, Refusal> {
        if self.1 == 0 {
            return Ok(table());
        }
        let more =
            if self.1 > self.0.len() { format!(" (the first {} are listed)", self.0.len()) } else { String::new() };
        Err(Refusal::unfit(
            format!("{} problem{} in the input{more}", self.1, if self.1 == 1 { "" } else { "s" }),
            self.0,
        ))
    }
}

impl Inputs {
    pub fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.name.as_str()).collect()
    }

    /// `instances`: each an object keyed by input name, or an array of the
    /// inputs' values in order.
    pub fn from_instances(&self, instances: &[Row<'_>]) -> Result<Table, Refusal> {
        if instances.is_empty() {
            return Err(Refusal::malformed("\"instances\" is empty; send at least one row"));
        }
        let rows = instances.len();
        let mut builders: Vec<Builder> = self.fields.iter().map(|f| Builder::new(f.ty, rows)).collect();
        let mut problems = Problems(Vec::new(), 0);
        let mut unknown_reported = BTreeSet::new();
        for (row, instance) in instances.iter().enumerate() {
            match instance {
                Row::Object(entries) => {
                    // The last of repeated keys wins, as in a JSON map.
                    let get = |name: &str| entries.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
                    let mut found = 0;
                    for (f, b) in self.fields.iter().zip(builders.iter_mut()) {
                        match get(&f.name) {
                            None => {
                                let _ = b.push(&Value::Null);
                                problems.add(&f.name, Some(row), expected(f.ty), "nothing (the field is missing)");
                            }
                            Some(v) => {
                                found += 1;
                                if b.push(v).is_err() {
                                    problems.add(&f.name, Some(row), expected(f.ty), shown(v));
                                }
                            }
                        }
                    }
                    // Keys beyond the inputs found: name the unknown ones.
                    let extra = entries.iter().map(|(k, _)| k).filter(|_| entries.len() > found);
                    for k in extra {
                        if !self.fields.iter().any(|f| f.name == *k) && unknown_reported.insert(k.to_string()) {
                            problems.add(
                                k,
                                Some(row),
                                format!("one of the model's inputs: {}", self.names().join(", ")),
                                "an unknown field",
                            );
                        }
                    }
                }
                Row::Array(values) => {
                    if values.len() != self.fields.len() {
                        problems.add(
                            "instances",
                            Some(row),
                            format!("{} values, one per input ({})", self.fields.len(), self.names().join(", ")),
                            format!("{} values", values.len()),
                        );
                        for b in builders.iter_mut() {
                            let _ = b.push(&Value::Null);
                        }
                        continue;
                    }
                    for ((f, b), v) in self.fields.iter().zip(builders.iter_mut()).zip(values) {
                        if b.push(v).is_err() {
                            problems.add(&f.name, Some(row), expected(f.ty), shown(v));
                        }
                    }
                }
                Row::Other(other) => {
                    problems.add("instances", Some(row), "an object of input values or an array of them", shown(other));
                    for b in builders.iter_mut() {
                        let _ = b.push(&Value::Null);
                    }
                }
            }
        }
        problems.into_result(|| {
            let cols = self.fields.iter().zip(builders).map(|(f, b)| b.finish(&f.name)).collect();
            Table::new(cols).expect("columns built with one value per row")
        })
    }

    /// Open Inference Protocol tensors: one tensor per input (shape `[n]`
    /// or `[n, 1]`), or one `[n, k]` tensor holding every input, in order.
    pub fn from_tensors(&self, tensors: &[Tensor]) -> Result<Table, Refusal> {
        if tensors.is_empty() {
            return Err(Refusal::malformed(
                "\"inputs\" is empty; send one tensor per model input or one [rows, inputs] tensor",
            ));
        }
        if tensors.len() == 1 && tensors[0].shape.len() == 2 && self.fields.len() > 1 {
            let t = &tensors[0];
            if t.shape[1] != self.fields.len() as i64 {
                return Err(Refusal::malformed(format!(
                    "input {:?} has shape {:?}: its second dimension must be {}, one column per model input ({})",
                    t.name,
                    t.shape,
                    self.fields.len(),
                    self.names().join(", ")
                )));
            }
            return self.from_matrix(t);
        }
        let mut problems = Problems(Vec::new(), 0);
        let names: BTreeSet<&str> = self.fields.iter().map(|f| f.name.as_str()).collect();
        for t in tensors {
            if !names.contains(t.name.as_str()) {
                return Err(Refusal::malformed(format!(
                    "input {:?} is not an input of this model; its inputs are {}",
                    t.name,
                    self.names().join(", ")
                )));
            }
        }
        let mut rows = None;
        let mut cols = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let Some(t) = tensors.iter().find(|t| t.name == f.name) else {
                return Err(Refusal::malformed(format!(
                    "input {:?} is missing; send one tensor per model input ({})",
                    f.name,
                    self.names().join(", ")
                )));
            };
            let n = match t.shape.as_slice() {
                [n] | [n, 1] if *n >= 0 => *n as usize,
                _ => {
                    return Err(Refusal::malformed(format!(
                        "input {:?} has shape {:?}; a per-input tensor has shape [rows] or [rows, 1]",
                        t.name, t.shape
                    )));
                }
            };
            if *rows.get_or_insert(n) != n {
                return Err(Refusal::malformed(format!(
                    "input {:?} has {n} rows and an earlier input {}; every input needs the same number of rows",
                    t.name,
                    rows.unwrap_or(0)
                )));
            }
            if !t.datatype_fits(f.ty) {
                return Err(datatype_mismatch(t, f));
            }
            let data = t.flat()?;
            let mut b = Builder::new(f.ty, data.len());
            for (row, v) in data.iter().enumerate() {
                if b.push(v).is_err() {
                    problems.add(&f.name, Some(row), expected(f.ty), shown(v));
                }
            }
            cols.push(b.finish(&f.name));
        }
        if rows == Some(0) {
            return Err(Refusal::malformed("the inputs have no rows; send at least one"));
        }
        problems.into_result(|| Table::new(cols).expect("every tensor has the same number of rows"))
    }

    /// One `[rows, inputs]` tensor holding every input, in order; the caller
    /// has checked that its second dimension is the number of inputs.
    pub fn from_matrix(&self, t: &Tensor) -> Result<Table, Refusal> {
        let k = self.fields.len().max(1);
        let data = t.flat()?;
        let mut problems = Problems(Vec::new(), 0);
        let mut builders: Vec<Builder> = self.fields.iter().map(|f| Builder::new(f.ty, data.len() / k)).collect();
        for (i, v) in data.iter().enumerate() {
            let j = i % k;
            let f = &self.fields[j];
            if !t.datatype_fits(f.ty) {
                return Err(datatype_mismatch(t, f));
            }
            if builders[j].push(v).is_err() {
                problems.add(&f.name, Some(i / k), expected(f.ty), shown(v));
            }
        }
        if data.is_empty() {
            return Err(Refusal::malformed(format!("input {:?} has no rows; send at least one", t.name)));
        }
        problems.into_result(|| {
            let cols = self.fields.iter().zip(builders).map(|(f, b)| b.finish(&f.name)).collect();
            Table::new(cols).expect("columns built with one value per row")
        })
    }
}

fn datatype_mismatch(t: &Tensor, f: &Field) -> Refusal {
    let want = match f.ty {
        ColumnType::Float | ColumnType::Int => "FP64, FP32 or an INT type",
        ColumnType::Bool => "BOOL",
        ColumnType::Str => "BYTES",
        ColumnType::Timestamp => "INT64",
    };
    Refusal::malformed(format!(
        "input {:?} has datatype {}; model input {:?} ({}) needs {want}",
        t.name, t.datatype, f.name, f.ty
    ))
}

/// An Open Inference Protocol request tensor.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub datatype: String,
    #[serde(default)]
    pub parameters: Option<serde_json::Map<String, Value>>,
    /// The values, nested or flat; absent when they come as binary data
    /// after the JSON (see `oip_binary`), which fills them in.
    #[serde(default)]
    pub data: Value,
}

pub const DATATYPES: [&str; 13] =
    ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"];

impl Tensor {
    pub fn datatype_fits(&self, ty: ColumnType) -> bool {
        let d = self.datatype.as_str();
        match ty {
            ColumnType::Float => d.starts_with("FP") || d.starts_with("INT") || d.starts_with("UINT"),
            ColumnType::Int => d.starts_with("INT") || d.starts_with("UINT"),
            ColumnType::Timestamp => d == "INT64",
            ColumnType::Bool => d == "BOOL",
            ColumnType::Str => d == "BYTES",
        }
    }

    /// The data flattened row-major (nested arrays are allowed), checked
    /// against the shape.
    pub fn flat(&self) -> Result<Vec<&Value>, Refusal> {
        if !DATATYPES.contains(&self.datatype.as_str()) {
            return Err(Refusal::malformed(format!(
                "input {:?} has datatype {:?}; the protocol's datatypes are {}",
                self.name,
                self.datatype,
                DATATYPES.join(", ")
            )));
        }
        let product =
            self.shape.iter().try_fold(1usize, |acc, d| usize::try_from(*d).ok().and_then(|d| acc.checked_mul(d)));
        let Some(product) = product else {
            return Err(Refusal::malformed(format!(
                "input {:?} has shape {:?}; a request's dimensions must be zero or more and fit in memory",
                self.name, self.shape
            )));
        };
        let mut out = Vec::new();
        fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>, depth: usize) -> bool {
            match v {
                Value::Array(a) if depth < 8 => a.iter().all(|x| walk(x, out, depth + 1)),
                Value::Array(_) => false,
                _ => {
                    out.push(v);
                    true
                }
            }
        }
        if !walk(&self.data, &mut out, 0) {
            return Err(Refusal::malformed(format!("input {:?}: data is nested too deeply", self.name)));
        }
        if product != out.len() {
            return Err(Refusal::malformed(format!(
                "input {:?} has shape {:?} ({product} values) but {} values in data",
                self.name,
                self.shape,
                out.len()
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs() -> Inputs {
        Inputs {
            fields: vec![
                Field { name: "age".into(), ty: ColumnType::Float },
                Field { name: "plan".into(), ty: ColumnType::Str },
                Field { name: "n".into(), ty: ColumnType::Int },
            ],
        }
    }

    #[test]
    fn records_become_typed_columns() {
        let t = inputs()
            .from_instances(&[json!({"age": 31.5, "plan": "pro", "n": 3}).into(), json!([40, "free", 2.0]).into()])
            .unwrap();
        assert_eq!(t.rows(), 2);
        assert_eq!(t.column("age").unwrap().as_f64(1), Some(40.0));
        assert_eq!(t.column("plan").unwrap().str_at(0), Some("pro"));
        assert_eq!(t.column("n").unwrap().ty(), ColumnType::Int);
    }

    #[test]
    fn every_bad_field_is_named_with_what_was_expected_and_what_came() {
        let e = inputs()
            .from_instances(&[
                json!({"age": "old", "plan": "pro", "extra": 1}).into(),
                json!({"age": null, "plan": 3, "n": 1.5}).into(),
            ])
            .unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        let got: Vec<(&str, Option<usize>, &str)> =
            e.problems.iter().map(|p| (p.field.as_str(), p.row, p.got.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("age", Some(0), "string \"old\""),
                ("n", Some(0), "nothing (the field is missing)"),
                ("extra", Some(0), "an unknown field"),
                ("age", Some(1), "null"),
                ("plan", Some(1), "number 3"),
                ("n", Some(1), "number 1.5"),
            ]
        );
        assert!(e.full_message().contains("plan (row 1): expected a string, got number 3"));
    }

    #[test]
    fn tensors_per_input_or_one_matrix() {
        let numeric = Inputs {
            fields: vec![
                Field { name: "a".into(), ty: ColumnType::Float },
                Field { name: "b".into(), ty: ColumnType::Float },
            ],
        };
        let one: Tensor =
            serde_json::from_value(json!({"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]})).unwrap();
        let t = numeric.from_tensors(&[one]).unwrap();
        assert_eq!(t.column("b").unwrap().as_f64(1), Some(4.0));
        let a: Tensor = serde_json::from_value(json!({"name":"a","shape":[2],"datatype":"FP64","data":[1,3]})).unwrap();
        let b: Tensor =
            serde_json::from_value(json!({"name":"b","shape":[2,1],"datatype":"INT32","data":[2,4]})).unwrap();
        assert_eq!(numeric.from_tensors(&[a.clone(), b]).unwrap().column("a").unwrap().as_f64(1), Some(3.0));
        let short: Tensor =
            serde_json::from_value(json!({"name":"b","shape":[2],"datatype":"FP64","data":[1]})).unwrap();
        let e = numeric.from_tensors(&[a, short]).unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert!(e.message.contains("shape [2] (2 values) but 1 values"), "{}", e.message);
    }
}
