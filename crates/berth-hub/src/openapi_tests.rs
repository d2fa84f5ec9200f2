//! The OpenAPI document against the router it describes.
use std::collections::BTreeSet;
use std::sync::Arc;

use berth_core::SystemClock;
use berth_service::{Berth, Config};

use super::*;

/// `(method, route)` of every `.route("…", …)` call in a route module's
/// source, with `prefix` in front.
fn routes_in(source: &str, prefix: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(\"") {
        rest = &rest[at + ".route(\"".len()..];
        let end = rest.find('"').expect("a closed string");
        let path = format!("{prefix}{}", &rest[..end]);
        // The method router runs to the call's closing parenthesis.
        let mut depth = 1;
        let mut close = end;
        for (i, c) in rest[end..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                close = end + i;
                break;
            }
        }
        let methods = &rest[end..close];
        for m in ["get", "head", "post", "put", "delete", "patch"] {
            let called = methods.match_indices(&format!("{m}(")).any(|(i, _)| {
                let before = methods[..i].chars().next_back();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if called {
                out.insert((m.to_string(), path.clone()));
            }
        }
    }
    out
}

fn documented() -> BTreeSet<(String, String)> {
    OPERATIONS.iter().map(|o| (o.method.to_string(), o.path.to_string())).collect()
}

#[test]
fn every_route_in_the_source_is_documented_and_nothing_else() {
    let mut routed = BTreeSet::new();
    routed.extend(routes_in(include_str!("routes.rs"), "/api/v1"));
    routed.extend(routes_in(include_str!("blobs.rs"), "/api/v1"));
    routed.extend(routes_in(include_str!("seed.rs"), ""));
    routed.extend(routes_in(include_str!("lib.rs"), ""));
    assert!(routed.len() > 30, "the route scan found too little: {routed:?}");
    let documented = documented();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes missing from OPERATIONS: {undocumented:?}");
    assert!(unrouted.is_empty(), "OPERATIONS not in any .route(…) call: {unrouted:?}");
}

#[test]
fn operation_ids_are_unique_and_every_parameter_has_a_schema() {
    let ids: BTreeSet<_> = OPERATIONS.iter().map(|o| o.id).collect();
    assert_eq!(ids.len(), OPERATIONS.len());
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    for op in OPERATIONS {
        let (path, _) = openapi_path(op.path);
        let o = &doc["paths"][&path][op.method];
        assert_eq!(o["operationId"], op.id);
        assert_eq!(o.get("security") == Some(&json!([])), op.role.is_none(), "{path}");
    }
}

#[test]
fn every_error_code_the_hub_answers_is_in_the_schema() {
    // Codes are written as the literal after a status in `ApiError::new`
    // or returned by `error::code`.
    let sources = [
        include_str!("error.rs"),
        include_str!("body.rs"),
        include_str!("auth.rs"),
        include_str!("credentials.rs"),
        include_str!("routes.rs"),
        include_str!("seed.rs"),
        include_str!("blobs.rs"),
        include_str!("lib.rs"),
    ];
    let mut found = BTreeSet::new();
    for s in sources {
        for (i, _) in s.match_indices("StatusCode::") {
            let after = &s[i..];
            let Some(comma) = after.find(',') else { continue };
            let name = &after["StatusCode::".len()..comma];
            if !name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                continue;
            }
            let next = after[comma + 1..].trim_start();
            if let Some(lit) = next.strip_prefix('"') {
                found.insert(lit[..lit.find('"').unwrap()].to_string());
            }
        }
        for line in s.lines().filter(|l| l.contains("ErrorKind::") && l.contains("=> \"")) {
            let lit = &line[line.find("=> \"").unwrap() + 4..];
            found.insert(lit[..lit.find('"').unwrap()].to_string());
        }
    }
    assert!(found.len() >= 8, "the scan found too little: {found:?}");
    let known: BTreeSet<String> = ERROR_CODES.iter().map(|s| s.to_string()).collect();
    let unknown: Vec<_> = found.difference(&known).collect();
    assert!(unknown.is_empty(), "error codes missing from ERROR_CODES: {unknown:?}");
}

