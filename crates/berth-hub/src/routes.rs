//! `/api/v1`: the service's operations over HTTP. Every handler authenticates
//! the caller first and then calls the service acting as them, so roles and
//! environment policies are decided where they are for the CLI: in the
//! service, on every path.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use berth_core::{AliasName, Grant, ModelName, ModelPattern, Ref, Role};
use berth_service::{ApprovalFilter, GateReport, PolicySet, TokenRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Hub;
use crate::auth::Caller;
use crate::body::{self, ok, param, query};
use crate::error::ApiError;

pub(crate) type Answer = Result<Response, ApiError>;
type Hubs = State<Arc<Hub>>;

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/models", get(models))
        .route("/models/{model}/versions", get(versions))
        .route("/models/{model}/versions/{version}", get(show))
        .route("/models/{model}/versions/{version}/tags", put(tag))
        .route("/models/{model}/versions/{version}/gate-reports", get(gate_reports).post(gate_report_store))
        .route("/models/{model}/versions/{version}/servable", get(servable))
        .route("/models/{model}/versions/{version}/approvals", post(approve))
        .route("/models/{model}/aliases/{alias}", get(resolve_alias).put(alias_set).delete(alias_rm))
        .route("/models/{model}/history", get(history))
        .route("/models/{model}/promote", post(promote))
        .route("/models/{model}/rollback", post(rollback))
        .route("/models/{model}/check", post(check))
        .route("/models/{model}/deployments", get(deployments))
        .route("/models/{model}/rollouts/allowed", post(crate::rollouts::allowed))
        .route("/models/{model}/rollouts/promoted", post(crate::rollouts::promoted))
        .route("/models/{model}/rollouts/aborted", post(crate::rollouts::aborted))
        .route("/models/{model}/monitor-reports", get(crate::monitor::list).post(crate::monitor::record))
        .route("/models/{model}/log-segments", get(crate::log_segments::list))
        .route("/models/{model}/log-segments/{name}", get(crate::log_segments::get).put(crate::log_segments::put))
        .route("/approvals", get(approvals))
        .route("/audit", get(audit))
        .route("/notifications", get(notifications))
        .route("/tokens", get(tokens).post(token_create))
        .route("/tokens/{id}", axum::routing::delete(token_revoke))
        .route("/policy", get(policy).put(policy_apply))
        .route("/policy/history", get(policy_history))
}

pub(crate) fn model(s: &str) -> Result<ModelName, ApiError> {
    ModelName::parse(s)
        .map_err(|e| ApiError::bad_input(e.to_string(), "use the model's name as `berth models` lists it"))
}

fn alias(s: &str) -> Result<AliasName, ApiError> {
    AliasName::parse(s).map_err(|e| ApiError::bad_input(e.to_string(), "use an alias or environment name"))
}

/// `{model}` and `{version}` (a number, an alias or `latest`) as a ref.
fn reference(m: &str, v: &str) -> Result<Ref, ApiError> {
    model(m)?;
    Ref::parse(&format!("{m}@{v}"))
        .map_err(|e| ApiError::bad_input(e.to_string(), "a version is a number, an alias or `latest`"))
}

fn no_query(q: &Option<String>) -> Result<(), ApiError> {
    query(q.as_deref(), &[]).map(|_| ())
}

async fn whoami(Extension(Caller(b)): Extension<Caller>) -> Answer {
    Ok(ok(b.principal()))
}

async fn models(Extension(Caller(b)): Extension<Caller>, RawQuery(q): RawQuery) -> Answer {
    no_query(&q)?;
    Ok(ok(&json!({"models": b.models().await?})))
}

/// The largest page of versions one request gets, and the page without `limit`.
const MAX_PAGE: u32 = 1000;

async fn versions(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let q = query(q.as_deref(), &["limit", "before"])?;
    let m = model(&m)?;
    let limit = param(&q, "limit", |s| match s.parse::<u32>() {
        Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a page size from 1 to {MAX_PAGE}")),
    })?;
    let before = param(&q, "before", |s| match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a version number")),
    })?;
    Ok(ok(&b.versions_page(&m, before, Some(limit.unwrap_or(MAX_PAGE))).await?))
}

