//! Files staged under a model before they are a version: a path (relative,
//! `/`-separated) and the blob holding its bytes, replaced when the same
//! path is staged again. A client that uploads files one by one to paths of
//! its choosing (MLflow's artifact proxy) stages them here, then makes a
//! version of a directory of them. A staged file is live for garbage
//! collection, and stays after a version is made of it: the version's
//! source remains readable where it was uploaded.

use std::collections::BTreeMap;

use berth_core::{Digest, ModelName, Timestamp};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, Result};

/// One staged file: its model, path, blob, size, who staged it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    pub model: ModelName,
    pub path: String,
    pub digest: Digest,
    pub size: u64,
    pub created_by: String,
    pub created_at: Timestamp,
}

impl Db {
    fn staged_file(&self, r: &AnyRow) -> Result<StagedFile> {
        let model: String = r.try_get("model").map_err(self.err())?;
        let digest: String = r.try_get("digest").map_err(self.err())?;
        let size: i64 = r.try_get("size").map_err(self.err())?;
        Ok(StagedFile {
            model: self.ctx().model(&model)?,
            path: r.try_get("path").map_err(self.err())?,
            digest: self.ctx().digest(&digest)?,
            size: size as u64,
            created_by: r.try_get("created_by").map_err(self.err())?,
            created_at: Timestamp::from_millis(r.try_get("created_at").map_err(self.err())?),
        })
    }

    /// Stages blob `digest` (`size` bytes) at `path` under `model`,
    /// replacing what the path held; audited as `file.stage`.
    pub(crate) async fn stage_file(
        &self,
        model: &ModelName,
        path: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<StagedFile> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO staged_files (model, path, digest, size, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (model, path) DO UPDATE SET \
             digest = excluded.digest, size = excluded.size, created_by = excluded.created_by, \
             created_at = excluded.created_at",
        )
        .bind(model.as_str())
        .bind(path)
        .bind(digest.to_string())
        .bind(size as i64)
        .bind(&actor.name)
        .bind(self.clock.now().millis())
        .execute(&mut *tx)
        .await
        .map_err(self.err())?;
        let after = serde_json::json!({"path": path, "digest": digest, "size": size});
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "file.stage",
            model: Some(model.as_str()),
            version: None,
            before: None,
            after: Some(after.to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        let row = sqlx::query(
            "SELECT model, path, digest, size, created_by, created_at FROM staged_files WHERE model = $1 AND path = $2",
        )
        .bind(model.as_str())
        .bind(path)
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err())?;
        let staged = self.staged_file(&row)?;
        tx.commit().await.map_err(self.err())?;
        Ok(staged)
    }

    /// The files staged under `model`, in path order.
    pub(crate) async fn staged_files(&self, model: &ModelName) -> Result<Vec<StagedFile>> {
        let rows =
            sqlx::query("SELECT model, path, digest, size, created_by, created_at FROM staged_files WHERE model = $1")
                .bind(model.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(self.err())?;
        let mut out = rows.iter().map(|r| self.staged_file(r)).collect::<Result<Vec<_>>>()?;
        // In Rust, not SQL: PostgreSQL would sort by the database's collation.
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Every staged file's blob, with one model that staged it: live for
    /// garbage collection.
    pub(crate) async fn staged_blobs(&self) -> Result<BTreeMap<Digest, ModelName>> {
        let rows =
            sqlx::query("SELECT digest, model FROM staged_files").fetch_all(&self.pool).await.map_err(self.err())?;
        let mut out = BTreeMap::new();
        for r in rows {
            let digest: String = r.try_get("digest").map_err(self.err())?;
            let model: String = r.try_get("model").map_err(self.err())?;
            out.entry(self.ctx().digest(&digest)?).or_insert(self.ctx().model(&model)?);
        }
        Ok(out)
    }
}
