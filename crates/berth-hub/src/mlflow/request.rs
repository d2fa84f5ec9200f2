//! An MLflow request's fields, wherever the client put them: the query
//! string of a `GET`, the JSON body of anything else (MLflow's clients send
//! `DELETE`'s fields in a body too). Fields are read by name as the protocol
//! buffers' JSON has them; numbers may arrive as strings (`"version": "3"`,
//! `max_results=100` in a query), and fields a newer client sends that this
//! hub does not use are ignored, as MLflow's own server ignores them.

use axum::body::Body;
use axum::http::{Method, Uri};
use berth_core::{AliasName, ModelName};
use serde_json::{Map, Value};

use super::MlflowError;

pub(crate) struct Fields(Map<String, Value>);

impl Fields {
    /// The request's fields: the query's pairs for a `GET` (and for any
    /// request without a body), the body's JSON object otherwise.
    pub async fn read(method: &Method, uri: &Uri, body: Body) -> Result<Fields, MlflowError> {
        let bytes = crate::body::read(body, crate::body::MAX_JSON, "send a smaller body").await?;
        if *method == Method::GET || bytes.iter().all(u8::is_ascii_whitespace) {
            let mut map = Map::new();
            for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
            return Ok(Fields(map));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            Ok(other) => Err(MlflowError::invalid(format!("the request body is JSON but not an object: {other}"))),
            Err(e) => Err(MlflowError::invalid(format!("the request body is not JSON: {e}"))),
        }
    }

    #[cfg(test)]
    pub fn of(v: Value) -> Fields {
        match v {
            Value::Object(m) => Fields(m),
            _ => Fields(Map::new()),
        }
    }

    /// A text field, when present and not null.
    pub fn text(&self, key: &str) -> Result<Option<String>, MlflowError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(MlflowError::invalid(format!("field {key:?} must be a string, not {other}"))),
        }
    }

    /// A text field that must be there and not empty.
    pub fn required(&self, key: &str) -> Result<String, MlflowError> {
        match self.text(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(MlflowError::invalid(format!("missing value for required parameter '{key}'"))),
        }
    }

    /// A whole number, sent as a number or as its digits.
    pub fn number(&self, key: &str) -> Result<Option<u64>, MlflowError> {
        let bad = |v: &Value| MlflowError::invalid(format!("field {key:?} must be a whole number, not {v}"));
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(v @ Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(v)),
            Some(v @ Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| bad(v)),
            Some(v) => Err(bad(v)),
        }
    }

    /// `name`, as a berth model name.
    pub fn model(&self, key: &str) -> Result<ModelName, MlflowError> {
        let s = self.required(key)?;
        ModelName::parse(&s).map_err(|e| {
            MlflowError::invalid(format!(
                "registered model name {s:?} is not a berth model name ({e}); use lowercase letters, digits, '-', \
                 '_' and '.'"
            ))
        })
    }

    /// `version`, a version number sent as text (as MLflow does) or as a number.
    pub fn version(&self, key: &str) -> Result<u64, MlflowError> {
        self.number(key)?
            .filter(|n| *n > 0)
            .ok_or_else(|| MlflowError::invalid(format!("parameter '{key}' must be a version number: 1, 2, 3, …")))
    }

    /// An alias, as a berth alias name.
    pub fn alias(&self, key: &str) -> Result<AliasName, MlflowError> {
        let s = self.required(key)?;
        AliasName::parse(&s).map_err(|e| MlflowError::invalid(format!("alias {s:?} is not a berth alias name ({e})")))
    }

    /// `tags`, as MLflow sends them: `[{"key", "value"}]`.
    pub fn tags(&self, key: &str) -> Result<Vec<(String, String)>, MlflowError> {
        let Some(v) = self.0.get(key).filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
        let bad = || MlflowError::invalid(format!("field {key:?} must be a list of {{\"key\", \"value\"}} objects"));
        let list = v.as_array().ok_or_else(bad)?;
        list.iter()
            .map(|t| {
                let k = t.get("key").and_then(Value::as_str).ok_or_else(bad)?;
                let v = t.get("value").and_then(Value::as_str).unwrap_or("");
                Ok((k.to_string(), v.to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_are_read_as_mlflow_clients_send_them() {
        let f = Fields::of(
            json!({"name": "churn", "version": "3", "max_results": 10, "tags": [{"key": "a", "value": "b"}]}),
        );
        assert_eq!(f.model("name").unwrap().as_str(), "churn");
        assert_eq!(f.version("version").unwrap(), 3);
        assert_eq!(f.number("max_results").unwrap(), Some(10));
        assert_eq!(f.tags("tags").unwrap(), [("a".to_string(), "b".to_string())]);
        assert_eq!(f.text("nothing").unwrap(), None);
    }

    #[test]
    fn bad_fields_are_refused_by_name() {
        let f = Fields::of(json!({"name": "Churn Model", "version": "three", "tags": "x", "n": -1}));
        let cases = [
            (f.model("name").unwrap_err(), "is not a berth model name"),
            (f.version("version").unwrap_err(), "must be a whole number"),
            (f.tags("tags").unwrap_err(), "must be a list"),
            (f.number("n").unwrap_err(), "must be a whole number"),
            (f.required("alias").unwrap_err(), "missing value for required parameter 'alias'"),
        ];
        for (e, why) in cases {
            assert_eq!((e.status.as_u16(), e.code), (400, "INVALID_PARAMETER_VALUE"));
            assert!(e.message.contains(why), "{}", e.message);
        }
    }
}
