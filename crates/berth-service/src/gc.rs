//! Garbage collection: removes blobs no version references.
//!
//! Safe against a concurrent push by a lock held in the registry: gc first
//! marks itself running (new pushes then wait), then waits for the pushes
//! already under way (their upload leases) to finish, and only then reads
//! what is referenced and sweeps. Leases of pushes that died on this host are
//! recognised by their dead process id and released.
//!
//! Temporary files of interrupted writes name their writer the way leases
//! do (`host:pid`). Those of a writer that is gone are removed at once; those
//! of a live writer on this host are never touched; those whose writer
//! cannot be checked (another host, or no name) are removed once old.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use berth_core::Digest;
use berth_registry::{GcRunId, this_holder};
use serde::Serialize;

use crate::{Berth, Result, ServiceError};

const GC_TTL: Duration = Duration::from_secs(3600);
/// Temporary files of interrupted writes whose writer cannot be checked are
/// removed once older than this.
const PARTIAL_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub blobs: usize,
    pub referenced: usize,
    pub removed: Vec<Digest>,
    pub bytes_removed: u64,
    /// Temporary files of interrupted writes removed (in a dry run: that
    /// would be removed), and their bytes.
    pub partials_removed: usize,
    pub partial_bytes_removed: u64,
    pub stale_leases_released: usize,
    /// Blobs kept because a Git LFS repository stored them (no version may
    /// reference them yet).
    pub lfs_objects: usize,
    /// Blobs kept because they hold prediction-log segments in the store.
    pub log_segments: usize,
    /// Blobs kept because they hold files staged under models.
    pub staged_files: usize,
}

/// What can be known of the process behind a `host:pid` (a lease holder or
/// the writer of a temporary file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    Alive,
    Dead,
    /// Another host, or a system without `/proc`: nothing can be said.
    Unknown,
}

/// The state of `holder` as seen from `me` (both `host:pid`, spelled alike).
fn holder_state(holder: &str, me: &str) -> Holder {
    let (Some((host, pid)), Some((my_host, _))) = (holder.rsplit_once(':'), me.rsplit_once(':')) else {
        return Holder::Unknown;
    };
    if host != my_host || !std::path::Path::new("/proc/self").exists() {
        return Holder::Unknown;
    }
    match pid.parse::<u32>() {
        Ok(pid) if std::path::Path::new(&format!("/proc/{pid}")).exists() => Holder::Alive,
        Ok(_) => Holder::Dead,
        Err(_) => Holder::Unknown,
    }
}

/// Whether the process holding a lease is known to be gone.
fn holder_is_dead(holder: &str) -> bool {
    holder_state(holder, &this_holder()) == Holder::Dead
}

/// Whether gc may remove a temporary file: its writer is gone, or it cannot
/// be checked and the file is old. A live writer's file is never removable,
/// however long the write takes.
fn partial_is_removable(p: &berth_store::Partial, now: std::time::SystemTime) -> bool {
    // The store spells the host as its file names do, so compare with that.
    let me = berth_store::this_writer();
    match p.owner.as_deref().map_or(Holder::Unknown, |o| holder_state(o, &me)) {
        Holder::Dead => true,
        Holder::Alive => false,
        Holder::Unknown => p.modified.and_then(|m| now.duration_since(m).ok()).is_none_or(|age| age >= PARTIAL_AGE),
    }
}

impl Berth {
    pub async fn gc(&self, dry_run: bool, wait: Duration) -> Result<GcReport> {
        self.allow(berth_core::Role::Admin, None, None)?;
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

    /// Removes the temporary files [`partial_is_removable`] allows. This needs
    /// no lease: a temporary file is never a blob anyone refers to.
    async fn sweep_partials(&self, dry_run: bool) -> Result<(usize, u64)> {
        // Not the service's clock: a temporary file's age is measured against
        // its modification time, which the file system stamps on its own clock.
        let now = std::time::SystemTime::now();
        let (mut n, mut bytes) = (0, 0);
        for p in self.store.partials().await? {
            if !partial_is_removable(&p, now) {
                continue;
            }
            if dry_run || self.store.remove_partial(&p).await? {
                n += 1;
                bytes += p.size;
            }
        }
        Ok((n, bytes))
    }

    async fn gc_locked(&self, dry_run: bool, wait: Duration) -> Result<GcReport> {
        let deadline = Instant::now() + wait;
        let mut released = 0;
        // First, so that a gc that gives up waiting for live pushes still
        // frees the space dead ones left.
        let (partials_removed, partial_bytes_removed) = self.sweep_partials(dry_run).await?;
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
                let partials = match partials_removed {
                    0 => String::new(),
                    n => format!(
                        "; {n} temporary file(s) of interrupted writes ({partial_bytes_removed} bytes) were removed"
                    ),
                };
                return Err(ServiceError::Infra {
                    message: format!(
                        "{} push(es) still in progress (the oldest by {} since {}); no blob was removed{partials}",
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
        let lfs = self.registry.lfs_blobs().await?;
        let segments = self.registry.log_segment_blobs().await?;
        let staged = self.registry.staged_blobs().await?;
        let blobs = self.store.list().await?;
        let mut removed = Vec::new();
        let mut bytes_removed = 0;
        for b in &blobs {
            let live = referenced.contains_key(&b.digest) || leased.contains(&b.digest);
            let recorded =
                lfs.contains_key(&b.digest) || segments.contains_key(&b.digest) || staged.contains_key(&b.digest);
            if live || recorded {
                continue;
            }
            if !dry_run {
                self.store.delete(&b.digest).await?;
            }
            removed.push(b.digest);
            bytes_removed += b.size;
        }
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
            partial_bytes_removed,
            stale_leases_released: released,
            lfs_objects: lfs.len(),
            log_segments: segments.len(),
            staged_files: staged.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn partial(owner: Option<String>, age: Duration) -> berth_store::Partial {
        berth_store::Partial { path: "p".into(), size: 1, modified: Some(SystemTime::now() - age), owner }
    }

    #[test]
    fn partials_go_when_their_writer_is_gone_and_stay_while_it_lives() {
        let now = SystemTime::now();
        let me = berth_store::this_writer();
        let host = me.rsplit_once(':').unwrap().0.to_string();
        // Above the largest pid Linux hands out, so never a live process.
        let dead = format!("{host}:4194304");
        let young = Duration::from_secs(1);
        let old = PARTIAL_AGE + Duration::from_secs(1);
        if std::path::Path::new("/proc/self").exists() {
            assert!(partial_is_removable(&partial(Some(dead), young), now), "a dead writer's file goes at once");
            assert!(!partial_is_removable(&partial(Some(me.clone()), old), now), "a live writer's file stays");
        }
        let elsewhere = "another-host:1".to_string();
        assert!(!partial_is_removable(&partial(Some(elsewhere.clone()), young), now));
        assert!(partial_is_removable(&partial(Some(elsewhere), old), now));
        assert!(!partial_is_removable(&partial(None, young), now));
        assert!(partial_is_removable(&partial(None, old), now));
    }
}
