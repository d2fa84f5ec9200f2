//! The accept loop: each connection served over HTTP/1.1, in TLS when the
//! hub has a certificate. A request head must arrive whole within the
//! header-read timeout, or the connection is closed: a client that trickles
//! bytes (slowloris) holds a connection for that long at most. On shutdown,
//! requests in flight get 30 seconds to finish.

use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::Tls;

/// How connections are taken.
#[derive(Clone)]
pub struct Listen {
    /// Serve HTTPS with this certificate; plain HTTP without.
    pub tls: Option<Tls>,
    /// The longest a request head may take to arrive.
    pub header_read_timeout: Duration,
}

impl Default for Listen {
    fn default() -> Listen {
        Listen { tls: None, header_read_timeout: Duration::from_secs(30) }
    }
}

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    listen: Listen,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (listen, app, watcher) = (listen.clone(), app.clone(), graceful.watcher());
        tokio::spawn(async move {
            let ended = match &listen.tls {
                Some(tls) => match tls.accept(stream).await {
                    Ok(s) => connection(s, app, listen.header_read_timeout, watcher).await,
                    Err(e) => Err(e),
                },
                None => connection(stream, app, listen.header_read_timeout, watcher).await,
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("requests still in flight after 30s; stopping"),
    }
}

async fn connection<S>(stream: S, app: Router, header_read_timeout: Duration, watcher: Watcher) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    watcher.watch(conn).await.map_err(|e| e.to_string())
}
