//! Push and pull through a hub, one file per request, never a whole file in
//! memory. A push hashes the files here (as a local push does), begins an
//! upload, streams each blob the hub lacks straight from its file, checking
//! on the way that the bytes are still the ones hashed, and commits. A pull
//! reads the version's files from the hub, checks that they are the manifest
//! the version names, and streams each file into a partial file beside its
//! destination, hashing as it writes; only bytes of the right digest are
//! renamed into place. A partial file left by a broken pull is resumed with
//! `Range: bytes=N-` (and `If-Range` on the file's ETag, so a hub that
//! serves other bytes sends the whole file instead).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_core::{Digest, Manifest, ManifestEntry, ModelName, Ref, RelPath, Role, Sha256Hasher, VersionRecord};
use berth_store::Progress;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::{Frame, Incoming};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::hub_client::{HubClient, refusal, url_escape};
use crate::predict::{cached_model, model_entry};
use crate::pull::{Pulled, destination, plan};
use crate::push::{LocalFile, PointerFile, Prepared, pointers_present, prepare, push_model, refuse_absent};
use crate::seam::Operations;
use crate::{
    ErrorKind, ModelFile, NoTransfer, PullReport, PushOptions, PushReport, PushRequest, Result, ServiceError, ShowFile,
    Transfer, UploadId,
};

/// Files sent or fetched at once.
const JOBS: usize = 4;
/// The most read from a file for one piece of a request body.
const CHUNK: usize = 256 << 10;
/// How long a transfer waits for the hub's next bytes or its answer to a small request.
const IDLE: Duration = Duration::from_secs(60);

/// The answer to beginning an upload (its expiry is not needed here).
#[derive(Deserialize)]
struct Begun {
    upload: UploadId,
    missing: Vec<Digest>,
}

/// The answer to one blob sent.
#[derive(Deserialize)]
struct Put {
    written: bool,
    #[serde(default)]
    repaired: bool,
}

/// The answer to a commit: the service's `CommitReport`, the fields a push reports.
#[derive(Deserialize)]
struct Committed {
    #[serde(rename = "ref")]
    reference: String,
    version: VersionRecord,
    identical_to: Option<String>,
    unchanged: bool,
    #[serde(default)]
    manifest_repaired: bool,
}

pub(crate) fn unreadable(url: &str, path: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Infra {
        message: format!("{url}{path} answered something this berth cannot read: {e}"),
        hint: Some("run the same berth version as the hub".into()),
    }
}

/// An answer's body as JSON (null when empty, a string when it is not JSON).
pub(crate) async fn answer_json(resp: hyper::Response<Incoming>, url: &str, path: &str) -> Result<Value> {
    let body = tokio::time::timeout(IDLE, resp.into_body().collect())
        .await
        .map_err(|_| ServiceError::Infra {
            message: format!("{url}{path}: no answer within {IDLE:?}"),
            hint: Some("check that the hub is running and reachable, then run the command again".into()),
        })?
        .map_err(|e| ServiceError::Infra {
            message: format!("{url}{path}: the answer broke off: {e}"),
            hint: Some("check that the hub is running and reachable, then run the command again".into()),
        })?
        .to_bytes();
    if body.is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())))
}

