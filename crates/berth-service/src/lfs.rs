//! Git LFS objects as berth blobs. A Git LFS repository is named after a
//! model (the model need not exist yet); an object's oid is the SHA-256 of
//! its bytes, which is exactly a blob's digest, so an object is stored once
//! however many repositories and versions hold it.
//!
//! Reading an object needs the reader role on the repository's model,
//! storing one the publisher role. Each object a repository stores is
//! recorded in the registry under that repository: the record keeps the blob
//! from garbage collection before any version references it, and a
//! repository hands out only the objects recorded under it, so a digest
//! learnt elsewhere does not open another model's blob. For the same reason
//! an upload is skipped only when this repository already recorded the
//! object: anyone else must send the bytes, which proves they hold them.

use std::path::Path;

use berth_core::{Digest, ModelName, Role};
use berth_registry::LfsObject;
use berth_store::NoProgress;
use serde::{Deserialize, Serialize};

use crate::push::LeaseGuard;
use crate::{Berth, Result, ServiceError};

/// What a batch asks for: to fetch objects or to send them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LfsOperation {
    Download,
    Upload,
}

/// What the repository can do with one object of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum LfsObjectState {
    /// Download: the repository holds it; fetch it.
    Ready,
    /// Download: the repository holds no such object.
    Missing,
    /// Upload: the repository holds it already; nothing to send.
    Stored,
    /// Upload: send it.
    Wanted,
    /// The repository holds the object with another size than the one asked
    /// about; an oid fixes the bytes, so the size asked about is wrong.
    OtherSize { size: u64 },
}

/// What [`Berth::lfs_put`] did.
#[derive(Debug, Clone, Serialize)]
pub struct LfsPut {
    pub object: LfsObject,
    /// False when the store already had a sound copy of the blob.
    pub written: bool,
    /// True when this repository had not recorded the object before.
    pub recorded: bool,
}

/// The Git LFS URL of repository `repo` on the hub at `hub`
/// (`https://hub.example/lfs/churn`): what `lfs.url` names.
pub fn lfs_url(hub: &str, repo: &ModelName) -> String {
    format!("{}/lfs/{repo}", hub.trim_end_matches('/'))
}

/// An object's oid as Git LFS spells it (64 lowercase hex digits), as a digest.
pub fn lfs_oid(oid: &str) -> Result<Digest> {
    Digest::parse(&format!("sha256:{oid}")).map_err(|_| {
        ServiceError::input(
            format!("{oid:?} is not a Git LFS oid"),
            Some("an oid is the SHA-256 of the object's bytes as 64 lowercase hex digits".into()),
        )
    })
}

impl Berth {
    /// Refuses a caller who may not store objects in `repo`. Cheap (nothing
    /// is read), so a server asks before it reads an upload's body.
    pub fn lfs_may_upload(&self, repo: &ModelName) -> Result<()> {
        self.allow(Role::Publisher, Some(repo), None)
    }

    /// What `repo` can do with each of `objects` (oid and size) for `op`:
    /// downloads need the reader role, uploads the publisher role.
    pub async fn lfs_batch(
        &self,
        repo: &ModelName,
        op: LfsOperation,
        objects: &[(Digest, u64)],
    ) -> Result<Vec<LfsObjectState>> {
        match op {
            LfsOperation::Download => self.allow(Role::Reader, Some(repo), None)?,
            LfsOperation::Upload => self.lfs_may_upload(repo)?,
        }
        let mut states = Vec::with_capacity(objects.len());
        for (oid, size) in objects {
            let held = self.lfs_held(repo, oid).await?;
            states.push(match (op, held) {
                (_, Some(o)) if o.size != *size => LfsObjectState::OtherSize { size: o.size },
                (LfsOperation::Download, Some(_)) => LfsObjectState::Ready,
                (LfsOperation::Download, None) => LfsObjectState::Missing,
                (LfsOperation::Upload, Some(_)) => LfsObjectState::Stored,
                (LfsOperation::Upload, None) => LfsObjectState::Wanted,
            });
        }
        Ok(states)
    }

