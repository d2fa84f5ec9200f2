//! The HTTP surface: health, the simple `/predict`, KServe v1, the Open
//! Inference Protocol v2, metrics and the admin endpoints (reload, rollouts;
//! behind the admin token when the server has one). Every answer is JSON
//! (Prometheus text for `/metrics`); bad input gets a 4xx that names what
//! was wrong; no answer ever shows internals.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State as Extract};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::{get, post};
use berth_data::{ColumnType, Table};
use berth_ml::{Prediction, Task};
use serde_json::{Value, json};

use crate::input::{BadInput, Tensor};
use crate::metrics::{Endpoint, VersionMetrics};
use crate::served::{Served, check_prediction};
use crate::state::State;
use berth_deploy::rollout::Side;

type Shared = Arc<State>;

pub fn router(state: Shared) -> Router {
    let admin = Router::new()
        .route("/admin/reload", post(reload))
        .route("/admin/rollout", get(rollout_status).post(rollout_start))
        .route("/admin/rollout/{action}", post(rollout_act))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .route("/health", get(health))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(admin)
        .route("/predict", post(predict))
        .route("/v1/models/{model}", get(v1_status).post(v1_predict))
        .route("/v2", get(v2_server))
        .route("/v2/health/live", get(v2_live))
        .route("/v2/health/ready", get(v2_ready))
        .route("/v2/models/{model}", get(v2_model))
        .route("/v2/models/{model}/ready", get(v2_model_ready))
        .route("/v2/models/{model}/infer", post(v2_infer))
        .route("/v2/models/{model}/versions/{version}", get(v2_model_version))
        .route("/v2/models/{model}/versions/{version}/ready", get(v2_model_version_ready))
        .route("/v2/models/{model}/versions/{version}/infer", post(v2_infer_version))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    json_bytes(status, serde_json::to_vec(body).unwrap_or_default())
}

fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json_response(status, &json!({ "error": message.into() }))
}

// ---- health ---------------------------------------------------------------

async fn health(Extract(state): Extract<Shared>) -> Response {
    let current = state.current();
    let status = state.status();
    let body = json!({
        "status": match (&current, &status.error) {
            (Some(_), None) => "healthy",
            (Some(_), Some(_)) => "degraded",
            (None, _) if status.attempts <= 1 && status.error.is_none() => "loading",
            (None, _) => "unavailable",
        },
        "model_loaded": current.is_some(),
        "target": state.target,
        "model": current.as_ref().map(|c| c.name.clone()),
        "version": current.as_ref().map(|c| c.version.clone()),
        "digest": current.as_ref().map(|c| c.digest.clone()),
        "source": current.as_ref().map(|c| c.source.as_str()),
        "platform": current.as_ref().map(|c| c.platform()),
        "loaded_at": current.as_ref().map(|c| crate::state::rfc3339(c.loaded_at)),
        "load_status": status,
    });
    json_response(if current.is_some() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, &body)
}

async fn livez() -> Response {
    json_response(StatusCode::OK, &json!({ "status": "alive" }))
}

async fn readyz(Extract(state): Extract<Shared>) -> Response {
    match state.current() {
        Some(c) => {
            json_response(StatusCode::OK, &json!({ "ready": true, "model": c.label(), "source": c.source.as_str() }))
        }
        None => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "ready": false, "error": state.status().error.unwrap_or_else(|| "the model is loading".into()) }),
        ),
    }
}

async fn metrics(Extract(state): Extract<Shared>) -> Response {
    let mut r = Response::new(Body::from(state.metrics.render(state.current().is_some())));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}

/// Lets an admin request through when the server has no token or the
/// request carries it; otherwise 401, saying what to send but never what
/// the token is.
async fn require_admin(
    Extract(state): Extract<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(token) = &state.admin else { return next.run(req).await };
    match token.check(req.headers().get(header::AUTHORIZATION)) {
        Ok(()) => next.run(req).await,
        Err(denied) => {
            state.metrics.admin_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(method = %req.method(), path = %req.uri().path(), "refused an admin request: {}", denied.message());
            let mut r = json_response(
                StatusCode::UNAUTHORIZED,
                &json!({
                    "error": denied.message(),
                    "hint": "send the token the server was started with (the variable its --admin-token-env names); \
                             `berth rollout` reads it from BERTH_ADMIN_TOKEN, or from the variable its own \
                             --admin-token-env names",
                }),
            );
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"berth admin\""));
            r
        }
    }
}

