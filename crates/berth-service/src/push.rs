//! `push`: files become blobs plus a manifest blob, then a new version.
//!
//! Order matters for crash safety: every blob (the manifest last) is complete
//! in the store before the version row is written, in one transaction. A push
//! killed at any moment leaves at most unreferenced blobs or temporary files,
//! never a version that points at missing data.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::{Digest, Manifest, ManifestEntry, ModelName, VersionMeta, VersionRecord};
use berth_registry::{LeaseId, Registry, RegistryError};
use berth_store::{Progress, StatCache};
use futures::StreamExt;
use serde::Serialize;

use crate::gitignore::GitWarning;
use crate::{Berth, Result, ServiceError, Transfer};

/// How long a push's lease keeps its blobs safe from gc if the push dies.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a push waits for a running gc before giving up.
const GC_WAIT: Duration = Duration::from_secs(120);

/// An upload lease held by a push. [`LeaseGuard::end`] ends it; one dropped
/// without that (the push's future dropped midway) is ended on a task of its
/// own, so that a gc does not wait out the whole TTL for a push that is gone.
/// [`LeaseGuard::keep`] hands the lease on instead (an upload over HTTP keeps
/// it between requests, until its commit or its expiry).
pub(crate) struct LeaseGuard {
    registry: Arc<dyn Registry>,
    id: LeaseId,
    /// Until `end` or `keep` has finished.
    held: bool,
}

impl LeaseGuard {
    pub(crate) fn new(registry: Arc<dyn Registry>, id: LeaseId) -> LeaseGuard {
        LeaseGuard { registry, id, held: true }
    }

    /// Ends the lease. A failure is only logged: the lease expires with its
    /// TTL, and gc releases the leases of dead local processes before that.
    pub(crate) async fn end(mut self) {
        end_lease(&*self.registry, self.id).await;
        self.held = false;
    }

