//! The registry's SQL, written once and stamped out for each engine. Both
//! engines accept `$N` placeholders, `ON CONFLICT … DO UPDATE` and
//! `RETURNING`, so the statements are identical; each engine only supplies
//! how a write transaction begins (see `sqlite.rs` and `postgres.rs`).
//!
//! Every mutation of a model first updates that model's row, which takes a
//! row lock on PostgreSQL and the write lock on SQLite: concurrent writers to
//! one model are serialised, and version numbers come from the model's
//! counter in the same transaction, so they are unique and without gaps.

macro_rules! impl_registry {
    ($ty:ty, $db:ty) => {
        impl $ty {
            /// Applies the embedded migrations not yet applied, in one transaction.
            pub(crate) async fn migrate(&self) -> $crate::Result<()> {
                use $crate::migrate::{MIGRATIONS, SCHEMA_TABLE, render};
                let db = || $crate::RegistryError::db(&self.url);
                // Fast path without a write lock: an up-to-date schema is the common case.
                let applied: Result<i64, _> =
                    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM berth_schema").fetch_one(&self.pool).await;
                if applied.is_ok_and(|v| v == MIGRATIONS.len() as i64) {
                    return Ok(());
                }
                let mut tx = self.begin_migration().await?;
                sqlx::raw_sql(SCHEMA_TABLE).execute(&mut *tx).await.map_err(db())?;
                let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM berth_schema")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db())?;
                let known = MIGRATIONS.len() as i64;
                if current > known {
                    return Err($crate::RegistryError::SchemaTooNew { url: self.url.clone(), found: current, known });
                }
                for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                    let sql = render(m, Self::ID_TYPE);
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.map_err(db())?;
                    sqlx::query("INSERT INTO berth_schema (version, applied_at) VALUES ($1, $2)")
                        .bind(i as i64 + 1)
                        .bind(self.clock.now().millis())
                        .execute(&mut *tx)
                        .await
                        .map_err(db())?;
                }
                tx.commit().await.map_err(db())
            }

            async fn insert_audit(
                &self,
                conn: &mut <$db as sqlx::Database>::Connection,
                e: $crate::rows::AuditRow<'_>,
            ) -> $crate::Result<()> {
                sqlx::query(
                    "INSERT INTO audit_log (at, actor, action, model, version, before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(self.clock.now().millis())
                .bind(e.actor)
                .bind(e.action)
                .bind(e.model)
                .bind(e.version.map(|v| v as i64))
                .bind(e.before)
                .bind(e.after)
                .execute(&mut *conn)
                .await
                .map_err($crate::RegistryError::db(&self.url))?;
                Ok(())
            }

            async fn current_alias(
                &self,
                conn: &mut <$db as sqlx::Database>::Connection,
                model: &berth_core::ModelName,
                alias: &berth_core::AliasName,
            ) -> $crate::Result<Option<u64>> {
                let v: Option<i64> = sqlx::query_scalar("SELECT version FROM aliases WHERE model = $1 AND alias = $2")
                    .bind(model.as_str())
                    .bind(alias.as_str())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err($crate::RegistryError::db(&self.url))?;
                Ok(v.map(|v| v as u64))
            }

            /// Appends an alias move to its history and to the audit log.
            async fn record_alias_move(
                &self,
                conn: &mut <$db as sqlx::Database>::Connection,
                m: $crate::rows::MoveRow<'_>,
                actor: &$crate::Actor,
            ) -> $crate::Result<berth_core::AliasEvent> {
                let at = self.clock.now();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO alias_events (model, alias, from_version, to_version, actor, reason, at, kind, evidence) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(m.model.as_str())
                .bind(m.alias.as_str())
                .bind(m.from.map(|f| f as i64))
                .bind(m.to.map(|t| t as i64))
                .bind(actor.0.as_str())
                .bind(m.reason)
                .bind(at.millis())
                .bind(m.kind.as_str())
                .bind(m.evidence.map($crate::rows::to_json))
                .fetch_one(&mut *conn)
                .await
                .map_err($crate::RegistryError::db(&self.url))?;
                let action = m.action();
                self.insert_audit(
                    conn,
                    $crate::rows::AuditRow {
                        actor: &actor.0,
                        action: &action,
                        model: Some(m.model.as_str()),
                        version: m.to.or(m.from),
                        before: Some(serde_json::json!({"alias": m.alias, "version": m.from}).to_string()),
                        after: Some(serde_json::json!({"alias": m.alias, "version": m.to, "reason": m.reason}).to_string()),
                    },
                )
                .await?;
                Ok(berth_core::AliasEvent {
                    id,
                    model: m.model.clone(),
                    alias: m.alias.clone(),
                    from: m.from,
                    to: m.to,
                    actor: actor.0.clone(),
                    reason: m.reason.map(str::to_string),
                    at,
                    kind: m.kind,
                    evidence: m.evidence.cloned(),
                })
            }

            /// Takes the model's lock for this transaction; fails if the model does not exist.
            async fn lock_model(&self, conn: &mut <$db as sqlx::Database>::Connection, model: &berth_core::ModelName) -> $crate::Result<()> {
                let r = sqlx::query("UPDATE models SET updated_at = $2 WHERE name = $1")
                    .bind(model.as_str())
                    .bind(self.clock.now().millis())
                    .execute(&mut *conn)
                    .await
                    .map_err($crate::RegistryError::db(&self.url))?;
                if r.rows_affected() == 0 {
                    return Err($crate::RegistryError::ModelNotFound(model.to_string()));
                }
                Ok(())
            }

            async fn tags_of(
                &self,
                conn: &mut <$db as sqlx::Database>::Connection,
                model: &berth_core::ModelName,
                n: u64,
            ) -> $crate::Result<std::collections::BTreeMap<String, String>> {
                use sqlx::Row;
                let rows = sqlx::query("SELECT key, value FROM version_tags WHERE model = $1 AND version = $2")
                    .bind(model.as_str())
                    .bind(n as i64)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err($crate::RegistryError::db(&self.url))?;
                let mut out = std::collections::BTreeMap::new();
                for r in rows {
                    let k: String = r.try_get("key").map_err($crate::RegistryError::db(&self.url))?;
                    let v: String = r.try_get("value").map_err($crate::RegistryError::db(&self.url))?;
                    out.insert(k, v);
                }
                Ok(out)
            }

            /// The error for a version that was not found: the model is missing, or just that version.
            async fn missing_version(&self, conn: &mut <$db as sqlx::Database>::Connection, model: &berth_core::ModelName, n: u64) -> $crate::RegistryError {
                use sqlx::Row;
                let row = sqlx::query("SELECT MAX(v.version) AS latest FROM models m LEFT JOIN versions v ON v.model = m.name WHERE m.name = $1 GROUP BY m.name")
                    .bind(model.as_str())
                    .fetch_optional(&mut *conn)
                    .await;
                match row {
                    Ok(Some(r)) => {
                        let latest: Option<i64> = r.try_get("latest").unwrap_or(None);
                        $crate::RegistryError::VersionNotFound {
                            model: model.to_string(),
                            version: n,
                            latest: latest.map(|l| l.to_string()).unwrap_or_else(|| "none".into()),
                        }
                    }
                    Ok(None) => $crate::RegistryError::ModelNotFound(model.to_string()),
                    Err(e) => $crate::RegistryError::db(&self.url)(e),
                }
            }

            async fn version_in(
                &self,
                conn: &mut <$db as sqlx::Database>::Connection,
                model: &berth_core::ModelName,
                n: u64,
            ) -> $crate::Result<berth_core::VersionRecord> {
                let row = sqlx::query(concat!("SELECT ", $crate::rows::version_cols!(), " FROM versions WHERE model = $1 AND version = $2"))
                    .bind(model.as_str())
                    .bind(n as i64)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err($crate::RegistryError::db(&self.url))?;
                let Some(row) = row else { return Err(self.missing_version(conn, model, n).await) };
                let tags = self.tags_of(conn, model, n).await?;
                $crate::rows::Ctx { url: &self.url }.version(&row, tags)
            }
        }

        $crate::sql_deploy::impl_deploy_sql!($ty, $db);

        #[async_trait::async_trait]
        impl $crate::Registry for $ty {
            fn url(&self) -> String {
                self.url.clone()
            }

            async fn create_version(
                &self,
                v: berth_core::NewVersion,
                blobs: &[berth_core::Digest],
                lease: Option<$crate::LeaseId>,
            ) -> $crate::Result<berth_core::VersionRecord> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let now = self.clock.now();
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(
                    "INSERT INTO models (name, next_version, created_at, updated_at) VALUES ($1, 2, $2, $2) \
                     ON CONFLICT (name) DO UPDATE SET next_version = models.next_version + 1, updated_at = $2 \
                     RETURNING next_version - 1 AS version",
                )
                .bind(v.model.as_str())
                .bind(now.millis())
                .fetch_one(&mut *tx)
                .await
                .map_err(db())?;
                let n: i64 = row.try_get("version").map_err(db())?;
                let rec = berth_core::VersionRecord {
                    model: v.model,
                    version: n as u64,
                    manifest: v.manifest,
                    size: v.size,
                    meta: v.meta,
                    created_by: v.created_by,
                    created_at: now,
                    status: berth_core::VersionStatus::Ready,
                };
                sqlx::query(concat!(
                    "INSERT INTO versions (",
                    $crate::rows::version_cols!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(rec.model.as_str())
                .bind(n)
                .bind(rec.manifest.to_string())
                .bind(rec.size as i64)
                .bind(rec.meta.format.as_deref())
                .bind(rec.meta.signature.as_ref().map($crate::rows::to_json))
                .bind($crate::rows::to_json(&rec.meta.params))
                .bind($crate::rows::to_json(&rec.meta.metrics))
                .bind(rec.meta.description.as_deref())
                .bind($crate::rows::to_json(&rec.meta.lineage))
                .bind(rec.created_by.as_str())
                .bind(now.millis())
                .bind(rec.status.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db())?;
                for (k, val) in &rec.meta.tags {
                    sqlx::query("INSERT INTO version_tags (model, version, key, value) VALUES ($1, $2, $3, $4)")
                        .bind(rec.model.as_str())
                        .bind(n)
                        .bind(k)
                        .bind(val)
                        .execute(&mut *tx)
                        .await
                        .map_err(db())?;
                }
                let mut all: std::collections::BTreeSet<berth_core::Digest> = blobs.iter().copied().collect();
                all.insert(rec.manifest);
                for d in &all {
                    sqlx::query("INSERT INTO version_blobs (model, version, digest) VALUES ($1, $2, $3)")
                        .bind(rec.model.as_str())
                        .bind(n)
                        .bind(d.to_string())
                        .execute(&mut *tx)
                        .await
                        .map_err(db())?;
                }
                let after = serde_json::json!({"version": n, "manifest": rec.manifest, "size": rec.size});
                self.insert_audit(
                    &mut tx,
                    $crate::rows::AuditRow {
                        actor: &rec.created_by,
                        action: "version.create",
                        model: Some(rec.model.as_str()),
                        version: Some(n as u64),
                        before: None,
                        after: Some(after.to_string()),
                    },
                )
                    .await?;
                if let Some(l) = lease {
                    sqlx::query("DELETE FROM upload_leases WHERE id = $1").bind(l.0).execute(&mut *tx).await.map_err(db())?;
                }
                tx.commit().await.map_err(db())?;
                Ok(rec)
            }

            async fn models(&self) -> $crate::Result<Vec<$crate::ModelSummary>> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let rows = sqlx::query(
                    "SELECT m.name, m.created_at, m.updated_at, COUNT(v.version) AS n, MAX(v.version) AS latest \
                     FROM models m LEFT JOIN versions v ON v.model = m.name GROUP BY m.name, m.created_at, m.updated_at ORDER BY m.name",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db())?;
                let alias_rows = sqlx::query("SELECT model, alias, version FROM aliases").fetch_all(&self.pool).await.map_err(db())?;
                let mut aliases: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> = Default::default();
                for r in alias_rows {
                    let m: String = r.try_get("model").map_err(db())?;
                    let a: String = r.try_get("alias").map_err(db())?;
                    let v: i64 = r.try_get("version").map_err(db())?;
                    aliases.entry(m).or_default().insert(a, v as u64);
                }
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let name: String = r.try_get("name").map_err(db())?;
                    let n: i64 = r.try_get("n").map_err(db())?;
                    let latest: Option<i64> = r.try_get("latest").map_err(db())?;
                    out.push($crate::ModelSummary {
                        name: ctx.model(&name)?,
                        versions: n as u64,
                        latest: latest.map(|l| l as u64),
                        aliases: aliases.remove(&name).unwrap_or_default(),
                        created_at: berth_core::Timestamp::from_millis(r.try_get("created_at").map_err(db())?),
                        updated_at: berth_core::Timestamp::from_millis(r.try_get("updated_at").map_err(db())?),
                    });
                }
                Ok(out)
            }

            async fn versions(&self, model: &berth_core::ModelName) -> $crate::Result<Vec<berth_core::VersionRecord>> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let mut conn = self.pool.acquire().await.map_err(db())?;
                let exists = sqlx::query("SELECT name FROM models WHERE name = $1")
                    .bind(model.as_str())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db())?;
                if exists.is_none() {
                    return Err($crate::RegistryError::ModelNotFound(model.to_string()));
                }
                let tag_rows = sqlx::query("SELECT version, key, value FROM version_tags WHERE model = $1")
                    .bind(model.as_str())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db())?;
                let mut tags: std::collections::BTreeMap<i64, std::collections::BTreeMap<String, String>> = Default::default();
                for r in tag_rows {
                    let v: i64 = r.try_get("version").map_err(db())?;
                    tags.entry(v).or_default().insert(r.try_get("key").map_err(db())?, r.try_get("value").map_err(db())?);
                }
                let rows = sqlx::query(concat!("SELECT ", $crate::rows::version_cols!(), " FROM versions WHERE model = $1 ORDER BY version DESC"))
                    .bind(model.as_str())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db())?;
                rows.iter()
                    .map(|r| {
                        let v: i64 = r.try_get("version").map_err(db())?;
                        ctx.version(r, tags.remove(&v).unwrap_or_default())
                    })
                    .collect()
            }

            async fn version(&self, model: &berth_core::ModelName, n: u64) -> $crate::Result<berth_core::VersionRecord> {
                let mut conn = self.pool.acquire().await.map_err($crate::RegistryError::db(&self.url))?;
                self.version_in(&mut conn, model, n).await
            }

            async fn resolve(&self, r: &berth_core::Ref) -> $crate::Result<berth_core::VersionRecord> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let mut conn = self.pool.acquire().await.map_err(db())?;
                let n = match &r.selector {
                    berth_core::Selector::Version(n) => *n,
                    berth_core::Selector::Latest => {
                        let row = sqlx::query("SELECT MAX(version) AS latest FROM versions WHERE model = $1")
                            .bind(r.model.as_str())
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(db())?;
                        let latest: Option<i64> = row.try_get("latest").map_err(db())?;
                        match latest {
                            Some(l) => l as u64,
                            None => return Err($crate::RegistryError::ModelNotFound(r.model.to_string())),
                        }
                    }
                    berth_core::Selector::Alias(a) => {
                        let row = sqlx::query("SELECT version FROM aliases WHERE model = $1 AND alias = $2")
                            .bind(r.model.as_str())
                            .bind(a.as_str())
                            .fetch_optional(&mut *conn)
                            .await
                            .map_err(db())?;
                        match row {
                            Some(row) => row.try_get::<i64, _>("version").map_err(db())? as u64,
                            None => {
                                let m = sqlx::query("SELECT name FROM models WHERE name = $1")
                                    .bind(r.model.as_str())
                                    .fetch_optional(&mut *conn)
                                    .await
                                    .map_err(db())?;
                                return Err(match m {
                                    Some(_) => $crate::RegistryError::AliasNotFound { model: r.model.to_string(), alias: a.to_string() },
                                    None => $crate::RegistryError::ModelNotFound(r.model.to_string()),
                                });
                            }
                        }
                    }
                };
                self.version_in(&mut conn, &r.model, n).await
            }

            async fn set_tags(
                &self,
                model: &berth_core::ModelName,
                n: u64,
                tags: &std::collections::BTreeMap<String, String>,
                actor: &$crate::Actor,
            ) -> $crate::Result<berth_core::VersionRecord> {
                let db = || $crate::RegistryError::db(&self.url);
                let mut tx = self.begin_write().await?;
                self.lock_model(&mut tx, model).await?;
                let before = self.version_in(&mut tx, model, n).await?.meta.tags;
                for (k, v) in tags {
                    sqlx::query(
                        "INSERT INTO version_tags (model, version, key, value) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (model, version, key) DO UPDATE SET value = excluded.value",
                    )
                    .bind(model.as_str())
                    .bind(n as i64)
                    .bind(k)
                    .bind(v)
                    .execute(&mut *tx)
                    .await
                    .map_err(db())?;
                }
                let rec = self.version_in(&mut tx, model, n).await?;
                self.insert_audit(
                    &mut tx,
                    $crate::rows::AuditRow {
                        actor: &actor.0,
                        action: "version.tag",
                        model: Some(model.as_str()),
                        version: Some(n),
                        before: Some($crate::rows::to_json(&before)),
                        after: Some($crate::rows::to_json(&rec.meta.tags)),
                    },
                )
                .await?;
                tx.commit().await.map_err(db())?;
                Ok(rec)
            }

            async fn set_alias(
                &self,
                model: &berth_core::ModelName,
                alias: &berth_core::AliasName,
                n: u64,
                actor: &$crate::Actor,
                reason: Option<&str>,
            ) -> $crate::Result<Option<berth_core::AliasEvent>> {
                let d = $crate::Deploy {
                    model,
                    env: alias,
                    to: $crate::DeployTarget::Version(n),
                    kind: berth_core::MoveKind::Alias,
                    reason,
                    evidence: None,
                };
                $crate::Registry::deploy(self, d, actor).await
            }

            async fn remove_alias(
                &self,
                model: &berth_core::ModelName,
                alias: &berth_core::AliasName,
                actor: &$crate::Actor,
                reason: Option<&str>,
            ) -> $crate::Result<berth_core::AliasEvent> {
                let db = || $crate::RegistryError::db(&self.url);
                let mut tx = self.begin_write().await?;
                self.lock_model(&mut tx, model).await?;
                let Some(from) = self.current_alias(&mut tx, model, alias).await? else {
                    return Err($crate::RegistryError::AliasNotFound { model: model.to_string(), alias: alias.to_string() });
                };
                sqlx::query("DELETE FROM aliases WHERE model = $1 AND alias = $2")
                    .bind(model.as_str())
                    .bind(alias.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db())?;
                let ev = self
                    .record_alias_move(
                        &mut tx,
                        $crate::rows::MoveRow { model, alias, from: Some(from), to: None, reason, kind: berth_core::MoveKind::Alias, evidence: None },
                        actor,
                    )
                    .await?;
                tx.commit().await.map_err(db())?;
                Ok(ev)
            }

            async fn aliases(&self, model: &berth_core::ModelName) -> $crate::Result<std::collections::BTreeMap<String, u64>> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let rows = sqlx::query("SELECT alias, version FROM aliases WHERE model = $1")
                    .bind(model.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db())?;
                let mut out = std::collections::BTreeMap::new();
                for r in rows {
                    out.insert(r.try_get("alias").map_err(db())?, r.try_get::<i64, _>("version").map_err(db())? as u64);
                }
                Ok(out)
            }

            async fn alias_history(
                &self,
                model: &berth_core::ModelName,
                alias: Option<&berth_core::AliasName>,
            ) -> $crate::Result<Vec<berth_core::AliasEvent>> {
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let rows = match alias {
                    Some(a) => sqlx::query(
                        "SELECT id, model, alias, from_version, to_version, actor, reason, at, kind, evidence FROM alias_events WHERE model = $1 AND alias = $2 ORDER BY id",
                    )
                    .bind(model.as_str())
                    .bind(a.as_str())
                    .fetch_all(&self.pool)
                    .await,
                    None => sqlx::query(
                        "SELECT id, model, alias, from_version, to_version, actor, reason, at, kind, evidence FROM alias_events WHERE model = $1 ORDER BY id",
                    )
                    .bind(model.as_str())
                    .fetch_all(&self.pool)
                    .await,
                }
                .map_err(db())?;
                rows.iter().map(|r| ctx.alias_event(r)).collect()
            }

            async fn add_gate_report(
                &self,
                g: $crate::NewGateReport<'_>,
                actor: &$crate::Actor,
            ) -> $crate::Result<berth_core::GateRecord> {
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let mut tx = self.begin_write().await?;
                self.lock_model(&mut tx, g.model).await?;
                // The version must exist.
                self.version_in(&mut tx, g.model, g.version).await?;
                let row = sqlx::query(
                    "INSERT INTO gate_reports (model, version, gate, data_digest, passed, created_by, created_at, report) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     RETURNING id, model, version, gate, data_digest, passed, created_by, created_at, report",
                )
                .bind(g.model.as_str())
                .bind(g.version as i64)
                .bind(g.gate)
                .bind(g.data_digest)
                .bind(i64::from(g.passed))
                .bind(&actor.0)
                .bind(self.clock.now().millis())
                .bind(g.report.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(db())?;
                let rec = ctx.gate_record(&row)?;
                self.insert_audit(
                    &mut tx,
                    $crate::rows::AuditRow {
                        actor: &actor.0,
                        action: "version.gate",
                        model: Some(g.model.as_str()),
                        version: Some(g.version),
                        before: None,
                        after: Some(serde_json::json!({
                            "gate": g.gate, "data_digest": g.data_digest, "passed": g.passed
                        }).to_string()),
                    },
                )
                .await?;
                tx.commit().await.map_err(db())?;
                Ok(rec)
            }

            async fn gate_reports(
                &self,
                model: &berth_core::ModelName,
                n: u64,
            ) -> $crate::Result<Vec<berth_core::GateRecord>> {
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let rows = sqlx::query(
                    "SELECT id, model, version, gate, data_digest, passed, created_by, created_at, report \
                     FROM gate_reports WHERE model = $1 AND version = $2 ORDER BY id",
                )
                .bind(model.as_str())
                .bind(n as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(db())?;
                rows.iter().map(|r| ctx.gate_record(r)).collect()
            }

            async fn audit(&self, filter: &$crate::AuditFilter) -> $crate::Result<Vec<berth_core::AuditEntry>> {
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let limit = filter.limit.map(i64::from).unwrap_or(i64::MAX);
                let rows = match &filter.model {
                    Some(m) => sqlx::query(
                        "SELECT id, at, actor, action, model, version, before_json, after_json FROM audit_log WHERE model = $1 ORDER BY id DESC LIMIT $2",
                    )
                    .bind(m.as_str())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await,
                    None => sqlx::query(
                        "SELECT id, at, actor, action, model, version, before_json, after_json FROM audit_log ORDER BY id DESC LIMIT $1",
                    )
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await,
                }
                .map_err(db())?;
                rows.iter().map(|r| ctx.audit(r)).collect()
            }

            async fn record(&self, actor: &$crate::Actor, action: &str, after: serde_json::Value) -> $crate::Result<()> {
                let mut conn = self.pool.acquire().await.map_err($crate::RegistryError::db(&self.url))?;
                self.insert_audit(&mut conn, $crate::rows::AuditRow { actor: &actor.0, action, model: None, version: None, before: None, after: Some(after.to_string()) }).await
            }

            async fn referenced_blobs(
                &self,
            ) -> $crate::Result<std::collections::BTreeMap<berth_core::Digest, (berth_core::ModelName, u64)>> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let ctx = $crate::rows::Ctx { url: &self.url };
                let rows = sqlx::query("SELECT digest, model, version FROM version_blobs").fetch_all(&self.pool).await.map_err(db())?;
                let mut out = std::collections::BTreeMap::new();
                for r in rows {
                    let d: String = r.try_get("digest").map_err(db())?;
                    let m: String = r.try_get("model").map_err(db())?;
                    let v: i64 = r.try_get("version").map_err(db())?;
                    out.entry(ctx.digest(&d)?).or_insert((ctx.model(&m)?, v as u64));
                }
                Ok(out)
            }

            async fn begin_upload(&self, blobs: &[berth_core::Digest], ttl: std::time::Duration) -> $crate::Result<$crate::LeaseId> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let now = self.clock.now();
                // Write the lease, then look for a running gc. A gc writes its
                // run, then reads the leases. Whichever comes second sees the
                // other, so a blob can never be both leased and swept.
                let row = sqlx::query("INSERT INTO upload_leases (created_at, expires_at, holder, digests) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(now.millis())
                    .bind(now.plus(ttl).millis())
                    .bind($crate::this_holder())
                    .bind($crate::rows::to_json(&blobs))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db())?;
                let id: i64 = row.try_get("id").map_err(db())?;
                let running = sqlx::query("SELECT id FROM gc_runs WHERE finished_at IS NULL AND expires_at > $1")
                    .bind(self.clock.now().millis())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db())?;
                if running.is_some() {
                    self.end_upload($crate::LeaseId(id)).await?;
                    return Err($crate::RegistryError::GcRunning { url: self.url.clone() });
                }
                Ok($crate::LeaseId(id))
            }

            async fn end_upload(&self, lease: $crate::LeaseId) -> $crate::Result<()> {
                sqlx::query("DELETE FROM upload_leases WHERE id = $1")
                    .bind(lease.0)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::RegistryError::db(&self.url))?;
                Ok(())
            }

            async fn leased_blobs(&self) -> $crate::Result<Vec<berth_core::Digest>> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let rows = sqlx::query("SELECT digests FROM upload_leases WHERE expires_at > $1")
                    .bind(self.clock.now().millis())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db())?;
                let mut out = Vec::new();
                for r in rows {
                    let s: String = r.try_get("digests").map_err(db())?;
                    let ds: Vec<berth_core::Digest> = serde_json::from_str(&s).map_err(|e| $crate::RegistryError::BadRow {
                        url: self.url.clone(),
                        what: "upload lease",
                        detail: e.to_string(),
                    })?;
                    out.extend(ds);
                }
                Ok(out)
            }

            async fn active_leases(&self) -> $crate::Result<Vec<$crate::Lease>> {
                use sqlx::Row;
                let db = || $crate::RegistryError::db(&self.url);
                let rows = sqlx::query("SELECT id, holder, created_at, expires_at FROM upload_leases WHERE expires_at > $1 ORDER BY id")
                    .bind(self.clock.now().millis())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db())?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::Lease {
                            id: $crate::LeaseId(r.try_get("id").map_err(db())?),
                            holder: r.try_get("holder").map_err(db())?,
                            created_at: berth_core::Timestamp::from_millis(r.try_get("created_at").map_err(db())?),
                            expires_at: berth_core::Timestamp::from_millis(r.try_get("expires_at").map_err(db())?),
                        })
                    })
                    .collect()
            }

            async fn gc_begin(&self, ttl: std::time::Duration) -> $crate::Result<$crate::GcRunId> {
                use sqlx::Row;
                let now = self.clock.now();
                let row = sqlx::query("INSERT INTO gc_runs (started_at, expires_at) VALUES ($1, $2) RETURNING id")
                    .bind(now.millis())
                    .bind(now.plus(ttl).millis())
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::RegistryError::db(&self.url))?;
                Ok($crate::GcRunId(row.try_get("id").map_err($crate::RegistryError::db(&self.url))?))
            }

            async fn deploy(&self, d: $crate::Deploy<'_>, actor: &$crate::Actor) -> $crate::Result<Option<berth_core::AliasEvent>> {
                self.deploy_sql(d, actor).await
            }

            async fn approve(
                &self,
                model: &berth_core::ModelName,
                n: u64,
                env: &berth_core::AliasName,
                actor: &$crate::Actor,
                comment: Option<&str>,
            ) -> $crate::Result<(berth_core::Approval, bool)> {
                self.approve_sql(model, n, env, actor, comment).await
            }

            async fn approvals(&self, f: &$crate::ApprovalFilter) -> $crate::Result<Vec<berth_core::Approval>> {
                self.approvals_sql(f).await
            }

            async fn add_delivery(&self, d: $crate::NewDelivery<'_>) -> $crate::Result<i64> {
                self.add_delivery_sql(d).await
            }

            async fn update_delivery(&self, id: i64, u: &$crate::DeliveryUpdate) -> $crate::Result<()> {
                self.update_delivery_sql(id, u).await
            }

            async fn deliveries(&self, limit: Option<u32>) -> $crate::Result<Vec<berth_core::Delivery>> {
                self.deliveries_sql(limit).await
            }

            async fn gc_end(&self, run: $crate::GcRunId) -> $crate::Result<()> {
                sqlx::query("UPDATE gc_runs SET finished_at = $1 WHERE id = $2")
                    .bind(self.clock.now().millis())
                    .bind(run.0)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::RegistryError::db(&self.url))?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_registry;
