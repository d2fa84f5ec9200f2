//! Why a request was not answered, in one type for every endpoint, and how
//! each protocol spells it: berth's own endpoints list every bad field beside
//! the message; the Open Inference Protocol allows exactly one string.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::input::Problem;
use crate::metrics::Endpoint;
use crate::served::Served;

/// The header that names the version that answered (or refused).
pub const VERSION_HEADER: &str = "x-berth-version";
/// The header that carries the request's id, the caller's or the server's.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// How an endpoint's protocol spells an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// berth's own, for `/predict`, KServe v1, the admin endpoints and
    /// everything else: `{"error": message}`, with `"problems"` beside it
    /// when there are any, so a client can point at each bad field.
    Listed,
    /// The Open Inference Protocol's: exactly `{"error": string}`, so each
    /// problem is spelled out inside the string.
    OneString,
}

impl Shape {
    pub fn of(endpoint: Endpoint) -> Shape {
        match endpoint {
            Endpoint::Predict | Endpoint::KServeV1 => Shape::Listed,
            Endpoint::OpenInference => Shape::OneString,
        }
    }
}

/// A request refused: the status, what was wrong and what to do about it,
/// every bad field, when to come back, and which version refused (when one
/// was serving, so that a client debugging a schema change can tell which
/// version said no).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
    pub problems: Vec<Problem>,
    /// Seconds, for `Retry-After`.
    pub retry_after: Option<u64>,
    /// `name@version` of the version that refused.
    pub version: Option<String>,
}

impl Refusal {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal { status, message: message.into(), problems: Vec::new(), retry_after: None, version: None }
    }

    /// 400: the request is not what the endpoint reads at all.
    pub fn malformed(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::BAD_REQUEST, message)
    }

    /// 422: the request is what the endpoint reads, but its values do not
    /// fit the model; `problems` names each one.
    pub fn unfit(message: impl Into<String>, problems: Vec<Problem>) -> Refusal {
        Refusal { problems, ..Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, message) }
    }

    /// 404: the path names nothing this server has.
    pub fn not_found(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request is sound, but the server's state does not allow it now.
    pub fn conflict(message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::CONFLICT, message)
    }

    /// 503 that tells the caller when to retry.
    pub fn unavailable(message: impl Into<String>, retry_after: u64) -> Refusal {
        Refusal { retry_after: Some(retry_after), ..Refusal::new(StatusCode::SERVICE_UNAVAILABLE, message) }
    }

    /// Names `served` as the version that refused.
    pub fn by(self, served: &Served) -> Refusal {
        Refusal { version: Some(served.label()), ..self }
    }

    /// The message with each problem spelled out, for error shapes that
    /// have room only for one string.
    pub fn full_message(&self) -> String {
        let mut s = self.message.clone();
        for p in &self.problems {
            match p.row {
                Some(r) => s.push_str(&format!("; {} (row {r}): expected {}, got {}", p.field, p.expected, p.got)),
                None => s.push_str(&format!("; {}: expected {}, got {}", p.field, p.expected, p.got)),
            }
        }
        s
    }

    /// The answer, in `shape`, with `Retry-After`, the refusing version and
    /// the request id as headers when there are any.
    pub fn render(self, shape: Shape, request_id: Option<&str>) -> Response {
        let body = match shape {
            Shape::OneString => json!({ "error": self.full_message() }),
            Shape::Listed if self.problems.is_empty() => json!({ "error": self.message }),
            Shape::Listed => json!({ "error": self.message, "problems": self.problems }),
        };
        let mut resp = json_response(self.status, &body);
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        label(&mut resp, self.version.as_deref(), request_id);
        resp
    }
}

/// Adds the version and request id headers; a value a header cannot carry
/// is left out rather than failing the answer.
pub fn label(resp: &mut Response, version: Option<&str>, request_id: Option<&str>) {
    for (name, value) in [(VERSION_HEADER, version), (REQUEST_ID_HEADER, request_id)] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            resp.headers_mut().insert(name, v);
        }
    }
}

pub fn json_response(status: StatusCode, body: &Value) -> Response {
    json_bytes(status, serde_json::to_vec(body).unwrap_or_default())
}

pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(row: Option<usize>) -> Problem {
        Problem { field: "plan".into(), row, expected: "a string".into(), got: "number 3".into() }
    }

    async fn body(r: Response) -> Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn berths_own_shape_lists_the_problems_beside_the_message() {
        let r = Refusal::unfit("2 problems in the input", vec![problem(Some(1)), problem(None)])
            .render(Shape::Listed, None);
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let b = body(r).await;
        assert_eq!(b["error"], "2 problems in the input");
        assert_eq!(b["problems"][0], json!({"field": "plan", "row": 1, "expected": "a string", "got": "number 3"}));
        assert_eq!(b["problems"][1].get("row"), None, "a problem of no row has no row key");

        let plain = body(Refusal::malformed("the request body is empty").render(Shape::Listed, None)).await;
        assert_eq!(plain, json!({"error": "the request body is empty"}), "no problems key when there are none");
    }

    #[tokio::test]
    async fn the_open_inference_shape_is_one_string_holding_every_problem() {
        let r = Refusal::unfit("1 problem in the input", vec![problem(Some(0))]).render(Shape::OneString, None);
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let b = body(r).await;
        assert_eq!(b.as_object().unwrap().len(), 1, "only the error key: {b}");
        assert_eq!(b["error"], "1 problem in the input; plan (row 0): expected a string, got number 3");
        assert_eq!(Shape::of(Endpoint::OpenInference), Shape::OneString);
        assert_eq!(Shape::of(Endpoint::Predict), Shape::Listed);
        assert_eq!(Shape::of(Endpoint::KServeV1), Shape::Listed);
    }

    #[test]
    fn headers_carry_when_to_retry_who_refused_and_the_request_id() {
        let mut r = Refusal::unavailable("busy", 3);
        r.version = Some("churn@4".into());
        let resp = r.render(Shape::OneString, Some("req-9"));
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "3");
        assert_eq!(resp.headers()[VERSION_HEADER], "churn@4");
        assert_eq!(resp.headers()[REQUEST_ID_HEADER], "req-9");

        let bare = Refusal::not_found("no endpoint GET /nope").render(Shape::Listed, None);
        assert_eq!(bare.status(), StatusCode::NOT_FOUND);
        for h in [header::RETRY_AFTER.as_str(), VERSION_HEADER, REQUEST_ID_HEADER] {
            assert!(bare.headers().get(h).is_none(), "{h} only when there is something to say");
        }
        // A request id a header cannot carry is left out, and the answer still goes.
        let odd = Refusal::conflict("no rollout is running").render(Shape::Listed, Some("bad\nid"));
        assert_eq!(odd.status(), StatusCode::CONFLICT);
        assert!(odd.headers().get(REQUEST_ID_HEADER).is_none());
    }
}
