//! Email notifications delivered to a real SMTP server on loopback
//! (`smtp_receiver.py`, run by the Python in `BERTH_SMTP_PYTHON`), with a
//! certificate from a throwaway CA made by `openssl`, and logged in a real
//! registry: STARTTLS before AUTH, implicit TLS, a 451 retried, a 535 not,
//! a dead server and a server without STARTTLS failing without failing the
//! caller. Skipped, saying why, when `BERTH_SMTP_PYTHON` is unset outside CI;
//! in CI (`CI` set) that is a failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use berth_core::{DeliveryStatus, ModelName, SystemClock};
use berth_deploy::notify::{NotifierConfig, NotifierKind, Notifiers, Outcome};
use berth_deploy::{Event, EventKind};
use berth_registry::{Registry, SqliteRegistry};
use serde_json::Value;

const USER: &str = "berth";
const PASSWORD: &str = "s3cret pass";

/// The Python with aiosmtpd, or `None` (after saying so) when this run may skip.
fn python() -> Option<PathBuf> {
    match std::env::var_os("BERTH_SMTP_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ if in_ci() => {
            panic!("BERTH_SMTP_PYTHON is not set in CI: .ci/run should set it to a Python with aiosmtpd")
        }
        _ => {
            eprintln!(
                "skipped: BERTH_SMTP_PYTHON is not set; point it at a Python with aiosmtpd installed \
                 (python3 -m venv DIR && DIR/bin/pip install aiosmtpd) to run the SMTP tests"
            );
            None
        }
    }
}

/// CI sets `CI` (to `true`); there a missing server is a failure, not a skip.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A throwaway CA and a certificate it signed for 127.0.0.1, as a private
/// relay would have: the test trusts the CA through `smtp_ca_file`.
struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn certs(dir: &Path) -> Certs {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=berth test CA"],
        ]
        .concat(),
    );
    openssl(dir, &[&["req"][..], &ec, &["-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    Certs { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") }
}

/// How the receiver is started.
#[derive(Default)]
struct Setup {
    tls: bool,
    implicit_tls: bool,
    auth: bool,
    /// DATA commands answered with 451 before one is taken.
    tempfail: u32,
}

struct Receiver {
    child: Child,
    port: u16,
    log: PathBuf,
    stderr: PathBuf,
    certs: Certs,
}

impl Receiver {
    fn start(python: &Path, dir: &Path, setup: Setup) -> Receiver {
        let certs = certs(dir);
        let (log, stderr) = (dir.join("smtp.jsonl"), dir.join("smtp.stderr"));
        std::fs::write(&log, "").unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_receiver.py");
        let mut cmd = Command::new(python);
        cmd.arg(script).arg("--log").arg(&log).arg("--tempfail").arg(setup.tempfail.to_string());
        if setup.tls || setup.implicit_tls {
            cmd.arg("--cert").arg(&certs.cert).arg("--key").arg(&certs.key);
        }
        if setup.implicit_tls {
            cmd.arg("--implicit-tls");
        }
        if setup.auth {
            cmd.args(["--user", USER, "--password", PASSWORD]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("the SMTP receiver starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.wait();
            panic!("the SMTP receiver printed {line:?}, not a port: {}", std::fs::read_to_string(&stderr).unwrap())
        });
        Receiver { child, port, log, stderr, certs }
    }

    /// What the server saw, one JSON object per AUTH, refused DATA or message.
    fn records(&self, event: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.log).unwrap();
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).filter(|r| r["event"] == event).collect()
    }

    fn url(&self, scheme: &str, password: &str, query: &str) -> String {
        let password = password.replace(' ', "%20");
        format!("{scheme}://{USER}:{password}@127.0.0.1:{}{query}", self.port)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Closing its stdin ends the server; kill it if it lingers.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("SMTP receiver stderr:\n{}", std::fs::read_to_string(&self.stderr).unwrap_or_default());
        }
    }
}

fn notifier(ca: Option<&Path>) -> NotifierConfig {
    NotifierConfig {
        name: "oncall".into(),
        kind: NotifierKind::Email,
        url: None,
        url_env: None,
        secret_env: None,
        smtp_url_env: Some("TEST_SMTP_URL".into()),
        smtp_ca_file: ca.map(|p| p.display().to_string()),
        from: Some("Berth <berth@example.com>".into()),
        to: vec!["ml-oncall@example.com".into(), "Lead <lead@example.org>".into()],
        events: vec!["rollback".into()],
        retries: Some(3),
        backoff_ms: Some(10),
        timeout_ms: Some(5000),
    }
}

