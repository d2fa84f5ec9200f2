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
use berth_data::Table;
use berth_deploy::rollout::Side;
use berth_ml::{Prediction, Task};
use serde_json::{Value, json};

use crate::input::Tensor;
use crate::metrics::{Endpoint, VersionMetrics};
use crate::refusal::{REQUEST_ID_HEADER, Refusal, Shape, json_bytes, json_response, label};
use crate::rollout::Action;
use crate::served::{Served, check_prediction};
use crate::state::State;

pub(crate) type Shared = Arc<State>;

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
        .route("/feedback", post(crate::feedback::post))
        .route("/v1/models/{model}", get(v1_status).post(v1_predict))
        .route("/v2", get(v2_server))
        .route("/v2/health/live", get(v2_live))
        .route("/v2/health/ready", get(v2_ready))
        .route("/v2/models/{model}", get(v2_model))
        .route("/v2/models/{model}/ready", get(v2_model_ready))
        .route("/v2/models/{model}/infer", post(v2_infer))
        .route("/v2/models/{model}/feedback", post(crate::feedback::post_for_model))
        .route("/v2/models/{model}/versions/{version}", get(v2_model))
        .route("/v2/models/{model}/versions/{version}/ready", get(v2_model_ready))
        .route("/v2/models/{model}/versions/{version}/infer", post(v2_infer))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
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
    let current = state.current();
    let mut text = state.metrics.render(current.is_some());
    // Live drift of what serves now: the stable version and a rollout's candidate.
    let candidate = state.rollout().map(|r| r.candidate.clone());
    let windows: Vec<_> = current
        .iter()
        .chain(candidate.iter())
        .filter_map(|s| s.live.as_ref().map(|w| (s.name.as_str(), s.version.as_str(), w.snapshot())))
        .collect();
    crate::live::render(&mut text, &windows);
    let mut r = Response::new(Body::from(text));
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

async fn rollout_start(Extract(state): Extract<Shared>, headers: HeaderMap, body: Body) -> Response {
    let started = async {
        let bytes = read_body(&state, &headers, body).await?;
        let spec: berth_deploy::rollout::RolloutSpec =
            parse_json(&bytes, "a rollout: {\"strategy\": \"canary\", \"candidate\": 4, \"steps\": [10, 50, 100]}")?;
        crate::rollout::start(&state, spec).await
    };
    match started.await {
        Ok(v) => json_response(StatusCode::CREATED, &v),
        Err(r) => r.render(Shape::Listed, None),
    }
}

async fn rollout_act(Extract(state): Extract<Shared>, Path(action): Path<String>) -> Response {
    let done = async { crate::rollout::act(&state, Action::parse(&action)?).await };
    match done.await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(r) => r.render(Shape::Listed, None),
    }
}

async fn not_found(method: Method, uri: Uri) -> Response {
    Refusal::not_found(format!(
        "no endpoint {method} {}; berth serves /predict, /v1/models/NAME:predict, /v2/models/NAME/infer, /feedback, /health, /readyz, /livez, /metrics",
        uri.path()
    ))
    .render(Shape::Listed, None)
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    Refusal::new(StatusCode::METHOD_NOT_ALLOWED, format!("{} does not take {method}", uri.path()))
        .render(Shape::Listed, None)
}

// ---- inference ------------------------------------------------------------

/// Reads the body up to the limit.
pub(crate) async fn read_body(state: &State, headers: &HeaderMap, body: Body) -> Result<Bytes, Refusal> {
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
        Refusal::malformed(format!("could not read the request body: {e}"))
    })
}

pub(crate) fn parse_json<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::malformed(format!("the request body is empty; send {what}")));
    }
    serde_json::from_slice(bytes).map_err(|e| Refusal::malformed(format!("the request body is not {what}: {e}")))
}

/// Scores a table: small batches on the request's own task, large ones on
/// the blocking pool so that they do not stall other requests.
async fn score(served: Arc<Served>, table: Table) -> Result<(Table, Prediction), Refusal> {
    fn failed() -> Refusal {
        Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "the model failed on this input")
    }
    fn run(served: &Served, table: &Table) -> Result<Prediction, Refusal> {
        let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| served.scorer.predict(table)))
            .map_err(|_| failed())?
            .map_err(|e| Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        check_prediction(&p, table.rows()).map_err(|e| {
            Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{e}: check that the inputs are in the range the model was trained on"),
            )
        })?;
        if let Some(live) = &served.live {
            live.observe(table, &p);
        }
        Ok(p)
    }
    if table.rows() <= 64 {
        let p = run(&served, &table)?;
        return Ok((table, p));
    }
    tokio::task::spawn_blocking(move || run(&served, &table).map(|p| (table, p))).await.map_err(|_| failed())?
}

