//! The hub's Git LFS server driven by the real `git lfs` client: a tracked
//! 20 MB file pushed through the hub from one clone (a publisher's token as
//! a bearer header) and pulled into a fresh clone (a reader's token as the
//! password git's credential helper keeps); a reader's push refused; the
//! object a blob that `berth fsck` knows and `berth gc` keeps; wrong bytes
//! refused over raw HTTP. Git runs with its own HOME and global config in a
//! temporary directory, never the machine's, and never prompts.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use support::Project;
use support::http::{Resp, Server, send};

/// 20 MB of bytes no compressor shrinks, the same on every run.
fn noise_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    berth_core::Digest::of(bytes).hex()
}

/// Git with a home of its own: global config in a temporary directory, no
/// system config, no prompts, and `git lfs` installed into that global config.
struct Git {
    home: tempfile::TempDir,
}

impl Git {
    fn new() -> Git {
        let git = Git { home: tempfile::tempdir().unwrap() };
        let lfs = git.command(git.home.path(), &["lfs", "version"]).output();
        assert!(
            lfs.as_ref().is_ok_and(|o| o.status.success()),
            "git lfs is not installed ({lfs:?}); .ci/run installs it (apt-get install -y git-lfs)"
        );
        for (k, v) in [("user.name", "Tess Ter"), ("user.email", "tess@example.com"), ("init.defaultBranch", "main")] {
            git.ok(git.home.path(), &["config", "--global", k, v]);
        }
        git.ok(git.home.path(), &["lfs", "install"]);
        git
    }

    fn global_config(&self) -> PathBuf {
        self.home.path().join("gitconfig")
    }