async fn show(Extension(Caller(b)): Extension<Caller>, Path((m, v)): Path<(String, String)>) -> Answer {
    let r = reference(&m, &v)?;
    Ok(ok(&b.show(&r).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagsBody {
    tags: BTreeMap<String, String>,
}

async fn tag(Extension(Caller(b)): Extension<Caller>, Path((m, v)): Path<(String, String)>, body: Body) -> Answer {
    let r = reference(&m, &v)?;
    let req: TagsBody = body::parse(body).await?;
    Ok(ok(&b.tag(&r, &req.tags).await?))
}

async fn gate_reports(Extension(Caller(b)): Extension<Caller>, Path((m, v)): Path<(String, String)>) -> Answer {
    let r = reference(&m, &v)?;
    let version = b.resolve(&r).await?;
    Ok(ok(&json!({"gate_reports": b.gate_reports(&version.model, version.version).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GateReportBody {
    gate: String,
    report: Box<GateReport>,
}

/// The longest gate name stored.
const MAX_GATE_NAME: usize = 128;

async fn gate_report_store(
    Extension(Caller(b)): Extension<Caller>,
    Path((m, v)): Path<(String, String)>,
    body: Body,
) -> Answer {
    let r = reference(&m, &v)?;
    let req: GateReportBody = body::parse(body).await?;
    let gate = req.gate.as_str();
    if gate.is_empty() || gate.chars().count() > MAX_GATE_NAME || gate.chars().any(char::is_control) {
        return Err(ApiError::bad_input(
            format!("gate {:?} is not a gate name", req.gate),
            format!("name the gate in 1 to {MAX_GATE_NAME} printable characters, as `berth validate` does"),
        ));
    }
    let version = b.resolve(&r).await?;
    Ok(body::json(StatusCode::CREATED, &b.store_gate_report(&version, gate, &req.report).await?))
}

/// Whether a server can follow the ref: what it would wait for, if anything.
async fn servable(Extension(Caller(b)): Extension<Caller>, Path((m, v)): Path<(String, String)>) -> Answer {
    let r = reference(&m, &v)?;
    Ok(ok(&json!({"waiting": b.check_servable(&r).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    env: AliasName,
    #[serde(default)]
    comment: Option<String>,
}

async fn approve(Extension(Caller(b)): Extension<Caller>, Path((m, v)): Path<(String, String)>, body: Body) -> Answer {
    let r = reference(&m, &v)?;
    let req: ApproveBody = body::parse(body).await?;
    let report = b.approve(&r, &req.env, req.comment.as_deref()).await?;
    let status = if report.new { StatusCode::CREATED } else { StatusCode::OK };
    Ok(body::json(status, &report))
}

async fn resolve_alias(Extension(Caller(b)): Extension<Caller>, Path((m, a)): Path<(String, String)>) -> Answer {
    let r = Ref { model: model(&m)?, selector: berth_core::Selector::Alias(alias(&a)?) };
    Ok(ok(&b.resolve(&r).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasBody {
    version: u64,
    #[serde(default)]
    reason: Option<String>,
}

async fn alias_set(
    Extension(Caller(b)): Extension<Caller>,
    Path((m, a)): Path<(String, String)>,
    body: Body,
) -> Answer {
    let (m, a) = (model(&m)?, alias(&a)?);
    let req: AliasBody = body::parse(body).await?;
    let moved = b.alias_set(&m, &a, req.version, req.reason.as_deref()).await?;
    Ok(ok(&json!({"moved": moved.is_some(), "event": moved})))
}

async fn alias_rm(
    Extension(Caller(b)): Extension<Caller>,
    Path((m, a)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Answer {
    let (m, a) = (model(&m)?, alias(&a)?);
    let q = query(q.as_deref(), &["reason"])?;
    Ok(ok(&b.alias_rm(&m, &a, q.get("reason").map(String::as_str)).await?))
}

async fn history(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let m = model(&m)?;
    let q = query(q.as_deref(), &["alias"])?;
    let a = param(&q, "alias", AliasName::parse)?;
    Ok(ok(&json!({"history": b.alias_history(&m, a.as_ref()).await?})))
}

/// A version as a request body gives it: `3`, `"3"`, `"v3"`, an alias or `"latest"`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum VersionSelector {
    Number(u64),
    Text(String),
}

impl VersionSelector {
    fn reference(&self, m: &ModelName, field: &str) -> Result<Ref, ApiError> {
        let text = match self {
            VersionSelector::Number(n) => n.to_string(),
            VersionSelector::Text(t) => {
                t.strip_prefix('v').filter(|n| n.parse::<u64>().is_ok()).unwrap_or(t).to_string()
            }
        };
        Ref::parse(&format!("{m}@{text}")).map_err(|e| {
            ApiError::bad_input(format!("{field}: {e}"), "give a version number such as 3, an alias, or \"latest\"")
        })
    }

    fn number(&self, m: &ModelName, field: &str) -> Result<u64, ApiError> {
        match self.reference(m, field)?.selector {
            berth_core::Selector::Version(n) => Ok(n),
            _ => Err(ApiError::bad_input(format!("{field} must be a version number"), "give a number such as 3")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromoteBody {
    version: VersionSelector,
    env: AliasName,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    new_env: bool,
}

async fn promote(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, body: Body) -> Answer {
    let m = model(&m)?;
    let req: PromoteBody = body::parse(body).await?;
    let r = req.version.reference(&m, "version")?;
    let report = b.promote_into(&r, &req.env, req.reason.as_deref(), req.new_env).await?;
    if !report.missing.is_empty() {
        let list: Vec<&str> = report.missing.iter().map(|l| l.message.as_str()).collect();
        let fixes: Vec<&str> = report.missing.iter().map(|l| l.fix.as_str()).collect();
        let mut e = ApiError::new(
            StatusCode::FORBIDDEN,
            "denied",
            format!(
                "the promotion of {}@{} to {} refused: the policy of {} is not met: {}",
                report.model,
                report.version,
                report.env,
                report.env,
                list.join("; ")
            ),
            Some(fixes.join("; ")),
        );
        e.missing = json!(report.missing);
        return Err(e);
    }
    Ok(ok(&report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    env: AliasName,
    #[serde(default)]
    to: Option<VersionSelector>,
    #[serde(default)]
    reason: Option<String>,
    /// The form older scripts send (`{"target_version": "3"}`), taken as `to`.
    #[serde(default)]
    target_version: Option<VersionSelector>,
}

pub(crate) async fn rollback_to(
    b: &berth_service::Berth,
    m: &ModelName,
    env: &AliasName,
    to: Option<&VersionSelector>,
    reason: Option<&str>,
) -> Answer {
    let to = to.map(|t| t.number(m, "target_version")).transpose()?;
    Ok(ok(&b.rollback(m, env, to, reason).await?))
}

async fn rollback(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, body: Body) -> Answer {
    let m = model(&m)?;
    let req: RollbackBody = body::parse(body).await?;
    rollback_to(&b, &m, &req.env, req.to.as_ref().or(req.target_version.as_ref()), req.reason.as_deref()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    env: AliasName,
    live: BTreeMap<String, f64>,
    #[serde(default)]
    max_degradation: Option<f64>,
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    evidence: Option<Value>,
}

async fn check(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, body: Body) -> Answer {
    let model = model(&m)?;
    let CheckBody { env, live, max_degradation, dry_run, evidence } = body::parse(body).await?;
    let dry_run = dry_run.unwrap_or(false);
    let req = berth_service::CheckRequest { model, env, live, max_degradation, dry_run, evidence };
    Ok(ok(&b.check(&req).await?))
}

async fn deployments(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let m = model(&m)?;
    let q = query(q.as_deref(), &["env"])?;
    let env = param(&q, "env", AliasName::parse)?;
    Ok(ok(&json!({"deployments": b.deployments(&m, env.as_ref()).await?})))
}

async fn approvals(Extension(Caller(b)): Extension<Caller>, RawQuery(q): RawQuery) -> Answer {
    let q = query(q.as_deref(), &["model", "version", "env"])?;
    let filter = ApprovalFilter {
        model: param(&q, "model", ModelName::parse)?,
        version: param(&q, "version", str::parse::<u64>)?,
        env: param(&q, "env", AliasName::parse)?,
    };
    Ok(ok(&json!({"approvals": b.approvals(&filter).await?})))
}

fn limit(q: &BTreeMap<String, String>) -> Result<Option<u32>, ApiError> {
    param(q, "limit", |s| match s.parse::<u32>() {
        Ok(0) | Err(_) => Err(format!("{s:?} is not a count from 1 to {}", u32::MAX)),
        Ok(n) => Ok(n),
    })
}

async fn audit(Extension(Caller(b)): Extension<Caller>, RawQuery(q): RawQuery) -> Answer {
    let q = query(q.as_deref(), &["model", "limit"])?;
    let (m, limit) = (param(&q, "model", ModelName::parse)?, limit(&q)?);
    Ok(ok(&json!({"entries": b.log(m, limit).await?})))
}

async fn notifications(Extension(Caller(b)): Extension<Caller>, RawQuery(q): RawQuery) -> Answer {
    let q = query(q.as_deref(), &["limit"])?;
    let limit = limit(&q)?;
    Ok(ok(&json!({"deliveries": b.notifications(limit).await?})))
}

async fn tokens(Extension(Caller(b)): Extension<Caller>, RawQuery(q): RawQuery) -> Answer {
    no_query(&q)?;
    Ok(ok(&json!({"tokens": b.tokens().await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    principal: String,
    role: Role,
    #[serde(default = "ModelPattern::any")]
    models: ModelPattern,
    #[serde(default)]
    envs: Vec<AliasName>,
    /// How long the token lives, e.g. `"90d"`; without it (or `expires_at`), until revoked.
    #[serde(default)]
    expires_in: Option<String>,
    /// When the token stops working (RFC 3339), instead of `expires_in`.
    #[serde(default)]
    expires_at: Option<berth_core::Timestamp>,
}

async fn token_create(State(hub): Hubs, Extension(Caller(b)): Extension<Caller>, body: Body) -> Answer {
    let req: TokenBody = body::parse(body).await?;
    let expires_at = match (&req.expires_in, req.expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_input("give expires_in or expires_at, not both", "drop one of them"));
        }
        (None, at) => at,
        (Some(d), None) => {
            let d = humantime::parse_duration(d).map_err(|e| {
                ApiError::bad_input(format!("expires_in {d:?}: {e}"), "give a duration such as \"90d\" or \"12h\"")
            })?;
            Some(hub.now().plus(d))
        }
    };
    let grant = Grant { role: req.role, models: req.models, envs: req.envs };
    let report = b.create_token(&TokenRequest { principal: req.principal, grant, expires_at }).await?;
    Ok(body::json(StatusCode::CREATED, &report))
}

async fn token_revoke(Extension(Caller(b)): Extension<Caller>, Path(id): Path<String>) -> Answer {
    Ok(ok(&b.revoke_token(&id).await?))
}

async fn policy(Extension(Caller(b)): Extension<Caller>) -> Answer {
    Ok(ok(&b.policy().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    environments: PolicySet,
    #[serde(default)]
    source: Option<String>,
}

async fn policy_apply(Extension(Caller(b)): Extension<Caller>, body: Body) -> Answer {
    let req: PolicyBody = body::parse(body).await?;
    let source = req.source.unwrap_or_else(|| "api".into());
    Ok(ok(&b.policy_apply(&req.environments, &source).await?))
}

async fn policy_history(Extension(Caller(b)): Extension<Caller>) -> Answer {
    Ok(ok(&json!({"policies": b.policy_history().await?})))
}
