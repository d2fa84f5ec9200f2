//! `berth monitor` and `berth feedback`: the command-line ends of the
//! monitoring loop (the work is `berth_service::monitor` and
//! `berth_service::prediction_log`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_core::MoveKind;
use berth_gate::monitor::MonitorSpec;
use berth_service::monitor::{MonitorOutcome, MonitorRequest, Window, monitor};
use berth_service::prediction_log::{FeedbackBatch, record_feedback};
use berth_service::{Config, Result, ServiceError};

use crate::cli::{FeedbackArgs, MonitorArgs};
use crate::render;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// The project's `[monitors.*]` sections and its root, when there is a project.
fn project(dir: &Path) -> (Option<PathBuf>, std::collections::BTreeMap<String, MonitorSpec>) {
    match Config::discover(dir, &env) {
        Ok(c) => (c.root, c.monitors),
        Err(_) => (None, Default::default()),
    }
}

fn duration(flag: &str, s: &str) -> Result<Duration> {
    humantime::parse_duration(s).map_err(|e| {
        ServiceError::input(format!("{flag} {s:?}: {e}"), Some("write a duration such as 7d, 12h, 30m".into()))
    })
}

pub async fn run(dir: &Path, a: &MonitorArgs, json: bool) -> Result<u8> {
    let (root, monitors) = project(dir);
    let spec = monitors.get(a.model.as_str()).cloned().unwrap_or_default();
    let base = root.unwrap_or_else(|| dir.to_path_buf());
    let from_store = a.log_from_store || spec.log_from_store;
    let log = match (&a.log, &spec.log) {
        (Some(l), _) => l.clone(),
        (None, Some(l)) => base.join(l),
        (None, None) if from_store => base.join(".berth").join("plog").join(a.model.as_str()),
        (None, None) => {
            return Err(ServiceError::input(
                format!("no prediction log to read for {}", a.model),
                Some(format!(
                    "pass --log DIR (the directory `berth serve --prediction-log DIR` writes), or set \
                     [monitors.{}] log = \"DIR\" in berth.toml",
                    a.model
                )),
            ));
        }
    };
    let window = match (a.last, &a.window) {
        (Some(n), _) if n > 0 => Window::Last(n),
        (Some(_), _) => return Err(ServiceError::input("--last 0: the window would hold nothing", None)),
        (None, Some(w)) => Window::Since(duration("--window", w)?),
        (None, None) => match (spec.last, spec.window().map_err(|e| ServiceError::input(e, None))?) {
            (Some(n), _) => Window::Last(n),
            (None, Some(d)) => Window::Since(d),
            (None, None) => Window::Since(Duration::from_secs(7 * 86_400)),
        },
    };
    let every = a.every.as_deref().map(|e| duration("--every", e)).transpose()?;
    let req = MonitorRequest { model: a.model.clone(), env: a.env.clone(), log, window, spec, dry_run: a.dry_run };
    let ops = crate::run::ops(dir).await?;
    let mut first = true;
    loop {
        let looked = async {
            if from_store {
                let s = berth_service::download_segments(ops.as_ref(), &req.model, &req.log).await?;
                tracing::info!(
                    segments = s.moved.len(),
                    bytes = s.bytes,
                    already = s.already,
                    "log mirrored from the store"
                );
            }
            monitor(ops.as_ref(), &req).await
        };
        let code = match looked.await {
            Ok(o) => {
                if json {
                    render::json(&o)
                } else {
                    show(&o)
                }
                u8::from(o.degraded() || o.drifted())
            }
            // A mistake in what was asked shows at the first look; later a
            // failing look (the hub down for a moment) does not end the loop.
            Err(e) if first || every.is_none() => return Err(e),
            Err(e) => {
                render::error(&e, json);
                2
            }
        };
        first = false;
        let Some(every) = every else { return Ok(code) };
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return Ok(code),
        }
    }
}

