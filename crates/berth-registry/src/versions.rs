//! Models and their versions: creating a version, reading and resolving
//! versions, tags, and the per-model summary.
//!
//! Every mutation of a model first updates that model's row
//! ([`Db::lock_model`], or the upsert in [`Db::create_version`]), which takes
//! a row lock on PostgreSQL and the write lock on SQLite: concurrent writers
//! to one model are serialised, and version numbers come from the model's
//! counter in the same transaction, so they are unique and without gaps.

use std::collections::{BTreeMap, BTreeSet};

use berth_core::{Digest, ModelName, NewVersion, Ref, Selector, Timestamp, VersionRecord, VersionStatus};
use sqlx::{AnyConnection, Row};

use crate::db::Db;
use crate::rows::{AuditRow, to_json};
use crate::{Actor, LeaseId, ModelSummary, RegistryError, Result};

// The version statements name the same columns in the same order (a test
// below checks); `Ctx::version` reads them by name.
const INSERT_VERSION: &str = "INSERT INTO versions (model, version, manifest, size, format, signature, params, metrics, \
                              description, lineage, created_by, created_at, status) \
                              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
const SELECT_VERSION: &str = "SELECT model, version, manifest, size, format, signature, params, metrics, description, \
                              lineage, created_by, created_at, status \
                              FROM versions WHERE model = $1 AND version = $2";
/// The version an alias points at, in one statement (an alias lookup is the
/// hub's most frequent request).
const SELECT_BY_ALIAS: &str = "SELECT v.model, v.version, v.manifest, v.size, v.format, v.signature, v.params, \
                               v.metrics, v.description, v.lineage, v.created_by, v.created_at, v.status \
                               FROM aliases a JOIN versions v ON v.model = a.model AND v.version = a.version \
                               WHERE a.model = $1 AND a.alias = $2";
const SELECT_VERSIONS: &str = "SELECT model, version, manifest, size, format, signature, params, metrics, description, \
                               lineage, created_by, created_at, status \
                               FROM versions WHERE model = $1 AND ($2 IS NULL OR version < $2) \
                               ORDER BY version DESC LIMIT $3";

impl Db {
    /// Takes the model's lock for this transaction; fails if the model does not exist.
    pub(crate) async fn lock_model(&self, conn: &mut AnyConnection, model: &ModelName) -> Result<()> {
        let r = sqlx::query("UPDATE models SET updated_at = $2 WHERE name = $1")
            .bind(model.as_str())
            .bind(self.clock.now().millis())
            .execute(conn)
            .await
            .map_err(self.err())?;
        if r.rows_affected() == 0 {
            return Err(RegistryError::ModelNotFound(model.to_string()));
        }
        Ok(())
    }

