//! `pull`: restores a version's files into a directory, verifying every blob
//! and skipping files that already hold the right bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_core::{Manifest, ManifestEntry, Ref, RelPath, VersionRecord};
use berth_store::{Progress, StatCache};
use futures::StreamExt;
use serde::Serialize;

use crate::{Berth, Result, ServiceError, Transfer};

#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    #[serde(rename = "ref")]
    pub reference: String,
    pub version: VersionRecord,
    pub dir: PathBuf,
    pub files: usize,
    pub written: usize,
    pub skipped: usize,
    pub bytes: u64,
}

/// Where a pull of `v` writes: `dir`, else `MODEL-vN` in the current
/// directory; refused when that is something other than a directory.
pub(crate) fn destination(v: &VersionRecord, dir: Option<PathBuf>) -> Result<PathBuf> {
    let dir = dir.unwrap_or_else(|| PathBuf::from(format!("{}-v{}", v.model, v.version)));
    if dir.exists() && !dir.is_dir() {
        return Err(ServiceError::input(
            format!("{}: exists and is not a directory", dir.display()),
            Some("choose another -o DIR".into()),
        ));
    }
    Ok(dir)
}

/// Which files of `manifest` need writing into `dir`, and how many do not:
/// a file already holding the right bytes (by the stat cache, else by
/// hashing it) is left alone and recorded in `stat`.
pub(crate) fn plan(
    dir: &Path,
    manifest: &Manifest,
    stat: &mut StatCache,
) -> (Vec<(RelPath, PathBuf, ManifestEntry)>, usize) {
    let mut todo = Vec::new();
    let mut skipped = 0;
    for (rel, e) in &manifest.files {
        let dest = dir.join(rel.as_str());
        let have = if dest.is_file() { stat.lookup(&dest).or_else(|| crate::files::hash_file(&dest)) } else { None };
        if have == Some(e.digest) {
            stat.record(&dest, e.digest);
            skipped += 1;
        } else {
            todo.push((rel.clone(), dest, *e));
        }
    }
    (todo, skipped)
}

impl Berth {
    pub async fn pull(&self, r: &Ref, dir: Option<PathBuf>, transfer: &dyn Transfer) -> Result<PullReport> {
        self.allow(berth_core::Role::Reader, Some(&r.model), None)?;
        let v = self.registry.resolve(r).await?;
        let manifest = self.manifest(&v).await?;
        let dir = destination(&v, dir)?;
        let mut stat = self.stat_cache();
        let (todo, skipped) = plan(&dir, &manifest, &mut stat);
        let total: u64 = todo.iter().map(|(_, _, e)| e.size).sum();
        let progress: Arc<dyn Progress> = transfer.begin(&format!("pull {}@{}", v.model, v.version), total);
        let store = &self.store;
        let gets: Vec<_> = todo
            .iter()
            .map(|(_, dest, e)| {
                let progress = progress.clone();
                async move { store.get_to_file(&e.digest, dest, &*progress).await }
            })
            .collect();
        let results: Vec<Result<u64, _>> =
            futures::stream::iter(gets).buffer_unordered(self.config.jobs.max(1)).collect().await;
        transfer.finish();
        let results = results.into_iter().map(|r| r.map(|_| ()).map_err(ServiceError::from)).collect();
        finish(Pulled { version: v, dir, files: manifest.files.len(), todo, skipped, bytes: total }, results, &mut stat)
    }
}

/// What a pull fetched, for [`finish`].
pub(crate) struct Pulled {
    pub version: VersionRecord,
    pub dir: PathBuf,
    pub files: usize,
    pub todo: Vec<(RelPath, PathBuf, ManifestEntry)>,
    pub skipped: usize,
    pub bytes: u64,
}

/// The end of every pull, in-process or through a hub: the first failure,
/// else the stat cache told what was written, and the report.
pub(crate) fn finish(f: Pulled, results: Vec<Result<()>>, stat: &mut StatCache) -> Result<PullReport> {
    for r in results {
        r?;
    }
    for (_, dest, e) in &f.todo {
        stat.record(dest, e.digest);
    }
    if let Err(e) = stat.save() {
        tracing::warn!("could not save the stat cache: {e}");
    }
    let v = f.version;
    Ok(PullReport {
        reference: format!("{}@{}", v.model, v.version),
        dir: f.dir,
        files: f.files,
        written: f.todo.len(),
        skipped: f.skipped,
        bytes: f.bytes,
        version: v,
    })
}
