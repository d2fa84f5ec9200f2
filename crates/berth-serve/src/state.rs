//! What every request reads: the version being served (swapped atomically),
//! the truth about loading, metrics, limits and the prediction log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_core::Timestamp;
use serde::Serialize;
use tokio::sync::{Notify, Semaphore};

use crate::admin::AdminToken;
use crate::log::{LogOptions, PredictionLog};
use crate::metrics::Metrics;
use crate::rollout::{Control, Rollout};
use crate::served::Served;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Request bodies above this are refused with 413.
    pub max_body_bytes: usize,
    /// A request that takes longer is answered 503.
    pub timeout: Duration,
    /// Inference requests answered at once; beyond, 503 with Retry-After.
    pub max_in_flight: usize,
    /// A request head must be complete this long after the connection opens
    /// (or after the first byte following an idle spell); else it is closed.
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; beyond, new ones get a 503 and are closed.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 << 20,
            timeout: Duration::from_secs(10),
            max_in_flight: 256,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

/// The last attempt to change the served version.
#[derive(Debug, Clone, Serialize)]
pub struct SwapStatus {
    pub at: String,
    pub from: Option<String>,
    pub to: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// The `load_status` health checks conventionally report, plus what an operator needs to act on it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadStatus {
    pub completed: bool,
    /// Seconds the served version took to fetch, verify, open and smoke-test.
    pub load_duration: Option<f64>,
    /// Why the wanted model is not (or not fully) being served.
    pub error: Option<String>,
    pub attempts: u64,
    pub last_attempt: Option<String>,
    /// Seconds until the next attempt while the model is missing.
    pub next_retry_in: Option<f64>,
    pub last_swap: Option<SwapStatus>,
}

pub struct State {
    /// What was asked for: a ref such as `churn@production`, or a file.
    pub target: String,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub permits: Arc<Semaphore>,
    /// Wakes the loader to check for a new version now.
    pub reload: Notify,
    pub log: Option<PredictionLog>,
    /// Set when the server follows an environment: rollouts are possible.
    pub control: Option<Control>,
    /// Required of `/admin/*` callers when set.
    pub admin: Option<AdminToken>,
    /// Rows in each served version's live drift window (0: none).
    pub drift_window: usize,
    current: RwLock<Option<Arc<Served>>>,
    rollout: RwLock<Option<Arc<Rollout>>>,
    status: Mutex<LoadStatus>,
    next_id: AtomicU64,
    id_prefix: String,
}

pub fn rfc3339(t: SystemTime) -> String {
    Timestamp::from_millis(t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)).to_rfc3339()
}

pub fn now() -> String {
    rfc3339(SystemTime::now())
}

/// Writes `value` as JSON to `at` by a rename, so that a reader (a server
/// starting up) never finds half a file.
pub fn write_json(at: &std::path::Path, value: &impl Serialize) -> std::io::Result<()> {
    if let Some(d) = at.parent() {
        std::fs::create_dir_all(d)?;
    }
    let tmp = at.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?)?;
    std::fs::rename(tmp, at)
}

impl State {
    pub fn new(
        target: String,
        limits: Limits,
        log: Option<LogOptions>,
        control: Option<Control>,
        admin: Option<AdminToken>,
        drift_window: usize,
    ) -> std::io::Result<State> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let metrics = Arc::new(Metrics::default());
        let log = log.map(|o| PredictionLog::start(o, metrics.clone())).transpose()?;
        Ok(State {
            target,
            permits: Arc::new(Semaphore::new(limits.max_in_flight)),
            limits,
            metrics,
            reload: Notify::new(),
            log,
            control,
            admin,
            drift_window,
            current: RwLock::new(None),
            rollout: RwLock::new(None),
            status: Mutex::new(LoadStatus::default()),
            next_id: AtomicU64::new(1),
            id_prefix: format!("{:x}-{:x}", nanos as u64 & 0xffff_ffff, std::process::id()),
        })
    }

    /// The version serving now; a request holds it until it is answered.
    pub fn current(&self) -> Option<Arc<Served>> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The rollout running now, if any.
    pub fn rollout(&self) -> Option<Arc<Rollout>> {
        self.rollout.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_rollout(&self, r: Option<Arc<Rollout>>) {
        *self.rollout.write().unwrap_or_else(|e| e.into_inner()) = r;
    }

    pub fn status(&self) -> LoadStatus {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn update_status(&self, f: impl FnOnce(&mut LoadStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Serves `next` from now on; requests already running finish on the
    /// version they started with.
    pub fn install(&self, next: Served, note: Option<String>) {
        self.install_shared(Arc::new(next), note)
    }

    /// [`State::install`] for a version already shared (a promoted candidate).
    pub fn install_shared(&self, next: Arc<Served>, note: Option<String>) {
        self.metrics.loaded(&next.name, &next.version, next.source.as_str(), next.load_duration);
        let previous = self.current.write().unwrap_or_else(|e| e.into_inner()).replace(next.clone());
        tracing::info!(
            model = %next.label(),
            source = next.source.as_str(),
            digest = %next.digest,
            took_ms = next.load_duration.as_millis() as u64,
            "serving"
        );
        self.update_status(|s| {
            s.completed = true;
            s.load_duration = Some(next.load_duration.as_secs_f64());
            s.error = note;
            s.next_retry_in = None;
            s.last_swap = Some(SwapStatus {
                at: now(),
                from: previous.map(|p| p.label()),
                to: next.label(),
                ok: true,
                error: None,
            });
        });
    }

    /// A request id: the caller's, or a new one unique to this process.
    pub fn request_id(&self, given: Option<&str>) -> String {
        match given {
            Some(s) if !s.is_empty() && s.len() <= 200 => s.to_string(),
            _ => format!("{}-{}", self.id_prefix, self.next_id.fetch_add(1, Ordering::Relaxed)),
        }
    }
}
