//! The blob store suite: every behaviour below is one async function over
//! `dyn BlobStore`, run on the local backend, on S3 against a real
//! S3-protocol server (moto's server mode, started once for this test binary
//! on a loopback port, a fresh bucket per test) and on S3 behind the local
//! read-through cache. Tests are named `local::<behaviour>`,
//! `s3::<behaviour>` and `cached::<behaviour>`. Without moto the S3 tests
//! fail, saying how to install it; nothing is skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use berth_core::{Digest, ErrorClass, Exit};
use berth_store::{BlobStore, CachedStore, LocalStore, NoProgress, ObjectBlobStore, StoreError, Verified};
use bytes::Bytes;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use sha2::Digest as _;

// ---------------------------------------------------------------------------
// The S3 server: moto, one per test binary.
// ---------------------------------------------------------------------------

struct Moto {
    port: u16,
    _server: Child,
    /// Stops moto once this test process is gone.
    _watcher: Child,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local address").port()
}

fn answers(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

/// Starts one candidate command and waits (up to ~20 s) for it to listen.
fn start_moto(program: &str, args: &[&str], port: u16) -> Result<Child, String> {
    let port_s = port.to_string();
    let mut child = Command::new(program)
        .args(args)
        .args(["-H", "127.0.0.1", "-p", &port_s])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("`{program}` could not be started: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("`{program} {}` exited with {status}", args.join(" ")));
        }
        if answers(port) {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("`{program} {}` did not listen on port {port} within 20 s", args.join(" ")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn moto() -> &'static Moto {
    static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();
    let started = MOTO.get_or_init(|| {
        let mut failures = Vec::new();
        for (program, args) in [("moto_server", &[][..]), ("python3", &["-m", "moto.server"][..])] {
            let port = free_port();
            match start_moto(program, args, port) {
                Ok(server) => {
                    let watcher = Command::new("sh")
                        .arg("-c")
                        .arg(format!(
                            "while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill {moto} 2>/dev/null",
                            parent = std::process::id(),
                            moto = server.id()
                        ))
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .map_err(|e| format!("cannot start sh to watch moto: {e}"))?;
                    return Ok(Moto { port, _server: server, _watcher: watcher });
                }
                Err(e) => failures.push(e),
            }
        }
        Err(failures.join("; "))
    });
    match started {
        Ok(m) => m,
        Err(e) => panic!(
            "the S3 tests need moto's S3 server and it could not be started ({e}); install it with `pip install 'moto[server]'`"
        ),
    }
}

/// Sends one HTTP/1.1 request without a body and returns the status code.
fn http(port: u16, method: &str, path: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to moto");
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .expect("send the request");
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let head = String::from_utf8_lossy(&response);
    head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// A fresh, empty bucket on the moto server.
fn new_bucket() -> String {
    let m = moto();
    let bucket = unique("berth");
    let code = http(m.port, "PUT", &format!("/{bucket}"));
    assert_eq!(code, 200, "creating bucket {bucket} on moto (port {}) answered HTTP {code}", m.port);
    bucket
}

fn s3_client(endpoint: &str, bucket: &str) -> Arc<dyn ObjectStore> {
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_region("us-east-1")
        .with_bucket_name(bucket)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_retry(RetryConfig { max_retries: 2, retry_timeout: Duration::from_secs(5), ..Default::default() })
        .build()
        .expect("build the S3 client");
    Arc::new(s3)
}

const PREFIX: &str = "team-a/models";

// ---------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------

enum Kind {
    Local(LocalStore),
    /// The raw client and the key prefix, to tamper with objects directly.
    S3(Arc<dyn ObjectStore>),
}

/// A store under test, with what it needs to stay alive and to be tampered with.
struct Backend {
    store: Arc<dyn BlobStore>,
    kind: Kind,
    /// Scratch space for input and output files (and the local store or cache).
    dir: tempfile::TempDir,
    /// Where the bytes are kept: what an error about damaged bytes must name.
    origin: String,
}

impl Backend {
    fn local() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("store")).unwrap();
        let origin = store.location();
        Backend { store: Arc::new(store.clone()), kind: Kind::Local(store), dir, origin }
    }

    fn s3_remote() -> (ObjectBlobStore, Arc<dyn ObjectStore>) {
        let bucket = new_bucket();
        let client = s3_client(&format!("http://127.0.0.1:{}", moto().port), &bucket);
        (ObjectBlobStore::new(client.clone(), PREFIX, format!("s3://{bucket}/{PREFIX}")), client)
    }

    fn s3() -> Backend {
        let (store, client) = Self::s3_remote();
        let origin = store.location();
        Backend { store: Arc::new(store), kind: Kind::S3(client), dir: tempfile::tempdir().unwrap(), origin }
    }

    fn cached() -> Backend {
        let (remote, client) = Self::s3_remote();
        let dir = tempfile::tempdir().unwrap();
        let cache = LocalStore::open(dir.path().join("cache")).unwrap();
        let origin = remote.location();
        Backend { store: Arc::new(CachedStore::new(remote, cache)), kind: Kind::S3(client), dir, origin }
    }

    /// A path for test files, outside the store.
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join("files").join(rel)
    }

    fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Changes one byte of a stored blob behind the store's back: on disk for
    /// the local store, by overwriting the object for S3 (and the cache's
    /// remote, the source of truth).
    async fn tamper(&self, d: &Digest) {
        match &self.kind {
            Kind::Local(store) => {
                let p = store.blob_path(d);
                let mut b = std::fs::read(&p).unwrap();
                let i = b.len() / 2;
                b[i] ^= 0x01;
                std::fs::write(&p, b).unwrap();
            }
            Kind::S3(client) => {
                let key = object_store::path::Path::from(format!("{PREFIX}/{}", berth_store::blob_key(d)));
                let mut b = client.get(&key).await.unwrap().bytes().await.unwrap().to_vec();
                let i = b.len() / 2;
                b[i] ^= 0x01;
                client.put(&key, PutPayload::from(b)).await.unwrap();
            }
        }
    }
}

/// Generates `local::<name>`, `s3::<name>` and `cached::<name>` for each suite function.
macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::local()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::s3()).await;
                }
            )*
        }
        mod cached {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::cached()).await;
                }
            )*
        }
    };
}

