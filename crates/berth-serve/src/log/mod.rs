//! The prediction log: opt-in, sampled, bounded, and never in a request's
//! way. Requests hand what they answered to a bounded queue (dropped and
//! counted when it is full); one thread gathers rows into segments and
//! writes each as one Parquet file (see [`segment`]) that `berth monitor`
//! and `berth data profile|drift --data DIR` read back in bulk. Labels that
//! arrive later (`POST /feedback`) go through the same queue, so a label
//! sent right after its prediction always finds it; they are checked
//! against the requests this replica logged ([`index`]) and written as
//! feedback segments beside the predictions.

pub mod index;
pub mod segment;
pub mod upload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use berth_service::prediction_log::{FEEDBACK_DIR, segment_prefix, write_segment};

use crate::metrics::Metrics;
pub use index::{FeedbackError, FeedbackRequest};
use index::{Index, Kind};
use segment::{Feedback, Logged, Open};

#[derive(Debug, Clone)]
pub struct LogOptions {
    pub dir: PathBuf,
    /// The share of requests logged, in (0, 1].
    pub sample: f64,
    /// A segment is written once its rows take about this many bytes.
    pub segment_bytes: u64,
    /// A segment is written once its first row is this old.
    pub segment_age: Duration,
    /// The oldest segments are deleted beyond this total (predictions and
    /// feedback each).
    pub max_bytes: u64,
    /// Records waiting to be written; beyond, new ones are dropped.
    pub queue: usize,
    /// The logged requests remembered for feedback, newest kept.
    pub remember: usize,
    /// This server's name in segment names: replicas that share a
    /// directory never write the same file.
    pub replica: String,
    /// Also send every segment written to the store, through the registry
    /// or hub the server follows its ref with (see [`upload`]).
    pub to_store: bool,
}

impl LogOptions {
    pub fn new(dir: PathBuf) -> LogOptions {
        LogOptions {
            dir,
            sample: 1.0,
            segment_bytes: 64 << 20,
            segment_age: Duration::from_secs(60),
            max_bytes: 1 << 30,
            queue: 10_000,
            remember: 1_000_000,
            replica: default_replica(),
            to_store: false,
        }
    }
}

/// The host name and the process id: unique among the replicas sharing a
/// directory, whether they share a machine or not.
pub fn default_replica() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
        .unwrap_or_else(|| "host".into());
    let safe: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).take(63).collect();
    format!("{safe}.{}", std::process::id())
}

enum Record {
    Prediction(Box<Logged>),
    Feedback(FeedbackRequest, tokio::sync::oneshot::Sender<Result<(), FeedbackError>>),
    /// Write what is open and answer; sent once, at shutdown.
    Finish(SyncSender<()>),
}

pub struct PredictionLog {
    tx: SyncSender<Record>,
    sample: f64,
    seen: AtomicU64,
    metrics: Arc<Metrics>,
}

