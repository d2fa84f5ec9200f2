//! `berth hub`: the team server. One authenticated HTTP door to the service
//! layer — people, CI and model servers hold a token, never the database's
//! or the bucket's credentials — over PostgreSQL and S3-compatible storage.
//! Every request is the service acting as the token's principal, so roles,
//! four-eyes approvals and environment policies are decided by the service
//! exactly as for a local user, and a client cannot skip them. The hub keeps
//! no state of its own: replicas against one database and bucket are one hub.
//!
//! Depends on `berth-service` (and `berth-core` for its vocabulary), never on
//! the store or registry crates.

mod accept;
mod auth;
mod blobs;
mod body;
mod credentials;
mod error;
mod lfs;
mod log_segments;
mod metrics;
mod mlflow;
mod monitor;
mod openapi;
mod rollouts;
mod routes;
mod seed;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use berth_core::{Clock, Timestamp};
use berth_service::Berth;

pub use accept::Listen;
pub use blobs::Uploads;
pub use error::ApiError;
use metrics::Metrics;
pub use tls::Tls;

/// The hub's shared state: the service (acting as the hub itself until a
/// request names someone) and its metrics.
pub struct Hub {
    berth: Berth,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    uploads: std::sync::OnceLock<blobs::Uploads>,
}

impl Hub {
    pub fn new(berth: Berth, clock: Arc<dyn Clock>) -> Arc<Hub> {
        Arc::new(Hub { berth, clock, metrics: Metrics::default(), uploads: Default::default() })
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// Every route: `/api/v1/…`, the older scripts' paths, and the probes.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .nest("/api/v1", authenticated(&hub, routes::router().merge(blobs::router())))
        .merge(authenticated(&hub, seed::router()))
        // The seeds' dashboards read live performance at their own path too.
        .merge(authenticated(&hub, Router::new().route("/models/{model}/performance", get(monitor::performance))))
        .merge(lfs::router(&hub))
        .merge(mlflow::router(&hub))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(hub.clone(), measure))
        .with_state(hub)
}

/// Every route of `r` answers only a caller with a valid token.
fn authenticated(hub: &Arc<Hub>, r: Router<Arc<Hub>>) -> Router<Arc<Hub>> {
    r.route_layer(middleware::from_fn_with_state(hub.clone(), auth::authenticate))
}

async fn measure(State(hub): State<Arc<Hub>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(req).await;
    let route = route.unwrap_or_else(|| "unmatched".into());
    hub.metrics.record(&route, response.status().as_u16(), started.elapsed());
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route", "the API lives under /api/v1; see /api/v1/openapi.json")
}

/// The process is up.
async fn livez() -> Response {
    body::ok(&serde_json::json!({"status": "ok"}))
}

/// The hub can serve: its database and its store both answer.
async fn readyz(State(hub): State<Arc<Hub>>) -> Response {
    match hub.berth.readiness().await {
        Ok(()) => body::ok(&serde_json::json!({"status": "ready"})),
        Err(e) => {
            let mut r = ApiError::from(e).into_response();
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r
        }
    }
}

async fn metrics(State(hub): State<Arc<Hub>>) -> Response {
    let mut r = Response::new(axum::body::Body::from(hub.metrics.render()));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    r
}

/// Serves until `shutdown` completes, over plain HTTP with the default
/// limits. `ready` is called with the bound address.
pub async fn run(
    listener: tokio::net::TcpListener,
    hub: Arc<Hub>,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve(listener, hub, Listen::default(), ready, shutdown).await
}

/// Serves until `shutdown` completes, as `listen` says. `ready` is called with the bound address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Arc<Hub>,
    listen: Listen,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    ready(addr);
    // Git LFS links point back at the hub, so they must know when it is https.
    let app = if listen.tls.is_some() { router(hub).layer(axum::Extension(lfs::OverTls)) } else { router(hub) };
    accept::serve(listener, app, listen, shutdown).await;
    Ok(())
}
