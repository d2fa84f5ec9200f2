//! The log's segments to the store (`--prediction-log-to-store`): every
//! `every`, and once more at shutdown after the last segment is written,
//! the segments of the served model in the log directory that the store
//! lacks are sent through the seam (`berth_service::upload_segments`), so a
//! monitor on another machine sees this replica's traffic. The store is
//! asked what it holds each round: nothing is sent twice, a segment that
//! could not be sent goes at the next round, and a restarted server
//! catches up on what its predecessor left.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use berth_core::ModelName;
use berth_service::Operations;
use tokio::sync::OnceCell;

use crate::metrics::Metrics;
use crate::reach::Reach;

pub struct Uploader {
    reach: Arc<Reach>,
    model: ModelName,
    dir: PathBuf,
    metrics: Arc<Metrics>,
    berth: OnceCell<Arc<dyn Operations>>,
}

impl Uploader {
    pub fn new(reach: Arc<Reach>, model: ModelName, dir: PathBuf, metrics: Arc<Metrics>) -> Uploader {
        Uploader { reach, model, dir, metrics, berth: OnceCell::new() }
    }

    /// One round: sends what the store lacks; a failure is logged and counted.
    pub async fn once(&self) {
        let sent = async {
            let ops = self.berth.get_or_try_init(|| self.reach.open()).await?;
            berth_service::upload_segments(ops.as_ref(), &self.model, &self.dir).await
        }
        .await;
        match sent {
            Ok(s) => {
                self.metrics.log_uploaded.fetch_add(s.moved.len() as u64, Ordering::Relaxed);
                if !s.moved.is_empty() {
                    tracing::info!(segments = s.moved.len(), bytes = s.bytes, "prediction log sent to the store");
                }
            }
            Err(e) => {
                self.metrics.log_upload_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("cannot send the prediction log to the store now (retried at the next round): {e}");
            }
        }
    }

    /// Rounds every `every`, forever.
    pub async fn run(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            self.once().await;
        }
    }
}