/// `berth push` through the hub.
pub(crate) async fn push(
    hub: &HubClient,
    req: PushRequest,
    opts: &PushOptions,
    transfer: &dyn Transfer,
) -> Result<PushReport> {
    let started = Instant::now();
    let model = push_model(&req)?;
    refuse_unless_publisher(hub, &model).await?;
    let mut stat = hub.stat_cache();
    let prepared = prepare(&model, &req.paths, opts, &stat, JOBS, transfer).await?;
    let Prepared { files, pointers, manifest, total, hashes_cached, git_warnings } = prepared;
    pointers_on_hub(hub, &model, &pointers).await?;
    let begun: Begun =
        hub.call("POST", &format!("/models/{model}/uploads"), Some(json!({ "manifest": manifest }))).await?;
    pointers_present(&pointers, &begun.missing, &format!("the hub {}", hub.url), &model)?;
    // One file for each blob the hub lacks: files with the same bytes go once.
    let mut sends: Vec<&LocalFile> = Vec::with_capacity(begun.missing.len());
    for d in &begun.missing {
        let f = files.iter().find(|f| f.digest == *d).ok_or_else(|| ServiceError::Infra {
            message: format!("{}: upload {} asks for blob {d}, which is no file of this push", hub.url, begun.upload),
            hint: Some("run the same berth version as the hub".into()),
        })?;
        sends.push(f);
    }
    let to_send: u64 = sends.iter().map(|f| f.size).sum();
    let progress = transfer.begin(&format!("push {model}"), to_send);
    let upload = begun.upload;
    let puts: Vec<_> = sends.iter().map(|f| put_blob(hub, upload, f, progress.clone())).collect();
    let results: Vec<Result<Put>> = futures::stream::iter(puts).buffered(JOBS).collect().await;
    transfer.finish();
    let (mut written, mut repaired) = (0, 0);
    for r in results {
        let put = r?;
        written += usize::from(put.written);
        repaired += usize::from(put.repaired);
    }
    for f in &files {
        stat.record(&f.path, f.digest);
    }
    if let Err(e) = stat.save() {
        tracing::warn!("could not save the stat cache: {e}");
    }
    let body = json!({"model": model, "manifest": manifest, "meta": req.meta, "if_changed": opts.if_changed});
    let c: Committed = hub.call("POST", &format!("/uploads/{upload}/commit"), Some(body)).await?;
    Ok(PushReport {
        reference: c.reference,
        version: c.version,
        files: files.len() + pointers.len(),
        bytes: total,
        blobs_written: written,
        blobs_skipped: files.len() + pointers.len() - written,
        blobs_repaired: repaired + usize::from(c.manifest_repaired),
        identical_to: c.identical_to,
        unchanged: c.unchanged,
        hashes_cached,
        seconds: started.elapsed().as_secs_f64(),
        git_warnings,
    })
}

/// Refuses pointers whose objects the hub's Git LFS repository of `model`
/// does not hold, asked through its batch API before an upload is begun
/// (so a refused push leaves no upload open on the hub).
async fn pointers_on_hub(hub: &HubClient, model: &ModelName, pointers: &[PointerFile]) -> Result<()> {
    if pointers.is_empty() {
        return Ok(());
    }
    let objects: Vec<Value> =
        pointers.iter().map(|p| json!({"oid": p.pointer.oid.hex(), "size": p.pointer.size})).collect();
    let body = json!({"operation": "download", "transfers": ["basic"], "objects": objects});
    let path = format!("/lfs/{model}/objects/batch");
    let (status, answer) = hub.endpoint.request("POST", &path, Some(&body)).await?;
    if status >= 400 {
        let kind = match status {
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::Denied,
            404 => ErrorKind::NotFound,
            422 => ErrorKind::BadInput,
            _ => ErrorKind::Unavailable,
        };
        let said = answer["message"].as_str().unwrap_or("no message");
        return Err(ServiceError::Remote {
            kind,
            message: format!("{}{path} answered {status}: {said}", hub.url),
            hint: Some("check that the hub serves Git LFS and that the token may read the model".into()),
        });
    }
    let answered = answer["objects"].as_array().map(Vec::as_slice).unwrap_or_default();
    let absent: Vec<&PointerFile> = pointers
        .iter()
        .filter(|p| {
            let hex = p.pointer.oid.hex();
            !answered.iter().any(|o| o["oid"] == hex.as_str() && o.get("error").is_none() && o.get("actions").is_some())
        })
        .collect();
    refuse_absent(&absent, &format!("the hub's Git LFS repository {}/lfs/{model}", hub.url), model)
}

