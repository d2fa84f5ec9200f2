//! Email notifications over SMTP: the message (subject, plain-text body,
//! headers) and its delivery. The server and its credentials come from one
//! URL in the environment variable named by `smtp_url_env`, never from
//! `berth.toml`:
//!
//! - `smtp://user:password@host:587`: STARTTLS, required. A server that does
//!   not offer it gets neither the credentials nor the message.
//! - `smtps://user:password@host:465`: TLS from the first byte.
//! - `smtp://127.0.0.1:2525?tls=none`: no TLS, for a relay on loopback.
//!   With a user and password only to a loopback host, since they would
//!   cross the network in clear text.
//!
//! The server's certificate is checked against the system's roots plus, for
//! a private relay, the CA certificates in `smtp_ca_file` (PEM).

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use berth_core::DeliveryStatus;
use lettre::address::Envelope;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::event::Event;
use crate::notify::{NotifierConfig, Outcome, error_chain};

/// Per SMTP command, when the notifier sets no `timeout_ms`: a TLS handshake,
/// AUTH and DATA to a server across the internet take longer than a webhook.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS before anything else is sent.
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
    /// No TLS (`?tls=none`).
    None,
}

/// The parsed SMTP URL. Its `Debug` never shows the password.
#[derive(Clone, PartialEq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl SmtpUrl {
    /// Parses and checks the URL. Errors never quote the URL itself, which
    /// holds the password; `var` is the variable it came from, for the message.
    pub fn parse(var: &str, raw: &str) -> Result<SmtpUrl, String> {
        let url = url::Url::parse(raw).map_err(|e| {
            format!(
                "${var} is not a URL ({e}); expected smtp://user:password@host:587 or smtps://user:password@host:465"
            )
        })?;
        let (default_port, mut security) = match url.scheme() {
            "smtp" => (587, Security::StartTls),
            "smtps" => (465, Security::Implicit),
            other => {
                return Err(format!("${var} has scheme {other:?}; use smtp:// (STARTTLS) or smtps:// (implicit TLS)"));
            }
        };
        let host = host_of(var, &url)?;
        if !(url.path().is_empty() || url.path() == "/") {
            return Err(format!("${var} has a path {:?}; an SMTP URL has none", url.path()));
        }
        for (key, value) in url.query_pairs() {
            security = match (key.as_ref(), value.as_ref(), security) {
                ("tls", "none", Security::StartTls) => Security::None,
                ("tls", "starttls", Security::StartTls) => Security::StartTls,
                ("tls", _, Security::Implicit) => {
                    return Err(format!("${var}: smtps:// is always TLS; drop `tls={value}` or use smtp://"));
                }
                ("tls", _, _) => {
                    return Err(format!(
                        "${var}: tls={value:?} is not known; use tls=none (loopback relays) or omit it"
                    ));
                }
                _ => return Err(format!("${var}: parameter {key:?} is not known; the only one is tls=none")),
            };
        }
        let username = Some(decode(url.username())).filter(|u| !u.is_empty());
        let password = url.password().map(decode);
        if username.is_some() != password.is_some() {
            return Err(format!(
                "${var} has a user without a password or a password without a user; give both or neither"
            ));
        }
        let parsed = SmtpUrl { host, port: url.port().unwrap_or(default_port), security, username, password };
        parsed.check_clear_text(var)?;
        Ok(parsed)
    }

    /// Credentials in clear text are only for a relay on this machine.
    fn check_clear_text(&self, var: &str) -> Result<(), String> {
        if self.security == Security::None && self.password.is_some() && !is_loopback(&self.host) {
            return Err(format!(
                "${var} sends a password in clear text to {:?} (tls=none); tls=none is for a relay on loopback \
                 (127.0.0.1, ::1, localhost): drop tls=none to use STARTTLS, or use smtps://",
                self.host
            ));
        }
        Ok(())
    }

    /// `smtp://host:port`: enough to recognise the server, without the credentials.
    pub fn redacted(&self) -> String {
        let scheme = if self.security == Security::Implicit { "smtps" } else { "smtp" };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let clear = if self.security == Security::None { "?tls=none" } else { "" };
        format!("{scheme}://{host}:{}{clear}", self.port)
    }
}

fn host_of(var: &str, url: &url::Url) -> Result<String, String> {
    match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => Ok(d.to_string()),
        Some(url::Host::Ipv4(ip)) => Ok(ip.to_string()),
        Some(url::Host::Ipv6(ip)) => Ok(ip.to_string()),
        _ => Err(format!("${var} names no host; expected smtp://user:password@host:587")),
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn is_loopback(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost"),
    }
}

