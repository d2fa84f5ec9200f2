//! Tokens: stored as the SHA-256 of their secret with a display prefix, never
//! the secret; created and revoked with an audit entry that names the token
//! by id, never by hash.

use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, NewToken, RegistryError, Result, TokenRecord};

/// The columns every token query selects.
const TOKEN_COLS: &str = "id, prefix, principal, role, models, envs, created_by, created_at, expires_at, revoked_at, \
                          revoked_by, last_used_at";

/// How often a token's last use is written: at most once a minute.
const TOUCH_EVERY_MS: i64 = 60_000;

fn with_cols(sql: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.replace("{cols}", TOKEN_COLS))
}

impl Db {
    pub(crate) async fn create_token(&self, t: NewToken<'_>, actor: &Actor) -> Result<TokenRecord> {
        let mut tx = self.begin_write().await?;
        let envs: Vec<&str> = t.grant.envs.iter().map(|e| e.as_str()).collect();
        let row = sqlx::query(with_cols(
            "INSERT INTO tokens (id, secret_sha256, prefix, principal, role, models, envs, created_by, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {cols}",
        ))
        .bind(t.id)
        .bind(t.secret_sha256)
        .bind(t.prefix)
        .bind(t.principal)
        .bind(t.grant.role.as_str())
        .bind(t.grant.models.as_str())
        .bind(crate::rows::to_json(&envs))
        .bind(&actor.name)
        .bind(self.clock.now().millis())
        .bind(t.expires_at.map(|e| e.millis()))
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err())?;
        let rec = self.ctx().token(&row)?;
        let after = serde_json::json!({
            "token": rec.id, "principal": rec.principal, "grant": rec.grant, "expires_at": rec.expires_at,
        });
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "token.create",
            model: None,
            version: None,
            before: None,
            after: Some(after.to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(rec)
    }

    pub(crate) async fn token_by_hash(&self, secret_sha256: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(with_cols("SELECT {cols} FROM tokens WHERE secret_sha256 = $1"))
            .bind(secret_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err())?;
        row.map(|r| self.ctx().token(&r)).transpose()
    }

    pub(crate) async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(with_cols("SELECT {cols} FROM tokens ORDER BY created_at DESC, id DESC"))
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        rows.iter().map(|r| self.ctx().token(r)).collect()
    }

    pub(crate) async fn revoke_token(&self, id: &str, actor: &Actor) -> Result<TokenRecord> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(with_cols(
            "UPDATE tokens SET revoked_at = COALESCE(revoked_at, $2), revoked_by = COALESCE(revoked_by, $3) \
             WHERE id = $1 RETURNING {cols}",
        ))
        .bind(id)
        .bind(self.clock.now().millis())
        .bind(&actor.name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(self.err())?;
        let Some(row) = row else {
            return Err(RegistryError::TokenNotFound(id.to_string()));
        };
        let rec = self.ctx().token(&row)?;
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "token.revoke",
            model: None,
            version: None,
            before: None,
            after: Some(serde_json::json!({"token": rec.id, "principal": rec.principal}).to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(rec)
    }

    pub(crate) async fn touch_token(&self, id: &str) -> Result<()> {
        let now = self.clock.now().millis();
        sqlx::query(
            "UPDATE tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(id)
        .bind(now)
        .bind(now - TOUCH_EVERY_MS)
        .execute(&self.pool)
        .await
        .map_err(self.err())?;
        Ok(())
    }
}