    /// Lets the lease outlive the guard.
    pub(crate) fn keep(mut self) -> LeaseId {
        self.held = false;
        self.id
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

pub(crate) async fn end_lease(registry: &dyn Registry, id: LeaseId) {
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
    /// A Git LFS pointer file stands for the object it names, which the
    /// store must already hold (pushed there with `git lfs push`): the
    /// version gets the object and no byte is sent again.
    pub from_lfs: bool,
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
pub(crate) fn infer_format<'a>(names: impl IntoIterator<Item = &'a berth_core::RelPath>) -> Option<String> {
    let mut found: Option<&str> = None;
    for k in names {
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

    /// Pushes files on this machine: hashes what the stat cache does not
    /// know, then goes through the same three steps as a push over HTTP
    /// ([`Berth::push_begin`], the blobs, [`Berth::push_commit`]'s work),
    /// putting every file so that a damaged copy in the store is repaired.
    pub async fn push_with(&self, req: PushRequest, opts: &PushOptions, transfer: &dyn Transfer) -> Result<PushReport> {
        let started = Instant::now();
        let model = push_model(&req)?;
        self.allow(berth_core::Role::Publisher, Some(&model), None)?;
        let mut stat = self.stat_cache();
        let prepared = prepare(&model, &req.paths, opts, &stat, self.config.jobs, transfer).await?;
        let Prepared { files: hashed, pointers, manifest, total, hashes_cached, git_warnings } = prepared;
        self.pointers_in_lfs(&model, &pointers).await?;
        let begun = self.push_begin(&model, &manifest).await?;
        self.under_lease(begun.upload.lease(), async |lease| {
            pointers_present(&pointers, &begun.missing, &self.store.location(), &model)?;
            let (written, repaired) = self.put_files(&model, &hashed, total, transfer).await?;
            for f in &hashed {
                stat.record(&f.path, f.digest);
            }
            if let Err(e) = stat.save() {
                tracing::warn!("could not save the stat cache: {e}");
            }
            let c = self.commit_manifest(lease, &model, &manifest, req.meta, opts.if_changed).await?;
            let n_files = hashed.len() + pointers.len();
            Ok(PushReport {
                reference: c.reference,
                version: c.version,
                files: n_files,
                bytes: total,
                blobs_written: written,
                blobs_skipped: n_files - written,
                blobs_repaired: repaired + usize::from(c.manifest_repaired),
                identical_to: c.identical_to,
                unchanged: c.unchanged,
                hashes_cached,
                seconds: started.elapsed().as_secs_f64(),
                git_warnings,
            })
        })
        .await
    }

    /// Refuses pointers whose objects the Git LFS repository of `model`
    /// does not hold (with their size), before any upload begins.
    async fn pointers_in_lfs(&self, model: &ModelName, pointers: &[PointerFile]) -> Result<()> {
        let mut absent = Vec::new();
        for p in pointers {
            let held = self.lfs_object(model, &p.pointer.oid).await?;
            if held.is_none_or(|o| o.size != p.pointer.size) {
                absent.push(p);
            }
        }
        refuse_absent(&absent, &format!("the Git LFS repository {model}"), model)
    }

    /// [`Berth::under_lease`] with a lease taken first (waiting out a running gc).
    #[cfg(test)]
    async fn with_lease<T>(&self, known: &[Digest], work: impl AsyncFnOnce(LeaseId) -> Result<T>) -> Result<T> {
        let id = self.take_lease(known).await?;
        self.under_lease(id, work).await
    }

    /// Runs `work` under the lease `id`, already taken, and ends the lease
    /// however `work` ends: with an error, an early answer or a new version.
    /// A version's own transaction already removed its lease, and ending it
    /// again finds nothing, so every path ends it the same way. Should the
    /// push itself be dropped midway, the guard ends the lease on a task of
    /// its own.
    async fn under_lease<T>(&self, id: LeaseId, work: impl AsyncFnOnce(LeaseId) -> Result<T>) -> Result<T> {
        let lease = LeaseGuard::new(self.registry.clone(), id);
        let out = work(lease.id).await;
        lease.end().await;
        out
    }

    /// Takes an upload lease, waiting while a garbage collection runs.
    pub(crate) async fn take_lease(&self, known: &[Digest]) -> Result<LeaseId> {
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

    /// Puts every file, several at a time, each as the blob it hashed to
    /// (a file that changed since is refused by the store); returns how many
    /// blobs were written and how many of those replaced a damaged copy.
    async fn put_files(
        &self,
        model: &ModelName,
        files: &[LocalFile],
        total: u64,
        transfer: &dyn Transfer,
    ) -> Result<(usize, usize)> {
        let progress: Arc<dyn Progress> = transfer.begin(&format!("push {model}"), total);
        let store = &self.store;
        let puts: Vec<_> = files
            .iter()
            .map(|f| {
                let progress = progress.clone();
                async move { store.put_file(&f.path, Some(f.digest), &*progress).await }
            })
            .collect();
        let results: Vec<_> = futures::stream::iter(puts).buffered(self.config.jobs.max(1)).collect().await;
        transfer.finish();
        let (mut written, mut repaired) = (0, 0);
        for r in results {
            let out = r?;
            written += usize::from(out.written);
            repaired += usize::from(out.repaired);
        }
        Ok((written, repaired))
    }
}

/// The model a push names; refused when it names none.
pub(crate) fn push_model(req: &PushRequest) -> Result<ModelName> {
    req.model.clone().ok_or_else(|| ServiceError::input("no model name given", Some("pass --model NAME".into())))
}

/// The files of a push, hashed, and the manifest they make: what a push
/// hands on, whether it goes to this machine's store or through a hub.
pub(crate) struct Prepared {
    /// The files whose bytes are the blob.
    pub(crate) files: Vec<LocalFile>,
    /// With `from_lfs`: the Git LFS pointers, each standing for its object.
    pub(crate) pointers: Vec<PointerFile>,
    pub(crate) manifest: Manifest,
    /// The bytes of every file, a file counted once per path.
    pub(crate) total: u64,
    /// Files whose digest came from the stat cache (not re-read).
    pub(crate) hashes_cached: usize,
    pub(crate) git_warnings: Vec<GitWarning>,
}

/// Collects the files `paths` name, warns of those git ignores, gives each
/// its digest (from `stat` when it knows the file, else by reading it,
/// `jobs` at a time) and builds the manifest. Records nothing in `stat`:
/// the caller does once the blobs are stored.
pub(crate) async fn prepare(
    model: &ModelName,
    paths: &[PathBuf],
    opts: &PushOptions,
    stat: &StatCache,
    jobs: usize,
    transfer: &dyn Transfer,
) -> Result<Prepared> {
    let files = crate::files::collect(paths, opts.follow_symlinks)?;
    let git_warnings = crate::gitignore::check(paths);
    let known: Vec<(berth_core::RelPath, PathBuf, Option<Digest>)> = files
        .into_iter()
        .map(|(rel, path)| {
            let d = stat.lookup(&path);
            (rel, path, d)
        })
        .collect();
    let (known, pointers) = if opts.from_lfs { split_pointers(known)? } else { (known, Vec::new()) };
    let hashes_cached = known.iter().filter(|(_, _, d)| d.is_some()).count();
    let files = hash_files(model, known, jobs, transfer).await?;
    let total: u64 = files.iter().map(|f| f.size).chain(pointers.iter().map(|p| p.pointer.size)).sum();
    let entries = files.iter().map(|f| (f.rel.clone(), ManifestEntry { digest: f.digest, size: f.size }));
    let named = pointers.iter().map(|p| (p.rel.clone(), ManifestEntry { digest: p.pointer.oid, size: p.pointer.size }));
    let manifest =
        Manifest::new(entries.chain(named).collect()).map_err(|e| ServiceError::input(e.to_string(), None))?;
    Ok(Prepared { files, pointers, manifest, total, hashes_cached, git_warnings })
}

/// A Git LFS pointer file of a push and the object it names.
pub(crate) struct PointerFile {
    pub(crate) rel: berth_core::RelPath,
    pub(crate) pointer: crate::lfs_pointer::Pointer,
}

type Known = Vec<(berth_core::RelPath, PathBuf, Option<Digest>)>;

/// Sets the Git LFS pointers among `files` apart from the files to hash.
fn split_pointers(files: Known) -> Result<(Known, Vec<PointerFile>)> {
    let (mut plain, mut pointers) = (Vec::new(), Vec::new());
    for (rel, path, known) in files {
        match crate::lfs_pointer::read_pointer(&path)? {
            Some(pointer) => pointers.push(PointerFile { rel, pointer }),
            None => plain.push((rel, path, known)),
        }
    }
    Ok((plain, pointers))
}

/// Refuses a push whose Git LFS pointers name objects `store` (described
/// so) lacks: `missing` is what the store said it lacks.
pub(crate) fn pointers_present(
    pointers: &[PointerFile],
    missing: &[Digest],
    store: &str,
    model: &ModelName,
) -> Result<()> {
    let absent: Vec<&PointerFile> = pointers.iter().filter(|p| missing.contains(&p.pointer.oid)).collect();
    refuse_absent(&absent, store, model)
}

/// Refuses a push with pointers to objects `store` (described so) does
/// not hold; `Ok` when `absent` is empty.
pub(crate) fn refuse_absent(absent: &[&PointerFile], store: &str, model: &ModelName) -> Result<()> {
    if absent.is_empty() {
        return Ok(());
    }
    let absent: Vec<String> = absent.iter().map(|p| format!("{} (object {})", p.rel, p.pointer.oid.hex())).collect();
    Err(ServiceError::input(
        format!("{store} does not hold the Git LFS object(s) these pointers name: {}", absent.join(", ")),
        Some(format!(
            "push them first with `git lfs push` to the hub's Git LFS repository (lfs.url = HUB/lfs/{model})"
        )),
    ))
}

/// Gives every file its digest and size: the stat cache's digest when
/// it has one, otherwise by reading the file (several at a time, shown
/// as a transfer of its own). Input order is kept.
async fn hash_files(
    model: &ModelName,
    files: Vec<(berth_core::RelPath, PathBuf, Option<Digest>)>,
    jobs: usize,
    transfer: &dyn Transfer,
) -> Result<Vec<LocalFile>> {
    let size_of = |p: &PathBuf| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| ServiceError::input(format!("{}: cannot read: {e}", p.display()), None))
    };
    let mut to_hash = 0u64;
    for (_, p, d) in &files {
        if d.is_none() {
            to_hash += size_of(p)?;
        }
    }
    let began = files.iter().any(|(_, _, d)| d.is_none());
    let progress: Arc<dyn Progress> = match began {
        true => transfer.begin(&format!("hash {model}"), to_hash),
        false => Arc::new(berth_store::NoProgress),
    };
    // The futures are made first, so no closure lives in the stream: the
    // push's future stays Send for a caller that needs it to be.
    let hashing: Vec<_> = files
        .into_iter()
        .map(|(rel, path, known)| {
            let progress = progress.clone();
            async move {
                if let Some(digest) = known {
                    let size = size_of(&path)?;
                    return Ok(LocalFile { rel, path, digest, size });
                }
                let p = path.clone();
                let (digest, size) = tokio::task::spawn_blocking(move || hash_file(&p, &*progress))
                    .await
                    .map_err(|e| ServiceError::input(format!("{}: hashing failed: {e}", path.display()), None))??;
                Ok(LocalFile { rel, path, digest, size })
            }
        })
        .collect();
    let results: Vec<Result<LocalFile>> = futures::stream::iter(hashing).buffered(jobs.max(1)).collect().await;
    if began {
        transfer.finish();
    }
    results.into_iter().collect()
}

/// A file of a push, with the blob it is.
pub(crate) struct LocalFile {
    pub(crate) rel: berth_core::RelPath,
    pub(crate) path: PathBuf,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
}

/// The SHA-256 and length of a file, read once, reporting bytes as it goes.
fn hash_file(path: &std::path::Path, progress: &dyn Progress) -> Result<(Digest, u64)> {
    use std::io::Read;
    let cannot = |e: std::io::Error| ServiceError::input(format!("{}: cannot read: {e}", path.display()), None);
    let mut f = std::fs::File::open(path).map_err(cannot)?;
    let mut h = berth_core::Sha256Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(cannot)?;
        if n == 0 {
            return Ok((h.finish(), size));
        }
        h.update(&buf[..n]);
        size += n as u64;
        progress.advance(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::project;
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn format_is_inferred_only_when_unambiguous() {
        let mk = |names: &[&str]| -> BTreeMap<berth_core::RelPath, PathBuf> {
            names.iter().map(|n| (berth_core::RelPath::parse(n).unwrap(), PathBuf::from(n))).collect()
        };
        assert_eq!(infer_format(mk(&["model.onnx", "meta.json"]).keys()).as_deref(), Some("onnx"));
        assert_eq!(infer_format(mk(&["a.onnx", "b.pt"]).keys()), None);
        assert_eq!(infer_format(mk(&["readme.txt"]).keys()), None);
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

    /// The blob's file in the local store under `root`, found by its name.
    fn blob_file(root: &std::path::Path, d: &Digest) -> PathBuf {
        let hex = d.hex();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n == &hex[2..]) {
                    return p;
                }
            }
        }
        panic!("no blob file for {d} under {}", root.display())
    }

    #[tokio::test]
    async fn a_second_push_uses_the_stat_cache_and_repairs_a_damaged_blob() {
        let (dir, b) = project().await;
        let file = dir.path().join("model.onnx");
        std::fs::write(&file, b"weights").unwrap();
        // Old enough for the stat cache to trust its metadata.
        let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(an_hour_ago).unwrap();
        let req = || PushRequest {
            paths: vec![file.clone()],
            model: Some(ModelName::parse("churn").unwrap()),
            meta: VersionMeta::default(),
        };
        let first = b.push(req(), &crate::NoTransfer).await.unwrap();
        assert_eq!((first.blobs_written, first.blobs_skipped, first.hashes_cached), (1, 0, 0));
        std::fs::write(blob_file(dir.path(), &Digest::of(b"weights")), b"xx").unwrap();
        let second = b.push(req(), &crate::NoTransfer).await.unwrap();
        assert_eq!(second.hashes_cached, 1, "the file was not re-hashed");
        assert_eq!(second.blobs_repaired, 1, "the damaged copy was replaced");
        assert_eq!(second.identical_to.as_deref(), Some("churn@1"));
        assert_eq!(second.version.version, 2);
        assert_eq!(std::fs::read(blob_file(dir.path(), &Digest::of(b"weights"))).unwrap(), b"weights");
        assert_eq!(leases(&b).await, 0);
    }
}
