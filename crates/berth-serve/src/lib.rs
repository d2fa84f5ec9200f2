//! `berth serve`: HTTP inference over one model version at a time, with
//! health that tells the truth, the load chain (local file → store, verified
//! → last verified cached copy → CI-only synthetic stand-in → 503 while
//! retrying), hot swap that never drops a request, the Open Inference
//! Protocol v2, KServe v1, Prometheus metrics with live drift against the
//! version's reference profile, and an opt-in prediction log.
//!
//! The HTTP server answers as soon as it is bound; loading runs beside it.
//! Models come through `berth-service` (registry resolution, verified
//! fetches); this crate adds no other way to reach the store or registry.
//! Connections are bounded in number and in how long they may dawdle
//! (`conn.rs`); the admin endpoints take a token (`admin.rs`), and a server
//! reachable from other machines does not start without one.

mod admin;
mod conn;
mod feedback;
mod http;
mod input;
mod live;
mod loader;
mod log;
mod metrics;
mod oip;
mod oip_binary;
mod profile;
mod reach;
mod refusal;
mod rollout;
mod served;
mod state;
mod synthetic;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use admin::AdminToken;
pub use input::{Inputs, Problem};
pub use loader::{Follow, Target, check_target};
pub use log::LogOptions;
pub use reach::Reach;
pub use rollout::PREVIEW_HEADER;
pub use served::Source;
pub use state::Limits;

pub struct ServeOptions {
    pub target: Target,
    pub follow: Follow,
    pub limits: Limits,
    pub log: Option<LogOptions>,
    /// How long a shutdown waits for requests in flight.
    pub drain: Duration,
    /// The token `/admin/*` requires; `None` leaves them open, which only a
    /// loopback listener allows.
    pub admin: Option<AdminToken>,
    /// Rows in the live drift window of each served version (0: no window).
    pub drift_window: usize,
}

/// Whether only this machine can reach `ip`: 127.0.0.0/8 and ::1 (also as
/// an IPv4-mapped address).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Whether this process runs in CI, as CI systems announce it (`CI`, `GITHUB_ACTIONS`).
pub fn in_ci(env: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
    set("CI") || set("GITHUB_ACTIONS")
}

/// Serves on `listener` until SIGINT or SIGTERM, then drains. SIGHUP checks
/// for a new version at once. `ready` is called with the bound address.
pub async fn run(
    listener: tokio::net::TcpListener,
    o: ServeOptions,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    run_until(listener, o, ready, shutdown_signal()).await
}

/// [`run`], stopping (and draining) when `shutdown` completes instead of on a
/// signal: for a server embedded in another command, such as the quickstart.
pub async fn run_until(
    listener: tokio::net::TcpListener,
    o: ServeOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    // Whoever can reach the admin endpoints can move an environment.
    if o.admin.is_none() && !is_loopback(addr.ip()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{addr} is reachable from other machines and the admin endpoints have no token"),
        ));
    }
    // The log's segments go to the store of the ref followed, if asked.
    let upload_to = match (&o.log, &o.target) {
        (Some(l), Target::Registry { reach, reference, .. }) if l.to_store => {
            Some((reach.clone(), reference.model.clone(), l.dir.clone(), l.segment_age))
        }
        (Some(l), Target::File { .. }) if l.to_store => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "--prediction-log-to-store sends the log to the store of the ref served: serve NAME@ENV, not --model",
            ));
        }
        _ => None,
    };
    let control = match &o.target {
        Target::Registry { reach, reference, features } => {
            rollout::Control::new(reach.clone(), reference, features.clone())
        }
        Target::File { .. } => None,
    };
    let state = Arc::new(state::State::new(o.target.describe(), o.limits, o.log, control, o.admin, o.drift_window)?);
    let uploader = upload_to.map(|(reach, model, dir, every)| {
        let u = Arc::new(log::upload::Uploader::new(reach, model, dir, state.metrics.clone()));
        (u.clone(), tokio::spawn(u.run(every)))
    });
    let loader = tokio::spawn(loader::run(state.clone(), o.target, o.follow));
    let rollouts = tokio::spawn(rollout::drive(state.clone()));
    let hup = state.clone();
    let hangups = tokio::spawn(async move {
        #[cfg(unix)]
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            while s.recv().await.is_some() {
                tracing::info!("SIGHUP: checking for a new version");
                hup.reload.notify_one();
            }
        }
        #[cfg(not(unix))]
        let _ = hup;
    });
    ready(addr);
    let app = http::router(state.clone());
    conn::serve(listener, app, state.metrics.clone(), &state.limits, o.drain, shutdown).await;
    if state.log.is_some() {
        // What the log holds in memory goes to disk before the process ends.
        let s = state.clone();
        let _ =
            tokio::task::spawn_blocking(move || s.log.as_ref().map(|l| l.finish(std::time::Duration::from_secs(10))))
                .await;
    }
    if let Some((u, rounds)) = uploader {
        // What the shutdown wrote goes to the store too, if it can within the drain.
        rounds.abort();
        if tokio::time::timeout(o.drain.max(std::time::Duration::from_secs(5)), u.once()).await.is_err() {
            tracing::warn!(
                "the last prediction log segments were not sent to the store in time; the next start sends them"
            );
        }
    }
    loader.abort();
    rollouts.abort();
    hangups.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
