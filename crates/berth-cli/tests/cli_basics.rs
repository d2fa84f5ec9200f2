//! The everyday commands, end to end through the real binary.

mod support;

use support::{Project, noise};

#[test]
fn init_is_idempotent() {
    let p = Project::empty();
    let first = p.berth(&["init"]).ok();
    assert!(first.stdout.contains("initialised"), "{}", first.stdout);
    let config = std::fs::read_to_string(p.path().join("berth.toml")).unwrap();
    let second = p.berth(&["init"]).ok();
    assert!(second.stdout.contains("nothing changed"), "{}", second.stdout);
    assert_eq!(std::fs::read_to_string(p.path().join("berth.toml")).unwrap(), config);
    assert!(p.path().join(".berth/registry.db").is_file());
}

#[test]
fn push_then_pull_restores_every_file_and_its_layout() {
    let p = Project::new();
    p.write("model/weights.bin", &noise(1, 300_000));
    p.write("model/sub/config.json", b"{\"layers\": 3}");
    p.write("metrics.json", br#"{"accuracy": 0.91, "per_class_recall": {"0": 0.8}}"#);
    let out = p
        .berth(&[
            "push",
            "model",
            "--model",
            "churn",
            "--metrics",
            "metrics.json",
            "--param",
            "lr=0.1",
            "--tag",
            "team=risk",
        ])
        .ok();
    let line = out.stdout.trim();
    assert!(line.starts_with("churn@1 sha256:"), "{line}");

    let pulled = p.berth(&["pull", "churn@1", "-o", "restored", "--json"]).ok().json();
    assert_eq!(pulled["written"], 2);
    assert_eq!(std::fs::read(p.path().join("restored/weights.bin")).unwrap(), noise(1, 300_000));
    assert_eq!(std::fs::read(p.path().join("restored/sub/config.json")).unwrap(), b"{\"layers\": 3}");

    let again = p.berth(&["pull", "churn@latest", "-o", "restored", "--json"]).ok().json();
    assert_eq!((again["written"].as_u64(), again["skipped"].as_u64()), (Some(0), Some(2)));

    let show = p.berth(&["show", "churn@1", "--json"]).ok().json();
    assert_eq!(show["metrics"]["accuracy"], 0.91);
    assert_eq!(show["metrics"]["per_class_recall.0"], 0.8);
    assert_eq!(show["params"]["lr"], "0.1");
    assert_eq!(show["tags"]["team"], "risk");
    assert_eq!(show["created_by"], "tester");
    assert_eq!(show["files"].as_array().unwrap().len(), 2);
}

#[test]
fn versions_are_consecutive_and_identical_bytes_are_stored_once() {
    let p = Project::new();
    p.write("m.bin", &noise(2, 10_000));
    let a = p.berth(&["push", "m.bin", "--model", "fraud", "--json"]).ok().json();
    let b = p.berth(&["push", "m.bin", "--model", "fraud", "--json"]).ok().json();
    assert_eq!((a["version"]["version"].as_u64(), b["version"]["version"].as_u64()), (Some(1), Some(2)));
    assert_eq!(b["blobs_written"], 0);
    assert_eq!(a["version"]["manifest"], b["version"]["manifest"]);
    let versions = p.berth(&["versions", "fraud", "--json"]).ok().json();
    let nums: Vec<u64> = versions.as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect();
    assert_eq!(nums, [2, 1]);
}

#[test]
fn an_unchanged_file_is_not_hashed_again() {
    let p = Project::new();
    p.write("m.bin", &noise(3, 50_000));
    p.age("m.bin");
    let first = p.berth(&["push", "m.bin", "--model", "m", "--json"]).ok().json();
    assert_eq!(first["hashes_cached"], 0);
    let second = p.berth(&["push", "m.bin", "--model", "m", "--json"]).ok().json();
    assert_eq!(second["hashes_cached"], 1);
    assert_eq!(second["blobs_written"], 0);
    p.write("m.bin", &noise(4, 50_000));
    p.age("m.bin");
    let third = p.berth(&["push", "m.bin", "--model", "m", "--json"]).ok().json();
    assert_eq!(third["hashes_cached"], 0);
    assert_eq!(third["blobs_written"], 1);
}

#[test]
fn aliases_move_with_history_and_resolve_in_refs() {
    let p = Project::new();
    for i in 0..3 {
        p.write("m.bin", &noise(10 + i, 1000));
        p.berth(&["push", "m.bin", "--model", "churn"]).ok();
    }
    p.berth(&["alias", "set", "churn", "production", "2", "--reason", "better recall"]).ok();
    let show = p.berth(&["show", "churn@production", "--json"]).ok().json();
    assert_eq!(show["version"], 2);
    p.berth(&["alias", "set", "churn", "production", "3"]).ok();
    let same = p.berth(&["alias", "set", "churn", "production", "3"]).ok();
    assert!(same.stdout.contains("nothing changed"));
    let hist = p.berth(&["alias", "history", "churn", "production", "--json"]).ok().json();
    let moves: Vec<(Option<u64>, Option<u64>)> =
        hist.as_array().unwrap().iter().map(|e| (e["from"].as_u64(), e["to"].as_u64())).collect();
    assert_eq!(moves, [(None, Some(2)), (Some(2), Some(3))]);
    assert_eq!(hist[0]["reason"], "better recall");
    p.berth(&["alias", "rm", "churn", "production"]).ok();
    p.berth(&["show", "churn@production"]).fails(2);
    let log = p.berth(&["log", "--json"]).ok().json();
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["alias.remove", "alias.set", "alias.set", "version.create", "version.create", "version.create"]
    );
}

