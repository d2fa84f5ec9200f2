//! Turning the paths a user names into the files of a version: a file is
//! stored under its own name, a directory's files under their paths relative
//! to that directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_core::RelPath;

use crate::{Result, ServiceError};

/// Every file to push, by its path inside the version.
pub(crate) fn collect(paths: &[PathBuf]) -> Result<BTreeMap<RelPath, PathBuf>> {
    if paths.is_empty() {
        return Err(ServiceError::input("nothing to push", Some("name at least one file or directory".into())));
    }
    let mut out = BTreeMap::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => "does not exist".to_string(),
                std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".to_string(),
                _ => format!("cannot be read: {e}"),
            };
            ServiceError::input(format!("{}: {reason}", p.display()), Some("check the path and try again".into()))
        })?;
        if meta.is_dir() {
            let before = out.len();
            walk(p, p, &mut out)?;
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
            return Err(ServiceError::input(format!("{}: not a regular file or directory", p.display()), None));
        }
    }
    Ok(out)
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

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<RelPath, PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| ServiceError::input(format!("{}: cannot list directory: {e}", dir.display()), None))?;
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        // Follow symlinks to files; skip symlinked directories to avoid loops.
        let Ok(meta) = std::fs::metadata(&path) else {
            return Err(ServiceError::input(format!("{}: cannot be read (broken link?)", path.display()), None));
        };
        let is_link = e.file_type().map(|t| t.is_symlink()).unwrap_or(false);
        if meta.is_dir() {
            if !is_link {
                walk(root, &path, out)?;
            }
        } else if meta.is_file() {
            let rel = path.strip_prefix(root).expect("walked paths are under the root");
            let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            insert(out, &rel.join("/"), path)?;
        }
    }
    Ok(())
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
        let files = collect(&[d.path().join("m"), d.path().join("extra.txt")]).unwrap();
        let keys: Vec<&str> = files.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["a.onnx", "extra.txt", "sub/b.json"]);
    }

    #[test]
    fn empty_directories_and_missing_paths_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("empty")).unwrap();
        assert!(collect(&[d.path().join("empty")]).unwrap_err().to_string().contains("no files"));
        assert!(collect(&[d.path().join("nope")]).unwrap_err().to_string().contains("does not exist"));
        assert!(collect(&[]).is_err());
    }

    #[test]
    fn clashing_names_are_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("x")).unwrap();
        std::fs::create_dir_all(d.path().join("y")).unwrap();
        std::fs::write(d.path().join("x/m.bin"), b"1").unwrap();
        std::fs::write(d.path().join("y/m.bin"), b"2").unwrap();
        let e = collect(&[d.path().join("x/m.bin"), d.path().join("y/m.bin")]).unwrap_err();
        assert!(e.to_string().contains("two files"), "{e}");
    }
}