store_suite!(
    put_file_names_the_blob_by_the_sha256_of_its_bytes,
    putting_the_same_bytes_again_writes_nothing,
    a_known_digest_already_stored_is_not_read_again,
    a_known_digest_that_does_not_match_the_file_is_refused,
    put_bytes_stores_bytes_held_in_memory,
    get_to_file_restores_identical_bytes,
    get_bytes_refuses_a_blob_over_the_limit,
    exists_list_and_delete_agree,
    verify_reports_ok_missing_and_corrupt,
    get_refuses_a_corrupted_blob,
    a_corrupted_blob_leaves_an_existing_destination_untouched,
    a_12_mib_file_round_trips,
    twenty_files_put_in_parallel_all_land,
    a_missing_blob_is_not_found_by_its_digest,
    a_missing_input_path_or_a_directory_is_an_input_error,
    no_partial_files_are_left_after_successful_puts,
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Deterministic pseudo-random bytes (xorshift64).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// `sha256:<hex>` computed here, independently of berth's Digest.
fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&sha2::Sha256::digest(bytes)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------

async fn put_file_names_the_blob_by_the_sha256_of_its_bytes(b: Backend) {
    // A published test vector first, then arbitrary bytes.
    let abc = b.store.put_file(&b.file("abc.txt", b"abc"), None, &NoProgress).await.unwrap();
    assert_eq!(abc.digest.to_string(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!((abc.size, abc.written), (3, true));

    let bytes = noise(1, 100_003);
    let out = b.store.put_file(&b.file("model.onnx", &bytes), None, &NoProgress).await.unwrap();
    assert_eq!(out.digest.to_string(), sha256(&bytes));
    assert_eq!((out.size, out.written), (100_003, true));
    assert!(b.store.exists(&out.digest).await.unwrap());
    assert_eq!(b.store.get_bytes(&out.digest, 1 << 20).await.unwrap(), bytes);
}

async fn putting_the_same_bytes_again_writes_nothing(b: Backend) {
    let bytes = noise(2, 40_000);
    let first = b.store.put_file(&b.file("a.bin", &bytes), None, &NoProgress).await.unwrap();
    assert!(first.written);
    let again = b.store.put_file(&b.file("a.bin", &bytes), None, &NoProgress).await.unwrap();
    assert_eq!(again, berth_store::PutOutcome { written: false, ..first });
    // The same bytes under another name, or from memory, are the same blob.
    let copy = b.store.put_file(&b.file("copy/b.bin", &bytes), None, &NoProgress).await.unwrap();
    assert_eq!((copy.digest, copy.written), (first.digest, false));
    let mem = b.store.put_bytes(Bytes::from(bytes)).await.unwrap();
    assert_eq!((mem.digest, mem.written), (first.digest, false));
    assert_eq!(b.store.list().await.unwrap().len(), 1);
}

async fn a_known_digest_already_stored_is_not_read_again(b: Backend) {
    let p = b.file("weights.bin", b"the weights");
    let d = b.store.put_file(&p, None, &NoProgress).await.unwrap().digest;
    // Change the file: if the store read it, the bytes would not match `known`
    // (a Changed error, or another digest). It must trust `known` instead.
    std::fs::write(&p, b"THE WEIGHTS").unwrap();
    let out = b.store.put_file(&p, Some(d), &NoProgress).await.unwrap();
    assert_eq!((out.digest, out.written), (d, false));
    assert_eq!(b.store.get_bytes(&d, 1024).await.unwrap(), &b"the weights"[..], "the stored blob is untouched");
    assert_eq!(b.store.list().await.unwrap().len(), 1);
}

async fn a_known_digest_that_does_not_match_the_file_is_refused(b: Backend) {
    let p = b.file("weights.bin", b"what is on disk now");
    let claimed = Digest::of(b"what the stat cache remembered");
    let e = b.store.put_file(&p, Some(claimed), &NoProgress).await.unwrap_err();
    match &e {
        StoreError::Changed { path, expected, actual } => {
            assert_eq!((path, *expected, *actual), (&p, claimed, Digest::of(b"what is on disk now")))
        }
        other => panic!("expected Changed, got {other:?}"),
    }
    assert!(!b.store.exists(&claimed).await.unwrap(), "nothing is stored under the wrong name");
    assert!(b.store.list().await.unwrap().is_empty());
}

async fn put_bytes_stores_bytes_held_in_memory(b: Backend) {
    let bytes = Bytes::from(noise(3, 5_000));
    let out = b.store.put_bytes(bytes.clone()).await.unwrap();
    assert_eq!(out.digest.to_string(), sha256(&bytes));
    assert_eq!((out.size, out.written), (5_000, true));
    assert_eq!(b.store.get_bytes(&out.digest, 5_000).await.unwrap(), bytes);
    assert!(!b.store.put_bytes(bytes).await.unwrap().written);
    // The empty blob is a blob too.
    let empty = b.store.put_bytes(Bytes::new()).await.unwrap();
    assert_eq!(empty.digest.to_string(), sha256(b""));
    assert_eq!(b.store.get_bytes(&empty.digest, 0).await.unwrap(), Bytes::new());
}

async fn get_to_file_restores_identical_bytes(b: Backend) {
    let bytes = noise(4, 300_000);
    let d = b.store.put_file(&b.file("m.bin", &bytes), None, &NoProgress).await.unwrap().digest;
    let dest = b.path("restore/deep/dir/m.bin");
    assert_eq!(b.store.get_to_file(&d, &dest, &NoProgress).await.unwrap(), 300_000);
    assert_eq!(std::fs::read(&dest).unwrap(), bytes, "parent directories are created");
    // An existing file is replaced, and nothing else is left beside it.
    std::fs::write(&dest, b"stale").unwrap();
    b.store.get_to_file(&d, &dest, &NoProgress).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    assert_eq!(files_in(dest.parent().unwrap()), ["m.bin"]);
    // And it is still verified: a second read gives the same bytes.
    assert_eq!(b.store.verify(&d).await.unwrap(), Verified::Ok { size: 300_000 });
}

async fn get_bytes_refuses_a_blob_over_the_limit(b: Backend) {
    let d = b.store.put_bytes(Bytes::from(vec![7u8; 1000])).await.unwrap().digest;
    let e = b.store.get_bytes(&d, 999).await.unwrap_err();
    assert!(matches!(&e, StoreError::TooLarge { digest, size: 1000, max: 999 } if *digest == d), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Input);
    assert_eq!(b.store.get_bytes(&d, 1000).await.unwrap().len(), 1000, "exactly the limit is allowed");
}

async fn exists_list_and_delete_agree(b: Backend) {
    assert!(b.store.list().await.unwrap().is_empty());
    let a = b.store.put_bytes(Bytes::from_static(b"a")).await.unwrap().digest;
    let c = b.store.put_bytes(Bytes::from(noise(5, 2048))).await.unwrap().digest;
    let never = Digest::of(b"never stored");
    assert!(b.store.exists(&a).await.unwrap());
    assert!(b.store.exists(&c).await.unwrap());
    assert!(!b.store.exists(&never).await.unwrap());

    let listed: Vec<(Digest, u64)> = b.store.list().await.unwrap().into_iter().map(|m| (m.digest, m.size)).collect();
    let mut want = vec![(a, 1), (c, 2048)];
    want.sort();
    assert_eq!(listed, want, "sorted by digest, with sizes");

    b.store.delete(&a).await.unwrap();
    assert!(!b.store.exists(&a).await.unwrap());
    assert!(matches!(b.store.get_bytes(&a, 10).await.unwrap_err(), StoreError::NotFound { .. }));
    b.store.delete(&a).await.expect("deleting an absent blob is fine");
    b.store.delete(&never).await.expect("deleting a never-stored blob is fine");
    assert_eq!(b.store.list().await.unwrap().into_iter().map(|m| m.digest).collect::<Vec<_>>(), [c]);
    // Deleted bytes can be stored again.
    assert!(b.store.put_bytes(Bytes::from_static(b"a")).await.unwrap().written);
}

async fn verify_reports_ok_missing_and_corrupt(b: Backend) {
    let d = b.store.put_bytes(Bytes::from(noise(6, 5000))).await.unwrap().digest;
    assert_eq!(b.store.verify(&d).await.unwrap(), Verified::Ok { size: 5000 });
    assert_eq!(b.store.verify(&Digest::of(b"never stored")).await.unwrap(), Verified::Missing);
    b.tamper(&d).await;
    match b.store.verify(&d).await.unwrap() {
        Verified::Corrupt { actual } => assert_ne!(actual, d),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

async fn get_refuses_a_corrupted_blob(b: Backend) {
    let d = b.store.put_bytes(Bytes::from(noise(7, 50_000))).await.unwrap().digest;
    b.tamper(&d).await;
    let out_dir = b.path("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let dest = out_dir.join("m.bin");

    let e = b.store.get_to_file(&d, &dest, &NoProgress).await.unwrap_err();
    assert!(matches!(&e, StoreError::Corrupt { digest, actual, .. } if *digest == d && *actual != d), "{e:?}");
    assert!(e.to_string().contains(&d.to_string()), "the error names the blob: {e}");
    assert!(
        matches!(&e, StoreError::Corrupt { location, .. } if *location == b.origin),
        "the error names where the damaged bytes are ({}): {e}",
        b.origin
    );
    assert!(e.hint().is_some_and(|h| h.contains("fsck")), "{:?}", e.hint());
    assert!(!dest.exists(), "nothing is written where the blob was asked for");
    assert!(files_in(&out_dir).is_empty(), "no temporary file is left beside it: {:?}", files_in(&out_dir));

    let e = b.store.get_bytes(&d, 1 << 20).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Corrupt { digest, location, .. } if *digest == d && *location == b.origin),
        "{e:?}"
    );
    assert!(matches!(b.store.verify(&d).await.unwrap(), Verified::Corrupt { .. }));
}

async fn a_corrupted_blob_leaves_an_existing_destination_untouched(b: Backend) {
    let d = b.store.put_bytes(Bytes::from(noise(8, 20_000))).await.unwrap().digest;
    b.tamper(&d).await;
    let dest = b.file("out/m.bin", b"the previous version");
    let e = b.store.get_to_file(&d, &dest, &NoProgress).await.unwrap_err();
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), b"the previous version");
    assert_eq!(files_in(dest.parent().unwrap()), ["m.bin"]);
}

async fn a_12_mib_file_round_trips(b: Backend) {
    // Over the 8 MiB single-request limit: S3 uploads it in parts.
    let bytes = noise(9, 12 << 20);
    let out = b.store.put_file(&b.file("big.bin", &bytes), None, &NoProgress).await.unwrap();
    assert_eq!(out.digest.to_string(), sha256(&bytes));
    assert_eq!((out.size, out.written), (12 << 20, true));
    assert_eq!(
        b.store.list().await.unwrap().iter().map(|m| (m.digest, m.size)).collect::<Vec<_>>(),
        [(out.digest, 12 << 20)]
    );
    let dest = b.path("back/big.bin");
    assert_eq!(b.store.get_to_file(&out.digest, &dest, &NoProgress).await.unwrap(), 12 << 20);
    assert!(std::fs::read(&dest).unwrap() == bytes, "the 12 MiB came back identical");
    assert_eq!(b.store.verify(&out.digest).await.unwrap(), Verified::Ok { size: 12 << 20 });
    assert!(!b.store.put_file(&b.file("big.bin", &bytes), None, &NoProgress).await.unwrap().written);
}

async fn twenty_files_put_in_parallel_all_land(b: Backend) {
    let contents: Vec<Vec<u8>> = (0..20).map(|i| noise(100 + i, 10_000 + i as usize * 997)).collect();
    let paths: Vec<PathBuf> = contents.iter().enumerate().map(|(i, c)| b.file(&format!("many/f{i}.bin"), c)).collect();
    let puts = futures::future::join_all(paths.iter().map(|p| b.store.put_file(p, None, &NoProgress))).await;
    let mut digests = Vec::new();
    for (i, r) in puts.into_iter().enumerate() {
        let out = r.unwrap_or_else(|e| panic!("file {i}: {e}"));
        assert_eq!(out.digest.to_string(), sha256(&contents[i]));
        assert!(out.written);
        digests.push(out.digest);
    }
    let mut listed: Vec<Digest> = b.store.list().await.unwrap().into_iter().map(|m| m.digest).collect();
    listed.sort();
    let mut want = digests.clone();
    want.sort();
    assert_eq!(listed, want);
    let gets = futures::future::join_all(digests.iter().map(|d| b.store.get_bytes(d, 1 << 20))).await;
    for (i, g) in gets.into_iter().enumerate() {
        assert_eq!(g.unwrap(), contents[i], "file {i}");
    }
}

async fn a_missing_blob_is_not_found_by_its_digest(b: Backend) {
    let d = Digest::of(b"absent");
    let dest = b.path("out/x.bin");
    let e = b.store.get_to_file(&d, &dest, &NoProgress).await.unwrap_err();
    assert!(matches!(&e, StoreError::NotFound { digest, .. } if *digest == d), "{e:?}");
    assert!(e.to_string().contains(&d.to_string()), "the error names the blob: {e}");
    assert!(!dest.exists());
    let e = b.store.get_bytes(&d, 1 << 20).await.unwrap_err();
    assert!(matches!(&e, StoreError::NotFound { digest, .. } if *digest == d), "{e:?}");
}

async fn a_missing_input_path_or_a_directory_is_an_input_error(b: Backend) {
    let missing = b.path("no/such/file.bin");
    let e = b.store.put_file(&missing, None, &NoProgress).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Input { path, reason } if *path == missing && reason.contains("does not exist")),
        "{e:?}"
    );
    assert_eq!(e.class(), ErrorClass::Input);

    let dir = b.path("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    let e = b.store.put_file(&dir, None, &NoProgress).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Input { path, reason } if *path == dir && reason.contains("not a regular file")),
        "{e:?}"
    );
    // Even with a known digest the input is checked.
    let e = b.store.put_file(&missing, Some(Digest::of(b"x")), &NoProgress).await.unwrap_err();
    assert!(matches!(e, StoreError::Input { .. }), "{e:?}");
    assert!(b.store.list().await.unwrap().is_empty());
}

