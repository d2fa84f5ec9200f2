//! Notifications delivered over real HTTP to a receiver on loopback, logged
//! in a real registry: signatures verify, a 500 is retried, a 400 is not, a
//! dead receiver fails without failing the caller.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use berth_core::{DeliveryStatus, ModelName, SystemClock};
use berth_deploy::notify::{NotifierConfig, NotifierKind, Notifiers, verify};
use berth_deploy::{Event, EventKind};
use berth_registry::{Registry, SqliteRegistry};

#[derive(Default)]
struct Inbox {
    /// Statuses to answer with, in order; 200 once they run out.
    script: Vec<u16>,
    received: Vec<(HeaderMap, Vec<u8>)>,
}

async fn receiver(script: Vec<u16>) -> (String, Arc<Mutex<Inbox>>) {
    let inbox = Arc::new(Mutex::new(Inbox { script, received: Vec::new() }));
    let state = inbox.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let mut s = state.lock().unwrap();
                s.received.push((headers, body.to_vec()));
                let code = if s.script.is_empty() { 200 } else { s.script.remove(0) };
                StatusCode::from_u16(code).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), inbox)
}

fn notifier(name: &str, kind: NotifierKind, url: &str) -> NotifierConfig {
    NotifierConfig {
        name: name.into(),
        kind,
        url: Some(url.into()),
        url_env: None,
        secret_env: (kind == NotifierKind::Webhook).then(|| "HOOK_SECRET".into()),
        smtp_url_env: None,
        smtp_ca_file: None,
        from: None,
        to: vec![],
        events: vec![],
        retries: Some(3),
        backoff_ms: Some(10),
        timeout_ms: Some(2000),
    }
}

fn env(k: &str) -> Option<String> {
    (k == "HOOK_SECRET").then(|| "hush".to_string())
}

fn event() -> Event {
    Event::new(
        EventKind::PromotionDone,
        berth_core::Clock::now(&SystemClock),
        "alice",
        "churn@3 promoted to production".into(),
    )
    .version(&ModelName::parse("churn").unwrap(), 3)
    .env("production")
}

async fn registry(dir: &tempfile::TempDir) -> SqliteRegistry {
    SqliteRegistry::open(&dir.path().join("r.db"), Duration::from_secs(5), Arc::new(SystemClock)).await.unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn a_signed_webhook_is_retried_after_a_500_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(&dir).await;
    let (url, inbox) = receiver(vec![500]).await;
    let n = Notifiers::new(&[notifier("audit", NotifierKind::Webhook, &url)], &env);
    let e = event();
    let out = n.send(&reg, &e).await;
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].status, out[0].attempts, out[0].last_status), (DeliveryStatus::Delivered, 2, Some(200)));
    let received = std::mem::take(&mut inbox.lock().unwrap().received);
    assert_eq!(received.len(), 2, "the 500 was retried once");
    for (h, body) in &received {
        let get = |k: &str| h.get(k).unwrap().to_str().unwrap().to_string();
        assert_eq!(get("x-berth-event"), "promotion.done");
        assert_eq!(get("x-berth-delivery"), e.id);
        assert!(verify(
            "hush",
            &get("x-berth-timestamp"),
            body,
            &get("x-berth-signature"),
            now(),
            Duration::from_secs(300)
        ));
        assert!(!verify(
            "wrong",
            &get("x-berth-timestamp"),
            body,
            &get("x-berth-signature"),
            now(),
            Duration::from_secs(300)
        ));
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            (json["event"].as_str(), json["model"].as_str(), json["version"].as_u64()),
            (Some("promotion.done"), Some("churn"), Some(3))
        );
    }
    let log = reg.deliveries(None).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].status, log[0].attempts, log[0].notifier.as_str()), (DeliveryStatus::Delivered, 2, "audit"));
    assert_eq!(log[0].event_id, e.id);
}

#[tokio::test]
async fn slack_gets_blocks_and_a_refusal_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(&dir).await;
    let (ok_url, ok_inbox) = receiver(vec![]).await;
    let (bad_url, bad_inbox) = receiver(vec![400]).await;
    let mut only_rollbacks = notifier("rollbacks", NotifierKind::Slack, &ok_url);
    only_rollbacks.events = vec!["rollback".into()];
    let n = Notifiers::new(
        &[
            notifier("team", NotifierKind::Slack, &ok_url),
            notifier("strict", NotifierKind::Slack, &bad_url),
            only_rollbacks,
        ],
        &env,
    );
    let out = n.send(&reg, &event()).await;
    assert_eq!(
        out.iter().map(|o| (o.notifier.as_str(), o.status)).collect::<Vec<_>>(),
        [("team", DeliveryStatus::Delivered), ("strict", DeliveryStatus::Failed)]
    );
    assert_eq!((out[1].attempts, out[1].last_status), (1, Some(400)), "a 400 is final");
    let (_, body) = &ok_inbox.lock().unwrap().received[0];
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json["blocks"][1]["fields"][0]["text"], "*Model:*\nchurn");
    assert_eq!(bad_inbox.lock().unwrap().received.len(), 1);
}

#[tokio::test]
async fn a_dead_receiver_fails_quietly_after_its_retries() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(&dir).await;
    // A port nobody listens on, which no other test can be given meanwhile.
    let port = berth_testkit::closed_port();
    let mut missing_secret = notifier("no-secret", NotifierKind::Webhook, "http://127.0.0.1:9/");
    missing_secret.secret_env = Some("UNSET_SECRET".into());
    let n = Notifiers::new(
        &[notifier("down", NotifierKind::Webhook, &format!("http://127.0.0.1:{port}/hook")), missing_secret],
        &env,
    );
    let out = n.send(&reg, &event()).await;
    assert_eq!((out[0].status, out[0].attempts, out[0].last_status), (DeliveryStatus::Failed, 4, None));
    assert!(out[0].last_error.as_deref().unwrap().contains("connect"), "{:?}", out[0].last_error);
    assert_eq!((out[1].status, out[1].attempts), (DeliveryStatus::Failed, 0));
    assert_eq!(out[1].last_error.as_deref(), Some("$UNSET_SECRET is not set"));
    let log = reg.deliveries(None).await.unwrap();
    assert!(log.iter().all(|d| d.status == DeliveryStatus::Failed && d.finished_at.is_some()));
}
