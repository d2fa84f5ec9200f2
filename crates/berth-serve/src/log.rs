//! The prediction log: opt-in, sampled, bounded, and never in a request's
//! way. Requests hand a finished line to a bounded queue (dropped and
//! counted when it is full); one thread writes JSON Lines segments and
//! deletes the oldest when the directory outgrows its budget. Each line is
//! one row: time, request id, the version that answered, its inputs and its
//! prediction — what monitoring reads back in bulk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};

use berth_data::Table;
use berth_ml::Prediction;
use serde_json::{Map, Value, json};

use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct LogOptions {
    pub dir: PathBuf,
    /// The share of requests logged, in (0, 1].
    pub sample: f64,
    /// A segment is closed once it holds this many bytes.
    pub segment_bytes: u64,
    /// The oldest segments are deleted beyond this total.
    pub max_bytes: u64,
    /// Lines waiting to be written; beyond, new ones are dropped.
    pub queue: usize,
}

impl LogOptions {
    pub fn new(dir: PathBuf) -> LogOptions {
        LogOptions { dir, sample: 1.0, segment_bytes: 16 << 20, max_bytes: 1 << 30, queue: 10_000 }
    }
}

pub struct PredictionLog {
    tx: SyncSender<String>,
    sample: f64,
    seen: AtomicU64,
}

impl PredictionLog {
    pub fn start(o: LogOptions, metrics: Arc<Metrics>) -> std::io::Result<PredictionLog> {
        std::fs::create_dir_all(&o.dir)?;
        let probe = o.dir.join(".berth-write-test");
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)?;
        let (tx, rx) = sync_channel(o.queue.max(1));
        let sample = o.sample.clamp(0.0, 1.0);
        std::thread::Builder::new().name("prediction-log".into()).spawn(move || write_loop(rx, o, metrics))?;
        Ok(PredictionLog { tx, sample, seen: AtomicU64::new(0) })
    }

    /// Whether this request is in the sample: an even spread, every
    /// 1/sample-th request, so that the share is exact over any long run.
    pub fn sampled(&self) -> bool {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * self.sample).floor() > (n * self.sample).floor()
    }

    /// Queues one line per row; returns how many were dropped.
    pub fn record(&self, at: &str, request_id: &str, label: (&str, &str), table: &Table, p: &Prediction) -> u64 {
        let mut dropped = 0;
        for row in 0..table.rows() {
            let inputs = table.record(row);
            let mut line = json!({
                "ts": at,
                "request_id": request_id,
                "row": row,
                "model": label.0,
                "version": label.1,
                "inputs": inputs,
            });
            if let Some(l) = &p.labels {
                line["label"] = json!(l[row]);
            }
            if let Some(v) = &p.values {
                line["value"] = json!(v[row]);
            }
            if let (Some(probs), Some(classes)) = (&p.probabilities, &p.classes) {
                let m: Map<String, Value> =
                    classes.iter().zip(&probs[row]).map(|(c, x)| (c.clone(), json!(x))).collect();
                line["probabilities"] = Value::Object(m);
            }
            match self.tx.try_send(line.to_string()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => dropped += 1,
            }
        }
        dropped
    }
}

fn segments(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out: Vec<(PathBuf, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("predictions-"))
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
        .collect();
    out.sort();
    out
}

fn write_loop(rx: Receiver<String>, o: LogOptions, metrics: Arc<Metrics>) {
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut seq = 0u32;
    let mut open: Option<(std::io::BufWriter<std::fs::File>, u64)> = None;
    loop {
        let line = match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(line) => line,
            // Quiet for a moment: make what was written visible on disk.
            Err(RecvTimeoutError::Timeout) => {
                if let Some((w, _)) = open.as_mut() {
                    let _ = w.flush();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if open.as_ref().is_none_or(|(_, n)| *n >= o.segment_bytes) {
            if let Some((mut w, _)) = open.take() {
                let _ = w.flush();
            }
            seq += 1;
            let path = o.dir.join(format!("predictions-{started:012}-{seq:06}.jsonl"));
            match std::fs::File::create(&path) {
                Ok(f) => open = Some((std::io::BufWriter::new(f), 0)),
                Err(e) => {
                    tracing::warn!("prediction log {}: {e}; dropping records", path.display());
                    metrics.log_dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
            let mut all = segments(&o.dir);
            let mut total: u64 = all.iter().map(|(_, n)| n).sum();
            while total > o.max_bytes && all.len() > 1 {
                let (p, n) = all.remove(0);
                let _ = std::fs::remove_file(p);
                total -= n;
            }
        }
        let (w, n) = open.as_mut().expect("opened above");
        if writeln!(w, "{line}").is_ok() {
            *n += line.len() as u64 + 1;
            metrics.log_written.fetch_add(1, Ordering::Relaxed);
        } else {
            metrics.log_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
    if let Some((mut w, _)) = open {
        let _ = w.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_an_even_spread() {
        let (tx, _rx) = sync_channel(1);
        let log = PredictionLog { tx, sample: 0.25, seen: AtomicU64::new(0) };
        let n = (0..1000).filter(|_| log.sampled()).count();
        assert_eq!(n, 250);
    }
}