impl PredictionLog {
    pub fn start(o: LogOptions, metrics: Arc<Metrics>) -> std::io::Result<PredictionLog> {
        std::fs::create_dir_all(o.dir.join(FEEDBACK_DIR))?;
        let probe = o.dir.join(".berth-write-test");
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)?;
        let (tx, rx) = sync_channel(o.queue.max(1));
        let sample = o.sample.clamp(0.0, 1.0);
        let m = metrics.clone();
        std::thread::Builder::new().name("prediction-log".into()).spawn(move || Writer::new(o, m).run(rx))?;
        Ok(PredictionLog { tx, sample, seen: AtomicU64::new(0), metrics })
    }

    /// Whether this request is in the sample: an even spread, every
    /// 1/sample-th request, so that the share is exact over any long run.
    pub fn sampled(&self) -> bool {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * self.sample).floor() > (n * self.sample).floor()
    }

    /// Queues one answered request; its rows are counted as dropped when
    /// the queue is full.
    pub fn record(&self, logged: Logged) {
        let rows = logged.inputs.rows() as u64;
        if self.tx.try_send(Record::Prediction(Box::new(logged))).is_err() {
            self.metrics.log_dropped.fetch_add(rows, Ordering::Relaxed);
        }
    }

    /// Checks a label against the request it is for and queues it.
    pub async fn feedback(&self, f: FeedbackRequest) -> Result<(), FeedbackError> {
        let (answer, wait) = tokio::sync::oneshot::channel();
        match self.tx.try_send(Record::Feedback(f, answer)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(FeedbackError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(FeedbackError::Closed),
        }
        wait.await.unwrap_or(Err(FeedbackError::Closed))
    }

    /// Writes every open segment; waits at most `patience` for the queue
    /// ahead to be written.
    pub fn finish(&self, patience: Duration) {
        let (done, wait) = sync_channel(1);
        let deadline = Instant::now() + patience;
        let mut record = Record::Finish(done);
        loop {
            match self.tx.try_send(record) {
                Ok(()) => break,
                Err(TrySendError::Full(r)) if Instant::now() < deadline => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return,
            }
        }
        let _ = wait.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

pub fn epoch_seconds() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The writer's nap between batches while requests come, and the longest when none do.
const NAP_BUSY: Duration = Duration::from_millis(1);
const NAP_IDLE: Duration = Duration::from_millis(50);

/// The thread that owns the open segments, the index and the files.
struct Writer {
    o: LogOptions,
    metrics: Arc<Metrics>,
    started: i64,
    seq: u32,
    predictions: Option<(Open<Logged>, Instant)>,
    feedback: Option<(Open<Feedback>, Instant)>,
    index: Index,
}

impl Writer {
    fn new(o: LogOptions, metrics: Arc<Metrics>) -> Writer {
        let index = Index::new(o.remember);
        Writer { o, metrics, started: epoch_seconds(), seq: 0, predictions: None, feedback: None, index }
    }

    /// Drains the queue in batches and naps between them, so that a request
    /// never wakes this thread: a wake-up per request (a blocking receive)
    /// cost half of a busy server's throughput on two cores. Idle, the naps
    /// grow to [`NAP_IDLE`], so a label waits at most that long for its check.
    fn run(mut self, rx: Receiver<Record>) {
        let mut nap = NAP_BUSY;
        loop {
            let mut worked = false;
            loop {
                match rx.try_recv() {
                    Ok(Record::Prediction(l)) => self.prediction(*l),
                    Ok(Record::Feedback(f, answer)) => {
                        let r = self.feedback(f);
                        let _ = answer.send(r);
                    }
                    Ok(Record::Finish(done)) => {
                        self.flush_all();
                        let _ = done.send(());
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.flush_all();
                        return;
                    }
                }
                worked = true;
            }
            self.flush_old();
            nap = if worked { NAP_BUSY } else { (nap * 2).min(NAP_IDLE) };
            std::thread::sleep(nap);
        }
    }

    fn prediction(&mut self, l: Logged) {
        let kind = match (&l.prediction.labels, &l.prediction.classes) {
            (Some(_), classes) => Kind::Label(classes.clone().unwrap_or_default()),
            (None, _) => Kind::Value,
        };
        self.index.remember(&l.request_id, &l.model, l.inputs.rows() as u32, kind);
        if self.predictions.as_ref().is_some_and(|(open, _)| !segment::fits(open, &l)) {
            self.flush_predictions();
        }
        let (open, _) = self.predictions.get_or_insert_with(|| (Open::new(l.at), Instant::now()));
        open.bytes += l.bytes();
        open.rows.push(l);
        if open.bytes >= self.o.segment_bytes {
            self.flush_predictions();
        }
    }

    fn feedback(&mut self, f: FeedbackRequest) -> Result<(), FeedbackError> {
        let checked = self.index.check(f)?;
        let (open, _) = self.feedback.get_or_insert_with(|| (Open::new(checked.at), Instant::now()));
        open.bytes += checked.request_id.len() as u64 + 40;
        open.rows.push(checked);
        self.metrics.feedback_received.fetch_add(1, Ordering::Relaxed);
        if open.bytes >= self.o.segment_bytes {
            self.flush_feedback();
        }
        Ok(())
    }

    fn flush_old(&mut self) {
        let age = self.o.segment_age;
        if self.predictions.as_ref().is_some_and(|(_, t)| t.elapsed() >= age) {
            self.flush_predictions();
        }
        if self.feedback.as_ref().is_some_and(|(_, t)| t.elapsed() >= age) {
            self.flush_feedback();
        }
    }

    fn flush_all(&mut self) {
        self.flush_predictions();
        self.flush_feedback();
    }

    /// `<prefix><replica>-<started>-<since>-<seq>.parquet`: replicas never
    /// share a name, and one replica's names sort in the order written.
    fn name(&mut self, prefix: &str, since: i64) -> String {
        self.seq += 1;
        format!("{prefix}{}-{:012}-{since:012}-{:06}.parquet", self.o.replica, self.started, self.seq)
    }

    fn flush_predictions(&mut self) {
        let Some((open, _)) = self.predictions.take() else { return };
        let rows: u64 = open.rows.iter().map(|r| r.inputs.rows() as u64).sum();
        let Some(first) = open.rows.first() else { return };
        let name = self.name(&segment_prefix(&first.model, &first.version), open.since);
        let written = segment::prediction_table(&open.rows).and_then(|t| write_segment(&self.o.dir, &name, &t));
        self.written(written, rows, true, &self.o.dir.clone());
    }

    fn flush_feedback(&mut self) {
        let Some((open, _)) = self.feedback.take() else { return };
        let rows = open.rows.len() as u64;
        let name = self.name("feedback-", open.since);
        let dir = self.o.dir.join(FEEDBACK_DIR);
        let written =
            berth_service::prediction_log::feedback_table(&open.rows).and_then(|t| write_segment(&dir, &name, &t));
        self.written(written, rows, false, &dir);
    }

    /// Counts a segment written (or lost) and keeps the segments in `dir`
    /// within the budget, oldest deleted first, whichever replica wrote
    /// them (a restarted server's too).
    fn written(&self, written: berth_data::Result<PathBuf>, rows: u64, predictions: bool, dir: &Path) {
        match written {
            Ok(_) if predictions => {
                self.metrics.log_written.fetch_add(rows, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => {
                let what = if predictions { "predictions" } else { "labels" };
                tracing::warn!("prediction log: {e}; {rows} {what} lost");
                if predictions {
                    self.metrics.log_dropped.fetch_add(rows, Ordering::Relaxed);
                }
            }
        }
        let mut all = segment::segments_by_age(dir);
        let mut total: u64 = all.iter().map(|(_, n)| n).sum();
        while total > self.o.max_bytes && all.len() > 1 {
            let (p, n) = all.remove(0);
            let _ = std::fs::remove_file(p);
            total -= n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_an_even_spread() {
        let (tx, _rx) = sync_channel(1);
        let log = PredictionLog { tx, sample: 0.25, seen: AtomicU64::new(0), metrics: Arc::default() };
        let n = (0..1000).filter(|_| log.sampled()).count();
        assert_eq!(n, 250);
    }
}