/// The email-only checks of `NotifierConfig::problems`.
pub(crate) fn problems(cfg: &NotifierConfig) -> Vec<String> {
    let n = &cfg.name;
    let mut out = Vec::new();
    if cfg.url.is_some() || cfg.url_env.is_some() || cfg.secret_env.is_some() {
        out.push(format!(
            "notifier {n:?} is an email notifier: it takes `smtp_url_env`, not `url`, `url_env` or `secret_env`"
        ));
    }
    match cfg.smtp_url_env.as_deref().map(str::trim) {
        None | Some("") => {
            out.push(format!("notifier {n:?} needs `smtp_url_env`, the variable holding smtp://user:password@host:587"))
        }
        Some(_) => {}
    }
    match cfg.from.as_deref() {
        None => out.push(format!("notifier {n:?} needs `from`, the sender's address")),
        Some(f) => out.extend(address_problem(n, "from", f)),
    }
    if cfg.to.is_empty() {
        out.push(format!("notifier {n:?} needs `to`, a list of at least one recipient address"));
    }
    for t in &cfg.to {
        out.extend(address_problem(n, "to", t));
    }
    if cfg.smtp_ca_file.as_deref().is_some_and(|p| p.trim().is_empty()) {
        out.push(format!("notifier {n:?} has an empty `smtp_ca_file`; remove it or name a PEM file"));
    }
    out
}

/// The fields only an email notifier takes, named when another kind has them.
pub(crate) fn stray_fields(cfg: &NotifierConfig) -> Vec<&'static str> {
    let mut out = Vec::new();
    if cfg.smtp_url_env.is_some() {
        out.push("smtp_url_env");
    }
    if cfg.smtp_ca_file.is_some() {
        out.push("smtp_ca_file");
    }
    if cfg.from.is_some() {
        out.push("from");
    }
    if !cfg.to.is_empty() {
        out.push("to");
    }
    out
}

fn address_problem(notifier: &str, field: &str, address: &str) -> Option<String> {
    address.parse::<Mailbox>().err().map(|e| {
        format!(
            "notifier {notifier:?}: `{field}` address {address:?} is not an email address ({e}); \
             write it as name@example.com or \"Name <name@example.com>\""
        )
    })
}

/// An email notifier ready to send: the transport, with its TLS settings and
/// credentials, and the addresses.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    target: String,
}

impl Mailer {
    /// Everything that can be checked before the first event: the URL, the
    /// addresses and the CA file.
    pub fn new(cfg: &NotifierConfig, var: &str, raw_url: &str) -> Result<Mailer, String> {
        let url = SmtpUrl::parse(var, raw_url)?;
        let parse = |field: &str, a: &str| a.parse::<Mailbox>().map_err(|e| format!("`{field}` {a:?}: {e}"));
        let from = parse("from", cfg.from.as_deref().unwrap_or_default())?;
        let to = cfg.to.iter().map(|t| parse("to", t)).collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err("no `to` addresses".into());
        }
        let timeout = cfg.timeout_ms.map(Duration::from_millis).unwrap_or(DEFAULT_TIMEOUT);
        let transport = transport(&url, cfg.smtp_ca_file.as_deref(), timeout)?;
        Ok(Mailer { transport, from, to, target: url.redacted() })
    }

    /// The server, for the delivery log.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Sends the event, retrying after connection errors and 4xx replies
    /// with the notifier's backoff; a 5xx reply or a TLS problem is final.
    pub async fn deliver(&self, cfg: &NotifierConfig, event: &Event) -> Outcome {
        let mut out = Outcome::failed(&cfg.name, None);
        let message = match render(event, &cfg.name, &self.from, &self.to, SystemTime::now()) {
            Ok(m) => m,
            Err(e) => {
                out.last_error = Some(e);
                return out;
            }
        };
        // Built once, so every attempt sends the same Message-ID and a
        // receiver that got an attempt whose reply was lost can drop the copy.
        let (envelope, bytes) = (message.envelope().clone(), message.formatted());
        for attempt in 0..=cfg.retry_count() {
            if attempt > 0 {
                tokio::time::sleep(cfg.backoff(attempt)).await;
            }
            out.attempts = attempt + 1;
            match self.send_once(&envelope, &bytes).await {
                Ok(()) => {
                    out.status = DeliveryStatus::Delivered;
                    out.last_status = None;
                    out.last_error = None;
                    return out;
                }
                Err(failure) => {
                    out.last_status = failure.code;
                    out.last_error = Some(failure.message);
                    if !failure.retry {
                        return out;
                    }
                }
            }
        }
        out
    }

    async fn send_once(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), Failure> {
        self.transport.send_raw(envelope, bytes).await.map(|_| ()).map_err(|e| Failure::of(&e, &self.target))
    }
}

