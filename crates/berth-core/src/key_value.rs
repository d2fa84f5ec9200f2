//! `KEY=VALUE` pairs users type: a version's params and tags, a training
//! run's hyperparameters. Parsed once where they enter, so a pair without a
//! key never reaches the registry.

use std::collections::BTreeMap;
use std::fmt;

/// One pair. The key is trimmed; the value is kept as written and may hold
/// `=` itself (`query=a=b` is the key `query` with the value `a=b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyValueError {
    #[error("{item:?} has no '=': expected KEY=VALUE, e.g. lr=0.01")]
    NoEquals { item: String },
    #[error("{item:?} has no key before the '=': expected KEY=VALUE, e.g. lr=0.01")]
    NoKey { item: String },
}

impl KeyValue {
    pub fn parse(s: &str) -> Result<KeyValue, KeyValueError> {
        let (key, value) = s.split_once('=').ok_or_else(|| KeyValueError::NoEquals { item: s.to_string() })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(KeyValueError::NoKey { item: s.to_string() });
        }
        Ok(KeyValue { key: key.to_string(), value: value.to_string() })
    }

    /// The pairs as a map; a key given twice keeps its last value, as a
    /// later flag overrides an earlier one.
    pub fn map(pairs: &[KeyValue]) -> BTreeMap<String, String> {
        pairs.iter().map(|p| (p.key.clone(), p.value.clone())).collect()
    }
}

impl std::str::FromStr for KeyValue {
    type Err = KeyValueError;
    fn from_str(s: &str) -> Result<KeyValue, KeyValueError> {
        KeyValue::parse(s)
    }
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_need_an_equals_sign_and_a_key() {
        let p = KeyValue::parse(" b =x=y").unwrap();
        assert_eq!((p.key.as_str(), p.value.as_str()), ("b", "x=y"));
        assert_eq!(KeyValue::parse("a=").unwrap().value, "");
        assert_eq!(KeyValue::parse("novalue"), Err(KeyValueError::NoEquals { item: "novalue".into() }));
        assert_eq!(KeyValue::parse(" =v"), Err(KeyValueError::NoKey { item: " =v".into() }));
        assert!(KeyValue::parse("novalue").unwrap_err().to_string().contains("expected KEY=VALUE"));
        let m = KeyValue::map(&[KeyValue::parse("a=1").unwrap(), KeyValue::parse("a=2").unwrap()]);
        assert_eq!(m["a"], "2");
    }
}
