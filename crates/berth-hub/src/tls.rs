//! TLS for the hub: a certificate chain and its key from PEM files, and the
//! accept loop that answers only over TLS. A handshake that does not finish
//! within ten seconds is dropped, so a silent connection holds nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

const HANDSHAKE: Duration = Duration::from_secs(10);

/// What the hub presents to clients.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
}

impl Tls {
    /// Reads the certificate chain (leaf first) and the private key; says
    /// which file is wrong and how when they cannot be used.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("--tls-cert {}: cannot be read: {e}", cert.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--tls-cert {}: not a PEM certificate: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("--tls-cert {}: holds no CERTIFICATE block", cert.display()));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("--tls-key {}: no PEM private key in it: {e}", key.display()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS cannot be set up: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("--tls-cert and --tls-key do not make a usable pair: {e}"))?;
        Ok(Tls { acceptor: TlsAcceptor::from(Arc::new(config)) })
    }
}

/// Serves `app` over TLS until `shutdown` completes, then lets requests in
/// flight finish for up to 30 seconds.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Tls,
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
        let (acceptor, app, watcher) = (tls.acceptor.clone(), app.clone(), graceful.watcher());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tracing::debug!(%peer, "TLS handshake failed: {e}"),
                Err(_) => return tracing::debug!(%peer, "TLS handshake did not finish in time"),
            };
            let service = TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("requests still in flight after 30s; stopping"),
    }
}
