//! Damage, crashes and garbage: the store never hands out wrong bytes, a
//! killed push leaves nothing half-visible, gc removes only garbage.

mod support;

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{Project, flip_one_byte, noise};

/// The digest of a version's only file.
fn file_digest(p: &Project, reference: &str) -> String {
    let show = p.berth(&["show", reference, "--json"]).ok().json();
    show["files"][0]["digest"].as_str().unwrap().to_string()
}

fn digest_of(p: &Project, reference: &str, path: &str) -> String {
    let show = p.berth(&["show", reference, "--json"]).ok().json();
    let f = show["files"].as_array().unwrap().iter().find(|f| f["path"] == path).unwrap();
    f["digest"].as_str().unwrap().to_string()
}

#[test]
fn pull_refuses_a_corrupted_blob_and_fsck_reports_it() {
    let p = Project::new();
    p.write("m.bin", &noise(5, 100_000));
    p.berth(&["push", "m.bin", "--model", "churn"]).ok();
    let show = p.berth(&["show", "churn@1", "--json"]).ok().json();
    let digest = show["files"][0]["digest"].as_str().unwrap().to_string();
    flip_one_byte(&p.blob_path(&digest));

    let r = p.berth(&["pull", "churn@1", "-o", "out"]).fails(3);
    assert!(r.stderr.contains(&digest), "the error names the blob:\n{}", r.stderr);
    assert!(r.stderr.contains("corrupt"), "{}", r.stderr);
    assert!(!p.path().join("out/m.bin").exists(), "no wrong bytes were written");

    let f = p.berth(&["fsck", "--json"]).fails(1).json();
    assert_eq!(f["ok"], false);
    assert_eq!(f["corrupt"][0]["digest"], digest.as_str());
    assert_eq!(f["corrupt"][0]["referenced_by"], serde_json::json!(["churn@1"]));
    let text = p.berth(&["fsck"]).fails(1);
    assert!(text.stdout.contains("corrupt") && text.stdout.contains("churn@1"), "{}", text.stdout);
}

#[test]
fn fsck_reports_a_missing_blob_with_its_version() {
    let p = Project::new();
    p.write("m.bin", &noise(6, 1000));
    p.berth(&["push", "m.bin", "--model", "churn"]).ok();
    let show = p.berth(&["show", "churn@1", "--json"]).ok().json();
    let digest = show["files"][0]["digest"].as_str().unwrap().to_string();
    std::fs::remove_file(p.blob_path(&digest)).unwrap();
    let f = p.berth(&["fsck", "--json"]).fails(1).json();
    assert_eq!(f["missing"][0]["digest"], digest.as_str());
    assert_eq!(f["missing"][0]["referenced_by"], serde_json::json!(["churn@1"]));
    let r = p.berth(&["pull", "churn@1", "-o", "out"]).fails(3);
    assert!(r.stderr.contains(&digest), "{}", r.stderr);
}

#[test]
fn gc_removes_only_unreferenced_blobs() {
    let p = Project::new();
    p.write("m.bin", &noise(7, 5000));
    p.berth(&["push", "m.bin", "--model", "churn"]).ok();
    // An orphan: a well-formed blob no version references.
    let orphan = b"left behind by an interrupted push";
    let d = {
        use std::process::Command;
        let out = Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = out;
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), orphan).unwrap();
        let o = child.wait_with_output().unwrap();
        format!("sha256:{}", String::from_utf8(o.stdout).unwrap().split_whitespace().next().unwrap())
    };
    let path = p.blob_path(&d);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, orphan).unwrap();

    let f = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!(f["orphaned"][0], d.as_str());
    let dry = p.berth(&["gc", "--dry-run", "--json"]).ok().json();
    assert_eq!(dry["removed"][0], d.as_str());
    assert!(path.exists(), "dry run removes nothing");
    let real = p.berth(&["gc", "--json"]).ok().json();
    assert_eq!(real["removed"].as_array().unwrap().len(), 1);
    assert!(!path.exists());
    let f = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!(f["ok"], true);
    assert_eq!(f["orphaned"].as_array().unwrap().len(), 0);
    p.berth(&["pull", "churn@1", "-o", "out"]).ok();
    let log = p.berth(&["log", "--json", "--limit", "1"]).ok().json();
    assert_eq!(log[0]["action"], "gc");
}

