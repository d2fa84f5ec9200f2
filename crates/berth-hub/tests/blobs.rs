//! Blobs through a real hub: a fresh embedded project, the hub serving it on
//! a loopback port, and requests over real TCP from a minimal HTTP/1.1
//! client, so what is tested is what a client on the network gets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::{Digest, Grant, Manifest, ManifestEntry, ModelPattern, RelPath, Role, SystemClock};
use berth_hub::{Hub, Uploads};
use berth_service::{Berth, Config, TokenRequest};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest blob the test hub accepts.
const LIMIT: u64 = 16 << 20;

struct TestHub {
    _dir: tempfile::TempDir,
    spool: PathBuf,
    addr: SocketAddr,
    admin: String,
    berth: Berth,
}

async fn start() -> TestHub {
    let dir = tempfile::tempdir().unwrap();
    berth_service::init(dir.path(), None, None, &|_| None).unwrap();
    let config = Config::discover(dir.path(), &|_| None).unwrap();
    let berth = Berth::open(config, "hub".into()).await.unwrap();
    let admin = berth.first_admin_token("admin", false).await.unwrap().secret;
    let spool = dir.path().join("spool");
    let hub =
        Hub::new(berth.clone(), Arc::new(SystemClock)).with_uploads(Uploads { spool: spool.clone(), max_blob: LIMIT });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(berth_hub::run(listener, hub, |_| {}, std::future::pending()));
    TestHub { _dir: dir, spool, addr, admin, berth }
}

/// A response as it came off the wire.
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// One request on its own connection (`Connection: close`), read to the end.
async fn send(addr: SocketAddr, method: &str, path: &str, token: &str, extra: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    // A server may answer (413) and close before the body is all sent: what
    // it answered is still there to read.
    let _ = s.write_all(body).await;
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match s.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if !raw.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading the response: {e}"),
        }
    }
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let text = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    assert_ne!(headers.get("transfer-encoding").map(String::as_str), Some("chunked"), "this client reads lengths only");
    let body = raw[end + 4..].to_vec();
    if let Some(n) = headers.get("content-length")
        && method != "HEAD"
    {
        assert_eq!(body.len(), n.parse::<usize>().unwrap(), "the body has its Content-Length");
    }
    Answer { status, headers, body }
}

