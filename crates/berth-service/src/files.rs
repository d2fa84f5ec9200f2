//! Turning the paths a user names into the files of a version: a file is
//! stored under its own name, a directory's files under their paths relative
//! to that directory.
//!
//! Symbolic links inside a pushed directory are refused unless the user asks
//! to follow them, and even then only when they resolve inside the directory:
//! a model directory fetched from elsewhere must not be able to make a push
//! store the host's files (`link -> /etc/passwd`). Paths named on the command
//! line are the user's own choice and are followed, as `cp -r` does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_core::{Digest, RelPath, Sha256Hasher};

use crate::{Result, ServiceError};

/// Every file to push, by its path inside the version. The paths to read are
/// resolved: a followed link maps to the file it points at, checked once
/// here, so the push reads what was checked.
pub(crate) fn collect(paths: &[PathBuf], follow_symlinks: bool) -> Result<BTreeMap<RelPath, PathBuf>> {
    if paths.is_empty() {
        return Err(ServiceError::input("nothing to push", Some("name at least one file or directory".into())));
    }
    let mut out = BTreeMap::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound if is_link(p) => {
                    format!("is a symbolic link to {}, which does not exist", link_target(p))
                }
                std::io::ErrorKind::NotFound => "does not exist".to_string(),
                std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".to_string(),
                _ => format!("cannot be read: {e}"),
            };
            ServiceError::input(format!("{}: {reason}", p.display()), Some("check the path and try again".into()))
        })?;
        if meta.is_dir() {
            let before = out.len();
            let root = canonical(p)?;
            let mut walk = Walk { top: p, root: &root, follow: follow_symlinks, out: &mut out, stack: vec![] };
            walk.dir(p, "", &root)?;
            if out.len() == before {
                return Err(ServiceError::input(
                    format!("{}: directory contains no files", p.display()),
                    Some("push a directory that holds the model's files".into()),
                ));
            }
        } else if meta.is_file() {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            insert(&mut out, &name, p.clone())?;
        } else {
            return Err(ServiceError::input(
                format!("{}: not a regular file or directory", p.display()),
                Some("name the model's files or the directory that holds them".into()),
            ));
        }
    }
    Ok(out)
}

/// The SHA-256 of a file's content, or `None` when it cannot be read.
pub(crate) fn hash_file(p: &Path) -> Option<Digest> {
    use std::io::Read;
    let mut f = std::fs::File::open(p).ok()?;
    let mut h = Sha256Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            return Some(h.finish());
        }
        h.update(&buf[..n]);
    }
}

fn insert(out: &mut BTreeMap<RelPath, PathBuf>, rel: &str, path: PathBuf) -> Result<()> {
    let key = RelPath::parse(rel).map_err(|e| ServiceError::input(format!("{}: {e}", path.display()), None))?;
    if let Some(prev) = out.insert(key.clone(), path.clone()) {
        return Err(ServiceError::input(
            format!("two files would be stored as {key:?}: {} and {}", prev.display(), path.display()),
            Some("rename one, or push their common parent directory instead".into()),
        ));
    }
    Ok(())
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

fn link_target(p: &Path) -> String {
    std::fs::read_link(p).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into())
}

fn canonical(p: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(p)
        .map_err(|e| ServiceError::input(format!("{}: cannot resolve the path: {e}", p.display()), None))
}

/// One pushed directory being walked.
struct Walk<'a> {
    /// The directory as the user named it, for messages.
    top: &'a Path,
    /// The same, resolved: followed links must stay under it.
    root: &'a Path,
    follow: bool,
    out: &'a mut BTreeMap<RelPath, PathBuf>,
    /// The resolved directories being walked, outermost first, to refuse a
    /// link back into one of them (which would never end).
    stack: Vec<PathBuf>,
}

