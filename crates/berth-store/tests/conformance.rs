//! One suite, every backend: each behaviour runs against the local store, an
//! S3-protocol server (moto on loopback, a fresh bucket per test), and S3
//! behind the local read-through cache.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::Digest;
use berth_store::{BlobStore, CachedStore, Hashed, LocalStore, NoProgress, ObjectBlobStore, StoreError, Verified};
use berth_testkit::noise;
use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

/// How a test damages a stored blob.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// One bit flipped in the middle: the size stays right.
    Flip,
    /// The last byte cut off.
    Truncate,
}

impl Damage {
    fn apply(self, b: &mut Vec<u8>) {
        match self {
            Damage::Flip => {
                let i = b.len() / 2;
                b[i] ^= 1;
            }
            Damage::Truncate => {
                b.pop();
            }
        }
    }
}

/// Damages a stored blob behind the store's back.
type Corrupter = Box<dyn Fn(&Digest, Damage) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// A backend under test, with a way to damage a stored blob behind its back.
struct Backend {
    store: Arc<dyn BlobStore>,
    corrupt: Corrupter,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

fn local() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path().join("store")).unwrap();
    let s2 = store.clone();
    Backend {
        store: Arc::new(store),
        corrupt: Box::new(move |d, damage| {
            let p = s2.blob_path(d);
            Box::pin(async move {
                let mut b = std::fs::read(&p).unwrap();
                damage.apply(&mut b);
                std::fs::write(&p, b).unwrap();
            })
        }),
        _keep: Box::new(dir),
    }
}

fn s3_client(endpoint: &str, bucket: &str, retries: usize) -> Arc<dyn ObjectStore> {
    Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region("us-east-1")
            .with_bucket_name(bucket)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .with_retry(RetryConfig {
                max_retries: retries,
                retry_timeout: Duration::from_secs(5),
                ..Default::default()
            })
            .build()
            .unwrap(),
    )
}

const PREFIX: &str = "team/models";

fn s3_parts() -> (ObjectBlobStore, Arc<dyn ObjectStore>) {
    let bucket = berth_testkit::s3_bucket();
    let client = s3_client(&berth_testkit::s3().endpoint, &bucket, 2);
    (ObjectBlobStore::new(client.clone(), PREFIX, format!("s3://{bucket}/{PREFIX}")), client)
}

fn s3_corrupter(client: Arc<dyn ObjectStore>) -> Corrupter {
    Box::new(move |d, damage| {
        let client = client.clone();
        let key = object_store::path::Path::from(format!("{PREFIX}/{}", berth_store::blob_key(d)));
        Box::pin(async move {
            let mut b = client.get(&key).await.unwrap().bytes().await.unwrap().to_vec();
            damage.apply(&mut b);
            client.put(&key, PutPayload::from(b)).await.unwrap();
        })
    })
}

fn s3() -> Backend {
    let (store, client) = s3_parts();
    Backend { store: Arc::new(store), corrupt: s3_corrupter(client), _keep: Box::new(()) }
}

fn cached() -> Backend {
    let (store, client) = s3_parts();
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalStore::open(dir.path().join("cache")).unwrap();
    Backend { store: Arc::new(CachedStore::new(store, cache)), corrupt: s3_corrupter(client), _keep: Box::new(dir) }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod on_local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::local()).await;
                }
            )*
        }
        mod on_s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::s3()).await;
                }
            )*
        }
        mod on_s3_with_cache {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::cached()).await;
                }
            )*
        }
    };
}

suite!(
    put_names_a_blob_by_its_sha256_and_stores_it_once,
    a_known_digest_skips_reading_the_file,
    get_restores_identical_bytes,
    get_bytes_refuses_blobs_over_the_limit,
    exists_list_and_delete,
    verify_tells_ok_missing_and_corrupt,
    get_refuses_a_corrupted_blob_and_leaves_no_file,
    a_large_file_round_trips,
    many_files_put_in_parallel_all_land,
    a_missing_blob_is_not_found_by_name,
    bad_input_paths_are_input_errors,
    a_put_replaces_a_copy_that_a_read_found_corrupt,
    a_put_replaces_a_copy_of_the_wrong_size,
    replace_file_restores_a_damaged_or_missing_blob,
    adopt_file_stores_a_hashed_file,
);

fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn file(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

async fn put_names_a_blob_by_its_sha256_and_stores_it_once(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = noise(1, 100_000);
    let p = file(dir.path(), "m.bin", &bytes);
    let first = b.store.put_file(&p, None, &NoProgress).await.unwrap();
    assert_eq!(first.digest.to_string(), format!("sha256:{}", sha256_hex(&bytes)));
    assert_eq!((first.size, first.written), (100_000, true));
    let again = b.store.put_file(&p, None, &NoProgress).await.unwrap();
    assert_eq!((again.digest, again.written), (first.digest, false));
    let mem = b.store.put_bytes(Bytes::from(bytes)).await.unwrap();
    assert_eq!((mem.digest, mem.written), (first.digest, false));
    assert_eq!(b.store.list().await.unwrap().len(), 1);
    assert!(b.store.partials().await.unwrap().is_empty());
}

async fn adopt_file_stores_a_hashed_file(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = noise(31, 300_000);
    let digest: Digest = format!("sha256:{}", sha256_hex(&bytes)).parse().unwrap();
    let p = file(dir.path(), "m.bin", &bytes);
    // A size other than the file's is refused, and nothing is stored.
    assert!(b.store.adopt_file(Hashed { path: &p, digest, size: 7 }, &NoProgress).await.is_err());
    assert!(!b.store.exists(&digest).await.unwrap());
    let out = b.store.adopt_file(Hashed { path: &p, digest, size: 300_000 }, &NoProgress).await.unwrap();
    assert_eq!((out.digest, out.size, out.written), (digest, 300_000, true));
    let back = dir.path().join("back.bin");
    b.store.get_to_file(&digest, &back, &NoProgress).await.unwrap();
    assert!(std::fs::read(&back).unwrap() == bytes);
    assert!(b.store.partials().await.unwrap().is_empty());
}

async fn a_known_digest_skips_reading_the_file(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let p = file(dir.path(), "m.bin", b"weights");
    let d = b.store.put_file(&p, None, &NoProgress).await.unwrap().digest;
    // Replace the file's content: with a known digest the store trusts the
    // caller (the stat cache) and does not read it again.
    std::fs::write(&p, b"WEIGHTS").unwrap();
    let out = b.store.put_file(&p, Some(d), &NoProgress).await.unwrap();
    assert_eq!((out.digest, out.written), (d, false));
}

async fn get_restores_identical_bytes(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = noise(2, 70_000);
    let d = b.store.put_file(&file(dir.path(), "m.bin", &bytes), None, &NoProgress).await.unwrap().digest;
    let dest = dir.path().join("out/sub/m.bin");
    assert_eq!(b.store.get_to_file(&d, &dest, &NoProgress).await.unwrap(), 70_000);
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    assert_eq!(b.store.get_bytes(&d, 1 << 20).await.unwrap(), Bytes::from(bytes));
}

async fn get_bytes_refuses_blobs_over_the_limit(b: Backend) {
    let d = b.store.put_bytes(Bytes::from(vec![7u8; 1000])).await.unwrap().digest;
    let e = b.store.get_bytes(&d, 999).await.unwrap_err();
    assert!(matches!(e, StoreError::TooLarge { size: 1000, max: 999, .. }), "{e}");
}

async fn exists_list_and_delete(b: Backend) {
    let a = b.store.put_bytes(Bytes::from_static(b"a")).await.unwrap().digest;
    let c = b.store.put_bytes(Bytes::from_static(b"c")).await.unwrap().digest;
    assert!(b.store.exists(&a).await.unwrap());
    let mut listed: Vec<Digest> = b.store.list().await.unwrap().into_iter().map(|m| m.digest).collect();
    let mut want = vec![a, c];
    listed.sort();
    want.sort();
    assert_eq!(listed, want);
    b.store.delete(&a).await.unwrap();
    assert!(!b.store.exists(&a).await.unwrap());
    b.store.delete(&a).await.expect("deleting twice is fine");
    assert_eq!(b.store.list().await.unwrap().len(), 1);
}

async fn verify_tells_ok_missing_and_corrupt(b: Backend) {
    let d = b.store.put_bytes(Bytes::from(noise(3, 5000))).await.unwrap().digest;
    assert_eq!(b.store.verify(&d).await.unwrap(), Verified::Ok { size: 5000 });
    assert_eq!(b.store.verify(&Digest::of(b"never stored")).await.unwrap(), Verified::Missing);
    (b.corrupt)(&d, Damage::Flip).await;
    assert!(matches!(b.store.verify(&d).await.unwrap(), Verified::Corrupt { .. }));
}

async fn get_refuses_a_corrupted_blob_and_leaves_no_file(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let d = b.store.put_bytes(Bytes::from(noise(4, 50_000))).await.unwrap().digest;
    (b.corrupt)(&d, Damage::Flip).await;
    let dest = dir.path().join("m.bin");
    let e = b.store.get_to_file(&d, &dest, &NoProgress).await.unwrap_err();
    assert!(matches!(&e, StoreError::Corrupt { digest, .. } if *digest == d), "{e}");
    assert!(e.to_string().contains(&d.to_string()), "the error names the blob: {e}");
    assert!(!dest.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "no temporary file is left beside the destination");
    assert!(matches!(b.store.get_bytes(&d, 1 << 20).await.unwrap_err(), StoreError::Corrupt { .. }));
}

async fn a_large_file_round_trips(b: Backend) {
    // 12 MiB: over the single-request limit, so S3 uploads it in parts.
    let dir = tempfile::tempdir().unwrap();
    let bytes = noise(5, 12 << 20);
    let out = b.store.put_file(&file(dir.path(), "big.bin", &bytes), None, &NoProgress).await.unwrap();
    assert_eq!(out.digest.to_string(), format!("sha256:{}", sha256_hex(&bytes)));
    let dest = dir.path().join("back.bin");
    b.store.get_to_file(&out.digest, &dest, &NoProgress).await.unwrap();
    assert!(std::fs::read(&dest).unwrap() == bytes);
}

async fn many_files_put_in_parallel_all_land(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..20).map(|i| file(dir.path(), &format!("f{i}"), &noise(100 + i, 20_000))).collect();
    let puts = futures::future::join_all(paths.iter().map(|p| b.store.put_file(p, None, &NoProgress))).await;
    let digests: Vec<Digest> = puts.into_iter().map(|r| r.unwrap().digest).collect();
    for d in &digests {
        assert!(b.store.exists(d).await.unwrap());
    }
    assert_eq!(b.store.list().await.unwrap().len(), 20);
}