fn rollback() -> Event {
    Event::new(
        EventKind::Rollback,
        berth_core::Clock::now(&SystemClock),
        "alice",
        "churn rolled back to 3 in production".into(),
    )
    .version(&ModelName::parse("churn").unwrap(), 3)
    .env("production")
    .details(serde_json::json!({"reason": "p99 above the gate"}))
}

async fn registry(dir: &Path) -> SqliteRegistry {
    SqliteRegistry::open(&dir.join("r.db"), Duration::from_secs(5), Arc::new(SystemClock)).await.unwrap()
}

/// Sends one rollback through `Notifiers::send` with `url` in the notifier's
/// variable, and returns its outcome after checking the registry logged it.
async fn send(dir: &Path, cfg: NotifierConfig, url: &str) -> Outcome {
    let reg = registry(dir).await;
    let url = url.to_string();
    let n = Notifiers::new(&[cfg], &move |k| (k == "TEST_SMTP_URL").then(|| url.clone()));
    let mut out = n.send(&reg, &rollback()).await;
    assert_eq!(out.len(), 1);
    let out = out.remove(0);
    let log = reg.deliveries(None).await.unwrap();
    assert_eq!(log.len(), 1);
    let d = &log[0];
    assert_eq!((d.status, d.attempts, &d.last_error), (out.status, out.attempts, &out.last_error));
    assert!(d.finished_at.is_some());
    assert!(!d.target.contains("s3cret") && !d.target.contains(USER), "the log hides the credentials: {}", d.target);
    out
}

fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let headers = message.split("\r\n\r\n").next().unwrap();
    headers.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

#[tokio::test]
async fn an_email_goes_over_starttls_after_auth_and_is_logged_delivered() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&py, dir.path(), Setup { tls: true, auth: true, ..Setup::default() });
    let out = send(dir.path(), notifier(Some(&rx.certs.ca)), &rx.url("smtp", PASSWORD, "")).await;
    assert_eq!((out.status, out.attempts, &out.last_error), (DeliveryStatus::Delivered, 1, &None));

    let auths = rx.records("auth");
    assert_eq!(auths.len(), 1, "{auths:?}");
    assert_eq!(
        (&auths[0]["ok"], &auths[0]["tls"], &auths[0]["login"]),
        (&Value::Bool(true), &Value::Bool(true), &USER.into())
    );
    let messages = rx.records("message");
    assert_eq!(messages.len(), 1, "exactly one message: {messages:?}");
    let m = &messages[0];
    assert_eq!(m["tls"], true);
    assert_eq!(m["mail_from"], "berth@example.com");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["ml-oncall@example.com", "lead@example.org"]));
    let data = m["data"].as_str().unwrap();
    assert_eq!(header(data, "From"), Some("Berth <berth@example.com>"));
    assert_eq!(header(data, "To"), Some("ml-oncall@example.com, Lead <lead@example.org>"));
    assert_eq!(header(data, "Subject"), Some("[berth] Rolled back churn@3 in production"));
    assert!(header(data, "Message-ID").is_some_and(|id| id.ends_with(".oncall@example.com>")), "{data}");
    assert!(header(data, "Date").is_some(), "{data}");
    for fact in ["Model:       churn", "Version:     3", "Environment: production", "Reason:      p99 above the gate"] {
        assert!(data.contains(fact), "{fact:?} missing from\n{data}");
    }
}

#[tokio::test]
async fn a_wrong_password_fails_once_with_the_servers_reply() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&py, dir.path(), Setup { tls: true, auth: true, ..Setup::default() });
    let out = send(dir.path(), notifier(Some(&rx.certs.ca)), &rx.url("smtp", "wrong", "")).await;
    assert_eq!((out.status, out.attempts, out.last_status), (DeliveryStatus::Failed, 1, Some(535)), "{out:?}");
    let error = out.last_error.unwrap();
    assert!(error.contains("535") && error.contains("Authentication credentials invalid"), "{error}");
    assert!(!error.contains("wrong"), "the password stays out of the log: {error}");
    let auths = rx.records("auth");
    assert!(!auths.is_empty() && auths.len() <= 2, "one AUTH exchange, no retries: {auths:?}");
    assert!(auths.iter().all(|a| a["tls"] == true && a["ok"] == false));
    assert!(rx.records("message").is_empty());
}

