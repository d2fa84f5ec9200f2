//! Blobs through the hub: a push in three requests and a pull one file at a
//! time, so a client never needs the bucket's credentials.
//!
//! - `POST /models/{model}/uploads {"manifest"}` begins an upload and lists
//!   the blobs the store lacks;
//! - `PUT /uploads/{upload}/blobs/{digest}` sends one of them, the body
//!   spooled to a file (hashed as it is written, never held in memory) and a
//!   body that does not hash to `{digest}` refused with nothing stored;
//! - `POST /uploads/{upload}/commit` creates the version once every blob is in;
//! - `GET`/`HEAD /models/{model}/versions/{version}/files/{*path}` reads a
//!   file back, verified by the store as it is spooled out, with byte ranges
//!   so a broken download resumes.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use berth_core::{Digest, Lineage, Manifest, ModelName, Ref, Selector, VersionMeta};
use berth_service::{Hashed, UploadId, VersionFile};
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::Hub;
use crate::auth::Caller;
use crate::body;
use crate::error::ApiError;
use crate::routes::model;

type Answer = Result<Response, ApiError>;
type Hubs = State<Arc<Hub>>;

/// The header that carries a file's digest beside its `ETag`.
const DIGEST_HEADER: &str = "x-berth-digest";

/// Where the hub spools blobs and how large one may be.
#[derive(Debug, Clone)]
pub struct Uploads {
    /// Request bodies and downloads pass through temporary files here.
    pub spool: PathBuf,
    /// The largest blob a `PUT` accepts, in bytes (413 beyond it).
    pub max_blob: u64,
}

impl Default for Uploads {
    fn default() -> Uploads {
        Uploads { spool: std::env::temp_dir().join("berth-hub-spool"), max_blob: 64 << 30 }
    }
}

impl Hub {
    /// Sets where blobs are spooled and how large one may be; call it before
    /// serving (once the hub has used its defaults, they stay).
    pub fn with_uploads(self: Arc<Hub>, uploads: Uploads) -> Arc<Hub> {
        if self.uploads.set(uploads).is_err() {
            tracing::warn!("the hub's upload settings were already in use; the new ones are ignored");
        }
        self
    }

    pub(crate) fn uploads(&self) -> &Uploads {
        self.uploads.get_or_init(Uploads::default)
    }

    /// The spool directory, created when missing.
    pub(crate) async fn spool(&self) -> Result<PathBuf, ApiError> {
        let dir = self.uploads().spool.clone();
        tokio::fs::create_dir_all(&dir).await.map_err(|e| spool_error(&dir, e))?;
        Ok(dir)
    }
}

pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/models/{model}/uploads", post(begin))
        .route("/uploads/{upload}/blobs/{digest}", put(put_blob))
        .route("/uploads/{upload}/commit", post(commit))
        .route("/models/{model}/versions/{version}/files/{*path}", get(download).head(head))
        .layer(DefaultBodyLimit::disable())
}

pub(crate) fn spool_error(dir: &std::path::Path, e: std::io::Error) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the hub cannot use its spool directory {}: {e}", dir.display()),
        Some("an operator must make the spool directory writable and give it space".into()),
    )
}

fn upload_id(s: &str) -> Result<UploadId, ApiError> {
    s.parse::<i64>().map(UploadId).map_err(|_| {
        ApiError::bad_input(
            format!("{s:?} is not an upload id"),
            "use the `upload` number that beginning the upload answered",
        )
    })
}

fn digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s)
        .map_err(|e| ApiError::bad_input(e.to_string(), "name the blob as sha256:<64 lowercase hex digits>"))
}

pub(crate) fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the blob is over this hub's limit of {limit} bytes"),
        Some("ask the hub's operator to raise the limit on blob size".into()),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BeginBody {
    manifest: Manifest,
}

async fn begin(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, req: Body) -> Answer {
    let m = model(&m)?;
    let req: BeginBody = body::parse(req).await?;
    Ok(body::json(StatusCode::CREATED, &b.push_begin(&m, &req.manifest).await?))
}

