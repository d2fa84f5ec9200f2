//! The default backend: a directory holding `blobs/sha256/..` and `tmp/`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use berth_core::{Digest, Timestamp};
use bytes::Bytes;
use futures::Stream;

use crate::atomic::{TempGuard, hash_and_copy, open_input, sync_dir, unique_suffix, write_stream_verified};
use crate::layout::{blob_key, digest_from_parts};
use crate::{BlobMeta, BlobStore, Progress, PutOutcome, Result, StoreError, Verified};

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Opens (and creates if needed) a store rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for sub in ["blobs/sha256", "tmp"] {
            let d = root.join(sub);
            fs::create_dir_all(&d).map_err(StoreError::io("cannot create store directory", d))?;
        }
        Ok(LocalStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join(blob_key(d))
    }

    fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(format!("{}.partial", unique_suffix()))
    }

    fn not_found(&self, d: &Digest) -> StoreError {
        StoreError::NotFound { digest: *d, location: self.location() }
    }

    fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.blob_path(d);
        File::open(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => self.not_found(d),
            _ => StoreError::io("cannot open blob", p)(e),
        })
    }

    /// Moves a complete, fsynced temporary file to its blob path, unless an
    /// identical blob is already there.
    fn commit(&self, guard: TempGuard, d: &Digest) -> Result<bool> {
        let dest = self.blob_path(d);
        if dest.exists() {
            return Ok(false);
        }
        let dir = dest.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).map_err(StoreError::io("cannot create directory", dir))?;
        guard.persist(&dest)?;
        Ok(true)
    }

    fn put_file_blocking(&self, path: &Path, known: Option<Digest>, progress: &dyn Progress) -> Result<PutOutcome> {
        let (src, size) = open_input(path)?;
        if let Some(d) = known
            && self.blob_path(&d).exists()
        {
            progress.advance(size);
            return Ok(PutOutcome { digest: d, size, written: false });
        }
        let guard = TempGuard::new(self.temp_path());
        let mut tmp =
            File::create(guard.path()).map_err(StoreError::io("cannot create", guard.path().to_path_buf()))?;
        let (digest, size) = hash_and_copy(src, Some(&mut tmp), path, progress)?;
        if let Some(expected) = known
            && expected != digest
        {
            return Err(StoreError::Changed { path: path.to_path_buf(), expected, actual: digest });
        }
        tmp.sync_all().map_err(StoreError::io("cannot sync", guard.path().to_path_buf()))?;
        drop(tmp);
        let written = self.commit(guard, &digest)?;
        Ok(PutOutcome { digest, size, written })
    }

    fn put_bytes_blocking(&self, bytes: &[u8]) -> Result<PutOutcome> {
        let digest = Digest::of(bytes);
        let size = bytes.len() as u64;
        if self.blob_path(&digest).exists() {
            return Ok(PutOutcome { digest, size, written: false });
        }
        let guard = TempGuard::new(self.temp_path());
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = File::create(guard.path())?;
            f.write_all(bytes)?;
            f.sync_all()
        };
        write().map_err(StoreError::io("cannot write", guard.path().to_path_buf()))?;
        let written = self.commit(guard, &digest)?;
        Ok(PutOutcome { digest, size, written })
    }

    fn get_to_file_blocking(&self, d: &Digest, dest: &Path, progress: &dyn Progress) -> Result<u64> {
        let src = self.open_blob(d)?;
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(StoreError::io("cannot create directory", dir))?;
        }
        let guard = TempGuard::new(crate::atomic::temp_beside(dest));
        let mut out =
            File::create(guard.path()).map_err(StoreError::io("cannot create", guard.path().to_path_buf()))?;
        let (actual, size) = hash_and_copy(src, Some(&mut out), &self.blob_path(d), progress)?;
        if actual != *d {
            return Err(StoreError::Corrupt { digest: *d, actual, location: self.location() });
        }
        out.sync_all().map_err(StoreError::io("cannot sync", dest))?;
        drop(out);
        guard.persist(dest)?;
        Ok(size)
    }

    fn verify_blocking(&self, d: &Digest) -> Result<Verified> {
        let src = match self.open_blob(d) {
            Ok(f) => f,
            Err(StoreError::NotFound { .. }) => return Ok(Verified::Missing),
            Err(e) => return Err(e),
        };
        let (actual, size) = hash_and_copy(src, None, &self.blob_path(d), &crate::NoProgress)?;
        Ok(if actual == *d { Verified::Ok { size } } else { Verified::Corrupt { actual } })
    }

    fn list_blocking(&self) -> Result<Vec<BlobMeta>> {
        let base = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        let dirs = fs::read_dir(&base).map_err(StoreError::io("cannot list", base.clone()))?;
        for dir in dirs {
            let dir = dir.map_err(StoreError::io("cannot list", base.clone()))?;
            let dname = dir.file_name().to_string_lossy().into_owned();
            let Ok(entries) = fs::read_dir(dir.path()) else { continue };
            for e in entries.flatten() {
                let fname = e.file_name().to_string_lossy().into_owned();
                let Some(digest) = digest_from_parts(&dname, &fname) else { continue };
                let Ok(meta) = e.metadata() else { continue };
                out.push(BlobMeta { digest, size: meta.len(), modified: meta.modified().ok().map(to_ts) });
            }
        }
        out.sort_by_key(|a| a.digest);
        Ok(out)
    }

    fn partial_files(&self) -> Vec<(PathBuf, Option<SystemTime>)> {
        let Ok(rd) = fs::read_dir(self.root.join("tmp")) else { return Vec::new() };
        rd.flatten().map(|e| (e.path(), e.metadata().and_then(|m| m.modified()).ok())).collect()
    }

    /// Writes a stream known to hash to `expected` as a blob (used to fill a cache).
    pub async fn put_stream<S, E>(&self, expected: &Digest, stream: S, progress: &dyn Progress) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: Into<StoreError>,
    {
        write_stream_verified(stream, expected, &self.blob_path(expected), &self.location(), progress).await
    }
}

