//! Files staged under a model, one at a time at paths the client chooses,
//! and a version made of a directory of them. This is how clients that
//! upload files before they say what they are (MLflow's artifact proxy)
//! reach berth: the bytes are ordinary blobs, and the version made of them
//! is an ordinary version — content-addressed, gateable, servable.
//!
//! Staging needs the publisher role on the model, reading what is staged
//! the reader role. A staged file is recorded in the registry, which keeps
//! its blob from garbage collection.

use std::collections::BTreeMap;
use std::path::Path;

use berth_core::{Digest, Manifest, ManifestEntry, ModelName, RelPath, Role, VersionMeta};
use berth_registry::StagedFile;
use berth_store::{Hashed, NoProgress};

use crate::push::{LeaseGuard, end_lease};
use crate::upload::CommitReport;
use crate::{Berth, Result, ServiceError};

/// `path` with a trailing `/`, or nothing for the root: what every path
/// under the directory `path` starts with.
fn dir_prefix(path: &str) -> String {
    let p = path.trim_matches('/');
    if p.is_empty() { String::new() } else { format!("{p}/") }
}

impl Berth {
    /// Refuses a caller who may not stage files under `model`. Cheap
    /// (nothing is read), so a server asks before it reads an upload's body.
    pub fn may_stage(&self, model: &ModelName) -> Result<()> {
        self.allow(Role::Publisher, Some(model), None)
    }

    /// Stores `file` (hashed by whoever received it) and stages it at
    /// `path` under `model`, replacing what the path held. Runs under an
    /// upload lease, so a garbage collection either finishes first or sees
    /// the record.
    pub async fn stage_file(&self, model: &ModelName, path: &RelPath, file: Hashed<'_>) -> Result<StagedFile> {
        self.may_stage(model)?;
        let lease = LeaseGuard::new(self.registry.clone(), self.take_lease(&[file.digest]).await?);
        let staged = async {
            let put = self.store.adopt_file(file, &NoProgress).await?;
            Ok(self.registry.stage_file(model, path.as_str(), &put.digest, put.size, &self.actor).await?)
        }
        .await;
        lease.end().await;
        staged
    }

    /// The files staged under `model` at `dir` or below it (all of them
    /// for an empty `dir`), in path order.
    pub async fn staged_files(&self, model: &ModelName, dir: &str) -> Result<Vec<StagedFile>> {
        self.allow(Role::Reader, Some(model), None)?;
        let prefix = dir_prefix(dir);
        let mut files = self.registry.staged_files(model).await?;
        files.retain(|f| f.path.starts_with(&prefix));
        Ok(files)
    }

    /// Copies the file staged at `path` under `model` to `dest`, verified
    /// on the way; `None` when nothing is staged there.
    pub async fn open_staged_file(&self, model: &ModelName, path: &str, dest: &Path) -> Result<Option<StagedFile>> {
        self.allow(Role::Reader, Some(model), None)?;
        let staged = self.registry.staged_files(model).await?;
        let Some(f) = staged.into_iter().find(|f| f.path == path) else { return Ok(None) };
        self.store.get_to_file(&f.digest, dest, &NoProgress).await?;
        Ok(Some(f))
    }

    /// Makes the next version of `model` from the files staged under `dir`,
    /// each at its path below `dir`.
    pub async fn version_from_staged(&self, model: &ModelName, dir: &str, meta: VersionMeta) -> Result<CommitReport> {
        self.may_stage(model)?;
        let prefix = dir_prefix(dir);
        let files = self.staged_files(model, dir).await?;
        if files.is_empty() {
            return Err(ServiceError::input(
                format!("nothing is staged under {model}/{prefix}"),
                Some(format!("upload the model's files under {model}/{prefix} first")),
            ));
        }
        let mut entries = BTreeMap::new();
        for f in &files {
            let rel = RelPath::parse(&f.path[prefix.len()..]).map_err(|e| {
                ServiceError::input(format!("staged file {:?} cannot be a version's file: {e}", f.path), None)
            })?;
            entries.insert(rel, ManifestEntry { digest: f.digest, size: f.size });
        }
        let manifest = Manifest::new(entries).map_err(|e| {
            ServiceError::input(format!("the files under {model}/{prefix} make no manifest: {e}"), None)
        })?;
        let begun = self.push_begin(model, &manifest).await?;
        if !begun.missing.is_empty() {
            end_lease(&*self.registry, begun.upload.lease()).await;
            let missing: Vec<String> = missing_paths(&files, &begun.missing, &prefix);
            return Err(ServiceError::Conflict {
                message: format!("the store lacks the bytes of staged file(s) {}", missing.join(", ")),
                hint: Some("upload them again, then make the version; `berth fsck` checks the store".into()),
            });
        }
        self.commit_manifest(begun.upload.lease(), model, &manifest, meta, false).await
    }
}

