//! The embedded registry: one SQLite file in WAL mode. Writers from several
//! processes queue on SQLite's lock for up to the busy timeout; each write
//! transaction starts with `BEGIN IMMEDIATE` so it takes the write lock at
//! once instead of failing when it upgrades from a read.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_core::Clock;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::{RegistryError, Result};

pub struct SqliteRegistry {
    pub(crate) pool: SqlitePool,
    pub(crate) url: String,
    pub(crate) clock: Arc<dyn Clock>,
}

impl SqliteRegistry {
    /// Opens (creating if needed) the registry file at `path` and migrates it.
    pub async fn open(path: &Path, busy_timeout: Duration, clock: Arc<dyn Clock>) -> Result<Self> {
        let url = format!("sqlite://{}", path.display());
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| RegistryError::Url {
                url: url.clone(),
                reason: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(busy_timeout + Duration::from_secs(5))
            .connect_with(opts)
            .await
            .map_err(RegistryError::db(&url))?;
        let reg = SqliteRegistry { pool, url, clock };
        reg.migrate().await?;
        Ok(reg)
    }

    /// Closes the connection pool, waiting for connections in use to be
    /// returned. Later calls on this registry fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(RegistryError::db(&self.url))
    }

    const ID_TYPE: &str = "INTEGER PRIMARY KEY AUTOINCREMENT";

    /// Migrations take the write lock like any other write.
    async fn begin_migration(&self) -> Result<Transaction<'static, Sqlite>> {
        self.begin_write().await
    }
}

crate::sql::impl_registry!(SqliteRegistry, Sqlite);
crate::sql_access::impl_access_sql!(SqliteRegistry, Sqlite);