fn to_ts(t: SystemTime) -> Timestamp {
    let ms = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    Timestamp::from_millis(ms)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(StoreError::Io {
            what: "worker failed for",
            path: PathBuf::from("(store)"),
            source: std::io::Error::other(e),
        })
    })
}

#[async_trait]
impl BlobStore for LocalStore {
    fn location(&self) -> String {
        format!("file://{}", self.root.display())
    }

    async fn put_file(&self, path: &Path, known: Option<Digest>, progress: &dyn Progress) -> Result<PutOutcome> {
        crate::atomic::run_blocking(|| self.put_file_blocking(path, known, progress))
    }

    async fn put_bytes(&self, bytes: Bytes) -> Result<PutOutcome> {
        let s = self.clone();
        blocking(move || s.put_bytes_blocking(&bytes)).await
    }

    async fn get_to_file(&self, digest: &Digest, dest: &Path, progress: &dyn Progress) -> Result<u64> {
        crate::atomic::run_blocking(|| self.get_to_file_blocking(digest, dest, progress))
    }

    async fn get_bytes(&self, digest: &Digest, max_size: u64) -> Result<Bytes> {
        let s = self.clone();
        let d = *digest;
        blocking(move || {
            let p = s.blob_path(&d);
            let meta = fs::metadata(&p).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => s.not_found(&d),
                _ => StoreError::io("cannot read blob", p.clone())(e),
            })?;
            if meta.len() > max_size {
                return Err(StoreError::TooLarge { digest: d, size: meta.len(), max: max_size });
            }
            let bytes = fs::read(&p).map_err(StoreError::io("cannot read blob", p))?;
            let actual = Digest::of(&bytes);
            if actual != d {
                return Err(StoreError::Corrupt { digest: d, actual, location: s.location() });
            }
            Ok(Bytes::from(bytes))
        })
        .await
    }

    async fn exists(&self, digest: &Digest) -> Result<bool> {
        Ok(self.blob_path(digest).is_file())
    }

    async fn list(&self) -> Result<Vec<BlobMeta>> {
        let s = self.clone();
        blocking(move || s.list_blocking()).await
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        let p = self.blob_path(digest);
        match fs::remove_file(&p) {
            Ok(()) => {
                if let Some(dir) = p.parent() {
                    sync_dir(dir);
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("cannot delete blob", p)(e)),
        }
    }

    async fn verify(&self, digest: &Digest) -> Result<Verified> {
        let s = self.clone();
        let d = *digest;
        blocking(move || s.verify_blocking(&d)).await
    }

    async fn partials(&self) -> Result<Vec<String>> {
        Ok(self.partial_files().into_iter().map(|(p, _)| p.display().to_string()).collect())
    }

    async fn remove_partials(&self, min_age: Duration) -> Result<usize> {
        let now = SystemTime::now();
        let mut n = 0;
        for (p, modified) in self.partial_files() {
            let old = modified.and_then(|m| now.duration_since(m).ok()).is_none_or(|age| age >= min_age);
            if old && fs::remove_file(&p).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }
}