async fn a_missing_blob_is_not_found_by_name(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let d = Digest::of(b"absent");
    let e = b.store.get_to_file(&d, &dir.path().join("x"), &NoProgress).await.unwrap_err();
    assert!(matches!(&e, StoreError::NotFound { digest, .. } if *digest == d), "{e}");
    assert!(e.to_string().contains(&d.to_string()));
}

async fn bad_input_paths_are_input_errors(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let e = b.store.put_file(&dir.path().join("nope"), None, &NoProgress).await.unwrap_err();
    assert!(matches!(&e, StoreError::Input { reason, .. } if reason.contains("does not exist")), "{e}");
    let e = b.store.put_file(dir.path(), None, &NoProgress).await.unwrap_err();
    assert!(matches!(&e, StoreError::Input { reason, .. } if reason.contains("not a regular file")), "{e}");
}

async fn a_put_replaces_a_copy_that_a_read_found_corrupt(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = noise(8, 60_000);
    let p = file(dir.path(), "m.bin", &bytes);
    let d = b.store.put_file(&p, None, &NoProgress).await.unwrap().digest;
    (b.corrupt)(&d, Damage::Flip).await;
    // Until a read notices, a put with a known digest trusts a copy of the
    // right size: re-reading it on every push would cost as much as the push.
    let trusted = b.store.put_file(&p, Some(d), &NoProgress).await.unwrap();
    assert_eq!((trusted.written, trusted.repaired), (false, false));
    // A pull finds the damage; the next put of the good bytes replaces the copy.
    let e = b.store.get_to_file(&d, &dir.path().join("out"), &NoProgress).await.unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    let fixed = b.store.put_file(&p, Some(d), &NoProgress).await.unwrap();
    assert_eq!((fixed.digest, fixed.written, fixed.repaired), (d, true, true));
    assert_eq!(b.store.verify(&d).await.unwrap(), Verified::Ok { size: 60_000 });
    assert_eq!(b.store.get_bytes(&d, 1 << 20).await.unwrap(), Bytes::from(bytes));
    // Repaired once, trusted again.
    let again = b.store.put_file(&p, Some(d), &NoProgress).await.unwrap();
    assert_eq!((again.written, again.repaired), (false, false));

    // The same through fsck's check, and without a known digest.
    (b.corrupt)(&d, Damage::Flip).await;
    assert!(matches!(b.store.verify(&d).await.unwrap(), Verified::Corrupt { .. }));
    let fixed = b.store.put_file(&p, None, &NoProgress).await.unwrap();
    assert_eq!((fixed.written, fixed.repaired), (true, true));
    assert_eq!(b.store.verify(&d).await.unwrap(), Verified::Ok { size: 60_000 });
    assert!(b.store.partials().await.unwrap().is_empty());
}