/// What sets one inference protocol apart: its endpoint (for metrics and
/// the error shape), how it reads a request and how it writes an answer.
/// Admission, scoring, metrics, the prediction log and rollouts are the
/// same for all of them ([`infer`]).
struct Protocol<A> {
    endpoint: Endpoint,
    /// Reads a request body (and its headers) against the served version's inputs.
    parse: fn(&Served, &[u8], &HeaderMap) -> Parsed<A>,
    /// The answer's body, from the prediction, `A` and the request id.
    render: fn(&Served, &Prediction, A, &str) -> Rendered,
}

/// An answer's body: JSON, or JSON followed by binary tensor data (the
/// JSON's length then given, see [`crate::oip_binary`]).
struct Rendered {
    body: Vec<u8>,
    json_length: Option<usize>,
}

impl Rendered {
    fn json(body: Vec<u8>) -> Rendered {
        Rendered { body, json_length: None }
    }
}

/// A request's rows, and `A`: what its answer needs from it besides them.
type Parsed<A> = Result<(Table, A), Refusal>;

/// The model (and version) a path names; a route without `{version}`
/// leaves it `None`, so one handler serves both forms.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
struct ModelPath {
    model: String,
    #[serde(default)]
    version: Option<String>,
}

impl ModelPath {
    /// Whether `c` is the model (and version) this path names.
    fn check(&self, c: &Served) -> Result<(), Refusal> {
        let model = &self.model;
        if c.name != *model {
            return Err(Refusal::not_found(format!(
                "model {model:?} is not served here; this server serves {:?}",
                c.name
            )));
        }
        if let Some(v) = &self.version
            && *v != c.version
        {
            return Err(Refusal::not_found(format!(
                "version {v:?} of {model:?} is not served here; version {:?} is",
                c.version
            )));
        }
        Ok(())
    }
}

/// One inference request on its way from admission to its answer.
struct Call<'a> {
    state: &'a State,
    endpoint: Endpoint,
    headers: &'a HeaderMap,
    started: Instant,
    request_id: String,
}

impl Call<'_> {
    /// Counts a refusal on `metrics` and renders it in the protocol's shape.
    fn refuse(&self, metrics: &VersionMetrics, r: Refusal) -> Response {
        metrics.finish(self.endpoint, r.status.as_u16(), self.started.elapsed());
        r.render(Shape::of(self.endpoint), Some(&self.request_id))
    }
}

/// The steps every inference endpoint shares: admission, the model (the one
/// `wanted` names, when the path names one), the rollout's choice of side,
/// then [`answer`].
async fn infer<A: Send>(
    protocol: &Protocol<A>,
    state: Shared,
    headers: HeaderMap,
    body: Body,
    wanted: Option<ModelPath>,
) -> Response {
    let call = Call {
        state: &state,
        endpoint: protocol.endpoint,
        headers: &headers,
        started: Instant::now(),
        request_id: state.request_id(headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok())),
    };
    let Ok(_permit) = state.permits.clone().try_acquire_owned() else {
        let busy = Refusal::unavailable(
            format!("the server is answering {} requests already; retry shortly", state.limits.max_in_flight),
            1,
        );
        return call.refuse(&state.metrics.unloaded, busy);
    };
    let Some(served) = state.current() else {
        let status = state.status();
        let r = Refusal::unavailable(
            format!(
                "no model is loaded yet for {}: {}",
                state.target,
                status.error.unwrap_or_else(|| "it is loading".into())
            ),
            status.next_retry_in.map(|s| s.ceil() as u64).unwrap_or(1).max(1),
        );
        return call.refuse(&state.metrics.unloaded, r);
    };
    if let Some(path) = &wanted
        && let Err(r) = path.check(&served)
    {
        return call.refuse(&served.metrics, r.by(&served));
    }
    // A rollout may hand the request to the candidate, and wants to know how it went.
    let rollout = state.rollout();
    let side = rollout.as_ref().map(|r| r.side(&headers)).unwrap_or(Side::Stable);
    let served = match (&rollout, side) {
        (Some(r), Side::Candidate) => r.candidate.clone(),
        _ => served,
    };
    let (resp, done) = answer(&call, protocol, body, &served, rollout.is_some()).await;
    if let Some(r) = &rollout {
        let prediction = done.as_ref().map(|(_, p)| p);
        if r.shadowing() {
            if let Some((table, p)) = done {
                r.mirror(table, p, call.started.elapsed());
            }
        } else {
            r.record(side, resp.status() == StatusCode::OK, call.started.elapsed(), prediction);
        }
    }
    resp
}

