//! Choosing the engine from a URL: `sqlite://PATH` (or a bare path) for the
//! embedded registry, `postgres://…` for PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_core::Clock;

use crate::{PgRegistry, Registry, RegistryError, Result, SqliteRegistry};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl RegistryUrl {
    /// Parses a registry URL; relative SQLite paths are taken from `base`.
    pub fn parse(s: &str, base: &Path) -> Result<Self> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(RegistryUrl::Postgres(s.to_string()));
        }
        let path = s.strip_prefix("sqlite://").unwrap_or(s);
        if path.is_empty() || s.contains("://") && !s.starts_with("sqlite://") {
            return Err(RegistryError::Url {
                url: s.to_string(),
                reason: "expected sqlite://PATH or postgres://…".into(),
            });
        }
        Ok(RegistryUrl::Sqlite(base.join(path)))
    }
}

/// Opens the registry a URL names, migrating its schema if needed.
pub async fn connect(url: &RegistryUrl, busy_timeout: Duration, clock: Arc<dyn Clock>) -> Result<Arc<dyn Registry>> {
    Ok(match url {
        RegistryUrl::Sqlite(p) => Arc::new(SqliteRegistry::open(p, busy_timeout, clock).await?),
        RegistryUrl::Postgres(u) => Arc::new(PgRegistry::open(u, clock).await?),
    })
}
