//! A [`Ref`] is how a user names a version: `churn@7`, `churn@production`,
//! `churn@latest`, or a bare `churn` (the latest version).

use std::fmt;

use crate::name::{AliasName, ModelName, NameError};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    Version(u64),
    Alias(AliasName),
    Latest,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ref {
    pub model: ModelName,
    pub selector: Selector,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RefError {
    #[error("invalid ref {value:?}: {source}")]
    Name { value: String, source: NameError },
    #[error("invalid ref {value:?}: version numbers start at 1")]
    Zero { value: String },
    #[error("invalid ref {value:?}: nothing after '@'; write NAME@VERSION, NAME@ALIAS or NAME@latest")]
    Empty { value: String },
}

impl Ref {
    pub fn parse(s: &str) -> Result<Self, RefError> {
        let (model, sel) = match s.split_once('@') {
            Some((m, sel)) => (m, Some(sel)),
            None => (s, None),
        };
        let model = ModelName::parse(model).map_err(|source| RefError::Name { value: s.to_string(), source })?;
        let selector = match sel {
            None | Some("latest") => Selector::Latest,
            Some("") => return Err(RefError::Empty { value: s.to_string() }),
            Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => match v.parse::<u64>() {
                Ok(0) => return Err(RefError::Zero { value: s.to_string() }),
                Ok(n) => Selector::Version(n),
                Err(_) => {
                    return Err(RefError::Name {
                        value: s.to_string(),
                        source: NameError { what: "version", value: v.to_string(), reason: "too large".into() },
                    });
                }
            },
            Some(a) => {
                Selector::Alias(AliasName::parse(a).map_err(|source| RefError::Name { value: s.to_string(), source })?)
            }
        };
        Ok(Ref { model, selector })
    }

    pub fn version(model: ModelName, n: u64) -> Self {
        Ref { model, selector: Selector::Version(n) }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            Selector::Version(n) => write!(f, "{}@{n}", self.model),
            Selector::Alias(a) => write!(f, "{}@{a}", self.model),
            Selector::Latest => write!(f, "{}@latest", self.model),
        }
    }
}

impl std::str::FromStr for Ref {
    type Err = RefError;
    fn from_str(s: &str) -> Result<Self, RefError> {
        Ref::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_parse_versions_aliases_and_latest() {
        assert_eq!(Ref::parse("churn@7").unwrap().selector, Selector::Version(7));
        assert_eq!(Ref::parse("churn").unwrap().selector, Selector::Latest);
        assert_eq!(Ref::parse("churn@latest").unwrap().selector, Selector::Latest);
        assert!(matches!(Ref::parse("churn@production").unwrap().selector, Selector::Alias(_)));
        assert_eq!(Ref::parse("churn@7").unwrap().to_string(), "churn@7");
    }

    #[test]
    fn bad_refs_say_what_is_wrong() {
        assert!(matches!(Ref::parse("churn@0"), Err(RefError::Zero { .. })));
        assert!(matches!(Ref::parse("churn@"), Err(RefError::Empty { .. })));
        assert!(Ref::parse("Churn@1").is_err());
        assert!(Ref::parse("churn@Prod").is_err());
        assert!(Ref::parse("churn@99999999999999999999999").is_err());
    }
}
