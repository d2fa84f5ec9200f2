//! Prediction-log segments through the hub: a server with
//! `--prediction-log-to-store` sends each segment it wrote (the publisher
//! role on its model), and a monitor anywhere lists them and reads those it
//! lacks (the reader role), so every replica's traffic reaches one monitor
//! without a shared volume.
//!
//! - `PUT /models/{model}/log-segments/{name}`: the segment's bytes (201, or
//!   200 when the name already held them; 409 for other bytes under it);
//! - `GET /models/{model}/log-segments`: the segments, in name order;
//! - `GET /models/{model}/log-segments/{name}`: one segment's bytes, read
//!   back verified, with its digest in `x-berth-digest`.

use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use berth_service::log_store::{MAX_SEGMENT_BYTES, segment_name_problem};
use serde_json::json;

use crate::auth::Caller;
use crate::body::{self, ok};
use crate::error::ApiError;
use crate::routes::{Answer, model};

pub(crate) async fn put(
    Extension(Caller(b)): Extension<Caller>,
    Path((m, name)): Path<(String, String)>,
    body: Body,
) -> Answer {
    let m = model(&m)?;
    // Refused before the body is read: the role, then the name.
    b.allow(berth_core::Role::Publisher, Some(&m), None)?;
    if let Some(why) = segment_name_problem(&m, &name) {
        return Err(ApiError::bad_input(why, "send the segment under the file name the server gave it"));
    }
    let bytes =
        body::read(body, MAX_SEGMENT_BYTES as usize, "rotate the prediction log more often (--prediction-log-rotate)")
            .await?;
    let put = b.put_log_segment(&m, &name, Vec::from(bytes)).await?;
    let status = if put.recorded { StatusCode::CREATED } else { StatusCode::OK };
    Ok(body::json(status, &put))
}

pub(crate) async fn list(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>) -> Answer {
    let m = model(&m)?;
    Ok(ok(&json!({"log_segments": b.log_segments(&m).await?})))
}

pub(crate) async fn get(Extension(Caller(b)): Extension<Caller>, Path((m, name)): Path<(String, String)>) -> Answer {
    let m = model(&m)?;
    let Some((s, bytes)) = b.log_segment(&m, &name).await? else {
        return Err(ApiError::not_found(
            format!("{m} has no prediction-log segment {name:?} in the store"),
            format!("list them with GET /api/v1/models/{m}/log-segments"),
        ));
    };
    let mut r = Response::new(Body::from(bytes));
    let headers = r.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Ok(d) = HeaderValue::from_str(&s.digest.to_string()) {
        headers.insert("x-berth-digest", d);
    }
    Ok(r)
}
