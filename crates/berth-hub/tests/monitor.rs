//! Monitor reports through a real hub: the seeds' flat
//! `GET /models/{name}/performance` and the API's recording route, over TCP.

use std::net::SocketAddr;
use std::sync::Arc;

use berth_core::{AliasName, ModelName, Ref, SystemClock};
use berth_hub::Hub;
use berth_service::{Berth, Config, NoTransfer, PushRequest};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct TestHub {
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    admin: String,
    berth: Berth,
}

/// A hub over a fresh project holding `churn@1`.
async fn start() -> TestHub {
    let dir = tempfile::tempdir().unwrap();
    berth_service::init(dir.path(), None, None, &|_| None).unwrap();
    let config = Config::discover(dir.path(), &|_| None).unwrap();
    let berth = Berth::open(config, "hub".into()).await.unwrap();
    let file = dir.path().join("model.txt");
    std::fs::write(&file, b"a model").unwrap();
    let req = PushRequest { paths: vec![file], model: Some(ModelName::parse("churn").unwrap()), ..Default::default() };
    berth.push(req, &NoTransfer).await.unwrap();
    let admin = berth.first_admin_token("admin", false).await.unwrap().secret;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(berth_hub::run(
        listener,
        Hub::new(berth.clone(), Arc::new(SystemClock)),
        |_| {},
        std::future::pending(),
    ));
    TestHub { _dir: dir, addr, admin, berth }
}

/// One request on its own connection; the status and the JSON body.
async fn send(h: &TestHub, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        h.addr,
        h.admin,
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let status = String::from_utf8_lossy(&raw[..end]).split(' ').nth(1).unwrap().parse().unwrap();
    let json = serde_json::from_slice(&raw[end + 4..])
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&raw[end + 4..])));
    (status, json)
}

fn report(env: &str, to: &str, mae: f64, degraded: bool) -> Value {
    json!({
        "version": 1,
        "env": env,
        "degraded": degraded,
        "data_drift_detected": true,
        "metrics": {"mae": mae, "rmse": 4.0},
        "window": {"from": "2026-01-01T00:00:00Z", "to": to, "rows": 1000, "labelled": 800},
        "summary": format!("mae {mae}"),
        "reasons": [],
    })
}

async fn record(h: &TestHub, env: &str, to: &str, mae: f64) {
    let v = h.berth.resolve(&Ref::parse("churn@1").unwrap()).await.unwrap();
    let env_name = AliasName::parse(env).unwrap();
    h.berth.record_monitor_report(&v, &env_name, &report(env, to, mae, false)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn performance_is_the_newest_report_in_range_flattened_or_404() {
    let h = start().await;
    let (status, body) = send(&h, "GET", "/models/churn/performance", None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["hint"].as_str().unwrap().contains("berth monitor churn"), "{body}");

    record(&h, "production", "2026-01-02T00:00:00Z", 3.1).await;
    record(&h, "production", "2026-01-05T00:00:00Z", 3.5).await;
    record(&h, "staging", "2026-01-06T00:00:00Z", 2.0).await;

    let (status, p) = send(&h, "GET", "/models/churn/performance?env=production", None).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["model"].as_str(), p["version"].as_u64(), p["env"].as_str()),
        (Some("churn"), Some(1), Some("production"))
    );
    assert_eq!((p["mae"].as_f64(), p["rmse"].as_f64()), (Some(3.5), Some(4.0)), "metrics at the top level: {p}");
    assert_eq!((p["data_drift_detected"].as_bool(), p["degraded"].as_bool()), (Some(true), Some(false)));
    assert_eq!(p["window"]["to"], "2026-01-05T00:00:00Z");
    assert!(p["report_id"].is_i64() && p["created_at"].is_string(), "{p}");
    assert!(p.get("metrics").is_none(), "flat, not nested: {p}");

    // Without env: the newest of any environment.
    let (_, any) = send(&h, "GET", "/models/churn/performance", None).await;
    assert_eq!((any["env"].as_str(), any["mae"].as_f64()), (Some("staging"), Some(2.0)));
    // A date as end_date is the whole day; the range picks the window's end.
    let (status, early) =
        send(&h, "GET", "/models/churn/performance?env=production&start_date=2026-01-01&end_date=2026-01-02", None)
            .await;
    assert_eq!((status, early["mae"].as_f64()), (200, Some(3.1)), "{early}");
    let (status, _) =
        send(&h, "GET", "/models/churn/performance?start_date=2026-01-05T00:00:00%2B01:00&end_date=2026-01-05", None)
            .await;
    assert_eq!(status, 200);
    let (status, none) = send(&h, "GET", "/models/churn/performance?start_date=2027-01-01", None).await;
    assert_eq!(status, 404, "{none}");
    let (status, bad) = send(&h, "GET", "/models/churn/performance?start_date=yesterday", None).await;
    assert_eq!((status, bad["error"]["code"].as_str()), (422, Some("bad_input")), "{bad}");
    let (status, _) =
        send(&h, "GET", "/models/churn/performance?start_date=2026-02-01&end_date=2026-01-01", None).await;
    assert_eq!(status, 422);
    let (status, _) = send(&h, "GET", "/models/nosuch/performance", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_recorded_and_listed_through_the_api() {
    let h = start().await;
    let body =
        json!({"version": 1, "env": "production", "report": report("production", "2026-01-02T00:00:00Z", 9.0, true)});
    let (status, made) = send(&h, "POST", "/api/v1/models/churn/monitor-reports", Some(body.clone())).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["events"], json!(["monitor.degraded", "monitor.drift"]));
    assert_eq!(made["record"]["degraded"], true);
    let (status, again) = send(&h, "POST", "/api/v1/models/churn/monitor-reports", Some(body.clone())).await;
    assert_eq!((status, again["events"].clone()), (201, json!([])));
    let (status, list) = send(&h, "GET", "/api/v1/models/churn/monitor-reports?env=production&limit=1", None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["monitor_reports"].as_array().unwrap().len(), 1);
    assert_eq!(list["monitor_reports"][0]["id"], again["record"]["id"]);

    let mut unknown = body.clone();
    unknown["extra"] = json!(1);
    let (status, _) = send(&h, "POST", "/api/v1/models/churn/monitor-reports", Some(unknown)).await;
    assert_eq!(status, 422, "unknown fields are refused");
    let mut wrong = body.clone();
    wrong["version"] = json!(7);
    let (status, _) = send(&h, "POST", "/api/v1/models/churn/monitor-reports", Some(wrong)).await;
    assert_eq!(status, 404, "no such version");
}