/// Asks the hub who the token is and refuses a push it cannot make, before
/// any file is hashed: the hub would refuse it once the hashing was done.
async fn refuse_unless_publisher(hub: &HubClient, model: &ModelName) -> Result<()> {
    let me = hub.whoami().await?;
    if me.grant.allows(Role::Publisher, Some(model), None) {
        return Ok(());
    }
    Err(ServiceError::Denied {
        message: format!("{} may not publish {model}: that needs the publisher role on {model}", me.describe()),
        hint: Some(format!(
            "ask an admin for a token made with `berth token create --principal {} --role publisher --models {model}`",
            me.name
        )),
        missing: Vec::new(),
    })
}

/// Sends one blob from its file, streamed.
async fn put_blob(hub: &HubClient, upload: UploadId, f: &LocalFile, progress: Arc<dyn Progress>) -> Result<Put> {
    let path = format!("/api/v1/uploads/{upload}/blobs/{}", f.digest);
    let file = tokio::fs::File::open(&f.path).await.map_err(|e| {
        ServiceError::input(
            format!("{}: cannot read: {e}", f.path.display()),
            Some("check that the file is still there and readable, then push again".into()),
        )
    })?;
    let failure = Arc::new(Mutex::new(None));
    let body = StreamBody::new(file_body(file, f, progress, failure.clone()));
    let headers = [("content-type", "application/octet-stream".to_string()), ("content-length", f.size.to_string())];
    let sent = hub.endpoint.send_streaming("PUT", &path, &headers, body).await;
    if let Some(why) = failure.lock().expect("the body's failure slot").take() {
        return Err(why);
    }
    let resp = sent?;
    let status = resp.status().as_u16();
    let answer = answer_json(resp, &hub.url, &path).await?;
    if status >= 400 {
        return Err(refusal(status, &answer, &hub.url));
    }
    serde_json::from_value(answer).map_err(|e| unreadable(&hub.url, &path, e))
}

/// The `f.size` bytes of `file` as a request body, hashed on the way: bytes
/// that are not the ones `f` was hashed to (the file changed since) end the
/// body with an error, put in `failure`, so the hub stores nothing.
fn file_body(
    file: tokio::fs::File,
    f: &LocalFile,
    progress: Arc<dyn Progress>,
    failure: Arc<Mutex<Option<ServiceError>>>,
) -> impl futures::Stream<Item = std::io::Result<Frame<Bytes>>> + Send + 'static {
    struct State {
        file: tokio::fs::File,
        left: u64,
        hasher: Option<Sha256Hasher>,
        shown: PathBuf,
        expected: Digest,
        progress: Arc<dyn Progress>,
        failure: Arc<Mutex<Option<ServiceError>>>,
    }
    let changed = |s: &State, why: String| {
        let e = ServiceError::input(
            format!("{} changed while it was being pushed: {why}", s.shown.display()),
            Some("push again once nothing is writing to the file; the hub stored none of these bytes".into()),
        );
        *s.failure.lock().expect("the body's failure slot") = Some(e);
        std::io::Error::other(format!("{} changed while it was being pushed", s.shown.display()))
    };
    let state = State {
        file,
        left: f.size,
        hasher: Some(Sha256Hasher::new()),
        shown: f.path.clone(),
        expected: f.digest,
        progress,
        failure,
    };
    futures::stream::unfold(state, move |mut s| async move {
        let hasher = s.hasher.as_mut()?;
        if s.left == 0 {
            let actual = s.hasher.take().expect("checked above").finish();
            if actual == s.expected {
                return None;
            }
            let e = changed(&s, format!("it was hashed to {} and now reads as {actual}", s.expected));
            return Some((Err(e), s));
        }
        let mut buf = vec![0u8; (s.left as usize).min(CHUNK)];
        match s.file.read(&mut buf).await {
            Ok(0) => {
                s.hasher = None;
                let e = changed(&s, format!("it ended {} bytes short of its size when hashed", s.left));
                Some((Err(e), s))
            }
            Ok(n) => {
                buf.truncate(n);
                hasher.update(&buf);
                s.left -= n as u64;
                s.progress.advance(n as u64);
                Some((Ok(Frame::data(Bytes::from(buf))), s))
            }
            Err(e) => {
                s.hasher = None;
                let shown = s.shown.display().to_string();
                *s.failure.lock().expect("the body's failure slot") = Some(ServiceError::input(
                    format!("{shown}: cannot read: {e}"),
                    Some("check that the file is still there and readable, then push again".into()),
                ));
                Some((Err(e), s))
            }
        }
    })
}

