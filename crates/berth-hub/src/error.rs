//! The one error shape every route answers with:
//! `{"error": {"code", "message", "hint"}}`, its status chosen by the
//! service's error kind alone. A denial is 403, never a 5xx; a request the
//! hub cannot parse is 400, one it parses but cannot accept is 422.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_service::{ErrorKind, ServiceError};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// What a denial lacks, each with its fix (empty otherwise).
    pub missing: serde_json::Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>, hint: Option<String>) -> ApiError {
        ApiError { status, code, message: message.into(), hint, missing: serde_json::Value::Null }
    }

    /// 400: the body or query is not what any request looks like.
    pub fn malformed(message: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message, Some(hint.into()))
    }

    /// 422: well formed, but a value is wrong.
    pub fn bad_input(message: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_input", message, Some(hint.into()))
    }

    pub fn not_found(message: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message, Some(hint.into()))
    }
}

/// The code a kind is reported under.
fn code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "not_found",
        ErrorKind::Conflict => "conflict",
        ErrorKind::Denied => "denied",
        ErrorKind::Unauthenticated => "unauthenticated",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Corrupt => "corrupt",
        ErrorKind::BadInput => "bad_input",
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        let kind = e.kind();
        let status = StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let missing = match &e {
            ServiceError::Denied { missing, .. } if !missing.is_empty() => json!(missing),
            _ => serde_json::Value::Null,
        };
        if status.is_server_error() {
            tracing::warn!(error = %e, "request failed");
        }
        ApiError { status, code: code(kind), message: e.message(), hint: e.hint(), missing }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message, "hint": self.hint});
        if !self.missing.is_null() {
            error["missing"] = self.missing;
        }
        let mut r = crate::body::json(self.status, &json!({ "error": error }));
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"berth\""));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        r
    }
}
