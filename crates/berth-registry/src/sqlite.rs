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

use crate::migrate::{MIGRATIONS, SCHEMA_TABLE, render};
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

    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(RegistryError::db(&self.url))
    }

    async fn migrate(&self) -> Result<()> {
        let db = || RegistryError::db(&self.url);
        let mut tx = self.begin_write().await?;
        sqlx::raw_sql(SCHEMA_TABLE).execute(&mut *tx).await.map_err(db())?;
        let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM berth_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(db())?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(RegistryError::SchemaTooNew { url: self.url.clone(), found: current, known });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let sql = render(m, "INTEGER PRIMARY KEY AUTOINCREMENT");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.map_err(db())?;
            sqlx::query("INSERT INTO berth_schema (version, applied_at) VALUES ($1, $2)")
                .bind(i as i64 + 1)
                .bind(self.clock.now().millis())
                .execute(&mut *tx)
                .await
                .map_err(db())?;
        }
        tx.commit().await.map_err(db())
    }
}

crate::sql::impl_registry!(SqliteRegistry, Sqlite);