async fn reload(Extract(state): Extract<Shared>) -> Response {
    state.reload.notify_one();
    json_response(
        StatusCode::ACCEPTED,
        &json!({ "status": "checking for a new version", "serving": state.current().map(|c| c.label()) }),
    )
}

// ---- rollouts ---------------------------------------------------------------

async fn rollout_status(Extract(state): Extract<Shared>) -> Response {
    let body = match state.rollout() {
        Some(r) => r.status(),
        None => crate::rollout::last_status(&state),
    };
    json_response(StatusCode::OK, &body)
}

fn rollout_refused((status, message): crate::rollout::Refused) -> Response {
    error(StatusCode::from_u16(status).unwrap_or(StatusCode::CONFLICT), message)
}

async fn rollout_start(Extract(state): Extract<Shared>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match read_body(&state, &headers, body).await {
        Ok(b) => b,
        Err(r) => return error(r.status, r.message),
    };
    let spec: berth_deploy::rollout::RolloutSpec =
        match parse_json(&bytes, "a rollout: {\"strategy\": \"canary\", \"candidate\": 4, \"steps\": [10, 50, 100]}") {
            Ok(s) => s,
            Err(r) => return error(r.status, r.message),
        };
    match crate::rollout::start(&state, spec).await {
        Ok(v) => json_response(StatusCode::CREATED, &v),
        Err(e) => rollout_refused(e),
    }
}

async fn rollout_act(Extract(state): Extract<Shared>, Path(action): Path<String>) -> Response {
    const ACTIONS: [&str; 5] = ["promote", "abort", "switch", "back", "finish"];
    if !ACTIONS.contains(&action.as_str()) {
        return error(
            StatusCode::NOT_FOUND,
            format!("no rollout action {action:?}; the actions are {}", ACTIONS.join(", ")),
        );
    }
    match crate::rollout::act(&state, &action).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => rollout_refused(e),
    }
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "no endpoint {method} {}; berth serves /predict, /v1/models/NAME:predict, /v2/models/NAME/infer, /health, /readyz, /livez, /metrics",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error(StatusCode::METHOD_NOT_ALLOWED, format!("{} does not take {method}", uri.path()))
}

// ---- inference ------------------------------------------------------------

/// A refusal, with the shape the endpoint's protocol uses for errors.
struct Refusal {
    status: StatusCode,
    message: String,
    problems: Vec<crate::input::Problem>,
    retry_after: Option<u64>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal { status, message: message.into(), problems: Vec::new(), retry_after: None }
    }
}

impl From<BadInput> for Refusal {
    fn from(b: BadInput) -> Refusal {
        Refusal {
            status: StatusCode::from_u16(b.status).unwrap_or(StatusCode::BAD_REQUEST),
            message: b.message,
            problems: b.problems,
            retry_after: None,
        }
    }
}

fn refusal_response(endpoint: Endpoint, r: Refusal, request_id: &str) -> Response {
    let mut resp = match endpoint {
        // The protocol's error shape is exactly {"error": string}.
        Endpoint::OpenInference => {
            let b = BadInput { status: 0, message: r.message, problems: r.problems };
            error(r.status, b.full_message())
        }
        _ if r.problems.is_empty() => error(r.status, r.message),
        _ => json_response(r.status, &json!({ "error": r.message, "problems": r.problems })),
    };
    if let Some(s) = r.retry_after {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Reads the body up to the limit.
async fn read_body(state: &State, headers: &HeaderMap, body: Body) -> Result<Bytes, Refusal> {
    let limit = state.limits.max_body_bytes;
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over the {limit}-byte limit; send fewer rows per request"),
        )
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            source = s.source();
        }
        Refusal::new(StatusCode::BAD_REQUEST, format!("could not read the request body: {e}"))
    })
}

