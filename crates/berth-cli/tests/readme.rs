//! The README runs as written: every `sh` block, in order, in one shell, in a
//! fresh directory, with the real `berth` on the PATH. A block that fails
//! fails the test with its text and what it printed. Every `toml` block is a
//! piece of `berth.toml`, and must be one berth accepts.
//!
//! Two blocks are left out: the ones starting with `cargo` (the quickstart
//! and the test command), which CI runs itself.

mod support;

use std::path::Path;
use std::process::Command;

/// The `sh` blocks of a Markdown document, in order.
fn shell_blocks(markdown: &str) -> Vec<String> {
    blocks(markdown, "sh")
}

/// The fenced blocks of one language, in order.
fn blocks(markdown: &str, language: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) if info.trim() == language => current = Some(String::new()),
            (Some(block), Some("")) => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "a {language} block in the README is never closed");
    blocks
}

#[test]
fn the_readme_finds_its_blocks() {
    let md = "text\n```sh\necho a\n```\n```toml\nx = 1\n```\n```sh\necho b\necho c\n```\n";
    assert_eq!(shell_blocks(md), ["echo a\n", "echo b\necho c\n"]);
}

#[test]
fn every_readme_block_runs_as_written_in_order() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let blocks: Vec<String> =
        shell_blocks(&text).into_iter().filter(|b| !b.trim_start().starts_with("cargo ")).collect();
    assert!(blocks.len() >= 6, "the README has {} runnable blocks", blocks.len());

    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(support::bin()).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    // Each block is announced on stderr so a failure can be placed; background
    // jobs (servers) end with the shell.
    let mut script = String::from("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
    for (i, b) in blocks.iter().enumerate() {
        script.push_str(&format!("echo '::block {i}' >&2\n{b}\n"));
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("USER", "alice")
        .env("NO_COLOR", "1")
        .env_remove("BERTH_USER")
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("BERTH_REGISTRY_URL")
        .env_remove("BERTH_STORE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let last = stderr.lines().filter_map(|l| l.strip_prefix("::block ")).next_back().and_then(|n| n.parse().ok());
        let block = last.map(|n: usize| blocks[n].as_str()).unwrap_or("(before the first block)");
        panic!(
            "a README block failed ({}):\n{block}\n--- stdout\n{}\n--- stderr\n{stderr}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn every_readme_toml_block_is_a_berth_toml_berth_accepts() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let tomls = blocks(&text, "toml");
    assert!(!tomls.is_empty());
    for block in tomls {
        let p = support::Project::new();
        let mut cfg = std::fs::read_to_string(p.path().join("berth.toml")).unwrap();
        cfg.push('\n');
        cfg.push_str(&block);
        p.write("berth.toml", cfg.as_bytes());
        let r = p.berth(&["models"]);
        assert_eq!(r.code, 0, "berth.toml with this README block is refused:\n{block}\n{}", r.stderr);
    }
}