    /// The environment every git (and the berth that runs git) gets.
    fn env(&self, c: &mut Command) {
        for k in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_LFS_SKIP_SMUDGE", "GIT_TRACE", "GIT_ASKPASS"] {
            c.env_remove(k);
        }
        c.env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg"))
            .env("GIT_CONFIG_GLOBAL", self.global_config())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("SSH_ASKPASS", "");
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.args(args).current_dir(dir).stdin(Stdio::null());
        self.env(&mut c);
        c
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        self.command(dir, args).output().expect("run git")
    }

    #[track_caller]
    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let o = self.run(dir, args);
        assert!(
            o.status.success(),
            "git {args:?} in {} failed:\n{}\n{}",
            dir.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

fn token(port: u16, admin: &str, body: Value) -> String {
    support::http::make_token(port, admin, body).0
}

/// A Git LFS request with a bearer token.
fn lfs(port: u16, method: &str, path: &str, token: &str, body: &[u8]) -> Resp {
    let auth = format!("Bearer {token}");
    let headers = [("Content-Type", "application/vnd.git-lfs+json"), ("Authorization", auth.as_str())];
    send(port, method, path, body, &headers)
}

fn batch(port: u16, token: &str, operation: &str, oid: &str, size: usize) -> Resp {
    let body = json!({"operation": operation, "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]});
    lfs(port, "POST", "/lfs/churn/objects/batch", token, body.to_string().as_bytes())
}

#[test]
fn git_lfs_pushes_and_pulls_a_tracked_file_through_the_hub() {
    let p = Project::new();
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();
    let hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let port = hub.port;
    let hub_url = format!("http://127.0.0.1:{port}");
    let lfs_url = format!("{hub_url}/lfs/churn");
    let publisher = token(port, &admin, json!({"principal": "ci", "role": "publisher", "models": "churn"}));
    let reader = token(port, &admin, json!({"principal": "bob", "role": "reader", "models": "churn"}));

    let git = Git::new();
    let root = git.home.path();
    git.ok(root, &["init", "-q", "--bare", "remote.git"]);
    git.ok(root, &["clone", "-q", "remote.git", "work"]);
    let work = root.join("work");

    // `berth lfs install` prints the .lfsconfig, or writes it; never a token.
    let printed = p.berth(&["lfs", "install", "churn", "--url", &format!("{hub_url}/")]).ok();
    assert_eq!(printed.stdout, format!("[lfs]\n\turl = {lfs_url}\n\tlocksverify = false\n"));
    assert!(printed.stderr.contains(&format!("git config http.{lfs_url}.extraHeader")), "{}", printed.stderr);
    let none = p.berth(&["lfs", "install", "churn"]).fails(2);
    assert!(none.stderr.contains("no hub") && none.stderr.contains("--url"), "{}", none.stderr);
    let bad = p.berth(&["lfs", "install", "churn", "--url", "hub:8443"]).fails(2);
    assert!(bad.stderr.contains("--url"), "{}", bad.stderr);
    let mut install =
        p.command(&["-C", work.to_str().unwrap(), "lfs", "install", "churn", "--url", &hub_url, "--write"]);
    git.env(&mut install);
    let wrote: support::Run = install.output().unwrap().into();
    let wrote = wrote.ok();
    assert!(wrote.stdout.contains(".lfsconfig"), "{}", wrote.stdout);
    assert_eq!(git.ok(&work, &["config", "-f", ".lfsconfig", "lfs.url"]).trim(), lfs_url);
    assert_eq!(git.ok(&work, &["config", "-f", ".lfsconfig", "lfs.locksverify"]).trim(), "false");

    // Push: the publisher's token as a bearer header for the LFS URL only.
    let big = noise_bytes(20_000_000, 7);
    let oid = sha256_hex(&big);
    std::fs::write(work.join("model.bin"), &big).unwrap();
    git.ok(&work, &["lfs", "track", "*.bin"]);
    git.ok(&work, &["config", &format!("http.{lfs_url}.extraHeader"), &format!("Authorization: Bearer {publisher}")]);
    git.ok(&work, &["add", ".gitattributes", ".lfsconfig", "model.bin"]);
    git.ok(&work, &["commit", "-q", "-m", "a tracked model"]);
    git.ok(&work, &["push", "-q", "origin", "main"]);
    let pointer = git.ok(&work, &["show", "HEAD:model.bin"]);
    assert!(pointer.contains(&format!("oid sha256:{oid}")), "git holds the pointer, not the bytes: {pointer}");
    let blob = p.blob_path(&format!("sha256:{oid}"));
    assert_eq!(std::fs::read(&blob).unwrap(), big, "the object is a berth blob named by its oid");

    // The hub now says the object is stored: no actions for an upload.
    let r = batch(port, &publisher, "upload", &oid, big.len());
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/vnd.git-lfs+json")), "{}", r.body);
    let object = &r.json()["objects"][0];
    assert!(object.get("actions").is_none() && object.get("error").is_none(), "{object}");

    // Pull into a fresh clone, the reader's token as Basic credentials.
    let creds = root.join("credentials");
    std::fs::write(&creds, format!("http://git:{reader}@127.0.0.1:{port}\n")).unwrap();
    git.ok(root, &["config", "--global", "credential.helper", &format!("store --file={}", creds.display())]);
    git.ok(root, &["clone", "-q", "remote.git", "fresh"]);
    let fresh = root.join("fresh");
    assert!(std::fs::read(fresh.join("model.bin")).unwrap() == big, "the fresh clone has the same 20 MB");

    // A reader cannot push: git lfs is refused, and so is the push.
    let other = noise_bytes(1000, 8);
    std::fs::write(fresh.join("other.bin"), &other).unwrap();
    git.ok(&fresh, &["add", "other.bin"]);
    git.ok(&fresh, &["commit", "-q", "-m", "a reader's file"]);
    let refused = git.run(&fresh, &["push", "origin", "main"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a reader's push went through:\n{said}");
    assert!(said.contains("publisher"), "the refusal says what is missing:\n{said}");
    assert!(!p.blob_path(&format!("sha256:{}", sha256_hex(&other))).exists());

    // Without `locksverify = false`, git lfs asks for locks, gets 404 and carries on.
    git.ok(&work, &["config", "-f", ".lfsconfig", "--unset", "lfs.locksverify"]);
    std::fs::write(work.join("small.bin"), noise_bytes(5000, 9)).unwrap();
    git.ok(&work, &["add", ".lfsconfig", "small.bin"]);
    git.ok(&work, &["commit", "-q", "-m", "another"]);
    git.ok(&work, &["push", "-q", "origin", "main"]);

    // fsck checks the objects and calls none of them orphaned; gc keeps them.
    let fsck = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!((fsck["ok"].as_bool(), fsck["lfs_objects"].as_u64()), (Some(true), Some(2)), "{fsck}");
    assert!(fsck["orphaned"].as_array().unwrap().is_empty(), "{fsck}");
    assert!(fsck["blobs_checked"].as_u64().unwrap() >= 2, "{fsck}");
    let gc = p.berth(&["gc", "--json"]).ok().json();
    assert!(gc["removed"].as_array().unwrap().is_empty(), "gc removed an LFS object: {gc}");
    assert_eq!(gc["lfs_objects"].as_u64(), Some(2), "{gc}");
    assert_eq!(std::fs::read(&blob).unwrap(), big, "gc kept the object's bytes");

    // A version from the pointers of a clone that never fetched the bytes:
    // registered through the hub, nothing sent again, pulled whole.
    let mut clone = git.command(root, &["clone", "-q", "remote.git", "pointers"]);
    clone.env("GIT_LFS_SKIP_SMUDGE", "1");
    assert!(clone.status().unwrap().success());
    let pointers = root.join("pointers");
    assert!(std::fs::metadata(pointers.join("model.bin")).unwrap().len() < 200, "the clone holds the pointer");
    let through_hub = |args: &[&str]| -> support::Run {
        let mut c = p.command(args);
        c.env("BERTH_HUB_URL", &hub_url).env("BERTH_TOKEN", &publisher).env("XDG_CACHE_HOME", root.join("cache"));
        c.output().unwrap().into()
    };
    let model = pointers.join("model.bin");
    let pushed =
        through_hub(&["push", model.to_str().unwrap(), "--model", "churn", "--from-lfs", "--json"]).ok().json();
    assert_eq!((pushed["ref"].as_str(), pushed["blobs_written"].as_u64()), (Some("churn@1"), Some(0)), "{pushed}");
    assert_eq!(pushed["bytes"].as_u64(), Some(big.len() as u64), "{pushed}");
    let out = root.join("pulled");
    through_hub(&["pull", "churn@1", "-o", out.to_str().unwrap()]).ok();
    assert!(std::fs::read(out.join("model.bin")).unwrap() == big, "the version holds the object's bytes");
    let missing = pointers.join("missing.bin");
    let absent = noise_bytes(10, 10);
    std::fs::write(
        &missing,
        format!("version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 10\n", sha256_hex(&absent)),
    )
    .unwrap();
    let refused = through_hub(&["push", missing.to_str().unwrap(), "--model", "churn", "--from-lfs"]).fails(2);
    assert!(refused.stderr.contains("missing.bin") && refused.stderr.contains("git lfs push"), "{}", refused.stderr);
    // It was refused before an upload began: nothing is left for gc to wait for.
    let gc = p.berth(&["gc", "--json", "--wait", "1"]).ok().json();
    assert!(gc["removed"].as_array().unwrap().is_empty(), "{gc}");
    drop(hub);
}

#[test]
fn the_lfs_routes_refuse_wrong_bytes_wrong_credentials_and_missing_objects() {
    let p = Project::new();
    let admin = p.berth(&["hub", "init"]).ok().stdout.trim().to_string();
    let hub = Server::spawn(&p, &["hub", "--addr", "127.0.0.1:0"]);
    let port = hub.port;
    let publisher = token(port, &admin, json!({"principal": "ci", "role": "publisher", "models": "churn"}));
    let reader = token(port, &admin, json!({"principal": "bob", "role": "reader", "models": "churn"}));
    let elsewhere = token(port, &admin, json!({"principal": "eve", "role": "publisher", "models": "fraud-*"}));
    let (right, wrong) = (b"the right bytes".to_vec(), b"the wrong bytes".to_vec());
    let oid = sha256_hex(&right);
    let object = format!("/lfs/churn/objects/{oid}");

    // Bytes that do not hash to the oid: 422 in Git LFS's shape, nothing stored.
    let r = lfs(port, "PUT", &object, &publisher, &wrong);
    assert_eq!((r.status, r.header("content-type")), (422, Some("application/vnd.git-lfs+json")), "{}", r.body);
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains(&oid) && message.contains(&sha256_hex(&wrong)), "{message}");
    assert!(message.contains("nothing was stored"), "{message}");
    assert!(
        !p.blob_path(&format!("sha256:{oid}")).exists()
            && !p.blob_path(&format!("sha256:{}", sha256_hex(&wrong))).exists()
    );
    let r = batch(port, &reader, "download", &oid, right.len());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["objects"][0]["error"]["code"], 404, "a missing download is a per-object 404: {}", r.body);
    let r = lfs(port, "GET", &object, &reader, b"");
    assert_eq!(r.status, 404, "{}", r.body);

    // Credentials: none, unknown, the wrong role, the wrong model.
    let unknown = format!("berth_{}", "0".repeat(43));
    for (what, token, want) in
        [("an unknown token", unknown.as_str(), 401), ("a reader", &reader, 403), ("another model's", &elsewhere, 403)]
    {
        let r = lfs(port, "PUT", &object, token, &right);
        assert_eq!(r.status, want, "PUT with {what}: {}", r.body);
        let r = batch(port, token, "upload", &oid, right.len());
        assert_eq!(r.status, want, "upload batch with {what}: {}", r.body);
        assert!(r.json()["message"].is_string(), "{}", r.body);
    }
    let r = send(port, "POST", "/lfs/churn/objects/batch", b"{}", &[]);
    assert_eq!((r.status, r.header("lfs-authenticate")), (401, Some("Basic realm=\"berth\"")), "{}", r.body);
    assert!(!p.blob_path(&format!("sha256:{oid}")).exists(), "no refused request stored anything");

    // The right bytes, as Basic credentials with the token as the password.
    let basic = format!("Basic {}", base64(&format!("git:{publisher}")));
    let r = send(port, "PUT", &object, &right, &[("Authorization", basic.as_str())]);
    assert_eq!(r.status, 200, "{}", r.body);
    let verify = |size: usize| {
        let body = json!({"oid": oid, "size": size}).to_string();
        lfs(port, "POST", "/lfs/churn/objects/verify", &reader, body.as_bytes()).status
    };
    assert_eq!((verify(right.len()), verify(3)), (200, 422));
    let r = lfs(port, "GET", &object, &reader, b"");
    assert_eq!((r.status, r.body.as_bytes()), (200, &right[..]));
    let bearer = format!("Bearer {reader}");
    let r = send(port, "GET", &object, b"", &[("Authorization", bearer.as_str()), ("Range", "bytes=4-8")]);
    assert_eq!((r.status, r.body.as_str()), (206, "right"), "a download resumes from a range");
    let r = lfs(port, "POST", "/lfs/churn/locks/verify", &publisher, b"{}");
    assert_eq!(r.status, 404, "no locking API: {}", r.body);
    // Another model's repository does not hand out churn's object.
    let fraud = token(port, &admin, json!({"principal": "eve", "role": "reader", "models": "fraud"}));
    let r = lfs(port, "GET", &format!("/lfs/fraud/objects/{oid}"), &fraud, b"");
    assert_eq!(r.status, 404, "{}", r.body);
}

/// Standard base64 with padding, for Basic credentials.
fn base64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