#[test]
fn tags_and_models_are_listed() {
    let p = Project::new();
    p.write("m.bin", b"x");
    p.berth(&["push", "m.bin", "--model", "a"]).ok();
    p.berth(&["push", "m.bin", "--model", "b"]).ok();
    let v = p.berth(&["tag", "a@1", "stage=qa", "owner=ml", "--json"]).ok().json();
    assert_eq!(v["tags"]["stage"], "qa");
    let models = p.berth(&["models", "--json"]).ok().json();
    let names: Vec<&str> = models.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);
    let text = p.berth(&["models"]).ok();
    assert!(text.stdout.starts_with("MODEL"), "{}", text.stdout);
}

#[test]
fn bad_input_gets_exit_2_and_a_message_naming_the_value() {
    let p = Project::new();
    p.write("m.bin", b"x");
    std::fs::create_dir(p.path().join("empty")).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["push", "missing.bin", "--model", "m"], "missing.bin: does not exist"),
        (&["push", "empty", "--model", "m"], "directory contains no files"),
        (&["push", "m.bin", "--model", "Bad Name"], "invalid model name"),
        (&["push", "m.bin", "--model", "m", "--param", "novalue"], "expected KEY=VALUE"),
        (&["push", "m.bin", "--model", "m", "--metrics", "m.bin"], "not valid JSON"),
        (&["pull", "nosuch@1"], "model \"nosuch\" does not exist"),
        (&["show", "m@0"], "version numbers start at 1"),
        (&["show", "m@"], "nothing after '@'"),
    ];
    for (args, needle) in cases {
        let r = p.berth(args).fails(2);
        assert!(r.stderr.contains(needle), "{args:?}: expected {needle:?} in\n{}", r.stderr);
        assert!(r.stderr.contains("error: "), "{}", r.stderr);
    }
    p.berth(&["push", "m.bin", "--model", "m"]).ok();
    let r = p.berth(&["alias", "set", "m", "production", "9"]).fails(2);
    assert!(r.stderr.contains("version 9 of model \"m\" does not exist (latest is 1)"), "{}", r.stderr);
    let r = p.berth(&["show", "m@staging"]).fails(2);
    assert!(r.stderr.contains("alias \"staging\""), "{}", r.stderr);
    let r = p.berth(&["alias", "set", "m", "latest", "1"]).fails(2);
    assert!(r.stderr.contains("reserved"), "{}", r.stderr);
    let r = p.berth(&["nosuchcommand"]).fails(2);
    assert!(r.stderr.contains("unrecognized"), "{}", r.stderr);
}

