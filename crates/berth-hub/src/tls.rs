//! TLS for the hub: a certificate chain and its key from PEM files, and the
//! handshake. One that does not finish within ten seconds is dropped, so a
//! silent connection holds nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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

    /// The server's side of the handshake on `stream`, within [`HANDSHAKE`].
    pub(crate) async fn accept(
        &self,
        stream: tokio::net::TcpStream,
    ) -> Result<tokio_rustls::server::TlsStream<tokio::net::TcpStream>, String> {
        match tokio::time::timeout(HANDSHAKE, self.acceptor.accept(stream)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            Err(_) => Err("TLS handshake did not finish in time".into()),
        }
    }
}