/// Kills `berth push` at many moments (a seeded spread from process start to
/// past completion), then checks that no version points at missing data and
/// no partial blob is visible.
#[test]
fn a_push_killed_at_any_moment_leaves_no_partial_blob_and_no_dangling_version() {
    let p = Project::new();
    // Big enough that a push takes a while in a debug build.
    for i in 0..3 {
        p.write(&format!("model/part{i}.bin"), &noise(100 + i, 12 << 20));
    }
    p.write("model/config.json", b"{}");
    // How long one full push takes here, to spread the kills over it.
    let t = Instant::now();
    p.berth(&["push", "model", "--model", "crash", "-q"]).ok();
    let full = t.elapsed();
    let mut seed = 0x5eed_u64;
    let mut killed = 0;
    // Kill moments are drawn from [0, span); when a push finishes first (the
    // machine is faster than the first push suggested), the span shrinks.
    let mut span = full.as_micros() as u64;
    for round in 0..80u64 {
        if killed == 24 {
            break;
        }
        // Vary the content so most rounds write new blobs.
        p.write("model/part0.bin", &noise(1000 + round, 12 << 20));
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % span.max(1));
        let mut child = p
            .command(&["push", "model", "--model", "crash", "-q"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        } else {
            span = span * 3 / 4;
        }
        child.wait().unwrap();
    }
    assert!(killed >= 20, "only {killed} pushes were killed before finishing");

    let f = p.berth(&["fsck", "--json"]).json();
    assert_eq!(f["missing"].as_array().unwrap().len(), 0, "{f}");
    assert_eq!(f["corrupt"].as_array().unwrap().len(), 0, "{f}");
    assert_eq!(f["ok"], true);
    // Every version that exists is complete: it pulls and verifies.
    let versions = p.berth(&["versions", "crash", "--json"]).ok().json();
    for v in versions.as_array().unwrap() {
        let r = format!("crash@{}", v["version"]);
        p.berth(&["pull", &r, "-o", &format!("out{}", v["version"])]).ok();
    }
    // The leases of the killed pushes are released by gc (their processes are gone).
    let gc = p.berth(&["gc", "--json", "--wait", "5"]).ok().json();
    assert!(gc["stale_leases_released"].as_u64().unwrap() <= killed);
    let f = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!(f["orphaned"].as_array().unwrap().len(), 0, "{f}");
    // Their temporary files too, at once: their writers are gone.
    assert_eq!(f["partials"].as_array().unwrap().len(), 0, "{f}");
}

/// A full disk during push: exit 3 with the reason, no blob or temporary file
/// left in the store, no version registered. The store sits on a 3 MiB tmpfs
/// mounted in a private mount namespace (so nothing outlives the test).
#[test]
fn a_full_disk_fails_the_push_and_leaves_nothing_behind() {
    let p = Project::new();
    p.write("small.bin", &noise(40, 100_000));
    p.write("big.bin", &noise(41, 8 << 20));
    let script = format!(
        "mount -t tmpfs -o size=3m tmpfs .berth/store || exit 99; \
         {b} push small.bin --model m -q || exit 98; \
         {b} push big.bin --model m; echo \"push-exit=$?\"; \
         echo ==files; find .berth/store -type f; \
         echo ==versions; {b} versions m --json",
        b = support::bin()
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--map-root-user", "sh", "-c", &script])
        .current_dir(p.path())
        .env("BERTH_USER", "tester")
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() != Some(99), "could not mount a tmpfs in a private namespace: {stderr}");
    assert!(stdout.contains("push-exit=3"), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("disk is full"), "{stderr}");
    let (files, versions) = stdout.split_once("==files\n").unwrap().1.split_once("==versions\n").unwrap();
    let files: Vec<&str> = files.lines().collect();
    // The small version's blob and manifest, nothing else: no partial blob, no temporary file.
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.contains("/blobs/sha256/")), "{files:?}");
    let versions: serde_json::Value = serde_json::from_str(versions).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1, "only the small push registered a version");
}

