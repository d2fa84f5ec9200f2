//! `berth serve`: HTTP inference over one model version at a time, with
//! health that tells the truth, the load chain (local file → store, verified
//! → last verified cached copy → CI-only synthetic stand-in → 503 while
//! retrying), hot swap that never drops a request, the Open Inference
//! Protocol v2, KServe v1, Prometheus metrics and an opt-in prediction log.
//!
//! The HTTP server answers as soon as it is bound; loading runs beside it.
//! Models come through `berth-service` (registry resolution, verified
//! fetches); this crate adds no other way to reach the store or registry.

mod http;
mod input;
mod loader;
mod log;
mod metrics;
mod rollout;
mod served;
mod state;
mod synthetic;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use input::{BadInput, Inputs, Problem};
pub use loader::{Follow, Target};
pub use log::LogOptions;
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
}

/// Whether this process runs in CI, as the seeds detect it.
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
    let control = match &o.target {
        Target::Registry { config, actor, reference, features } => {
            rollout::Control::new((**config).clone(), actor.clone(), reference, features.clone())
        }
        Target::File { .. } => None,
    };
    let state = Arc::new(state::State::new(o.target.describe(), o.limits, o.log, control)?);
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
    ready(listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let app = http::router(state.clone());
    // Answers are small: send them at once rather than wait for an ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing the requests in flight");
        let _ = stop_tx.send(());
    });
    let drain = o.drain;
    tokio::select! {
        r = server => r?,
        _ = async {
            let _ = stop_rx.await;
            tokio::time::sleep(drain).await;
        } => tracing::warn!("requests still in flight after {drain:?}; stopping anyway"),
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
