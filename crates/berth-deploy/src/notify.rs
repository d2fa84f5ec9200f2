//! Notifiers (`[[notifiers]]` in `berth.toml`) and delivery: a Slack
//! incoming webhook with blocks, a generic JSON webhook signed with
//! HMAC-SHA256, or an email over SMTP ([`crate::email`]). Each delivery is
//! logged in the registry, retried with backoff on connection errors, 429 and
//! 5xx (4xx SMTP replies for email), and never fails the operation that
//! caused it: a broken receiver costs a few seconds and a `failed` line in
//! `berth notifications`, nothing more.

use std::time::Duration;

use berth_core::DeliveryStatus;
use berth_registry::{DeliveryUpdate, NewDelivery, Registry};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};

use crate::email::Mailer;
use crate::event::{Event, EventKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifierKind {
    /// A Slack-compatible incoming webhook: `text` plus `blocks`.
    Slack,
    /// The event as JSON, signed: `x-berth-signature: sha256=HEX` over
    /// `"{x-berth-timestamp}.{body}"` with the shared secret.
    Webhook,
    /// A plain-text email over SMTP, STARTTLS or TLS required unless the URL
    /// says `tls=none`: see [`crate::email`].
    Email,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierConfig {
    pub name: String,
    pub kind: NotifierKind,
    /// The receiver's URL. Slack webhook URLs are secrets: prefer `url_env`.
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the URL.
    #[serde(default)]
    pub url_env: Option<String>,
    /// The environment variable holding the webhook's signing secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Email: the environment variable holding the server's URL with its
    /// credentials, `smtp://user:password@host:587` (STARTTLS),
    /// `smtps://user:password@host:465` or `smtp://127.0.0.1:2525?tls=none`.
    #[serde(default)]
    pub smtp_url_env: Option<String>,
    /// Email: a PEM file of CA certificates trusted besides the system's,
    /// for a relay with a private CA.
    #[serde(default)]
    pub smtp_ca_file: Option<String>,
    /// Email: the sender, `berth@example.com` or `Berth <berth@example.com>`.
    #[serde(default)]
    pub from: Option<String>,
    /// Email: the recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// Which events: names or patterns such as `promotion.*`; all by default.
    #[serde(default)]
    pub events: Vec<String>,
    /// Retries after the first attempt (default 3).
    #[serde(default)]
    pub retries: Option<u32>,
    /// The first retry's delay; each next one doubles (default 250 ms).
    #[serde(default)]
    pub backoff_ms: Option<u64>,
    /// Per attempt (default 3000 ms).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl NotifierConfig {
    /// Problems with the configuration, for `berth.toml` errors.
    pub fn problems(&self) -> Vec<String> {
        let n = &self.name;
        let mut out = Vec::new();
        if n.trim().is_empty() {
            out.push("a notifier has an empty name".to_string());
        }
        if self.kind == NotifierKind::Email {
            out.extend(crate::email::problems(self));
        } else {
            out.extend(self.http_problems());
        }
        for p in &self.events {
            if !EventKind::valid_pattern(p) {
                let known: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                out.push(format!("notifier {n:?}: event {p:?} matches nothing; events are {}", known.join(", ")));
            }
        }
        out
    }

    /// The checks of the kinds that post to a URL.
    fn http_problems(&self) -> Vec<String> {
        let n = &self.name;
        let mut out = Vec::new();
        match (&self.url, &self.url_env) {
            (None, None) => out.push(format!("notifier {n:?} needs `url` or `url_env`")),
            (Some(_), Some(_)) => out.push(format!("notifier {n:?} has both `url` and `url_env`; keep one")),
            (Some(u), None) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                out.push(format!("notifier {n:?}: url {u:?} is not http:// or https://"))
            }
            _ => {}
        }
        if self.kind == NotifierKind::Webhook && self.secret_env.is_none() {
            out.push(format!(
                "notifier {n:?} is a signed webhook and needs `secret_env`, the variable holding its secret"
            ));
        }
        let stray = crate::email::stray_fields(self);
        if !stray.is_empty() {
            let fields: Vec<_> = stray.iter().map(|f| format!("`{f}`")).collect();
            out.push(format!(
                "notifier {n:?} has {}, which only an email notifier takes; remove them or set kind = \"email\"",
                fields.join(", ")
            ));
        }
        out
    }

    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.is_empty() || self.events.iter().any(|p| kind.matches(p))
    }

    /// Retries after the first attempt.
    pub(crate) fn retry_count(&self) -> u32 {
        self.retries.unwrap_or(3)
    }

    /// The wait before retry `attempt` (1 for the first retry): the backoff,
    /// doubled for each retry after the first.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        Duration::from_millis(self.backoff_ms.unwrap_or(250)) * 2u32.saturating_pow(attempt.saturating_sub(1))
    }
}

