//! The routes scripts written before berth already call, at the paths they
//! use (no `/api/v1` prefix): `GET /models/{name}/versions` and
//! `POST /models/{name}/rollback {"target_version": …}`. Same tokens, same
//! policy; a rollback without `env` rolls back `production`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::routing::{get, post};
use berth_core::AliasName;
use serde::Deserialize;

use crate::Hub;
use crate::auth::Caller;
use crate::body::{self, ok};
use crate::error::ApiError;
use crate::routes::{VersionSelector, model, rollback_to};

pub fn router() -> Router<Arc<Hub>> {
    Router::new().route("/models/{model}/versions", get(versions)).route("/models/{model}/rollback", post(rollback))
}

async fn versions(
    Extension(Caller(b)): Extension<Caller>,
    Path(m): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let m = model(&m)?;
    let report = b.versions_with_aliases(&m).await?;
    Ok(ok(&report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedRollback {
    #[serde(default)]
    target_version: Option<VersionSelector>,
    #[serde(default)]
    env: Option<AliasName>,
    #[serde(default)]
    reason: Option<String>,
}

async fn rollback(
    Extension(Caller(b)): Extension<Caller>,
    Path(m): Path<String>,
    body: Body,
) -> Result<axum::response::Response, ApiError> {
    let m = model(&m)?;
    let req: SeedRollback = body::parse(body).await?;
    let env = match req.env {
        Some(e) => e,
        None => AliasName::parse("production").expect("a valid name"),
    };
    rollback_to(&b, &m, &env, req.target_version.as_ref(), req.reason.as_deref()).await
}
