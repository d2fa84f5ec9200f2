//! The team registry on PostgreSQL. Migrations run under an advisory lock
//! ([`Engine::lock_migrations`]) so that many replicas starting at once
//! migrate exactly once.

use std::sync::Arc;
use std::time::Duration;

use berth_core::Clock;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::postgres::PgConnectOptions;

use crate::db::Db;
use crate::engine::Engine;
use crate::registry::SqlRegistry;
use crate::{RegistryError, Result};

/// The URL with its password replaced, safe to print.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// How long opening a registry waits for PostgreSQL to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One connection attempt before the pool is built: the pool retries a
/// refused connection until its acquire timeout and then reports only that
/// it timed out, while a command should fail at once and say why.
async fn probe(opts: &PgConnectOptions) -> Result<()> {
    use sqlx::Connection;
    let address = format!("{}:{}", opts.get_host(), opts.get_port());
    let unreachable =
        |reason: String| RegistryError::Unreachable { engine: "PostgreSQL", address: address.clone(), reason };
    match tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect_with(opts)).await {
        Err(_) => Err(unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))),
        Ok(Err(sqlx::Error::Io(e))) => Err(unreachable(io_reason(&e))),
        Ok(Err(sqlx::Error::Tls(e))) => Err(unreachable(format!("TLS failed: {e}"))),
        Ok(Err(e)) => Err(RegistryError::Db { url: redact(&format!("postgres://{address}")), source: e }),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
    }
}

/// An I/O error as a person would say it: "connection refused", not
/// "Connection refused (os error 111)".
fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        TimedOut => "the connection timed out".into(),
        HostUnreachable | NetworkUnreachable => "the host is unreachable".into(),
        ConnectionReset => "the connection was reset".into(),
        _ => e.to_string(),
    }
}

/// Marks a [`SqlRegistry`] on PostgreSQL.
pub enum OnPostgres {}

pub type PgRegistry = SqlRegistry<OnPostgres>;

impl PgRegistry {
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let shown = redact(url);
        let bad_url = |e: sqlx::Error| RegistryError::Url { url: shown.clone(), reason: e.to_string() };
        let pg: PgConnectOptions = url.parse().map_err(bad_url)?;
        probe(&pg).await?;
        sqlx::any::install_default_drivers();
        let opts: AnyConnectOptions = url.parse().map_err(bad_url)?;
        // No ping before each use: it is one more round trip on every
        // request (a hub's alias lookup makes two or three statements). A
        // connection the server dropped fails its statement instead, once,
        // and is closed by the pool; idle ones are retired before servers
        // and proxies tend to cut them.
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .idle_timeout(Duration::from_secs(120))
            .max_lifetime(Duration::from_secs(1800))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(RegistryError::db(&shown))?;
        let db = Db { pool, url: shown, clock, engine: Engine::Postgres };
        db.migrate().await?;
        Ok(SqlRegistry::new(db))
    }
}

#[cfg(test)]
mod tests {
    /// The probe still answers before any pool is built.
    #[tokio::test]
    async fn a_closed_port_is_reported_unreachable() {
        let clock = std::sync::Arc::new(berth_core::SystemClock);
        let err = super::PgRegistry::open("postgres://postgres@127.0.0.1:1/test", clock).await.err().unwrap();
        assert!(
            matches!(&err, crate::RegistryError::Unreachable { reason, .. } if reason == "connection refused"),
            "{err:?}"
        );
    }

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(super::redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