/// A PUT whose body comes chunked (no length said up front); its status.
async fn put_chunked(h: &TestHub, upload: i64, digest: &Digest, body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    let head = format!(
        "PUT /api/v1/uploads/{upload}/blobs/{digest} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        h.admin
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(1 << 20) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if s.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"))
}

fn manifest(files: &[(&str, &[u8])]) -> Manifest {
    Manifest::new(
        files
            .iter()
            .map(|(p, b)| (RelPath::parse(p).unwrap(), ManifestEntry { digest: Digest::of(b), size: b.len() as u64 }))
            .collect(),
    )
    .unwrap()
}

impl TestHub {
    async fn begin(&self, token: &str, model: &str, m: &Manifest) -> Answer {
        let body = serde_json::to_vec(&json!({ "manifest": m })).unwrap();
        send(self.addr, "POST", &format!("/api/v1/models/{model}/uploads"), token, &[], &body).await
    }

    async fn put(&self, upload: i64, digest: &Digest, bytes: &[u8]) -> Answer {
        send(self.addr, "PUT", &format!("/api/v1/uploads/{upload}/blobs/{digest}"), &self.admin, &[], bytes).await
    }

    async fn commit(&self, upload: i64, model: &str, m: &Manifest) -> Answer {
        let body = json!({"model": model, "manifest": m, "meta": {"metrics": {"accuracy": 0.9}}, "if_changed": false});
        let body = serde_json::to_vec(&body).unwrap();
        send(self.addr, "POST", &format!("/api/v1/uploads/{upload}/commit"), &self.admin, &[], &body).await
    }

    async fn get(&self, token: &str, path: &str, extra: &[(&str, &str)]) -> Answer {
        send(self.addr, "GET", path, token, extra, b"").await
    }

    /// Whether the store holds `d`: a new upload naming it lists it as missing otherwise.
    async fn stored(&self, d: &Digest) -> bool {
        let probe =
            Manifest::new(BTreeMap::from([(RelPath::parse("probe").unwrap(), ManifestEntry { digest: *d, size: 1 })]))
                .unwrap();
        let a = self.begin(&self.admin, "probe", &probe).await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
        a.json()["missing"].as_array().unwrap().is_empty()
    }

    /// Pushes `files` as a new version of `model` through the three requests.
    async fn push(&self, model: &str, files: &[(&str, &[u8])]) -> Value {
        let m = manifest(files);
        let a = self.begin(&self.admin, model, &m).await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
        let upload = a.json()["upload"].as_i64().unwrap();
        for (_, bytes) in files {
            let p = self.put(upload, &Digest::of(bytes), bytes).await;
            assert!(p.status == 201 || p.status == 200, "{}", String::from_utf8_lossy(&p.body));
        }
        let c = self.commit(upload, model, &m).await;
        assert_eq!(c.status, 201, "{}", String::from_utf8_lossy(&c.body));
        c.json()
    }
}

/// Bytes that do not repeat, so a misplaced range cannot pass by accident.
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn digests(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn begin_lists_only_what_is_missing_then_put_and_commit_make_the_version() {
    let h = start().await;
    h.push("churn", &[("old.bin", b"already here")]).await;
    let m = manifest(&[("old.bin", b"already here"), ("model.onnx", b"new weights")]);
    let a = h.begin(&h.admin, "churn", &m).await;
    assert_eq!(a.status, 201);
    let begun = a.json();
    assert_eq!(digests(&begun["missing"]), [Digest::of(b"new weights").to_string()], "only what is absent");
    assert!(begun["expires_at"].is_string());
    let upload = begun["upload"].as_i64().unwrap();

    let p = h.put(upload, &Digest::of(b"new weights"), b"new weights").await;
    assert_eq!(p.status, 201, "{}", String::from_utf8_lossy(&p.body));
    let p = h.put(upload, &Digest::of(b"already here"), b"already here").await;
    assert_eq!(p.status, 200, "the store had it: nothing written");

    let c = h.commit(upload, "churn", &m).await;
    assert_eq!(c.status, 201, "{}", String::from_utf8_lossy(&c.body));
    let report = c.json();
    assert_eq!(report["ref"], "churn@2");
    assert_eq!(report["version"]["metrics"]["accuracy"], 0.9);
    assert_eq!(report["version"]["format"], "onnx", "inferred from the files");

    let v = h.berth.resolve(&berth_core::Ref::parse("churn@2").unwrap()).await.unwrap();
    assert_eq!(h.berth.manifest(&v).await.unwrap(), m, "the version has the manifest sent");
    let shown = h.get(&h.admin, "/api/v1/models/churn/versions/2", &[]).await;
    assert_eq!(shown.json()["files"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bytes_and_blobs_the_manifest_does_not_name_are_refused() {
    let h = start().await;
    let m = manifest(&[("model.onnx", b"the right bytes")]);
    let upload = h.begin(&h.admin, "churn", &m).await.json()["upload"].as_i64().unwrap();
    let right = Digest::of(b"the right bytes");

    let a = h.put(upload, &right, b"the wrong bytes").await;
    assert_eq!(a.status, 422, "{}", String::from_utf8_lossy(&a.body));
    let msg = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains(&right.to_string()) && msg.contains(&Digest::of(b"the wrong bytes").to_string()), "{msg}");
    assert!(!h.stored(&right).await, "nothing was stored under the digest named");
    assert!(!h.stored(&Digest::of(b"the wrong bytes")).await, "nor under the bytes' own");

    let other = Digest::of(b"something else");
    let a = h.put(upload, &other, b"something else").await;
    assert_eq!(a.status, 422);
    assert!(a.json()["error"]["message"].as_str().unwrap().contains("does not name blob"));
    assert!(!h.stored(&other).await);

    let a = h.put(upload, &right, &noise(LIMIT as usize + 1)).await;
    assert_eq!(a.status, 413, "over the hub's limit, as declared");
    let a = put_chunked(&h, upload, &right, &noise(LIMIT as usize + 1)).await;
    assert_eq!(a, 413, "over the hub's limit, as counted while the body streams in");
    assert_eq!(h.put(upload, &right, b"the right bytes").await.status, 201, "the upload is still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_with_a_blob_missing_is_refused_naming_it() {
    let h = start().await;
    let m = manifest(&[("a.bin", b"aaa"), ("b.bin", b"bbb")]);
    let upload = h.begin(&h.admin, "churn", &m).await.json()["upload"].as_i64().unwrap();
    assert_eq!(h.put(upload, &Digest::of(b"aaa"), b"aaa").await.status, 201);
    let c = h.commit(upload, "churn", &m).await;
    assert_eq!(c.status, 409);
    let msg = c.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("b.bin") && msg.contains(&Digest::of(b"bbb").to_string()), "{msg}");
    assert_eq!(h.put(upload, &Digest::of(b"bbb"), b"bbb").await.status, 201);
    assert_eq!(h.commit(upload, "churn", &m).await.status, 201, "sent, the commit goes through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_whole_or_ranged_and_a_reader_may_read_but_not_upload() {
    let h = start().await;
    let bytes = b"0123456789abcdef";
    h.push("churn", &[("model.onnx", bytes)]).await;
    let url = "/api/v1/models/churn/versions/1/files/model.onnx";
    let grant = Grant { role: Role::Reader, models: ModelPattern::any(), envs: Vec::new() };
    let reader = h
        .berth
        .create_token(&TokenRequest { principal: "viewer".into(), grant, expires_at: None })
        .await
        .unwrap()
        .secret;

    let whole = h.get(&reader, url, &[]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, bytes);
    assert_eq!(whole.header("content-length"), Some("16"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let etag = format!("\"{}\"", Digest::of(bytes));
    assert_eq!(whole.header("etag"), Some(etag.as_str()));
    assert_eq!(whole.header("x-berth-digest"), Some(Digest::of(bytes).to_string().as_str()));

    let tail = h.get(&reader, url, &[("Range", "bytes=5-")]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, &bytes[5..]);
    assert_eq!(tail.header("content-range"), Some("bytes 5-15/16"));
    let mid = h.get(&reader, url, &[("Range", "bytes=2-4")]).await;
    assert_eq!((mid.status, &mid.body[..]), (206, &bytes[2..5]));
    let past = h.get(&reader, url, &[("Range", "bytes=16-")]).await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */16"));

    let head = send(h.addr, "HEAD", url, &reader, &[], b"").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("16"));
    assert!(head.body.is_empty());
    let latest = h.get(&reader, "/api/v1/models/churn/versions/latest/files/model.onnx", &[]).await;
    assert_eq!(latest.body, bytes, "a version may be named as refs name it");
    let none = h.get(&reader, "/api/v1/models/churn/versions/1/files/nope.onnx", &[]).await;
    assert_eq!(none.status, 404);

    let refused = h.begin(&reader, "churn", &manifest(&[("x", b"x")])).await;
    assert_eq!(refused.status, 403, "{}", String::from_utf8_lossy(&refused.body));
    let m = manifest(&[("y", b"y")]);
    let upload = h.begin(&h.admin, "churn", &m).await.json()["upload"].as_i64().unwrap();
    let put =
        send(h.addr, "PUT", &format!("/api/v1/uploads/{upload}/blobs/{}", Digest::of(b"y")), &reader, &[], b"y").await;
    assert_eq!(put.status, 403, "nor send a blob into someone's upload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_of_several_mebibytes_round_trips_byte_identical() {
    let h = start().await;
    let big = noise((4 << 20) + 12_345);
    h.push("big", &[("weights.bin", &big)]).await;
    let got = h.get(&h.admin, "/api/v1/models/big/versions/1/files/weights.bin", &[]).await;
    assert_eq!(got.status, 200);
    assert!(got.body == big, "the bytes came back as they went in");
    let from = (3 << 20).to_string();
    let rest = h
        .get(&h.admin, "/api/v1/models/big/versions/1/files/weights.bin", &[("Range", &format!("bytes={from}-"))])
        .await;
    assert_eq!(rest.status, 206);
    assert!(rest.body == big[3 << 20..], "a resumed download gets the rest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_body_stores_nothing_and_the_retry_succeeds() {
    let h = start().await;
    let big = noise(2 << 20);
    let d = Digest::of(&big);
    let m = manifest(&[("weights.bin", &big)]);
    let upload = h.begin(&h.admin, "churn", &m).await.json()["upload"].as_i64().unwrap();

    let mut s = TcpStream::connect(h.addr).await.unwrap();
    let head = format!(
        "PUT /api/v1/uploads/{upload}/blobs/{d} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        h.admin,
        big.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&big[..big.len() / 2]).await.unwrap();
    s.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(s);

    // The hub notices the body will not complete and removes what it spooled.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(&h.spool).map(|d| d.count()).unwrap_or(0) > 0 {
        assert!(Instant::now() < deadline, "the half body was left in the spool");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!h.stored(&d).await, "no blob is visible for the half-sent body");

    let retry = h.put(upload, &d, &big).await;
    assert_eq!(retry.status, 201, "{}", String::from_utf8_lossy(&retry.body));
    assert_eq!(h.commit(upload, "churn", &m).await.status, 201);
    let got = h.get(&h.admin, "/api/v1/models/churn/versions/1/files/weights.bin", &[]).await;
    assert!(got.body == big);
}