#[test]
fn errors_are_json_too_when_asked() {
    let p = Project::new();
    let r = p.berth(&["show", "ghost@1", "--json"]).fails(2);
    let j = r.json();
    assert_eq!(j["exit_code"], 2);
    assert!(j["error"].as_str().unwrap().contains("ghost"));
    assert!(j["help"].as_str().unwrap().contains("berth models"));
}

#[test]
fn outside_a_project_the_user_is_told_to_init() {
    let p = Project::empty();
    let r = p.berth(&["models"]).fails(2);
    assert!(r.stderr.contains("berth init"), "{}", r.stderr);
}

#[test]
fn lineage_records_git_and_ci() {
    let p = Project::empty();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git").args(args).current_dir(p.path()).output().unwrap().status.success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init"]);
    p.berth(&["init"]).ok();
    p.write("models/model.onnx", b"onnx bytes");
    let p = p
        .with_env("GITHUB_ACTIONS", "true")
        .with_env("GITHUB_RUN_ID", "99")
        .with_env("GITHUB_SERVER_URL", "https://git.example")
        .with_env("GITHUB_REPOSITORY", "acme/churn");
    let out = p.berth(&["push", "models/model.onnx", "--model", "churn"]).ok();
    assert!(out.stderr.contains("not ignored"), "{}", out.stderr);
    assert!(out.stderr.contains("/models/model.onnx"), "{}", out.stderr);
    let show = p.berth(&["show", "churn", "--json"]).ok().json();
    assert_eq!(show["format"], "onnx");
    assert_eq!(show["lineage"]["git_branch"], "main");
    assert_eq!(show["lineage"]["git_commit"].as_str().unwrap().len(), 40);
    assert_eq!(show["lineage"]["ci_provider"], "github-actions");
    assert_eq!(show["lineage"]["ci_run_url"], "https://git.example/acme/churn/actions/runs/99");

    std::fs::write(p.path().join(".gitignore"), "/models/\n").unwrap();
    let quiet = p.berth(&["push", "models/model.onnx", "--model", "churn"]).ok();
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.stderr);
}

/// Pushing identical bytes again still creates a version, but says which
/// version it is identical to; `--if-changed` creates none when the newest
/// version holds exactly these files.
#[test]
fn identical_pushes_are_named_and_if_changed_skips_them() {
    let p = Project::new();
    p.write("m.bin", &noise(30, 20_000));
    let first = p.berth(&["push", "m.bin", "--model", "churn", "--json"]).ok().json();
    assert_eq!(first["identical_to"], serde_json::Value::Null);
    assert_eq!(first["unchanged"], false);
    let second = p.berth(&["push", "m.bin", "--model", "churn", "--json"]).ok().json();
    assert_eq!((second["version"]["version"].as_u64(), second["identical_to"].as_str()), (Some(2), Some("churn@1")));
    let third = p.berth(&["push", "m.bin", "--model", "churn"]).ok();
    assert!(third.stdout.starts_with("churn@3 sha256:"), "{}", third.stdout);
    assert!(third.stderr.contains("identical to churn@2"), "{}", third.stderr);
    assert!(third.stderr.contains("--if-changed"), "{}", third.stderr);

    let same = p.berth(&["push", "m.bin", "--model", "churn", "--if-changed"]).ok();
    assert!(same.stdout.starts_with("unchanged: churn@3"), "{}", same.stdout);
    let same = p.berth(&["push", "m.bin", "--model", "churn", "--if-changed", "--json"]).ok().json();
    assert_eq!((same["unchanged"].as_bool(), same["ref"].as_str()), (Some(true), Some("churn@3")), "{same}");
    assert_eq!(p.berth(&["versions", "churn", "--json"]).ok().json().as_array().unwrap().len(), 3);

    // Changed bytes make a version; going back to older bytes does too (only
    // the newest version counts), named as identical to the one it matches.
    p.write("m.bin", &noise(31, 20_000));
    let changed = p.berth(&["push", "m.bin", "--model", "churn", "--if-changed", "--json"]).ok().json();
    assert_eq!((changed["unchanged"].as_bool(), changed["ref"].as_str()), (Some(false), Some("churn@4")));
    assert_eq!(changed["identical_to"], serde_json::Value::Null);
    p.write("m.bin", &noise(30, 20_000));
    let back = p.berth(&["push", "m.bin", "--model", "churn", "--if-changed", "--json"]).ok().json();
    assert_eq!((back["ref"].as_str(), back["identical_to"].as_str()), (Some("churn@5"), Some("churn@3")));
    // A first push with --if-changed simply creates the model.
    let new = p.berth(&["push", "m.bin", "--model", "fresh", "--if-changed", "--json"]).ok().json();
    assert_eq!((new["ref"].as_str(), new["unchanged"].as_bool()), (Some("fresh@1"), Some(false)));
}