async fn a_put_replaces_a_copy_of_the_wrong_size(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let p = file(dir.path(), "m.bin", &noise(9, 30_000));
    let d = b.store.put_file(&p, None, &NoProgress).await.unwrap().digest;
    (b.corrupt)(&d, Damage::Truncate).await;
    // No read has looked at it: the size alone gives it away.
    let fixed = b.store.put_file(&p, Some(d), &NoProgress).await.unwrap();
    assert_eq!((fixed.written, fixed.repaired), (true, true));
    assert_eq!(b.store.verify(&d).await.unwrap(), Verified::Ok { size: 30_000 });

    let manifest = Bytes::from(noise(10, 2000));
    let m = b.store.put_bytes(manifest.clone()).await.unwrap().digest;
    (b.corrupt)(&m, Damage::Truncate).await;
    let fixed = b.store.put_bytes(manifest.clone()).await.unwrap();
    assert_eq!((fixed.written, fixed.repaired), (true, true));
    assert_eq!(b.store.get_bytes(&m, 1 << 20).await.unwrap(), manifest);
}

async fn replace_file_restores_a_damaged_or_missing_blob(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = noise(11, 40_000);
    let p = file(dir.path(), "m.bin", &bytes);
    let d = b.store.put_file(&p, None, &NoProgress).await.unwrap().digest;
    (b.corrupt)(&d, Damage::Flip).await;
    let out = b.store.replace_file(&p, &d, &NoProgress).await.unwrap();
    assert_eq!((out.digest, out.size, out.written, out.repaired), (d, 40_000, true, true));
    assert_eq!(b.store.verify(&d).await.unwrap(), Verified::Ok { size: 40_000 });

    b.store.delete(&d).await.unwrap();
    let out = b.store.replace_file(&p, &d, &NoProgress).await.unwrap();
    assert_eq!((out.written, out.repaired), (true, false));
    assert_eq!(b.store.get_bytes(&d, 1 << 20).await.unwrap(), Bytes::from(bytes));

    // A file that does not hold the blob's bytes changes nothing.
    let other = file(dir.path(), "other.bin", &noise(12, 40_000));
    let e = b.store.replace_file(&other, &d, &NoProgress).await.unwrap_err();
    assert!(matches!(&e, StoreError::Changed { expected, .. } if *expected == d), "{e}");
    assert_eq!(b.store.verify(&d).await.unwrap(), Verified::Ok { size: 40_000 });
    assert!(b.store.partials().await.unwrap().is_empty());
}