    /// Creates the next version, creating the model on its first version: the
    /// upsert on the model's row takes its lock and bumps its counter, so the
    /// number is the next one without gaps. The version's tags, blob
    /// references (the manifest included) and audit entry go in the same
    /// transaction, which also releases `lease`.
    pub(crate) async fn create_version(
        &self,
        v: NewVersion,
        blobs: &[Digest],
        lease: Option<LeaseId>,
    ) -> Result<VersionRecord> {
        let now = self.clock.now();
        let mut tx = self.begin_write().await?;
        let n: i64 = sqlx::query_scalar(
            "INSERT INTO models (name, next_version, created_at, updated_at) VALUES ($1, 2, $2, $2) \
             ON CONFLICT (name) DO UPDATE SET next_version = models.next_version + 1, updated_at = $2 \
             RETURNING next_version - 1 AS version",
        )
        .bind(v.model.as_str())
        .bind(now.millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err())?;
        let token = v.created_by_token;
        let rec = VersionRecord {
            model: v.model,
            version: n as u64,
            manifest: v.manifest,
            size: v.size,
            meta: v.meta,
            created_by: v.created_by,
            created_at: now,
            status: VersionStatus::Ready,
        };
        sqlx::query(INSERT_VERSION)
            .bind(rec.model.as_str())
            .bind(n)
            .bind(rec.manifest.to_string())
            .bind(rec.size as i64)
            .bind(rec.meta.format.as_deref())
            .bind(rec.meta.signature.as_ref().map(to_json))
            .bind(to_json(&rec.meta.params))
            .bind(to_json(&rec.meta.metrics))
            .bind(rec.meta.description.as_deref())
            .bind(to_json(&rec.meta.lineage))
            .bind(rec.created_by.as_str())
            .bind(now.millis())
            .bind(rec.status.as_str())
            .execute(&mut *tx)
            .await
            .map_err(self.err())?;
        for (k, val) in &rec.meta.tags {
            sqlx::query("INSERT INTO version_tags (model, version, key, value) VALUES ($1, $2, $3, $4)")
                .bind(rec.model.as_str())
                .bind(n)
                .bind(k)
                .bind(val)
                .execute(&mut *tx)
                .await
                .map_err(self.err())?;
        }
        let mut all: BTreeSet<Digest> = blobs.iter().copied().collect();
        all.insert(rec.manifest);
        for d in &all {
            sqlx::query("INSERT INTO version_blobs (model, version, digest) VALUES ($1, $2, $3)")
                .bind(rec.model.as_str())
                .bind(n)
                .bind(d.to_string())
                .execute(&mut *tx)
                .await
                .map_err(self.err())?;
        }
        let after = serde_json::json!({"version": n, "manifest": rec.manifest, "size": rec.size});
        let audit = AuditRow {
            actor: &rec.created_by,
            token: token.as_deref(),
            action: "version.create",
            model: Some(rec.model.as_str()),
            version: Some(n as u64),
            before: None,
            after: Some(after.to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        if let Some(l) = lease {
            sqlx::query("DELETE FROM upload_leases WHERE id = $1")
                .bind(l.0)
                .execute(&mut *tx)
                .await
                .map_err(self.err())?;
        }
        tx.commit().await.map_err(self.err())?;
        Ok(rec)
    }

    pub(crate) async fn models(&self) -> Result<Vec<ModelSummary>> {
        let rows = sqlx::query(
            "SELECT m.name, m.created_at, m.updated_at, COUNT(v.version) AS n, MAX(v.version) AS latest \
             FROM models m LEFT JOIN versions v ON v.model = m.name \
             GROUP BY m.name, m.created_at, m.updated_at ORDER BY m.name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.err())?;
        let alias_rows =
            sqlx::query("SELECT model, alias, version FROM aliases").fetch_all(&self.pool).await.map_err(self.err())?;
        let mut aliases: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for r in alias_rows {
            let m: String = r.try_get("model").map_err(self.err())?;
            let a: String = r.try_get("alias").map_err(self.err())?;
            let v: i64 = r.try_get("version").map_err(self.err())?;
            aliases.entry(m).or_default().insert(a, v as u64);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let name: String = r.try_get("name").map_err(self.err())?;
            let n: i64 = r.try_get("n").map_err(self.err())?;
            let latest: Option<i64> = r.try_get("latest").map_err(self.err())?;
            out.push(ModelSummary {
                name: self.ctx().model(&name)?,
                versions: n as u64,
                latest: latest.map(|l| l as u64),
                aliases: aliases.remove(&name).unwrap_or_default(),
                created_at: Timestamp::from_millis(r.try_get("created_at").map_err(self.err())?),
                updated_at: Timestamp::from_millis(r.try_get("updated_at").map_err(self.err())?),
            });
        }
        Ok(out)
    }

    /// Every version of a model, newest first.
    /// A model's versions, newest first: those below `before`, at most `limit`.
    pub(crate) async fn versions(
        &self,
        model: &ModelName,
        before: Option<u64>,
        limit: Option<u32>,
    ) -> Result<Vec<VersionRecord>> {
        let mut conn = self.conn().await?;
        let exists = sqlx::query("SELECT name FROM models WHERE name = $1")
            .bind(model.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(self.err())?;
        if exists.is_none() {
            return Err(RegistryError::ModelNotFound(model.to_string()));
        }
        let rows = sqlx::query(SELECT_VERSIONS)
            .bind(model.as_str())
            .bind(before.map(|b| b as i64))
            .bind(limit.map(i64::from).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await
            .map_err(self.err())?;
        let numbers: Vec<i64> =
            rows.iter().map(|r| r.try_get("version")).collect::<Result<_, _>>().map_err(self.err())?;
        let (Some(newest), Some(oldest)) = (numbers.first(), numbers.last()) else { return Ok(Vec::new()) };
        // The tags of this page's versions only.
        let tag_rows = sqlx::query(
            "SELECT version, key, value FROM version_tags WHERE model = $1 AND version <= $2 AND version >= $3",
        )
        .bind(model.as_str())
        .bind(newest)
        .bind(oldest)
        .fetch_all(&mut *conn)
        .await
        .map_err(self.err())?;
        let mut tags: BTreeMap<i64, BTreeMap<String, String>> = BTreeMap::new();
        for r in tag_rows {
            let v: i64 = r.try_get("version").map_err(self.err())?;
            tags.entry(v)
                .or_default()
                .insert(r.try_get("key").map_err(self.err())?, r.try_get("value").map_err(self.err())?);
        }
        rows.iter()
            .map(|r| {
                let v: i64 = r.try_get("version").map_err(self.err())?;
                self.ctx().version(r, tags.remove(&v).unwrap_or_default())
            })
            .collect()
    }

    /// The newest version of `model` whose manifest is `manifest` (an index
    /// lookup, however many versions the model has).
    pub(crate) async fn newest_with_manifest(
        &self,
        model: &ModelName,
        manifest: &Digest,
    ) -> Result<Option<VersionRecord>> {
        let mut conn = self.conn().await?;
        let n: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM versions WHERE model = $1 AND manifest = $2")
            .bind(model.as_str())
            .bind(manifest.to_string())
            .fetch_one(&mut *conn)
            .await
            .map_err(self.err())?;
        match n {
            Some(n) => Ok(Some(self.version_in(&mut conn, model, n as u64).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn version(&self, model: &ModelName, n: u64) -> Result<VersionRecord> {
        let mut conn = self.conn().await?;
        self.version_in(&mut conn, model, n).await
    }

    /// Resolves `name@N`, `name@alias` or `name@latest` to a version.
    pub(crate) async fn resolve(&self, r: &Ref) -> Result<VersionRecord> {
        let mut conn = self.conn().await?;
        let n = match &r.selector {
            Selector::Version(n) => *n,
            Selector::Latest => {
                let latest: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(version) AS latest FROM versions WHERE model = $1")
                        .bind(r.model.as_str())
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(self.err())?;
                match latest {
                    Some(l) => l as u64,
                    None => return Err(RegistryError::ModelNotFound(r.model.to_string())),
                }
            }
            Selector::Alias(a) => {
                let row = sqlx::query(SELECT_BY_ALIAS)
                    .bind(r.model.as_str())
                    .bind(a.as_str())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(self.err())?;
                if let Some(row) = row {
                    let n: i64 = row.try_get("version").map_err(self.err())?;
                    let tags = self.tags_of(&mut conn, &r.model, n as u64).await?;
                    return self.ctx().version(&row, tags);
                }
                let m = sqlx::query("SELECT name FROM models WHERE name = $1")
                    .bind(r.model.as_str())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(self.err())?;
                return Err(match m {
                    Some(_) => RegistryError::AliasNotFound { model: r.model.to_string(), alias: a.to_string() },
                    None => RegistryError::ModelNotFound(r.model.to_string()),
                });
            }
        };
        self.version_in(&mut conn, &r.model, n).await
    }

    /// Sets tags on a version (tags are the one mutable part of a version).
    pub(crate) async fn set_tags(
        &self,
        model: &ModelName,
        n: u64,
        tags: &BTreeMap<String, String>,
        actor: &Actor,
    ) -> Result<VersionRecord> {
        let mut tx = self.begin_write().await?;
        self.lock_model(&mut tx, model).await?;
        let before = self.version_in(&mut tx, model, n).await?.meta.tags;
        for (k, v) in tags {
            self.put_version_tag(&mut tx, model, n, k, v).await?;
        }
        let rec = self.version_in(&mut tx, model, n).await?;
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "version.tag",
            model: Some(model.as_str()),
            version: Some(n),
            before: Some(to_json(&before)),
            after: Some(to_json(&rec.meta.tags)),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(rec)
    }

    /// Sets one tag of a version on `conn`, inside the caller's transaction.
    pub(crate) async fn put_version_tag(
        &self,
        conn: &mut AnyConnection,
        model: &ModelName,
        n: u64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO version_tags (model, version, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (model, version, key) DO UPDATE SET value = excluded.value",
        )
        .bind(model.as_str())
        .bind(n as i64)
        .bind(key)
        .bind(value)
        .execute(conn)
        .await
        .map_err(self.err())?;
        Ok(())
    }

    /// One version read on `conn` (inside a transaction, or not).
    pub(crate) async fn version_in(
        &self,
        conn: &mut AnyConnection,
        model: &ModelName,
        n: u64,
    ) -> Result<VersionRecord> {
        let row = sqlx::query(SELECT_VERSION)
            .bind(model.as_str())
            .bind(n as i64)
            .fetch_optional(&mut *conn)
            .await
            .map_err(self.err())?;
        let Some(row) = row else { return Err(self.missing_version(conn, model, n).await) };
        let tags = self.tags_of(conn, model, n).await?;
        self.ctx().version(&row, tags)
    }

    async fn tags_of(&self, conn: &mut AnyConnection, model: &ModelName, n: u64) -> Result<BTreeMap<String, String>> {
        let rows = sqlx::query("SELECT key, value FROM version_tags WHERE model = $1 AND version = $2")
            .bind(model.as_str())
            .bind(n as i64)
            .fetch_all(conn)
            .await
            .map_err(self.err())?;
        let mut out = BTreeMap::new();
        for r in rows {
            let k: String = r.try_get("key").map_err(self.err())?;
            let v: String = r.try_get("value").map_err(self.err())?;
            out.insert(k, v);
        }
        Ok(out)
    }

    /// The error for a version that was not found: the model is missing, or just that version.
    async fn missing_version(&self, conn: &mut AnyConnection, model: &ModelName, n: u64) -> RegistryError {
        let row = sqlx::query(
            "SELECT MAX(v.version) AS latest FROM models m LEFT JOIN versions v ON v.model = m.name \
             WHERE m.name = $1 GROUP BY m.name",
        )
        .bind(model.as_str())
        .fetch_optional(conn)
        .await;
        match row {
            Ok(Some(r)) => {
                let latest: Option<i64> = r.try_get("latest").unwrap_or(None);
                RegistryError::VersionNotFound {
                    model: model.to_string(),
                    version: n,
                    latest: latest.map(|l| l.to_string()).unwrap_or_else(|| "none".into()),
                }
            }
            Ok(None) => RegistryError::ModelNotFound(model.to_string()),
            Err(e) => self.err()(e),
        }
    }
}

#[cfg(test)]
mod tests {
    const VERSION_COLS: &str = "model, version, manifest, size, format, signature, params, metrics, description, \
                                lineage, created_by, created_at, status";

    /// The statements spell the column list out; it must be the same in each.
    #[test]
    fn version_statements_name_the_version_columns() {
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let cols = squash(VERSION_COLS);
        assert!(squash(super::INSERT_VERSION).contains(&format!("({cols})")));
        assert!(squash(super::SELECT_VERSION).starts_with(&format!("SELECT {cols} FROM")));
        assert!(squash(super::SELECT_VERSIONS).starts_with(&format!("SELECT {cols} FROM")));
    }
}
