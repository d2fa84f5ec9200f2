//! Request bodies and queries in, JSON out. Bodies are read up to a limit
//! (413 beyond it) and parsed into the route's request type, which refuses
//! unknown fields: a syntax error is 400, a wrong or missing field 422, each
//! naming what was wrong.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest JSON body a route accepts.
pub const MAX_JSON: usize = 1 << 20;

pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    let bytes = serde_json::to_vec(value).expect("responses always serialise");
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub fn ok<T: Serialize + ?Sized>(value: &T) -> Response {
    json(StatusCode::OK, value)
}

/// Reads a whole body of at most `limit` bytes: 413 with `hint` beyond it.
pub async fn read(body: Body, limit: usize, hint: &str) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // axum reports the limit as an error whose source says "length limit exceeded".
        let mut cause: Option<&dyn std::error::Error> = Some(&e);
        let mut too_large = false;
        while let Some(c) = cause {
            too_large |= c.to_string().contains("length limit");
            cause = c.source();
        }
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("the request body is over {limit} bytes"),
                Some(hint.into()),
            )
        } else {
            ApiError::malformed(format!("the request body could not be read: {e}"), "send the whole body")
        }
    })
}

/// Reads and parses a JSON body.
pub async fn parse<T: DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = read(body, MAX_JSON, "send a smaller body").await?;
    let bytes = if bytes.is_empty() { &b"{}"[..] } else { &bytes[..] };
    serde_json::from_slice(bytes).or_else(|e| match e.classify() {
        serde_json::error::Category::Data => {
            // JSON has one number type: `3.0` is the whole number 3 where
            // one is asked for.
            whole_numbers(bytes).ok_or_else(|| {
                ApiError::bad_input(format!("the request body: {e}"), "see the route's fields in /api/v1/openapi.json")
            })
        }
        _ => Err(ApiError::malformed(format!("the request body is not JSON: {e}"), "send a JSON object")),
    })
}

/// The body parsed again with every whole-valued float (`3.0`) read as an
/// integer; `None` when it holds none or still does not parse.
fn whole_numbers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    fn fix(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                let f = n.as_f64().unwrap_or(f64::NAN);
                let whole = if f.fract() != 0.0 || !f.is_finite() {
                    None
                } else if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                    Some(serde_json::Number::from(f as u64))
                } else if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                    Some(serde_json::Number::from(f as i64))
                } else {
                    None
                };
                whole.map(|w| *n = w).is_some()
            }
            serde_json::Value::Array(a) => a.iter_mut().fold(false, |changed, v| fix(v) | changed),
            serde_json::Value::Object(o) => o.values_mut().fold(false, |changed, v| fix(v) | changed),
            _ => false,
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !fix(&mut value) {
        return None;
    }
    serde_json::from_value(value).ok()
}

/// The query string as pairs; a key given twice is refused.
pub fn query(q: Option<&str>, allowed: &[&str]) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
        if !allowed.contains(&k.as_ref()) {
            return Err(ApiError::bad_input(
                format!("unknown query parameter {k:?}"),
                if allowed.is_empty() {
                    "this route takes no query parameters".to_string()
                } else {
                    format!("this route takes {}", allowed.join(", "))
                },
            ));
        }
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(ApiError::bad_input(format!("query parameter {k:?} is given twice"), "give it once"));
        }
    }
    Ok(out)
}

/// A query value parsed by `parse`, naming the parameter when it fails.
pub fn param<T, E: std::fmt::Display>(
    q: &BTreeMap<String, String>,
    name: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<T>, ApiError> {
    q.get(name)
        .map(|v| {
            parse(v).map_err(|e| ApiError::bad_input(format!("query parameter {name}={v:?}: {e}"), "fix the value"))
        })
        .transpose()
}
