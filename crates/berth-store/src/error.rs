use std::path::PathBuf;

use berth_core::{Digest, ErrorClass, Exit};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("blob {digest} is not in the store at {location}")]
    NotFound { digest: Digest, location: String },
    #[error("blob {digest} in {location} is corrupt: its content hashes to {actual}")]
    Corrupt { digest: Digest, actual: Digest, location: String },
    #[error("blob {digest} is {size} bytes, over the {max} bytes allowed here")]
    TooLarge { digest: Digest, size: u64, max: u64 },
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    #[error("{path} changed while it was being stored (expected {expected}, read {actual})")]
    Changed { path: PathBuf, expected: Digest, actual: Digest },
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("object store {location}: {}", crate::provider::describe(source))]
    Remote { location: String, source: Box<object_store::Error> },
    #[error("invalid store URL {url:?}: {reason}")]
    Url { url: String, reason: String },
}

impl StoreError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { what, path, source }
    }
}

impl Exit for StoreError {
    fn class(&self) -> ErrorClass {
        match self {
            StoreError::NotFound { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Io { .. }
            | StoreError::Remote { .. } => ErrorClass::Infra,
            StoreError::TooLarge { .. }
            | StoreError::Input { .. }
            | StoreError::Changed { .. }
            | StoreError::Url { .. } => ErrorClass::Input,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            StoreError::Corrupt { .. } => Some(
                "the stored bytes no longer match their name; run `berth fsck` to list every damaged blob, then push the affected versions again from a good copy".into(),
            ),
            StoreError::NotFound { .. } => Some("run `berth fsck` to find versions whose blobs are missing".into()),
            StoreError::Remote { location, source } => {
                crate::provider::ProviderError::parse(&source.to_string()).and_then(|p| p.hint(location)).or_else(|| Some(format!(
                "check that {location} is reachable and that AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are right"
            )))
            }
            StoreError::Io { source, .. } if source.raw_os_error() == Some(28) => {
                Some("the disk is full; free space and retry (nothing partial was kept)".into())
            }
            StoreError::Changed { .. } => Some("wait until the file is no longer being written, then push again".into()),
            StoreError::Url { .. } => Some("use a directory path, file:///abs/path or s3://bucket/prefix".into()),
            _ => None,
        }
    }
}
