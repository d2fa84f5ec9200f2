//! `POST /feedback` and `POST /v2/models/{model}/feedback`: the true label
//! (or value) of a request answered earlier, by its request id. Taken only
//! for a request this server logged, for one of its rows and of the kind
//! its model predicts; written to the prediction log beside the
//! predictions, where `berth monitor` joins it (the newest label for a row
//! wins).

use axum::body::Body;
use axum::extract::{Path, State as Extract};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::http::{Shared, parse_json, read_body};
use crate::log::{FeedbackError, FeedbackRequest, epoch_seconds, index::Truth};
use crate::refusal::{Refusal, Shape, json_response};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Body_ {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    row: Option<Value>,
    #[serde(default)]
    label: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
}

const WHAT: &str = "a JSON object {\"request_id\": \"...\", \"label\": ...} (or \"id\", \"value\", \"row\")";

pub async fn post(Extract(state): Extract<Shared>, headers: HeaderMap, body: Body) -> Response {
    answer(&state, None, &headers, body).await.unwrap_or_else(|r| r.render(Shape::Listed, None))
}

pub async fn post_for_model(
    Extract(state): Extract<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(&state, Some(model), &headers, body).await.unwrap_or_else(|r| r.render(Shape::OneString, None))
}

async fn answer(state: &Shared, model: Option<String>, headers: &HeaderMap, body: Body) -> Result<Response, Refusal> {
    let Some(log) = &state.log else {
        return Err(Refusal::conflict(
            "this server keeps no prediction log, so it has nothing to join labels to; start it with \
             --prediction-log DIR",
        ));
    };
    let bytes = read_body(state, headers, body).await?;
    let b: Body_ = parse_json(&bytes, WHAT)?;
    let req = parse(b, model)?;
    let (id, row) = (req.request_id.clone(), req.row);
    match log.feedback(req).await {
        Ok(()) => Ok(json_response(
            StatusCode::ACCEPTED,
            &json!({"accepted": true, "request_id": id, "row": row.unwrap_or(0)}),
        )),
        Err(e) => Err(refusal(e)),
    }
}

fn unfit(message: String) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn parse(b: Body_, model: Option<String>) -> Result<FeedbackRequest, Refusal> {
    let request_id = match (b.request_id, b.id) {
        (Some(a), Some(b)) if a != b => {
            return Err(unfit(format!("\"request_id\" {a:?} and \"id\" {b:?} differ; send one of them")));
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => return Err(unfit(format!("the body has no \"request_id\"; send {WHAT}"))),
    };
    if request_id.is_empty() {
        return Err(unfit("\"request_id\" is empty".into()));
    }
    let row = match b.row {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|r| r <= u64::from(u32::MAX)) => n.as_u64().map(|r| r as u32),
        Some(other) => return Err(unfit(format!("\"row\" is {other}, not a row number from 0"))),
    };
    let given = match (b.label, b.value) {
        (Some(_), Some(_)) => return Err(unfit("send \"label\" or \"value\", not both".into())),
        (Some(v), None) => ("label", v),
        (None, Some(v)) => ("value", v),
        (None, None) => return Err(unfit(format!("the body has no \"label\" or \"value\"; send {WHAT}"))),
    };
    let truth = match given.1 {
        Value::String(s) => Truth::Text(s),
        Value::Bool(b) => Truth::Bool(b),
        Value::Number(n) => match n.as_f64().filter(|v| v.is_finite()) {
            Some(v) => Truth::Number(v, n.to_string()),
            None => return Err(unfit(format!("\"{}\" {n} is not a finite number", given.0))),
        },
        other => {
            return Err(unfit(format!("\"{}\" is {other}; it is one text, number or boolean", given.0)));
        }
    };
    Ok(FeedbackRequest { model, request_id, row, truth, at: epoch_seconds() })
}

fn refusal(e: FeedbackError) -> Refusal {
    let message = e.to_string();
    match e {
        FeedbackError::UnknownRequest { .. } | FeedbackError::OtherModel { .. } => Refusal::not_found(message),
        FeedbackError::Row { .. } | FeedbackError::Wrong(_) => unfit(message),
        FeedbackError::Busy | FeedbackError::Closed => Refusal::unavailable(message, 1),
    }
}
