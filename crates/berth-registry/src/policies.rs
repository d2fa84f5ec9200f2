//! The policy document, versioned: applying a document different from the
//! one in force appends a version (audited as `policy.apply`); applying the
//! same one again changes nothing. Appliers are serialised by the one row of
//! `policy_lock`, as writers to a model are by its row.

use sqlx::AnyConnection;

use crate::access::canonical;
use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, PolicyRecord, Result};

/// The columns every policy query selects.
const POLICY_COLS: &str = "version, document, digest, applied_by, applied_at, source";

fn with_cols(sql: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.replace("{cols}", POLICY_COLS))
}

impl Db {
    pub(crate) async fn apply_policy(
        &self,
        document: &serde_json::Value,
        source: Option<&str>,
        actor: &Actor,
    ) -> Result<(PolicyRecord, bool)> {
        let text = canonical(document);
        let digest = berth_core::Digest::of(text.as_bytes()).to_string();
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE policy_lock SET applies = applies + 1").execute(&mut *tx).await.map_err(self.err())?;
        let current = sqlx::query(with_cols("SELECT {cols} FROM policies ORDER BY version DESC LIMIT 1"))
            .fetch_optional(&mut *tx)
            .await
            .map_err(self.err())?;
        let current = current.map(|r| self.ctx().policy(&r)).transpose()?;
        if let Some(c) = current.as_ref().filter(|c| c.digest == digest) {
            let c = c.clone();
            tx.rollback().await.map_err(self.err())?;
            return Ok((c, false));
        }
        let next = current.as_ref().map_or(1, |c| c.version + 1);
        let row = sqlx::query(with_cols(
            "INSERT INTO policies (version, document, digest, applied_by, applied_at, source) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {cols}",
        ))
        .bind(next as i64)
        .bind(&text)
        .bind(&digest)
        .bind(&actor.name)
        .bind(self.clock.now().millis())
        .bind(source)
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err())?;
        let rec = self.ctx().policy(&row)?;
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "policy.apply",
            model: None,
            version: None,
            before: current.map(|c| serde_json::json!({"policy": c.version, "digest": c.digest}).to_string()),
            after: Some(serde_json::json!({"policy": rec.version, "digest": rec.digest, "source": source}).to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok((rec, true))
    }

    pub(crate) async fn policy(&self) -> Result<Option<PolicyRecord>> {
        self.policy_on(&mut *self.conn().await?).await
    }

    /// The policy in force, read on a connection (inside a transaction).
    pub(crate) async fn policy_on(&self, conn: &mut AnyConnection) -> Result<Option<PolicyRecord>> {
        let row = sqlx::query(with_cols("SELECT {cols} FROM policies ORDER BY version DESC LIMIT 1"))
            .fetch_optional(conn)
            .await
            .map_err(self.err())?;
        row.map(|r| self.ctx().policy(&r)).transpose()
    }

    pub(crate) async fn policy_history(&self) -> Result<Vec<PolicyRecord>> {
        let rows = sqlx::query(with_cols("SELECT {cols} FROM policies ORDER BY version DESC"))
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        rows.iter().map(|r| self.ctx().policy(r)).collect()
    }
}