fn show(o: &MonitorOutcome) {
    let r = &o.report;
    let w = &r["window"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
    println!(
        "{}@{} in {}: {} predictions in {} requests, {} labelled ({} to {})",
        text(&r["model"]),
        r["version"],
        text(&r["env"]),
        w["predictions"],
        w["requests"],
        w["labelled"],
        w["from"].as_str().unwrap_or("-"),
        w["to"].as_str().unwrap_or("-"),
    );
    let live = &r["live"];
    if let Some(metrics) = r["metrics"].as_object().filter(|m| !m.is_empty()) {
        let gate: std::collections::BTreeMap<&str, f64> = r["comparison"]["compared"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d["metric"].as_str()?, d["gate"].as_f64()?)))
            .collect();
        let rows: Vec<Vec<String>> = metrics
            .iter()
            .map(|(k, v)| {
                let g = gate.get(k.as_str()).map(|g| format!("{g:.4}")).unwrap_or_else(|| "-".into());
                vec![k.clone(), v.as_f64().map(|x| format!("{x:.4}")).unwrap_or_default(), g]
            })
            .collect();
        render::table(&["METRIC", "LIVE", "GATE"], &rows);
    }
    if let Some(d) = live.get("drift").filter(|d| d.is_object()) {
        let drifted: Vec<String> = d["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["drifted"].as_bool() == Some(true))
            .filter_map(|c| c["column"].as_str().map(str::to_string))
            .collect();
        println!(
            "input drift: {} of {} columns drifted{}",
            d["drifted"],
            d["tested"],
            if drifted.is_empty() { String::new() } else { format!(" ({})", drifted.join(", ")) }
        );
    }
    if let Some(p) = live.get("prediction_drift").filter(|p| p.is_object()) {
        println!("prediction drift: PSI {:.3} (at most {})", p["psi"].as_f64().unwrap_or(f64::NAN), p["max_psi"]);
    }
    if let Some(l) = live.get("latency").filter(|l| l.is_object()) {
        let ms = |k: &str| l[k].as_f64().map(|x| format!("{x:.2}")).unwrap_or_default();
        println!("latency: p50 {} ms, p95 {} ms, p99 {} ms", ms("p50_ms"), ms("p95_ms"), ms("p99_ms"));
    }
    for n in live["notes"].as_array().into_iter().flatten().filter_map(|n| n.as_str()) {
        println!("note: {n}");
    }
    let reasons = |k: &str| -> Vec<String> {
        r["reasons"][k].as_array().into_iter().flatten().filter_map(|x| x.as_str().map(str::to_string)).collect()
    };
    let (degraded, drift) = (reasons("degraded"), reasons("drift"));
    if degraded.is_empty() && drift.is_empty() {
        println!("healthy");
    }
    for d in &degraded {
        println!("degraded: {d}");
    }
    for d in &drift {
        println!("drift: {d}");
    }
    match &o.recorded {
        None => println!("not recorded (--dry-run)"),
        Some(rec) => {
            let events = if rec.events.is_empty() { "no change, no alert".to_string() } else { rec.events.join(", ") };
            println!("recorded as monitor report {} on version {}: {events}", rec.record.id, rec.record.version);
            crate::deploy::notified(&rec.notified);
        }
    }
    if let Some(c) = &o.check {
        match (&c.rollback, &c.rollback_refused) {
            (Some(ev), _) => {
                let how = if ev.kind == MoveKind::AutoRollback { "rolled back automatically" } else { "rolled back" };
                println!(
                    "{}@{} {how} from version {} to {}",
                    c.model,
                    c.env,
                    ev.from.unwrap_or_default(),
                    ev.to.unwrap_or_default()
                );
                crate::deploy::notified(&c.notified);
            }
            (None, Some(why)) => println!("not rolled back: {why}"),
            (None, None) if c.degraded && o.recorded.is_some() && !c.dry_run => {
                println!("already on the rollback target")
            }
            _ => {}
        }
    }
}

pub async fn feedback(dir: &Path, a: &FeedbackArgs, json: bool) -> Result<u8> {
    let batch = FeedbackBatch {
        data: a.data.clone(),
        id_column: a.id_column.clone(),
        target: a.target.clone(),
        row_column: a.row_column.clone(),
    };
    let log = if a.log.is_absolute() { a.log.clone() } else { dir.join(&a.log) };
    let r = record_feedback(&log, &batch)?;
    let stored = match &a.to_store {
        Some(model) => {
            let ops = crate::run::ops(dir).await?;
            Some(berth_service::upload_segments(ops.as_ref(), model, &log).await?)
        }
        None => None,
    };
    if json {
        let mut out = serde_json::to_value(&r).unwrap_or_default();
        if let Some(s) = &stored {
            out["stored"] = serde_json::to_value(s).unwrap_or_default();
        }
        render::json(&out);
    } else {
        println!(
            "{} labels from {} written to {} ({} match logged predictions, {} do not yet)",
            r.labels,
            a.data.display(),
            r.segment.display(),
            r.matched,
            r.unmatched
        );
        if let (Some(s), Some(model)) = (&stored, &a.to_store) {
            println!("{} segments sent to the store as {model}'s log ({} already there)", s.moved.len(), s.already);
        }
        if r.unmatched > 0 {
            render::warn(
                &format!("{} labels name request ids the log does not hold (yet)", r.unmatched),
                Some("they join once the predictions' segments are written; check --id-column otherwise"),
            );
        }
    }
    Ok(0)
}