#[tokio::test]
async fn a_451_is_retried_and_the_message_arrives_once() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&py, dir.path(), Setup { tls: true, auth: true, tempfail: 1, ..Setup::default() });
    let out = send(dir.path(), notifier(Some(&rx.certs.ca)), &rx.url("smtp", PASSWORD, "")).await;
    assert_eq!((out.status, out.attempts), (DeliveryStatus::Delivered, 2), "{out:?}");
    assert_eq!(rx.records("tempfail").len(), 1);
    assert_eq!(rx.records("message").len(), 1);
}

#[tokio::test]
async fn smtps_is_tls_from_the_first_byte() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&py, dir.path(), Setup { implicit_tls: true, auth: true, ..Setup::default() });
    let out = send(dir.path(), notifier(Some(&rx.certs.ca)), &rx.url("smtps", PASSWORD, "")).await;
    assert_eq!((out.status, out.attempts, &out.last_error), (DeliveryStatus::Delivered, 1, &None));
    let messages = rx.records("message");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["tls"], true);
}

#[tokio::test]
async fn an_unknown_ca_fails_without_retrying_and_names_the_fix() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&py, dir.path(), Setup { tls: true, auth: true, ..Setup::default() });
    let out = send(dir.path(), notifier(None), &rx.url("smtp", PASSWORD, "")).await;
    assert_eq!((out.status, out.attempts), (DeliveryStatus::Failed, 1), "{out:?}");
    assert!(out.last_error.as_deref().unwrap().contains("smtp_ca_file"), "{out:?}");
    assert!(rx.records("auth").is_empty(), "no credentials to an unverified server");
}

#[tokio::test]
async fn a_server_without_starttls_gets_no_credentials() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&py, dir.path(), Setup { auth: true, ..Setup::default() });
    let out = send(dir.path(), notifier(None), &rx.url("smtp", PASSWORD, "")).await;
    assert_eq!((out.status, out.attempts), (DeliveryStatus::Failed, 1), "{out:?}");
    let error = out.last_error.unwrap();
    assert!(error.contains("does not offer STARTTLS") && error.contains("tls=none"), "{error}");
    assert!(rx.records("auth").is_empty() && rx.records("message").is_empty());
}

#[tokio::test]
async fn tls_none_is_for_loopback_relays() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(&py, dir.path(), Setup { auth: true, ..Setup::default() });
    let out = send(dir.path(), notifier(None), &rx.url("smtp", PASSWORD, "?tls=none")).await;
    assert_eq!((out.status, out.attempts, &out.last_error), (DeliveryStatus::Delivered, 1, &None));
    assert_eq!(rx.records("message")[0]["tls"], false);

    // The same URL to a host across the network is refused before any
    // connection: the password would travel in clear text.
    let other = tempfile::tempdir().unwrap();
    let remote = format!("smtp://{USER}:pw@smtp.example.com:25?tls=none");
    let out = send(other.path(), notifier(None), &remote).await;
    assert_eq!((out.status, out.attempts), (DeliveryStatus::Failed, 0), "{out:?}");
    assert!(out.last_error.as_deref().unwrap().contains("clear text"), "{out:?}");
}

#[tokio::test]
async fn a_dead_server_fails_after_the_retries_without_failing_the_caller() {
    // Needs no receiver: nobody listens on the port.
    let dir = tempfile::tempdir().unwrap();
    let port = berth_testkit::closed_port();
    let mut cfg = notifier(None);
    cfg.retries = Some(2);
    let out = send(dir.path(), cfg, &format!("smtp://{USER}:pw@127.0.0.1:{port}")).await;
    assert_eq!((out.status, out.attempts, out.last_status), (DeliveryStatus::Failed, 3, None), "{out:?}");
    assert!(out.last_error.as_deref().unwrap().contains(&format!("127.0.0.1:{port}")), "{out:?}");
}