/// One failed attempt: what to log and whether another may succeed.
struct Failure {
    code: Option<u16>,
    message: String,
    retry: bool,
}

impl Failure {
    fn of(e: &lettre::transport::smtp::Error, target: &str) -> Failure {
        let code = e.status().map(u16::from);
        let text = error_chain(e);
        let tls_failed = e.is_tls() || is_tls_handshake_failure(e);
        let message = if e.is_client() && text.contains("STARTTLS") {
            format!(
                "{target} does not offer STARTTLS, so neither the credentials nor the message were sent in clear \
                 text ({text}): use smtps:// if the server takes TLS on another port (usually 465), or add \
                 ?tls=none to the URL for a relay on loopback"
            )
        } else if tls_failed {
            format!(
                "TLS with {target} failed ({text}): if the server's certificate comes from a private CA, \
                 name its PEM file in `smtp_ca_file`"
            )
        } else {
            format!("{target}: {text}")
        };
        // 5xx replies, TLS failures and client-side refusals (no STARTTLS, no
        // common AUTH mechanism) will fail the same way next time; connection
        // errors, timeouts and 4xx replies may not.
        let retry = !(e.is_permanent() || tls_failed || e.is_client());
        Failure { code, message, retry }
    }
}

/// A refused certificate reaches us as a connection error wrapping an I/O
/// error of kind `InvalidData` (the TLS stream's mapping of TLS alerts and
/// verification failures); a plain TCP connection never reports that kind.
fn is_tls_handshake_failure(e: &lettre::transport::smtp::Error) -> bool {
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        if c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData) {
            return true;
        }
        cur = c.source();
    }
    false
}

fn transport(
    url: &SmtpUrl,
    ca_file: Option<&str>,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match url.security {
        Security::None => Tls::None,
        Security::StartTls => Tls::Required(tls_parameters(&url.host, ca_file)?),
        Security::Implicit => Tls::Wrapper(tls_parameters(&url.host, ca_file)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&url.host)
        .port(url.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(user), Some(password)) = (&url.username, &url.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// The system's roots, plus those in `ca_file` for a relay with a private CA.
fn tls_parameters(host: &str, ca_file: Option<&str>) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_string());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            format!("cannot read smtp_ca_file {path:?} ({e}); it should name a PEM file of CA certificates")
        })?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| format!("smtp_ca_file {path:?} holds no usable PEM certificate ({e})"))?;
        builder = builder.add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| format!("cannot set up TLS for {host:?}: {}", error_chain(&e)))
}

/// `[berth] Rolled back churn@3 in production`: the kind's title, then what
/// and where, or the summary when the event names no version.
pub fn subject(e: &Event) -> String {
    let what = match (&e.model, e.version) {
        (Some(m), Some(v)) => format!("{m}@{v}"),
        (Some(m), None) => m.to_string(),
        (None, _) => String::new(),
    };
    let subject = match (what.is_empty(), &e.env) {
        (false, Some(env)) => format!("[berth] {} {what} in {env}", e.kind.title()),
        (false, None) => format!("[berth] {} {what}", e.kind.title()),
        (true, _) => format!("[berth] {}: {}", e.kind.title(), e.summary),
    };
    one_line(&subject)
}

/// A subject is one line: control characters from a summary become spaces.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The plain-text body: the headline, the same facts as the Slack message,
/// the event's id and time, and its details as JSON.
pub fn body(e: &Event) -> String {
    let mut facts: Vec<(&str, String)> = Vec::new();
    if let Some(m) = &e.model {
        facts.push(("Model", m.to_string()));
    }
    if let Some(v) = e.version {
        facts.push(("Version", v.to_string()));
    }
    if let Some(env) = &e.env {
        facts.push(("Environment", env.clone()));
    }
    facts.push(("By", e.actor.clone()));
    if let Some(reason) = e.details.get("reason").and_then(|r| r.as_str()) {
        facts.push(("Reason", reason.to_string()));
    }
    facts.push(("Event", e.kind.as_str().to_string()));
    facts.push(("Event id", e.id.clone()));
    facts.push(("At", e.at.to_string()));
    let mut out = format!("{} - {}\n\n", e.kind.title(), e.summary);
    for (k, v) in facts {
        out.push_str(&format!("{:<13}{v}\n", format!("{k}:")));
    }
    if !e.details.is_null() {
        let details = serde_json::to_string_pretty(&e.details).expect("JSON values serialise");
        out.push_str(&format!("\nDetails:\n{details}\n"));
    }
    out.push_str("\n-- \nSent by berth. `berth notifications` lists every delivery.\n");
    out
}

