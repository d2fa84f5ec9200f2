//! What differs between the engines. The SQL text is the same for both (`$N`
//! placeholders, `ON CONFLICT … DO UPDATE`, `RETURNING`); only how a write
//! transaction begins, the auto-increment key and migration locking differ.

use sqlx::AnyConnection;

/// Arbitrary, fixed: the advisory lock key berth's migrations hold on PostgreSQL.
const MIGRATION_LOCK: i64 = 0x6265_7274_6800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The statement that opens a write transaction, if not a plain `BEGIN`.
    /// On SQLite it is `BEGIN IMMEDIATE`, so the transaction takes the write
    /// lock at once instead of failing when it upgrades from a read.
    pub fn begin_write(self) -> Option<&'static str> {
        match self {
            Engine::Sqlite => Some("BEGIN IMMEDIATE"),
            Engine::Postgres => None,
        }
    }

    /// The column type of auto-increment keys, substituted for `{ID}` in migrations.
    pub fn id_type(self) -> &'static str {
        match self {
            Engine::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Engine::Postgres => "BIGSERIAL PRIMARY KEY",
        }
    }

    /// Serialises migrations, run first in the migration transaction. On
    /// SQLite that transaction already holds the write lock like any other
    /// write; on PostgreSQL it takes an advisory lock, so replicas starting
    /// together migrate once.
    pub async fn lock_migrations(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        match self {
            Engine::Sqlite => Ok(()),
            Engine::Postgres => {
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK).execute(conn).await?;
                Ok(())
            }
        }
    }
}