async fn put_blob(
    State(hub): Hubs,
    headers: HeaderMap,
    Extension(Caller(b)): Extension<Caller>,
    Path((u, d)): Path<(String, String)>,
    req: Body,
) -> Answer {
    let (upload, expected) = (upload_id(&u)?, digest(&d)?);
    // Refused before a byte of the body is read.
    b.upload_accepts(upload, &expected).await?;
    let spooled = spool_body(&hub, &headers, req).await?;
    let actual = spooled.digest;
    if actual != expected {
        return Err(ApiError::bad_input(
            format!("the body sent as blob {expected} hashes to {actual}; nothing was stored"),
            "send the blob's exact bytes: the digest in the path must be the SHA-256 of the body",
        ));
    }
    let put = b.put_received_blob(upload, spooled.hashed()).await?;
    let status = if put.written { StatusCode::CREATED } else { StatusCode::OK };
    Ok(body::json(status, &put))
}

/// A request body spooled to a file in the hub's spool directory, hashed
/// on the way in; the file is removed when this is dropped, unless a local
/// store took it.
pub(crate) struct Spooled {
    pub file: tempfile::NamedTempFile,
    pub digest: Digest,
    pub size: u64,
}

impl Spooled {
    pub fn hashed(&self) -> Hashed<'_> {
        Hashed { path: self.file.path(), digest: self.digest, size: self.size }
    }
}

/// Spools `body` within the hub's blob limit: a declared length over it is
/// refused before a byte is read, a body that grows past it as it arrives.
pub(crate) async fn spool_body(hub: &Hub, headers: &HeaderMap, body: Body) -> Result<Spooled, ApiError> {
    let limit = hub.uploads().max_blob;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let dir = hub.spool().await?;
    let file = tempfile::NamedTempFile::new_in(&dir).map_err(|e| spool_error(&dir, e))?;
    let digest = receive(body, &file, limit).await?;
    let size = file.as_file().metadata().map_err(|e| spool_error(&dir, e))?.len();
    Ok(Spooled { file, digest, size })
}

/// How much of a body is gathered before it is written to the spool.
const WRITE_BUFFER: usize = 1 << 20;

/// Writes the body to `spooled`, hashing it on the way; returns its digest.
pub(crate) async fn receive(req: Body, spooled: &tempfile::NamedTempFile, limit: u64) -> Result<Digest, ApiError> {
    let path = spooled.path();
    let io = |e: std::io::Error| spool_error(path.parent().unwrap_or(path), e);
    // Writes of a megabyte at a time: each write of tokio's file is a trip to
    // the blocking pool, and a body arrives in pieces of some kilobytes.
    let mut file = tokio::io::BufWriter::with_capacity(
        WRITE_BUFFER,
        tokio::fs::File::from_std(spooled.as_file().try_clone().map_err(io)?),
    );
    let mut hasher = berth_core::Sha256Hasher::new();
    let mut size = 0u64;
    let mut stream = req.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::malformed(format!("the body ended before it was complete: {e}"), "send the blob again")
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large(limit));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(hasher.finish())
}

/// A version's metadata as a commit gives it; every field may be left out.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct MetaBody {
    format: Option<String>,
    signature: Option<serde_json::Value>,
    params: std::collections::BTreeMap<String, String>,
    metrics: std::collections::BTreeMap<String, f64>,
    tags: std::collections::BTreeMap<String, String>,
    description: Option<String>,
    lineage: Lineage,
}

