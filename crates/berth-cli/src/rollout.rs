//! `berth rollout`: drives a running server's rollout through its admin
//! endpoints (`/admin/rollout`), and shows where it stands.

use berth_deploy::rollout::{RolloutSpec, Strategy, Thresholds};
use berth_service::{Endpoint, Result, ServiceError};
use serde_json::Value;

use crate::cli::{RolloutCommand, RolloutStrategy};

fn refused(status: u16, body: &Value, what: &str) -> ServiceError {
    let message = body["error"].as_str().unwrap_or("no reason given");
    let e = format!("the server refused to {what} ({status}): {message}");
    if status >= 500 {
        ServiceError::Infra { message: e, hint: Some("see the server's log".into()) }
    } else {
        ServiceError::input(e, Some("`berth rollout status --endpoint URL` shows the rollout".into()))
    }
}

pub async fn run(cmd: &RolloutCommand, json: bool) -> Result<u8> {
    let (endpoint, method, path, body, what) = match cmd {
        RolloutCommand::Start(a) => {
            let spec = RolloutSpec {
                strategy: match a.strategy {
                    RolloutStrategy::Canary => Strategy::Canary,
                    RolloutStrategy::BlueGreen => Strategy::BlueGreen,
                    RolloutStrategy::Shadow => Strategy::Shadow,
                },
                candidate: a.candidate,
                steps: a.steps.clone(),
                pause_ms: a.pause.as_millis() as u64,
                sticky_header: a.sticky_header.clone(),
                thresholds: Thresholds {
                    min_requests: a.min_requests,
                    max_error_rate_increase: a.max_error_rate_increase,
                    max_p99_ratio: a.max_p99_ratio,
                    max_psi: a.max_psi,
                    ..Thresholds::default()
                },
            };
            let body = serde_json::to_value(&spec).map_err(|e| ServiceError::input(e.to_string(), None))?;
            (&a.endpoint, "POST", "/admin/rollout".to_string(), Some(body), "start the rollout")
        }
        RolloutCommand::Status(e) => (&e.endpoint, "GET", "/admin/rollout".to_string(), None, "show the rollout"),
        RolloutCommand::Promote(e) => (&e.endpoint, "POST", "/admin/rollout/promote".into(), None, "promote"),
        RolloutCommand::Abort(e) => (&e.endpoint, "POST", "/admin/rollout/abort".into(), None, "abort"),
        RolloutCommand::Switch(e) => (&e.endpoint, "POST", "/admin/rollout/switch".into(), None, "switch"),
        RolloutCommand::Back(e) => (&e.endpoint, "POST", "/admin/rollout/back".into(), None, "switch back"),
        RolloutCommand::Finish(e) => (&e.endpoint, "POST", "/admin/rollout/finish".into(), None, "finish"),
    };
    let (status, answer) = Endpoint::at(endpoint)?.request(method, &path, body.as_ref()).await?;
    if !(200..300).contains(&status) {
        return Err(refused(status, &answer, what));
    }
    if json {
        crate::render::json(&answer);
    } else {
        show(&answer);
    }
    Ok(0)
}

fn show(s: &Value) {
    let r = if s["active"] == true { &s["rollout"] } else { &s["last"]["state"] };
    if r.is_null() {
        println!("no rollout has run on this server");
        return;
    }
    let phase = r["phase"]["phase"].as_str().unwrap_or("?");
    println!(
        "{} rollout of {}@{} over version {} ({}): {phase}",
        r["spec"]["strategy"].as_str().unwrap_or("?"),
        r["model"].as_str().unwrap_or("?"),
        r["spec"]["candidate"],
        r["stable"],
        r["env"].as_str().unwrap_or("?"),
    );
    if let Some(reason) = r["phase"]["reason"].as_str() {
        println!("  reason: {reason}");
    }
    if s["active"] == true {
        println!("  candidate weight: {}%", s["weight"]);
        for side in ["stable", "candidate"] {
            let a = &s["step"][side];
            println!(
                "  {side:<9} {} requests, {} errors, p99 {} ms",
                a["requests"],
                a["errors"],
                a["p99_ms"].as_f64().map(|p| format!("{p:.2}")).unwrap_or_else(|| "-".into())
            );
        }
        if let Some(v) = s["analysis"]["verdict"].as_str() {
            println!("  analysis so far: {v}");
        }
    }
    for step in r["steps"].as_array().into_iter().flatten() {
        println!("  step {}%: {}", step["weight"], if step["passed"] == true { "passed" } else { "failed" });
        for c in step["checks"].as_array().into_iter().flatten() {
            println!(
                "    {} {}: {}",
                if c["passed"] == true { "✓" } else { "✗" },
                c["name"].as_str().unwrap_or(""),
                c["detail"].as_str().unwrap_or("")
            );
        }
    }
    let shadow = if s["active"] == true { &s["shadow"] } else { &s["last"]["shadow"] };
    if r["spec"]["strategy"] == "shadow" && !shadow.is_null() {
        println!("  shadow: {shadow}");
    }
}
