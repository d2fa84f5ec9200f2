//! Drives the real `berth` binary in a fresh project directory.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use berth_testkit::noise;

pub mod http;

pub struct Project {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn fails(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit {code}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

impl Project {
    /// An empty directory (not yet initialised).
    pub fn empty() -> Project {
        Project { dir: tempfile::tempdir().expect("tempdir"), env: vec![("BERTH_USER".into(), "tester".into())] }
    }

    /// An initialised project on the embedded default.
    pub fn new() -> Project {
        let p = Project::empty();
        p.berth(&["init"]).ok();
        p
    }

    /// An initialised project on a shared registry and store: PostgreSQL at
    /// `registry` (or the embedded default) and the S3-protocol bucket `bucket`.
    pub fn on_bucket(registry: Option<&str>, bucket: &str) -> Project {
        let mut p = Project::empty().with_env("BERTH_STORE_URL", &format!("s3://{bucket}/models"));
        if let Some(url) = registry {
            p = p.with_env("BERTH_REGISTRY_URL", url);
        }
        for (k, v) in berth_testkit::s3_env() {
            p = p.with_env(k, &v);
        }
        p.berth(&["init"]).ok();
        p
    }

    /// Appends `text` to the project's berth.toml.
    pub fn configure(&self, text: &str) {
        let mut cfg = std::fs::read_to_string(self.path().join("berth.toml")).unwrap();
        cfg.push_str(text);
        self.write("berth.toml", cfg.as_bytes());
    }

    pub fn with_env(mut self, k: &str, v: &str) -> Project {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args).current_dir(self.path()).stdin(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("BERTH_")
                || k.starts_with("AWS_")
                || k == "CI"
                || k.starts_with("GITHUB_")
                || k.starts_with("GITLAB")
            {
                c.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn berth(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run berth").into()
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Sets a file's modification time a minute back, so the stat cache trusts it.
    pub fn age(&self, rel: &str) {
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(self.path().join(rel)).unwrap().set_modified(old).unwrap();
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.path().join(".berth/store/blobs/sha256").join(&hex[..2]).join(&hex[2..])
    }
}

/// Damages a file in place: one bit of its middle byte.
pub fn flip_one_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

/// The rows of the project's CSV `file` as JSON instances, without the `target` column.
pub fn instances(p: &Project, file: &str) -> Vec<serde_json::Value> {
    use serde_json::Value;
    let text = std::fs::read_to_string(p.path().join(file)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let mut m = serde_json::Map::new();
            for (k, v) in header.iter().zip(l.split(',')) {
                if *k != "target" {
                    m.insert(k.to_string(), v.parse::<f64>().map(Value::from).unwrap_or_else(|_| Value::from(v)));
                }
            }
            Value::Object(m)
        })
        .collect()
}

/// Runs git in `dir` with a configuration of its own (a HOME and global
/// config under `dir/.git-home`, never the machine's) and a fixed author;
/// panics with git's stderr on failure, returns its trimmed stdout.
#[track_caller]
pub fn git(dir: &Path, args: &[&str]) -> String {
    let home = dir.join(".git-home");
    std::fs::create_dir_all(&home).unwrap();
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", &home)
        .env("GIT_CONFIG_GLOBAL", home.join("gitconfig"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Tess Ter")
        .env("GIT_AUTHOR_EMAIL", "tess@example.com")
        .env("GIT_COMMITTER_NAME", "Tess Ter")
        .env("GIT_COMMITTER_EMAIL", "tess@example.com")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}