/// The configured notifiers, with their secrets read from the environment.
pub struct Notifiers {
    items: Vec<(NotifierConfig, Result<Resolved, String>)>,
    /// One client for every delivery (TLS roots are loaded once), built on
    /// first use so that a berth without notifiers never builds it.
    client: std::sync::OnceLock<Result<reqwest::Client, String>>,
}

/// A notifier with what it needs from the environment.
enum Resolved {
    Http { url: String, secret: Option<String> },
    Email(Box<Mailer>),
}

impl Resolved {
    fn new(c: &NotifierConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Resolved, String> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty()).ok_or_else(|| format!("${name} is not set"));
        if c.kind == NotifierKind::Email {
            let name = c.smtp_url_env.as_deref().ok_or("no smtp_url_env")?;
            return Ok(Resolved::Email(Box::new(Mailer::new(c, name, &var(name)?)?)));
        }
        let url = match (&c.url, &c.url_env) {
            (Some(u), _) => u.clone(),
            (None, Some(v)) => var(v)?,
            (None, None) => return Err("no url".to_string()),
        };
        let secret = c.secret_env.as_deref().map(var).transpose()?;
        Ok(Resolved::Http { url, secret })
    }

    /// The receiver as the delivery log shows it, without secrets.
    fn target(&self) -> String {
        match self {
            Resolved::Http { url, .. } => redact(url),
            Resolved::Email(m) => m.target().to_string(),
        }
    }
}

/// The receiver as the delivery log shows it when it could not be resolved:
/// the variable that should have named it.
fn unresolved_target(c: &NotifierConfig) -> String {
    let var = if c.kind == NotifierKind::Email { &c.smtp_url_env } else { &c.url_env };
    var.as_deref().map(|v| format!("${v}")).unwrap_or_default()
}

/// How one delivery went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub notifier: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

impl Outcome {
    /// Not delivered (yet): no attempt made, perhaps with the reason.
    pub(crate) fn failed(notifier: &str, error: Option<String>) -> Outcome {
        Outcome {
            notifier: notifier.to_string(),
            status: DeliveryStatus::Failed,
            attempts: 0,
            last_status: None,
            last_error: error,
        }
    }
}

impl Notifiers {
    pub fn new(configs: &[NotifierConfig], env: &dyn Fn(&str) -> Option<String>) -> Notifiers {
        let items = configs.iter().map(|c| (c.clone(), Resolved::new(c, env))).collect();
        Notifiers { items, client: std::sync::OnceLock::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| reqwest::Client::builder().build().map_err(|e| format!("cannot build an HTTP client: {e}")))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Delivers the event to every notifier that wants it, one after the
    /// other, logging each delivery in the registry. Never fails: problems
    /// are in the outcomes and the log.
    pub async fn send(&self, registry: &dyn Registry, event: &Event) -> Vec<Outcome> {
        let mut out = Vec::new();
        for (cfg, resolved) in &self.items {
            if !cfg.wants(event.kind) {
                continue;
            }
            let target = match resolved {
                Ok(r) => r.target(),
                Err(_) => unresolved_target(cfg),
            };
            let new = NewDelivery {
                event_id: &event.id,
                event: event.kind.as_str(),
                model: event.model.as_ref(),
                notifier: &cfg.name,
                target: &target,
            };
            let id = match registry.add_delivery(new).await {
                Ok(id) => Some(id),
                Err(e) => {
                    tracing::warn!(notifier = %cfg.name, error = %e, "cannot log the delivery");
                    None
                }
            };
            let outcome = self.deliver(cfg, resolved, event).await;
            if outcome.status == DeliveryStatus::Failed {
                tracing::warn!(notifier = %cfg.name, event = event.kind.as_str(), error = ?outcome.last_error, "notification not delivered");
            }
            if let Some(id) = id {
                let u = DeliveryUpdate {
                    status: outcome.status,
                    attempts: outcome.attempts,
                    last_status: outcome.last_status,
                    last_error: outcome.last_error.clone(),
                };
                if let Err(e) = registry.update_delivery(id, &u).await {
                    tracing::warn!(notifier = %cfg.name, error = %e, "cannot log the delivery");
                }
            }
            out.push(outcome);
        }
        out
    }

    async fn deliver(&self, cfg: &NotifierConfig, resolved: &Result<Resolved, String>, event: &Event) -> Outcome {
        match resolved {
            Err(e) => Outcome::failed(&cfg.name, Some(e.clone())),
            Ok(Resolved::Email(mailer)) => mailer.deliver(cfg, event).await,
            Ok(Resolved::Http { url, secret }) => match self.client() {
                Ok(client) => deliver(client, cfg, url, secret.as_deref(), event).await,
                Err(e) => Outcome::failed(&cfg.name, Some(e)),
            },
        }
    }
}

/// `scheme://host/…`: enough to recognise the receiver, never its secret path.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?']).next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or(authority);
            let more = rest.len() > authority.len();
            format!("{scheme}://{host}{}", if more { "/…" } else { "" })
        }
        None => "…".into(),
    }
}

