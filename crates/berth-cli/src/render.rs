//! Human output: tables and summaries on stdout, warnings and errors on
//! stderr as `error: …` / `help: …`. JSON output is the service's structs.

use berth_core::{AliasEvent, AuditEntry, Exit, VersionRecord};
use berth_service::{
    FsckReport, GcReport, ModelSummary, PullReport, PushReport, ServiceError, ShowReport, SmokeReport,
};
use serde::Serialize;

pub fn json<T: Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot encode the result as JSON: {e}"),
    }
}

pub fn error(e: &ServiceError, as_json: bool) {
    if as_json {
        json(&serde_json::json!({"error": e.to_string(), "help": e.hint(), "exit_code": e.class().exit_code()}));
    }
    eprintln!("error: {e}");
    if let Some(h) = e.hint() {
        eprintln!("help: {h}");
    }
}

pub fn warn(msg: &str, help: Option<&str>) {
    eprintln!("warning: {msg}");
    if let Some(h) = help {
        eprintln!("  help: {h}");
    }
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// Prints rows as left-aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

pub fn push(r: &PushReport, quiet: bool) {
    if r.unchanged {
        println!("unchanged: {} {}", r.reference, r.version.manifest);
    } else {
        println!("{} {}", r.reference, r.version.manifest);
    }
    if quiet {
        return;
    }
    let repaired = match r.blobs_repaired {
        0 => String::new(),
        n => format!(", {n} damaged blob(s) replaced"),
    };
    eprintln!(
        "{} file(s), {}: {} blob(s) written, {} already stored{repaired}, {} hash(es) from the stat cache, {:.2}s",
        r.files,
        bytes(r.bytes),
        r.blobs_written,
        r.blobs_skipped,
        r.hashes_cached,
        r.seconds
    );
    match (&r.identical_to, r.unchanged) {
        (Some(same), true) => {
            eprintln!("no version created: the newest version {same} already holds exactly these files")
        }
        (Some(same), false) => eprintln!(
            "note: identical to {same} (same files, same bytes); pass --if-changed to create no version in that case"
        ),
        (None, _) => {}
    }
    for w in &r.git_warnings {
        let what = if w.tracked { "is tracked by git" } else { "is inside a git work tree and not ignored" };
        warn(
            &format!("{} {what} ({})", w.path, w.repo),
            Some(&format!(
                "model files belong in the store, not in git: add `{}` to {}/.gitignore",
                w.suggestion, w.repo
            )),
        );
    }
}

pub fn pull(r: &PullReport) {
    println!(
        "{} -> {} ({} file(s): {} written, {} already up to date, {})",
        r.reference,
        r.dir.display(),
        r.files,
        r.written,
        r.skipped,
        bytes(r.bytes)
    );
}

pub fn models(ms: &[ModelSummary]) {
    let rows: Vec<Vec<String>> = ms
        .iter()
        .map(|m| {
            let aliases: Vec<String> = m.aliases.iter().map(|(a, v)| format!("{a}={v}")).collect();
            vec![
                m.name.to_string(),
                m.versions.to_string(),
                m.latest.map(|l| l.to_string()).unwrap_or_default(),
                aliases.join(","),
                m.updated_at.to_string(),
            ]
        })
        .collect();
    table(&["MODEL", "VERSIONS", "LATEST", "ALIASES", "UPDATED"], &rows);
}

pub fn versions(vs: &[VersionRecord], aliases: &std::collections::BTreeMap<String, u64>) {
    let rows: Vec<Vec<String>> = vs
        .iter()
        .map(|v| {
            let a: Vec<&str> = aliases.iter().filter(|(_, n)| **n == v.version).map(|(a, _)| a.as_str()).collect();
            vec![
                v.version.to_string(),
                v.created_at.to_string(),
                v.created_by.clone(),
                bytes(v.size),
                v.meta.format.clone().unwrap_or_default(),
                a.join(","),
                v.manifest.short(),
            ]
        })
        .collect();
    table(&["VERSION", "CREATED", "BY", "SIZE", "FORMAT", "ALIASES", "DIGEST"], &rows);
}

pub fn show(s: &ShowReport) {
    let v = &s.version;
    println!("{}@{}", v.model, v.version);
    println!("  digest:      {}", v.manifest);
    println!("  created:     {} by {}", v.created_at, v.created_by);
    println!("  size:        {}", bytes(v.size));
    if let Some(f) = &v.meta.format {
        println!("  format:      {f}");
    }
    if !s.aliases.is_empty() {
        println!("  aliases:     {}", s.aliases.join(", "));
    }
    if let Some(d) = &v.meta.description {
        println!("  description: {d}");
    }
    let kv = |title: &str, m: Vec<(String, String)>| {
        if !m.is_empty() {
            println!("  {title}:");
            for (k, v) in m {
                println!("    {k} = {v}");
            }
        }
    };
    kv("params", v.meta.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    kv("metrics", v.meta.metrics.iter().map(|(k, v)| (k.clone(), v.to_string())).collect());
    kv("tags", v.meta.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    let l = &v.meta.lineage;
    let mut lin = Vec::new();
    if let Some(c) = &l.git_commit {
        let dirty = if l.git_dirty == Some(true) { " (dirty)" } else { "" };
        lin.push(("git commit".to_string(), format!("{c}{dirty}")));
    }
    if let Some(b) = &l.git_branch {
        lin.push(("git branch".into(), b.clone()));
    }
    if let Some(p) = &l.ci_provider {
        lin.push(("ci".into(), format!("{p} run {}", l.ci_run_id.clone().unwrap_or_default())));
    }
    if let Some(u) = &l.ci_run_url {
        lin.push(("ci run".into(), u.clone()));
    }
    kv("lineage", lin);
    println!("  files:");
    for f in &s.files {
        println!("    {}  {}  {}", f.path, bytes(f.size), &f.digest[..19]);
    }
    if !s.gates.is_empty() {
        println!("  gates:");
        for g in &s.gates {
            println!(
                "    {} {}  on data {}  ({} by {})",
                if g.passed { "✓ passed" } else { "✗ failed" },
                g.gate,
                &g.data_digest[..g.data_digest.len().min(19)],
                g.at,
                g.by
            );
        }
    }
}

pub fn alias_event(e: &AliasEvent) {
    let from = e.from.map(|f| f.to_string()).unwrap_or_else(|| "-".into());
    let to = e.to.map(|f| f.to_string()).unwrap_or_else(|| "-".into());
    println!("{}@{}: {from} -> {to}", e.model, e.alias);
}

pub fn alias_history(events: &[AliasEvent]) {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.at.to_string(),
                e.alias.to_string(),
                e.from.map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
                e.to.map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
                e.actor.clone(),
                e.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["WHEN", "ALIAS", "FROM", "TO", "WHO", "REASON"], &rows);
}

pub fn log(entries: &[AuditEntry]) {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let target = match (&e.model, e.version) {
                (Some(m), Some(v)) => format!("{m}@{v}"),
                (Some(m), None) => m.to_string(),
                _ => String::new(),
            };
            let detail = e.after.as_ref().map(|a| a.to_string()).unwrap_or_default();
            vec![e.id.to_string(), e.at.to_string(), e.actor.clone(), e.action.clone(), target, detail]
        })
        .collect();
    table(&["ID", "WHEN", "WHO", "ACTION", "TARGET", "DETAIL"], &rows);
}