/// Temporary files name their writer (`host:pid`), so gc can tell whose
/// they are; files without that form have no owner and wait to age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partials_name_their_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path().join("store")).unwrap();
    let tmp = dir.path().join("store/tmp");
    std::fs::write(tmp.join("4194301-0-17@build-host.partial"), b"half").unwrap();
    std::fs::write(tmp.join("4194302-3-9.partial"), b"older form").unwrap();
    let partials = store.partials().await.unwrap();
    let owners: Vec<(u64, Option<&str>)> = partials.iter().map(|p| (p.size, p.owner.as_deref())).collect();
    assert_eq!(owners, [(4, Some("build-host:4194301")), (10, None)]);
    assert!(store.remove_partial(&partials[0]).await.unwrap());
    assert!(!store.remove_partial(&partials[0]).await.unwrap(), "already gone");
    assert_eq!(store.partials().await.unwrap().len(), 1);

    // Only files in tmp/ can be removed this way.
    let blob = store.put_bytes(Bytes::from_static(b"keep me")).await.unwrap().digest;
    let outside = berth_store::Partial {
        path: store.blob_path(&blob).display().to_string(),
        size: 7,
        modified: None,
        owner: None,
    };
    assert!(matches!(store.remove_partial(&outside).await.unwrap_err(), StoreError::Input { .. }));
    assert_eq!(store.verify(&blob).await.unwrap(), Verified::Ok { size: 7 });
}

/// With the remote unreachable, blobs already in the cache are still served
/// (verified), and others fail within a bounded time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_serves_when_the_remote_is_down() {
    let (remote, _) = s3_parts();
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let up = CachedStore::new(remote, LocalStore::open(&cache_dir).unwrap());
    let d = up.put_bytes(Bytes::from(noise(6, 30_000))).await.unwrap().digest;
    up.get_to_file(&d, &dir.path().join("warm"), &NoProgress).await.unwrap();
    let other = up.put_bytes(Bytes::from_static(b"never read")).await.unwrap().digest;

    let dead = format!("http://127.0.0.1:{}", berth_testkit::closed_port());
    let down = CachedStore::new(
        ObjectBlobStore::new(s3_client(&dead, "nowhere", 1), PREFIX, "s3://nowhere".into()),
        LocalStore::open(&cache_dir).unwrap(),
    );
    down.get_to_file(&d, &dir.path().join("offline"), &NoProgress).await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("offline")).unwrap(), noise(6, 30_000));
    let t = Instant::now();
    let e = down.get_to_file(&other, &dir.path().join("x"), &NoProgress).await.unwrap_err();
    assert!(matches!(e, StoreError::Remote { .. }), "{e}");
    assert!(e.to_string().contains("s3://nowhere"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(60), "bounded retries, took {:?}", t.elapsed());
}

/// A corrupted copy in the cache is dropped and fetched again from the remote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_cache_entry_is_fetched_again() {
    let (remote, _) = s3_parts();
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalStore::open(dir.path().join("cache")).unwrap();
    let store = CachedStore::new(remote, cache.clone());
    let bytes = noise(7, 40_000);
    let d = store.put_bytes(Bytes::from(bytes.clone())).await.unwrap().digest;
    store.get_to_file(&d, &dir.path().join("a"), &NoProgress).await.unwrap();
    let p = cache.blob_path(&d);
    let mut b = std::fs::read(&p).unwrap();
    b[0] ^= 1;
    std::fs::write(&p, b).unwrap();
    store.get_to_file(&d, &dir.path().join("b"), &NoProgress).await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("b")).unwrap(), bytes);
    assert_eq!(cache.verify(&d).await.unwrap(), Verified::Ok { size: 40_000 });
}
