//! `berth rollout`: drives a running server's rollout through its admin
//! endpoints (`/admin/rollout`), and shows where it stands. A server started
//! with an admin token is sent it from `--admin-token-env VAR`, else from
//! `BERTH_ADMIN_TOKEN` when that is set.

use berth_deploy::rollout::{RolloutSpec, Strategy, Thresholds};
use berth_service::{Endpoint, Result, ServiceError};
use serde_json::Value;

use crate::cli::{RolloutCommand, RolloutStrategy};

fn refused(status: u16, body: &Value, what: &str) -> ServiceError {
    let message = body["error"].as_str().unwrap_or("no reason given");
    let e = format!("the server refused to {what} ({status}): {message}");
    if status >= 500 {
        ServiceError::Infra { message: e, hint: Some("see the server's log".into()) }
    } else if status == 403 {
        // The environment's policy said no: the answer, not a wrong question.
        ServiceError::Denied { message: e, hint: None, missing: Vec::new() }
    } else if status == 401 {
        ServiceError::input(
            e,
            Some(
                "set BERTH_ADMIN_TOKEN (or the variable --admin-token-env names) to the token in the variable \
                 the server's --admin-token-env names"
                    .into(),
            ),
        )
    } else {
        ServiceError::input(e, Some("`berth rollout status --endpoint URL` shows the rollout".into()))
    }
}

/// The variable clients read the admin token from unless told another.
const DEFAULT_TOKEN_VAR: &str = "BERTH_ADMIN_TOKEN";

/// The admin token to send: from the variable named (which must then be
/// set), else from `BERTH_ADMIN_TOKEN` if set, else none. Errors name the
/// variable, never its value.
fn admin_token(named: Option<&str>) -> Result<Option<String>> {
    let (var, required) = match named {
        Some(v) => (v, true),
        None => (DEFAULT_TOKEN_VAR, false),
    };
    match std::env::var(var) {
        Ok(t) if !t.is_empty() => Ok(Some(t)),
        _ if !required => Ok(None),
        Ok(_) => Err(ServiceError::input(
            format!("--admin-token-env {var}: {var} is empty"),
            Some(format!("set {var} to the server's admin token")),
        )),
        Err(_) => Err(ServiceError::input(
            format!("--admin-token-env {var}: {var} is not set"),
            Some(format!("set {var} to the server's admin token")),
        )),
    }
}

pub async fn run(cmd: &RolloutCommand, json: bool) -> Result<u8> {
    let (endpoint, token_var) = match cmd {
        RolloutCommand::Start(a) => (&a.endpoint, &a.admin_token_env),
        RolloutCommand::Status(e)
        | RolloutCommand::Promote(e)
        | RolloutCommand::Abort(e)
        | RolloutCommand::Switch(e)
        | RolloutCommand::Back(e)
        | RolloutCommand::Finish(e) => (&e.endpoint, &e.admin_token_env),
    };
    let (method, path, body, what) = match cmd {
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
            ("POST", "/admin/rollout".to_string(), Some(body), "start the rollout")
        }
        RolloutCommand::Status(_) => ("GET", "/admin/rollout".to_string(), None, "show the rollout"),
        RolloutCommand::Promote(_) => ("POST", "/admin/rollout/promote".into(), None, "promote"),
        RolloutCommand::Abort(_) => ("POST", "/admin/rollout/abort".into(), None, "abort"),
        RolloutCommand::Switch(_) => ("POST", "/admin/rollout/switch".into(), None, "switch"),
        RolloutCommand::Back(_) => ("POST", "/admin/rollout/back".into(), None, "switch back"),
        RolloutCommand::Finish(_) => ("POST", "/admin/rollout/finish".into(), None, "finish"),
    };
    let mut server = Endpoint::at_url(endpoint.clone());
    if let Some(t) = admin_token(token_var.as_deref())? {
        server = server.with_admin_token(t);
    }
    let (status, answer) = server.request(method, &path, body.as_ref()).await?;
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
