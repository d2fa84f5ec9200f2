//! Push as three steps, the same whether the files are on this machine or
//! arrive over HTTP: [`Berth::push_begin`] takes an upload lease over every
//! blob a manifest names and says which ones the store lacks;
//! [`Berth::put_blob`] stores one of them from a file the caller holds; and
//! [`Berth::push_commit`] stores the manifest and creates the version once
//! every blob is in. None of them knows where the caller's files came from:
//! only the local push (`push.rs`) deals in paths.
//!
//! Also here, the read a remote pull makes: one file of a version, verified
//! by the store as it is copied out.

use std::collections::BTreeSet;
use std::path::Path;

use berth_core::manifest::MANIFEST_MEDIA_TYPE;
use berth_core::{Digest, Manifest, ModelName, NewVersion, Ref, Role, Timestamp, VersionMeta, VersionRecord};
use berth_registry::{LeaseId, RegistryError};
use berth_store::{Hashed, NoProgress, StoreError};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::push::{LEASE_TTL, LeaseGuard, end_lease, infer_format};
use crate::{Berth, Result, ServiceError};

/// An upload under way: the id of its lease in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UploadId(pub i64);

impl UploadId {
    pub(crate) fn lease(self) -> LeaseId {
        LeaseId(self.0)
    }
}

impl std::fmt::Display for UploadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What [`Berth::push_begin`] answers: the upload, the blobs the caller must
/// still send, and until when the upload's lease keeps them safe from gc.
#[derive(Debug, Clone, Serialize)]
pub struct UploadBegun {
    pub upload: UploadId,
    pub missing: Vec<Digest>,
    pub expires_at: Timestamp,
}

/// What [`Berth::put_blob`] did.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BlobPut {
    pub digest: Digest,
    pub size: u64,
    /// False when the store already had a sound copy and nothing was written.
    pub written: bool,
    /// True when the put replaced a damaged copy.
    pub repaired: bool,
}

/// What [`Berth::push_commit`] did.
#[derive(Debug, Clone, Serialize)]
pub struct CommitReport {
    #[serde(rename = "ref")]
    pub reference: String,
    pub version: VersionRecord,
    pub files: usize,
    pub bytes: u64,
    /// The newest earlier version with the same manifest digest (`name@N`).
    pub identical_to: Option<String>,
    /// True when `if_changed` found the newest version identical and no
    /// version was created; `version` is then that newest version.
    pub unchanged: bool,
    /// The manifest blob replaced a damaged copy in the store.
    pub manifest_repaired: bool,
}

/// One file of a version: where it is in the version and which blob holds it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionFile {
    pub model: ModelName,
    pub version: u64,
    pub path: String,
    pub digest: Digest,
    pub size: u64,
}

/// Refuses a manifest that is not one berth writes: another media type, or no files.
fn check_manifest(m: &Manifest) -> Result<()> {
    if m.media_type != MANIFEST_MEDIA_TYPE {
        return Err(ServiceError::input(
            format!("the manifest's mediaType is {:?}; berth accepts {MANIFEST_MEDIA_TYPE:?}", m.media_type),
            Some("send the manifest as berth writes it".into()),
        ));
    }
    if m.files.is_empty() {
        return Err(ServiceError::input(
            "the manifest names no files",
            Some("a version needs at least one file".into()),
        ));
    }
    Ok(())
}

/// Every blob a manifest names, once each, in digest order.
fn blobs_of(m: &Manifest) -> Vec<Digest> {
    m.files.values().map(|e| e.digest).collect::<BTreeSet<_>>().into_iter().collect()
}

