//! Atomic file writes: bytes go to a temporary file beside the destination,
//! are hashed on the way, fsynced, and renamed into place only when complete
//! (and, for reads from a store, only when the digest matches).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use berth_core::{Digest, Sha256Hasher};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::{Progress, Result, StoreError};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique name for a temporary file, so concurrent writers never collide.
pub(crate) fn unique_suffix() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{}-{n}-{nanos}", std::process::id())
}

/// The host name as it appears in temporary file names: the characters a
/// host name normally has, anything else replaced, so a name never holds a
/// path separator or the `@` that ends the process part.
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()));
        let clean: String =
            raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
        if clean.is_empty() { "localhost".into() } else { clean }
    })
}

const PARTIAL_EXT: &str = ".partial";

/// The name of a temporary file in a store's `tmp/`: `<pid>-<n>-<nanos>@<host>.partial`.
/// The writer's pid and host are in the name so that gc can tell a partial
/// whose writer is gone (removed at once) from one still being written.
pub(crate) fn owned_temp_name() -> String {
    format!("{}@{}{PARTIAL_EXT}", unique_suffix(), host())
}

/// This process as the writer of temporary files, in the form
/// [`Partial::owner`](crate::Partial) takes: `host:pid`, with the host
/// spelled as in the file names.
pub fn this_writer() -> String {
    format!("{}:{}", host(), std::process::id())
}

/// The writer of a temporary file named by [`owned_temp_name`], as `host:pid`
/// (the form upload leases use); `None` for any other name.
pub(crate) fn owner_of(name: &str) -> Option<String> {
    let (ids, host) = name.strip_suffix(PARTIAL_EXT)?.split_once('@')?;
    let pid: u32 = ids.split('-').next()?.parse().ok()?;
    (!host.is_empty()).then(|| format!("{host}:{pid}"))
}

/// Removes a temporary file when dropped, unless it was renamed into place.
pub(crate) struct TempGuard(Option<PathBuf>);

impl TempGuard {
    pub(crate) fn new(p: PathBuf) -> Self {
        TempGuard(Some(p))
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.as_deref().expect("guard is armed until persisted")
    }

    /// Renames the temporary file to `dest` and fsyncs the directory so the
    /// rename itself survives a crash.
    pub(crate) fn persist(mut self, dest: &Path) -> Result<()> {
        let tmp = self.0.take().expect("persist once");
        if let Err(e) = fs::rename(&tmp, dest) {
            let _ = fs::remove_file(&tmp);
            return Err(StoreError::io("cannot move into place", dest)(e));
        }
        if let Some(dir) = dest.parent() {
            sync_dir(dir);
        }
        Ok(())
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

pub(crate) fn sync_dir(dir: &Path) {
    // Best effort: some filesystems refuse fsync on directories.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The temporary path used while writing `dest`: hidden, beside it.
pub(crate) fn temp_beside(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.berth-partial-{}", unique_suffix()))
}

/// Writes a byte stream to `dest` atomically through the temporary file
/// `temp` (on the same filesystem), checking that it hashes to `expected`.
/// On a mismatch nothing is left at `dest` or `temp`.
pub(crate) async fn write_stream_verified<S, E>(
    mut stream: S,
    expected: &Digest,
    dest: &Path,
    temp: PathBuf,
    location: &str,
    progress: &dyn Progress,
) -> Result<u64>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: Into<StoreError>,
{
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(StoreError::io("cannot create directory", dir))?;
    }
    let guard = TempGuard::new(temp);
    let mut file = tokio::fs::File::create(guard.path())
        .await
        .map_err(StoreError::io("cannot create", guard.path().to_path_buf()))?;
    let mut hasher = Sha256Hasher::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Into::into)?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(StoreError::io("cannot write", dest))?;
        progress.advance(chunk.len() as u64);
    }
    let actual = hasher.finish();
    if actual != *expected {
        return Err(StoreError::Corrupt { digest: *expected, actual, location: location.to_string() });
    }
    file.sync_all().await.map_err(StoreError::io("cannot sync", dest))?;
    drop(file);
    guard.persist(dest)?;
    Ok(size)
}

