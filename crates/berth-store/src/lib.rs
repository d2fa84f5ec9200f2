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
mod provider;
mod stat_cache;

use std::path::Path;
use std::time::SystemTime;

use async_trait::async_trait;
use berth_core::{Digest, Timestamp};
use bytes::Bytes;

pub use atomic::this_writer;
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
    /// True when the store held a damaged copy under this name (wrong size,
    /// or flagged by a read that found it corrupt) and the put replaced it.
    pub repaired: bool,
}

/// A leftover of an interrupted write in the store's `tmp/`. Never visible as
/// a blob; named after the process that wrote it so that `gc` can remove the
/// partials of processes that are gone without waiting for them to age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    /// Where it is, for messages.
    pub path: String,
    pub size: u64,
    pub modified: Option<SystemTime>,
    /// The writer as `host:pid` (the form upload leases use; compare with
    /// [`this_writer`]), when the name says; files left by older versions of
    /// berth have no owner.
    pub owner: Option<String>,
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

/// A file whose writer hashed its bytes as it wrote them: its digest and
/// size are that writer's account of it, for [`BlobStore::adopt_file`].
#[derive(Debug, Clone, Copy)]
pub struct Hashed<'a> {
    pub path: &'a Path,
    pub digest: Digest,
    pub size: u64,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Where the store lives, as a URL, for messages.
    fn location(&self) -> String;

    /// Stores the file at `path`. When `known` is given (from the stat cache)
    /// and the store already has a sound copy of that blob, nothing is read
    /// or written. An existing copy is trusted only when its size is right
    /// and no read has flagged it as corrupt; otherwise it is replaced.
    /// Writes are atomic: the blob is either absent or complete.
    async fn put_file(&self, path: &Path, known: Option<Digest>, progress: &dyn Progress) -> Result<PutOutcome>;

    /// Stores a file its writer hashed as it wrote it (a server's spooled
    /// upload), taking the file itself where the store can: a local store
    /// on the same filesystem renames it into place without reading it again
    /// (the digest is the writer's account); the file may be gone afterwards.
    /// Other stores copy it as [`BlobStore::put_file`] does, verifying it.
    async fn adopt_file(&self, file: Hashed<'_>, progress: &dyn Progress) -> Result<PutOutcome> {
        // (A file that cannot be read is put_file's to report.)
        if let Ok(m) = std::fs::metadata(file.path)
            && m.len() != file.size
        {
            return Err(StoreError::Input {
                path: file.path.to_path_buf(),
                reason: format!("is not the {} bytes its writer hashed", file.size),
            });
        }
        self.put_file(file.path, Some(file.digest), progress).await
    }

    /// Stores bytes held in memory (manifests, reports), with the same
    /// checks of an existing copy as [`BlobStore::put_file`].
    async fn put_bytes(&self, bytes: Bytes) -> Result<PutOutcome>;

    /// Stores the file at `path` as blob `expected`, replacing whatever the
    /// store holds under that name, for repairs from a good copy. Fails with
    /// [`StoreError::Changed`] (and changes nothing) when the file does not
    /// hash to `expected`.
    async fn replace_file(&self, path: &Path, expected: &Digest, progress: &dyn Progress) -> Result<PutOutcome>;

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

    /// Leftovers of interrupted writes (never visible as blobs), for `fsck`
    /// and `gc`.
    async fn partials(&self) -> Result<Vec<Partial>> {
        Ok(Vec::new())
    }

    /// Removes one leftover listed by [`BlobStore::partials`]; false when it
    /// was already gone. The caller decides which are safe to remove.
    async fn remove_partial(&self, _partial: &Partial) -> Result<bool> {
        Ok(false)
    }
}

/// Streaming chunk size for reads and writes.
pub(crate) const CHUNK: usize = 1 << 20;
