//! Git LFS objects: which blobs were stored through a Git LFS repository
//! (`repo` is a model name) and by whom. A recorded object is live for
//! garbage collection even before a version references it, and only the
//! repositories that recorded an object may hand it out again.

use std::collections::BTreeMap;

use berth_core::{Digest, ModelName, Timestamp};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, Result};

/// One object as recorded: the repository it was stored through, its
/// digest (the LFS oid), its size, who stored it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LfsObject {
    pub repo: ModelName,
    pub oid: Digest,
    pub size: u64,
    pub created_by: String,
    pub created_at: Timestamp,
}

impl Db {
    /// Records `oid` (of `size` bytes) as an object of `repo`, with an audit
    /// entry; recording it again changes nothing. True when it is new.
    pub(crate) async fn record_lfs_object(
        &self,
        repo: &ModelName,
        oid: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO lfs_objects (repo, oid, size, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (repo, oid) DO NOTHING",
        )
        .bind(repo.as_str())
        .bind(oid.to_string())
        .bind(size as i64)
        .bind(&actor.name)
        .bind(self.clock.now().millis())
        .execute(&mut *tx)
        .await
        .map_err(self.err())?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await.map_err(self.err())?;
            return Ok(false);
        }
        let after = serde_json::json!({"oid": oid, "size": size});
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "lfs.object",
            model: Some(repo.as_str()),
            version: None,
            before: None,
            after: Some(after.to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(true)
    }

    /// Object `oid` of `repo`, when that repository recorded it.
    pub(crate) async fn lfs_object(&self, repo: &ModelName, oid: &Digest) -> Result<Option<LfsObject>> {
        let row =
            sqlx::query("SELECT repo, oid, size, created_by, created_at FROM lfs_objects WHERE repo = $1 AND oid = $2")
                .bind(repo.as_str())
                .bind(oid.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(self.err())?;
        let Some(r) = row else { return Ok(None) };
        let repo: String = r.try_get("repo").map_err(self.err())?;
        let oid: String = r.try_get("oid").map_err(self.err())?;
        let size: i64 = r.try_get("size").map_err(self.err())?;
        Ok(Some(LfsObject {
            repo: self.ctx().model(&repo)?,
            oid: self.ctx().digest(&oid)?,
            size: size as u64,
            created_by: r.try_get("created_by").map_err(self.err())?,
            created_at: Timestamp::from_millis(r.try_get("created_at").map_err(self.err())?),
        }))
    }

    /// Every recorded object's blob, with one repository that recorded it.
    pub(crate) async fn lfs_blobs(&self) -> Result<BTreeMap<Digest, ModelName>> {
        let rows = sqlx::query("SELECT oid, repo FROM lfs_objects").fetch_all(&self.pool).await.map_err(self.err())?;
        let mut out = BTreeMap::new();
        for r in rows {
            let oid: String = r.try_get("oid").map_err(self.err())?;
            let repo: String = r.try_get("repo").map_err(self.err())?;
            out.entry(self.ctx().digest(&oid)?).or_insert(self.ctx().model(&repo)?);
        }
        Ok(out)
    }
}
