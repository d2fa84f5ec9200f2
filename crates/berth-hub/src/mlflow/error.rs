//! MLflow's error body, `{"error_code", "message"}`, with the status MLflow
//! gives each code. Built from the hub's errors by kind: not found is 404
//! `RESOURCE_DOES_NOT_EXIST`, a denial 403 `PERMISSION_DENIED`, bad input
//! 400 `INVALID_PARAMETER_VALUE`, a conflict 409 `RESOURCE_CONFLICT`. The
//! client retries 5xx answers for minutes, so only an unreachable database
//! or store (503) or damaged data (500) is ever one.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_service::ServiceError;
use serde_json::json;

use crate::error::ApiError;

#[derive(Debug)]
pub(crate) struct MlflowError {
    pub status: StatusCode,
    pub code: &'static str,
    /// What was wrong and what to do: the client shows the message alone.
    pub message: String,
}

impl MlflowError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> MlflowError {
        MlflowError { status, code, message: message.into() }
    }

    /// 400 `INVALID_PARAMETER_VALUE`.
    pub fn invalid(message: impl Into<String>) -> MlflowError {
        MlflowError::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`.
    pub fn missing(message: impl Into<String>) -> MlflowError {
        MlflowError::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    /// 409 `RESOURCE_CONFLICT`: what berth will not do, and why.
    pub fn conflict(message: impl Into<String>) -> MlflowError {
        MlflowError::new(StatusCode::CONFLICT, "RESOURCE_CONFLICT", message)
    }
}

impl From<ApiError> for MlflowError {
    fn from(e: ApiError) -> MlflowError {
        let code = match e.status {
            StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
            StatusCode::FORBIDDEN => "PERMISSION_DENIED",
            StatusCode::NOT_FOUND => "RESOURCE_DOES_NOT_EXIST",
            StatusCode::CONFLICT => "RESOURCE_CONFLICT",
            StatusCode::PAYLOAD_TOO_LARGE => "RESOURCE_EXHAUSTED",
            StatusCode::SERVICE_UNAVAILABLE => "TEMPORARILY_UNAVAILABLE",
            s if s.is_server_error() => "INTERNAL_ERROR",
            _ => "INVALID_PARAMETER_VALUE",
        };
        // 422 is berth's "well formed but wrong"; MLflow says 400 for it.
        let status = if e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status };
        let mut message = match e.hint {
            Some(hint) => format!("{}; {hint}", e.message),
            None => e.message,
        };
        if e.status == StatusCode::UNAUTHORIZED {
            message.push_str(
                " (MLflow clients send it from MLFLOW_TRACKING_TOKEN, or as MLFLOW_TRACKING_PASSWORD with any \
                 MLFLOW_TRACKING_USERNAME)",
            );
        }
        MlflowError { status, code, message }
    }
}

impl From<ServiceError> for MlflowError {
    fn from(e: ServiceError) -> MlflowError {
        MlflowError::from(ApiError::from(e))
    }
}

impl IntoResponse for MlflowError {
    fn into_response(self) -> Response {
        let mut r = crate::body::json(self.status, &json!({"error_code": self.code, "message": self.message}));
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"berth\""),
            );
        }
        r
    }
}
