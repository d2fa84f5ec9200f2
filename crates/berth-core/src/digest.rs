//! Content addresses: `sha256:<64 lowercase hex>`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid digest {value:?}: {reason}; expected `sha256:` followed by 64 lowercase hex digits")]
pub struct DigestError {
    pub value: String,
    pub reason: &'static str,
}

impl Digest {
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Digest(b)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 hex digits without the algorithm prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Digest of a byte slice held in memory.
    pub fn of(bytes: &[u8]) -> Self {
        let mut h = Sha256Hasher::new();
        h.update(bytes);
        h.finish()
    }

    /// The first 12 hex digits, for human output.
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }

    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let err = |reason| DigestError { value: s.to_string(), reason };
        let hex_part = s.strip_prefix("sha256:").ok_or_else(|| err("missing `sha256:` prefix"))?;
        if hex_part.len() != 64 {
            return Err(err("wrong length"));
        }
        if !hex_part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(err("not lowercase hex"));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).map_err(|_| err("not hex"))?;
        Ok(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.short())
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Incremental SHA-256; the `sha2` crate picks the CPU's SHA extensions at run time.
#[derive(Clone, Default)]
pub struct Sha256Hasher(sha2::Sha256);

impl Sha256Hasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Digest {
        let out = self.0.finalize();
        let mut b = [0u8; 32];
        b.copy_from_slice(&out);
        Digest(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_matches_the_known_value() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_rejects_bad_digests_with_the_reason() {
        assert!(Digest::parse("md5:abc").unwrap_err().reason.contains("prefix"));
        assert!(Digest::parse("sha256:abc").unwrap_err().reason.contains("length"));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(Digest::parse(&upper).is_err());
        let d = Digest::of(b"x");
        assert_eq!(Digest::parse(&d.to_string()), Ok(d));
    }
}
