//! The registry's SQL for moving environments, approvals and the
//! notification delivery log: stamped out per engine beside `sql.rs`, whose
//! `Registry` implementation calls these. Same conventions: every mutation
//! of a model first takes the model's row lock (`lock_model`).

macro_rules! impl_deploy_sql {
    ($ty:ty, $db:ty) => {
        impl $ty {
            /// The version an environment rolls back to by default: the most
            /// recent one it pointed at, other than `current`, that it did not
            /// leave by a rollback.
            async fn previous_healthy(
                &self,
                conn: &mut <$db as sqlx::Database>::Connection,
                model: &berth_core::ModelName,
                env: &berth_core::AliasName,
                current: Option<u64>,
            ) -> $crate::Result<u64> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let rows = sqlx::query(
                    "SELECT from_version, to_version, kind FROM alias_events WHERE model = $1 AND alias = $2 ORDER BY id DESC",
                )
                .bind(model.as_str())
                .bind(env.as_str())
                .fetch_all(&mut *conn)
                .await
                .map_err(db())?;
                let mut moves = Vec::with_capacity(rows.len());
                for r in &rows {
                    let from: Option<i64> = r.try_get("from_version").map_err(db())?;
                    let to: Option<i64> = r.try_get("to_version").map_err(db())?;
                    let kind: Option<String> = r.try_get("kind").map_err(db())?;
                    let kind = kind.as_deref().and_then(berth_core::MoveKind::parse).unwrap_or_default();
                    moves.push((from.map(|f| f as u64), to.map(|t| t as u64), kind));
                }
                match $crate::deploy::previous_healthy(&moves, current) {
                    Some(n) => Ok(n),
                    None => Err($crate::RegistryError::NothingToRollBack {
                        model: model.to_string(),
                        env: env.to_string(),
                        current,
                        moves: moves.len(),
                    }),
                }
            }

            async fn deploy_sql(&self, d: $crate::Deploy<'_>, actor: &$crate::Actor) -> $crate::Result<Option<berth_core::AliasEvent>> {
                let db = || $crate::RegistryError::db(&self.url);
                let mut tx = self.begin_write().await?;
                self.lock_model(&mut tx, d.model).await?;
                let from = self.current_alias(&mut tx, d.model, d.env).await?;
                let to = match d.to {
                    $crate::DeployTarget::Version(n) => {
                        self.version_in(&mut tx, d.model, n).await?;
                        n
                    }
                    $crate::DeployTarget::PreviousHealthy => self.previous_healthy(&mut tx, d.model, d.env, from).await?,
                };
                if from == Some(to) {
                    tx.rollback().await.map_err(db())?;
                    return Ok(None);
                }
                sqlx::query(
                    "INSERT INTO aliases (model, alias, version, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
                )
                .bind(d.model.as_str())
                .bind(d.env.as_str())
                .bind(to as i64)
                .bind(self.clock.now().millis())
                .execute(&mut *tx)
                .await
                .map_err(db())?;
                let ev = self
                    .record_alias_move(
                        &mut tx,
                        $crate::rows::MoveRow {
                            model: d.model,
                            alias: d.env,
                            from,
                            to: Some(to),
                            reason: d.reason,
                            kind: d.kind,
                            evidence: d.evidence.as_ref(),
                        },
                        actor,
                    )
                    .await?;
                tx.commit().await.map_err(db())?;
                Ok(Some(ev))
            }

            async fn approve_sql(
                &self,
                model: &berth_core::ModelName,
                n: u64,
                env: &berth_core::AliasName,
                actor: &$crate::Actor,
                comment: Option<&str>,
            ) -> $crate::Result<(berth_core::Approval, bool)> {
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
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
                .bind(&actor.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db())?;
                if let Some(row) = existing {
                    let a = ctx.approval(&row)?;
                    tx.rollback().await.map_err(db())?;
                    return Ok((a, false));
                }
                let row = sqlx::query(
                    "INSERT INTO approvals (model, version, env, approver, comment, at) VALUES ($1, $2, $3, $4, $5, $6) \
                     RETURNING id, model, version, env, approver, comment, at",
                )
                .bind(model.as_str())
                .bind(n as i64)
                .bind(env.as_str())
                .bind(&actor.0)
                .bind(comment)
                .bind(self.clock.now().millis())
                .fetch_one(&mut *tx)
                .await
                .map_err(db())?;
                let a = ctx.approval(&row)?;
                self.insert_audit(
                    &mut tx,
                    $crate::rows::AuditRow {
                        actor: &actor.0,
                        action: "version.approve",
                        model: Some(model.as_str()),
                        version: Some(n),
                        before: None,
                        after: Some(serde_json::json!({"env": env, "comment": comment}).to_string()),
                    },
                )
                .await?;
                tx.commit().await.map_err(db())?;
                Ok((a, true))
            }

            async fn approvals_sql(&self, f: &$crate::ApprovalFilter) -> $crate::Result<Vec<berth_core::Approval>> {
                let ctx = $crate::rows::Ctx { url: &self.url };
                // Absent filters match everything: `$1 IS NULL OR model = $1`.
                let rows = sqlx::query(
                    "SELECT id, model, version, env, approver, comment, at FROM approvals \
                     WHERE ($1 IS NULL OR model = $1) AND ($2 IS NULL OR version = $2) AND ($3 IS NULL OR env = $3) ORDER BY id",
                )
                .bind(f.model.as_ref().map(|m| m.as_str()))
                .bind(f.version.map(|v| v as i64))
                .bind(f.env.as_ref().map(|e| e.as_str()))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::RegistryError::db(&self.url))?;
                rows.iter().map(|r| ctx.approval(r)).collect()
            }

            async fn add_delivery_sql(&self, d: $crate::NewDelivery<'_>) -> $crate::Result<i64> {
                sqlx::query_scalar(
                    "INSERT INTO deliveries (event_id, event, model, notifier, target, status, attempts, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING id",
                )
                .bind(d.event_id)
                .bind(d.event)
                .bind(d.model.map(|m| m.as_str()))
                .bind(d.notifier)
                .bind(d.target)
                .bind(berth_core::DeliveryStatus::Pending.as_str())
                .bind(self.clock.now().millis())
                .fetch_one(&self.pool)
                .await
                .map_err($crate::RegistryError::db(&self.url))
            }

            async fn update_delivery_sql(&self, id: i64, u: &$crate::DeliveryUpdate) -> $crate::Result<()> {
                let finished = (u.status != berth_core::DeliveryStatus::Pending).then(|| self.clock.now().millis());
                sqlx::query(
                    "UPDATE deliveries SET status = $2, attempts = $3, last_status = $4, last_error = $5, finished_at = $6 WHERE id = $1",
                )
                .bind(id)
                .bind(u.status.as_str())
                .bind(i64::from(u.attempts))
                .bind(u.last_status.map(i64::from))
                .bind(u.last_error.as_deref())
                .bind(finished)
                .execute(&self.pool)
                .await
                .map_err($crate::RegistryError::db(&self.url))?;
                Ok(())
            }

            async fn deliveries_sql(&self, limit: Option<u32>) -> $crate::Result<Vec<berth_core::Delivery>> {
                let ctx = $crate::rows::Ctx { url: &self.url };
                let rows = sqlx::query(
                    "SELECT id, event_id, event, model, notifier, target, status, attempts, last_status, last_error, created_at, finished_at \
                     FROM deliveries ORDER BY id DESC LIMIT $1",
                )
                .bind(limit.map(i64::from).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::RegistryError::db(&self.url))?;
                rows.iter().map(|r| ctx.delivery(r)).collect()
            }
        }
    };
}

pub(crate) use impl_deploy_sql;
