//! The real server over real HTTP: one request per connection, and a
//! running `berth serve` that is stopped when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Project;

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// One HTTP/1.1 request on its own connection.
pub fn send(port: u16, method: &str, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    // The server may answer (413) before reading the body; keep what it said.
    let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(body));
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Resp { status, headers, body: body.to_string() }
}

pub fn get(port: u16, path: &str) -> Resp {
    send(port, "GET", path, b"", &[])
}

pub fn post(port: u16, path: &str, body: &Value) -> Resp {
    send(port, "POST", path, body.to_string().as_bytes(), &[("Content-Type", "application/json")])
}

/// A running `berth serve`, stopped when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(p: &Project, args: &[&str]) -> Server {
        let mut all = vec!["serve", "--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Server::spawn(p, &all)
    }

    /// Runs `berth ARGS` and waits for it to say where it listens.
    pub fn spawn(p: &Project, all: &[&str]) -> Server {
        let mut child = p.command(all).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start berth");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) =
                    line.split("listening on http://").nth(1).or(line.split("listening on https://").nth(1))
                {
                    let _ = tx.send(addr.trim().to_string());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr =
            rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("no address: {}", log.lock().unwrap()));
        let port = addr.rsplit(':').next().unwrap().parse().unwrap();
        Server { child, port, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn health(&self) -> (u16, Value) {
        let r = get(self.port, "/health");
        (r.status, r.json())
    }

    /// Waits until the health check says `pred`, or panics with the last answer.
    pub fn wait_health(&self, what: &str, pred: impl Fn(u16, &Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, h) = self.health();
            if pred(code, &h) {
                return h;
            }
            assert!(Instant::now() < deadline, "health never showed {what}: {code} {h}\nserver log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then waits for the process to end (it drains and finishes its work first).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        self.child.wait().expect("wait for the server")
    }

    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill").args(["-s", sig, &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal webhook receiver on loopback: answers 500 to the first
/// `failures` requests, 200 after, and keeps what it got.
/// Each request received: its header lines and its body.
pub type Inbox = Arc<Mutex<Vec<(Vec<String>, String)>>>;

pub fn receiver(failures: usize) -> (String, Inbox) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                headers.push(line.trim().to_string());
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            keep.lock().unwrap().push((headers, String::from_utf8(body).unwrap()));
            let status = if i < failures { "500 Internal Server Error" } else { "200 OK" };
            let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

/// A JSON request to a hub, with `token` as its bearer token when given.
pub fn api(port: u16, method: &str, path: &str, token: Option<&str>, body: &Value) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let bytes = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    send(port, method, path, &bytes, &headers)
}

/// Makes a token through a hub as `admin`; returns its secret and id.
pub fn make_token(port: u16, admin: &str, body: Value) -> (String, String) {
    let r = api(port, "POST", "/api/v1/tokens", Some(admin), &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let j = r.json();
    (j["secret"].as_str().unwrap().to_string(), j["token"]["id"].as_str().unwrap().to_string())
}
