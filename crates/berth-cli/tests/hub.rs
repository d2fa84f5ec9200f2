//! `berth hub` through the real binary over real HTTP: tokens, roles per
//! model and environment, four eyes between authenticated principals, the
//! policy held inside the move, the seed routes, and two replicas on one
//! PostgreSQL and one S3 bucket behaving as one hub.

mod support;

use std::collections::BTreeSet;

use berth_testkit::{PgDatabase, s3_bucket};
use serde_json::{Value, json};
use support::Project;
use support::http::{Server, api, make_token as token, send};

const POLICY: &str = r#"
[environments.staging]

[environments.production]
approvals = 1
promoters = ["carol", "ci"]
"#;

/// An embedded project with [`POLICY`].
fn policy_project() -> Project {
    let p = Project::new();
    p.configure(POLICY);
    p
}

fn push_as(p: &Project, user: &str, file: &str, bytes: &[u8]) {
    p.write(file, bytes);
    let out = p.command(&["push", file, "--model", "churn"]).env("BERTH_USER", user).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn audit(p: &Project) -> Vec<Value> {
    p.berth(&["log", "--json", "--limit", "100000"]).ok().json().as_array().unwrap().clone()
}

fn production(port: u16, reader: &str) -> Option<u64> {
    let r = api(port, "GET", "/api/v1/models/churn/versions", Some(reader), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["aliases"]["production"].as_u64()
}

#[test]
fn the_hub_holds_every_caller_to_its_token_role_and_policy() {
    let p = policy_project();
    push_as(&p, "alice", "m1.txt", b"model one");
    push_as(&p, "alice", "m2.txt", b"model two");
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();
    assert!(admin.starts_with("berth_"), "{admin}");
    // A second init is refused: the first admin token exists.
    let again = p.berth(&["hub", "init"]).fails(2);
    assert!(again.stderr.contains("already has an admin token"), "{}", again.stderr);
    let hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let port = hub.port;

    let t = |body: Value| token(port, &admin, body);
    let (alice_approver, _) = t(json!({"principal": "alice", "role": "approver", "models": "churn"}));
    let (bob, _) = t(json!({"principal": "bob", "role": "approver", "models": "churn", "envs": ["production"]}));
    let (carol, carol_id) = t(json!({"principal": "carol", "role": "deployer", "models": "churn"}));
    let (dave, _) = t(json!({"principal": "dave", "role": "deployer", "models": "churn"}));
    let (stager, _) = t(json!({"principal": "carol", "role": "deployer", "models": "churn", "envs": ["staging"]}));
    let (fraud, _) = t(json!({"principal": "carol", "role": "deployer", "models": "fraud-*"}));
    let (reader, _) = t(json!({"principal": "rita", "role": "reader"}));
    let (expired, _) = t(json!({"principal": "carol", "role": "deployer", "models": "churn", "expires_in": "1s"}));
    let (revoked, revoked_id) = t(json!({"principal": "carol", "role": "deployer", "models": "churn"}));
    let r = api(port, "DELETE", &format!("/api/v1/tokens/{revoked_id}"), Some(&admin), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.body);
    std::thread::sleep(std::time::Duration::from_millis(1200));

    let whoami = api(port, "GET", "/api/v1/whoami", Some(&carol), &Value::Null).json();
    assert_eq!((whoami["name"].as_str(), whoami["token"].as_str()), (Some("carol"), Some(carol_id.as_str())));

    // Every mutating route, with every kind of wrong credential: refused,
    // and nothing changes.
    let before = audit(&p).len();
    let revoke_carol = format!("/api/v1/tokens/{carol_id}");
    let routes: Vec<(&str, &str, Value)> = vec![
        ("PUT", "/api/v1/models/churn/aliases/canary", json!({"version": 1})),
        ("DELETE", "/api/v1/models/churn/aliases/canary", Value::Null),
        ("POST", "/api/v1/models/churn/promote", json!({"version": 1, "env": "production"})),
        ("POST", "/api/v1/models/churn/rollback", json!({"env": "production"})),
        ("POST", "/models/churn/rollback", json!({"target_version": "v1"})),
        ("POST", "/api/v1/models/churn/versions/1/approvals", json!({"env": "production"})),
        ("PUT", "/api/v1/models/churn/versions/1/tags", json!({"tags": {"k": "v"}})),
        ("POST", "/api/v1/tokens", json!({"principal": "x", "role": "admin"})),
        ("DELETE", &revoke_carol, Value::Null),
        ("PUT", "/api/v1/policy", json!({"environments": {}})),
    ];
    let unknown = format!("berth_{}", "0".repeat(43));
    let credentials: Vec<(&str, Option<&str>, u16)> = vec![
        ("no token", None, 401),
        ("not a berth token", Some("hunter2"), 401),
        ("an unknown token", Some(&unknown), 401),
        ("an expired token", Some(&expired), 401),
        ("a revoked token", Some(&revoked), 401),
        ("the wrong role", Some(&reader), 403),
        ("the wrong model pattern", Some(&fraud), 403),
    ];
    for (method, path, body) in &routes {
        for (what, cred, want) in &credentials {
            let r = api(port, method, path, *cred, body);
            assert_eq!(r.status, *want, "{method} {path} with {what}: {}", r.body);
            let code = r.json()["error"]["code"].as_str().unwrap_or_default().to_string();
            assert_eq!(code, if *want == 401 { "unauthenticated" } else { "denied" }, "{method} {path}: {}", r.body);
        }
    }
    // The wrong environment: a deployer for staging cannot touch production.
    for (method, path, body) in &routes[2..5] {
        let r = api(port, method, path, Some(&stager), body);
        assert_eq!(r.status, 403, "{method} {path} with a staging-only token: {}", r.body);
    }
    assert_eq!(audit(&p).len(), before, "a refused request changed the registry");
    assert_eq!(production(port, &reader), None);

    // Four eyes between authenticated principals: alice published, so alice's
    // approver token cannot approve; bob's can.
    let r = api(
        port,
        "POST",
        "/api/v1/models/churn/versions/1/approvals",
        Some(&alice_approver),
        &json!({"env": "production"}),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("alice published churn@1"), "{}", r.body);
    let r = api(port, "POST", "/api/v1/models/churn/versions/1/approvals", Some(&bob), &json!({"env": "production"}));
    assert_eq!(r.status, 201, "{}", r.body);

    // The policy: version 2 lacks an approval, so its promotion is a 403 listing it.
    let promote = |tok: &str, v: u64| {
        api(port, "POST", "/api/v1/models/churn/promote", Some(tok), &json!({"version": v, "env": "production"}))
    };
    let r = promote(&carol, 2);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"]["missing"][0]["detail"]["missing"], "approvals", "{}", r.body);
    let r = promote(&carol, 1);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["promoted"], true);
    let r = api(port, "GET", "/api/v1/models/churn/aliases/production", Some(&reader), &Value::Null);
    assert_eq!((r.status, r.json()["version"].as_u64()), (200, Some(1)), "{}", r.body);
    // dave may deploy churn but is not among production's promoters.
    let r = promote(&dave, 1);
    assert_eq!(r.status, 403, "{}", r.body);
    let r = api(port, "POST", "/api/v1/models/churn/rollback", Some(&dave), &json!({"env": "production"}));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("may not roll back production"), "{}", r.body);
    // A governed environment does not move by alias.
    let r = api(port, "PUT", "/api/v1/models/churn/aliases/production", Some(&carol), &json!({"version": 2}));
    assert_eq!(r.status, 422, "{}", r.body);

    api(port, "POST", "/api/v1/models/churn/versions/2/approvals", Some(&bob), &json!({"env": "production"}));
    assert_eq!(promote(&carol, 2).status, 200);
    assert_eq!(production(port, &reader), Some(2));

    // The seed routes, at the paths older scripts use.
    let r = api(port, "GET", "/models/churn/versions", Some(&reader), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["versions"].as_array().unwrap().len(), 2);
    let r = api(port, "POST", "/models/churn/rollback", Some(&carol), &json!({"target_version": "v1"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(production(port, &reader), Some(1));
    let r = api(port, "POST", "/models/churn/rollback", Some(&carol), &json!({"target_version": "version one"}));
    assert_eq!(r.status, 422, "{}", r.body);

    // Versions come a page at a time, newest first.
    let page = api(port, "GET", "/api/v1/models/churn/versions?limit=1", Some(&reader), &Value::Null).json();
    assert_eq!((page["versions"][0]["version"].as_u64(), page["next"].as_u64()), (Some(2), Some(2)), "{page}");
    let page = api(port, "GET", "/api/v1/models/churn/versions?limit=1&before=2", Some(&reader), &Value::Null).json();
    assert_eq!((page["versions"][0]["version"].as_u64(), page.get("next")), (Some(1), None), "{page}");
    for bad in ["limit=0", "limit=1001", "before=0", "limit=x", "order=asc"] {
        let r = api(port, "GET", &format!("/api/v1/models/churn/versions?{bad}"), Some(&reader), &Value::Null);
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }

    // Bad requests are 400 (not JSON) and 422 (wrong fields), never 5xx.
    let r = send(
        port,
        "POST",
        "/api/v1/models/churn/promote",
        b"{not json",
        &[("Authorization", &format!("Bearer {carol}"))],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = api(port, "POST", "/api/v1/models/churn/promote", Some(&carol), &json!({"version": 1, "envv": "x"}));
    assert_eq!(r.status, 422, "{}", r.body);
    let r = api(port, "GET", "/api/v1/models/Churn/versions", Some(&reader), &Value::Null);
    assert_eq!(r.status, 422, "{}", r.body);
    let r = api(port, "GET", "/api/v1/models/nosuch/versions", Some(&reader), &Value::Null);
    assert_eq!(r.status, 404, "{}", r.body);

    // The audit log names the principal and the token, never the secret.
    let entries = audit(&p);
    let by_carol: Vec<&Value> = entries.iter().filter(|e| e["actor"] == "carol").collect();
    assert!(!by_carol.is_empty());
    assert!(by_carol.iter().all(|e| e["token"] == carol_id.as_str()), "{by_carol:?}");
    let secrets = [&admin, &alice_approver, &bob, &carol, &dave, &stager, &fraud, &reader, &expired, &revoked];
    let audit_text = serde_json::to_string(&entries).unwrap();
    let db = std::fs::read(p.path().join(".berth/registry.db")).unwrap();
    let db = String::from_utf8_lossy(&db);
    for s in secrets {
        assert!(!hub.log().contains(s.as_str()), "a token secret is in the hub's log");
        assert!(!audit_text.contains(s.as_str()), "a token secret is in the audit log");
        assert!(!db.contains(s.as_str()), "a token secret is in the registry");
    }

    // Probes and metrics.
    assert_eq!(api(port, "GET", "/livez", None, &Value::Null).status, 200);
    assert_eq!(api(port, "GET", "/readyz", None, &Value::Null).status, 200);
    let m = api(port, "GET", "/metrics", None, &Value::Null).body;
    assert!(m.contains(r#"berth_hub_requests_total{route="/api/v1/models/{model}/promote",code="403"}"#), "{m}");
    let failures: u64 =
        m.lines().find_map(|l| l.strip_prefix("berth_hub_auth_failures_total ")).and_then(|v| v.parse().ok()).unwrap();
    assert!(failures >= 50, "{m}");
}

#[test]
fn two_hub_replicas_on_one_postgres_and_bucket_act_as_one() {
    let db = PgDatabase::create();
    let bucket = s3_bucket();
    let p = Project::on_bucket(Some(&db.url), &bucket);
    p.configure(POLICY);
    // A shared registry takes its policy only from `policy apply`.
    let shown = p.berth(&["policy", "show", "--json"]).ok().json();
    assert!(shown["record"].is_null(), "{shown}");
    let applied = p.berth(&["policy", "apply", "--json"]).ok().json();
    assert_eq!((applied["applied"].as_bool(), applied["policy"]["version"].as_u64()), (Some(true), Some(1)));
    let again = p.berth(&["policy", "apply", "--json"]).ok().json();
    assert_eq!(again["applied"], false);
    for i in 1..=3u8 {
        push_as(&p, "alice", &format!("m{i}.txt"), &[i; 64]);
    }
    // A move says so when berth.toml is not the policy the registry enforces.
    let r = p.berth(&["alias", "set", "churn", "canary", "1"]).ok();
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    p.configure("\n[environments.qa]\n");
    let r = p.berth(&["alias", "set", "churn", "canary", "2"]).ok();
    assert!(r.stderr.contains("differ from the policy in force (version 1"), "{}", r.stderr);
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();
    let a = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let b = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let (deployer, id) = token(a.port, &admin, json!({"principal": "ci", "role": "deployer", "models": "churn"}));
    let (reader, _) = token(b.port, &admin, json!({"principal": "rita", "role": "reader"}));
    assert_eq!(api(b.port, "GET", "/api/v1/whoami", Some(&deployer), &Value::Null).status, 200);

    // A hundred promotions and rollbacks through both replicas at once keep one chain.
    let moved: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..100u64)
            .map(|i| {
                let (port, tok) = (if i % 2 == 0 { a.port } else { b.port }, deployer.clone());
                s.spawn(move || {
                    let r = if i % 3 == 2 {
                        api(port, "POST", "/api/v1/models/churn/rollback", Some(&tok), &json!({"env": "staging"}))
                    } else {
                        let body = json!({"version": i % 3 + 1, "env": "staging"});
                        api(port, "POST", "/api/v1/models/churn/promote", Some(&tok), &body)
                    };
                    assert!(r.status < 500, "a replica failed: {} {}", r.status, r.body);
                    r.status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(moved.contains(&200), "{moved:?}");
    let history = p.berth(&["deployments", "churn", "--env", "staging", "--json"]).ok().json();
    let events: Vec<&Value> = history.as_array().unwrap().iter().collect();
    assert!(!events.is_empty());
    let mut last: Option<u64> = None;
    let mut ids = BTreeSet::new();
    for e in &events {
        assert_eq!(e["from"].as_u64(), last, "the chain breaks at {e}");
        last = e["to"].as_u64();
        assert!(ids.insert(e["id"].as_i64().unwrap()));
    }
    let current = api(a.port, "GET", "/api/v1/models/churn/aliases/staging", Some(&reader), &Value::Null).json();
    assert_eq!(current["version"].as_u64(), last);

    // A token revoked through one replica is refused by the other at once.
    let r = api(a.port, "DELETE", &format!("/api/v1/tokens/{id}"), Some(&admin), &Value::Null);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api(b.port, "GET", "/api/v1/whoami", Some(&deployer), &Value::Null);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(!a.log().contains(&deployer) && !b.log().contains(&deployer));
}

#[test]
fn the_cli_works_through_the_hub_with_a_token() {
    let p = policy_project();
    push_as(&p, "alice", "m1.txt", b"model one");
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();
    let hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let url = format!("http://127.0.0.1:{}", hub.port);
    let (carol, _) = token(hub.port, &admin, json!({"principal": "carol", "role": "deployer", "models": "churn"}));
    let (alice, _) = token(hub.port, &admin, json!({"principal": "alice", "role": "approver", "models": "churn"}));

    // A laptop with no project, no database and no bucket: only the hub and a token.
    let cache = tempfile::tempdir().unwrap();
    let as_token = |tok: &str| {
        Project::empty()
            .with_env("BERTH_HUB_URL", &url)
            .with_env("BERTH_TOKEN", tok)
            .with_env("XDG_CACHE_HOME", cache.path().to_str().unwrap())
    };
    let laptop = as_token(&carol);
    let models = laptop.berth(&["models", "--json"]).ok().json();
    assert_eq!(models[0]["name"], "churn", "{models}");
    let versions = laptop.berth(&["versions", "churn"]).ok();
    assert!(versions.stdout.contains("alice"), "{}", versions.stdout);
    laptop.berth(&["show", "churn@1"]).ok();
    // BERTH_USER means nothing to the hub: carol is who her token says.
    let r = laptop.command(&["promote", "churn@1", "--to", "production"]).env("BERTH_USER", "ci").output().unwrap();
    assert_eq!(r.status.code(), Some(1), "{}", String::from_utf8_lossy(&r.stderr));
    let said = format!("{}{}", String::from_utf8_lossy(&r.stdout), String::from_utf8_lossy(&r.stderr));
    assert!(said.contains("0 of 1 approvals"), "{said}");
    let r = as_token(&alice).berth(&["approve", "churn@1", "--env", "production"]).fails(1);
    assert!(r.stderr.contains("alice published churn@1"), "{}", r.stderr);
    let (bob, _) = token(hub.port, &admin, json!({"principal": "bob", "role": "approver", "models": "churn"}));
    as_token(&bob).berth(&["approve", "churn@1", "--env", "production"]).ok();
    let promoted = laptop.berth(&["promote", "churn@1", "--to", "production", "--json"]).ok().json();
    assert_eq!(promoted["promoted"], true, "{promoted}");
    let history = laptop.berth(&["deployments", "churn", "--env", "production", "--json"]).ok().json();
    assert_eq!(history[0]["actor"], "carol", "{history}");
    let log = laptop.berth(&["log", "--model", "churn", "--json"]).ok().json();
    assert!(log.as_array().unwrap().iter().any(|e| e["action"] == "env.promote" && e["actor"] == "carol"), "{log}");
    // Not an admin: no tokens; an admin can.
    let r = laptop.berth(&["token", "list"]).fails(1);
    assert!(r.stderr.contains("needs the admin role"), "{}", r.stderr);
    let list = as_token(&admin).berth(&["token", "list", "--json"]).ok().json();
    assert!(list.as_array().unwrap().len() >= 4);
    as_token(&admin).berth(&["policy", "show"]).ok();
    // Push and pull through the hub: carol publishes from the laptop with a
    // publisher token, and the version is hers.
    let (publisher, _) = token(hub.port, &admin, json!({"principal": "carol", "role": "publisher", "models": "churn"}));
    let pusher = as_token(&publisher);
    let big = support::noise(7, 5 << 20);
    pusher.write("m2.bin", &big);
    let pushed = pusher.berth(&["push", "m2.bin", "--model", "churn", "--json"]).ok().json();
    assert_eq!(pushed["ref"], "churn@2", "{pushed}");
    assert_eq!((pushed["files"].as_u64(), pushed["bytes"].as_u64()), (Some(1), Some(5 << 20)), "{pushed}");
    assert_eq!((pushed["blobs_written"].as_u64(), pushed["blobs_skipped"].as_u64()), (Some(1), Some(0)), "{pushed}");
    let newest = |versions: &Value| versions.as_array().unwrap().iter().find(|v| v["version"] == 2).cloned();
    for (who, versions) in [
        ("the hub", laptop.berth(&["versions", "churn", "--json"]).ok().json()),
        ("the server's project", p.berth(&["versions", "churn", "--json"]).ok().json()),
    ] {
        let v = newest(&versions).unwrap_or_else(|| panic!("{who} has no churn@2: {versions}"));
        assert_eq!(v["created_by"], "carol", "through {who}: {v}");
        assert_eq!(v["size"].as_u64(), Some(5 << 20), "through {who}: {v}");
    }
    assert!(!hub.log().contains(&publisher), "a token secret is in the hub's log");
    // The same bytes again: nothing is sent, and --if-changed makes no version.
    let again = pusher.berth(&["push", "m2.bin", "--model", "churn", "--if-changed", "--json"]).ok().json();
    assert_eq!((again["unchanged"].as_bool(), again["blobs_written"].as_u64()), (Some(true), Some(0)), "{again}");
    assert_eq!(again["version"]["version"], 2, "{again}");

    // The pull writes the same bytes, and a second pull leaves them alone.
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("v2");
    let d = dest.to_str().unwrap();
    let pulled = laptop.berth(&["pull", "churn@2", "-o", d, "--json"]).ok().json();
    assert_eq!((pulled["written"].as_u64(), pulled["skipped"].as_u64()), (Some(1), Some(0)), "{pulled}");
    assert!(std::fs::read(dest.join("m2.bin")).unwrap() == big, "the pulled bytes differ from the pushed ones");
    let pulled = laptop.berth(&["pull", "churn@2", "-o", d, "--json"]).ok().json();
    assert_eq!((pulled["written"].as_u64(), pulled["skipped"].as_u64()), (Some(0), Some(1)), "{pulled}");
    assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 1, "the pull left something beside the file");
    // A broken download resumes from its partial file; one that held other
    // bytes is downloaded again from the start. Either way the bytes are right.
    let shown = laptop.berth(&["show", "churn@2", "--json"]).ok().json();
    let hex = shown["files"][0]["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_string();
    let partial = dest.join(format!(".m2.bin.{}.berth-partial", &hex[..16]));
    for (what, prefix) in [("the right prefix", big[..3 << 20].to_vec()), ("other bytes", vec![0u8; 1 << 20])] {
        std::fs::remove_file(dest.join("m2.bin")).unwrap();
        std::fs::write(&partial, &prefix).unwrap();
        laptop.berth(&["pull", "churn@2", "-o", d]).ok();
        assert!(std::fs::read(dest.join("m2.bin")).unwrap() == big, "a partial file of {what}: the bytes differ");
        assert!(!partial.exists(), "a partial file of {what} was left behind");
    }
    let m = api(hub.port, "GET", "/metrics", None, &Value::Null).body;
    let files_route = r#"route="/api/v1/models/{model}/versions/{version}/files/{*path}""#;
    assert!(
        m.contains(&format!(r#"berth_hub_requests_total{{{files_route},code="206"}}"#)),
        "no download resumed: {m}"
    );
    // A destination that is a file is refused, as a local pull refuses it.
    let r = laptop.berth(&["pull", "churn@2", "-o", dest.join("m2.bin").to_str().unwrap()]).fails(2);
    assert!(r.stderr.contains("exists and is not a directory"), "{}", r.stderr);

    // A reader cannot push, and is told what it lacks before anything is hashed.
    let (reader, _) = token(hub.port, &admin, json!({"principal": "rita", "role": "reader"}));
    let rita = as_token(&reader);
    rita.write("m3.bin", b"three");
    let r = rita.berth(&["push", "m3.bin", "--model", "churn"]).fails(1);
    assert!(r.stderr.contains("needs the publisher role"), "{}", r.stderr);
    let versions = p.berth(&["versions", "churn", "--json"]).ok().json();
    assert_eq!(versions.as_array().unwrap().len(), 2, "a refused push made a version: {versions}");

    // What does not go through the hub yet says so, instead of reaching around it.
    let r = laptop.berth(&["gc"]).fails(2);
    assert!(r.stderr.contains("does not go through the hub"), "{}", r.stderr);

    // Credentials: a token is required, a credentials file must be private,
    // and a token is not sent in the clear to another machine.
    let home = tempfile::tempdir().unwrap();
    let nobody =
        Project::empty().with_env("BERTH_HUB_URL", &url).with_env("XDG_CONFIG_HOME", home.path().to_str().unwrap());
    let r = nobody.berth(&["models"]).fails(2);
    assert!(r.stderr.contains("there is no token"), "{}", r.stderr);
    let creds = home.path().join("berth/credentials");
    std::fs::create_dir_all(creds.parent().unwrap()).unwrap();
    std::fs::write(&creds, format!("{carol}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = nobody.berth(&["models"]).fails(2);
    assert!(r.stderr.contains("readable by others"), "{}", r.stderr);
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    nobody.berth(&["models"]).ok();
    let far = Project::empty().with_env("BERTH_HUB_URL", "http://192.0.2.1:8443").with_env("BERTH_TOKEN", &carol);
    let r = far.berth(&["models"]).fails(2);
    assert!(r.stderr.contains("unencrypted"), "{}", r.stderr);
    let r = as_token("berth_wrong").berth(&["models"]).fails(1);
    assert!(r.stderr.contains("not known to this hub"), "{}", r.stderr);
    assert!(!hub.log().contains(&carol));
}

#[test]
fn a_hub_killed_during_an_upload_leaves_no_blob_and_the_push_succeeds_after() {
    use std::io::Write;
    let p = Project::new();
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();
    let mut hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let big = support::noise(11, 8 << 20);
    let file = p.write("weights.bin", &big);
    let sum = std::process::Command::new("sha256sum").arg(&file).output().unwrap();
    let digest = format!("sha256:{}", String::from_utf8_lossy(&sum.stdout).split_whitespace().next().unwrap());
    let manifest = json!({"manifest": {
        "mediaType": "application/vnd.berth.manifest.v1+json",
        "files": {"weights.bin": {"digest": digest, "size": big.len()}},
    }});
    let begun = api(hub.port, "POST", "/api/v1/models/churn/uploads", Some(&admin), &manifest);
    assert_eq!(begun.status, 201, "{}", begun.body);
    let upload = begun.json()["upload"].as_i64().unwrap();

    // Half the blob is on its way when the hub is killed (SIGKILL: no cleanup runs).
    let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    let head = format!(
        "PUT /api/v1/uploads/{upload}/blobs/{digest} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&big[..big.len() / 2]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    hub.child.kill().unwrap();
    hub.child.wait().unwrap();
    drop(s);
    assert!(!p.blob_path(&digest).exists(), "a partial blob is visible in the store");
    let versions = p.berth(&["versions", "churn", "--json"]);
    assert!(versions.stdout.trim().is_empty() || versions.json().as_array().is_none_or(|v| v.is_empty()));
    let fsck = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!(fsck["ok"], true, "{fsck}");

    // The hub again: the same push from a machine with a token succeeds, whole.
    hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let url = format!("http://127.0.0.1:{}", hub.port);
    let (publisher, _) = token(hub.port, &admin, json!({"principal": "ci", "role": "publisher", "models": "churn"}));
    let laptop = Project::empty().with_env("BERTH_HUB_URL", &url).with_env("BERTH_TOKEN", &publisher);
    laptop.write("weights.bin", &big);
    let pushed = laptop.berth(&["push", "weights.bin", "--model", "churn", "--json"]).ok().json();
    assert_eq!((pushed["ref"].as_str(), pushed["blobs_written"].as_u64()), (Some("churn@1"), Some(1)), "{pushed}");
    assert!(std::fs::read(p.blob_path(&digest)).unwrap() == big, "the stored blob differs from the pushed bytes");
}

#[test]
fn a_request_head_that_trickles_in_is_cut_off() {
    use std::io::{Read, Write};
    let p = Project::new();
    let hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0", "--header-read-timeout", "1s"]);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let started = std::time::Instant::now();
    s.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n").unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(15), "the connection was held {waited:?}");
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"), "{}", String::from_utf8_lossy(&got));
    // A whole request is still answered.
    assert_eq!(api(hub.port, "GET", "/livez", None, &Value::Null).status, 200);
    let r = p.berth(&["hub", "--addr", "127.0.0.1:0", "--header-read-timeout", "0s"]).fails(2);
    assert!(r.stderr.contains("--header-read-timeout"), "{}", r.stderr);
}
