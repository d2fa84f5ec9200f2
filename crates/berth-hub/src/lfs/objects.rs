//! One object at a time: `PUT` stores it (spooled to a file and hashed as
//! it arrives, never held in memory; bytes that do not hash to the oid are
//! refused with 422 and nothing is stored), `GET` reads it back (verified by
//! the store as it is spooled out, with byte ranges so an interrupted
//! download resumes), and `verify` confirms an upload landed whole.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncSeekExt;

use super::LfsError;
use super::error::lfs_json;
use crate::Hub;
use crate::auth::Caller;
use crate::blobs::{self, Span};

type Answer = Result<Response, LfsError>;

pub(crate) async fn upload(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Extension(Caller(b)): Extension<Caller>,
    Path((r, o)): Path<(String, String)>,
    req: Body,
) -> Answer {
    let (repo, oid) = (super::repo(&r)?, super::oid(&o)?);
    // Refused before a byte of the body is read.
    b.lfs_may_upload(&repo)?;
    let spooled = blobs::spool_body(&hub, &headers, req).await?;
    let actual = spooled.digest;
    if actual != oid {
        return Err(LfsError::unprocessable(format!(
            "the body sent as object {} hashes to {}; nothing was stored. Send the object's exact bytes: \
             its oid is their SHA-256",
            oid.hex(),
            actual.hex()
        )));
    }
    let put = b.lfs_put(&repo, &oid, spooled.file.path()).await?;
    Ok(lfs_json(StatusCode::OK, &json!({"oid": oid.hex(), "size": put.object.size, "written": put.written})))
}

fn not_in(repo: &berth_core::ModelName, oid: &berth_core::Digest) -> LfsError {
    LfsError::new(
        StatusCode::NOT_FOUND,
        format!("object {} is not in Git LFS repository {repo}: push it there first", oid.hex()),
    )
}

pub(crate) async fn download(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Extension(Caller(b)): Extension<Caller>,
    Path((r, o)): Path<(String, String)>,
) -> Answer {
    let (repo, oid) = (super::repo(&r)?, super::oid(&o)?);
    let object = b.lfs_object(&repo, &oid).await?.ok_or_else(|| not_in(&repo, &oid))?;
    let etag = format!("\"{}\"", oid.hex());
    let size = object.size;
    let (status, start, len) = match blobs::span(&headers, &etag, size) {
        Span::Whole => (StatusCode::OK, 0, size),
        Span::Part(a, z) => (StatusCode::PARTIAL_CONTENT, a, z - a + 1),
        Span::Unsatisfiable => {
            let mut e = LfsError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("object {} has {size} bytes; the range asked for starts past its end", oid.hex()),
            )
            .into_response_with_size(size);
            e.headers_mut().insert(header::ETAG, header_text(&etag));
            return Ok(e);
        }
    };
    // The store verifies the blob as it copies it into the spool; only then
    // does a byte go out.
    let dir = hub.spool().await?;
    let spool = tempfile::TempDir::new_in(&dir).map_err(|e| blobs::spool_error(&dir, e))?;
    let dest = spool.path().join("object");
    b.lfs_get(&repo, &oid, &dest).await?.ok_or_else(|| not_in(&repo, &oid))?;
    let mut file = tokio::fs::File::open(&dest).await.map_err(|e| blobs::spool_error(&dir, e))?;
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(|e| blobs::spool_error(&dir, e))?;
    let mut answer = Response::new(Body::from_stream(blobs::stream_file(file, len, spool)));
    *answer.status_mut() = status;
    let h = answer.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, header_text(&len.to_string()));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, header_text(&etag));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(header::CONTENT_RANGE, header_text(&format!("bytes {start}-{}/{size}", start + len - 1)));
    }
    Ok(answer)
}

fn header_text(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("digests and numbers are header text")
}

impl LfsError {
    /// A 416 answer, with the object's size in `Content-Range` as HTTP asks.
    fn into_response_with_size(self, size: u64) -> Response {
        let mut r = axum::response::IntoResponse::into_response(self);
        r.headers_mut().insert(header::CONTENT_RANGE, header_text(&format!("bytes */{size}")));
        r
    }
}

/// What `git lfs` posts to the verify link after an upload.
#[derive(Deserialize)]
struct VerifyBody {
    oid: String,
    size: i64,
}

/// 200 when the repository holds the object with that size; 404 when it
/// does not hold it; 422 when it holds it with another size.
pub(crate) async fn verify(Extension(Caller(b)): Extension<Caller>, Path(r): Path<String>, req: Body) -> Answer {
    let repo = super::repo(&r)?;
    let body: VerifyBody = super::parse(req).await?;
    let oid = super::oid(&body.oid)?;
    let object = b.lfs_object(&repo, &oid).await?.ok_or_else(|| not_in(&repo, &oid))?;
    if i64::try_from(object.size).ok() != Some(body.size) {
        return Err(LfsError::unprocessable(format!(
            "object {} has {} bytes in repository {repo}, not {}; upload it again",
            oid.hex(),
            object.size,
            body.size
        )));
    }
    Ok(lfs_json(StatusCode::OK, &json!({"oid": oid.hex(), "size": object.size})))
}
