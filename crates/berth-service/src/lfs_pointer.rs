//! Git LFS pointer files: the few lines git keeps in place of a large file
//! (`version https://git-lfs.github.com/spec/v1`, `oid sha256:<hex>`,
//! `size <bytes>`). With `push --from-lfs` a pointer stands for the object it
//! names, which is a blob berth already holds, so a version is registered
//! without sending the bytes again.

use std::io::Read;
use std::path::Path;

use berth_core::Digest;

use crate::{Result, ServiceError};

/// The first line of every pointer.
const VERSION_LINE: &str = "version https://git-lfs.github.com/spec/v1";

/// Git LFS never writes a pointer longer than this.
const MAX_POINTER: u64 = 1024;

/// The object a pointer names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pointer {
    pub oid: Digest,
    pub size: u64,
}

/// The pointer in the file at `path`; `None` when the file is not one
/// (larger than a pointer, or not starting with its version line). A file
/// that starts like a pointer but is not a sound one is refused.
pub(crate) fn read_pointer(path: &Path) -> Result<Option<Pointer>> {
    let cannot = |e: std::io::Error| ServiceError::input(format!("{}: cannot read: {e}", path.display()), None);
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_POINTER + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > MAX_POINTER || !bytes.starts_with(VERSION_LINE.as_bytes()) {
        return Ok(None);
    }
    let text = std::str::from_utf8(&bytes).ok();
    text.and_then(parse).map(Some).ok_or_else(|| {
        ServiceError::input(
            format!(
                "{} starts like a Git LFS pointer but is not one (it needs `oid sha256:<64 hex>` and `size <bytes>`)",
                path.display()
            ),
            Some("restore it with `git checkout -- FILE`, or push the real file without --from-lfs".into()),
        )
    })
}

/// A pointer's text, or `None` when it lacks its oid or size.
fn parse(text: &str) -> Option<Pointer> {
    let mut lines = text.lines();
    if lines.next()? != VERSION_LINE {
        return None;
    }
    let (mut oid, mut size) = (None, None);
    for line in lines.filter(|l| !l.is_empty()) {
        let (key, value) = line.split_once(' ')?;
        match key {
            "oid" => oid = Some(Digest::parse(&format!("sha256:{}", value.strip_prefix("sha256:")?)).ok()?),
            "size" => size = Some(value.parse::<u64>().ok()?),
            _ => {}
        }
    }
    Some(Pointer { oid: oid?, size: size? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer(oid: &str, size: &str) -> String {
        format!("{VERSION_LINE}\noid sha256:{oid}\nsize {size}\n")
    }

    #[test]
    fn pointers_are_read_and_anything_else_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        let hex = Digest::of(b"x").hex();
        let write = |name: &str, text: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let p = read_pointer(&write("a", pointer(&hex, "20000000").as_bytes())).unwrap().unwrap();
        assert_eq!((p.oid, p.size), (Digest::of(b"x"), 20_000_000));
        let extended = format!("{VERSION_LINE}\next-0-foo sha256:{hex}\noid sha256:{hex}\nsize 3\n");
        assert_eq!(read_pointer(&write("b", extended.as_bytes())).unwrap().unwrap().size, 3);
        assert!(read_pointer(&write("c", b"weights")).unwrap().is_none());
        let mut long = pointer(&hex, "1").into_bytes();
        long.extend(vec![b'x'; 2000]);
        assert!(read_pointer(&write("d", &long)).unwrap().is_none(), "too long to be a pointer");
        for bad in [pointer("abc", "1"), pointer(&hex, "-1"), format!("{VERSION_LINE}\nsize 1\n")] {
            let e = read_pointer(&write("e", bad.as_bytes())).unwrap_err();
            assert!(e.message().contains("not one"), "{bad}: {e}");
        }
    }
}
