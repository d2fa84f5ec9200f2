//! Approvals of a version for an environment: one per approver, taken under
//! the model's lock ([`Db::lock_model`]) so approving twice keeps the first.

use berth_core::{AliasName, Approval, ModelName};
use sqlx::AnyConnection;

use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, ApprovalFilter, Result};

impl Db {
    /// Records `actor`'s approval; the flag says whether this one is new.
    pub(crate) async fn approve(
        &self,
        model: &ModelName,
        n: u64,
        env: &AliasName,
        actor: &Actor,
        comment: Option<&str>,
    ) -> Result<(Approval, bool)> {
        let mut tx = self.begin_write().await?;
        self.lock_model(&mut tx, model).await?;
        self.version_in(&mut tx, model, n).await?;
        let existing = sqlx::query(
            "SELECT id, model, version, env, approver, comment, at FROM approvals \
             WHERE model = $1 AND version = $2 AND env = $3 AND approver = $4",
        )
        .bind(model.as_str())
        .bind(n as i64)
        .bind(env.as_str())
        .bind(&actor.name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(self.err())?;
        if let Some(row) = existing {
            let a = self.ctx().approval(&row)?;
            tx.rollback().await.map_err(self.err())?;
            return Ok((a, false));
        }
        let row = sqlx::query(
            "INSERT INTO approvals (model, version, env, approver, comment, at) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, model, version, env, approver, comment, at",
        )
        .bind(model.as_str())
        .bind(n as i64)
        .bind(env.as_str())
        .bind(&actor.name)
        .bind(comment)
        .bind(self.clock.now().millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err())?;
        let a = self.ctx().approval(&row)?;
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "version.approve",
            model: Some(model.as_str()),
            version: Some(n),
            before: None,
            after: Some(serde_json::json!({"env": env, "comment": comment}).to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok((a, true))
    }

    /// Approvals, oldest first.
    pub(crate) async fn approvals(&self, f: &ApprovalFilter) -> Result<Vec<Approval>> {
        self.approvals_on(&mut *self.conn().await?, f).await
    }

    /// [`Db::approvals`] on a connection (inside a transaction).
    pub(crate) async fn approvals_on(&self, conn: &mut AnyConnection, f: &ApprovalFilter) -> Result<Vec<Approval>> {
        // Absent filters match everything: `$1 IS NULL OR model = $1`.
        let rows = sqlx::query(
            "SELECT id, model, version, env, approver, comment, at FROM approvals \
             WHERE ($1 IS NULL OR model = $1) AND ($2 IS NULL OR version = $2) AND ($3 IS NULL OR env = $3) \
             ORDER BY id",
        )
        .bind(f.model.as_ref().map(|m| m.as_str()))
        .bind(f.version.map(|v| v as i64))
        .bind(f.env.as_ref().map(|e| e.as_str()))
        .fetch_all(conn)
        .await
        .map_err(self.err())?;
        rows.iter().map(|r| self.ctx().approval(r)).collect()
    }
}
