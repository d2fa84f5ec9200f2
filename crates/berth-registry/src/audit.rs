//! The append-only audit log: every mutation appends its entry inside its own
//! transaction; operations outside the registry (gc) append through `record`.

use berth_core::AuditEntry;
use sqlx::AnyConnection;

use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, AuditFilter, Result};

impl Db {
    /// Appends an entry on `conn`, typically inside the mutation's transaction.
    pub(crate) async fn insert_audit(&self, conn: &mut AnyConnection, e: AuditRow<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, model, version, before_json, after_json, token) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(self.clock.now().millis())
        .bind(e.actor)
        .bind(e.action)
        .bind(e.model)
        .bind(e.version.map(|v| v as i64))
        .bind(e.before)
        .bind(e.after)
        .bind(e.token)
        .execute(conn)
        .await
        .map_err(self.err())?;
        Ok(())
    }

    /// The audit log, newest first.
    pub(crate) async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let limit = filter.limit.map(i64::from).unwrap_or(i64::MAX);
        let rows = match &filter.model {
            Some(m) => {
                sqlx::query(
                    "SELECT id, at, actor, token, action, model, version, before_json, after_json FROM audit_log \
                     WHERE model = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(m.as_str())
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(
                    "SELECT id, at, actor, token, action, model, version, before_json, after_json FROM audit_log \
                     ORDER BY id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(self.err())?;
        rows.iter().map(|r| self.ctx().audit(r)).collect()
    }

    /// Appends an entry for an operation outside the registry.
    pub(crate) async fn record(&self, actor: &Actor, action: &str, after: serde_json::Value) -> Result<()> {
        let mut conn = self.conn().await?;
        let row = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action,
            model: None,
            version: None,
            before: None,
            after: Some(after.to_string()),
        };
        self.insert_audit(&mut conn, row).await
    }
}
