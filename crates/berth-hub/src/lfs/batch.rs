//! `POST /lfs/{repo}/objects/batch`: what to do with each object. The answer
//! is 200 whenever the request itself is sound, each object carrying either
//! its `actions` (where to `download` it, or where to `upload` it and then
//! `verify`), no actions at all (an upload the repository holds already), or
//! an `error` with an HTTP-like code (404 a download the repository lacks,
//! 422 an oid or size that cannot be right, 409 a hash other than SHA-256).
//! Links point back at this hub, the way the request reached it, and carry
//! no credentials: the client authenticates each transfer as it did the batch.

use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use berth_core::Digest;
use berth_service::{LfsObjectState, LfsOperation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::lfs_json;
use super::{LfsError, OverTls};
use crate::auth::Caller;

/// The most objects one batch may ask about (`git lfs` sends 100).
const MAX_OBJECTS: usize = 1000;

/// How long a link stays good, in seconds. The links carry no credentials,
/// so this only bounds how long a client may hold on to one.
const EXPIRES_IN: u64 = 3600;

/// A batch request. Unknown fields are ignored: Git LFS adds fields over
/// time and a server must accept them.
#[derive(Deserialize)]
struct BatchRequest {
    operation: String,
    #[serde(default)]
    transfers: Option<Vec<String>>,
    objects: Vec<BatchObject>,
    #[serde(default)]
    hash_algo: Option<String>,
}

#[derive(Deserialize)]
struct BatchObject {
    oid: String,
    size: i64,
}

pub(crate) async fn batch(
    headers: HeaderMap,
    tls: Option<Extension<OverTls>>,
    Extension(Caller(b)): Extension<Caller>,
    Path(r): Path<String>,
    req: Body,
) -> Result<Response, LfsError> {
    let repo = super::repo(&r)?;
    let req: BatchRequest = super::parse(req).await?;
    let op = operation(&req.operation)?;
    if let Some(t) = &req.transfers
        && !t.iter().any(|t| t == "basic")
    {
        return Err(LfsError::unprocessable(format!(
            "this hub offers the `basic` transfer adapter only; the request offers {}",
            if t.is_empty() { "none".to_string() } else { t.join(", ") }
        )));
    }
    if req.objects.len() > MAX_OBJECTS {
        return Err(LfsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the batch asks about {} objects; this hub takes at most {MAX_OBJECTS} (set lfs.transfer.batchSize lower)",
                req.objects.len()
            ),
        ));
    }
    let base = format!("{}/lfs/{repo}/objects", origin(&headers, tls.is_some())?);
    let sha256 = req.hash_algo.as_deref().is_none_or(|h| h == "sha256");
    // Each object is checked on its own; the sound ones go to the service together.
    let checked: Vec<Result<(Digest, u64), (u16, String)>> = req
        .objects
        .iter()
        .map(|o| {
            if !sha256 {
                let algo = req.hash_algo.as_deref().unwrap_or_default();
                return Err((409, format!("this hub names objects by sha256, not {algo}")));
            }
            let oid = super::oid(&o.oid).map_err(|e| (422, e.message))?;
            let size = u64::try_from(o.size).map_err(|_| (422, format!("size {} is below zero", o.size)))?;
            Ok((oid, size))
        })
        .collect();
    let sound: Vec<(Digest, u64)> = checked.iter().filter_map(|c| c.as_ref().ok().copied()).collect();
    let mut states = b.lfs_batch(&repo, op, &sound).await?.into_iter();
    let objects: Vec<Value> = req
        .objects
        .iter()
        .zip(&checked)
        .map(|(o, c)| {
            let mut answer = json!({"oid": o.oid, "size": o.size});
            match c {
                Err((code, message)) => answer["error"] = json!({"code": code, "message": message}),
                Ok((oid, _)) => match states.next() {
                    Some(state) => describe(&mut answer, state, &base, oid, &repo),
                    // The service answers once per object asked about; never reached.
                    None => answer["error"] = json!({"code": 500, "message": "the hub gave this object no answer"}),
                },
            }
            answer
        })
        .collect();
    Ok(lfs_json(StatusCode::OK, &json!({"transfer": "basic", "objects": objects, "hash_algo": "sha256"})))
}