fn parse_json<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, format!("the request body is empty; send {what}")));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("the request body is not {what}: {e}")))
}

/// Scores a table: small batches on the request's own task, large ones on
/// the blocking pool so that they do not stall other requests.
async fn score(served: Arc<Served>, table: Table) -> Result<(Table, Prediction), Refusal> {
    fn run(served: &Served, table: &Table) -> Result<Prediction, Refusal> {
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| served.scorer.predict(table)))
            .map_err(|_| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "the model failed on this input"))?
            .map_err(|e| Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        check_prediction(&p, table.rows()).map_err(|e| {
            Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{e}: check that the inputs are in the range the model was trained on"),
            )
        })?;
        Ok(p)
    }
    if table.rows() <= 64 {
        let p = run(&served, &table)?;
        return Ok((table, p));
    }
    tokio::task::spawn_blocking(move || run(&served, &table).map(|p| (table, p)))
        .await
        .map_err(|_| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "the model failed on this input"))?
}

/// The steps every inference endpoint shares: admission, the model, the
/// body, parsing, scoring, metrics, the prediction log, the answer.
async fn infer<C>(
    state: Shared,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
    wanted: Option<(String, Option<String>)>,
    parse: impl FnOnce(&Served, &[u8]) -> Result<(Table, C), Refusal>,
    render: impl FnOnce(&Served, &Prediction, C, &str) -> Vec<u8>,
) -> Response {
    let started = Instant::now();
    let request_id = state.request_id(headers.get("x-request-id").and_then(|v| v.to_str().ok()));
    let refuse = |m: &VersionMetrics, r: Refusal| {
        m.finish(endpoint, r.status.as_u16(), started.elapsed());
        refusal_response(endpoint, r, &request_id)
    };
    let Ok(_permit) = state.permits.clone().try_acquire_owned() else {
        let mut r = Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the server is answering {} requests already; retry shortly", state.limits.max_in_flight),
        );
        r.retry_after = Some(1);
        return refuse(&state.metrics.unloaded, r);
    };
    let Some(served) = state.current() else {
        let status = state.status();
        let mut r = Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "no model is loaded yet for {}: {}",
                state.target,
                status.error.unwrap_or_else(|| "it is loading".into())
            ),
        );
        r.retry_after = Some(status.next_retry_in.map(|s| s.ceil() as u64).unwrap_or(1).max(1));
        return refuse(&state.metrics.unloaded, r);
    };
    if let Some((name, version)) = &wanted
        && let Err((status, message)) = is_wanted(&served, name, version.as_deref())
    {
        return refuse(&served.metrics, Refusal::new(status, message));
    }
    // A rollout may hand the request to the candidate, and wants to know how it went.
    let rollout = state.rollout();
    let side = rollout.as_ref().map(|r| r.side(&headers)).unwrap_or(Side::Stable);
    let served = match (&rollout, side) {
        (Some(r), Side::Candidate) => r.candidate.clone(),
        _ => served,
    };
    let (resp, done) =
        answer(&state, endpoint, &headers, body, &served, parse, render, started, &request_id, rollout.is_some()).await;
    if let Some(r) = &rollout {
        let prediction = done.as_ref().map(|(_, p)| p);
        if r.shadowing() {
            if let Some((table, p)) = done {
                r.mirror(table, p, started.elapsed());
            }
        } else {
            r.record(side, resp.status() == StatusCode::OK, started.elapsed(), prediction);
        }
    }
    resp
}