/// gc runs again and again while pushes run, including pushes of content
/// that gc sees as an orphan: afterwards every version is complete.
#[test]
fn gc_is_safe_against_concurrent_pushes() {
    let p = Project::new();
    for i in 1..6u64 {
        p.write(&format!("f{i}.bin"), &noise(500 + i, 3 << 20));
    }
    // Plant the blobs of f1..f5 as orphans: push them in a scratch project and
    // copy its blobs over, so the pushes below find them "already stored".
    let scratch = Project::new();
    for i in 1..6u64 {
        std::fs::copy(p.path().join(format!("f{i}.bin")), scratch.path().join(format!("f{i}.bin"))).unwrap();
        scratch.berth(&["push", &format!("f{i}.bin"), "--model", "x"]).ok();
        let show = scratch.berth(&["show", &format!("x@{i}"), "--json"]).ok().json();
        let digest = show["files"][0]["digest"].as_str().unwrap().to_string();
        let dest = p.blob_path(&digest);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(scratch.blob_path(&digest), dest).unwrap();
    }
    assert_eq!(p.berth(&["fsck", "--json"]).ok().json()["orphaned"].as_array().unwrap().len(), 5);

    let pushes: Vec<_> = (1..6u64)
        .map(|i| {
            p.command(&["push", &format!("f{i}.bin"), "--model", "live", "-q"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let gcs: Vec<_> = (0..4)
        .map(|_| {
            p.command(&["gc", "--wait", "60", "-q"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in pushes.into_iter().chain(gcs) {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    p.berth(&["gc", "-q"]).ok();
    let f = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!(f["ok"], true, "{f}");
    assert_eq!(f["orphaned"].as_array().unwrap().len(), 0, "{f}");
    let versions = p.berth(&["versions", "live", "--json"]).ok().json();
    assert_eq!(versions.as_array().unwrap().len(), 5);
    for v in 1..=5 {
        p.berth(&["pull", &format!("live@{v}"), "-o", &format!("out{v}")]).ok();
    }
}

/// `berth fsck` tells the user to push the damaged versions again from a good
/// copy; doing so replaces the damaged blob (it used to say "already stored"
/// and keep it), whether fsck or a pull found the damage, and whether the
/// file's digest came from the stat cache or not.
#[test]
fn a_re_push_of_the_good_copy_replaces_a_damaged_blob() {
    let p = Project::new();
    let bytes = noise(20, 200_000);
    p.write("m.bin", &bytes);
    p.age("m.bin");
    p.berth(&["push", "m.bin", "--model", "churn"]).ok();
    let digest = file_digest(&p, "churn@1");

    // Found by fsck; the re-push knows the digest from the stat cache.
    flip_one_byte(&p.blob_path(&digest));
    p.berth(&["fsck"]).fails(1);
    let again = p.berth(&["push", "m.bin", "--model", "churn", "--json"]).ok().json();
    assert_eq!(again["hashes_cached"], 1, "{again}");
    assert_eq!((again["blobs_written"].as_u64(), again["blobs_repaired"].as_u64()), (Some(1), Some(1)), "{again}");
    assert_eq!(std::fs::read(p.blob_path(&digest)).unwrap(), bytes);
    assert_eq!(p.berth(&["fsck", "--json"]).ok().json()["ok"], true);
    p.berth(&["pull", "churn@1", "-o", "one"]).ok();
    assert_eq!(std::fs::read(p.path().join("one/m.bin")).unwrap(), bytes);

    // Found by a pull; the file is re-read (rewritten, so the stat cache
    // does not know it).
    flip_one_byte(&p.blob_path(&digest));
    p.berth(&["pull", "churn@1", "-o", "two"]).fails(3);
    p.write("m.bin", &bytes);
    p.age("m.bin");
    let text = p.berth(&["push", "m.bin", "--model", "churn"]).ok();
    assert!(text.stderr.contains("1 damaged blob(s) replaced"), "{}", text.stderr);
    p.berth(&["fsck"]).ok();
    p.berth(&["pull", "churn@2", "-o", "two"]).ok();
    assert_eq!(std::fs::read(p.path().join("two/m.bin")).unwrap(), bytes);

    // Cut short: the size alone gives it away, with no read in between and
    // the digest from the stat cache.
    std::fs::write(p.blob_path(&digest), &bytes[..1000]).unwrap();
    let again = p.berth(&["push", "m.bin", "--model", "churn", "--json"]).ok().json();
    assert_eq!((again["hashes_cached"].as_u64(), again["blobs_repaired"].as_u64()), (Some(1), Some(1)), "{again}");
    let again = p.berth(&["push", "m.bin", "--model", "churn", "--json"]).ok().json();
    assert_eq!(again["blobs_repaired"], 0, "repaired once, trusted again: {again}");
    p.berth(&["fsck"]).ok();
}

/// Every version that references a damaged blob is listed, across models,
/// not one of them.
#[test]
fn fsck_lists_every_version_that_references_a_damaged_blob() {
    let p = Project::new();
    p.write("model/shared.bin", &noise(21, 50_000));
    p.berth(&["push", "model/shared.bin", "--model", "churn"]).ok();
    p.write("model/extra.json", b"{}");
    p.berth(&["push", "model", "--model", "churn"]).ok();
    p.berth(&["push", "model/shared.bin", "--model", "fraud"]).ok();
    p.write("other.bin", &noise(22, 5000));
    p.berth(&["push", "other.bin", "--model", "fraud"]).ok();
    let digest = digest_of(&p, "churn@2", "shared.bin");
    flip_one_byte(&p.blob_path(&digest));

    let f = p.berth(&["fsck", "--json"]).fails(1).json();
    assert_eq!(f["corrupt"].as_array().unwrap().len(), 1, "{f}");
    assert_eq!(f["corrupt"][0]["digest"], digest.as_str());
    assert_eq!(f["corrupt"][0]["referenced_by"], serde_json::json!(["churn@1", "churn@2", "fraud@1"]), "{f}");
    let text = p.berth(&["fsck"]).fails(1);
    assert!(text.stdout.contains("churn@1,churn@2,fraud@1"), "{}", text.stdout);
    assert!(text.stderr.contains("--repair"), "{}", text.stderr);

    // A damaged manifest names its version too.
    std::fs::remove_file(p.blob_path(&digest)).unwrap();
    let manifest = p.berth(&["show", "fraud@2", "--json"]).ok().json()["manifest"].as_str().unwrap().to_string();
    flip_one_byte(&p.blob_path(&manifest));
    let f = p.berth(&["fsck", "--json"]).fails(1).json();
    assert_eq!(f["missing"][0]["referenced_by"], serde_json::json!(["churn@1", "churn@2", "fraud@1"]), "{f}");
    assert_eq!(f["corrupt"][0]["digest"], manifest.as_str(), "{f}");
    assert_eq!(f["corrupt"][0]["referenced_by"], serde_json::json!(["fraud@2"]), "{f}");
}

/// `fsck --repair DIR` restores corrupt and missing blobs from files under
/// DIR with the right bytes (whatever their names), verified in the store;
/// what it cannot find stays reported.
#[test]
fn fsck_repair_restores_damaged_blobs_from_a_directory() {
    let p = Project::new();
    let (a, b) = (noise(23, 80_000), noise(24, 30_000));
    p.write("model/a.bin", &a);
    p.write("model/sub/b.bin", &b);
    p.berth(&["push", "model", "--model", "churn"]).ok();
    let (da, db) = (digest_of(&p, "churn@1", "a.bin"), digest_of(&p, "churn@1", "sub/b.bin"));
    flip_one_byte(&p.blob_path(&da));
    std::fs::remove_file(p.blob_path(&db)).unwrap();

    // A source without the files changes nothing.
    p.write("elsewhere/unrelated.bin", &noise(25, 80_000));
    let f = p.berth(&["fsck", "--repair", "elsewhere", "--json"]).fails(1).json();
    assert_eq!(f["repaired"].as_array().unwrap().len(), 0, "{f}");
    assert_eq!((f["corrupt"].as_array().unwrap().len(), f["missing"].as_array().unwrap().len()), (1, 1), "{f}");

    // The good copies, renamed and nested, beside files of the same size.
    p.write("backup/x/renamed-a.bin", &a);
    p.write("backup/y/z/b-copy", &b);
    p.write("backup/y/same-size-as-a.bin", &noise(26, 80_000));
    let text = p.berth(&["fsck", "--repair", "backup"]).ok();
    assert!(text.stdout.contains("repaired") && text.stdout.contains("renamed-a.bin"), "{}", text.stdout);
    assert!(text.stdout.contains("ok: "), "{}", text.stdout);
    let f = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!(f["ok"], true, "{f}");
    assert_eq!(std::fs::read(p.blob_path(&da)).unwrap(), a);
    p.berth(&["pull", "churn@1", "-o", "out"]).ok();
    assert_eq!(std::fs::read(p.path().join("out/sub/b.bin")).unwrap(), b);

    let r = p.berth(&["fsck", "--repair", "no-such-dir"]).fails(2);
    assert!(r.stderr.contains("no-such-dir: does not exist"), "{}", r.stderr);
}

/// The temporary files in the store written by process `pid`.
fn partials_of(p: &Project, pid: u32) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(p.path().join(".berth/store/tmp")) else { return Vec::new() };
    let prefix = format!("{pid}-");
    rd.flatten().map(|e| e.path()).filter(|f| f.file_name().unwrap().to_string_lossy().starts_with(&prefix)).collect()
}

/// Starts pushes of fresh content until one is caught writing its temporary
/// file, and returns it still running.
fn push_caught_writing(p: &Project, name: &str, seed: u64) -> Child {
    for attempt in 0..30 {
        p.write(name, &noise(seed * 100 + attempt, 48 << 20));
        let mut child = p
            .command(&["push", name, "--model", "big", "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        loop {
            if !partials_of(p, child.id()).is_empty() {
                return child;
            }
            if child.try_wait().unwrap().is_some() {
                break; // finished before it was seen; try again
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    panic!("no push was ever seen writing");
}

/// A child process killed when dropped, so a failing test leaves no
/// stopped push behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill").args(["-s", sig, &child.id().to_string()]).status().unwrap();
    assert!(ok.success(), "kill -s {sig}");
    if sig == "STOP" {
        wait_stopped(child.id());
    }
}

/// A signal is delivered after `kill` returns: wait until every thread of
/// the process is stopped, so nothing it writes can land after this.
fn wait_stopped(pid: u32) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stopped = |stat: &str| {
        stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_some_and(|s| s == "T" || s == "t")
    };
    loop {
        let tasks: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.flatten().filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok()).collect())
            .unwrap_or_default();
        if tasks.iter().all(|t| stopped(t)) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "process {pid} never stopped");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A push killed with SIGKILL leaves its temporary file behind; gc removes it
/// at once (it used to wait an hour), because its writer is gone, while the
/// temporary file of a push that is still running is left alone.
#[test]
fn gc_removes_the_partials_of_killed_pushes_at_once_and_spares_live_ones() {
    let p = Project::new();
    let mut dead = push_caught_writing(&p, "dead.bin", 1);
    dead.kill().unwrap();
    dead.wait().unwrap();
    let dead_partials = partials_of(&p, dead.id());
    assert!(!dead_partials.is_empty(), "the killed push left its temporary file");

    // A live push, paused while it writes (stopped, not dead).
    let mut live = loop {
        let mut c = Reaped(push_caught_writing(&p, "live.bin", 2));
        signal(&c.0, "STOP");
        if !partials_of(&p, c.0.id()).is_empty() {
            break c;
        }
        // It finished the file between being seen and being stopped.
        signal(&c.0, "CONT");
        c.0.wait().unwrap();
    };
    let live_partials = partials_of(&p, live.0.id());
    let live_sizes: Vec<u64> = live_partials.iter().map(|f| std::fs::metadata(f).unwrap().len()).collect();

    // gc cannot sweep blobs while the live push holds its lease, but it
    // removes the dead push's temporary file and says so.
    let r = p.berth(&["gc", "--wait", "0"]).fails(3);
    assert!(r.stderr.contains("still in progress"), "{}", r.stderr);
    assert!(r.stderr.contains("1 temporary file(s) of interrupted writes"), "{}", r.stderr);
    assert!(partials_of(&p, dead.id()).is_empty(), "the dead push's temporary file is gone");
    let sizes: Vec<u64> = live_partials.iter().map(|f| std::fs::metadata(f).unwrap().len()).collect();
    assert_eq!(sizes, live_sizes, "the live push's temporary file is untouched");

    signal(&live.0, "CONT");
    assert!(live.0.wait().unwrap().success(), "the live push completes");
    let versions = p.berth(&["versions", "big", "--json"]).ok().json();
    let newest = versions[0]["version"].as_u64().unwrap();
    p.berth(&["pull", &format!("big@{newest}"), "-o", "out"]).ok();
    assert_eq!(
        std::fs::read(p.path().join("out/live.bin")).unwrap(),
        std::fs::read(p.path().join("live.bin")).unwrap()
    );

    let gc = p.berth(&["gc", "--json"]).ok().json();
    assert_eq!(gc["partials_removed"], 0, "{gc}");
    let f = p.berth(&["fsck", "--json"]).ok().json();
    assert_eq!(f["partials"].as_array().unwrap().len(), 0, "{f}");
}
