//! Real servers for berth's tests: an S3-protocol server (moto's server mode)
//! started once per test process on a loopback port, fresh buckets, and fresh
//! PostgreSQL databases that drop themselves. Used only as a dev-dependency;
//! nothing in a shipped crate may depend on it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test (in this or another process) is using.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}{}x{n}x{nanos}", std::process::id())
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("bind a loopback port")
}

/// A loopback port with nothing listening (for "server down" tests). It is
/// below 1024, so no test binding port 0 can be handed it meanwhile (a port
/// that was merely free a moment ago can be, and then answers).
pub fn closed_port() -> u16 {
    (1..1024)
        .find(|p| {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], *p));
            matches!(
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
            )
        })
        .expect("a privileged loopback port that refuses connections")
}

pub struct S3Server {
    pub endpoint: String,
    pub port: u16,
    /// The shell that runs moto and stops it when this process exits.
    _watcher: std::process::Child,
}

/// The S3-protocol server for this test process, started on first use. It is
/// moto's server mode (`pip install 'moto[server]'`); a watcher shell stops it
/// when the test process exits.
pub fn s3() -> &'static S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let port = free_port();
        ensure_moto();
        let moto = "python3 -m moto.server";
        let script = format!(
            "{moto} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
             while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
            parent = std::process::id()
        );
        let watcher = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sh for the S3 test server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the S3 test server (moto) did not start on port {port}; install it with `pip install 'moto[server]'`"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        S3Server { endpoint: format!("http://127.0.0.1:{port}"), port, _watcher: watcher }
    })
}

fn moto_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import moto.server, flask, flask_cors"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs moto's server from PyPI if this machine lacks it, so that
/// `cargo test` works on a fresh machine with Python.
fn ensure_moto() {
    if moto_installed() {
        return;
    }
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "moto[server]"])
        .stdout(Stdio::null())
        .status();
    assert!(
        status.is_ok_and(|s| s.success()) && moto_installed(),
        "the S3 tests need moto's server and could not install it; run `pip install 'moto[server]'`"
    );
}

/// Sends one HTTP/1.1 request and returns the status code.
pub fn http(port: u16, method: &str, path: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Creates a fresh bucket on the test S3 server and returns its name.
pub fn s3_bucket() -> String {
    let server = s3();
    let name = unique("b").to_ascii_lowercase();
    let code = http(server.port, "PUT", &format!("/{name}"));
    assert_eq!(code, 200, "creating bucket {name} on {} answered {code}", server.endpoint);
    name
}

/// The environment a berth process needs to reach the test S3 server.
pub fn s3_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", s3().endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

/// The PostgreSQL every developer and CI machine runs.
pub const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh PostgreSQL database, dropped (with its connections) on drop.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

fn psql(sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        let name = unique("berth_t");
        if let Err(e) = psql(&format!("CREATE DATABASE {name}")) {
            panic!("PostgreSQL at 127.0.0.1:5432 (user postgres, database test) is needed for this test: {e}");
        }
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        PgDatabase { name, url }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// Deterministic pseudo-random bytes (xorshift), for test files.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