impl Walk<'_> {
    /// Walks `dir` (shown as `shown`, stored under `prefix`), whose resolved path is `real`.
    fn dir(&mut self, shown: &Path, prefix: &str, real: &Path) -> Result<()> {
        let rd = std::fs::read_dir(real)
            .map_err(|e| ServiceError::input(format!("{}: cannot list directory: {e}", shown.display()), None))?;
        let mut entries = Vec::new();
        for e in rd {
            let e =
                e.map_err(|e| ServiceError::input(format!("{}: cannot list directory: {e}", shown.display()), None))?;
            entries.push(e);
        }
        entries.sort_by_key(|e| e.file_name());
        self.stack.push(real.to_path_buf());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let shown_path = shown.join(&name);
            let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            let path = e.path();
            let kind = e
                .file_type()
                .map_err(|err| ServiceError::input(format!("{}: cannot be read: {err}", shown_path.display()), None))?;
            if kind.is_symlink() {
                self.link(&shown_path, &rel, &path)?;
            } else if kind.is_dir() {
                self.dir(&shown_path, &rel, &path)?;
            } else if kind.is_file() {
                insert(self.out, &rel, path)?;
            } else {
                return Err(ServiceError::input(
                    format!(
                        "{}: not a regular file, directory or symbolic link (a socket, pipe or device)",
                        shown_path.display()
                    ),
                    Some("remove it from the directory, or push the files you need by name".into()),
                ));
            }
        }
        self.stack.pop();
        Ok(())
    }

    fn link(&mut self, shown: &Path, rel: &str, path: &Path) -> Result<()> {
        let target = link_target(path);
        let Ok(resolved) = std::fs::canonicalize(path) else {
            return Err(ServiceError::input(
                format!("{}: symbolic link to {target}, which does not exist", shown.display()),
                Some("remove the dangling link, or make it point at an existing file".into()),
            ));
        };
        if !self.follow {
            return Err(ServiceError::input(
                format!("{}: is a symbolic link (to {target}); berth does not store links", shown.display()),
                Some(format!(
                    "replace the link with the file, or pass --follow-symlinks to store what it points to (it must be inside {})",
                    self.top.display()
                )),
            ));
        }
        if !resolved.starts_with(self.root) {
            return Err(ServiceError::input(
                format!(
                    "{}: symbolic link to {}, outside the pushed directory {}",
                    shown.display(),
                    resolved.display(),
                    self.top.display()
                ),
                Some("copy the file into the directory, or name it on the command line to push it on purpose".into()),
            ));
        }
        let meta = std::fs::metadata(&resolved)
            .map_err(|e| ServiceError::input(format!("{}: cannot be read: {e}", shown.display()), None))?;
        if meta.is_file() {
            insert(self.out, rel, resolved)
        } else if meta.is_dir() {
            if self.stack.contains(&resolved) {
                return Err(ServiceError::input(
                    format!(
                        "{}: symbolic link to {}, which contains the link itself",
                        shown.display(),
                        resolved.display()
                    ),
                    Some("remove the link: following it would never end".into()),
                ));
            }
            self.dir(shown, rel, &resolved)
        } else {
            Err(ServiceError::input(
                format!(
                    "{}: symbolic link to {}, which is not a regular file or directory",
                    shown.display(),
                    resolved.display()
                ),
                Some("remove the link from the directory".into()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_keep_their_layout_and_files_their_names() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("m/sub")).unwrap();
        std::fs::write(d.path().join("m/a.onnx"), b"a").unwrap();
        std::fs::write(d.path().join("m/sub/b.json"), b"b").unwrap();
        std::fs::write(d.path().join("extra.txt"), b"c").unwrap();
        let files = collect(&[d.path().join("m"), d.path().join("extra.txt")], false).unwrap();
        let keys: Vec<&str> = files.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["a.onnx", "extra.txt", "sub/b.json"]);
    }

    #[test]
    fn empty_directories_and_missing_paths_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("empty")).unwrap();
        assert!(collect(&[d.path().join("empty")], false).unwrap_err().to_string().contains("no files"));
        assert!(collect(&[d.path().join("nope")], false).unwrap_err().to_string().contains("does not exist"));
        assert!(collect(&[], false).is_err());
    }

    #[test]
    fn clashing_names_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("x")).unwrap();
        std::fs::create_dir_all(d.path().join("y")).unwrap();
        std::fs::write(d.path().join("x/m.bin"), b"1").unwrap();
        std::fs::write(d.path().join("y/m.bin"), b"2").unwrap();
        let e = collect(&[d.path().join("x/m.bin"), d.path().join("y/m.bin")], false).unwrap_err();
        assert!(e.to_string().contains("two files"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn followed_links_stay_inside_and_loops_are_refused() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("m");
        std::fs::create_dir_all(m.join("shared")).unwrap();
        std::fs::write(m.join("shared/w.bin"), b"w").unwrap();
        symlink("shared", m.join("alias")).unwrap();
        symlink("shared/w.bin", m.join("w-link.bin")).unwrap();
        let files = collect(std::slice::from_ref(&m), true).unwrap();
        let keys: Vec<&str> = files.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["alias/w.bin", "shared/w.bin", "w-link.bin"]);
        // What is read is the resolved file, not the link.
        let read = &files[&RelPath::parse("w-link.bin").unwrap()];
        assert_eq!(*read, std::fs::canonicalize(m.join("shared/w.bin")).unwrap());

        symlink("..", m.join("shared/up")).unwrap();
        let e = collect(std::slice::from_ref(&m), true).unwrap_err().to_string();
        assert!(e.contains("contains the link itself"), "{e}");
    }
}
