//! The embedded registry: one SQLite file in WAL mode. Writers from several
//! processes queue on SQLite's lock for up to the busy timeout; each write
//! transaction starts with `BEGIN IMMEDIATE` ([`Engine::begin_write`]) so it
//! takes the write lock at once instead of failing when it upgrades from a
//! read.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_core::Clock;
use sqlx::AssertSqlSafe;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

use crate::db::Db;
use crate::engine::Engine;
use crate::registry::SqlRegistry;
use crate::{RegistryError, Result};

/// Marks a [`SqlRegistry`] on SQLite.
pub enum OnSqlite {}

pub type SqliteRegistry = SqlRegistry<OnSqlite>;

impl SqliteRegistry {
    /// Opens (creating if needed) the registry file at `path` and migrates it.
    pub async fn open(path: &Path, busy_timeout: Duration, clock: Arc<dyn Clock>) -> Result<Self> {
        let url = format!("sqlite://{}", path.display());
        let bad_path = |reason: String| RegistryError::Url { url: url.clone(), reason };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| bad_path(format!("cannot create {}: {e}", dir.display())))?;
        }
        sqlx::any::install_default_drivers();
        // The Any driver takes only a URL, so the file is named by one and
        // the rest of the connection's settings are PRAGMAs run on each new
        // connection.
        let file = std::path::absolute(path).map_err(|e| bad_path(e.to_string()))?;
        let opts: AnyConnectOptions = file_url(&file).parse().map_err(|e: sqlx::Error| bad_path(e.to_string()))?;
        let pragmas = Arc::new(pragmas(busy_timeout));
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(busy_timeout + Duration::from_secs(5))
            .after_connect(move |conn, _| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    sqlx::raw_sql(AssertSqlSafe(pragmas.as_str())).execute(conn).await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(RegistryError::db(&url))?;
        let db = Db { pool, url, clock, engine: Engine::Sqlite };
        db.migrate().await?;
        Ok(SqlRegistry::new(db))
    }
}

/// `sqlite://` and the path, percent-encoded but for unreserved characters
/// (SQLite's URL parser percent-decodes the path), opened read-write and
/// created if missing.
fn file_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    url
}

/// Each connection's settings: the busy timeout first (the others may wait
/// for a lock), WAL, full fsync on commit, and foreign keys enforced.
fn pragmas(busy_timeout: Duration) -> String {
    format!(
        "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        busy_timeout.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use berth_core::SystemClock;

    use super::SqliteRegistry;

    /// The settings the Any driver cannot carry hold on every pooled connection.
    #[tokio::test]
    async fn every_connection_has_the_sqlite_settings() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SqliteRegistry::open(&dir.path().join("r.db"), Duration::from_millis(1234), Arc::new(SystemClock))
            .await
            .unwrap();
        // Hold every connection the pool has, so each is checked.
        let mut conns = Vec::new();
        for _ in 0..4 {
            conns.push(reg.db.pool.acquire().await.unwrap());
        }
        for conn in &mut conns {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(mode, "wal");
            let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(timeout, 1234);
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(sync, 2, "FULL");
            let fks: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut **conn).await.unwrap();
            assert_eq!(fks, 1);
        }
        drop(conns);
        reg.close().await;
    }

    /// SQLite's "database is locked" still reaches `RegistryError::db` through Any.
    #[tokio::test]
    async fn a_writer_that_waits_past_the_busy_timeout_is_locked_out() {
        use crate::{Actor, Registry, RegistryError};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let holder = SqliteRegistry::open(&path, Duration::from_secs(5), Arc::new(SystemClock)).await.unwrap();
        let waiter = SqliteRegistry::open(&path, Duration::from_millis(100), Arc::new(SystemClock)).await.unwrap();
        let tx = holder.db.begin_write().await.unwrap();
        let err = waiter.record(&Actor::named("a"), "test", serde_json::json!({})).await.unwrap_err();
        assert!(matches!(err, RegistryError::Locked { .. }), "{err:?}");
        drop(tx);
    }

    /// A path with characters a URL would misread still names the file.
    #[tokio::test]
    async fn odd_paths_name_the_right_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a dir #1?/r%20.db");
        let reg = SqliteRegistry::open(&path, Duration::from_secs(5), Arc::new(SystemClock)).await.unwrap();
        reg.close().await;
        assert!(path.exists());
    }
}
