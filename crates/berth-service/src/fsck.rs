//! `fsck`: re-reads every blob in the store and checks it against its name,
//! and checks that every blob a version references is there. With a repair
//! source it restores damaged and missing blobs from files that hold the
//! right bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use berth_core::Digest;
use berth_store::Verified;
use futures::StreamExt;
use serde::Serialize;

use crate::{Berth, Result, ServiceError};

#[derive(Debug, Clone, Serialize)]
pub struct FsckProblem {
    pub digest: Digest,
    /// Every version that references the blob (`name@N`), by model and
    /// number: all of them need the blob back.
    pub referenced_by: Vec<String>,
    pub detail: String,
}

/// A blob `fsck --repair` restored, and the file it came from.
#[derive(Debug, Clone, Serialize)]
pub struct RepairedBlob {
    pub digest: Digest,
    pub from: PathBuf,
    /// The versions that reference it.
    pub referenced_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FsckReport {
    pub ok: bool,
    pub blobs_checked: usize,
    pub referenced: usize,
    /// What is still missing or corrupt (after any repair).
    pub missing: Vec<FsckProblem>,
    pub corrupt: Vec<FsckProblem>,
    /// Blobs no version references (removed by `berth gc`).
    pub orphaned: Vec<Digest>,
    /// Blobs stored through Git LFS repositories (kept by `berth gc`, never orphaned).
    pub lfs_objects: usize,
    /// Prediction-log segments kept in the store (kept by `berth gc`, never orphaned).
    pub log_segments: usize,
    /// Blobs of files staged under models (kept by `berth gc`, never orphaned).
    pub staged_files: usize,
    /// Temporary files of interrupted writes (never visible as blobs; removed by `berth gc`).
    pub partials: Vec<String>,
    /// Blobs restored by `--repair` (verified in the store afterwards).
    pub repaired: Vec<RepairedBlob>,
}

/// Who references the damaged blobs, and the sizes the manifests give them.
#[derive(Default)]
struct Referrers {
    versions: BTreeMap<Digest, BTreeSet<(String, u64)>>,
    sizes: BTreeMap<Digest, u64>,
}

impl Referrers {
    fn add(&mut self, d: Digest, model: &str, n: u64) {
        self.versions.entry(d).or_default().insert((model.to_string(), n));
    }

    fn of(&self, d: &Digest) -> Vec<String> {
        self.versions.get(d).map(|s| s.iter().map(|(m, n)| format!("{m}@{n}")).collect()).unwrap_or_default()
    }
}

impl Berth {
    pub async fn fsck(&self) -> Result<FsckReport> {
        self.allow(berth_core::Role::Admin, None, None)?;
        let (report, _) = self.check_store().await?;
        Ok(report)
    }

