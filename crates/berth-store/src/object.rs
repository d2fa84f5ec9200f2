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

use crate::atomic::{hash_and_copy, open_input, run_blocking, write_stream_verified};
use crate::layout::{blob_key, digest_from_parts};
use crate::{BlobMeta, BlobStore, LocalStore, NoProgress, Progress, PutOutcome, Result, StoreError, Verified};

/// Files up to this size are uploaded in one request; larger ones in parts.
const SINGLE_PUT_MAX: u64 = 8 << 20;
const PART_SIZE: usize = 8 << 20;
const PARALLEL_PARTS: usize = 4;

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
        cache.put_stream(d, s, progress).await.map_err(|e| match e {
            // The bytes came from here, so the damage is here, not in the cache.
            StoreError::Corrupt { digest, actual, .. } => {
                StoreError::Corrupt { digest, actual, location: self.url.clone() }
            }
            e => e,
        })
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
        if self.exists(&digest).await? {
            progress.advance(size);
            return Ok(PutOutcome { digest, size, written: false });
        }
        if size <= SINGLE_PUT_MAX {
            let bytes = tokio::fs::read(path).await.map_err(StoreError::io("cannot read", path))?;
            let actual = Digest::of(&bytes);
            if actual != digest {
                return Err(StoreError::Changed { path: path.to_path_buf(), expected: digest, actual });
            }
            self.store.put(&self.key(&digest), PutPayload::from(bytes)).await.map_err(|e| self.err(None, e))?;
            progress.advance(size);
        } else {
            self.upload_multipart(path, &digest, progress).await?;
        }
        Ok(PutOutcome { digest, size, written: true })
    }

    async fn put_bytes(&self, bytes: Bytes) -> Result<PutOutcome> {
        let digest = Digest::of(&bytes);
        let size = bytes.len() as u64;
        if self.exists(&digest).await? {
            return Ok(PutOutcome { digest, size, written: false });
        }
        self.store.put(&self.key(&digest), PutPayload::from(bytes)).await.map_err(|e| self.err(None, e))?;
        Ok(PutOutcome { digest, size, written: true })
    }

    async fn get_to_file(&self, digest: &Digest, dest: &Path, progress: &dyn Progress) -> Result<u64> {
        let s = self.stream(digest).await?;
        write_stream_verified(s, digest, dest, &self.url, progress).await
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
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
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
        Ok(if actual == *digest { Verified::Ok { size } } else { Verified::Corrupt { actual } })
    }
}
