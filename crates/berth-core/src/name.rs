//! Names users type: model names and alias (environment) names. Parsing makes
//! an invalid name unrepresentable, so nothing below the CLI re-checks them.
//!
//! The allowed pattern, for both: 1 to 64 characters from `a-z`, `0-9`, `-`,
//! `_` and `.`, starting with a letter or digit. Alias names additionally may
//! not be all digits (that is a version number) nor `latest` (reserved).

use std::fmt;

use serde::{Deserialize, Serialize};

pub const NAME_PATTERN: &str = "1-64 characters from a-z, 0-9, '-', '_', '.', starting with a letter or digit";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct NameError {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

fn check(what: &'static str, s: &str) -> Result<(), NameError> {
    let err = |reason: String| NameError { what, value: s.to_string(), reason };
    if s.is_empty() {
        return Err(err(format!("it is empty; use {NAME_PATTERN}")));
    }
    if s.len() > 64 {
        return Err(err(format!("it is {} characters long; use {NAME_PATTERN}", s.len())));
    }
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        let lower = s.to_ascii_lowercase();
        if check(what, &lower).is_ok() {
            return Err(err(format!("names are lowercase; try {lower:?}")));
        }
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err(err(format!("it must start with a lowercase letter or digit; use {NAME_PATTERN}")));
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(*c))) {
        return Err(err(format!("character {c:?} is not allowed; use {NAME_PATTERN}")));
    }
    Ok(())
}

macro_rules! name_type {
    ($ty:ident) => {
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                $ty::parse(s)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $ty::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A model's name, e.g. `churn`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelName(String);

impl ModelName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check("model name", s)?;
        Ok(ModelName(s.to_string()))
    }
}
name_type!(ModelName);

/// An alias or environment name, e.g. `production`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AliasName(String);

impl AliasName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        check("alias name", s)?;
        let err = |reason: &str| NameError { what: "alias name", value: s.to_string(), reason: reason.to_string() };
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("an all-digit alias would read as a version number; add a letter"));
        }
        if s == "latest" {
            return Err(err("`latest` is reserved: it always means the newest version"));
        }
        Ok(AliasName(s.to_string()))
    }
}
name_type!(AliasName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_follow_the_documented_pattern() {
        for ok in ["churn", "churn-v2", "a", "0day", "fraud_model.xgb", &"x".repeat(64)] {
            assert!(ModelName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Churn", "-x", ".x", "a b", "a/b", "é", &"x".repeat(65), "a@b"] {
            assert!(ModelName::parse(bad).is_err(), "{bad}");
        }
        let e = ModelName::parse("Churn").unwrap_err();
        assert!(e.to_string().contains("try \"churn\""), "{e}");
    }

    #[test]
    fn alias_names_refuse_numbers_and_latest() {
        assert!(AliasName::parse("production").is_ok());
        assert!(AliasName::parse("v2").is_ok());
        assert!(AliasName::parse("12").is_err());
        assert!(AliasName::parse("latest").is_err());
    }
}
