//! The scale-out backends through the real binary: PostgreSQL for the
//! registry, an S3-protocol server for the store; what happens when either
//! is down or locked; and concurrent pushes on both databases.

mod support;

use std::time::{Duration, Instant};

use berth_testkit::{PgDatabase, closed_port, s3_bucket};
use support::{Project, noise};

fn s3_project(bucket: &str) -> Project {
    Project::on_bucket(None, bucket)
}

#[test]
fn push_and_pull_through_s3_with_a_read_through_cache() {
    let bucket = s3_bucket();
    let p = s3_project(&bucket);
    p.write("model/w.bin", &noise(20, 9 << 20)); // over the single-request limit: multipart
    p.write("model/c.json", b"{}");
    let r = p.berth(&["push", "model", "--model", "churn", "--json"]).ok().json();
    assert_eq!(r["blobs_written"], 2);
    let again = p.berth(&["push", "model", "--model", "churn", "--json"]).ok().json();
    assert_eq!(again["blobs_written"], 0, "the store already has both blobs");
    p.berth(&["pull", "churn@1", "-o", "out"]).ok();
    assert_eq!(std::fs::read(p.path().join("out/w.bin")).unwrap(), noise(20, 9 << 20));
    let f = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!(f["blobs_checked"], 3);

    // With the S3 server unreachable, a blob already in the local cache is still served.
    let down = format!("http://127.0.0.1:{}", closed_port());
    let mut offline = p.command(&["pull", "churn@1", "-o", "offline"]);
    offline.env("AWS_ENDPOINT_URL", &down);
    let out: support::Run = offline.output().unwrap().into();
    // The registry is local, the manifest and files are cached: the pull succeeds.
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read(p.path().join("offline/w.bin")).unwrap(), noise(20, 9 << 20));
}

#[test]
fn an_unreachable_s3_server_fails_with_exit_3_and_names_the_url() {
    let p = Project::empty()
        .with_env("BERTH_STORE_URL", "s3://nowhere/models")
        .with_env("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{}", closed_port()))
        .with_env("AWS_ACCESS_KEY_ID", "k")
        .with_env("AWS_SECRET_ACCESS_KEY", "s");
    p.berth(&["init"]).ok();
    p.write("m.bin", b"weights");
    let t = Instant::now();
    let r = p.berth(&["push", "m.bin", "--model", "m"]).fails(3);
    assert!(t.elapsed() < Duration::from_secs(90), "bounded retries, took {:?}", t.elapsed());
    assert!(r.stderr.contains("s3://nowhere/models"), "{}", r.stderr);
    assert!(r.stderr.contains("help:"), "{}", r.stderr);
    // Nothing was registered.
    let v = p.berth(&["models", "--json"]).ok().json();
    assert_eq!(v.as_array().unwrap().len(), 0);
}

#[test]
fn an_s3_error_says_the_providers_code_and_message_not_its_xml() {
    let p = s3_project("no-such-bucket-here");
    p.write("m.bin", b"weights");
    let r = p.berth(&["push", "m.bin", "--model", "m"]).fails(3);
    assert!(r.stderr.contains("NoSuchBucket: The specified bucket does not exist"), "{}", r.stderr);
    assert!(!r.stderr.contains("<?xml") && !r.stderr.contains("<Error>"), "{}", r.stderr);
    assert!(r.stderr.contains("create the bucket \"no-such-bucket-here\""), "{}", r.stderr);
}

#[test]
fn push_and_pull_with_a_postgres_registry() {
    let db = PgDatabase::create();
    let p = Project::empty().with_env("BERTH_REGISTRY_URL", &db.url);
    p.berth(&["init"]).ok();
    p.write("m.bin", &noise(21, 2000));
    p.berth(&["push", "m.bin", "--model", "churn"]).ok();
    p.berth(&["alias", "set", "churn", "production", "1"]).ok();
    let show = p.berth(&["show", "churn@production", "--json"]).ok().json();
    assert_eq!(show["version"], 1);
    p.berth(&["pull", "churn@production", "-o", "out"]).ok();
    assert_eq!(p.berth(&["log", "--json"]).ok().json().as_array().unwrap().len(), 2);
}

#[test]
fn an_unreachable_database_fails_at_once_with_exit_3_and_says_why() {
    let port = closed_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let p = Project::empty().with_env("BERTH_REGISTRY_URL", &url).with_env("BERTH_STORE_URL", "store");
    let t = Instant::now();
    let r = p.berth(&["models"]).fails(3);
    // The pool used to retry a refused connection for 10 s and then say only "pool timed out".
    assert!(t.elapsed() < Duration::from_secs(8), "took {:?}", t.elapsed());
    let said = format!("cannot connect to PostgreSQL at 127.0.0.1:{port}: connection refused");
    assert!(r.stderr.contains(&said), "{}", r.stderr);
    assert!(!r.stderr.contains("pool timed out"), "{}", r.stderr);
    assert!(r.stderr.contains("PostgreSQL is running"), "{}", r.stderr);
}

#[test]
fn a_locked_sqlite_registry_fails_with_exit_3_after_the_busy_timeout() {
    let p = Project::new().with_env("BERTH_REGISTRY_BUSY_TIMEOUT_MS", "300");
    p.write("m.bin", b"x");
    let db = p.path().join(".berth/registry.db");
    // Another process holds the write lock for a few seconds.
    let mut holder = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3,time,sys; c=sqlite3.connect({:?}, isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(6)",
            db.display().to_string()
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "locked");
    let r = p.berth(&["push", "m.bin", "--model", "m"]).fails(3);
    assert!(r.stderr.contains("locked"), "{}", r.stderr);
    holder.kill().ok();
    holder.wait().ok();
    p.berth(&["push", "m.bin", "--model", "m"]).ok();
}

fn eight_parallel_pushes(p: &Project) {
    for i in 0..8 {
        p.write(&format!("m{i}.bin"), &noise(300 + i, 200_000));
    }
    let children: Vec<_> = (0..8)
        .map(|i| {
            p.command(&["push", &format!("m{i}.bin"), "--model", "race", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut numbers: Vec<u64> = children
        .into_iter()
        .map(|c| {
            let r: support::Run = c.wait_with_output().unwrap().into();
            r.ok().json()["version"]["version"].as_u64().unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
    let listed = p.berth(&["versions", "race", "--json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 8);
    assert_eq!(p.berth(&["fsck", "--json"]).ok().json()["ok"], true);
}

#[test]
fn eight_parallel_pushes_get_eight_consecutive_versions_on_sqlite() {
    eight_parallel_pushes(&Project::new());
}

#[test]
fn eight_parallel_pushes_get_eight_consecutive_versions_on_postgres() {
    let db = PgDatabase::create();
    let p = Project::empty().with_env("BERTH_REGISTRY_URL", &db.url);
    p.berth(&["init"]).ok();
    eight_parallel_pushes(&p);
}