async fn no_partial_files_are_left_after_successful_puts(b: Backend) {
    for i in 0..5 {
        b.store.put_file(&b.file(&format!("p{i}"), &noise(200 + i, 30_000)), None, &NoProgress).await.unwrap();
    }
    b.store.put_bytes(Bytes::from_static(b"manifest")).await.unwrap();
    let d = b.store.put_bytes(Bytes::from(noise(300, 9_000))).await.unwrap().digest;
    b.store.get_to_file(&d, &b.path("r/out.bin"), &NoProgress).await.unwrap();
    assert!(b.store.partials().await.unwrap().is_empty(), "{:?}", b.store.partials().await.unwrap());
    assert_eq!(b.store.remove_partials(Duration::ZERO).await.unwrap(), 0);
    assert_eq!(files_in(&b.path("r")), ["out.bin"]);
}

// ---------------------------------------------------------------------------
// The cache in front of S3
// ---------------------------------------------------------------------------

/// With the remote unreachable, blobs the cache holds are still served
/// (verified) and others fail, with a remote error, in bounded time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_blobs_are_served_when_the_remote_is_down() {
    let (remote, _) = Backend::s3_remote();
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let up = CachedStore::new(remote, LocalStore::open(&cache_dir).unwrap());
    let warm = noise(10, 30_000);
    let d = up.put_bytes(Bytes::from(warm.clone())).await.unwrap().digest;
    up.get_to_file(&d, &dir.path().join("first-read"), &NoProgress).await.unwrap();
    let cold = up.put_bytes(Bytes::from_static(b"never read through the cache")).await.unwrap().digest;

    let dead = format!("http://127.0.0.1:{}", free_port());
    let down = CachedStore::new(
        ObjectBlobStore::new(s3_client(&dead, "gone"), PREFIX, format!("s3://gone/{PREFIX}")),
        LocalStore::open(&cache_dir).unwrap(),
    );
    let offline = dir.path().join("offline.bin");
    assert_eq!(down.get_to_file(&d, &offline, &NoProgress).await.unwrap(), 30_000);
    assert_eq!(std::fs::read(&offline).unwrap(), warm);
    assert_eq!(down.get_bytes(&d, 1 << 20).await.unwrap(), warm);

    let t = Instant::now();
    let e = down.get_to_file(&cold, &dir.path().join("cold.bin"), &NoProgress).await.unwrap_err();
    let took = t.elapsed();
    assert!(matches!(e, StoreError::Remote { .. } | StoreError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("s3://gone"), "the error names the remote: {e}");
    assert_eq!(e.class(), ErrorClass::Infra);
    assert!(took < Duration::from_secs(60), "bounded retries, but it took {took:?}");
    assert!(!dir.path().join("cold.bin").exists());
}

