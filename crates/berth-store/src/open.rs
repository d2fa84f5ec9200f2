//! Choosing a backend from a URL: a directory path or `file://` URL for the
//! local store, `s3://bucket/prefix` for S3-compatible storage (endpoint and
//! credentials from the standard `AWS_*` environment variables), and `gs://`
//! and `az://` when built with the `gcs` and `azure` features.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use crate::{BlobStore, CachedStore, LocalStore, ObjectBlobStore, Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
    Gcs { bucket: String, prefix: String },
    Azure { container: String, prefix: String },
}

impl StoreUrl {
    /// Parses a store URL; relative directory paths are taken from `base`.
    pub fn parse(s: &str, base: &Path) -> Result<Self> {
        let bad = |reason: &str| StoreError::Url { url: s.to_string(), reason: reason.to_string() };
        if let Some(rest) = s.strip_prefix("file://") {
            if !rest.starts_with('/') {
                return Err(bad("a file:// URL needs an absolute path, e.g. file:///srv/berth"));
            }
            return Ok(StoreUrl::Local(PathBuf::from(rest)));
        }
        if let Some((scheme, rest)) = s.split_once("://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("the bucket name is missing"));
            }
            let (bucket, prefix) = (bucket.to_string(), prefix.trim_matches('/').to_string());
            return match scheme {
                "s3" => Ok(StoreUrl::S3 { bucket, prefix }),
                "gs" => Ok(StoreUrl::Gcs { bucket, prefix }),
                "az" => Ok(StoreUrl::Azure { container: bucket, prefix }),
                other => Err(bad(&format!("unknown scheme {other:?}"))),
            };
        }
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        Ok(StoreUrl::Local(base.join(s)))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |scheme: &str, b: &str, p: &str| {
            if p.is_empty() { format!("{scheme}://{b}") } else { format!("{scheme}://{b}/{p}") }
        };
        match self {
            StoreUrl::Local(p) => write!(f, "file://{}", p.display()),
            StoreUrl::S3 { bucket, prefix } => f.write_str(&join("s3", bucket, prefix)),
            StoreUrl::Gcs { bucket, prefix } => f.write_str(&join("gs", bucket, prefix)),
            StoreUrl::Azure { container, prefix } => f.write_str(&join("az", container, prefix)),
        }
    }
}

/// Bounded retries with exponential backoff: a store that is down fails the
/// command within about twenty seconds instead of hanging.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(20),
    }
}

fn client_options() -> ClientOptions {
    ClientOptions::new().with_connect_timeout(Duration::from_secs(5)).with_timeout(Duration::from_secs(300))
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

fn remote(url: &StoreUrl) -> Result<ObjectBlobStore> {
    let shown = url.to_string();
    let build_err = |e: object_store::Error| StoreError::Url { url: shown.clone(), reason: e.to_string() };
    match url {
        StoreUrl::S3 { bucket, prefix } => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry())
                .with_client_options(client_options())
                .with_virtual_hosted_style_request(false);
            if env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
                b = b.with_region("us-east-1");
            }
            if let Some(ep) = env("AWS_ENDPOINT_URL").or_else(|| env("AWS_ENDPOINT")) {
                b = b.with_allow_http(ep.starts_with("http://"));
            }
            let store = b.build().map_err(build_err)?;
            Ok(ObjectBlobStore::new(Arc::new(store), prefix, shown.clone()))
        }
        #[cfg(feature = "gcs")]
        StoreUrl::Gcs { bucket, prefix } => {
            let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry())
                .with_client_options(client_options())
                .build()
                .map_err(build_err)?;
            Ok(ObjectBlobStore::new(Arc::new(store), prefix, shown.clone()))
        }
        #[cfg(feature = "azure")]
        StoreUrl::Azure { container, prefix } => {
            let store = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(container)
                .with_retry(retry())
                .with_client_options(client_options())
                .build()
                .map_err(build_err)?;
            Ok(ObjectBlobStore::new(Arc::new(store), prefix, shown.clone()))
        }
        #[allow(unreachable_patterns)]
        StoreUrl::Gcs { .. } | StoreUrl::Azure { .. } => Err(StoreError::Url {
            url: shown.clone(),
            reason: "this berth was built without support for it; rebuild with `--features gcs` or `--features azure`"
                .into(),
        }),
        StoreUrl::Local(_) => unreachable!("local stores are opened directly"),
    }
}

/// Opens the store a URL names. A remote store gets a read-through cache in
/// `cache_dir` when one is given.
pub fn open_store(url: &StoreUrl, cache_dir: Option<&Path>) -> Result<Arc<dyn BlobStore>> {
    match url {
        StoreUrl::Local(p) => Ok(Arc::new(LocalStore::open(p)?)),
        other => {
            let r = remote(other)?;
            match cache_dir {
                Some(dir) => Ok(Arc::new(CachedStore::new(r, LocalStore::open(dir)?))),
                None => Ok(Arc::new(r)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_pick_the_backend() {
        let base = Path::new("/proj");
        assert_eq!(StoreUrl::parse(".berth/store", base).unwrap(), StoreUrl::Local("/proj/.berth/store".into()));
        assert_eq!(StoreUrl::parse("file:///srv/b", base).unwrap(), StoreUrl::Local("/srv/b".into()));
        assert_eq!(
            StoreUrl::parse("s3://models/team/a/", base).unwrap(),
            StoreUrl::S3 { bucket: "models".into(), prefix: "team/a".into() }
        );
        assert_eq!(StoreUrl::parse("s3://models", base).unwrap().to_string(), "s3://models");
        assert!(StoreUrl::parse("ftp://x/y", base).is_err());
        assert!(StoreUrl::parse("s3:///y", base).is_err());
        assert!(StoreUrl::parse("file://rel", base).is_err());
    }
}
