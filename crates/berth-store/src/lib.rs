//! The content-addressed blob store: bytes named by their SHA-256 digest,
//! verified on every read. Backends are a local directory (the default) and
//! object storage through the `object_store` crate, optionally behind a local
//! read-through cache. The store knows nothing of models or versions: it must
//! not depend on the registry, and nothing above it may bypass its digest
//! checks by reading blob files directly.

mod atomic;
mod cached;
mod error;
mod layout;
mod local;
mod object;
mod open;
mod stat_cache;

use std::path::Path;

use async_trait::async_trait;
use berth_core::{Digest, Timestamp};
use bytes::Bytes;

pub use cached::CachedStore;
pub use error::StoreError;
pub use layout::blob_key;
pub use local::LocalStore;
pub use object::ObjectBlobStore;
pub use open::{StoreUrl, open_store};
pub use stat_cache::StatCache;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Receives byte counts as a transfer advances (the CLI draws a bar with it).
pub trait Progress: Send + Sync {
    fn advance(&self, bytes: u64);
}

/// A progress sink that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _: u64) {}
}

/// What a put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOutcome {
    pub digest: Digest,
    pub size: u64,
    /// False when the store already had the blob and nothing was written.
    pub written: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub digest: Digest,
    pub size: u64,
    pub modified: Option<Timestamp>,
}

/// The result of re-reading a blob and hashing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    Ok { size: u64 },
    Missing,
    Corrupt { actual: Digest },
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Where the store lives, as a URL, for messages.
    fn location(&self) -> String;

    /// Stores the file at `path`. When `known` is given (from the stat cache)
    /// and the store already has that blob, nothing is read or written.
    /// Writes are atomic: the blob is either absent or complete.
    async fn put_file(&self, path: &Path, known: Option<Digest>, progress: &dyn Progress) -> Result<PutOutcome>;

    /// Stores bytes held in memory (manifests, reports).
    async fn put_bytes(&self, bytes: Bytes) -> Result<PutOutcome>;

    /// Writes the blob to `dest` (atomically, through a temporary file beside
    /// it) after checking its digest; on a mismatch `dest` is left untouched.
    async fn get_to_file(&self, digest: &Digest, dest: &Path, progress: &dyn Progress) -> Result<u64>;

    /// Reads a small blob into memory, refusing blobs over `max_size` bytes.
    async fn get_bytes(&self, digest: &Digest, max_size: u64) -> Result<Bytes>;

    async fn exists(&self, digest: &Digest) -> Result<bool>;

    async fn list(&self) -> Result<Vec<BlobMeta>>;

    async fn delete(&self, digest: &Digest) -> Result<()>;

    /// Re-reads a blob and checks its digest without writing anything.
    async fn verify(&self, digest: &Digest) -> Result<Verified>;

    /// Leftovers of interrupted writes (never visible as blobs), for `fsck`.
    async fn partials(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Removes leftovers of interrupted writes older than `min_age`.
    async fn remove_partials(&self, _min_age: std::time::Duration) -> Result<usize> {
        Ok(0)
    }
}

/// Streaming chunk size for reads and writes.
pub(crate) const CHUNK: usize = 1 << 20;