/// A path for `route` with every parameter filled in plausibly.
fn concrete(route: &str) -> String {
    route
        .split('/')
        .map(|seg| match seg {
            "{model}" => "churn",
            "{version}" => "1",
            "{alias}" => "staging",
            "{id}" => "tok_000000000000",
            "{upload}" => "1",
            "{digest}" => "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "{*path}" => "model.txt",
            "{repo}" => "churn",
            "{oid}" => "0000000000000000000000000000000000000000000000000000000000000000",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A hub on a fresh embedded project, serving on a loopback port.
async fn serve_hub() -> (tempfile::TempDir, std::net::SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    berth_service::init(dir.path(), None, None, &|_| None).unwrap();
    let config = Config::discover(dir.path(), &|_| None).unwrap();
    let berth = Berth::open(config, "hub".into()).await.unwrap();
    let hub = crate::Hub::new(berth, Arc::new(SystemClock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, crate::router(hub)).await });
    (dir, addr)
}

async fn request(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served_by_the_router() {
    let (_dir, addr) = serve_hub().await;

    for op in OPERATIONS {
        let path = concrete(op.path);
        let (status, text) = request(addr, &op.method.to_uppercase(), &path).await;
        assert_ne!(status, 405, "{} {path}: the router has no such method\n{text}", op.method);
        assert!(!text.contains("no such route"), "{} {path}: the router has no such route\n{text}", op.method);
        match op.role {
            // A route needing a token answers 401 without one, before it reads the request.
            Some(_) => assert_eq!(status, 401, "{} {path}: {status}\n{text}", op.method),
            None => assert_eq!(status, 200, "{} {path}\n{text}", op.method),
        }
    }
    // And a path the document does not list is the fallback's.
    let (status, text) = request(addr, "GET", "/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert!(text.contains("no such route"), "{text}");
}

/// The Git LFS routes speak Git LFS's protocol (its media type, its error
/// body, Basic credentials), which Git LFS's own API documents describe; the
/// document describes berth's. They are kept out of it on purpose and
/// listed in `lfs::ROUTES` instead, which must be exactly what the LFS
/// router routes, and none of them may be in `OPERATIONS`.
#[test]
fn the_git_lfs_routes_are_listed_apart_from_the_document() {
    let routed = routes_in(include_str!("lfs/mod.rs"), "");
    let listed: BTreeSet<(String, String)> =
        crate::lfs::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(routed, listed, "lfs::ROUTES against the LFS router");
    let documented = documented();
    assert!(routed.is_disjoint(&documented), "LFS routes in OPERATIONS: {:?}", routed.intersection(&documented));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_git_lfs_route_asks_for_credentials_in_git_lfs_terms() {
    let (_dir, addr) = serve_hub().await;
    for (method, route) in crate::lfs::ROUTES {
        let path = concrete(route);
        let (status, text) = request(addr, &method.to_uppercase(), &path).await;
        assert_eq!(status, 401, "{method} {path}\n{text}");
        let lower = text.to_ascii_lowercase();
        assert!(lower.contains("lfs-authenticate: basic realm=\"berth\""), "{method} {path}\n{text}");
        assert!(lower.contains("content-type: application/vnd.git-lfs+json"), "{method} {path}\n{text}");
        assert!(text.contains("\"message\""), "{method} {path}\n{text}");
    }
}

/// MLflow's routes speak MLflow's REST API, which MLflow documents; like
/// the Git LFS routes they are listed in `mlflow::ROUTES` instead of the
/// document, and that list must be exactly what the MLflow router routes.
#[test]
fn the_mlflow_routes_are_listed_apart_from_the_document() {
    let routed: BTreeSet<(String, String)> = routes_in(include_str!("mlflow/mod.rs"), "")
        .into_iter()
        .map(|(m, p)| {
            let full = if p.starts_with("/registered-models") || p.starts_with("/model-versions") {
                format!("/api/2.0/mlflow{p}")
            } else {
                format!("/api/2.0/mlflow-artifacts/artifacts{}", p.trim_end_matches('/'))
            };
            (m, full)
        })
        .collect();
    let listed: BTreeSet<(String, String)> =
        crate::mlflow::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(routed, listed, "mlflow::ROUTES against the MLflow router");
    let documented = documented();
    assert!(routed.is_disjoint(&documented), "MLflow routes in OPERATIONS: {:?}", routed.intersection(&documented));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mlflow_route_asks_for_credentials_in_mlflow_terms() {
    let (_dir, addr) = serve_hub().await;
    for (method, route) in crate::mlflow::ROUTES {
        let path = concrete(route);
        let (status, text) = request(addr, &method.to_uppercase(), &path).await;
        assert_eq!(status, 401, "{method} {path}\n{text}");
        assert!(text.contains("\"error_code\":\"UNAUTHENTICATED\""), "{method} {path}\n{text}");
        assert!(
            text.to_ascii_lowercase().contains("www-authenticate: basic realm=\"berth\""),
            "{method} {path}\n{text}"
        );
    }
    // A call berth does not offer gets MLflow's own answer for that, token or not.
    let (status, text) = request(addr, "POST", "/api/2.0/mlflow/runs/create").await;
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("ENDPOINT_NOT_FOUND") && text.contains("experiments and runs"), "{text}");
}

#[tokio::test]
async fn a_whole_number_written_as_a_float_is_the_number() {
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct B {
        version: u64,
        ratio: f64,
    }
    let parse = |s: &'static str| crate::body::parse::<B>(axum::body::Body::from(s));
    let b = parse(r#"{"version": 3.0, "ratio": 1.0}"#).await.unwrap();
    assert_eq!((b.version, b.ratio), (3, 1.0));
    for bad in
        [r#"{"version": 3.5, "ratio": 1}"#, r#"{"version": -1.0, "ratio": 1}"#, r#"{"version": 1e30, "ratio": 1}"#]
    {
        let e = parse(bad).await.unwrap_err();
        assert_eq!((e.status.as_u16(), e.code), (422, "bad_input"), "{bad}");
        assert!(e.message.contains("line 1"), "the first error is kept: {}", e.message);
    }
}

#[test]
fn the_error_schema_matches_what_the_hub_sends() {
    let e = crate::error::ApiError::not_found("x", "y");
    let body = json!({"error": {"code": e.code, "message": e.message, "hint": e.hint}});
    let schema = error_body();
    for key in ["code", "message", "hint"] {
        assert!(body["error"].get(key).is_some());
        assert!(schema["properties"]["error"]["required"].as_array().unwrap().contains(&json!(key)));
    }
    assert!(ERROR_CODES.contains(&e.code));
}
