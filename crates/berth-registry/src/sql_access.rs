//! The registry's SQL for tokens and policies, stamped out per engine beside
//! `sql.rs`.

/// The columns every token query selects.
pub(crate) const TOKEN_COLS: &str = "id, prefix, principal, role, models, envs, created_by, created_at, expires_at, \
                                     revoked_at, revoked_by, last_used_at";

/// The columns every policy query selects.
pub(crate) const POLICY_COLS: &str = "version, document, digest, applied_by, applied_at, source";

/// How often a token's last use is written: at most once a minute.
pub(crate) const TOUCH_EVERY_MS: i64 = 60_000;

macro_rules! impl_access_sql {
    ($ty:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::Access for $ty {
            async fn create_token(&self, t: $crate::NewToken<'_>, actor: &$crate::Actor) -> $crate::Result<$crate::TokenRecord> {
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let mut tx = self.begin_write().await?;
                let envs: Vec<&str> = t.grant.envs.iter().map(|e| e.as_str()).collect();
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO tokens (id, secret_sha256, prefix, principal, role, models, envs, created_by, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {}",
                    $crate::sql_access::TOKEN_COLS
                )))
                .bind(t.id)
                .bind(t.secret_sha256)
                .bind(t.prefix)
                .bind(t.principal)
                .bind(t.grant.role.as_str())
                .bind(t.grant.models.as_str())
                .bind($crate::rows::to_json(&envs))
                .bind(&actor.0)
                .bind(self.clock.now().millis())
                .bind(t.expires_at.map(|e| e.millis()))
                .fetch_one(&mut *tx)
                .await
                .map_err(db())?;
                let rec = ctx.token(&row)?;
                self.insert_audit(
                    &mut tx,
                    $crate::rows::AuditRow {
                        actor: &actor.0,
                        action: "token.create",
                        model: None,
                        version: None,
                        before: None,
                        after: Some(serde_json::json!({
                            "token": rec.id, "principal": rec.principal, "grant": rec.grant,
                            "expires_at": rec.expires_at,
                        }).to_string()),
                    },
                )
                .await?;
                tx.commit().await.map_err(db())?;
                Ok(rec)
            }

            async fn token_by_hash(&self, secret_sha256: &str) -> $crate::Result<Option<$crate::TokenRecord>> {
                let ctx = $crate::rows::Ctx { url: &self.url };
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM tokens WHERE secret_sha256 = $1",
                    $crate::sql_access::TOKEN_COLS
                )))
                .bind(secret_sha256)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::RegistryError::db(&self.url))?;
                row.map(|r| ctx.token(&r)).transpose()
            }

            async fn tokens(&self) -> $crate::Result<Vec<$crate::TokenRecord>> {
                let ctx = $crate::rows::Ctx { url: &self.url };
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM tokens ORDER BY created_at DESC, id DESC",
                    $crate::sql_access::TOKEN_COLS
                )))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::RegistryError::db(&self.url))?;
                rows.iter().map(|r| ctx.token(r)).collect()
            }

            async fn revoke_token(&self, id: &str, actor: &$crate::Actor) -> $crate::Result<$crate::TokenRecord> {
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE tokens SET revoked_at = COALESCE(revoked_at, $2), revoked_by = COALESCE(revoked_by, $3) \
                     WHERE id = $1 RETURNING {}",
                    $crate::sql_access::TOKEN_COLS
                )))
                .bind(id)
                .bind(self.clock.now().millis())
                .bind(&actor.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db())?;
                let Some(row) = row else {
                    return Err($crate::RegistryError::TokenNotFound(id.to_string()));
                };
                let rec = ctx.token(&row)?;
                self.insert_audit(
                    &mut tx,
                    $crate::rows::AuditRow {
                        actor: &actor.0,
                        action: "token.revoke",
                        model: None,
                        version: None,
                        before: None,
                        after: Some(serde_json::json!({"token": rec.id, "principal": rec.principal}).to_string()),
                    },
                )
                .await?;
                tx.commit().await.map_err(db())?;
                Ok(rec)
            }

            async fn touch_token(&self, id: &str) -> $crate::Result<()> {
                let now = self.clock.now().millis();
                sqlx::query("UPDATE tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)")
                    .bind(id)
                    .bind(now)
                    .bind(now - $crate::sql_access::TOUCH_EVERY_MS)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::RegistryError::db(&self.url))?;
                Ok(())
            }

            async fn apply_policy(
                &self,
                document: &serde_json::Value,
                source: Option<&str>,
                actor: &$crate::Actor,
            ) -> $crate::Result<($crate::PolicyRecord, bool)> {
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let text = $crate::access::canonical(document);
                let digest = berth_core::Digest::of(text.as_bytes()).to_string();
                let mut tx = self.begin_write().await?;
                // The policy_lock row serialises appliers on both engines, as the model row does for versions.
                sqlx::query("UPDATE policy_lock SET applies = applies + 1")
                    .execute(&mut *tx)
                    .await
                    .map_err(db())?;
                let current = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM policies ORDER BY version DESC LIMIT 1",
                    $crate::sql_access::POLICY_COLS
                )))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db())?;
                let current = current.map(|r| ctx.policy(&r)).transpose()?;
                if let Some(c) = current.as_ref().filter(|c| c.digest == digest) {
                    let c = c.clone();
                    tx.rollback().await.map_err(db())?;
                    return Ok((c, false));
                }
                let next = current.as_ref().map_or(1, |c| c.version + 1);
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO policies (version, document, digest, applied_by, applied_at, source) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {}",
                    $crate::sql_access::POLICY_COLS
                )))
                .bind(next as i64)
                .bind(&text)
                .bind(&digest)
                .bind(&actor.0)
                .bind(self.clock.now().millis())
                .bind(source)
                .fetch_one(&mut *tx)
                .await
                .map_err(db())?;
                let rec = ctx.policy(&row)?;
                self.insert_audit(
                    &mut tx,
                    $crate::rows::AuditRow {
                        actor: &actor.0,
                        action: "policy.apply",
                        model: None,
                        version: None,
                        before: current.map(|c| serde_json::json!({"policy": c.version, "digest": c.digest}).to_string()),
                        after: Some(serde_json::json!({"policy": rec.version, "digest": rec.digest, "source": source}).to_string()),
                    },
                )
                .await?;
                tx.commit().await.map_err(db())?;
                Ok((rec, true))
            }

            async fn policy(&self) -> $crate::Result<Option<$crate::PolicyRecord>> {
                let ctx = $crate::rows::Ctx { url: &self.url };
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM policies ORDER BY version DESC LIMIT 1",
                    $crate::sql_access::POLICY_COLS
                )))
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::RegistryError::db(&self.url))?;
                row.map(|r| ctx.policy(&r)).transpose()
            }

            async fn policy_history(&self) -> $crate::Result<Vec<$crate::PolicyRecord>> {
                let ctx = $crate::rows::Ctx { url: &self.url };
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM policies ORDER BY version DESC",
                    $crate::sql_access::POLICY_COLS
                )))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::RegistryError::db(&self.url))?;
                rows.iter().map(|r| ctx.policy(r)).collect()
            }
        }
    };
}

pub(crate) use impl_access_sql;
