//! The team registry on PostgreSQL. Migrations run under an advisory lock so
//! that many replicas starting at once migrate exactly once.

use std::sync::Arc;
use std::time::Duration;

use berth_core::Clock;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::{RegistryError, Result};

/// Arbitrary, fixed: the advisory lock key berth's migrations hold.
const MIGRATION_LOCK: i64 = 0x6265_7274_6800;

pub struct PgRegistry {
    pub(crate) pool: PgPool,
    pub(crate) url: String,
    pub(crate) clock: Arc<dyn Clock>,
}

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

impl PgRegistry {
    pub async fn open(url: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let shown = redact(url);
        let opts: PgConnectOptions =
            url.parse().map_err(|e: sqlx::Error| RegistryError::Url { url: shown.clone(), reason: e.to_string() })?;
        probe(&opts).await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(RegistryError::db(&shown))?;
        let reg = PgRegistry { pool, url: shown, clock };
        reg.migrate().await?;
        Ok(reg)
    }

    /// Closes the connection pool, waiting for connections in use to be
    /// returned. Later calls on this registry fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(RegistryError::db(&self.url))
    }

    const ID_TYPE: &str = "BIGSERIAL PRIMARY KEY";

    /// Migrations run under an advisory lock, so replicas starting together
    /// migrate once.
    async fn begin_migration(&self) -> Result<Transaction<'static, Postgres>> {
        let mut tx = self.begin_write().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(RegistryError::db(&self.url))?;
        Ok(tx)
    }
}

crate::sql::impl_registry!(PgRegistry, Postgres);
crate::sql_access::impl_access_sql!(PgRegistry, Postgres);

#[cfg(test)]
mod tests {
    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(super::redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