impl From<MetaBody> for VersionMeta {
    fn from(m: MetaBody) -> VersionMeta {
        VersionMeta {
            format: m.format,
            signature: m.signature,
            params: m.params,
            metrics: m.metrics,
            tags: m.tags,
            description: m.description,
            lineage: m.lineage,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitBody {
    model: String,
    manifest: Manifest,
    #[serde(default)]
    meta: MetaBody,
    #[serde(default)]
    if_changed: bool,
}

async fn commit(Extension(Caller(b)): Extension<Caller>, Path(u): Path<String>, req: Body) -> Answer {
    let upload = upload_id(&u)?;
    let req: CommitBody = body::parse(req).await?;
    let m = model(&req.model)?;
    let report = b.push_commit(upload, &m, &req.manifest, req.meta.into(), req.if_changed).await?;
    let status = if report.unchanged { StatusCode::OK } else { StatusCode::CREATED };
    Ok(body::json(status, &report))
}

/// `{model}` and `{version}` (a number, an alias or `latest`) as a ref.
fn reference(m: &str, v: &str) -> Result<(ModelName, Ref), ApiError> {
    let name = model(m)?;
    let r = Ref::parse(&format!("{m}@{v}"))
        .map_err(|e| ApiError::bad_input(e.to_string(), "a version is a number, an alias or `latest`"))?;
    Ok((name, r))
}

/// Which bytes of a file of `size` bytes a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Span {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    /// Starts at or past the end.
    Unsatisfiable,
}

/// Reads `Range` (one `bytes=` range: `N-`, `N-M` or `-S`); anything else,
/// several ranges included, is answered with the whole file, as HTTP allows.
/// An `If-Range` that does not match the file's ETag asks for the whole file.
pub(crate) fn span(headers: &HeaderMap, etag: &str, size: u64) -> Span {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Span::Whole };
    if let Some(cond) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok())
        && cond.trim() != etag
    {
        return Span::Whole;
    }
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return Span::Whole };
    if spec.contains(',') {
        return Span::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else { return Span::Whole };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Span::Whole,
        (true, false) => match num(b) {
            None => Span::Whole,
            Some(0) => Span::Unsatisfiable,
            Some(_) if size == 0 => Span::Unsatisfiable,
            Some(n) => Span::Part(size.saturating_sub(n), size - 1),
        },
        (false, _) => {
            let Some(start) = num(a) else { return Span::Whole };
            let end = if b.is_empty() { Some(u64::MAX) } else { num(b) };
            match end {
                None => Span::Whole,
                Some(end) if end < start => Span::Whole,
                Some(_) if start >= size => Span::Unsatisfiable,
                Some(end) => Span::Part(start, end.min(size - 1)),
            }
        }
    }
}

/// The answer's status and headers for `f` and the span asked for.
fn head_of(f: &VersionFile, span: &Span, etag: &str) -> Response {
    let mut r = Response::new(Body::empty());
    let h = r.headers_mut();
    let value = |s: String| HeaderValue::from_str(&s).expect("digests and numbers are header text");
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, value(etag.to_string()));
    h.insert(DIGEST_HEADER, value(f.digest.to_string()));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    match span {
        Span::Whole => {
            h.insert(header::CONTENT_LENGTH, value(f.size.to_string()));
        }
        Span::Part(a, b) => {
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = r.headers_mut();
            h.insert(header::CONTENT_LENGTH, value((b - a + 1).to_string()));
            h.insert(header::CONTENT_RANGE, value(format!("bytes {a}-{b}/{}", f.size)));
        }
        Span::Unsatisfiable => return unsatisfiable(f, etag),
    }
    r
}

/// 416, with the file's size in `Content-Range` as HTTP asks.
fn unsatisfiable(f: &VersionFile, etag: &str) -> Response {
    let mut r = ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "bad_range",
        format!("{}@{} {} has {} bytes; the range asked for starts past its end", f.model, f.version, f.path, f.size),
        Some(format!("ask for a range within bytes 0-{}", f.size.saturating_sub(1))),
    )
    .into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{}", f.size)).expect("header text"));
    h.insert(header::ETAG, HeaderValue::from_str(etag).expect("a digest is header text"));
    r
}

fn no_such_file(r: &Ref, path: &str) -> ApiError {
    ApiError::not_found(
        format!("{r} has no file {path:?}"),
        format!("`GET /api/v1/models/{}/versions/VERSION` lists a version's files", r.model),
    )
}

fn etag_of(f: &VersionFile) -> String {
    format!("\"{}\"", f.digest)
}

async fn head(
    headers: HeaderMap,
    Extension(Caller(b)): Extension<Caller>,
    Path((m, v, path)): Path<(String, String, String)>,
) -> Answer {
    let (_, r) = reference(&m, &v)?;
    let f = b.version_file_info(&r, &path).await?.ok_or_else(|| no_such_file(&r, &path))?;
    let etag = etag_of(&f);
    Ok(head_of(&f, &span(&headers, &etag, f.size), &etag))
}