pub fn gc(r: &GcReport) {
    let verb = if r.dry_run { "would remove" } else { "removed" };
    println!(
        "{verb} {} unreferenced blob(s), {} ({} blobs in the store, {} referenced)",
        r.removed.len(),
        bytes(r.bytes_removed),
        r.blobs,
        r.referenced
    );
    if r.partials_removed > 0 {
        println!(
            "{verb} {} temporary file(s) of interrupted writes, {}",
            r.partials_removed,
            bytes(r.partial_bytes_removed)
        );
    }
    if r.stale_leases_released > 0 {
        println!("released {} upload lease(s) of pushes that died", r.stale_leases_released);
    }
    if r.lfs_objects > 0 {
        println!("kept {} Git LFS object(s) the hub stored (no version needs to reference them)", r.lfs_objects);
    }
    if r.log_segments > 0 {
        println!("kept {} prediction-log segment(s) in the store", r.log_segments);
    }
    if r.staged_files > 0 {
        println!("kept {} staged file(s) (uploaded through the hub, e.g. MLflow artifacts)", r.staged_files);
    }
}

pub fn fsck(r: &FsckReport) {
    let versions = |v: &[String]| if v.is_empty() { "-".to_string() } else { v.join(",") };
    for p in &r.repaired {
        println!("repaired {}  {}  from {}", p.digest, versions(&p.referenced_by), p.from.display());
    }
    for p in &r.missing {
        println!("missing  {}  {}  {}", p.digest, versions(&p.referenced_by), p.detail);
    }
    for p in &r.corrupt {
        println!("corrupt  {}  {}  {}", p.digest, versions(&p.referenced_by), p.detail);
    }
    for d in &r.orphaned {
        println!("orphan   {d}");
    }
    for p in &r.partials {
        println!("partial  {p}");
    }
    if r.lfs_objects > 0 {
        println!("{} blob(s) are Git LFS objects the hub stored", r.lfs_objects);
    }
    if r.log_segments > 0 {
        println!("{} blob(s) are prediction-log segments", r.log_segments);
    }
    if r.staged_files > 0 {
        println!("{} blob(s) are staged files (uploaded through the hub, e.g. MLflow artifacts)", r.staged_files);
    }
    let verdict = if r.ok { "ok" } else { "DAMAGED" };
    let repaired = match r.repaired.len() {
        0 => String::new(),
        n => format!("{n} repaired, "),
    };
    println!(
        "{verdict}: {} blob(s) checked, {} referenced, {repaired}{} missing, {} corrupt, {} orphaned, {} partial file(s)",
        r.blobs_checked,
        r.referenced,
        r.missing.len(),
        r.corrupt.len(),
        r.orphaned.len(),
        r.partials.len()
    );
    if !r.ok {
        eprintln!(
            "help: restore the damaged blobs with `berth fsck --repair DIR` (DIR holding good copies of the files), \
             or push the damaged versions again from a good copy; `berth gc` removes orphans and partial files"
        );
    }
}

