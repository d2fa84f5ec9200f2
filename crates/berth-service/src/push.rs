//! `push`: files become blobs plus a manifest blob, then a new version.
//!
//! Order matters for crash safety: every blob (the manifest last) is complete
//! in the store before the version row is written, in one transaction. A push
//! killed at any moment leaves at most unreferenced blobs or temporary files,
//! never a version that points at missing data.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::{Digest, Manifest, ManifestEntry, ModelName, NewVersion, VersionMeta, VersionRecord};
use berth_registry::{LeaseId, Registry, RegistryError};
use berth_store::Progress;
use bytes::Bytes;
use futures::StreamExt;
use serde::Serialize;

use crate::gitignore::GitWarning;
use crate::{Berth, Result, ServiceError, Transfer};

/// How long a push's lease keeps its blobs safe from gc if the push dies.
const LEASE_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a push waits for a running gc before giving up.
const GC_WAIT: Duration = Duration::from_secs(120);

/// An upload lease held by a push. [`LeaseGuard::end`] ends it; one dropped
/// without that (the push's future dropped midway) is ended on a task of its
/// own, so that a gc does not wait out the whole TTL for a push that is gone.
struct LeaseGuard {
    registry: Arc<dyn Registry>,
    id: LeaseId,
    /// Until `end` has finished.
    held: bool,
}

impl LeaseGuard {
    /// Ends the lease. A failure is only logged: the lease expires with its
    /// TTL, and gc releases the leases of dead local processes before that.
    async fn end(mut self) {
        end_lease(&*self.registry, self.id).await;
        self.held = false;
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let id = self.id;
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let registry = self.registry.clone();
                rt.spawn(async move { end_lease(&*registry, id).await });
            }
            Err(_) => tracing::warn!("upload lease {} is left to expire: no runtime to end it on", id.0),
        }
    }
}

async fn end_lease(registry: &dyn Registry, id: LeaseId) {
    if let Err(e) = registry.end_upload(id).await {
        tracing::warn!("could not end upload lease {}; it expires on its own: {e}", id.0);
    }
}

/// What to push and what the new version is to say about itself. The
/// metadata fields are [`VersionMeta`]'s, spelled out here so that callers
/// build a request in one literal; [`PushRequest::meta`] is the one place
/// they become the version's.
#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    pub paths: Vec<PathBuf>,
    pub model: Option<ModelName>,
    /// What the version will say about itself; a `format` of `None` is
    /// inferred from the files' extensions when they agree.
    pub meta: VersionMeta,
}

/// How to push, beside what to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Store what symbolic links inside a pushed directory point to, when
    /// that is inside the directory. Without it, any link is refused.
    pub follow_symlinks: bool,
    /// Create no version when the model's newest version already has the
    /// same manifest digest (the same files with the same bytes).
    pub if_changed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    #[serde(rename = "ref")]
    pub reference: String,
    pub version: VersionRecord,
    pub files: usize,
    pub bytes: u64,
    /// Blobs written now; the rest the store already had.
    pub blobs_written: usize,
    pub blobs_skipped: usize,
    /// Blobs (the manifest included) written over a damaged copy in the
    /// store: a push of the good bytes repairs what it would have skipped.
    pub blobs_repaired: usize,
    /// The newest earlier version with the same manifest digest (`name@N`):
    /// this push stored nothing that version does not already hold.
    pub identical_to: Option<String>,
    /// True when `--if-changed` found the newest version identical and no
    /// version was created; `version` is then that newest version.
    pub unchanged: bool,
    /// Files whose digest came from the stat cache (not re-read).
    pub hashes_cached: usize,
    pub seconds: f64,
    pub git_warnings: Vec<GitWarning>,
}

/// Infers the format from file extensions when every model file agrees.
fn infer_format(files: &BTreeMap<berth_core::RelPath, PathBuf>) -> Option<String> {
    let mut found: Option<&str> = None;
    for k in files.keys() {
        let ext = k.as_str().rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let f = match ext.as_deref() {
            Some("onnx") => "onnx",
            Some("keras") | Some("h5") => "keras",
            Some("pt") | Some("pth") => "pytorch",
            Some("safetensors") => "safetensors",
            Some("joblib") | Some("pkl") | Some("pickle") => "pickle",
            Some("berth") => "berth",
            _ => continue,
        };
        match found {
            None => found = Some(f),
            Some(prev) if prev == f => {}
            Some(_) => return None,
        }
    }
    found.map(str::to_string)
}

impl Berth {
    pub async fn push(&self, req: PushRequest, transfer: &dyn Transfer) -> Result<PushReport> {
        self.push_with(req, &PushOptions::default(), transfer).await
    }

