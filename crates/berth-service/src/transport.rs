//! How a client reaches a server: a TCP connection, in TLS when the URL is
//! `https://`, and the HTTP/1.1 handshake over it, both within a time limit.
//! TLS trusts the system's certificate authorities, plus the PEM file a
//! caller names (a team's own CA, a self-signed hub).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::{Result, ServiceError};

#[derive(Clone)]
pub(crate) enum Transport {
    Plain,
    Tls(TlsConnector),
}

impl Transport {
    /// TLS trusting the system's roots and, when given, the certificates in `ca`.
    pub(crate) fn tls(ca: Option<&Path>) -> Result<Transport> {
        let mut roots = RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(ca) = ca {
            let bad = |why: String| {
                ServiceError::input(
                    format!("BERTH_HUB_CA {}: {why}", ca.display()),
                    Some("name a PEM file holding the certificate (or CA) the hub presents".to_string()),
                )
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
                .map_err(|e| bad(format!("cannot be read: {e}")))?
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| bad(format!("not PEM: {e}")))?;
            if certs.is_empty() {
                return Err(bad("holds no CERTIFICATE block".into()));
            }
            for c in certs {
                roots.add(c).map_err(|e| bad(format!("not a usable certificate: {e}")))?;
            }
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ServiceError::Infra { message: format!("TLS cannot be set up: {e}"), hint: None })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Transport::Tls(TlsConnector::from(Arc::new(config))))
    }

    /// Connects to `host:port` and completes the HTTP/1.1 handshake (and TLS's
    /// first), each within `timeout`; the connection runs on a task of its own.
    pub(crate) async fn handshake<B>(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
        infra: &(dyn Fn(String) -> ServiceError + Sync),
    ) -> Result<SendRequest<B>>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port)))
            .await
            .map_err(|_| infra("connecting timed out".into()))?
            .map_err(|e| infra(format!("cannot connect: {e}")))?;
        let _ = stream.set_nodelay(true);
        let http = |e: hyper::Error| infra(format!("HTTP handshake failed: {e}"));
        let late = |_| infra("the handshake timed out".into());
        match self {
            Transport::Plain => {
                let (sender, conn) =
                    tokio::time::timeout(timeout, hyper::client::conn::http1::handshake(TokioIo::new(stream)))
                        .await
                        .map_err(late)?
                        .map_err(http)?;
                tokio::spawn(conn);
                Ok(sender)
            }
            Transport::Tls(connector) => {
                let name = ServerName::try_from(host.to_string())
                    .map_err(|e| infra(format!("{host:?} is not a name TLS can check: {e}")))?;
                let tls = tokio::time::timeout(timeout, connector.connect(name, stream))
                    .await
                    .map_err(late)?
                    .map_err(|e| ServiceError::Infra {
                        message: format!("{host}:{port}: TLS failed: {e}"),
                        hint: Some(
                            "if the server's certificate comes from your own CA, name that CA's PEM file in BERTH_HUB_CA"
                                .into(),
                        ),
                    })?;
                let (sender, conn) =
                    tokio::time::timeout(timeout, hyper::client::conn::http1::handshake(TokioIo::new(tls)))
                        .await
                        .map_err(late)?
                        .map_err(http)?;
                tokio::spawn(conn);
                Ok(sender)
            }
        }
    }
}