/// What goes over the wire for a notifier kind: the body and extra headers.
pub fn request_for(
    kind: NotifierKind,
    event: &Event,
    secret: Option<&str>,
    unix_secs: u64,
) -> (Vec<u8>, Vec<(String, String)>) {
    match kind {
        NotifierKind::Slack => (serde_json::to_vec(&slack_payload(event)).expect("JSON values serialise"), Vec::new()),
        // Email is not an HTTP request; the webhook's JSON is its nearest form.
        NotifierKind::Webhook | NotifierKind::Email => {
            let body = serde_json::to_vec(event).expect("events serialise");
            let ts = unix_secs.to_string();
            let mut headers = vec![
                ("x-berth-event".to_string(), event.kind.as_str().to_string()),
                ("x-berth-delivery".to_string(), event.id.clone()),
                ("x-berth-timestamp".to_string(), ts.clone()),
            ];
            if let Some(s) = secret {
                headers.push(("x-berth-signature".to_string(), format!("sha256={}", sign(s, &ts, &body))));
            }
            (body, headers)
        }
    }
}

/// HMAC-SHA256 of `"{timestamp}.{body}"`, hex.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// What a receiver does: checks the signature (in constant time) and that
/// the timestamp is within `tolerance` of `now`.
pub fn verify(secret: &str, timestamp: &str, body: &[u8], signature: &str, now_secs: u64, tolerance: Duration) -> bool {
    let Ok(ts) = timestamp.parse::<u64>() else { return false };
    if now_secs.abs_diff(ts) > tolerance.as_secs() {
        return false;
    }
    let Some(hex_sig) = signature.strip_prefix("sha256=") else { return false };
    let Ok(given) = hex::decode(hex_sig) else { return false };
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The usual Slack incoming-webhook shape: a `text` fallback, a section with the headline
/// and a section of fields, and a context line with the event id.
pub fn slack_payload(e: &Event) -> serde_json::Value {
    let mut fields = Vec::new();
    let mut field =
        |k: &str, v: String| fields.push(serde_json::json!({"type": "mrkdwn", "text": format!("*{k}:*\n{v}")}));
    if let Some(m) = &e.model {
        field("Model", m.to_string());
    }
    if let Some(v) = e.version {
        field("Version", v.to_string());
    }
    if let Some(env) = &e.env {
        field("Environment", env.clone());
    }
    field("By", e.actor.clone());
    if let Some(reason) = e.details.get("reason").and_then(|r| r.as_str()) {
        field("Reason", reason.to_string());
    }
    serde_json::json!({
        "text": format!("berth: {}", e.summary),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}* - {}", e.kind.title(), e.summary)}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("{} · {} · {}", e.kind.as_str(), e.id, e.at)}]},
        ]
    })
}

