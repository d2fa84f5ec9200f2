//! A server's rollouts, carried through the hub: the server that runs one
//! asks here whether it may start, and says here how it ended, so that the
//! environment moves (or not) under the hub's policy and the hub's
//! notifiers announce it. The caller needs the deployer role on the model
//! and environment, as for a promotion.

use axum::body::Body;
use axum::extract::{Extension, Path};
use berth_core::AliasName;
use berth_service::RolloutEnd;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::body::{self, ok};
use crate::routes::{Answer, model};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    env: AliasName,
    candidate: u64,
}

/// `POST /models/{model}/rollouts/allowed`: 200 when a rollout of the
/// candidate may start, 403 with what the policy lacks when not.
pub(crate) async fn allowed(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, body: Body) -> Answer {
    let m = model(&m)?;
    let req: StartBody = body::parse(body).await?;
    b.rollout_allowed(&m, &req.env, req.candidate).await?;
    Ok(ok(&json!({"allowed": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndBody {
    env: AliasName,
    candidate: u64,
    reason: String,
    #[serde(default)]
    record: Option<serde_json::Map<String, serde_json::Value>>,
}

fn end(m: &str, req: EndBody) -> Result<RolloutEnd, crate::error::ApiError> {
    let record = serde_json::Value::Object(req.record.unwrap_or_default());
    Ok(RolloutEnd { model: model(m)?, env: req.env, candidate: req.candidate, reason: req.reason, record })
}

/// `POST /models/{model}/rollouts/promoted`: moves the environment to the
/// candidate if the policy still holds (403 if not).
pub(crate) async fn promoted(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, body: Body) -> Answer {
    let end = end(&m, body::parse(body).await?)?;
    let moved = b.rollout_promote(&end).await?;
    Ok(ok(&json!({"moved": moved.is_some(), "event": moved})))
}

/// `POST /models/{model}/rollouts/aborted`: nothing moves; the notifiers are told.
pub(crate) async fn aborted(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, body: Body) -> Answer {
    let end = end(&m, body::parse(body).await?)?;
    b.rollout_aborted(&end).await?;
    Ok(ok(&json!({"aborted": true})))
}
