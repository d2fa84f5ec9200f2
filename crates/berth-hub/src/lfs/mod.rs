//! A Git LFS server under `/lfs/{repo}`, where `{repo}` is a model's name
//! (the model need not exist yet). `git lfs` finds it through `lfs.url`
//! (`berth lfs install` writes it) and speaks Git LFS's own protocol, not
//! berth's API: the batch API with the basic transfer adapter, bodies of
//! type `application/vnd.git-lfs+json`, errors as `{"message"}`.
//!
//! - `POST /lfs/{repo}/objects/batch` says, object by object, where to send
//!   or fetch it, or that the hub holds it already (no `actions`), or why not
//!   (a per-object `error`, 404 for a missing download);
//! - `PUT /lfs/{repo}/objects/{oid}` stores an object, its body spooled and
//!   hashed on the way in and refused (422, nothing stored) unless it hashes
//!   to `{oid}`;
//! - `GET /lfs/{repo}/objects/{oid}` reads one back, verified, with ranges;
//! - `POST /lfs/{repo}/objects/verify` confirms an upload (`{oid, size}`);
//! - the locking API answers 404, after which `git lfs` carries on.
//!
//! An object is an ordinary berth blob (an oid is a blob digest) recorded
//! under its repository; the service decides who may read and store and
//! keeps recorded objects from garbage collection. Every route takes the
//! hub's tokens, as a bearer token or as the password of Basic credentials,
//! so both `http.<url>.extraHeader` and git's credential helpers work. These
//! routes are left out of `/api/v1/openapi.json`: their protocol is Git
//! LFS's, described by Git LFS.

mod auth;
mod batch;
mod error;
mod objects;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post, put};
use berth_core::{Digest, ModelName};

use crate::Hub;
pub(crate) use error::LfsError;

/// Marks a request that arrived over TLS, so links the hub hands out say `https`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverTls;

/// The media type of every Git LFS request and answer body.
pub(crate) const LFS_JSON: &str = "application/vnd.git-lfs+json";

/// Every route the Git LFS server answers, as `(method, route)`.
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("post", "/lfs/{repo}/objects/batch"),
    ("post", "/lfs/{repo}/objects/verify"),
    ("put", "/lfs/{repo}/objects/{oid}"),
    ("get", "/lfs/{repo}/objects/{oid}"),
    ("get", "/lfs/{repo}/locks"),
    ("post", "/lfs/{repo}/locks"),
    ("post", "/lfs/{repo}/locks/verify"),
    ("post", "/lfs/{repo}/locks/{id}/unlock"),
];

/// The Git LFS routes, each behind the hub's tokens.
pub(crate) fn router(hub: &Arc<Hub>) -> Router<Arc<Hub>> {
    Router::new()
        .route("/lfs/{repo}/objects/batch", post(batch::batch))
        .route("/lfs/{repo}/objects/verify", post(objects::verify))
        .route("/lfs/{repo}/objects/{oid}", put(objects::upload).get(objects::download))
        .route("/lfs/{repo}/locks", get(no_locks).post(no_locks))
        .route("/lfs/{repo}/locks/verify", post(no_locks))
        .route("/lfs/{repo}/locks/{id}/unlock", post(no_locks))
        .layer(DefaultBodyLimit::disable())
        .route_layer(middleware::from_fn_with_state(hub.clone(), auth::authenticate))
}

/// `{repo}` as a model's name.
fn repo(s: &str) -> Result<ModelName, LfsError> {
    ModelName::parse(s).map_err(|e| {
        LfsError::unprocessable(format!(
            "Git LFS repository {s:?} is not a berth model name ({e}); name the model in lfs.url, \
             e.g. <hub>/lfs/churn"
        ))
    })
}

/// `{oid}` as a blob digest.
fn oid(s: &str) -> Result<Digest, LfsError> {
    berth_service::lfs_oid(s).map_err(LfsError::from)
}

/// A JSON body parsed as the hub parses its own, its errors in Git LFS's shape.
async fn parse<T: serde::de::DeserializeOwned>(body: axum::body::Body) -> Result<T, LfsError> {
    crate::body::parse(body).await.map_err(|e| LfsError::new(e.status, e.message))
}

/// The locking API is not offered: 404, which `git lfs` takes as "no locks".
async fn no_locks() -> LfsError {
    LfsError::new(
        axum::http::StatusCode::NOT_FOUND,
        "this berth hub does not offer the Git LFS locking API; git lfs carries on without it \
         (set `lfs.locksverify false`, as `berth lfs install` does, so it does not ask)",
    )
}