/// Reads, parses, scores and renders one request on `served`; with `keep`,
/// also returns the rows and the prediction (for a rollout's records).
#[allow(clippy::too_many_arguments)]
async fn answer<C>(
    state: &Shared,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: Body,
    served: &Arc<Served>,
    parse: impl FnOnce(&Served, &[u8]) -> Result<(Table, C), Refusal>,
    render: impl FnOnce(&Served, &Prediction, C, &str) -> Vec<u8>,
    started: Instant,
    request_id: &str,
    keep: bool,
) -> (Response, Option<(Table, Prediction)>) {
    let refuse = |m: &VersionMetrics, r: Refusal| {
        m.finish(endpoint, r.status.as_u16(), started.elapsed());
        refusal_response(endpoint, r, request_id)
    };
    let _in_flight = served.metrics.start();
    let work = async {
        let bytes = read_body(state, headers, body).await?;
        let (table, ctx) = parse(served, &bytes)?;
        let (table, p) = score(served.clone(), table).await?;
        Ok::<_, Refusal>((table, p, ctx))
    };
    let (table, p, ctx) = match tokio::time::timeout(state.limits.timeout, work).await {
        Ok(Ok(done)) => done,
        Ok(Err(r)) => return (refuse(&served.metrics, r), None),
        Err(_) => {
            let mut r = Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the request took longer than {:?}; send fewer rows or retry", state.limits.timeout),
            );
            r.retry_after = Some(1);
            return (refuse(&served.metrics, r), None);
        }
    };
    let body = render(served, &p, ctx, request_id);
    served.metrics.predicted(&p);
    if let Some(log) = &state.log
        && log.sampled()
    {
        let dropped = log.record(&crate::state::now(), request_id, (&served.name, &served.version), &table, &p);
        state.metrics.log_dropped.fetch_add(dropped, std::sync::atomic::Ordering::Relaxed);
    }
    let mut resp = json_bytes(StatusCode::OK, body);
    if let Ok(v) = HeaderValue::from_str(&served.label()) {
        resp.headers_mut().insert("x-berth-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    served.metrics.finish(endpoint, 200, started.elapsed());
    (resp, keep.then_some((table, p)))
}

#[derive(serde::Deserialize)]
struct Instances<'a> {
    #[serde(borrow)]
    instances: Vec<crate::input::Row<'a>>,
}

fn instances(served: &Served, bytes: &[u8]) -> Result<(Table, ()), Refusal> {
    let req: Instances = parse_json(bytes, "a JSON object {\"instances\": [...]}")?;
    Ok((served.inputs.from_instances(&req.instances)?, ()))
}

/// Per row, a map from class to probability, serialised without building
/// JSON values first.
struct Probabilities<'a> {
    rows: &'a [Vec<f64>],
    classes: &'a [String],
}

impl serde::Serialize for Probabilities<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Row<'a>(&'a [f64], &'a [String]);
        impl serde::Serialize for Row<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.1.len()))?;
                for (c, x) in self.1.iter().zip(self.0) {
                    m.serialize_entry(c, x)?;
                }
                m.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for r in self.rows {
            seq.serialize_element(&Row(r, self.classes))?;
        }
        seq.end()
    }
}

/// Labels for classifiers and anomaly detectors, values for regression.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Predictions<'a> {
    Labels(&'a [String]),
    Values(&'a [f64]),
}

fn predictions(p: &Prediction) -> Predictions<'_> {
    match (&p.labels, &p.values) {
        (Some(l), _) => Predictions::Labels(l),
        (None, Some(v)) => Predictions::Values(v),
        (None, None) => Predictions::Values(&[]),
    }
}

#[derive(serde::Serialize)]
struct PredictAnswer<'a> {
    model: &'a str,
    version: &'a str,
    request_id: &'a str,
    predictions: Predictions<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilities: Option<Probabilities<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scores: Option<&'a [f64]>,
}

async fn predict(Extract(state): Extract<Shared>, headers: HeaderMap, body: Body) -> Response {
    infer(state, Endpoint::Predict, headers, body, None, instances, |served, p, (), request_id| {
        let answer = PredictAnswer {
            model: &served.name,
            version: &served.version,
            request_id,
            predictions: predictions(p),
            probabilities: match (&p.probabilities, &p.classes) {
                (Some(rows), Some(classes)) => Some(Probabilities { rows, classes }),
                _ => None,
            },
            scores: p.values.as_deref().filter(|_| served.task() == Task::Anomaly),
        };
        serde_json::to_vec(&answer).unwrap_or_default()
    })
    .await
}

// ---- KServe v1 --------------------------------------------------------------