/// Reads a file through `read`, hashing it and handing each chunk to `sink`
/// on a second thread, so hashing and writing overlap on two cores.
pub(crate) fn hash_and_copy(
    mut read: impl std::io::Read,
    mut sink: Option<&mut File>,
    src: &Path,
    progress: &dyn Progress,
) -> Result<(Digest, u64)> {
    use std::sync::mpsc::{channel, sync_channel};
    let mut hasher = Sha256Hasher::new();
    let mut size = 0u64;
    let read_err = StoreError::io("cannot read", src);
    let Some(sink) = sink.take() else {
        let mut buf = vec![0u8; crate::CHUNK];
        loop {
            let n = read_full(&mut read, &mut buf).map_err(|e| StoreError::io("cannot read", src)(e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            progress.advance(n as u64);
        }
        return Ok((hasher.finish(), size));
    };
    let (full_tx, full_rx) = sync_channel::<Vec<u8>>(4);
    let (empty_tx, empty_rx) = channel::<Vec<u8>>();
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> std::io::Result<()> {
            let mut flush = Writeback::default();
            for buf in full_rx {
                sink.write_all(&buf)?;
                flush.wrote(sink, buf.len() as u64);
                let _ = empty_tx.send(buf);
            }
            Ok(())
        });
        let mut result = Ok(());
        loop {
            let mut buf = empty_rx.try_recv().unwrap_or_else(|_| vec![0u8; crate::CHUNK]);
            buf.resize(crate::CHUNK, 0);
            let n = match read_full(&mut read, &mut buf) {
                Ok(n) => n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            if n == 0 {
                break;
            }
            buf.truncate(n);
            hasher.update(&buf);
            size += n as u64;
            progress.advance(n as u64);
            if full_tx.send(buf).is_err() {
                break; // the writer failed; its error is reported below
            }
        }
        drop(full_tx);
        let written = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("writer thread panicked")));
        result.map_err(read_err)?;
        written.map_err(|e| StoreError::Io { what: "cannot write blob for", path: src.to_path_buf(), source: e })
    })?;
    Ok((hasher.finish(), size))
}

/// Fills `buf` unless the reader ends first; returns the bytes read.
fn read_full(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Opens a file the user named, turning the usual failures into input errors.
pub(crate) fn open_input(path: &Path) -> Result<(File, u64)> {
    let input = |reason: String| StoreError::Input { path: path.to_path_buf(), reason };
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => input("does not exist".into()),
        std::io::ErrorKind::PermissionDenied => input("cannot be read: permission denied".into()),
        _ => input(format!("cannot be read: {e}")),
    })?;
    if !meta.is_file() {
        return Err(input("is not a regular file".into()));
    }
    let f = File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => input("cannot be read: permission denied".into()),
        _ => input(format!("cannot be opened: {e}")),
    })?;
    Ok((f, meta.len()))
}

/// Runs blocking file work from async code. spawn_blocking would need
/// 'static borrows; block_in_place keeps the caller's references usable
/// (progress sinks, paths). On a current-thread runtime it runs inline.
pub(crate) fn run_blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Starts writing dirty pages to disk every few megabytes while a file is
/// still being written, so the final fsync has little left to wait for and
/// the disk works while the CPU hashes (Linux `sync_file_range`; elsewhere
/// the final fsync does all the work).
#[derive(Default)]
struct Writeback {
    written: u64,
    started: u64,
}

impl Writeback {
    const STEP: u64 = 16 << 20;

    #[cfg(target_os = "linux")]
    fn wrote(&mut self, file: &File, n: u64) {
        use std::os::fd::AsRawFd;
        self.written += n;
        if self.written - self.started >= Self::STEP {
            // SAFETY: a plain syscall on an open descriptor we own; it only
            // schedules writeback of a byte range and cannot touch memory.
            unsafe {
                libc::sync_file_range(
                    file.as_raw_fd(),
                    self.started as libc::off64_t,
                    (self.written - self.started) as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
            self.started = self.written;
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn wrote(&mut self, _file: &File, n: u64) {
        self.written += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_carry_their_writer() {
        let name = owned_temp_name();
        let owner = owner_of(&name).expect("an owned name has an owner");
        assert_eq!(owner, this_writer());
        assert!(!name.contains('/'), "{name}");
        assert_eq!(owner_of("123-4-5@build-7.example.org.partial").as_deref(), Some("build-7.example.org:123"));
        // Names written before owners were recorded, and strangers, have none.
        assert_eq!(owner_of("123-4-5.partial"), None);
        assert_eq!(owner_of("notes.txt"), None);
        assert_eq!(owner_of("x-1@h.partial"), None);
    }
}
