//! A remote store with a local read-through cache in front. Reads are served
//! from the cache when it holds a verified copy (so a server keeps working
//! when the remote is down) and fill the cache otherwise. Writes, listing,
//! deletion and verification go to the remote, the source of truth.

use std::path::Path;

use async_trait::async_trait;
use berth_core::Digest;
use bytes::Bytes;

use crate::{
    BlobMeta, BlobStore, Hashed, LocalStore, NoProgress, ObjectBlobStore, Partial, Progress, PutOutcome, Result,
    StoreError, Verified,
};

pub struct CachedStore {
    remote: ObjectBlobStore,
    cache: LocalStore,
}

impl CachedStore {
    pub fn new(remote: ObjectBlobStore, cache: LocalStore) -> Self {
        CachedStore { remote, cache }
    }

    pub fn cache(&self) -> &LocalStore {
        &self.cache
    }

    /// Makes sure the cache holds a verified copy of `d`.
    async fn ensure_cached(&self, d: &Digest, progress: &dyn Progress) -> Result<()> {
        match self.cache.verify(d).await? {
            Verified::Ok { size } => {
                progress.advance(size);
                Ok(())
            }
            Verified::Corrupt { .. } => {
                tracing::warn!(blob = %d, "cached copy is corrupt; fetching it again");
                self.cache.delete(d).await?;
                self.remote.fill(d, &self.cache, progress).await.map(|_| ())
            }
            Verified::Missing => self.remote.fill(d, &self.cache, progress).await.map(|_| ()),
        }
    }
}

#[async_trait]
impl BlobStore for CachedStore {
    fn location(&self) -> String {
        format!("{} (cache {})", self.remote.location(), self.cache.location())
    }

    async fn put_file(&self, path: &Path, known: Option<Digest>, progress: &dyn Progress) -> Result<PutOutcome> {
        self.remote.put_file(path, known, progress).await
    }

    async fn put_bytes(&self, bytes: Bytes) -> Result<PutOutcome> {
        self.remote.put_bytes(bytes).await
    }

    async fn adopt_file(&self, file: Hashed<'_>, progress: &dyn Progress) -> Result<PutOutcome> {
        self.remote.adopt_file(file, progress).await
    }

    async fn replace_file(&self, path: &Path, expected: &Digest, progress: &dyn Progress) -> Result<PutOutcome> {
        // A cached copy needs no attention: reads verify it and fetch it
        // again from the remote when it is damaged.
        self.remote.replace_file(path, expected, progress).await
    }

    async fn get_to_file(&self, digest: &Digest, dest: &Path, progress: &dyn Progress) -> Result<u64> {
        if !self.cache.exists(digest).await? {
            self.remote.fill(digest, &self.cache, &NoProgress).await?;
        }
        match self.cache.get_to_file(digest, dest, progress).await {
            Err(StoreError::Corrupt { .. }) => {
                self.cache.delete(digest).await?;
                self.ensure_cached(digest, &NoProgress).await?;
                self.cache.get_to_file(digest, dest, progress).await
            }
            other => other,
        }
    }

    async fn get_bytes(&self, digest: &Digest, max_size: u64) -> Result<Bytes> {
        match self.cache.get_bytes(digest, max_size).await {
            Ok(b) => Ok(b),
            Err(StoreError::NotFound { .. } | StoreError::Corrupt { .. }) => {
                self.ensure_cached(digest, &NoProgress).await?;
                self.cache.get_bytes(digest, max_size).await
            }
            Err(e) => Err(e),
        }
    }

    async fn exists(&self, digest: &Digest) -> Result<bool> {
        self.remote.exists(digest).await
    }

    async fn list(&self) -> Result<Vec<BlobMeta>> {
        self.remote.list().await
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        self.remote.delete(digest).await?;
        self.cache.delete(digest).await
    }

    async fn verify(&self, digest: &Digest) -> Result<Verified> {
        self.remote.verify(digest).await
    }

    async fn partials(&self) -> Result<Vec<Partial>> {
        self.cache.partials().await
    }

    async fn remove_partial(&self, partial: &Partial) -> Result<bool> {
        self.cache.remove_partial(partial).await
    }
}