/// Symbolic links in a pushed directory: refused by default (naming the link
/// and the flag); with --follow-symlinks followed only inside the directory
/// (a link out is refused, naming both paths); dangling links refused either
/// way. Nothing outside the directory ever reaches the store.
#[cfg(unix)]
#[test]
fn symlinks_in_a_pushed_directory_are_refused_unless_followed_inside_it() {
    use std::os::unix::fs::symlink;
    let p = Project::new();
    let secret = noise(32, 3000);
    p.write("secret.txt", &secret);
    p.write("model/weights.bin", &noise(33, 5000));
    let m = p.path().join("model");
    let no_version = |p: &Project| {
        let models = p.berth(&["models", "--json"]).ok().json();
        assert_eq!(models.as_array().unwrap().len(), 0, "no version was created: {models}");
    };

    // A link out of the directory, absolute or relative.
    for target in ["/etc/passwd", "../secret.txt"] {
        symlink(target, m.join("link")).unwrap();
        let r = p.berth(&["push", "model", "--model", "churn"]).fails(2);
        assert!(r.stderr.contains("model/link") && r.stderr.contains("symbolic link"), "{}", r.stderr);
        assert!(r.stderr.contains("--follow-symlinks"), "{}", r.stderr);
        let r = p.berth(&["push", "model", "--model", "churn", "--follow-symlinks"]).fails(2);
        assert!(r.stderr.contains("model/link"), "{}", r.stderr);
        let resolved = std::fs::canonicalize(m.join("link")).unwrap();
        assert!(r.stderr.contains(&resolved.display().to_string()), "{}", r.stderr);
        assert!(r.stderr.contains("outside the pushed directory"), "{}", r.stderr);
        no_version(&p);
        std::fs::remove_file(m.join("link")).unwrap();
    }

    // A dangling link, refused with its path with or without the flag.
    symlink("gone.bin", m.join("dangling")).unwrap();
    for extra in [None, Some("--follow-symlinks")] {
        let mut args = vec!["push", "model", "--model", "churn"];
        args.extend(extra);
        let r = p.berth(&args).fails(2);
        assert!(r.stderr.contains("model/dangling") && r.stderr.contains("does not exist"), "{}", r.stderr);
    }
    std::fs::remove_file(m.join("dangling")).unwrap();
    no_version(&p);

    // Links inside the directory, to a file and to a directory.
    p.write("model/sub/config.json", b"{}");
    symlink("weights.bin", m.join("current.bin")).unwrap();
    symlink("sub", m.join("shared")).unwrap();
    let r = p.berth(&["push", "model", "--model", "churn"]).fails(2);
    assert!(r.stderr.contains("model/current.bin"), "{}", r.stderr);
    no_version(&p);
    p.berth(&["push", "model", "--model", "churn", "--follow-symlinks"]).ok();
    let show = p.berth(&["show", "churn@1", "--json"]).ok().json();
    let files: Vec<&str> = show["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(files, ["current.bin", "shared/config.json", "sub/config.json", "weights.bin"]);
    p.berth(&["pull", "churn@1", "-o", "out"]).ok();
    assert_eq!(std::fs::read(p.path().join("out/current.bin")).unwrap(), noise(33, 5000));
    assert!(!p.path().join("out/current.bin").is_symlink(), "the bytes are stored, not the link");

    // Nothing from outside the directory is in the store.
    let out = std::process::Command::new("grep")
        .args(["-rlF", "root:x:0:0", ".berth/store"])
        .current_dir(p.path())
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    for entry in walk(&p.path().join(".berth/store/blobs")) {
        assert_ne!(std::fs::read(&entry).unwrap(), secret, "{}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}