/// The manifest of version `reference` from the files the hub lists for
/// it, refused when it is not `named`, the manifest the version names.
fn manifest_of(listed: &[ShowFile], named: Digest, reference: &str, url: &str) -> Result<Manifest> {
    let bad = |what: String| ServiceError::Corrupt {
        message: format!("{url}: the files listed for {reference} {what}"),
        hint: Some("ask the hub's operator to run `berth fsck` where the registry is".into()),
    };
    let mut files = BTreeMap::new();
    for f in listed {
        let rel =
            RelPath::parse(&f.path).map_err(|e| bad(format!("include {:?}, which berth refuses: {e}", f.path)))?;
        let digest =
            Digest::parse(&f.digest).map_err(|e| bad(format!("give {:?} the digest {:?}: {e}", f.path, f.digest)))?;
        files.insert(rel, ManifestEntry { digest, size: f.size });
    }
    let manifest = Manifest::new(files).map_err(|e| bad(format!("do not make a manifest: {e}")))?;
    if manifest.digest() != named {
        return Err(bad(format!("hash to manifest {}, not {named} as the version names", manifest.digest())));
    }
    Ok(manifest)
}

/// `berth pull` through the hub.
pub(crate) async fn pull(
    hub: &HubClient,
    r: &Ref,
    dir: Option<PathBuf>,
    transfer: &dyn Transfer,
) -> Result<PullReport> {
    let (v, manifest) = version_and_manifest(hub, r).await?;
    let dir = destination(&v, dir)?;
    let mut stat = hub.stat_cache();
    let (todo, skipped) = plan(&dir, &manifest, &mut stat);
    let total: u64 = todo.iter().map(|(_, _, e)| e.size).sum();
    let progress = transfer.begin(&format!("pull {}@{}", v.model, v.version), total);
    let gets: Vec<_> = todo.iter().map(|(rel, dest, e)| download(hub, &v, rel, dest, e, progress.clone())).collect();
    let results: Vec<Result<()>> = futures::stream::iter(gets).buffer_unordered(JOBS).collect().await;
    transfer.finish();
    let files = manifest.files.len();
    crate::pull::finish(Pulled { version: v, dir, files, todo, skipped, bytes: total }, results, &mut stat)
}

/// A version's model through the hub, verified, in this machine's cache.
pub(crate) async fn fetch_model(hub: &HubClient, r: &Ref) -> Result<(ModelFile, Digest, VersionRecord)> {
    let (v, manifest) = version_and_manifest(hub, r).await?;
    let (rel, entry, is_onnx) = model_entry(&v, &manifest)?;
    let (dest, fresh) = cached_model(hub.cache_dir.as_deref(), &entry, is_onnx);
    if !fresh {
        download(hub, &v, &rel, &dest, &entry, NoTransfer.progress()).await?;
    }
    Ok((ModelFile::at(dest, is_onnx), entry.digest, v))
}