/// A damaged copy in the cache is dropped and fetched again from the remote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_cache_entry_is_fetched_again() {
    let (remote, _) = Backend::s3_remote();
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalStore::open(dir.path().join("cache")).unwrap();
    let store = CachedStore::new(remote, cache.clone());
    let bytes = noise(11, 40_000);
    let d = store.put_bytes(Bytes::from(bytes.clone())).await.unwrap().digest;
    store.get_to_file(&d, &dir.path().join("a"), &NoProgress).await.unwrap();
    assert_eq!(cache.verify(&d).await.unwrap(), Verified::Ok { size: 40_000 }, "the read filled the cache");

    let p = cache.blob_path(&d);
    let mut damaged = std::fs::read(&p).unwrap();
    damaged[0] ^= 0x01;
    std::fs::write(&p, &damaged).unwrap();
    store.get_to_file(&d, &dir.path().join("b"), &NoProgress).await.unwrap();
    assert_eq!(std::fs::read(dir.path().join("b")).unwrap(), bytes);
    assert_eq!(cache.verify(&d).await.unwrap(), Verified::Ok { size: 40_000 }, "the cache was repaired");

    std::fs::write(&p, &damaged).unwrap();
    assert_eq!(store.get_bytes(&d, 1 << 20).await.unwrap(), bytes);
    assert_eq!(cache.verify(&d).await.unwrap(), Verified::Ok { size: 40_000 });
}
