//! Prediction-log segments kept in the store: which blob holds each segment
//! a server (or `berth feedback`) wrote for a model, under the segment's
//! file name. A recorded segment is live for garbage collection; a name is
//! recorded once, and recording it again returns what it holds, so the
//! caller can tell the same bytes sent twice from other bytes under a name
//! already taken.

use std::collections::BTreeMap;

use berth_core::{Digest, ModelName, Timestamp};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, Result};

/// One segment as recorded: its model, file name, blob, size, who stored it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSegment {
    pub model: ModelName,
    pub name: String,
    pub digest: Digest,
    pub size: u64,
    pub created_by: String,
    pub created_at: Timestamp,
}

impl Db {
    /// Records segment `name` of `model` as blob `digest` (`size` bytes),
    /// audited as `log.segment`; a name already recorded is left as it is.
    /// Returns the record the name holds and whether it is new.
    pub(crate) async fn record_log_segment(
        &self,
        model: &ModelName,
        name: &str,
        digest: &Digest,
        size: u64,
        actor: &Actor,
    ) -> Result<(LogSegment, bool)> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO log_segments (model, name, digest, size, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (model, name) DO NOTHING",
        )
        .bind(model.as_str())
        .bind(name)
        .bind(digest.to_string())
        .bind(size as i64)
        .bind(&actor.name)
        .bind(self.clock.now().millis())
        .execute(&mut *tx)
        .await
        .map_err(self.err())?
        .rows_affected()
            > 0;
        if inserted {
            let after = serde_json::json!({"segment": name, "digest": digest, "size": size});
            let audit = AuditRow {
                actor: &actor.name,
                token: actor.token.as_deref(),
                action: "log.segment",
                model: Some(model.as_str()),
                version: None,
                before: None,
                after: Some(after.to_string()),
            };
            self.insert_audit(&mut tx, audit).await?;
        }
        let row = sqlx::query(
            "SELECT model, name, digest, size, created_by, created_at FROM log_segments WHERE model = $1 AND name = $2",
        )
        .bind(model.as_str())
        .bind(name)
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err())?;
        let record = self.log_segment_row(&row)?;
        tx.commit().await.map_err(self.err())?;
        Ok((record, inserted))
    }

    /// Segment `name` of `model`, if it is recorded.
    pub(crate) async fn log_segment(&self, model: &ModelName, name: &str) -> Result<Option<LogSegment>> {
        let row = sqlx::query(
            "SELECT model, name, digest, size, created_by, created_at FROM log_segments WHERE model = $1 AND name = $2",
        )
        .bind(model.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(self.err())?;
        row.map(|r| self.log_segment_row(&r)).transpose()
    }

    /// The segments of `model`, in name order.
    pub(crate) async fn log_segments(&self, model: &ModelName) -> Result<Vec<LogSegment>> {
        let rows = sqlx::query(
            "SELECT model, name, digest, size, created_by, created_at FROM log_segments WHERE model = $1 ORDER BY name",
        )
        .bind(model.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(self.err())?;
        rows.iter().map(|r| self.log_segment_row(r)).collect()
    }

    /// Every segment's blob, with one model that recorded it.
    pub(crate) async fn log_segment_blobs(&self) -> Result<BTreeMap<Digest, ModelName>> {
        let rows =
            sqlx::query("SELECT digest, model FROM log_segments").fetch_all(&self.pool).await.map_err(self.err())?;
        let mut out = BTreeMap::new();
        for r in rows {
            let digest: String = r.try_get("digest").map_err(self.err())?;
            let model: String = r.try_get("model").map_err(self.err())?;
            out.entry(self.ctx().digest(&digest)?).or_insert(self.ctx().model(&model)?);
        }
        Ok(out)
    }

    fn log_segment_row(&self, r: &AnyRow) -> Result<LogSegment> {
        let model: String = r.try_get("model").map_err(self.err())?;
        let digest: String = r.try_get("digest").map_err(self.err())?;
        let size: i64 = r.try_get("size").map_err(self.err())?;
        Ok(LogSegment {
            model: self.ctx().model(&model)?,
            name: r.try_get("name").map_err(self.err())?,
            digest: self.ctx().digest(&digest)?,
            size: size as u64,
            created_by: r.try_get("created_by").map_err(self.err())?,
            created_at: Timestamp::from_millis(r.try_get("created_at").map_err(self.err())?),
        })
    }
}