/// One file of a version through the hub, whole and verified (by way of
/// this machine's cache); `None` when the version has no such file.
pub(crate) async fn version_file(hub: &HubClient, v: &VersionRecord, path: &str) -> Result<Option<Vec<u8>>> {
    let pinned = Ref { model: v.model.clone(), selector: berth_core::Selector::Version(v.version) };
    let (v, manifest) = version_and_manifest(hub, &pinned).await?;
    let Some((rel, e)) = manifest.files.iter().find(|(p, _)| p.as_str() == path) else { return Ok(None) };
    let dest = match &hub.cache_dir {
        Some(d) => d.join("files"),
        None => std::env::temp_dir().join("berth-files"),
    }
    .join(e.digest.hex());
    if crate::train::file_digest(&dest).ok() != Some(e.digest) {
        download(hub, &v, rel, &dest, e, NoTransfer.progress()).await?;
    }
    let bytes = tokio::fs::read(&dest).await.map_err(|err| ServiceError::Infra {
        message: format!("{}: cannot read the file just fetched: {err}", dest.display()),
        hint: None,
    })?;
    Ok(Some(bytes))
}

/// The version `r` names and its manifest, checked against the digest the version records.
async fn version_and_manifest(hub: &HubClient, r: &Ref) -> Result<(VersionRecord, Manifest)> {
    let shown = hub.show(r).await?;
    let v = shown.version;
    let manifest = manifest_of(&shown.files, v.manifest, &format!("{}@{}", v.model, v.version), &hub.url)?;
    Ok((v, manifest))
}

/// Where a download of `dest` collects its bytes until they are verified:
/// beside it, named after the blob, so a later pull of the same bytes resumes it.
fn partial_path(dest: &Path, digest: &Digest) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.{}.berth-partial", &digest.hex()[..16]))
}

/// The SHA-256 state after the first bytes of `file`, read to its end.
async fn hash_prefix(file: &Path) -> std::io::Result<(Sha256Hasher, u64)> {
    let mut f = tokio::fs::File::open(file).await?;
    let mut h = Sha256Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n_total = 0u64;
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok((h, n_total));
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
}

/// Downloads file `rel` of `v` to `dest`: streamed into its partial file,
/// resumed from what an earlier pull left there, verified, renamed into
/// place. A resumed download whose bytes do not verify (the partial file
/// held other bytes) is made once more from the start.
async fn download(
    hub: &HubClient,
    v: &VersionRecord,
    rel: &RelPath,
    dest: &Path,
    e: &ManifestEntry,
    progress: Arc<dyn Progress>,
) -> Result<()> {
    match download_once(hub, v, rel, dest, e, &progress, true).await {
        Ok(Fetched::Verified) => Ok(()),
        Ok(Fetched::ResumedWrong) => {
            tracing::info!("the partial download of {rel} held other bytes; downloading it again from the start");
            match download_once(hub, v, rel, dest, e, &progress, false).await? {
                Fetched::Verified => Ok(()),
                Fetched::ResumedWrong => unreachable!("a download from the start is not resumed"),
            }
        }
        Err(err) => Err(err),
    }
}

/// How one attempt at a download ended, when it did not fail.
enum Fetched {
    Verified,
    /// Resumed from a partial file, and the whole did not verify: the
    /// partial file is gone.
    ResumedWrong,
}