async fn deliver(
    client: &reqwest::Client,
    cfg: &NotifierConfig,
    url: &str,
    secret: Option<&str>,
    event: &Event,
) -> Outcome {
    let timeout = Duration::from_millis(cfg.timeout_ms.unwrap_or(3000));
    let mut out = Outcome::failed(&cfg.name, None);
    for attempt in 0..=cfg.retry_count() {
        if attempt > 0 {
            tokio::time::sleep(cfg.backoff(attempt)).await;
        }
        out.attempts = attempt + 1;
        // Each attempt is signed afresh, so its timestamp is current.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let (body, headers) = request_for(cfg.kind, event, secret, now);
        let mut req =
            client.post(url).timeout(timeout).header("content-type", "application/json").header("user-agent", "berth");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        match req.body(body).send().await {
            Ok(resp) => {
                let code = resp.status().as_u16();
                out.last_status = Some(code);
                if resp.status().is_success() {
                    out.status = DeliveryStatus::Delivered;
                    out.last_error = None;
                    return out;
                }
                let text = resp.text().await.unwrap_or_default();
                out.last_error = Some(format!("HTTP {code}: {}", text.chars().take(200).collect::<String>()));
                if !(code == 429 || code >= 500) {
                    return out; // the receiver refused this request; retrying will not change that
                }
            }
            Err(e) => {
                out.last_status = None;
                out.last_error = Some(error_chain(&e));
            }
        }
    }
    out
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        // Some errors repeat their source in their own text; say it once.
        let text = c.to_string();
        if !s.ends_with(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_core::{ModelName, Timestamp};

    fn event() -> Event {
        Event::new(
            EventKind::PromotionDone,
            Timestamp::from_millis(1_700_000_000_000),
            "alice",
            "churn@3 promoted to production".into(),
        )
        .version(&ModelName::parse("churn").unwrap(), 3)
        .env("production")
        .details(serde_json::json!({"reason": "weekly retrain"}))
    }

    #[test]
    fn the_slack_payload_has_the_seeds_shape() {
        let p = slack_payload(&event());
        assert_eq!(p["text"], "berth: churn@3 promoted to production");
        assert_eq!(p["blocks"][0]["type"], "section");
        assert_eq!(p["blocks"][0]["text"]["type"], "mrkdwn");
        assert_eq!(p["blocks"][0]["text"]["text"], "*Promoted* - churn@3 promoted to production");
        let fields: Vec<_> =
            p["blocks"][1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            fields,
            [
                "*Model:*\nchurn",
                "*Version:*\n3",
                "*Environment:*\nproduction",
                "*By:*\nalice",
                "*Reason:*\nweekly retrain"
            ]
        );
    }

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let e = event();
        let (body, headers) = request_for(NotifierKind::Webhook, &e, Some("s3cret"), 1_700_000_000);
        let h = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(h("x-berth-event"), "promotion.done");
        assert_eq!(h("x-berth-delivery"), e.id);
        let (ts, sig) = (h("x-berth-timestamp"), h("x-berth-signature"));
        let tol = Duration::from_secs(300);
        assert!(verify("s3cret", &ts, &body, &sig, 1_700_000_010, tol));
        assert!(!verify("other", &ts, &body, &sig, 1_700_000_010, tol));
        let mut tampered = body.clone();
        tampered[5] ^= 1;
        assert!(!verify("s3cret", &ts, &tampered, &sig, 1_700_000_010, tol));
        assert!(!verify("s3cret", &ts, &body, &sig, 1_700_009_999, tol), "a replay long after is refused");
        // Known value, computed independently: python3 -c 'import hmac,hashlib;
        // print(hmac.new(b"key", b"1.{}", hashlib.sha256).hexdigest())'
        assert_eq!(sign("key", "1", b"{}"), "1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
    }

    #[test]
    fn configuration_problems_are_named() {
        let c = NotifierConfig {
            name: "audit".into(),
            kind: NotifierKind::Webhook,
            url: Some("ftp://x".into()),
            url_env: None,
            secret_env: None,
            smtp_url_env: None,
            smtp_ca_file: None,
            from: None,
            to: vec![],
            events: vec!["deploy.*".into()],
            retries: None,
            backoff_ms: None,
            timeout_ms: None,
        };
        let p = c.problems();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("ftp://x") && p[1].contains("secret_env") && p[2].contains("deploy.*"));
    }

    #[test]
    fn urls_are_shown_without_their_secret_parts() {
        assert_eq!(redact("https://hooks.slack.com/services/T0/B0/XYZ"), "https://hooks.slack.com/…");
        assert_eq!(redact("http://user:pw@127.0.0.1:9000"), "http://127.0.0.1:9000");
    }
}