/// The whole message. The Message-ID is the event id, the notifier and the
/// sender's domain: unique per message, the same on every retry.
pub fn render(e: &Event, notifier: &str, from: &Mailbox, to: &[Mailbox], date: SystemTime) -> Result<Message, String> {
    let mut b = Message::builder()
        .from(from.clone())
        .subject(subject(e))
        .date(date)
        .message_id(Some(message_id(e, notifier, from)))
        .header(ContentType::TEXT_PLAIN)
        .raw_header(raw("X-Berth-Event", e.kind.as_str())?)
        .raw_header(raw("X-Berth-Delivery", &e.id)?)
        // RFC 3834: keeps vacation responders from answering a robot.
        .raw_header(raw("Auto-Submitted", "auto-generated")?);
    for t in to {
        b = b.to(t.clone());
    }
    b.body(body(e)).map_err(|e| format!("cannot build the email: {e}"))
}

fn message_id(e: &Event, notifier: &str, from: &Mailbox) -> String {
    let tag: String = notifier.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    format!("<{}.{tag}@{}>", e.id, from.email.domain())
}

fn raw(name: &str, value: &str) -> Result<HeaderValue, String> {
    let name = HeaderName::new_from_ascii(name.to_string()).map_err(|e| format!("header {name:?}: {e}"))?;
    Ok(HeaderValue::new(name, value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::notify::NotifierKind;
    use berth_core::{ModelName, Timestamp};

    fn rollback() -> Event {
        Event::new(
            EventKind::Rollback,
            Timestamp::from_millis(1_700_000_000_000),
            "alice",
            "churn rolled back to 3 in production".into(),
        )
        .version(&ModelName::parse("churn").unwrap(), 3)
        .env("production")
        .details(serde_json::json!({"reason": "p99 above the gate", "from": 4}))
    }

    fn email_config() -> NotifierConfig {
        NotifierConfig {
            name: "oncall".into(),
            kind: NotifierKind::Email,
            url: None,
            url_env: None,
            secret_env: None,
            smtp_url_env: Some("BERTH_SMTP_URL".into()),
            smtp_ca_file: None,
            from: Some("berth@example.com".into()),
            to: vec!["ml-oncall@example.com".into()],
            events: vec!["rollback".into()],
            retries: None,
            backoff_ms: None,
            timeout_ms: None,
        }
    }

    #[test]
    fn the_subject_names_the_version_and_the_environment() {
        assert_eq!(subject(&rollback()), "[berth] Rolled back churn@3 in production");
        let pushed = Event::new(EventKind::VersionPushed, Timestamp::from_millis(0), "ci", "pushed".into())
            .version(&ModelName::parse("churn").unwrap(), 4);
        assert_eq!(subject(&pushed), "[berth] Version pushed churn@4");
        let bare = Event::new(EventKind::GateFailed, Timestamp::from_millis(0), "ci", "two\nlines".into());
        assert_eq!(subject(&bare), "[berth] Gate failed: two lines");
    }

    #[test]
    fn the_body_has_the_slack_messages_facts_and_the_details() {
        let e = rollback();
        let b = body(&e);
        assert!(b.starts_with("Rolled back - churn rolled back to 3 in production\n\n"), "{b}");
        for line in [
            "Model:       churn",
            "Version:     3",
            "Environment: production",
            "By:          alice",
            "Reason:      p99 above the gate",
            "Event:       rollback",
        ] {
            assert!(b.contains(&format!("{line}\n")), "{line:?} missing from\n{b}");
        }
        assert!(b.contains(&format!("Event id:    {}\n", e.id)), "{b}");
        assert!(b.contains("At:          2023-11-14T22:13:20"), "{b}");
        assert!(b.contains("\"from\": 4"), "{b}");
    }

    #[test]
    fn the_message_has_the_headers_a_mail_system_expects() {
        let e = rollback();
        let from: Mailbox = "Berth <berth@example.com>".parse().unwrap();
        let to: Vec<Mailbox> = vec!["a@example.com".parse().unwrap(), "b@example.org".parse().unwrap()];
        let m =
            render(&e, "on call!", &from, &to, SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        let (headers, body) = text.split_once("\r\n\r\n").unwrap();
        for h in [
            "From: Berth <berth@example.com>".to_string(),
            "To: a@example.com, b@example.org".to_string(),
            "Subject: [berth] Rolled back churn@3 in production".to_string(),
            "Date: Tue, 14 Nov 2023 22:13:20 +0000".to_string(),
            format!("Message-ID: <{}.oncall@example.com>", e.id),
            "Content-Type: text/plain; charset=utf-8".to_string(),
            "X-Berth-Event: rollback".to_string(),
            format!("X-Berth-Delivery: {}", e.id),
            "Auto-Submitted: auto-generated".to_string(),
        ] {
            assert!(headers.lines().any(|l| l == h), "{h:?} missing from\n{headers}");
        }
        assert!(body.contains("Environment: production"), "{body}");
        let envelope = m.envelope();
        assert_eq!(envelope.from().unwrap().to_string(), "berth@example.com");
        assert_eq!(envelope.to().len(), 2);
    }

    #[test]
    fn urls_choose_tls_and_keep_their_password_out_of_messages() {
        let u = SmtpUrl::parse("V", "smtp://me%40x.com:p%2Fw@smtp.example.com").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.security), ("smtp.example.com", 587, Security::StartTls));
        assert_eq!((u.username.as_deref(), u.password.as_deref()), (Some("me@x.com"), Some("p/w")));
        assert_eq!(u.redacted(), "smtp://smtp.example.com:587");
        assert!(!format!("{u:?}").contains("p/w"));
        let s = SmtpUrl::parse("V", "smtps://u:p@smtp.example.com").unwrap();
        assert_eq!((s.port, s.security), (465, Security::Implicit));
        let local = SmtpUrl::parse("V", "smtp://u:p@127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((local.port, local.security), (2525, Security::None));
        assert_eq!(SmtpUrl::parse("V", "smtp://[::1]:25?tls=none").unwrap().redacted(), "smtp://[::1]:25?tls=none");
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_the_password() {
        let cases = [
            ("smtp://u:hunter2@smtp.example.com:25?tls=none", "clear text"),
            ("http://u:hunter2@smtp.example.com", "scheme \"http\""),
            ("smtps://u:hunter2@smtp.example.com?tls=none", "always TLS"),
            ("smtp://u:hunter2@smtp.example.com?tls=maybe", "tls=\"maybe\""),
            ("smtp://u:hunter2@smtp.example.com?starttls=1", "\"starttls\""),
            ("smtp://u@smtp.example.com", "without a password"),
            ("smtp://u:hunter2@smtp.example.com/x", "path"),
        ];
        for (url, expected) in cases {
            let err = SmtpUrl::parse("BERTH_SMTP_URL", url).unwrap_err();
            assert!(err.contains(expected) && err.contains("$BERTH_SMTP_URL"), "{url}: {err}");
            assert!(!err.contains("hunter2"), "{url}: {err}");
        }
    }

    #[test]
    fn email_configuration_problems_are_named() {
        assert_eq!(email_config().problems(), Vec::<String>::new());
        let mut c = email_config();
        c.smtp_url_env = None;
        c.from = Some("berth at example".into());
        c.to = vec![];
        c.url = Some("https://x".into());
        let p = c.problems();
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].contains("smtp_url_env, not `url`") || p[0].contains("`smtp_url_env`, not `url`"), "{p:?}");
        assert!(p[1].contains("needs `smtp_url_env`"), "{p:?}");
        assert!(p[2].contains("\"berth at example\""), "{p:?}");
        assert!(p[3].contains("needs `to`"), "{p:?}");
        let mut bad_to = email_config();
        bad_to.to.push("oncall@".into());
        assert!(bad_to.problems().iter().any(|p| p.contains("\"oncall@\"")));
    }

    #[test]
    fn a_slack_notifier_with_email_fields_is_told_so() {
        let mut c = email_config();
        c.kind = NotifierKind::Slack;
        c.smtp_url_env = None;
        c.url_env = Some("SLACK_URL".into());
        let p = c.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("`from`, `to`") && p[0].contains("kind = \"email\""), "{p:?}");
    }

    #[test]
    fn a_missing_ca_file_is_reported_with_its_path() {
        let mut c = email_config();
        c.smtp_ca_file = Some("/nonexistent/ca.pem".into());
        let err = Mailer::new(&c, "BERTH_SMTP_URL", "smtps://u:p@smtp.example.com").err().unwrap();
        assert!(err.contains("/nonexistent/ca.pem") && err.contains("PEM"), "{err}");
    }
}
