//! Prediction-log segments in the store, so that a monitor on another
//! machine sees every replica's traffic without a shared volume. A segment
//! is a blob recorded under its model by file name: `predictions-…` as the
//! server names them (the model's own name in it), `feedback-…` for labels.
//! Storing one needs the publisher role on the model, reading the reader
//! role. A name holds one segment: sending the same bytes again changes
//! nothing, other bytes under a name taken is a conflict.
//!
//! [`upload_segments`] and [`download_segments`] keep a log directory and
//! the store in step over the seam, in-process or through a hub: the server
//! uploads what it wrote, the monitor downloads what it lacks into a mirror
//! and reads that as it reads any log.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use berth_core::{Digest, ModelName, Role};
use berth_registry::LogSegment;
use bytes::Bytes;
use serde::Serialize;

use crate::prediction_log::{FEEDBACK_DIR, write_segment_bytes};
use crate::push::LeaseGuard;
use crate::{Berth, Operations, Result, ServiceError};

/// The largest segment the store takes (a server closes one at about 64 MiB).
pub const MAX_SEGMENT_BYTES: u64 = 256 << 20;

/// What [`Berth::put_log_segment`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LogSegmentPut {
    pub segment: LogSegment,
    /// False when the name already held these bytes.
    pub recorded: bool,
}

/// Why `name` cannot be a segment of `model`, if it cannot: a segment is
/// `predictions-<model>-….parquet` or `feedback-….parquet`, of letters,
/// digits and `.`, `_`, `-`, at most 255 characters.
pub fn segment_name_problem(model: &ModelName, name: &str) -> Option<String> {
    let predictions = format!("predictions-{model}-");
    let shape = name.len() <= 255
        && name.ends_with(".parquet")
        && (name.starts_with(&predictions) || name.starts_with("feedback-"))
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.contains("..");
    (!shape).then(|| {
        format!(
            "{name:?} is not a prediction-log segment of {model}: it is {predictions}….parquet or feedback-….parquet \
             (letters, digits, '.', '_', '-'; at most 255 characters)"
        )
    })
}

fn bad_name(model: &ModelName, name: &str) -> Result<()> {
    match segment_name_problem(model, name) {
        Some(why) => Err(ServiceError::input(
            why,
            Some(
                "send the segments `berth serve --prediction-log` and `berth feedback` write, by their file names"
                    .into(),
            ),
        )),
        None => Ok(()),
    }
}

impl Berth {
    /// Stores `bytes` as segment `name` of `model`'s prediction log.
    pub async fn put_log_segment(&self, model: &ModelName, name: &str, bytes: Vec<u8>) -> Result<LogSegmentPut> {
        self.allow(Role::Publisher, Some(model), None)?;
        bad_name(model, name)?;
        if bytes.len() as u64 > MAX_SEGMENT_BYTES {
            return Err(ServiceError::input(
                format!(
                    "segment {name} is {} bytes, more than the {MAX_SEGMENT_BYTES} a segment may hold",
                    bytes.len()
                ),
                Some("rotate the prediction log more often (--prediction-log-rotate)".into()),
            ));
        }
        if !bytes.starts_with(b"PAR1") || !bytes.ends_with(b"PAR1") {
            return Err(ServiceError::input(
                format!("segment {name} is not a Parquet file"),
                Some("send the file `berth serve --prediction-log` wrote, unchanged".into()),
            ));
        }
        let digest = Digest::of(&bytes);
        let size = bytes.len() as u64;
        // Under a lease, so that a garbage collection either finishes first or sees the record.
        let lease = LeaseGuard::new(self.registry.clone(), self.take_lease(&[digest]).await?);
        let stored = async {
            self.store.put_bytes(Bytes::from(bytes)).await?;
            Ok::<_, ServiceError>(self.registry.record_log_segment(model, name, &digest, size, &self.actor).await?)
        }
        .await;
        lease.end().await;
        let (segment, recorded) = stored?;
        if segment.digest != digest {
            return Err(ServiceError::Conflict {
                message: format!(
                    "segment {name} of {model} holds other bytes ({}) than these ({digest})",
                    segment.digest
                ),
                hint: Some("a segment's name is written once; give new rows a new segment".into()),
            });
        }
        Ok(LogSegmentPut { segment, recorded })
    }

