//! The state every operation shares: one connection pool for either engine
//! (through `sqlx::Any`), the URL for messages, the clock and the engine.
//! Each aggregate's SQL lives in its own module as `impl Db` methods.

use std::sync::Arc;

use berth_core::Clock;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Transaction};

use crate::engine::Engine;
use crate::rows::Ctx;
use crate::{RegistryError, Result};

pub(crate) struct Db {
    pub pool: AnyPool,
    /// The registry's URL with any password hidden.
    pub url: String,
    pub clock: Arc<dyn Clock>,
    pub engine: Engine,
}

impl Db {
    /// Wraps a database error with this registry's URL.
    pub fn err(&self) -> impl FnOnce(sqlx::Error) -> RegistryError + '_ {
        RegistryError::db(&self.url)
    }

    /// Decodes rows, reporting bad ones against this registry's URL.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx { url: &self.url }
    }

    /// A connection for a sequence of reads.
    pub async fn conn(&self) -> Result<PoolConnection<Any>> {
        self.pool.acquire().await.map_err(self.err())
    }

    /// Opens a write transaction the way the engine wants it (see [`Engine::begin_write`]).
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        match self.engine.begin_write() {
            Some(statement) => self.pool.begin_with(statement).await,
            None => self.pool.begin().await,
        }
        .map_err(self.err())
    }
}