async fn download_once(
    hub: &HubClient,
    v: &VersionRecord,
    rel: &RelPath,
    dest: &Path,
    e: &ManifestEntry,
    progress: &Arc<dyn Progress>,
    resume: bool,
) -> Result<Fetched> {
    let segments: Vec<String> = rel.as_str().split('/').map(url_escape).collect();
    let path = format!("/api/v1/models/{}/versions/{}/files/{}", v.model, v.version, segments.join("/"));
    let local = |what: &Path, err: std::io::Error| {
        ServiceError::input(
            format!("{}: cannot write: {err}", what.display()),
            Some("choose a writable -o DIR with room for the version".into()),
        )
    };
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|err| local(parent, err))?;
    }
    let partial = partial_path(dest, &e.digest);
    // What an earlier pull left: resumed when shorter than the file.
    let mut resumed: Option<(Sha256Hasher, u64)> = None;
    if let Ok(m) = tokio::fs::metadata(&partial).await {
        if resume && m.len() > 0 && m.len() < e.size {
            resumed = hash_prefix(&partial).await.ok();
        }
        if resumed.is_none() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
    }
    let etag = format!("\"{}\"", e.digest);
    let headers: Vec<(&str, String)> = match &resumed {
        Some((_, have)) => vec![("range", format!("bytes={have}-")), ("if-range", etag)],
        None => Vec::new(),
    };
    let resp = hub.endpoint.send_streaming("GET", &path, &headers, Empty::<Bytes>::new()).await?;
    let status = resp.status().as_u16();
    if status != 200 && status != 206 {
        let answer = answer_json(resp, &hub.url, &path).await?;
        return Err(refusal(status, &answer, &hub.url));
    }
    let served = resp.headers().get("x-berth-digest").and_then(|d| d.to_str().ok()).map(str::to_string);
    if let Some(served) = served.filter(|d| *d != e.digest.to_string()) {
        return Err(ServiceError::Corrupt {
            message: format!(
                "{}{path} serves blob {served}; {}@{} names {} for {rel}",
                hub.url, v.model, v.version, e.digest
            ),
            hint: Some("ask the hub's operator to run `berth fsck` where the registry is".into()),
        });
    }
    let resumed = match (status, resumed) {
        (206, Some((h, have))) => {
            let range = resp.headers().get("content-range").and_then(|r| r.to_str().ok()).unwrap_or_default();
            if !range.starts_with(&format!("bytes {have}-")) {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(unreadable(&hub.url, &path, format!("asked for bytes {have}- and got {range:?}")));
            }
            Some((h, have))
        }
        (206, None) => return Err(unreadable(&hub.url, &path, "206 to a request for the whole file")),
        _ => None,
    };
    let (mut hasher, have) = resumed.unwrap_or_else(|| (Sha256Hasher::new(), 0));
    let file = if have > 0 {
        tokio::fs::OpenOptions::new().append(true).open(&partial).await
    } else {
        tokio::fs::File::create(&partial).await
    }
    .map_err(|err| local(&partial, err))?;
    // A megabyte per write: each write of tokio's file is a trip to the blocking pool.
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    progress.advance(have);
    let mut got = have;
    let mut body = resp.into_body();
    let broke = |got: u64, why: String| ServiceError::Infra {
        message: format!("{}{path}: the download of {rel} broke off after {got} of {} bytes: {why}", hub.url, e.size),
        hint: Some("run the same pull again: it resumes where this one stopped".into()),
    };
    loop {
        let frame = match tokio::time::timeout(IDLE, body.frame()).await {
            Err(_) => {
                let _ = out.flush().await;
                return Err(broke(got, format!("no bytes for {IDLE:?}")));
            }
            Ok(None) => break,
            Ok(Some(Err(err))) => {
                let _ = out.flush().await;
                return Err(broke(got, err.to_string()));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        got += data.len() as u64;
        if got > e.size {
            drop(out);
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(ServiceError::Corrupt {
                message: format!(
                    "{}{path} sent more than the {} bytes {}@{} names for {rel}",
                    hub.url, e.size, v.model, v.version
                ),
                hint: Some(
                    "nothing was written; ask the hub's operator to run `berth fsck` where the registry is".into(),
                ),
            });
        }
        hasher.update(&data);
        out.write_all(&data).await.map_err(|err| local(&partial, err))?;
        progress.advance(data.len() as u64);
    }
    out.flush().await.map_err(|err| local(&partial, err))?;
    if got < e.size {
        return Err(broke(got, "the answer ended early".into()));
    }
    let actual = hasher.finish();
    if actual != e.digest {
        drop(out);
        let _ = tokio::fs::remove_file(&partial).await;
        if have > 0 {
            return Ok(Fetched::ResumedWrong);
        }
        return Err(ServiceError::Corrupt {
            message: format!(
                "{}{path}: the bytes received for {rel} hash to {actual}, not {} as {}@{} names; nothing was written",
                hub.url, e.digest, v.model, v.version
            ),
            hint: Some("pull again; if it happens again, ask the hub's operator to run `berth fsck`".into()),
        });
    }
    out.get_ref().sync_all().await.map_err(|err| local(&partial, err))?;
    drop(out);
    tokio::fs::rename(&partial, dest).await.map_err(|err| local(dest, err))?;
    Ok(Fetched::Verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(dir: &Path, bytes: &[u8], hashed_as: &[u8]) -> LocalFile {
        let path = dir.join("model.onnx");
        std::fs::write(&path, bytes).unwrap();
        LocalFile {
            rel: RelPath::parse("model.onnx").unwrap(),
            path,
            digest: Digest::of(hashed_as),
            size: hashed_as.len() as u64,
        }
    }

    /// The body's pieces until its end or first error, and what it put in its failure slot.
    async fn send(f: &LocalFile) -> (Vec<u8>, bool, Option<ServiceError>) {
        let failure = Arc::new(Mutex::new(None));
        let file = tokio::fs::File::open(&f.path).await.unwrap();
        let progress: Arc<dyn Progress> = Arc::new(berth_store::NoProgress);
        let mut body = Box::pin(file_body(file, f, progress, failure.clone()));
        let (mut sent, mut failed) = (Vec::new(), false);
        while let Some(piece) = body.next().await {
            match piece {
                Ok(frame) => sent.extend_from_slice(&frame.into_data().unwrap()),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        let why = failure.lock().unwrap().take();
        (sent, failed, why)
    }

    #[tokio::test]
    async fn a_blob_is_sent_as_hashed_and_a_file_that_changed_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![7u8; CHUNK * 2 + 5];
        let (sent, failed, why) = send(&local(dir.path(), &big, &big)).await;
        assert!(!failed && why.is_none());
        assert!(sent == big);

        let (_, failed, why) = send(&local(dir.path(), b"weightz", b"weights")).await;
        let why = why.expect("the cause is kept");
        assert!(failed);
        assert!(why.message().contains("changed while it was being pushed"), "{why}");
        assert!(why.message().contains(&Digest::of(b"weightz").to_string()), "{why}");

        let (_, failed, why) = send(&local(dir.path(), b"weig", b"weights")).await;
        assert!(failed);
        assert!(why.unwrap().message().contains("3 bytes short"));
    }

    fn listed(files: &[(&str, &[u8])]) -> Vec<ShowFile> {
        files
            .iter()
            .map(|(p, b)| ShowFile { path: p.to_string(), digest: Digest::of(b).to_string(), size: b.len() as u64 })
            .collect()
    }

    #[test]
    fn the_files_a_hub_lists_must_be_the_manifest_the_version_names() {
        let files: &[(&str, &[u8])] = &[("model.onnx", b"weights"), ("conf/meta.json", b"{}")];
        let m = Manifest::new(
            files
                .iter()
                .map(|(p, b)| {
                    (RelPath::parse(p).unwrap(), ManifestEntry { digest: Digest::of(b), size: b.len() as u64 })
                })
                .collect(),
        )
        .unwrap();
        assert_eq!(manifest_of(&listed(files), m.digest(), "churn@1", "http://h").unwrap(), m);
        let e = manifest_of(&listed(&files[..1]), m.digest(), "churn@1", "http://h").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Corrupt);
        assert!(e.message().contains(&m.digest().to_string()) && e.message().contains("churn@1"), "{e}");
        let e = manifest_of(&listed(&[("../escape", b"x")]), m.digest(), "churn@1", "http://h").unwrap_err();
        assert!(e.message().contains("../escape"), "{e}");
    }

    #[test]
    fn a_partial_download_sits_beside_its_file_named_after_the_blob() {
        let d = Digest::of(b"weights");
        let p = partial_path(Path::new("out/conf/meta.json"), &d);
        assert_eq!(p, Path::new("out/conf").join(format!(".meta.json.{}.berth-partial", &d.hex()[..16])));
    }
}
