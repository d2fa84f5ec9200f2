//! Column types and schemas: what a table holds, and what a model expects.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Float,
    Int,
    Bool,
    /// Text, stored as a dictionary of distinct values (categorical).
    Str,
    /// Seconds since the Unix epoch, UTC.
    Timestamp,
}

impl ColumnType {
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Float | ColumnType::Int | ColumnType::Bool)
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "float" | "f64" | "double" => ColumnType::Float,
            "int" | "i64" | "integer" => ColumnType::Int,
            "bool" | "boolean" => ColumnType::Bool,
            "str" | "string" | "text" | "category" => ColumnType::Str,
            "timestamp" | "datetime" => ColumnType::Timestamp,
            _ => return None,
        })
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::Float => "float",
            ColumnType::Int => "int",
            ColumnType::Bool => "bool",
            ColumnType::Str => "str",
            ColumnType::Timestamp => "timestamp",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub fields: Vec<Field>,
}

impl Schema {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.fields.iter().map(|f| f.name.clone()).collect()
    }

    /// Parses `name:type,name:type` (the `--schema` option).
    pub fn parse_spec(spec: &str) -> Result<Schema, String> {
        let mut fields = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, ty) = part.split_once(':').ok_or_else(|| format!("{part:?}: expected NAME:TYPE"))?;
            let ty = ColumnType::parse(ty.trim())
                .ok_or_else(|| format!("{part:?}: unknown type {ty:?}; use float, int, bool, str or timestamp"))?;
            fields.push(Field { name: name.trim().to_string(), ty });
        }
        Ok(Schema { fields })
    }
}