impl Berth {
    /// Starts a push of `manifest` to `model`: takes an upload lease over
    /// every blob it names and the manifest itself (waiting out a running
    /// gc), and answers which blobs the store does not have yet. The lease
    /// lasts until the version is created, or for a day.
    pub async fn push_begin(&self, model: &ModelName, manifest: &Manifest) -> Result<UploadBegun> {
        self.allow(Role::Publisher, Some(model), None)?;
        check_manifest(manifest)?;
        let blobs = blobs_of(manifest);
        let mut leased = blobs.clone();
        leased.push(manifest.digest());
        let guard = LeaseGuard::new(self.registry.clone(), self.take_lease(&leased).await?);
        let expires_at = self.now().plus(LEASE_TTL);
        let missing = self.missing_blobs(&blobs).await?;
        Ok(UploadBegun { upload: UploadId(guard.keep().0), missing, expires_at })
    }

    /// The blobs of `blobs` the store does not have, asked several at a time.
    async fn missing_blobs(&self, blobs: &[Digest]) -> Result<Vec<Digest>> {
        // Owned values only: the future stays Send for any caller (a hub handler).
        let store = self.store.clone();
        let answers: Vec<_> = futures::stream::iter(blobs.to_vec())
            .map(move |d| {
                let store = store.clone();
                async move { (d, store.exists(&d).await) }
            })
            .buffered(self.config.jobs.max(1))
            .collect()
            .await;
        let mut missing = Vec::new();
        for (d, has) in answers {
            if !has? {
                missing.push(d);
            }
        }
        Ok(missing)
    }

    /// The blobs upload `upload` was begun for; refuses one that has ended.
    async fn upload_blobs(&self, upload: UploadId) -> Result<Vec<Digest>> {
        self.registry.lease_digests(upload.lease()).await?.ok_or_else(|| ServiceError::Conflict {
            message: format!("upload {upload} is not open: it was committed, ended or has expired"),
            hint: Some("begin the upload again (POST /api/v1/models/{model}/uploads) and send what it lists".into()),
        })
    }

    /// Refuses a blob `upload` does not accept: the caller may not publish
    /// at all, the upload has ended, or its manifest does not name `digest`.
    /// Cheap (no bytes are read), so a server can ask before it reads a body.
    pub async fn upload_accepts(&self, upload: UploadId, digest: &Digest) -> Result<()> {
        if self.principal.grant.role < Role::Publisher {
            return Err(ServiceError::Denied {
                message: format!(
                    "{} may not upload blobs: that needs the publisher role on the model being pushed",
                    self.principal.describe()
                ),
                hint: Some(format!(
                    "ask an admin for a token made with `berth token create --principal {} --role publisher --models MODEL`",
                    self.principal.name
                )),
                missing: Vec::new(),
            });
        }
        let blobs = self.upload_blobs(upload).await?;
        if !blobs.contains(digest) {
            return Err(ServiceError::input(
                format!("upload {upload} does not name blob {digest}: its manifest has {} other blobs", blobs.len()),
                Some("send only the blobs the upload's manifest names (the upload's `missing` list)".into()),
            ));
        }
        Ok(())
    }