    pub async fn push_with(&self, req: PushRequest, opts: &PushOptions, transfer: &dyn Transfer) -> Result<PushReport> {
        let started = Instant::now();
        let model = req
            .model
            .clone()
            .ok_or_else(|| ServiceError::input("no model name given", Some("pass --model NAME".into())))?;
        self.allow(berth_core::Role::Publisher, Some(&model), None)?;
        let files = crate::files::collect(&req.paths, opts.follow_symlinks)?;
        let git_warnings = crate::gitignore::check(&req.paths);
        let mut stat = self.stat_cache();
        let known: Vec<(berth_core::RelPath, PathBuf, Option<Digest>)> = files
            .into_iter()
            .map(|(rel, path)| {
                let d = stat.lookup(&path);
                (rel, path, d)
            })
            .collect();
        let hashes_cached = known.iter().filter(|(_, _, d)| d.is_some()).count();
        let total: u64 = known.iter().map(|(_, p, _)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();

        let leased: Vec<Digest> = known.iter().filter_map(|(_, _, d)| *d).collect();
        let pushed = self
            .with_lease(&leased, async |lease| {
                let (entries, written, repaired) = self.upload(&model, &known, total, transfer).await?;
                for ((_, path, _), (_, entry)) in known.iter().zip(entries.iter()) {
                    stat.record(path, entry.digest);
                }
                if let Err(e) = stat.save() {
                    tracing::warn!("could not save the stat cache: {e}");
                }
                let blob_digests: Vec<Digest> = entries.iter().map(|(_, e)| e.digest).collect();
                let manifest = Manifest::new(entries.into_iter().collect())
                    .map_err(|e| ServiceError::input(e.to_string(), None))?;
                let put = self.store.put_bytes(Bytes::from(manifest.to_bytes())).await?;
                let repaired = repaired + usize::from(put.repaired);
                let earlier = match self.registry.versions(&model).await {
                    Ok(vs) => vs,
                    Err(RegistryError::ModelNotFound(_)) => Vec::new(),
                    Err(e) => return Err(e.into()),
                };
                let identical_to =
                    earlier.iter().find(|v| v.manifest == put.digest).map(|v| format!("{}@{}", v.model, v.version));
                let n_files = known.len();
                let report = |version: VersionRecord, unchanged: bool| PushReport {
                    reference: format!("{}@{}", version.model, version.version),
                    version,
                    files: n_files,
                    bytes: total,
                    blobs_written: written,
                    blobs_skipped: n_files - written,
                    blobs_repaired: repaired,
                    identical_to,
                    unchanged,
                    hashes_cached,
                    seconds: started.elapsed().as_secs_f64(),
                    git_warnings,
                };
                if opts.if_changed
                    && let Some(newest) = earlier.first()
                    && newest.manifest == put.digest
                {
                    // Nothing to create, but the push may have repaired blobs.
                    return Ok(report(newest.clone(), true));
                }
                let inferred = || infer_format(&known.iter().map(|(r, p, _)| (r.clone(), p.clone())).collect());
                let mut meta = req.meta;
                meta.format = meta.format.or_else(inferred);
                let nv = NewVersion {
                    model: model.clone(),
                    manifest: put.digest,
                    size: manifest.total_size(),
                    meta,
                    created_by: self.actor.0.clone(),
                };
                let version = self.registry.create_version(nv, &blob_digests, Some(lease)).await?;
                Ok(report(version, false))
            })
            .await?;
        if !pushed.unchanged {
            let v = &pushed.version;
            let e = berth_deploy::Event::new(
                berth_deploy::EventKind::VersionPushed,
                v.created_at,
                &self.actor.0,
                format!("{}@{} pushed ({} files, {} bytes)", v.model, v.version, pushed.files, pushed.bytes),
            )
            .version(&v.model, v.version)
            .details(serde_json::json!({"manifest": v.manifest, "metrics": v.meta.metrics, "lineage": v.meta.lineage}));
            self.notify(e).await;
        }
        Ok(pushed)
    }

    /// Runs `work` under an upload lease (taken first, waiting out a running
    /// gc) and ends the lease however `work` ends: with an error, an early
    /// answer or a new version. A version's own transaction already removed
    /// its lease, and ending it again finds nothing, so every path ends it
    /// the same way. Should the push itself be dropped midway, the guard
    /// ends the lease on a task of its own.
    async fn with_lease<T>(&self, known: &[Digest], work: impl AsyncFnOnce(LeaseId) -> Result<T>) -> Result<T> {
        let lease = LeaseGuard { registry: self.registry.clone(), id: self.take_lease(known).await?, held: true };
        let out = work(lease.id).await;
        lease.end().await;
        out
    }

    /// Takes an upload lease, waiting while a garbage collection runs.
    async fn take_lease(&self, known: &[Digest]) -> Result<LeaseId> {
        let deadline = Instant::now() + GC_WAIT;
        loop {
            match self.registry.begin_upload(known, LEASE_TTL).await {
                Ok(l) => return Ok(l),
                Err(RegistryError::GcRunning { .. }) if Instant::now() < deadline => {
                    tracing::info!("a garbage collection is running; waiting for it to finish");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Puts every file, several at a time; returns the manifest entries in
    /// input order, how many blobs were written and how many of those
    /// replaced a damaged copy.
    async fn upload(
        &self,
        model: &ModelName,
        files: &[(berth_core::RelPath, PathBuf, Option<Digest>)],
        total: u64,
        transfer: &dyn Transfer,
    ) -> Result<(Vec<(berth_core::RelPath, ManifestEntry)>, usize, usize)> {
        let progress: Arc<dyn Progress> = transfer.begin(&format!("push {model}"), total);
        let store = &self.store;
        let results: Vec<_> = futures::stream::iter(files.iter().map(|(rel, path, known)| {
            let progress = progress.clone();
            async move {
                let out = store.put_file(path, *known, &*progress).await?;
                Ok::<_, ServiceError>((rel.clone(), ManifestEntry { digest: out.digest, size: out.size }, out))
            }
        }))
        .buffered(self.config.jobs)
        .collect()
        .await;
        transfer.finish();
        let mut entries = Vec::with_capacity(results.len());
        let (mut written, mut repaired) = (0, 0);
        for r in results {
            let (rel, entry, out) = r?;
            written += usize::from(out.written);
            repaired += usize::from(out.repaired);
            entries.push((rel, entry));
        }
        Ok((entries, written, repaired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_inferred_only_when_unambiguous() {
        let mk = |names: &[&str]| -> BTreeMap<berth_core::RelPath, PathBuf> {
            names.iter().map(|n| (berth_core::RelPath::parse(n).unwrap(), PathBuf::from(n))).collect()
        };
        assert_eq!(infer_format(&mk(&["model.onnx", "meta.json"])).as_deref(), Some("onnx"));
        assert_eq!(infer_format(&mk(&["a.onnx", "b.pt"])), None);
        assert_eq!(infer_format(&mk(&["readme.txt"])), None);
    }

    /// A fresh embedded project (SQLite and a local store) in a temporary directory.
    async fn project() -> (tempfile::TempDir, Berth) {
        let dir = tempfile::tempdir().unwrap();
        crate::init(dir.path(), None, None, &|_| None).unwrap();
        let config = crate::Config::discover(dir.path(), &|_| None).unwrap();
        let berth = Berth::open(config, "alice".into()).await.unwrap();
        (dir, berth)
    }

    async fn leases(b: &Berth) -> usize {
        b.registry.active_leases().await.unwrap().len()
    }

    #[tokio::test]
    async fn the_lease_ends_on_success_on_error_and_on_an_early_answer() {
        let (_dir, b) = project().await;
        let held = b
            .with_lease(&[], async |_| {
                let now = leases(&b).await;
                Ok(now)
            })
            .await
            .unwrap();
        assert_eq!(held, 1, "the lease is held while the work runs");
        assert_eq!(leases(&b).await, 0, "and ended when it succeeds");

        let failed: Result<()> = b.with_lease(&[], async |_| Err(ServiceError::input("the upload failed", None))).await;
        assert!(failed.is_err());
        assert_eq!(leases(&b).await, 0, "ended when the work fails");

        let early = b
            .with_lease(&[], async |_| {
                if leases(&b).await == 1 {
                    return Ok("unchanged");
                }
                Err(ServiceError::input("not reached", None))
            })
            .await;
        assert_eq!(early.unwrap(), "unchanged");
        assert_eq!(leases(&b).await, 0, "ended on an early answer");
    }

    #[tokio::test]
    async fn a_push_dropped_midway_still_ends_its_lease() {
        let (_dir, b) = project().await;
        let (started, wait) = tokio::sync::oneshot::channel::<()>();
        let push = b.with_lease(&[], async |_| {
            let _ = started.send(());
            std::future::pending::<Result<()>>().await
        });
        tokio::select! {
            _ = push => unreachable!("the work never ends"),
            _ = wait => {}
        }
        // The push's future is dropped here, mid-work; its guard ends the lease on a task.
        let deadline = Instant::now() + Duration::from_secs(30);
        while leases(&b).await > 0 {
            assert!(Instant::now() < deadline, "the dropped push's lease was never ended");
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn pushes_leave_no_lease_behind_whether_they_create_a_version_or_not() {
        let (dir, b) = project().await;
        let file = dir.path().join("model.onnx");
        std::fs::write(&file, b"weights").unwrap();
        let req = || PushRequest {
            paths: vec![file.clone()],
            model: Some(ModelName::parse("churn").unwrap()),
            meta: VersionMeta { metrics: BTreeMap::from([("accuracy".to_string(), 0.9)]), ..Default::default() },
        };
        let first = b.push(req(), &crate::NoTransfer).await.unwrap();
        assert!(!first.unchanged);
        assert_eq!(first.version.meta.format.as_deref(), Some("onnx"), "inferred from the file");
        assert_eq!(first.version.meta.metrics["accuracy"], 0.9);
        assert_eq!(leases(&b).await, 0);
        let opts = PushOptions { if_changed: true, ..Default::default() };
        let again = b.push_with(req(), &opts, &crate::NoTransfer).await.unwrap();
        assert!(again.unchanged);
        assert_eq!(again.version.version, first.version.version);
        assert_eq!(leases(&b).await, 0, "an unchanged push ends its lease too");
    }
}