    /// The segments of `model`'s prediction log in the store, in name order.
    pub async fn log_segments(&self, model: &ModelName) -> Result<Vec<LogSegment>> {
        self.allow(Role::Reader, Some(model), None)?;
        Ok(self.registry.log_segments(model).await?)
    }

    /// Segment `name` of `model` and its bytes, verified; `None` when the
    /// store keeps no segment of that name.
    pub async fn log_segment(&self, model: &ModelName, name: &str) -> Result<Option<(LogSegment, Vec<u8>)>> {
        self.allow(Role::Reader, Some(model), None)?;
        let Some(s) = self.registry.log_segment(model, name).await? else { return Ok(None) };
        let bytes = self.store.get_bytes(&s.digest, MAX_SEGMENT_BYTES).await?;
        Ok(Some((s, Vec::from(bytes))))
    }
}

/// The store keeps no segment `name` of `model`.
pub(crate) fn no_segment(model: &ModelName, name: &str) -> ServiceError {
    ServiceError::NotFound {
        message: format!("{model} has no prediction-log segment {name:?} in the store"),
        hint: Some(format!("list them with GET /api/v1/models/{model}/log-segments")),
    }
}

/// What a sync moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SegmentSync {
    /// Segments sent to the store (upload) or written to the directory (download).
    pub moved: Vec<String>,
    pub bytes: u64,
    /// Segments both sides already had.
    pub already: usize,
}

/// The segment files of `model` in log directory `dir`: its prediction
/// segments, and every feedback segment in `feedback/`.
fn local_segments(model: &ModelName, dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for (sub, prefix) in
        [(dir.to_path_buf(), format!("predictions-{model}-")), (dir.join(FEEDBACK_DIR), "feedback-".into())]
    {
        let entries = match std::fs::read_dir(&sub) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ServiceError::input(format!("the prediction log {}: {e}", sub.display()), None)),
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && segment_name_problem(model, &name).is_none() {
                out.push((name, e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Sends the segments of `model` in `dir` that the store lacks.
pub async fn upload_segments(ops: &dyn Operations, model: &ModelName, dir: &Path) -> Result<SegmentSync> {
    let stored: BTreeSet<String> = ops.log_segments(model).await?.into_iter().map(|s| s.name).collect();
    let mut sync = SegmentSync::default();
    for (name, path) in local_segments(model, dir)? {
        if stored.contains(&name) {
            sync.already += 1;
            continue;
        }
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| ServiceError::input(format!("{}: cannot read: {e}", path.display()), None))?;
        sync.bytes += bytes.len() as u64;
        ops.put_log_segment(model, &name, bytes).await?;
        sync.moved.push(name);
    }
    Ok(sync)
}

/// Writes the segments of `model` the store holds and `dir` lacks into
/// `dir` (feedback into `feedback/`), each by rename.
pub async fn download_segments(ops: &dyn Operations, model: &ModelName, dir: &Path) -> Result<SegmentSync> {
    let have: BTreeSet<String> = local_segments(model, dir)?.into_iter().map(|(n, _)| n).collect();
    let mut sync = SegmentSync::default();
    for s in ops.log_segments(model).await? {
        if have.contains(&s.name) {
            sync.already += 1;
            continue;
        }
        let bytes = ops.log_segment(&s).await?;
        let at = if s.name.starts_with("feedback-") { dir.join(FEEDBACK_DIR) } else { dir.to_path_buf() };
        write_segment_bytes(&at, &s.name, &bytes)
            .map_err(|e| ServiceError::input(format!("{}: cannot write: {e}", at.display()), None))?;
        sync.bytes += bytes.len() as u64;
        sync.moved.push(s.name);
    }
    Ok(sync)
}
