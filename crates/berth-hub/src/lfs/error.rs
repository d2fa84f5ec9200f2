//! Git LFS's error body, `{"message"}` of type
//! `application/vnd.git-lfs+json`, built from the hub's errors. A 401 carries
//! `LFS-Authenticate: Basic realm="berth"`, which makes `git lfs` ask git's
//! credential helper for a user and password (the token is the password).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_service::ServiceError;

use super::LFS_JSON;
use crate::error::ApiError;

/// What tells `git lfs` how to authenticate.
const LFS_AUTHENTICATE: &str = "lfs-authenticate";

#[derive(Debug)]
pub(crate) struct LfsError {
    pub status: StatusCode,
    /// What was wrong and what to do, in one sentence or two: `git lfs`
    /// shows the message and nothing else.
    pub message: String,
}

impl LfsError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> LfsError {
        LfsError { status, message: message.into() }
    }

    /// 422: a value in the request is refused.
    pub fn unprocessable(message: impl Into<String>) -> LfsError {
        LfsError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
}

impl From<ApiError> for LfsError {
    fn from(e: ApiError) -> LfsError {
        let message = match (&e.hint, e.status) {
            (_, StatusCode::UNAUTHORIZED) => format!(
                "{}: send a berth token as the password of Basic credentials (git's credential helper) \
                 or as `Authorization: Bearer berth_…` (`git config http.<lfs url>.extraHeader`); \
                 `berth lfs install` shows how",
                e.message
            ),
            (Some(hint), _) => format!("{}; {hint}", e.message),
            (None, _) => e.message,
        };
        LfsError::new(e.status, message)
    }
}

impl From<ServiceError> for LfsError {
    fn from(e: ServiceError) -> LfsError {
        LfsError::from(ApiError::from(e))
    }
}

/// A Git LFS JSON answer.
pub(crate) fn lfs_json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut r = crate::body::json(status, value);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(LFS_JSON));
    r
}

impl IntoResponse for LfsError {
    fn into_response(self) -> Response {
        let mut r = lfs_json(self.status, &serde_json::json!({ "message": self.message }));
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(LFS_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"berth\""));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        r
    }
}