fn missing_paths(files: &[StagedFile], missing: &[Digest], prefix: &str) -> Vec<String> {
    files.iter().filter(|f| missing.contains(&f.digest)).map(|f| f.path[prefix.len()..].to_string()).collect()
}

#[cfg(test)]
mod tests {
    use berth_core::Ref;

    use super::*;
    use crate::ErrorKind;
    use crate::testing::project;

    fn churn() -> ModelName {
        ModelName::parse("churn").unwrap()
    }

    async fn stage(b: &Berth, dir: &Path, path: &str, bytes: &[u8]) -> StagedFile {
        let file = dir.join(format!("spool-{}", path.replace('/', "_")));
        std::fs::write(&file, bytes).unwrap();
        let hashed = Hashed { path: &file, digest: Digest::of(bytes), size: bytes.len() as u64 };
        b.stage_file(&churn(), &RelPath::parse(path).unwrap(), hashed).await.unwrap()
    }

    #[tokio::test]
    async fn a_directory_of_staged_files_becomes_a_version_of_them() {
        let (dir, b) = project().await;
        stage(&b, dir.path(), "run-1/model/model.onnx", b"onnx bytes").await;
        stage(&b, dir.path(), "run-1/model/extra/notes.txt", b"notes").await;
        stage(&b, dir.path(), "run-2/model/model.onnx", b"other").await;
        let under: Vec<String> =
            b.staged_files(&churn(), "run-1/model").await.unwrap().into_iter().map(|f| f.path).collect();
        assert_eq!(under, ["run-1/model/extra/notes.txt", "run-1/model/model.onnx"]);

        let report = b.version_from_staged(&churn(), "/run-1/model/", VersionMeta::default()).await.unwrap();
        assert_eq!((report.version.version, report.files, report.bytes), (1, 2, 15));
        assert_eq!(report.version.meta.format.as_deref(), Some("onnx"));
        let v = b.resolve(&Ref::parse("churn@1").unwrap()).await.unwrap();
        let paths: Vec<String> = b.manifest(&v).await.unwrap().files.keys().map(|p| p.to_string()).collect();
        assert_eq!(paths, ["extra/notes.txt", "model.onnx"]);
        assert_eq!(b.version_file(&v, "model.onnx").await.unwrap().as_deref(), Some(&b"onnx bytes"[..]));

        let out = dir.path().join("out");
        let f = b.open_staged_file(&churn(), "run-1/model/model.onnx", &out).await.unwrap().unwrap();
        assert_eq!((f.size, std::fs::read(&out).unwrap()), (10, b"onnx bytes".to_vec()));
        assert!(b.open_staged_file(&churn(), "run-1/model", &out).await.unwrap().is_none(), "a directory is no file");

        let e = b.version_from_staged(&churn(), "run-9", VersionMeta::default()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert!(e.message().contains("nothing is staged under churn/run-9/"), "{}", e.message());
    }

    #[tokio::test]
    async fn staged_files_survive_garbage_collection() {
        let (dir, b) = project().await;
        let f = stage(&b, dir.path(), "run-1/model.onnx", b"keep me").await;
        b.gc(false, std::time::Duration::from_secs(5)).await.unwrap();
        let out = dir.path().join("out");
        b.open_staged_file(&churn(), &f.path, &out).await.unwrap().unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    }
}
