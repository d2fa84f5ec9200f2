//! Object storage (S3-compatible, and GCS/Azure behind cargo features) through
//! the `object_store` crate. Objects are written under their final key: an
//! object store makes an upload visible only once it is complete, and a
//! multipart upload whose bytes do not hash to the expected digest is aborted.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use berth_core::{Digest, Sha256Hasher, Timestamp};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use crate::atomic::{hash_and_copy, open_input, run_blocking, temp_beside, write_stream_verified};
use crate::layout::{blob_key, digest_from_parts};
use crate::{BlobMeta, BlobStore, LocalStore, NoProgress, Progress, PutOutcome, Result, StoreError, Verified};

/// Files up to this size are uploaded in one request; larger ones in parts.
const SINGLE_PUT_MAX: u64 = 8 << 20;
const PART_SIZE: usize = 8 << 20;
const PARALLEL_PARTS: usize = 4;

/// What the store holds under a blob's name, as far as a put is concerned.
enum Existing {
    Absent,
    /// The right size and not flagged by a read: trusted without re-reading.
    Sound,
    /// The wrong size, or flagged and confirmed corrupt: to be replaced.
    Damaged,
}

pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
}

impl ObjectBlobStore {
    /// `prefix` is the folder inside the bucket ("" for the bucket root);
    /// `url` is what messages show, e.g. `s3://models/team-a`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, url: String) -> Self {
        let prefix = prefix.trim_matches('/').to_string();
        ObjectBlobStore { store, prefix, url }
    }

    fn key(&self, d: &Digest) -> ObjectPath {
        self.path_of(&blob_key(d))
    }

    /// The marker a read leaves when it finds a blob corrupt (outside
    /// `blobs/`, so never listed as a blob), so that the next put of those
    /// bytes checks the stored copy instead of trusting a HEAD.
    fn flag_key(&self, d: &Digest) -> ObjectPath {
        self.path_of(&format!("damaged/{}", d.hex()))
    }

    /// Best effort: without write access the marker is not left, and then
    /// only the size check protects the next put.
    async fn flag(&self, d: &Digest) {
        let body = PutPayload::from(d.to_string().into_bytes());
        if let Err(e) = self.store.put(&self.flag_key(d), body).await {
            tracing::warn!(blob = %d, "cannot record in {} that the blob is corrupt: {e}", self.url);
        }
    }

    async fn unflag(&self, d: &Digest) {
        match self.store.delete(&self.flag_key(d)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(blob = %d, "cannot clear the corrupt mark in {}: {e}", self.url),
        }
    }

    /// Flags the blob when `r` says it is corrupt, and passes `r` on.
    async fn flag_if_corrupt<T>(&self, d: &Digest, r: Result<T>) -> Result<T> {
        if let Err(StoreError::Corrupt { .. }) = &r {
            self.flag(d).await;
        }
        r
    }

    /// Judges the stored copy of `d` for a put of `size` bytes: a HEAD of the
    /// blob and of its marker, side by side, and a full re-read only when an
    /// earlier read flagged the blob.
    async fn existing(&self, d: &Digest, size: u64) -> Result<Existing> {
        let (key, flag_key) = (self.key(d), self.flag_key(d));
        let (blob, flag) = futures::join!(self.store.head(&key), self.store.head(&flag_key));
        let meta = match blob {
            Ok(m) => m,
            Err(object_store::Error::NotFound { .. }) => return Ok(Existing::Absent),
            Err(e) => return Err(self.err(None, e)),
        };
        if meta.size != size {
            tracing::warn!(blob = %d, stored = meta.size, expected = size, "stored copy has the wrong size; replacing it");
            return Ok(Existing::Damaged);
        }
        match flag {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(Existing::Sound),
            // The blob itself answered: a marker that cannot be read must not
            // fail the push; the size check above still stands.
            Err(e) => {
                tracing::warn!(blob = %d, "cannot check {} for a corrupt mark: {e}", self.url);
                return Ok(Existing::Sound);
            }
        }
        Ok(match self.verify(d).await? {
            Verified::Ok { .. } => {
                self.unflag(d).await;
                Existing::Sound
            }
            Verified::Missing => Existing::Absent,
            Verified::Corrupt { .. } => {
                tracing::warn!(blob = %d, "stored copy is corrupt; replacing it");
                Existing::Damaged
            }
        })
    }

    /// Uploads the file at `path` under `digest`, checking on the way that it
    /// still hashes to it; an upload either completes or leaves nothing.
    async fn upload(&self, path: &Path, digest: &Digest, size: u64, progress: &dyn Progress) -> Result<()> {
        if size <= SINGLE_PUT_MAX {
            let bytes = tokio::fs::read(path).await.map_err(StoreError::io("cannot read", path))?;
            let actual = Digest::of(&bytes);
            if actual != *digest {
                return Err(StoreError::Changed { path: path.to_path_buf(), expected: *digest, actual });
            }
            self.store.put(&self.key(digest), PutPayload::from(bytes)).await.map_err(|e| self.err(None, e))?;
            progress.advance(size);
        } else {
            self.upload_multipart(path, digest, progress).await?;
        }
        self.unflag(digest).await;
        Ok(())
    }

    fn path_of(&self, rel: &str) -> ObjectPath {
        if self.prefix.is_empty() { ObjectPath::from(rel) } else { ObjectPath::from(format!("{}/{rel}", self.prefix)) }
    }

    fn err(&self, d: Option<&Digest>, e: object_store::Error) -> StoreError {
        match (e, d) {
            (object_store::Error::NotFound { .. }, Some(d)) => {
                StoreError::NotFound { digest: *d, location: self.url.clone() }
            }
            (e, _) => StoreError::Remote { location: self.url.clone(), source: Box::new(e) },
        }
    }

    async fn stream(
        &self,
        d: &Digest,
    ) -> Result<impl futures::Stream<Item = std::result::Result<Bytes, StoreError>> + Unpin + use<>> {
        let r = self.store.get(&self.key(d)).await.map_err(|e| self.err(Some(d), e))?;
        let url = self.url.clone();
        Ok(r.into_stream().map_err(move |e| StoreError::Remote { location: url.clone(), source: Box::new(e) }))
    }

    /// Copies a blob into a local store (a cache), verifying it on the way.
    pub async fn fill(&self, d: &Digest, cache: &LocalStore, progress: &dyn Progress) -> Result<u64> {
        let s = self.stream(d).await?;
        let r = cache.put_stream(d, s, progress).await.map_err(|e| match e {
            // The bytes came from here, so the damage is here, not in the cache.
            StoreError::Corrupt { digest, actual, .. } => {
                StoreError::Corrupt { digest, actual, location: self.url.clone() }
            }
            e => e,
        });
        self.flag_if_corrupt(d, r).await
    }

    async fn upload_multipart(&self, path: &Path, expected: &Digest, progress: &dyn Progress) -> Result<()> {
        let key = self.key(expected);
        let upload = self.store.put_multipart(&key).await.map_err(|e| self.err(None, e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut f = tokio::fs::File::open(path).await.map_err(StoreError::io("cannot open", path))?;
        let mut hasher = Sha256Hasher::new();
        let mut buf = vec![0u8; crate::CHUNK];
        loop {
            let n = match f.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(StoreError::io("cannot read", path)(e));
                }
            };
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if let Err(e) = w.wait_for_capacity(PARALLEL_PARTS).await {
                return Err(self.err(None, e));
            }
            w.write(&buf[..n]);
            progress.advance(n as u64);
        }
        let actual = hasher.finish();
        if actual != *expected {
            let _ = w.abort().await;
            return Err(StoreError::Changed { path: path.to_path_buf(), expected: *expected, actual });
        }
        w.finish().await.map_err(|e| self.err(None, e))?;
        Ok(())
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    fn location(&self) -> String {
        self.url.clone()
    }

    async fn put_file(&self, path: &Path, known: Option<Digest>, progress: &dyn Progress) -> Result<PutOutcome> {
        let (src, size) = open_input(path)?;
        let digest = match known {
            Some(d) => d,
            None => run_blocking(|| hash_and_copy(src, None, path, &NoProgress))?.0,
        };
        let repaired = match self.existing(&digest, size).await? {
            Existing::Sound => {
                progress.advance(size);
                return Ok(PutOutcome { digest, size, written: false, repaired: false });
            }
            Existing::Absent => false,
            Existing::Damaged => true,
        };
        self.upload(path, &digest, size, progress).await?;
        Ok(PutOutcome { digest, size, written: true, repaired })
    }

    async fn put_bytes(&self, bytes: Bytes) -> Result<PutOutcome> {
        let digest = Digest::of(&bytes);
        let size = bytes.len() as u64;
        let repaired = match self.existing(&digest, size).await? {
            Existing::Sound => return Ok(PutOutcome { digest, size, written: false, repaired: false }),
            Existing::Absent => false,
            Existing::Damaged => true,
        };
        self.store.put(&self.key(&digest), PutPayload::from(bytes)).await.map_err(|e| self.err(None, e))?;
        self.unflag(&digest).await;
        Ok(PutOutcome { digest, size, written: true, repaired })
    }

    async fn replace_file(&self, path: &Path, expected: &Digest, progress: &dyn Progress) -> Result<PutOutcome> {
        let (_, size) = open_input(path)?;
        let existed = self.exists(expected).await?;
        self.upload(path, expected, size, progress).await?;
        Ok(PutOutcome { digest: *expected, size, written: true, repaired: existed })
    }

    async fn get_to_file(&self, digest: &Digest, dest: &Path, progress: &dyn Progress) -> Result<u64> {
        let s = self.stream(digest).await?;
        let r = write_stream_verified(s, digest, dest, temp_beside(dest), &self.url, progress).await;
        self.flag_if_corrupt(digest, r).await
    }

    async fn get_bytes(&self, digest: &Digest, max_size: u64) -> Result<Bytes> {
        let key = self.key(digest);
        let meta = self.store.head(&key).await.map_err(|e| self.err(Some(digest), e))?;
        if meta.size > max_size {
            return Err(StoreError::TooLarge { digest: *digest, size: meta.size, max: max_size });
        }
        let r = self.store.get(&key).await.map_err(|e| self.err(Some(digest), e))?;
        let bytes = r.bytes().await.map_err(|e| self.err(Some(digest), e))?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            self.flag(digest).await;
            return Err(StoreError::Corrupt { digest: *digest, actual, location: self.url.clone() });
        }
        Ok(bytes)
    }

    async fn exists(&self, digest: &Digest) -> Result<bool> {
        match self.store.head(&self.key(digest)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err(None, e)),
        }
    }

    async fn list(&self) -> Result<Vec<BlobMeta>> {
        let base = self.path_of("blobs/sha256");
        let mut stream = self.store.list(Some(&base));
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.err(None, e))?;
            let parts: Vec<_> = meta.location.parts().collect();
            if parts.len() < 2 {
                continue;
            }
            let (dir, rest) = (parts[parts.len() - 2].as_ref(), parts[parts.len() - 1].as_ref());
            if let Some(digest) = digest_from_parts(dir, rest) {
                let modified = Some(Timestamp::from_millis(meta.last_modified.timestamp_millis()));
                out.push(BlobMeta { digest, size: meta.size, modified });
            }
        }
        out.sort_by_key(|a| a.digest);
        Ok(out)
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        match self.store.delete(&self.key(digest)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                self.unflag(digest).await;
                Ok(())
            }
            Err(e) => Err(self.err(None, e)),
        }
    }

    async fn verify(&self, digest: &Digest) -> Result<Verified> {
        let mut s = match self.stream(digest).await {
            Ok(s) => s,
            Err(StoreError::NotFound { .. }) => return Ok(Verified::Missing),
            Err(e) => return Err(e),
        };
        let mut h = Sha256Hasher::new();
        let mut size = 0u64;
        while let Some(chunk) = s.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            h.update(&chunk);
        }
        let actual = h.finish();
        if actual == *digest {
            Ok(Verified::Ok { size })
        } else {
            self.flag(digest).await;
            Ok(Verified::Corrupt { actual })
        }
    }
}