/// Reads, parses, scores and renders one request on `served`; with `keep`,
/// also returns the rows and the prediction (for a rollout's records).
/// Every answer, refusals included, names `served` in `x-berth-version`.
async fn answer<A: Send>(
    call: &Call<'_>,
    protocol: &Protocol<A>,
    body: Body,
    served: &Arc<Served>,
    keep: bool,
) -> (Response, Option<(Table, Prediction)>) {
    let state = call.state;
    let _in_flight = served.metrics.start();
    let work = async {
        let bytes = read_body(state, call.headers, body).await?;
        let (table, asked) = (protocol.parse)(served, &bytes, call.headers)?;
        let (table, p) = score(served.clone(), table).await?;
        Ok::<_, Refusal>((table, p, asked))
    };
    let (table, p, asked) = match tokio::time::timeout(state.limits.timeout, work).await {
        Ok(Ok(done)) => done,
        Ok(Err(r)) => return (call.refuse(&served.metrics, r.by(served)), None),
        Err(_) => {
            let r = Refusal::unavailable(
                format!("the request took longer than {:?}; send fewer rows or retry", state.limits.timeout),
                1,
            );
            return (call.refuse(&served.metrics, r.by(served)), None);
        }
    };
    let rendered = (protocol.render)(served, &p, asked, &call.request_id);
    served.metrics.predicted(&p);
    let logging = state.log.as_ref().filter(|log| log.sampled());
    // The rows and the prediction go to the log, to a rollout's records, or both (one copy).
    let (kept, logged) = match (keep, logging.is_some()) {
        (true, true) => (Some((table.clone(), p.clone())), Some((table, p))),
        (true, false) => (Some((table, p)), None),
        (false, true) => (None, Some((table, p))),
        (false, false) => (None, None),
    };
    if let (Some(log), Some((inputs, prediction))) = (logging, logged) {
        log.record(crate::log::segment::Logged {
            at: crate::log::epoch_seconds(),
            request_id: call.request_id.clone(),
            model: served.name.clone(),
            version: served.version.clone(),
            latency_ms: call.started.elapsed().as_secs_f64() * 1000.0,
            inputs,
            prediction,
        });
    }
    let mut resp = json_bytes(StatusCode::OK, rendered.body);
    if let Some(n) = rendered.json_length {
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        headers.insert(crate::oip_binary::HEADER_LENGTH, HeaderValue::from(n));
    }
    label(&mut resp, Some(&served.label()), Some(&call.request_id));
    served.metrics.finish(call.endpoint, 200, call.started.elapsed());
    (resp, kept)
}

// ---- /predict and KServe v1: JSON records ---------------------------------

#[derive(serde::Deserialize)]
struct Instances<'a> {
    #[serde(borrow)]
    instances: Vec<crate::input::Row<'a>>,
}

/// `/predict` and KServe v1 read the same body.
fn instances(served: &Served, bytes: &[u8], _: &HeaderMap) -> Result<(Table, ()), Refusal> {
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

/// berth's own `/predict`: predictions with the model, version, request
/// id, and per-class probabilities or anomaly scores where there are any.
const SIMPLE: Protocol<()> = Protocol {
    endpoint: Endpoint::Predict,
    parse: instances,
    render: |served, p, (), request_id| {
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
        Rendered::json(serde_json::to_vec(&answer).unwrap_or_default())
    },
};

/// KServe v1: `{"predictions": [...]}` and nothing else.
const KSERVE_V1: Protocol<()> = Protocol {
    endpoint: Endpoint::KServeV1,
    parse: instances,
    render: |_, p, (), _| {
        Rendered::json(serde_json::to_vec(&json!({ "predictions": predictions(p) })).unwrap_or_default())
    },
};

async fn predict(Extract(state): Extract<Shared>, headers: HeaderMap, body: Body) -> Response {
    infer(&SIMPLE, state, headers, body, None).await
}

async fn v1_status(Extract(state): Extract<Shared>, Path(model): Path<String>) -> Response {
    let path = ModelPath { model, version: None };
    match served_as(&state, &path) {
        Ok(c) => json_response(StatusCode::OK, &json!({ "name": c.name, "ready": true })),
        Err(r) if r.status == StatusCode::SERVICE_UNAVAILABLE => {
            json_response(StatusCode::SERVICE_UNAVAILABLE, &json!({ "name": path.model, "ready": false }))
        }
        Err(r) => r.render(Shape::Listed, None),
    }
}

async fn v1_predict(
    Extract(state): Extract<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(name) = model.strip_suffix(":predict") else {
        return Refusal::not_found(format!(
            "no endpoint POST /v1/models/{model}; KServe v1 predicts at /v1/models/NAME:predict"
        ))
        .render(Shape::Listed, None);
    };
    let wanted = ModelPath { model: name.to_string(), version: None };
    infer(&KSERVE_V1, state, headers, body, Some(wanted)).await
}

// ---- Open Inference Protocol v2 --------------------------------------------

async fn v2_server() -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "name": "berth", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"] }),
    )
}

/// Health in the protocol's shape: the status is the answer, the body empty.
async fn v2_live() -> Response {
    empty(StatusCode::OK)
}

async fn v2_ready(Extract(state): Extract<Shared>) -> Response {
    empty(if state.current().is_some() { StatusCode::OK } else { StatusCode::BAD_REQUEST })
}