async fn v1_status(Extract(state): Extract<Shared>, Path(model): Path<String>) -> Response {
    match served_as(&state, &model, None) {
        Ok(c) => json_response(StatusCode::OK, &json!({ "name": c.name, "ready": true })),
        Err((StatusCode::SERVICE_UNAVAILABLE, _)) => {
            json_response(StatusCode::SERVICE_UNAVAILABLE, &json!({ "name": model, "ready": false }))
        }
        Err((status, message)) => error(status, message),
    }
}

async fn v1_predict(
    Extract(state): Extract<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(name) = model.strip_suffix(":predict") else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no endpoint POST /v1/models/{model}; KServe v1 predicts at /v1/models/NAME:predict"),
        );
    };
    let wanted = Some((name.to_string(), None));
    infer(state, Endpoint::KServeV1, headers, body, wanted, instances, |_, p, (), _| {
        serde_json::to_vec(&json!({ "predictions": predictions(p) })).unwrap_or_default()
    })
    .await
}

// ---- Open Inference Protocol v2 --------------------------------------------

async fn v2_server() -> Response {
    json_response(StatusCode::OK, &json!({ "name": "berth", "version": env!("CARGO_PKG_VERSION"), "extensions": [] }))
}

/// Health in the protocol's shape: the status is the answer, the body empty.
async fn v2_live() -> Response {
    empty(StatusCode::OK)
}

async fn v2_ready(Extract(state): Extract<Shared>) -> Response {
    empty(if state.current().is_some() { StatusCode::OK } else { StatusCode::BAD_REQUEST })
}

/// Whether `c` is the model (and version) a path names.
fn is_wanted(c: &Served, model: &str, version: Option<&str>) -> Result<(), (StatusCode, String)> {
    if c.name != model {
        return Err((
            StatusCode::NOT_FOUND,
            format!("model {model:?} is not served here; this server serves {:?}", c.name),
        ));
    }
    if let Some(v) = version
        && v != c.version
    {
        return Err((
            StatusCode::NOT_FOUND,
            format!("version {v:?} of {model:?} is not served here; version {:?} is", c.version),
        ));
    }
    Ok(())
}

/// The served version if it is the one asked for; otherwise the refusal.
fn served_as(state: &State, model: &str, version: Option<&str>) -> Result<Arc<Served>, (StatusCode, String)> {
    let Some(c) = state.current() else {
        return Err((StatusCode::SERVICE_UNAVAILABLE, format!("no model is loaded yet for {}", state.target)));
    };
    is_wanted(&c, model, version)?;
    Ok(c)
}

fn datatype(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Float => "FP64",
        ColumnType::Int | ColumnType::Timestamp => "INT64",
        ColumnType::Bool => "BOOL",
        ColumnType::Str => "BYTES",
    }
}

fn model_metadata(c: &Served) -> Value {
    let inputs: Vec<Value> =
        c.inputs.fields.iter().map(|f| json!({ "name": f.name, "datatype": datatype(f.ty), "shape": [-1] })).collect();
    let outputs = match c.task() {
        Task::Regression => json!([{ "name": "prediction", "datatype": "FP64", "shape": [-1] }]),
        Task::Classification => {
            let k = c.scorer.classes().map(|k| k.len() as i64).unwrap_or(-1);
            json!([
                { "name": "label", "datatype": "BYTES", "shape": [-1] },
                { "name": "probabilities", "datatype": "FP64", "shape": [-1, k],
                  "parameters": { "classes": c.scorer.classes().unwrap_or(&[]).join(",") } },
            ])
        }
        Task::Anomaly => json!([
            { "name": "label", "datatype": "BYTES", "shape": [-1] },
            { "name": "score", "datatype": "FP64", "shape": [-1] },
        ]),
    };
    json!({ "name": c.name, "versions": [c.version], "platform": c.platform(), "inputs": inputs, "outputs": outputs })
}

fn metadata_response(found: Result<Arc<Served>, (StatusCode, String)>) -> Response {
    match found {
        Ok(c) => json_response(StatusCode::OK, &model_metadata(&c)),
        Err((status, message)) => error(status, message),
    }
}

