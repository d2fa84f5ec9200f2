//! MLflow's model registry and artifact proxy, so the `mlflow` Python
//! client (and anything else that speaks MLflow's REST API) works against
//! the hub unchanged: `MlflowClient` creates models and versions, searches,
//! tags and sets aliases; `mlflow.pyfunc.load_model("models:/churn@production")`
//! loads a version's ONNX file. Under `/api/2.0/mlflow/`:
//!
//! - `registered-models/` `create`, `get`, `search`, `update`, `delete`,
//!   `set-tag`, `delete-tag`, `get-latest-versions`, and `alias` (`POST`
//!   sets, `GET` reads, `DELETE` removes);
//! - `model-versions/` `create`, `get`, `search`, `update`, `delete`,
//!   `set-tag`, `delete-tag`, `get-download-uri`, `transition-stage`;
//!
//! and the artifact proxy under `/api/2.0/mlflow-artifacts/artifacts`
//! (`artifacts.rs`). Everything else under `/api/2.0/mlflow/` answers 404
//! `ENDPOINT_NOT_FOUND`, MLflow's own answer for a route a server lacks.
//!
//! It is berth underneath: every call is the service acting as the caller's
//! token, with its roles; an alias that berth's policy governs is moved by
//! promotion (refused with 403 `PERMISSION_DENIED` and everything missing,
//! which MLflow itself cannot do); versions are content-addressed and never
//! deleted. The token comes as `Authorization: Bearer` (`MLFLOW_TRACKING_TOKEN`)
//! or as the password of Basic credentials (`MLFLOW_TRACKING_PASSWORD`).
//! Errors are MLflow's `{"error_code", "message"}`. These routes are left
//! out of `/api/v1/openapi.json`: their protocol is MLflow's.

mod artifacts;
mod entities;
mod error;
mod model_versions;
mod registered_models;
mod request;
mod search;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};

use crate::Hub;
use crate::credentials::attach_caller;
pub(crate) use error::MlflowError;
use request::Fields;

type Answer = Result<Response, MlflowError>;

/// MLflow's answer to a call that returns nothing.
fn empty() -> Response {
    crate::body::ok(&serde_json::json!({}))
}

const API: &str = "/api/2.0/mlflow";
const ARTIFACTS: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Every route of MLflow's API the hub answers, as `(method, route)`.
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/2.0/mlflow/registered-models/create"),
    ("get", "/api/2.0/mlflow/registered-models/get"),
    ("get", "/api/2.0/mlflow/registered-models/search"),
    ("patch", "/api/2.0/mlflow/registered-models/update"),
    ("delete", "/api/2.0/mlflow/registered-models/delete"),
    ("post", "/api/2.0/mlflow/registered-models/set-tag"),
    ("delete", "/api/2.0/mlflow/registered-models/delete-tag"),
    ("post", "/api/2.0/mlflow/registered-models/get-latest-versions"),
    ("post", "/api/2.0/mlflow/registered-models/alias"),
    ("get", "/api/2.0/mlflow/registered-models/alias"),
    ("delete", "/api/2.0/mlflow/registered-models/alias"),
    ("post", "/api/2.0/mlflow/model-versions/create"),
    ("get", "/api/2.0/mlflow/model-versions/get"),
    ("get", "/api/2.0/mlflow/model-versions/search"),
    ("patch", "/api/2.0/mlflow/model-versions/update"),
    ("delete", "/api/2.0/mlflow/model-versions/delete"),
    ("post", "/api/2.0/mlflow/model-versions/set-tag"),
    ("delete", "/api/2.0/mlflow/model-versions/delete-tag"),
    ("get", "/api/2.0/mlflow/model-versions/get-download-uri"),
    ("post", "/api/2.0/mlflow/model-versions/transition-stage"),
    ("get", "/api/2.0/mlflow-artifacts/artifacts"),
    ("get", "/api/2.0/mlflow-artifacts/artifacts/{*path}"),
    ("put", "/api/2.0/mlflow-artifacts/artifacts/{*path}"),
];

/// The MLflow routes, each behind the hub's tokens.
pub(crate) fn router(hub: &Arc<Hub>) -> Router<Arc<Hub>> {
    use axum::routing::{delete, patch};
    use model_versions as mv;
    use registered_models as rm;
    let registry = Router::new()
        .route("/registered-models/create", post(rm::create))
        .route("/registered-models/get", get(rm::get))
        .route("/registered-models/search", get(rm::search))
        .route("/registered-models/update", patch(rm::update))
        .route("/registered-models/delete", delete(rm::delete))
        .route("/registered-models/set-tag", post(rm::set_tag))
        .route("/registered-models/delete-tag", delete(rm::delete_tag))
        .route("/registered-models/get-latest-versions", post(rm::latest_versions))
        .route("/registered-models/alias", post(rm::set_alias).get(rm::get_alias).delete(rm::delete_alias))
        .route("/model-versions/create", post(mv::create))
        .route("/model-versions/get", get(mv::get))
        .route("/model-versions/search", get(mv::search))
        .route("/model-versions/update", patch(mv::update))
        .route("/model-versions/delete", delete(mv::delete))
        .route("/model-versions/set-tag", post(mv::set_tag))
        .route("/model-versions/delete-tag", delete(mv::delete_tag))
        .route("/model-versions/get-download-uri", get(mv::download_uri))
        .route("/model-versions/transition-stage", post(mv::transition_stage))
        .fallback(no_endpoint);
    let artifacts = Router::new()
        .route("/", get(artifacts::list))
        .route("/{*path}", get(artifacts::download).put(artifacts::upload))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .nest(API, registry)
        .nest(ARTIFACTS, artifacts)
        .route_layer(middleware::from_fn_with_state(hub.clone(), authenticate))
        .route(&format!("{API}/{{*rest}}"), any(no_endpoint))
}

/// MLflow's answer for a route this server does not offer; its clients
/// fall back to an older route on this code, and show the message otherwise.
async fn no_endpoint(req: Request) -> MlflowError {
    MlflowError::new(
        axum::http::StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        format!(
            "berth's MLflow API does not offer {} {}: it answers the model registry (registered-models/*, \
             model-versions/*) and the artifact proxy; experiments and runs are not kept by berth",
            req.method(),
            req.uri().path()
        ),
    )
}

/// Authenticates every MLflow request; a refusal is MLflow's 401.
async fn authenticate(State(hub): State<Arc<Hub>>, req: Request, next: Next) -> Response {
    match attach_caller(&hub, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => MlflowError::from(e).into_response(),
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = MlflowError;

    async fn from_request(req: Request, _state: &S) -> Result<Fields, MlflowError> {
        let (parts, body) = req.into_parts();
        Fields::read(&parts.method, &parts.uri, body).await
    }
}
