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

use berth_core::{Digest, Lineage, Manifest, ManifestEntry, ModelName, NewVersion, VersionRecord};
use berth_registry::{LeaseId, RegistryError};
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

#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    pub paths: Vec<PathBuf>,
    pub model: Option<ModelName>,
    pub format: Option<String>,
    pub signature: Option<serde_json::Value>,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
    pub tags: BTreeMap<String, String>,
    pub description: Option<String>,
    pub lineage: Lineage,
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

        let lease = self.take_lease(&known.iter().filter_map(|(_, _, d)| *d).collect::<Vec<_>>()).await?;
        let result = self.upload(&model, &known, total, transfer).await;
        let (entries, written, repaired) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = self.registry.end_upload(lease).await;
                return Err(e);
            }
        };
        for ((_, path, _), (_, entry)) in known.iter().zip(entries.iter()) {
            stat.record(path, entry.digest);
        }
        if let Err(e) = stat.save() {
            tracing::warn!("could not save the stat cache: {e}");
        }
        let blob_digests: Vec<Digest> = entries.iter().map(|(_, e)| e.digest).collect();
        let manifest =
            Manifest::new(entries.into_iter().collect()).map_err(|e| ServiceError::input(e.to_string(), None))?;
        let put = self.store.put_bytes(Bytes::from(manifest.to_bytes())).await;
        let put = match put {
            Ok(p) => p,
            Err(e) => {
                let _ = self.registry.end_upload(lease).await;
                return Err(e.into());
            }
        };
        let repaired = repaired + usize::from(put.repaired);
        let earlier = match self.registry.versions(&model).await {
            Ok(vs) => vs,
            Err(RegistryError::ModelNotFound(_)) => Vec::new(),
            Err(e) => {
                let _ = self.registry.end_upload(lease).await;
                return Err(e.into());
            }
        };
        let identical_to =
            earlier.iter().find(|v| v.manifest == put.digest).map(|v| format!("{}@{}", v.model, v.version));
        let n_files = known.len();
        if opts.if_changed
            && let Some(newest) = earlier.first()
            && newest.manifest == put.digest
        {
            // Nothing to create, but the push may have repaired blobs.
            let _ = self.registry.end_upload(lease).await;
            return Ok(PushReport {
                reference: format!("{}@{}", newest.model, newest.version),
                version: newest.clone(),
                files: n_files,
                bytes: total,
                blobs_written: written,
                blobs_skipped: n_files - written,
                blobs_repaired: repaired,
                identical_to,
                unchanged: true,
                hashes_cached,
                seconds: started.elapsed().as_secs_f64(),
                git_warnings,
            });
        }
        let nv = NewVersion {
            model: model.clone(),
            manifest: put.digest,
            size: manifest.total_size(),
            format: req
                .format
                .clone()
                .or_else(|| infer_format(&known.iter().map(|(r, p, _)| (r.clone(), p.clone())).collect())),
            signature: req.signature,
            params: req.params,
            metrics: req.metrics,
            tags: req.tags,
            description: req.description,
            lineage: req.lineage,
            created_by: self.actor.0.clone(),
        };
        let version = match self.registry.create_version(nv, &blob_digests, Some(lease)).await {
            Ok(v) => v,
            Err(e) => {
                let _ = self.registry.end_upload(lease).await;
                return Err(e.into());
            }
        };
        let e = berth_deploy::Event::new(
            berth_deploy::EventKind::VersionPushed,
            version.created_at,
            &self.actor.0,
            format!("{}@{} pushed ({} files, {} bytes)", version.model, version.version, n_files, total),
        )
        .version(&version.model, version.version)
        .details(
            serde_json::json!({"manifest": version.manifest, "metrics": version.metrics, "lineage": version.lineage}),
        );
        self.notify(e).await;
        Ok(PushReport {
            reference: format!("{}@{}", version.model, version.version),
            version,
            files: n_files,
            bytes: total,
            blobs_written: written,
            blobs_skipped: n_files - written,
            blobs_repaired: repaired,
            identical_to,
            unchanged: false,
            hashes_cached,
            seconds: started.elapsed().as_secs_f64(),
            git_warnings,
        })
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
}