    /// Checks the store as [`Berth::fsck`] does, then restores every missing
    /// or corrupt blob for which a file under `from` holds the right bytes,
    /// and verifies each restored blob in the store.
    pub async fn fsck_repair(&self, from: &Path) -> Result<FsckReport> {
        self.allow(berth_core::Role::Admin, None, None)?;
        let from = std::fs::canonicalize(from).map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "does not exist".to_string(),
                _ => format!("cannot be read: {e}"),
            };
            ServiceError::input(
                format!("--repair {}: {reason}", from.display()),
                Some("name a directory (or file) that holds good copies of the damaged versions' files".into()),
            )
        })?;
        let (mut report, refs) = self.check_store().await?;
        let mut wanted: BTreeMap<Digest, Option<u64>> = BTreeMap::new();
        for p in report.missing.iter().chain(&report.corrupt) {
            wanted.insert(p.digest, refs.sizes.get(&p.digest).copied());
        }
        if wanted.is_empty() {
            return Ok(report);
        }
        let found = self.find_copies(&from, &wanted).await?;
        let mut repaired = Vec::new();
        for (d, path) in found {
            self.store.replace_file(&path, &d, &*crate::NoTransfer.progress()).await?;
            match self.store.verify(&d).await? {
                Verified::Ok { .. } => {
                    repaired.push(RepairedBlob { digest: d, from: path, referenced_by: refs.of(&d) })
                }
                other => {
                    return Err(ServiceError::Corrupt {
                        message: format!(
                            "blob {d} was restored from {} but reads back as {other:?}; the store is damaging what it is given",
                            path.display()
                        ),
                        hint: Some("check the disk or the object store before trusting anything in it".into()),
                    });
                }
            }
        }
        let fixed: BTreeSet<Digest> = repaired.iter().map(|r| r.digest).collect();
        report.missing.retain(|p| !fixed.contains(&p.digest));
        report.corrupt.retain(|p| !fixed.contains(&p.digest));
        report.ok = report.missing.is_empty() && report.corrupt.is_empty();
        report.repaired = repaired;
        Ok(report)
    }

    async fn check_store(&self) -> Result<(FsckReport, Referrers)> {
        let referenced = self.registry.referenced_blobs().await?;
        let leased: BTreeSet<Digest> = self.registry.leased_blobs().await?.into_iter().collect();
        let listed = self.store.list().await?;
        let listed_set: BTreeSet<Digest> = listed.iter().map(|b| b.digest).collect();

        let store = &self.store;
        let checks: Vec<_> =
            futures::stream::iter(listed.iter().map(|b| async move { (b.digest, store.verify(&b.digest).await) }))
                .buffer_unordered(self.config.jobs)
                .collect()
                .await;
        let mut corrupt = Vec::new();
        let mut missing = Vec::new();
        for (d, r) in checks {
            match r? {
                Verified::Ok { .. } => {}
                Verified::Corrupt { actual } => corrupt.push((d, format!("content hashes to {actual}"))),
                Verified::Missing => missing.push((d, "vanished while checking".to_string())),
            }
        }
        for d in referenced.keys().filter(|d| !listed_set.contains(d)) {
            missing.push((*d, "not in the store".into()));
        }
        let lfs = self.registry.lfs_blobs().await?;
        for (d, repo) in lfs.iter().filter(|(d, _)| !listed_set.contains(d) && !referenced.contains_key(d)) {
            missing.push((*d, format!("not in the store (a Git LFS object of {repo})")));
        }
        let segments = self.registry.log_segment_blobs().await?;
        for (d, model) in segments.iter().filter(|(d, _)| !listed_set.contains(d) && !referenced.contains_key(d)) {
            if !lfs.contains_key(d) {
                missing.push((*d, format!("not in the store (a prediction-log segment of {model})")));
            }
        }
        let staged = self.registry.staged_blobs().await?;
        for (d, model) in staged.iter().filter(|(d, _)| !listed_set.contains(d) && !referenced.contains_key(d)) {
            if !lfs.contains_key(d) && !segments.contains_key(d) {
                missing.push((*d, format!("not in the store (a file staged under {model})")));
            }
        }
        let damaged: BTreeSet<Digest> =
            missing.iter().chain(&corrupt).map(|(d, _)| *d).filter(|d| referenced.contains_key(d)).collect();
        let mut refs = self.referrers(&damaged).await?;
        // The registry's own answer holds even when a manifest cannot be read.
        for d in &damaged {
            if let Some((m, n)) = referenced.get(d) {
                refs.add(*d, m.as_str(), *n);
            }
        }
        let problem =
            |(digest, detail): (Digest, String)| FsckProblem { digest, referenced_by: refs.of(&digest), detail };
        let mut corrupt: Vec<FsckProblem> = corrupt.into_iter().map(problem).collect();
        let mut missing: Vec<FsckProblem> = missing.into_iter().map(problem).collect();
        corrupt.sort_by_key(|p| p.digest);
        missing.sort_by_key(|p| p.digest);
        let kept = |d: &Digest| lfs.contains_key(d) || segments.contains_key(d) || staged.contains_key(d);
        let orphaned = listed_set.iter().filter(|d| !referenced.contains_key(d) && !leased.contains(d) && !kept(d));
        let orphaned = orphaned.copied().collect();
        let partials = self.store.partials().await?.into_iter().map(|p| p.path).collect();
        let report = FsckReport {
            ok: missing.is_empty() && corrupt.is_empty(),
            blobs_checked: listed.len(),
            referenced: referenced.len(),
            missing,
            corrupt,
            orphaned,
            lfs_objects: lfs.len(),
            log_segments: segments.len(),
            staged_files: staged.len(),
            partials,
            repaired: Vec::new(),
        };
        Ok((report, refs))
    }

    /// Every version that references one of `damaged`: a version names its
    /// manifest, and the manifest its files. The registry keeps one
    /// referencing version per blob in its summary, so this reads the
    /// manifests; it runs only when something is damaged.
    async fn referrers(&self, damaged: &BTreeSet<Digest>) -> Result<Referrers> {
        let mut refs = Referrers::default();
        if damaged.is_empty() {
            return Ok(refs);
        }
        let mut readable = Vec::new();
        for m in self.registry.models().await? {
            for v in self.registry.versions(&m.name).await? {
                if damaged.contains(&v.manifest) {
                    refs.add(v.manifest, v.model.as_str(), v.version);
                } else {
                    readable.push(v);
                }
            }
        }
        let manifests: Vec<_> =
            futures::stream::iter(readable.iter().map(|v| async move { (v, self.manifest(v).await) }))
                .buffer_unordered(self.config.jobs)
                .collect()
                .await;
        for (v, m) in manifests {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    // A damaged file blob is found through its other versions.
                    tracing::warn!(
                        "{}@{}: cannot read the manifest to see which blobs it uses: {e}",
                        v.model,
                        v.version
                    );
                    continue;
                }
            };
            for e in m.files.values().filter(|e| damaged.contains(&e.digest)) {
                refs.add(e.digest, v.model.as_str(), v.version);
                refs.sizes.insert(e.digest, e.size);
            }
        }
        Ok(refs)
    }

    /// Looks under `from` for files holding the wanted blobs. When every
    /// wanted size is known (from the manifests), only files of one of those
    /// sizes are read; otherwise every file is. Hashes come from the stat
    /// cache when it knows the file.
    async fn find_copies(&self, from: &Path, wanted: &BTreeMap<Digest, Option<u64>>) -> Result<Vec<(Digest, PathBuf)>> {
        let sizes: Option<BTreeSet<u64>> = wanted.values().copied().collect();
        let from = from.to_path_buf();
        let candidates = tokio::task::spawn_blocking(move || {
            let mut files = Vec::new();
            walk_files(&from, &mut files);
            files
        })
        .await
        .map_err(|e| ServiceError::Infra { message: format!("cannot list the repair source: {e}"), hint: None })?;
        let mut stat = self.stat_cache();
        let mut found = Vec::new();
        let mut left: BTreeSet<Digest> = wanted.keys().copied().collect();
        for (path, size) in candidates {
            if left.is_empty() {
                break;
            }
            if sizes.as_ref().is_some_and(|s| !s.contains(&size)) {
                continue;
            }
            let digest = match stat.lookup(&path) {
                Some(d) => Some(d),
                None => {
                    let p = path.clone();
                    tokio::task::spawn_blocking(move || crate::files::hash_file(&p)).await.ok().flatten()
                }
            };
            let Some(digest) = digest else { continue };
            stat.record(&path, digest);
            if left.remove(&digest) {
                found.push((digest, path));
            }
        }
        if let Err(e) = stat.save() {
            tracing::warn!("could not save the stat cache: {e}");
        }
        Ok(found)
    }
}

/// Every regular file at or under `p` with its size. Links to files are
/// followed (what they hold is checked by hash before use); links to
/// directories are not, so a loop cannot trap the walk. Unreadable entries
/// are passed over: they cannot be a good copy.
fn walk_files(p: &Path, out: &mut Vec<(PathBuf, u64)>) {
    let Ok(link_meta) = std::fs::symlink_metadata(p) else { return };
    if link_meta.is_dir() {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            walk_files(&e, out);
        }
    } else if let Ok(meta) = std::fs::metadata(p)
        && meta.is_file()
    {
        out.push((p.to_path_buf(), meta.len()));
    }
}
