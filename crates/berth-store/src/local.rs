//! The default backend: a directory holding `blobs/sha256/..` and `tmp/`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use berth_core::{Digest, Timestamp};
use bytes::Bytes;
use futures::Stream;

use crate::atomic::{TempGuard, hash_and_copy, open_input, owned_temp_name, owner_of, sync_dir, write_stream_verified};
use crate::layout::{blob_key, digest_from_parts};
use crate::{BlobMeta, BlobStore, Hashed, Partial, Progress, PutOutcome, Result, StoreError, Verified};

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

/// What the store holds under a blob's name, as far as a put is concerned.
enum Existing {
    Absent,
    /// The right size and not flagged by a read: trusted without re-reading.
    Sound,
    /// The wrong size, or flagged and confirmed corrupt: to be replaced.
    Damaged,
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
        self.root.join("tmp").join(owned_temp_name())
    }

    /// The marker a read leaves when it finds a blob corrupt, so that the
    /// next put of those bytes re-reads the stored copy instead of trusting
    /// it (a put only checks sizes otherwise, to stay cheap).
    fn flag_path(&self, d: &Digest) -> PathBuf {
        self.root.join("damaged").join(d.hex())
    }

    /// Best effort: a reader without write access cannot leave the marker,
    /// and then only the size check protects the next put.
    fn flag(&self, d: &Digest) {
        let p = self.flag_path(d);
        let made = p.parent().map_or(Ok(()), fs::create_dir_all).and_then(|()| fs::write(&p, d.to_string()));
        if let Err(e) = made {
            tracing::warn!(blob = %d, "cannot record that the blob is corrupt at {}: {e}", p.display());
        }
    }

    fn unflag(&self, d: &Digest) {
        let _ = fs::remove_file(self.flag_path(d));
    }

    fn is_flagged(&self, d: &Digest) -> bool {
        self.flag_path(d).exists()
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

    /// Judges the stored copy of `d` for a put of `size` bytes: a stat, and a
    /// full re-read only when an earlier read flagged the blob.
    fn existing(&self, d: &Digest, size: u64) -> Result<Existing> {
        let p = self.blob_path(d);
        let meta = match fs::metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
            Err(e) => return Err(StoreError::io("cannot read blob", p)(e)),
        };
        if meta.len() != size {
            tracing::warn!(blob = %d, stored = meta.len(), expected = size, "stored copy has the wrong size; replacing it");
            return Ok(Existing::Damaged);
        }
        if !self.is_flagged(d) {
            return Ok(Existing::Sound);
        }
        Ok(match self.verify_blocking(d)? {
            Verified::Ok { .. } => Existing::Sound,
            Verified::Missing => Existing::Absent,
            Verified::Corrupt { .. } => {
                tracing::warn!(blob = %d, "stored copy is corrupt; replacing it");
                Existing::Damaged
            }
        })
    }

    /// Moves a complete, fsynced temporary file holding blob `d` to its blob
    /// path. An existing copy is replaced: the temporary file is known good
    /// (it was hashed as it was written) and the rename is atomic, so this
    /// heals a damaged copy at no extra cost and cannot harm a sound one.
    /// Returns (written, repaired): a replacement of a copy of the right size
    /// that no read flagged counts as neither.
    fn commit(&self, guard: TempGuard, d: &Digest, size: u64) -> Result<(bool, bool)> {
        let dest = self.blob_path(d);
        let damaged = match fs::metadata(&dest) {
            Ok(m) => Some(m.len() != size || self.is_flagged(d)),
            Err(_) => None,
        };
        let dir = dest.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).map_err(StoreError::io("cannot create directory", dir))?;
        guard.persist(&dest)?;
        self.unflag(d);
        Ok(match damaged {
            None => (true, false),
            Some(true) => (true, true),
            Some(false) => (false, false),
        })
    }

    fn put_file_blocking(&self, path: &Path, known: Option<Digest>, progress: &dyn Progress) -> Result<PutOutcome> {
        let (src, size) = open_input(path)?;
        if let Some(d) = known
            && let Existing::Sound = self.existing(&d, size)?
        {
            progress.advance(size);
            return Ok(PutOutcome { digest: d, size, written: false, repaired: false });
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
        let (written, repaired) = self.commit(guard, &digest, size)?;
        Ok(PutOutcome { digest, size, written, repaired })
    }

    /// [`BlobStore::adopt_file`]: the file is made durable and renamed into
    /// the store when both are on one filesystem; copied (and verified) otherwise.
    fn adopt_file_blocking(&self, file: Hashed<'_>, progress: &dyn Progress) -> Result<PutOutcome> {
        let (src, size) = open_input(file.path)?;
        if size != file.size {
            return Err(StoreError::Input {
                path: file.path.to_path_buf(),
                reason: format!("is {size} bytes, not the {} its writer hashed", file.size),
            });
        }
        if let Existing::Sound = self.existing(&file.digest, size)? {
            progress.advance(size);
            return Ok(PutOutcome { digest: file.digest, size, written: false, repaired: false });
        }
        src.sync_all().map_err(StoreError::io("cannot sync", file.path.to_path_buf()))?;
        drop(src);
        let guard = TempGuard::new(self.temp_path());
        if let Some(dir) = guard.path().parent() {
            fs::create_dir_all(dir).map_err(StoreError::io("cannot create directory", dir))?;
        }
        if fs::rename(file.path, guard.path()).is_err() {
            // Another filesystem (or a file berth may not move): copy it.
            return self.put_file_blocking(file.path, Some(file.digest), progress);
        }
        progress.advance(size);
        let (written, repaired) = self.commit(guard, &file.digest, size)?;
        Ok(PutOutcome { digest: file.digest, size, written, repaired })
    }

    fn replace_file_blocking(&self, path: &Path, expected: &Digest, progress: &dyn Progress) -> Result<PutOutcome> {
        let (src, _) = open_input(path)?;
        let guard = TempGuard::new(self.temp_path());
        let mut tmp =
            File::create(guard.path()).map_err(StoreError::io("cannot create", guard.path().to_path_buf()))?;
        let (digest, size) = hash_and_copy(src, Some(&mut tmp), path, progress)?;
        if digest != *expected {
            return Err(StoreError::Changed { path: path.to_path_buf(), expected: *expected, actual: digest });
        }
        tmp.sync_all().map_err(StoreError::io("cannot sync", guard.path().to_path_buf()))?;
        drop(tmp);
        let existed = self.blob_path(&digest).exists();
        self.commit(guard, &digest, size)?;
        Ok(PutOutcome { digest, size, written: true, repaired: existed })
    }

    fn put_bytes_blocking(&self, bytes: &[u8]) -> Result<PutOutcome> {
        let digest = Digest::of(bytes);
        let size = bytes.len() as u64;
        if let Existing::Sound = self.existing(&digest, size)? {
            return Ok(PutOutcome { digest, size, written: false, repaired: false });
        }
        let guard = TempGuard::new(self.temp_path());
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = File::create(guard.path())?;
            f.write_all(bytes)?;
            f.sync_all()
        };
        write().map_err(StoreError::io("cannot write", guard.path().to_path_buf()))?;
        let (written, repaired) = self.commit(guard, &digest, size)?;
        Ok(PutOutcome { digest, size, written, repaired })
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
            self.flag(d);
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
        Ok(if actual == *d {
            self.unflag(d);
            Verified::Ok { size }
        } else {
            self.flag(d);
            Verified::Corrupt { actual }
        })
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

    fn partial_files(&self) -> Vec<Partial> {
        let Ok(rd) = fs::read_dir(self.root.join("tmp")) else { return Vec::new() };
        let mut out: Vec<Partial> = rd
            .flatten()
            .map(|e| {
                let meta = e.metadata().ok();
                Partial {
                    path: e.path().display().to_string(),
                    size: meta.as_ref().map_or(0, |m| m.len()),
                    modified: meta.and_then(|m| m.modified().ok()),
                    owner: owner_of(&e.file_name().to_string_lossy()),
                }
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Writes a stream known to hash to `expected` as a blob (used to fill a
    /// cache), through `tmp/` like every other write.
    pub async fn put_stream<S, E>(&self, expected: &Digest, stream: S, progress: &dyn Progress) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: Into<StoreError>,
    {
        let dest = self.blob_path(expected);
        let size = write_stream_verified(stream, expected, &dest, self.temp_path(), &self.location(), progress).await?;
        self.unflag(expected);
        Ok(size)
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

    async fn adopt_file(&self, file: Hashed<'_>, progress: &dyn Progress) -> Result<PutOutcome> {
        crate::atomic::run_blocking(|| self.adopt_file_blocking(file, progress))
    }

    async fn replace_file(&self, path: &Path, expected: &Digest, progress: &dyn Progress) -> Result<PutOutcome> {
        crate::atomic::run_blocking(|| self.replace_file_blocking(path, expected, progress))
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
                s.flag(&d);
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
                self.unflag(digest);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.unflag(digest);
                Ok(())
            }
            Err(e) => Err(StoreError::io("cannot delete blob", p)(e)),
        }
    }

    async fn verify(&self, digest: &Digest) -> Result<Verified> {
        let s = self.clone();
        let d = *digest;
        blocking(move || s.verify_blocking(&d)).await
    }

    async fn partials(&self) -> Result<Vec<Partial>> {
        let s = self.clone();
        blocking(move || Ok(s.partial_files())).await
    }

    async fn remove_partial(&self, partial: &Partial) -> Result<bool> {
        // Only ever a file directly in tmp/: the path comes from a listing,
        // but a caller must not be able to point this anywhere else.
        let tmp = self.root.join("tmp");
        let p = PathBuf::from(&partial.path);
        if p.parent() != Some(tmp.as_path()) {
            return Err(StoreError::Input {
                path: p,
                reason: format!("is not a temporary file of the store (those live in {})", tmp.display()),
            });
        }
        match fs::remove_file(&p) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io("cannot remove temporary file", p)(e)),
        }
    }
}