fn operation(s: &str) -> Result<LfsOperation, LfsError> {
    match s {
        "download" => Ok(LfsOperation::Download),
        "upload" => Ok(LfsOperation::Upload),
        other => Err(LfsError::unprocessable(format!("operation {other:?} is neither \"download\" nor \"upload\""))),
    }
}

/// Fills in an object's actions or error from what the repository can do with it.
fn describe(answer: &mut Value, state: LfsObjectState, base: &str, oid: &Digest, repo: &berth_core::ModelName) {
    let link = |href: String| json!({"href": href, "expires_in": EXPIRES_IN});
    let object = format!("{base}/{}", oid.hex());
    match state {
        LfsObjectState::Ready => answer["actions"] = json!({"download": link(object)}),
        LfsObjectState::Wanted => {
            answer["actions"] = json!({"upload": link(object), "verify": link(format!("{base}/verify"))})
        }
        LfsObjectState::Stored => {}
        LfsObjectState::Missing => {
            answer["error"] = json!({
                "code": 404,
                "message": format!("object {} is not in repository {repo}: push it first", oid.hex()),
            })
        }
        LfsObjectState::OtherSize { size } => {
            answer["error"] = json!({
                "code": 422,
                "message": format!("object {} has {size} bytes in repository {repo}, not {}", oid.hex(), answer["size"]),
            })
        }
    }
}

/// `scheme://host[:port]` as the client reached the hub: the `Host` header
/// (or `X-Forwarded-Host`), `https` when the request came over TLS (or
/// `X-Forwarded-Proto` says so).
fn origin(headers: &HeaderMap, tls: bool) -> Result<String, LfsError> {
    let text =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.split(',').next().unwrap_or("").trim());
    let scheme = match text("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ if tls => "https",
        _ => "http",
    };
    let host = text("x-forwarded-host").or_else(|| text(header::HOST.as_str())).unwrap_or("");
    let sound = !host.is_empty() && host.bytes().all(|c| c.is_ascii_alphanumeric() || b".-:[]_".contains(&c));
    if !sound {
        return Err(LfsError::new(
            StatusCode::BAD_REQUEST,
            format!("the request's Host header ({host:?}) is not a host name; send the host the hub was reached at"),
        ));
    }
    Ok(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn links_point_back_the_way_the_request_came() {
        assert_eq!(origin(&headers(&[("host", "hub:8080")]), false).unwrap(), "http://hub:8080");
        assert_eq!(origin(&headers(&[("host", "hub")]), true).unwrap(), "https://hub");
        let proxied =
            headers(&[("host", "10.0.0.1:80"), ("x-forwarded-host", "hub.example"), ("x-forwarded-proto", "https")]);
        assert_eq!(origin(&proxied, false).unwrap(), "https://hub.example");
        assert_eq!(origin(&headers(&[("host", "[::1]:9")]), false).unwrap(), "http://[::1]:9");
        for bad in [headers(&[]), headers(&[("host", "a/b")]), headers(&[("host", "a b")])] {
            assert_eq!(origin(&bad, false).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn each_state_becomes_actions_or_an_error() {
        let oid = Digest::of(b"x");
        let repo = berth_core::ModelName::parse("churn").unwrap();
        let base = "http://h/lfs/churn/objects";
        let answer = |state| {
            let mut a = json!({"oid": oid.hex(), "size": 1});
            describe(&mut a, state, base, &oid, &repo);
            a
        };
        let ready = answer(LfsObjectState::Ready);
        assert_eq!(ready["actions"]["download"]["href"], format!("{base}/{}", oid.hex()));
        assert_eq!(ready["actions"]["download"]["expires_in"], EXPIRES_IN);
        let wanted = answer(LfsObjectState::Wanted);
        assert_eq!(wanted["actions"]["upload"]["href"], format!("{base}/{}", oid.hex()));
        assert_eq!(wanted["actions"]["verify"]["href"], format!("{base}/verify"));
        let stored = answer(LfsObjectState::Stored);
        assert!(stored.get("actions").is_none() && stored.get("error").is_none(), "{stored}");
        assert_eq!(answer(LfsObjectState::Missing)["error"]["code"], 404);
        let other = answer(LfsObjectState::OtherSize { size: 7 });
        assert_eq!(other["error"]["code"], 422);
        assert!(other["error"]["message"].as_str().unwrap().contains("has 7 bytes"), "{other}");
    }
}
