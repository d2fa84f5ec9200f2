//! Garbage collection: removes blobs no version references.
//!
//! Safe against a concurrent push by a lock held in the registry: gc first
//! marks itself running (new pushes then wait), then waits for the pushes
//! already under way (their upload leases) to finish, and only then reads
//! what is referenced and sweeps. Leases of pushes that died on this host are
//! recognised by their dead process id and released.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use berth_core::Digest;
use berth_registry::{GcRunId, this_holder};
use serde::Serialize;

use crate::{Berth, Result, ServiceError};

const GC_TTL: Duration = Duration::from_secs(3600);
/// Temporary files of interrupted writes older than this are removed.
const PARTIAL_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub blobs: usize,
    pub referenced: usize,
    pub removed: Vec<Digest>,
    pub bytes_removed: u64,
    pub partials_removed: usize,
    pub stale_leases_released: usize,
}

/// Whether the process holding a lease is known to be gone.
fn holder_is_dead(holder: &str) -> bool {
    let me = this_holder();
    let (Some((host, pid)), Some((my_host, _))) = (holder.rsplit_once(':'), me.rsplit_once(':')) else { return false };
    if host != my_host || !std::path::Path::new("/proc/self").exists() {
        return false;
    }
    pid.parse::<u32>().is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

impl Berth {
    pub async fn gc(&self, dry_run: bool, wait: Duration) -> Result<GcReport> {
        let run = if dry_run { None } else { Some(self.registry.gc_begin(GC_TTL).await?) };
        let result = self.gc_locked(dry_run, wait).await;
        if let Some(run) = run {
            self.end_gc(run).await;
        }
        result
    }

    async fn end_gc(&self, run: GcRunId) {
        if let Err(e) = self.registry.gc_end(run).await {
            tracing::warn!("could not mark the garbage collection finished (it expires by itself): {e}");
        }
    }

    async fn gc_locked(&self, dry_run: bool, wait: Duration) -> Result<GcReport> {
        let deadline = Instant::now() + wait;
        let mut released = 0;
        loop {
            let leases = self.registry.active_leases().await?;
            let mut live = Vec::new();
            for l in leases {
                if holder_is_dead(&l.holder) {
                    if !dry_run {
                        self.registry.end_upload(l.id).await?;
                    }
                    released += 1;
                } else {
                    live.push(l);
                }
            }
            if live.is_empty() || dry_run {
                break;
            }
            if Instant::now() >= deadline {
                let l = &live[0];
                return Err(ServiceError::Infra {
                    message: format!(
                        "{} push(es) still in progress (the oldest by {} since {}); nothing was removed",
                        live.len(),
                        l.holder,
                        l.created_at
                    ),
                    hint: Some("retry when the pushes are done, or give gc more time with --wait SECONDS".into()),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let referenced = self.registry.referenced_blobs().await?;
        let leased: BTreeSet<Digest> = self.registry.leased_blobs().await?.into_iter().collect();
        let blobs = self.store.list().await?;
        let mut removed = Vec::new();
        let mut bytes_removed = 0;
        for b in &blobs {
            if referenced.contains_key(&b.digest) || leased.contains(&b.digest) {
                continue;
            }
            if !dry_run {
                self.store.delete(&b.digest).await?;
            }
            removed.push(b.digest);
            bytes_removed += b.size;
        }
        let partials_removed = if dry_run { 0 } else { self.store.remove_partials(PARTIAL_AGE).await? };
        if !dry_run {
            let summary =
                serde_json::json!({"removed": removed.len(), "bytes": bytes_removed, "partials": partials_removed});
            self.registry.record(&self.actor, "gc", summary).await?;
        }
        Ok(GcReport {
            dry_run,
            blobs: blobs.len(),
            referenced: referenced.len(),
            removed,
            bytes_removed,
            partials_removed,
            stale_leases_released: released,
        })
    }
}
