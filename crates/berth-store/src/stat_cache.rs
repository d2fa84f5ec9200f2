//! Remembers the digest of files already hashed, keyed by path, size,
//! modification time and inode, so an unchanged file is not read again on the
//! next push (DVC keeps the same kind of state). Entries for files modified
//! within the last two seconds are not trusted: a write in the same clock
//! tick could leave the metadata unchanged ("racy" entries, as git calls them).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_core::Digest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    size: u64,
    mtime_ns: i128,
    inode: u64,
    digest: Digest,
}

#[derive(Debug, Default)]
pub struct StatCache {
    file: Option<PathBuf>,
    entries: BTreeMap<PathBuf, Entry>,
    dirty: bool,
}

const RACY: Duration = Duration::from_secs(2);

fn key_of(meta: &fs::Metadata) -> Option<(u64, i128, u64)> {
    let mtime = meta.modified().ok()?;
    let ns = match mtime.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.len(), ns, inode))
}

impl StatCache {
    /// Loads the cache from `file`; a missing or unreadable file is an empty cache.
    pub fn load(file: impl Into<PathBuf>) -> Self {
        let file = file.into();
        let entries = fs::read(&file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        StatCache { file: Some(file), entries, dirty: false }
    }

    /// A cache that remembers nothing between runs.
    pub fn in_memory() -> Self {
        StatCache::default()
    }

    /// The digest recorded for `path` if its metadata has not changed since.
    pub fn lookup(&self, path: &Path) -> Option<Digest> {
        let abs = fs::canonicalize(path).ok()?;
        let meta = fs::metadata(&abs).ok()?;
        let (size, mtime_ns, inode) = key_of(&meta)?;
        let e = self.entries.get(&abs)?;
        (e.size == size && e.mtime_ns == mtime_ns && e.inode == inode).then_some(e.digest)
    }

    /// Records the digest just computed for `path`, unless it was modified too
    /// recently to be trusted.
    pub fn record(&mut self, path: &Path, digest: Digest) {
        let Ok(abs) = fs::canonicalize(path) else { return };
        let Ok(meta) = fs::metadata(&abs) else { return };
        let racy =
            meta.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok()).is_none_or(|age| age < RACY);
        if racy {
            return;
        }
        let Some((size, mtime_ns, inode)) = key_of(&meta) else { return };
        let e = Entry { size, mtime_ns, inode, digest };
        if self.entries.get(&abs) != Some(&e) {
            self.entries.insert(abs, e);
            self.dirty = true;
        }
    }

    /// Writes the cache back atomically. Concurrent pushes may each write
    /// their own view; the last one wins, which only costs a re-hash later.
    pub fn save(&mut self) -> std::io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        if !self.dirty {
            return Ok(());
        }
        if let Some(dir) = file.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
        fs::write(&tmp, serde_json::to_vec(&self.entries).map_err(std::io::Error::other)?)?;
        fs::rename(&tmp, file)?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path) {
        let old = SystemTime::now() - Duration::from_secs(60);
        fs::File::options().write(true).open(path).unwrap().set_modified(old).unwrap();
    }

    #[test]
    fn stat_cache_forgets_a_file_whose_metadata_changed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.bin");
        fs::write(&f, b"one").unwrap();
        age(&f);
        let cache_file = dir.path().join("stat.json");
        let mut c = StatCache::load(&cache_file);
        let d = Digest::of(b"one");
        c.record(&f, d);
        c.save().unwrap();
        let c = StatCache::load(&cache_file);
        assert_eq!(c.lookup(&f), Some(d));
        fs::write(&f, b"two!").unwrap();
        assert_eq!(c.lookup(&f), None);
    }

    #[test]
    fn stat_cache_does_not_trust_a_file_written_just_now() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.bin");
        fs::write(&f, b"one").unwrap();
        let mut c = StatCache::in_memory();
        c.record(&f, Digest::of(b"one"));
        assert_eq!(c.lookup(&f), None);
    }
}