    /// The object when `repo` recorded it and the store still has its blob.
    async fn lfs_held(&self, repo: &ModelName, oid: &Digest) -> Result<Option<LfsObject>> {
        let Some(o) = self.registry.lfs_object(repo, oid).await? else { return Ok(None) };
        Ok(self.store.exists(oid).await?.then_some(o))
    }

    /// Stores the file at `file` as object `oid` of `repo` and records it.
    /// The caller has checked that the file hashes to `oid`; the store
    /// checks again whenever it writes. Runs under an upload lease, so a
    /// garbage collection either finishes first or sees the record.
    pub async fn lfs_put(&self, repo: &ModelName, oid: &Digest, file: &Path) -> Result<LfsPut> {
        self.lfs_may_upload(repo)?;
        let lease = LeaseGuard::new(self.registry.clone(), self.take_lease(&[*oid]).await?);
        let stored = self.lfs_store(repo, oid, file).await;
        lease.end().await;
        stored
    }

    async fn lfs_store(&self, repo: &ModelName, oid: &Digest, file: &Path) -> Result<LfsPut> {
        let put = match self.store.put_file(file, Some(*oid), &NoProgress).await {
            Ok(put) => put,
            Err(berth_store::StoreError::Changed { expected, actual, .. }) => {
                return Err(ServiceError::input(
                    format!("the bytes sent as Git LFS object {} hash to {actual}; nothing was stored", expected.hex()),
                    Some("send the object's exact bytes: its oid must be the SHA-256 of the body".into()),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let recorded = self.registry.record_lfs_object(repo, oid, put.size, &self.actor).await?;
        let object = self.registry.lfs_object(repo, oid).await?.ok_or_else(|| ServiceError::Infra {
            message: format!("Git LFS object {} of {repo} was recorded but the registry does not return it", oid.hex()),
            hint: Some("retry; if it persists, check the registry".into()),
        })?;
        Ok(LfsPut { object, written: put.written, recorded })
    }

    /// Object `oid` of `repo`, when `repo` recorded it and the store has it.
    pub async fn lfs_object(&self, repo: &ModelName, oid: &Digest) -> Result<Option<LfsObject>> {
        self.allow(Role::Reader, Some(repo), None)?;
        self.lfs_held(repo, oid).await
    }

    /// Copies object `oid` of `repo` to `dest`, verified on the way (a
    /// damaged blob leaves `dest` untouched); `None` when `repo` holds no
    /// such object.
    pub async fn lfs_get(&self, repo: &ModelName, oid: &Digest, dest: &Path) -> Result<Option<LfsObject>> {
        let Some(o) = self.lfs_object(repo, oid).await? else { return Ok(None) };
        self.store.get_to_file(oid, dest, &NoProgress).await?;
        Ok(Some(o))
    }
}

#[cfg(test)]
mod tests {
    use berth_core::{Grant, ModelPattern};

    use super::*;
    use crate::Principal;
    use crate::testing::project;

    fn churn() -> ModelName {
        ModelName::parse("churn").unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn as_role(b: &Berth, role: Role, models: &str) -> Berth {
        let grant = Grant { role, models: ModelPattern::parse(models).unwrap(), envs: Vec::new() };
        b.acting_as(Principal { name: "ci".into(), token: Some("tok_1".into()), grant })
    }

    #[tokio::test]
    async fn an_object_is_wanted_until_stored_then_ready_and_read_back_verified() {
        let (dir, b) = project().await;
        let bytes = b"lfs object bytes";
        let oid = Digest::of(bytes);
        let objects = [(oid, bytes.len() as u64)];
        assert_eq!(b.lfs_batch(&churn(), LfsOperation::Upload, &objects).await.unwrap(), [LfsObjectState::Wanted]);
        assert_eq!(b.lfs_batch(&churn(), LfsOperation::Download, &objects).await.unwrap(), [LfsObjectState::Missing]);

        let put = b.lfs_put(&churn(), &oid, &write(dir.path(), "o", bytes)).await.unwrap();
        assert!(put.written && put.recorded);
        assert_eq!((put.object.size, put.object.created_by.as_str()), (16, "alice"));
        assert!(b.registry.active_leases().await.unwrap().is_empty(), "the put's lease ended");
        assert_eq!(b.lfs_batch(&churn(), LfsOperation::Upload, &objects).await.unwrap(), [LfsObjectState::Stored]);
        assert_eq!(b.lfs_batch(&churn(), LfsOperation::Download, &objects).await.unwrap(), [LfsObjectState::Ready]);
        let wrong_size = [(oid, 3)];
        assert_eq!(
            b.lfs_batch(&churn(), LfsOperation::Download, &wrong_size).await.unwrap(),
            [LfsObjectState::OtherSize { size: 16 }]
        );

        let dest = dir.path().join("out");
        assert_eq!(b.lfs_get(&churn(), &oid, &dest).await.unwrap().unwrap().size, 16);
        assert_eq!(std::fs::read(&dest).unwrap(), bytes);
        let again = b.lfs_put(&churn(), &oid, &write(dir.path(), "o2", bytes)).await.unwrap();
        assert!(!again.written && !again.recorded, "a second put changes nothing");
    }

    #[tokio::test]
    async fn a_repository_hands_out_only_what_it_recorded() {
        let (dir, b) = project().await;
        let bytes = b"secret weights";
        let oid = Digest::of(bytes);
        let fraud = ModelName::parse("fraud").unwrap();
        b.lfs_put(&fraud, &oid, &write(dir.path(), "o", bytes)).await.unwrap();
        let objects = [(oid, bytes.len() as u64)];
        // The blob is in the store, but churn never recorded it: churn must send it.
        assert_eq!(b.lfs_batch(&churn(), LfsOperation::Upload, &objects).await.unwrap(), [LfsObjectState::Wanted]);
        assert_eq!(b.lfs_batch(&churn(), LfsOperation::Download, &objects).await.unwrap(), [LfsObjectState::Missing]);
        assert!(b.lfs_get(&churn(), &oid, &dir.path().join("out")).await.unwrap().is_none());
        assert!(!dir.path().join("out").exists());
    }

    #[tokio::test]
    async fn roles_decide_who_reads_and_who_stores() {
        let (dir, b) = project().await;
        let bytes = b"weights";
        let oid = Digest::of(bytes);
        let objects = [(oid, bytes.len() as u64)];
        let reader = as_role(&b, Role::Reader, "churn");
        let e = reader.lfs_batch(&churn(), LfsOperation::Upload, &objects).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Denied, "{e}");
        assert!(e.message().contains("publisher"), "{e}");
        let e = reader.lfs_put(&churn(), &oid, &write(dir.path(), "o", bytes)).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Denied);
        assert!(!b.store.exists(&oid).await.unwrap(), "a refused put stores nothing");
        reader.lfs_batch(&churn(), LfsOperation::Download, &objects).await.unwrap();

        let elsewhere = as_role(&b, Role::Publisher, "fraud-*");
        let e = elsewhere.lfs_batch(&churn(), LfsOperation::Download, &objects).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Denied);
        as_role(&b, Role::Publisher, "churn").lfs_put(&churn(), &oid, &write(dir.path(), "o", bytes)).await.unwrap();
    }

    #[tokio::test]
    async fn wrong_bytes_are_refused_and_nothing_is_recorded() {
        let (dir, b) = project().await;
        let oid = Digest::of(b"right");
        let e = b.lfs_put(&churn(), &oid, &write(dir.path(), "o", b"wrong")).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::BadInput, "{e}");
        assert!(e.message().contains(&oid.hex()) && e.message().contains(&Digest::of(b"wrong").to_string()), "{e}");
        assert!(b.registry.lfs_object(&churn(), &oid).await.unwrap().is_none());
        assert!(!b.store.exists(&oid).await.unwrap());
    }

    #[tokio::test]
    async fn gc_keeps_objects_no_version_references_and_fsck_counts_them() {
        let (dir, b) = project().await;
        let oid = Digest::of(b"kept");
        b.lfs_put(&churn(), &oid, &write(dir.path(), "o", b"kept")).await.unwrap();
        let fsck = b.fsck().await.unwrap();
        assert!(fsck.ok && fsck.orphaned.is_empty() && fsck.lfs_objects == 1, "{fsck:?}");
        let gc = b.gc(false, std::time::Duration::from_secs(5)).await.unwrap();
        assert!(gc.removed.is_empty() && gc.lfs_objects == 1, "{gc:?}");
        assert!(b.store.exists(&oid).await.unwrap());
        b.store.delete(&oid).await.unwrap();
        let fsck = b.fsck().await.unwrap();
        assert!(!fsck.ok, "a recorded object the store lost is missing");
        assert!(fsck.missing[0].detail.contains("Git LFS object of churn"), "{fsck:?}");
    }

    #[tokio::test]
    async fn a_push_from_lfs_pointers_registers_the_objects_without_their_bytes() {
        let (dir, b) = project().await;
        let bytes = b"the weights git lfs sent";
        let oid = Digest::of(bytes);
        b.lfs_put(&churn(), &oid, &write(dir.path(), "o", bytes)).await.unwrap();
        let pointer = |oid: &Digest, size: usize| {
            format!("version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {size}\n", oid.hex())
        };
        let model = write(dir.path(), "model.bin", pointer(&oid, bytes.len()).as_bytes());
        let config = write(dir.path(), "config.json", b"{}");
        let req = |paths: Vec<std::path::PathBuf>| crate::PushRequest {
            paths,
            model: Some(churn()),
            meta: Default::default(),
        };
        let opts = crate::PushOptions { from_lfs: true, ..Default::default() };
        let r = b.push_with(req(vec![model.clone(), config]), &opts, &crate::NoTransfer).await.unwrap();
        assert_eq!((r.files, r.bytes, r.blobs_written), (2, bytes.len() as u64 + 2, 1), "{r:?}");
        let manifest = b.manifest(&r.version).await.unwrap();
        let entry = manifest.files.iter().find(|(p, _)| p.as_str() == "model.bin").unwrap().1;
        assert_eq!((entry.digest, entry.size), (oid, bytes.len() as u64));

        let absent = Digest::of(b"never sent");
        let lost = write(dir.path(), "lost.bin", pointer(&absent, 10).as_bytes());
        let e = b.push_with(req(vec![lost]), &opts, &crate::NoTransfer).await.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::BadInput, "{e}");
        assert!(e.message().contains("lost.bin") && e.message().contains(&absent.hex()), "{e}");
        assert!(b.registry.active_leases().await.unwrap().is_empty(), "the refused push ended its lease");
        // Without --from-lfs a pointer is an ordinary small file.
        let plain = b.push_with(req(vec![model]), &Default::default(), &crate::NoTransfer).await.unwrap();
        assert_eq!(plain.bytes, pointer(&oid, bytes.len()).len() as u64);
    }

    #[test]
    fn oids_are_64_lowercase_hex_digits() {
        let hex = Digest::of(b"x").hex();
        assert_eq!(lfs_oid(&hex).unwrap(), Digest::of(b"x"));
        for bad in ["", "abc", &hex.to_uppercase(), &format!("sha256:{hex}"), &format!("{hex}0")] {
            let e = lfs_oid(bad).unwrap_err();
            assert!(e.message().contains("not a Git LFS oid"), "{bad}: {e}");
        }
    }
}