async fn download(
    State(hub): Hubs,
    headers: HeaderMap,
    Extension(Caller(b)): Extension<Caller>,
    Path((m, v, path)): Path<(String, String, String)>,
) -> Answer {
    let (name, r) = reference(&m, &v)?;
    let f = b.version_file_info(&r, &path).await?.ok_or_else(|| no_such_file(&r, &path))?;
    let etag = etag_of(&f);
    let span = span(&headers, &etag, f.size);
    let mut answer = head_of(&f, &span, &etag);
    let (start, len) = match span {
        Span::Whole => (0, f.size),
        Span::Part(a, b) => (a, b - a + 1),
        Span::Unsatisfiable => return Ok(answer),
    };
    // The store verifies the blob as it copies it into the spool; only then
    // does a byte go out. The version is pinned by number, so an alias moved
    // in between cannot change which file this is.
    let dir = hub.spool().await?;
    let spool = tempfile::TempDir::new_in(&dir).map_err(|e| spool_error(&dir, e))?;
    let dest = spool.path().join("blob");
    let pinned = Ref { model: name, selector: Selector::Version(f.version) };
    b.open_version_file(&pinned, &f.path, &dest).await?.ok_or_else(|| no_such_file(&r, &path))?;
    let mut file = tokio::fs::File::open(&dest).await.map_err(|e| spool_error(&dir, e))?;
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(|e| spool_error(&dir, e))?;
    *answer.body_mut() = Body::from_stream(stream_file(file, len, spool));
    Ok(answer)
}

/// `len` bytes of `file` from where it stands, in chunks; `spool` (the
/// directory holding it) lives until the last chunk is sent.
pub(crate) fn stream_file(
    file: tokio::fs::File,
    len: u64,
    spool: tempfile::TempDir,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    const CHUNK: u64 = 1 << 20;
    futures::stream::unfold((file, len, Some(spool)), |(mut file, left, spool)| async move {
        if left == 0 {
            drop(spool);
            return None;
        }
        let mut buf = vec![0u8; left.min(CHUNK) as usize];
        match file.read(&mut buf).await {
            Ok(0) => Some((
                Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the spooled file ended early")),
                (file, 0, spool),
            )),
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), (file, left - n as u64, spool)))
            }
            Err(e) => Some((Err(e), (file, 0, spool))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranged(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn ranges_are_read_as_http_says() {
        let e = "\"x\"";
        assert_eq!(span(&HeaderMap::new(), e, 10), Span::Whole);
        assert_eq!(span(&ranged("bytes=5-"), e, 10), Span::Part(5, 9));
        assert_eq!(span(&ranged("bytes=2-4"), e, 10), Span::Part(2, 4));
        assert_eq!(span(&ranged("bytes=2-400"), e, 10), Span::Part(2, 9), "the end is clamped");
        assert_eq!(span(&ranged("bytes=-3"), e, 10), Span::Part(7, 9));
        assert_eq!(span(&ranged("bytes=-30"), e, 10), Span::Part(0, 9));
        assert_eq!(span(&ranged("bytes=10-"), e, 10), Span::Unsatisfiable);
        assert_eq!(span(&ranged("bytes=0-"), e, 0), Span::Unsatisfiable);
        assert_eq!(span(&ranged("bytes=4-2"), e, 10), Span::Whole, "an invalid range is ignored");
        assert_eq!(span(&ranged("bytes=0-1,4-5"), e, 10), Span::Whole, "several ranges: the whole file");
        assert_eq!(span(&ranged("items=0-1"), e, 10), Span::Whole);
        let mut h = ranged("bytes=5-");
        h.insert(header::IF_RANGE, HeaderValue::from_static("\"other\""));
        assert_eq!(span(&h, e, 10), Span::Whole, "a stale If-Range gets the whole file");
        h.insert(header::IF_RANGE, HeaderValue::from_static("\"x\""));
        assert_eq!(span(&h, e, 10), Span::Part(5, 9));
    }
}
