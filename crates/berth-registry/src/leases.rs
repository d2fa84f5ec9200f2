//! What keeps garbage collection safe: the blobs versions reference, upload
//! leases on blobs a push is about to reference, and gc runs that turn new
//! leases away while they sweep.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_core::{Digest, ModelName, Timestamp};
use sqlx::Row;

use crate::db::Db;
use crate::rows::to_json;
use crate::{GcRunId, Lease, LeaseId, RegistryError, Result, this_holder};

impl Db {
    /// Every blob some version references, with one referencing version each.
    pub(crate) async fn referenced_blobs(&self) -> Result<BTreeMap<Digest, (ModelName, u64)>> {
        let rows = sqlx::query("SELECT digest, model, version FROM version_blobs")
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        let mut out = BTreeMap::new();
        for r in rows {
            let d: String = r.try_get("digest").map_err(self.err())?;
            let m: String = r.try_get("model").map_err(self.err())?;
            let v: i64 = r.try_get("version").map_err(self.err())?;
            out.entry(self.ctx().digest(&d)?).or_insert((self.ctx().model(&m)?, v as u64));
        }
        Ok(out)
    }

    /// Registers the blobs a push is about to reference; fails with
    /// [`RegistryError::GcRunning`] while a gc runs.
    pub(crate) async fn begin_upload(&self, blobs: &[Digest], ttl: Duration) -> Result<LeaseId> {
        let now = self.clock.now();
        // Write the lease, then look for a running gc. A gc writes its
        // run, then reads the leases. Whichever comes second sees the
        // other, so a blob can never be both leased and swept.
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO upload_leases (created_at, expires_at, holder, digests) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(now.millis())
        .bind(now.plus(ttl).millis())
        .bind(this_holder())
        .bind(to_json(&blobs))
        .fetch_one(&self.pool)
        .await
        .map_err(self.err())?;
        let running = sqlx::query("SELECT id FROM gc_runs WHERE finished_at IS NULL AND expires_at > $1")
            .bind(self.clock.now().millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err())?;
        if running.is_some() {
            self.end_upload(LeaseId(id)).await?;
            return Err(RegistryError::GcRunning { url: self.url.clone() });
        }
        Ok(LeaseId(id))
    }

    pub(crate) async fn end_upload(&self, lease: LeaseId) -> Result<()> {
        sqlx::query("DELETE FROM upload_leases WHERE id = $1")
            .bind(lease.0)
            .execute(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(())
    }

    /// Blobs held by unexpired leases.
    pub(crate) async fn leased_blobs(&self) -> Result<Vec<Digest>> {
        let rows = sqlx::query("SELECT digests FROM upload_leases WHERE expires_at > $1")
            .bind(self.clock.now().millis())
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        let mut out = Vec::new();
        for r in rows {
            let s: String = r.try_get("digests").map_err(self.err())?;
            let ds: Vec<Digest> = serde_json::from_str(&s).map_err(|e| RegistryError::BadRow {
                url: self.url.clone(),
                what: "upload lease",
                detail: e.to_string(),
            })?;
            out.extend(ds);
        }
        Ok(out)
    }

    /// The blobs one unexpired lease holds; `None` when it has ended or expired.
    pub(crate) async fn lease_digests(&self, lease: LeaseId) -> Result<Option<Vec<Digest>>> {
        let row = sqlx::query("SELECT digests FROM upload_leases WHERE id = $1 AND expires_at > $2")
            .bind(lease.0)
            .bind(self.clock.now().millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(self.err())?;
        let Some(r) = row else { return Ok(None) };
        let s: String = r.try_get("digests").map_err(self.err())?;
        let ds: Vec<Digest> = serde_json::from_str(&s).map_err(|e| RegistryError::BadRow {
            url: self.url.clone(),
            what: "upload lease",
            detail: e.to_string(),
        })?;
        Ok(Some(ds))
    }

    /// Unexpired leases, oldest first.
    pub(crate) async fn active_leases(&self) -> Result<Vec<Lease>> {
        let rows = sqlx::query(
            "SELECT id, holder, created_at, expires_at FROM upload_leases WHERE expires_at > $1 ORDER BY id",
        )
        .bind(self.clock.now().millis())
        .fetch_all(&self.pool)
        .await
        .map_err(self.err())?;
        rows.iter()
            .map(|r| {
                Ok(Lease {
                    id: LeaseId(r.try_get("id").map_err(self.err())?),
                    holder: r.try_get("holder").map_err(self.err())?,
                    created_at: Timestamp::from_millis(r.try_get("created_at").map_err(self.err())?),
                    expires_at: Timestamp::from_millis(r.try_get("expires_at").map_err(self.err())?),
                })
            })
            .collect()
    }

    /// Marks a gc as running until [`Db::gc_end`] or `ttl` passes.
    pub(crate) async fn gc_begin(&self, ttl: Duration) -> Result<GcRunId> {
        let now = self.clock.now();
        let id: i64 = sqlx::query_scalar("INSERT INTO gc_runs (started_at, expires_at) VALUES ($1, $2) RETURNING id")
            .bind(now.millis())
            .bind(now.plus(ttl).millis())
            .fetch_one(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(GcRunId(id))
    }

    pub(crate) async fn gc_end(&self, run: GcRunId) -> Result<()> {
        sqlx::query("UPDATE gc_runs SET finished_at = $1 WHERE id = $2")
            .bind(self.clock.now().millis())
            .bind(run.0)
            .execute(&self.pool)
            .await
            .map_err(self.err())?;
        Ok(())
    }
}