/// Model readiness in the protocol's shape: 200 or 4xx, no body.
fn ready_response(found: Result<Arc<Served>, (StatusCode, String)>) -> Response {
    match found {
        Ok(_) => empty(StatusCode::OK),
        Err((StatusCode::SERVICE_UNAVAILABLE, _)) => empty(StatusCode::BAD_REQUEST),
        Err((status, message)) => error(status, message),
    }
}

async fn v2_model(Extract(state): Extract<Shared>, Path(model): Path<String>) -> Response {
    metadata_response(served_as(&state, &model, None))
}

async fn v2_model_version(Extract(state): Extract<Shared>, Path((model, version)): Path<(String, String)>) -> Response {
    metadata_response(served_as(&state, &model, Some(&version)))
}

async fn v2_model_ready(Extract(state): Extract<Shared>, Path(model): Path<String>) -> Response {
    ready_response(served_as(&state, &model, None))
}

async fn v2_model_version_ready(
    Extract(state): Extract<Shared>,
    Path((model, version)): Path<(String, String)>,
) -> Response {
    ready_response(served_as(&state, &model, Some(&version)))
}

#[derive(serde::Deserialize)]
struct InferRequest {
    #[serde(default)]
    id: Option<String>,
    inputs: Vec<Tensor>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
}

#[derive(serde::Deserialize)]
struct RequestedOutput {
    name: String,
}

struct InferCtx {
    id: Option<String>,
    outputs: Option<Vec<String>>,
}

fn output_names(task: Task) -> &'static [&'static str] {
    match task {
        Task::Regression => &["prediction"],
        Task::Classification => &["label", "probabilities"],
        Task::Anomaly => &["label", "score"],
    }
}

fn v2_parse(served: &Served, bytes: &[u8]) -> Result<(Table, InferCtx), Refusal> {
    let req: InferRequest = parse_json(bytes, "an inference request {\"inputs\": [...]}")?;
    let outputs = req.outputs.map(|o| o.into_iter().map(|o| o.name).collect::<Vec<_>>());
    if let Some(names) = &outputs {
        let known = output_names(served.task());
        if let Some(bad) = names.iter().find(|n| !known.contains(&n.as_str())) {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("output {bad:?} is not an output of this model; its outputs are {}", known.join(", ")),
            ));
        }
    }
    Ok((served.inputs.from_tensors(&req.inputs)?, InferCtx { id: req.id, outputs }))
}

fn v2_render(served: &Served, p: &Prediction, ctx: InferCtx, _: &str) -> Vec<u8> {
    let n = p.len() as i64;
    let mut outputs = Vec::new();
    let wanted = |name: &str| ctx.outputs.as_ref().is_none_or(|o| o.iter().any(|x| x == name));
    if let Some(l) = &p.labels
        && wanted("label")
    {
        outputs.push(json!({ "name": "label", "datatype": "BYTES", "shape": [n], "data": l }));
    }
    if let Some(v) = &p.values {
        let name = if served.task() == Task::Anomaly { "score" } else { "prediction" };
        if wanted(name) {
            outputs.push(json!({ "name": name, "datatype": "FP64", "shape": [n], "data": v }));
        }
    }
    if let (Some(probs), Some(classes)) = (&p.probabilities, &p.classes)
        && wanted("probabilities")
    {
        let flat: Vec<f64> = probs.iter().flatten().copied().collect();
        outputs.push(json!({
            "name": "probabilities", "datatype": "FP64", "shape": [n, classes.len()],
            "parameters": { "classes": classes.join(",") }, "data": flat,
        }));
    }
    let mut out = json!({ "model_name": served.name, "model_version": served.version, "outputs": outputs });
    if let Some(id) = ctx.id {
        out["id"] = json!(id);
    }
    serde_json::to_vec(&out).unwrap_or_default()
}

async fn v2_infer(
    Extract(state): Extract<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer(state, Endpoint::OpenInference, headers, body, Some((model, None)), v2_parse, v2_render).await
}

async fn v2_infer_version(
    Extract(state): Extract<Shared>,
    Path((model, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer(state, Endpoint::OpenInference, headers, body, Some((model, Some(version))), v2_parse, v2_render).await
}