    /// Stores the file at `file` as blob `expected` of `upload`. The bytes
    /// must hash to `expected`; otherwise nothing is stored. A store that
    /// already holds a sound copy of the right size keeps it without reading
    /// the file (a server that must refuse wrong bytes hashes them itself).
    pub async fn put_blob(&self, upload: UploadId, expected: &Digest, file: &Path) -> Result<BlobPut> {
        self.upload_accepts(upload, expected).await?;
        match self.store.put_file(file, Some(*expected), &NoProgress).await {
            Ok(out) => Ok(BlobPut { digest: out.digest, size: out.size, written: out.written, repaired: out.repaired }),
            Err(StoreError::Changed { expected, actual, .. }) => Err(ServiceError::input(
                format!("the bytes sent as blob {expected} hash to {actual}; nothing was stored"),
                Some("send the blob's exact bytes: the digest named must be the SHA-256 of the body".into()),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores a blob of `upload` that a server hashed as it received it
    /// (`file`'s digest is the server's account of its bytes). The store may
    /// take the file rather than copy it: a local store renames it into place.
    pub async fn put_received_blob(&self, upload: UploadId, file: Hashed<'_>) -> Result<BlobPut> {
        self.upload_accepts(upload, &file.digest).await?;
        let out = self.store.adopt_file(file, &NoProgress).await?;
        Ok(BlobPut { digest: out.digest, size: out.size, written: out.written, repaired: out.repaired })
    }

    /// Finishes `upload`: refuses (Conflict, listing them) while a blob of
    /// `manifest` is missing from the store, then stores the manifest and
    /// creates the version, which releases the lease in the same transaction.
    /// With `if_changed`, when the newest version has this manifest already,
    /// no version is created and the upload is ended.
    pub async fn push_commit(
        &self,
        upload: UploadId,
        model: &ModelName,
        manifest: &Manifest,
        meta: VersionMeta,
        if_changed: bool,
    ) -> Result<CommitReport> {
        self.allow(Role::Publisher, Some(model), None)?;
        check_manifest(manifest)?;
        let leased = self.upload_blobs(upload).await?;
        let blobs = blobs_of(manifest);
        let unleased: Vec<String> = blobs.iter().filter(|d| !leased.contains(d)).map(|d| d.to_string()).collect();
        if !unleased.is_empty() {
            return Err(ServiceError::input(
                format!("the manifest is not the one upload {upload} was begun with: it names {}", unleased.join(", ")),
                Some("commit the manifest the upload began with, or begin a new upload for this one".into()),
            ));
        }
        let missing = self.missing_blobs(&blobs).await?;
        if !missing.is_empty() {
            let named: Vec<String> = manifest
                .files
                .iter()
                .filter(|(_, e)| missing.contains(&e.digest))
                .map(|(p, e)| format!("{p} ({})", e.digest))
                .collect();
            return Err(ServiceError::Conflict {
                message: format!(
                    "upload {upload} cannot be committed: {} blob(s) are not in the store yet: {}",
                    missing.len(),
                    named.join(", ")
                ),
                hint: Some(format!("send them (PUT /api/v1/uploads/{upload}/blobs/DIGEST), then commit again")),
            });
        }
        let report = self.commit_manifest(upload.lease(), model, manifest, meta, if_changed).await?;
        if report.unchanged {
            end_lease(&*self.registry, upload.lease()).await;
        }
        Ok(report)
    }

    /// Stores the manifest and creates the version under `lease`, every blob
    /// already being in the store; sends the event of a new version.
    pub(crate) async fn commit_manifest(
        &self,
        lease: LeaseId,
        model: &ModelName,
        manifest: &Manifest,
        mut meta: VersionMeta,
        if_changed: bool,
    ) -> Result<CommitReport> {
        let put = self.store.put_bytes(Bytes::from(manifest.to_bytes())).await?;
        // Two index lookups, not a read of every version: a model may have thousands.
        let same = self.registry.newest_with_manifest(model, &put.digest).await?;
        let newest = match self.registry.versions_page(model, None, Some(1)).await {
            Ok(page) => page.into_iter().next(),
            Err(RegistryError::ModelNotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let identical_to = same.as_ref().map(|v| format!("{}@{}", v.model, v.version));
        let report = |version: VersionRecord, unchanged: bool| CommitReport {
            reference: format!("{}@{}", version.model, version.version),
            version,
            files: manifest.files.len(),
            bytes: manifest.total_size(),
            identical_to: identical_to.clone(),
            unchanged,
            manifest_repaired: put.repaired,
        };
        if if_changed
            && let Some(newest) = &newest
            && newest.manifest == put.digest
        {
            return Ok(report(newest.clone(), true));
        }
        meta.format = meta.format.or_else(|| infer_format(manifest.files.keys()));
        let blob_digests: Vec<Digest> = manifest.files.values().map(|e| e.digest).collect();
        let nv = NewVersion {
            model: model.clone(),
            manifest: put.digest,
            size: manifest.total_size(),
            meta,
            created_by: self.actor.name.clone(),
            created_by_token: self.actor.token.clone(),
        };
        let v = self.registry.create_version(nv, &blob_digests, Some(lease)).await?;
        let e = berth_deploy::Event::new(
            berth_deploy::EventKind::VersionPushed,
            v.created_at,
            &self.actor.name,
            format!(
                "{}@{} pushed ({} files, {} bytes)",
                v.model,
                v.version,
                manifest.files.len(),
                manifest.total_size()
            ),
        )
        .version(&v.model, v.version)
        .details(serde_json::json!({"manifest": v.manifest, "metrics": v.meta.metrics, "lineage": v.meta.lineage}));
        self.notify(e).await;
        Ok(report(v, false))
    }

    /// Which blob holds file `path` of the version `r` names; `None` when
    /// the version has no such file.
    pub async fn version_file_info(&self, r: &Ref, path: &str) -> Result<Option<VersionFile>> {
        self.allow(Role::Reader, Some(&r.model), None)?;
        let v = self.registry.resolve(r).await?;
        let manifest = self.manifest(&v).await?;
        Ok(manifest.files.iter().find(|(p, _)| p.as_str() == path).map(|(p, e)| VersionFile {
            model: v.model.clone(),
            version: v.version,
            path: p.to_string(),
            digest: e.digest,
            size: e.size,
        }))
    }

    /// Copies file `path` of the version `r` names to `dest`, verified on
    /// the way (a corrupt blob leaves `dest` untouched); `None` when the
    /// version has no such file.
    pub async fn open_version_file(&self, r: &Ref, path: &str, dest: &Path) -> Result<Option<VersionFile>> {
        let Some(f) = self.version_file_info(r, path).await? else { return Ok(None) };
        self.store.get_to_file(&f.digest, dest, &NoProgress).await?;
        Ok(Some(f))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::project;
    use std::collections::BTreeMap;

    use berth_core::{ManifestEntry, RelPath};

    use super::*;

    fn manifest(files: &[(&str, &[u8])]) -> Manifest {
        let files: BTreeMap<RelPath, ManifestEntry> = files
            .iter()
            .map(|(p, b)| (RelPath::parse(p).unwrap(), ManifestEntry { digest: Digest::of(b), size: b.len() as u64 }))
            .collect();
        Manifest::new(files).unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn churn() -> ModelName {
        ModelName::parse("churn").unwrap()
    }

    #[tokio::test]
    async fn begin_put_commit_creates_the_version_and_ends_the_lease() {
        let (dir, b) = project().await;
        let m = manifest(&[("model.onnx", b"weights"), ("meta.json", b"{}")]);
        let begun = b.push_begin(&churn(), &m).await.unwrap();
        assert_eq!(begun.missing.len(), 2);
        assert_eq!(b.registry.active_leases().await.unwrap().len(), 1, "the lease outlives push_begin");
        for (name, bytes) in [("model.onnx", &b"weights"[..]), ("meta.json", b"{}")] {
            let put = b.put_blob(begun.upload, &Digest::of(bytes), &write(dir.path(), name, bytes)).await.unwrap();
            assert!(put.written);
        }
        let c = b.push_commit(begun.upload, &churn(), &m, VersionMeta::default(), false).await.unwrap();
        assert_eq!((c.version.version, c.files, c.bytes, c.unchanged), (1, 2, 9, false));
        assert_eq!(c.version.meta.format.as_deref(), Some("onnx"));
        assert_eq!(b.manifest(&c.version).await.unwrap(), m);
        assert!(b.registry.active_leases().await.unwrap().is_empty(), "the version's transaction ended the lease");

        // The same files again: nothing missing, and if_changed creates nothing.
        let again = b.push_begin(&churn(), &m).await.unwrap();
        assert!(again.missing.is_empty());
        let c = b.push_commit(again.upload, &churn(), &m, VersionMeta::default(), true).await.unwrap();
        assert!(c.unchanged);
        assert_eq!(c.identical_to.as_deref(), Some("churn@1"));
        assert!(b.registry.active_leases().await.unwrap().is_empty(), "an unchanged commit ends the lease");
        let e = b.put_blob(again.upload, &Digest::of(b"weights"), &write(dir.path(), "w", b"weights")).await;
        assert_eq!(e.unwrap_err().kind(), crate::ErrorKind::Conflict, "a finished upload takes no more blobs");
    }

    #[tokio::test]
    async fn wrong_bytes_and_unnamed_blobs_are_refused_and_nothing_is_stored() {
        let (dir, b) = project().await;
        let m = manifest(&[("model.onnx", b"weights")]);
        let begun = b.push_begin(&churn(), &m).await.unwrap();
        let wrong = write(dir.path(), "wrong", b"weightz");
        let e = b.put_blob(begun.upload, &Digest::of(b"weights"), &wrong).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::BadInput);
        let msg = e.message();
        assert!(
            msg.contains(&Digest::of(b"weights").to_string()) && msg.contains(&Digest::of(b"weightz").to_string()),
            "{msg}"
        );
        assert!(!b.store.exists(&Digest::of(b"weights")).await.unwrap());
        assert!(!b.store.exists(&Digest::of(b"weightz")).await.unwrap());

        let e = b.put_blob(begun.upload, &Digest::of(b"weightz"), &wrong).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::BadInput, "{e}");
        assert!(e.message().contains("does not name blob"), "{e}");
        assert!(!b.store.exists(&Digest::of(b"weightz")).await.unwrap());
    }

    #[tokio::test]
    async fn a_commit_with_a_blob_missing_names_it_and_keeps_the_upload_open() {
        let (dir, b) = project().await;
        let m = manifest(&[("a.bin", b"aaa"), ("b.bin", b"bbb")]);
        let begun = b.push_begin(&churn(), &m).await.unwrap();
        b.put_blob(begun.upload, &Digest::of(b"aaa"), &write(dir.path(), "a", b"aaa")).await.unwrap();
        let e = b.push_commit(begun.upload, &churn(), &m, VersionMeta::default(), false).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Conflict);
        assert!(e.message().contains("b.bin") && e.message().contains(&Digest::of(b"bbb").to_string()), "{e}");
        assert!(!e.message().contains("a.bin"), "{e}");
        // A different manifest cannot be slipped in under this upload.
        let other = manifest(&[("a.bin", b"aaa"), ("c.bin", b"ccc")]);
        let e = b.push_commit(begun.upload, &churn(), &other, VersionMeta::default(), false).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::BadInput, "{e}");
        b.put_blob(begun.upload, &Digest::of(b"bbb"), &write(dir.path(), "b", b"bbb")).await.unwrap();
        let c = b.push_commit(begun.upload, &churn(), &m, VersionMeta::default(), false).await.unwrap();
        assert_eq!(c.version.version, 1);
    }

    #[tokio::test]
    async fn a_version_file_is_found_by_path_and_copied_out_verified() {
        let (dir, b) = project().await;
        let m = manifest(&[("model.onnx", b"weights")]);
        let begun = b.push_begin(&churn(), &m).await.unwrap();
        b.put_blob(begun.upload, &Digest::of(b"weights"), &write(dir.path(), "w", b"weights")).await.unwrap();
        b.push_commit(begun.upload, &churn(), &m, VersionMeta::default(), false).await.unwrap();
        let r = Ref::parse("churn@1").unwrap();
        let dest = dir.path().join("out");
        let f = b.open_version_file(&r, "model.onnx", &dest).await.unwrap().unwrap();
        assert_eq!((f.size, f.digest), (7, Digest::of(b"weights")));
        assert_eq!(std::fs::read(&dest).unwrap(), b"weights");
        assert!(b.version_file_info(&r, "nope.onnx").await.unwrap().is_none());
    }

    #[test]
    fn a_manifest_of_another_kind_is_refused() {
        let mut m = manifest(&[("a", b"a")]);
        m.media_type = "text/plain".into();
        assert!(check_manifest(&m).unwrap_err().message().contains("text/plain"));
    }
}