pub fn smoke(r: &SmokeReport) {
    let who = r.model.as_deref().map(|m| format!("{m} at ")).unwrap_or_default();
    println!("smoke test of {who}{}: {}", r.endpoint, if r.passed { "✓ PASSED" } else { "✗ FAILED" });
    for c in &r.checks {
        println!("  {} {}", if c.passed { "✓" } else { "✗" }, c.detail);
    }
    if let (Some(p50), Some(p99)) = (r.p50_ms, r.p99_ms) {
        println!("  {} requests, {} failed; latency p50 {p50:.3} ms, p99 {p99:.3} ms", r.requests, r.failures);
    }
    for e in &r.errors {
        println!("  error: {e}");
    }
}

pub fn doctor(r: &berth_service::DoctorReport) {
    if let Some(g) = &r.git {
        println!(
            "git: {} (.git {:.1} MiB, {} file(s) in Git LFS)",
            g.repo,
            g.git_dir_bytes as f64 / 1048576.0,
            g.lfs_files
        );
        if !g.largest_models.is_empty() {
            println!("  largest model files in history:");
            for b in &g.largest_models {
                let at = if b.at_head { "tracked" } else { "history only" };
                println!("    {:>10.1} MiB  {}  ({at})", b.size as f64 / 1048576.0, b.path);
            }
        }
    }
    for f in &r.findings {
        let mark = match f.severity {
            berth_service::Severity::Error => "error",
            berth_service::Severity::Warning => "warning",
            berth_service::Severity::Info => "info",
        };
        println!("{mark}: {}", f.message);
        if let Some(fix) = &f.fix {
            println!("  fix: {fix}");
        }
    }
    let errors = r.findings.iter().filter(|f| f.severity == berth_service::Severity::Error).count();
    let warnings = r.findings.iter().filter(|f| f.severity == berth_service::Severity::Warning).count();
    println!("{errors} error(s), {warnings} warning(s)");
}

pub fn import_git(r: &berth_service::ImportReport) {
    for c in &r.commits {
        let short = &c.commit[..c.commit.len().min(12)];
        match &c.reference {
            Some(v) => println!("{short} -> {v} ({})", c.files.join(", ")),
            None => println!("{short}    imported before ({})", c.files.join(", ")),
        }
    }
    let made = r.commits.iter().filter(|c| c.reference.is_some()).count();
    println!("{made} version(s) of {} from {} commit(s) touching {}", r.model, r.commits.len(), r.glob);
}