/// The served version if it is the one `path` names; otherwise the refusal
/// (naming the version that is serving, when one is).
fn served_as(state: &State, path: &ModelPath) -> Result<Arc<Served>, Refusal> {
    let Some(c) = state.current() else {
        return Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no model is loaded yet for {}", state.target),
        ));
    };
    path.check(&c).map_err(|r| r.by(&c))?;
    Ok(c)
}

async fn v2_model(Extract(state): Extract<Shared>, Path(path): Path<ModelPath>) -> Response {
    match served_as(&state, &path) {
        Ok(c) => json_response(StatusCode::OK, &crate::oip::metadata(&c)),
        Err(r) => r.render(Shape::OneString, None),
    }
}

/// Model readiness in the protocol's shape: 200 or 4xx, no body.
async fn v2_model_ready(Extract(state): Extract<Shared>, Path(path): Path<ModelPath>) -> Response {
    match served_as(&state, &path) {
        Ok(_) => empty(StatusCode::OK),
        Err(r) if r.status == StatusCode::SERVICE_UNAVAILABLE => empty(StatusCode::BAD_REQUEST),
        Err(r) => r.render(Shape::OneString, None),
    }
}

#[derive(serde::Deserialize)]
struct InferRequest {
    #[serde(default)]
    id: Option<String>,
    inputs: Vec<Tensor>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
    #[serde(default)]
    parameters: Option<serde_json::Map<String, Value>>,
}

#[derive(serde::Deserialize)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: Option<serde_json::Map<String, Value>>,
}

/// What an inference request asks of the answer besides predictions.
struct Asked {
    id: Option<String>,
    /// The outputs asked for (`None`: all).
    outputs: Option<Vec<Wanted>>,
    /// `binary_data_output`: every output as binary data unless it says otherwise.
    binary: bool,
}

/// One output a request asks for, and whether as binary data (`None`: as
/// the request's `binary_data_output` says).
struct Wanted {
    name: String,
    binary: Option<bool>,
}

/// A boolean parameter, if given; anything else is refused by name.
fn flag(parameters: Option<&serde_json::Map<String, Value>>, key: &str, of: &str) -> Result<Option<bool>, Refusal> {
    match parameters.and_then(|p| p.get(key)) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(Refusal::malformed(format!("{of} has {key} {v}; it must be true or false"))),
    }
}

/// The outputs a request asks for, checked against the model's.
fn requested(served: &Served, outputs: Option<Vec<RequestedOutput>>) -> Result<Option<Vec<Wanted>>, Refusal> {
    let Some(outputs) = outputs else { return Ok(None) };
    let known: Vec<String> = crate::oip::outputs(served).into_iter().map(|d| d.name).collect();
    let mut asked = Vec::with_capacity(outputs.len());
    for o in outputs {
        if !known.contains(&o.name) {
            return Err(Refusal::malformed(format!(
                "output {:?} is not an output of this model; its outputs are {}",
                o.name,
                known.join(", ")
            )));
        }
        let of = format!("output {:?}", o.name);
        if let Some(n) = o.parameters.as_ref().and_then(|p| p.get("class_count")).filter(|n| n.as_u64() != Some(0)) {
            return Err(Refusal::malformed(format!(
                "{of} has class_count {n}; berth does not implement the classification extension: ask for the \
                 probabilities and take the top classes from them"
            )));
        }
        let binary = flag(o.parameters.as_ref(), "binary_data", &of)?;
        asked.push(Wanted { name: o.name, binary });
    }
    Ok(Some(asked))
}

/// The Open Inference Protocol v2: named tensors in, named outputs out
/// (only those asked for, each as JSON or binary data), the request's id
/// echoed; with the binary tensor data extension ([`crate::oip_binary`]).
const OPEN_INFERENCE: Protocol<Asked> =
    Protocol { endpoint: Endpoint::OpenInference, parse: v2_parse, render: v2_render };

fn v2_parse(served: &Served, bytes: &[u8], headers: &HeaderMap) -> Result<(Table, Asked), Refusal> {
    let (head, binary) = crate::oip_binary::split(headers, bytes)?;
    let mut req: InferRequest = parse_json(head, "an inference request {\"inputs\": [...]}")?;
    let binary_all = flag(req.parameters.as_ref(), "binary_data_output", "the request")?.unwrap_or(false);
    let outputs = requested(served, req.outputs)?;
    crate::oip_binary::attach(&mut req.inputs, binary)?;
    let table = crate::oip::table(served, &req.inputs)?;
    Ok((table, Asked { id: req.id, outputs, binary: binary_all }))
}

