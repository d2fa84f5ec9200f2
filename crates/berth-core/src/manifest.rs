//! A version's manifest: the relative path of every file mapped to its blob
//! digest and size. It is stored as a blob itself (canonical JSON), so one
//! digest covers every byte of a version.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.berth.manifest.v1+json";

/// A relative path inside a version: `/`-separated, no `..`, no empty or `.`
/// components, no leading `/`. Restoring a manifest can therefore never write
/// outside the target directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RelPath(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("invalid path {0:?} in manifest: paths must be relative, '/'-separated, without '..' or empty parts")]
    Path(String),
    #[error("manifest is not valid: {0}")]
    Json(String),
    #[error("manifest has no files")]
    Empty,
}

impl RelPath {
    pub fn parse(s: &str) -> Result<Self, ManifestError> {
        let bad = s.is_empty()
            || s.starts_with('/')
            || s.contains('\0')
            || s.contains('\\')
            || s.split('/').any(|c| c.is_empty() || c == "." || c == "..");
        if bad {
            return Err(ManifestError::Path(s.to_string()));
        }
        Ok(RelPath(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RelPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RelPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub files: BTreeMap<RelPath, ManifestEntry>,
}

impl Manifest {
    pub fn new(files: BTreeMap<RelPath, ManifestEntry>) -> Result<Self, ManifestError> {
        if files.is_empty() {
            return Err(ManifestError::Empty);
        }
        Ok(Manifest { media_type: MANIFEST_MEDIA_TYPE.to_string(), files })
    }

    /// Canonical bytes: keys sorted, no whitespace. Same files, same digest.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serialises")
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, ManifestError> {
        let m: Manifest = serde_json::from_slice(b).map_err(|e| ManifestError::Json(e.to_string()))?;
        if m.media_type != MANIFEST_MEDIA_TYPE {
            return Err(ManifestError::Json(format!("unknown media type {:?}", m.media_type)));
        }
        if m.files.is_empty() {
            return Err(ManifestError::Empty);
        }
        Ok(m)
    }

    pub fn digest(&self) -> Digest {
        Digest::of(&self.to_bytes())
    }

    pub fn total_size(&self) -> u64 {
        self.files.values().map(|e| e.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_paths_cannot_escape_the_target_directory() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a\\b"] {
            assert!(RelPath::parse(bad).is_err(), "{bad}");
        }
        assert!(RelPath::parse("model/weights.onnx").is_ok());
    }

    #[test]
    fn manifest_bytes_are_canonical() {
        let e = ManifestEntry { digest: Digest::of(b"a"), size: 1 };
        let mut a = BTreeMap::new();
        a.insert(RelPath::parse("b").unwrap(), e);
        a.insert(RelPath::parse("a").unwrap(), e);
        let m = Manifest::new(a).unwrap();
        let back = Manifest::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.digest(), m.digest());
        assert!(
            String::from_utf8(m.to_bytes()).unwrap().find("\"a\"")
                < String::from_utf8(m.to_bytes()).unwrap().find("\"b\"")
        );
    }

    #[test]
    fn manifest_refuses_hostile_paths_when_read() {
        let d = Digest::of(b"a");
        let json = format!(r#"{{"mediaType":"{MANIFEST_MEDIA_TYPE}","files":{{"../x":{{"digest":"{d}","size":1}}}}}}"#);
        assert!(Manifest::from_bytes(json.as_bytes()).is_err());
    }
}