fn v2_render(served: &Served, p: &Prediction, asked: Asked, _: &str) -> Rendered {
    let chosen: Vec<(crate::oip::Output, bool)> = crate::oip::answer(served, p)
        .into_iter()
        .filter_map(|o| match &asked.outputs {
            None => Some((o, asked.binary)),
            Some(wanted) => {
                let w = wanted.iter().find(|w| w.name == o.name)?;
                Some((o, w.binary.unwrap_or(asked.binary)))
            }
        })
        .collect();
    let mut head = json!({ "model_name": served.name, "model_version": served.version });
    if let Some(id) = asked.id {
        head["id"] = json!(id);
    }
    let (body, json_length) = crate::oip_binary::body(head, &chosen);
    Rendered { body, json_length }
}

/// Both inference paths, with and without a version.
async fn v2_infer(
    Extract(state): Extract<Shared>,
    Path(path): Path<ModelPath>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    infer(&OPEN_INFERENCE, state, headers, body, Some(path)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{Identity, finish};
    use crate::refusal::VERSION_HEADER;
    use crate::served::Source;
    use crate::state::Limits;
    use hyper::service::Service;

    const ROW: &str = r#"{"f0":0.1,"f1":-0.2,"f2":0.3,"f3":0.0,"f4":1.2,"f5":-1.0,"f6":0.5,"f7":0.0,"f8":0.2,"f9":-0.4,"segment":"b"}"#;

    fn empty_state() -> Shared {
        Arc::new(State::new("churn@production".into(), Limits::default(), None, None, None, 10_000).unwrap())
    }

    /// A server serving churn@4: the CI stand-in, which has the inputs of
    /// `berth data synth --kind classification` (f0..f9 and segment).
    fn serving() -> Shared {
        let state = empty_state();
        let model = crate::synthetic::train(None).unwrap();
        let digest = berth_core::Digest::of(&model.to_bytes()).to_string();
        let identity = Identity { name: "churn".into(), version: "4".into(), digest, source: Source::Store };
        let scorer = berth_service::Scorer::Native(Box::new(model));
        state.install(finish(&state, identity, scorer, None, Instant::now()).unwrap(), None);
        state
    }

    struct Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    }

    impl Answer {
        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
        }

        fn version(&self) -> Option<&str> {
            self.headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok())
        }
    }

    async fn send(state: &Shared, method: Method, path: &str, body: &str) -> Answer {
        let app = hyper_util::service::TowerToHyperService::new(router(state.clone()));
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = app.call(req).await.unwrap();
        let (parts, body) = resp.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: axum::body::to_bytes(body, 1 << 20).await.unwrap(),
        }
    }

    /// A server serving the ONNX export of a binary logistic regression
    /// (input `X` float [N, 4], outputs `output_label` int64 and a ZipMap).
    fn serving_onnx() -> (Shared, Value) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-ml/tests/data/onnx");
        let scorer = berth_service::Scorer::open_file(&dir.join("logistic_binary.onnx"), None).unwrap();
        let reference: Value =
            serde_json::from_slice(&std::fs::read(dir.join("logistic_binary.json")).unwrap()).unwrap();
        let state = empty_state();
        let identity =
            Identity { name: "churn".into(), version: "4".into(), digest: "d".into(), source: Source::Local };
        state.install(finish(&state, identity, scorer, None, Instant::now()).unwrap(), None);
        (state, reference)
    }

    async fn send_bytes(state: &Shared, path: &str, body: Vec<u8>, headers: &[(&str, String)]) -> Answer {
        let app = hyper_util::service::TowerToHyperService::new(router(state.clone()));
        let mut req = axum::http::Request::builder().method(Method::POST).uri(path);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = app.call(req.body(Body::from(body)).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: axum::body::to_bytes(body, 1 << 20).await.unwrap(),
        }
    }

    /// The reference batch's first `n` rows, as little-endian FP32 bytes.
    fn rows_f32(reference: &Value, n: usize) -> Vec<u8> {
        let rows = reference["input"].as_array().unwrap()[..n].iter();
        rows.flat_map(|r| {
            r.as_array().unwrap().iter().flat_map(|v| (v.as_f64().unwrap() as f32).to_le_bytes()).collect::<Vec<_>>()
        })
        .collect()
    }

    #[tokio::test]
    async fn an_onnx_model_is_described_in_its_graphs_terms() {
        let (s, _) = serving_onnx();
        let meta = send(&s, Method::GET, "/v2/models/churn", "").await.json();
        assert_eq!(meta["platform"], "onnx");
        assert_eq!(meta["inputs"], json!([{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]));
        assert_eq!(
            meta["outputs"],
            json!([
                {"name": "output_label", "datatype": "INT64", "shape": [-1]},
                {"name": "output_probability", "datatype": "FP32", "shape": [-1, 2], "parameters": {"classes": "0,1"}},
            ])
        );
        let server = send(&s, Method::GET, "/v2", "").await.json();
        assert_eq!(server["extensions"], json!(["binary_tensor_data"]));
    }

    #[tokio::test]
    async fn an_onnx_model_answers_with_its_graphs_outputs_in_json() {
        let (s, reference) = serving_onnx();
        let rows = &reference["input"].as_array().unwrap()[..3];
        for datatype in ["FP32", "FP64"] {
            let body = json!({"inputs": [{"name": "X", "shape": [3, 4], "datatype": datatype, "data": rows}]});
            let r = send(&s, Method::POST, "/v2/models/churn/infer", &body.to_string()).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            let out = r.json()["outputs"].clone();
            assert_eq!(out[0]["name"], "output_label");
            assert_eq!(out[0]["datatype"], "INT64");
            assert_eq!(
                out[0]["data"].as_array().unwrap()[..],
                reference["outputs"]["output_label"].as_array().unwrap()[..3]
            );
            assert_eq!(
                (out[1]["name"].as_str(), out[1]["datatype"].as_str()),
                (Some("output_probability"), Some("FP32"))
            );
            assert_eq!(out[1]["shape"], json!([3, 2]));
            let want = reference["outputs"]["output_probability"]["values"][0][1].as_f64().unwrap();
            assert!((out[1]["data"][1].as_f64().unwrap() - want).abs() < 1e-5);
        }
        let only = json!({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "INT64", "data": [[1, 2, 3, 4]]}],
                          "outputs": [{"name": "output_label"}]});
        let r = send(&s, Method::POST, "/v2/models/churn/infer", &only.to_string()).await;
        assert_eq!(r.json()["outputs"].as_array().unwrap().len(), 1, "{:?}", r.body);

        let wrong = |body: Value| {
            let s = s.clone();
            async move {
                let r = send(&s, Method::POST, "/v2/models/churn/infer", &body.to_string()).await;
                assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
                r.json()["error"].as_str().unwrap().to_string()
            }
        };
        let e = wrong(json!({"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})).await;
        assert!(e.contains("input \"X\" has shape [1, 3]; the model takes [rows, 4]"), "{e}");
        let e =
            wrong(json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}))
                .await;
        assert!(e.contains("this model's input is \"X\" (FP32 [-1, 4]); the request sent [\"input\"]"), "{e}");
        let e = wrong(
            json!({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "BYTES", "data": ["a", "b", "c", "d"]}]}),
        )
        .await;
        assert!(e.contains("has datatype BYTES; the model takes numbers"), "{e}");
    }

    #[tokio::test]
    async fn binary_inputs_and_outputs_follow_the_json() {
        let (s, reference) = serving_onnx();
        let head = json!({"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": 32}}],
                          "parameters": {"binary_data_output": true},
                          "outputs": [{"name": "output_label"}, {"name": "output_probability", "parameters": {"binary_data": false}}]})
        .to_string();
        let mut body = head.clone().into_bytes();
        body.extend(rows_f32(&reference, 2));
        let r = send_bytes(
            &s,
            "/v2/models/churn/infer",
            body,
            &[("Inference-Header-Content-Length", head.len().to_string())],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/octet-stream");
        let n: usize = r.headers["inference-header-content-length"].to_str().unwrap().parse().unwrap();
        let json: Value = serde_json::from_slice(&r.body[..n]).unwrap();
        assert_eq!(json["outputs"][0]["parameters"]["binary_data_size"], 16);
        assert!(json["outputs"][0].get("data").is_none());
        assert_eq!(json["outputs"][1]["data"].as_array().unwrap().len(), 4, "asked for in JSON: {json}");
        let labels: Vec<i64> = r.body[n..].chunks(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(
            json!(labels).as_array().unwrap()[..],
            reference["outputs"]["output_label"].as_array().unwrap()[..2]
        );

        // Sizes that do not add up: refused with the input and the numbers.
        let mut short = head.clone().into_bytes();
        short.extend(rows_f32(&reference, 1));
        let r = send_bytes(
            &s,
            "/v2/models/churn/infer",
            short,
            &[("Inference-Header-Content-Length", head.len().to_string())],
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let e = r.json()["error"].as_str().unwrap().to_string();
        assert!(
            e.contains("input \"X\" has binary_data_size 32 from byte 0 of the binary data, which is 16 bytes"),
            "{e}"
        );
        let r = send_bytes(
            &s,
            "/v2/models/churn/infer",
            head.clone().into_bytes(),
            &[("Inference-Header-Content-Length", "9999".into())],
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.json()["error"].as_str().unwrap().contains("Inference-Header-Content-Length is 9999 but the body is")
        );
        let without = json!({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32"}]}).to_string();
        let r = send(&s, Method::POST, "/v2/models/churn/infer", &without).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.json()["error"].as_str().unwrap().contains("has no \"data\" and no binary_data_size"));
    }

    #[tokio::test]
    async fn a_graph_with_an_input_per_column_takes_one_tensor_each_in_json_or_binary() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../berth-ml/tests/data/onnx");
        let scorer = berth_service::Scorer::open_file(&dir.join("column_transformer_logistic.onnx"), None).unwrap();
        let reference: Value =
            serde_json::from_slice(&std::fs::read(dir.join("column_transformer_logistic.json")).unwrap()).unwrap();
        let s = empty_state();
        let identity =
            Identity { name: "plans".into(), version: "1".into(), digest: "d".into(), source: Source::Local };
        state_install(&s, identity, scorer);
        let meta = send(&s, Method::GET, "/v2/models/plans", "").await.json();
        assert_eq!(
            meta["inputs"],
            json!([
                {"name": "a", "datatype": "FP32", "shape": [-1, 1]},
                {"name": "b", "datatype": "FP32", "shape": [-1, 1]},
                {"name": "plan", "datatype": "BYTES", "shape": [-1, 1]},
            ])
        );
        let column = |name: &str| reference["inputs"][name].as_array().unwrap()[..3].to_vec();
        let want = reference["outputs"]["output_label"].as_array().unwrap()[..3].to_vec();
        let body = json!({"inputs": [
            {"name": "plan", "shape": [3, 1], "datatype": "BYTES", "data": column("plan")},
            {"name": "a", "shape": [3, 1], "datatype": "FP32", "data": column("a")},
            {"name": "b", "shape": [3], "datatype": "FP64", "data": column("b")},
        ]});
        let r = send(&s, Method::POST, "/v2/models/plans/infer", &body.to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.json()["outputs"][0]["data"].as_array().unwrap()[..], want[..]);

        // The same rows as binary data: FP32 columns and length-prefixed text.
        let f32s = |name: &str| -> Vec<u8> {
            column(name).iter().flat_map(|v| (v[0].as_f64().unwrap() as f32).to_le_bytes()).collect()
        };
        let mut text = Vec::new();
        for v in column("plan") {
            let p = v[0].as_str().unwrap();
            text.extend((p.len() as u32).to_le_bytes());
            text.extend(p.as_bytes());
        }
        let head = json!({"inputs": [
            {"name": "a", "shape": [3, 1], "datatype": "FP32", "parameters": {"binary_data_size": 12}},
            {"name": "b", "shape": [3, 1], "datatype": "FP32", "parameters": {"binary_data_size": 12}},
            {"name": "plan", "shape": [3, 1], "datatype": "BYTES", "parameters": {"binary_data_size": text.len()}},
        ]})
        .to_string();
        let mut body = head.clone().into_bytes();
        body.extend(f32s("a"));
        body.extend(f32s("b"));
        body.extend(&text);
        let headers = [("Inference-Header-Content-Length", head.len().to_string())];
        let r = send_bytes(&s, "/v2/models/plans/infer", body, &headers).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.json()["outputs"][0]["data"].as_array().unwrap()[..], want[..]);
    }

    fn state_install(s: &Shared, identity: Identity, scorer: berth_service::Scorer) {
        s.install(finish(s, identity, scorer, None, Instant::now()).unwrap(), None);
    }

    #[tokio::test]
    async fn a_berth_model_answers_in_binary_when_asked() {
        let s = serving();
        let mut req: Value = serde_json::from_str(&tensors(json!(0.1))).unwrap();
        req["parameters"] = json!({"binary_data_output": true});
        let r = send(&s, Method::POST, "/v2/models/churn/infer", &req.to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let n: usize = r.headers["inference-header-content-length"].to_str().unwrap().parse().unwrap();
        let json: Value = serde_json::from_slice(&r.body[..n]).unwrap();
        assert_eq!(json["outputs"][0]["name"], "label");
        let size = json["outputs"][0]["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
        let len = u32::from_le_bytes(r.body[n..n + 4].try_into().unwrap()) as usize;
        assert_eq!(len + 4, size, "one length-prefixed label");
        assert_eq!(json["outputs"][1]["parameters"]["binary_data_size"], 16, "two FP64 probabilities");
        assert_eq!(r.body.len(), n + size + 16);
    }

    fn tensors(f0: Value) -> String {
        let mut inputs: Vec<Value> = (1..10)
            .map(|j| json!({"name": format!("f{j}"), "shape": [1], "datatype": "FP64", "data": [0.1]}))
            .collect();
        inputs.push(json!({"name": "f0", "shape": [1], "datatype": "FP64", "data": [f0]}));
        inputs.push(json!({"name": "segment", "shape": [1], "datatype": "BYTES", "data": ["b"]}));
        json!({ "inputs": inputs }).to_string()
    }

    #[tokio::test]
    async fn answers_and_refusals_from_a_serving_version_both_name_it() {
        let s = serving();
        let ok = send(&s, Method::POST, "/predict", &format!("{{\"instances\": [{ROW}]}}")).await;
        assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
        assert_eq!(ok.version(), Some("churn@4"));
        assert!(ok.headers.get(REQUEST_ID_HEADER).is_some());

        // berth's shape: the message and every problem beside it.
        let bad = send(&s, Method::POST, "/predict", r#"{"instances": [{"f0": "x"}]}"#).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.version(), Some("churn@4"), "the version that refused says so");
        let b = bad.json();
        assert!(b["error"].as_str().unwrap().contains("problems in the input"), "{b}");
        assert_eq!(b["problems"][0]["field"], "f0");
        assert_eq!(b["problems"][0]["got"], "string \"x\"");

        let v1 = send(&s, Method::POST, "/v1/models/churn:predict", "{}").await;
        assert_eq!(v1.status, StatusCode::BAD_REQUEST);
        assert_eq!(v1.version(), Some("churn@4"));
        assert!(v1.json()["error"].as_str().unwrap().contains("{\"instances\": [...]}"), "{:?}", v1.body);

        // The protocol's shape: one string, the problems inside it.
        let v2 = send(&s, Method::POST, "/v2/models/churn/infer", &tensors(json!("x"))).await;
        assert_eq!(v2.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(v2.version(), Some("churn@4"));
        let e = v2.json();
        assert_eq!(e.as_object().unwrap().len(), 1, "only the error key: {e}");
        assert!(e["error"].as_str().unwrap().contains("f0 (row 0): expected a number, got string \"x\""), "{e}");

        let other = send(&s, Method::POST, "/v2/models/other/infer", &tensors(json!(0.1))).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND);
        assert_eq!(other.version(), Some("churn@4"), "the version that is serving instead");
        assert!(other.json()["error"].as_str().unwrap().contains("this server serves \"churn\""));
    }

    #[tokio::test]
    async fn one_handler_serves_the_paths_with_and_without_a_version() {
        let s = serving();
        for path in ["/v2/models/churn/infer", "/v2/models/churn/versions/4/infer"] {
            let r = send(&s, Method::POST, path, &tensors(json!(0.1))).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
            assert_eq!(r.json()["model_version"], "4");
        }
        let pinned = send(&s, Method::POST, "/v2/models/churn/versions/5/infer", &tensors(json!(0.1))).await;
        assert_eq!(pinned.status, StatusCode::NOT_FOUND);
        assert!(pinned.json()["error"].as_str().unwrap().contains("version \"5\" of \"churn\" is not served here"));
        assert_eq!(send(&s, Method::GET, "/v2/models/churn/versions/4", "").await.json()["versions"], json!(["4"]));
        assert_eq!(send(&s, Method::GET, "/v2/models/churn/versions/5", "").await.status, StatusCode::NOT_FOUND);
        let ready = send(&s, Method::GET, "/v2/models/churn/versions/4/ready", "").await;
        assert_eq!((ready.status, ready.body.len()), (StatusCode::OK, 0));
    }

    #[tokio::test]
    async fn with_nothing_served_refusals_say_when_to_retry_and_name_no_version() {
        let s = empty_state();
        let r = send(&s, Method::POST, "/predict", &format!("{{\"instances\": [{ROW}]}}")).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers[header::RETRY_AFTER], "1");
        assert_eq!(r.version(), None);
        assert!(r.json()["error"].as_str().unwrap().contains("no model is loaded yet for churn@production"));
        let ready = send(&s, Method::GET, "/v2/models/churn/ready", "").await;
        assert_eq!((ready.status, ready.body.len()), (StatusCode::BAD_REQUEST, 0), "the protocol's not-ready");
        let v1 = send(&s, Method::GET, "/v1/models/churn", "").await;
        assert_eq!(v1.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(v1.json(), json!({"name": "churn", "ready": false}));
    }

    #[tokio::test]
    async fn rollout_actions_come_from_the_path_and_unknown_ones_are_named() {
        let s = empty_state();
        let r = send(&s, Method::POST, "/admin/rollout/explode", "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let msg = r.json()["error"].as_str().unwrap().to_string();
        assert!(msg.contains("no rollout action \"explode\"; the actions are promote, abort"), "{msg}");
        let known = send(&s, Method::POST, "/admin/rollout/abort", "").await;
        assert_eq!(known.status, StatusCode::CONFLICT, "a known action reaches the rollout");
        assert_eq!(known.json(), json!({"error": "no rollout can run on this server"}));
        let start = send(&s, Method::POST, "/admin/rollout", "").await;
        assert_eq!(start.status, StatusCode::BAD_REQUEST);
        assert!(start.json()["error"].as_str().unwrap().starts_with("the request body is empty; send a rollout"));
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_are_refused_in_berths_shape() {
        let s = empty_state();
        let r = send(&s, Method::GET, "/nope", "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert!(r.json()["error"].as_str().unwrap().starts_with("no endpoint GET /nope; berth serves /predict"));
        let m = send(&s, Method::PUT, "/health", "").await;
        assert_eq!(m.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(m.json(), json!({"error": "/health does not take PUT"}));
    }
}
