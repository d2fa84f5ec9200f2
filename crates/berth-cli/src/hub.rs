//! `berth hub`, `berth token` and `berth policy`: flags into the service's
//! access operations; the server itself lives in berth-hub.

use std::path::Path;
use std::sync::Arc;

use berth_core::{Grant, SystemClock};
use berth_service::{
    Berth, Config, NewTokenReport, PolicyInForce, Principal, Result, ServiceError, TokenRecord, TokenRequest,
    read_policy_file,
};

use crate::cli::{HubArgs, HubCommand, PolicyCommand, TokenCommand};
use crate::render;
use crate::run::{open_here, ops};

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

pub async fn hub(a: &HubArgs, dir: &Path, json: bool) -> Result<()> {
    if let Some(HubCommand::Init { principal, force }) = &a.command {
        let report = open_here(dir).await?.first_admin_token(principal, *force).await?;
        new_token(&report, json);
        return Ok(());
    }
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(
            berth_hub::Tls::from_pem_files(&dir.join(cert), &dir.join(key))
                .map_err(|e| ServiceError::input(e, Some("pass a PEM certificate chain and its private key".into())))?,
        ),
        _ => None,
    };
    if !berth_serve::is_loopback(a.addr.ip()) && !a.behind_tls_proxy && tls.is_none() {
        return Err(ServiceError::input(
            format!(
                "{} is reachable from other machines, and this hub speaks plain HTTP: tokens would cross the network unencrypted",
                a.addr
            ),
            Some(
                "serve TLS with --tls-cert and --tls-key, or put a TLS-terminating proxy in front and pass \
                 --behind-tls-proxy, or listen on 127.0.0.1"
                    .into(),
            ),
        ));
    }
    if a.header_read_timeout.is_zero() {
        return Err(ServiceError::input(
            "--header-read-timeout 0s would close every connection before its request arrives",
            Some("give a duration such as 30s".into()),
        ));
    }
    let config = Config::discover(dir, &env)?;
    let config_state_dir = config.state_dir();
    let clock = Arc::new(SystemClock);
    let berth = Berth::open_as(config, Principal::local("hub"), clock.clone()).await?;
    berth.readiness().await?;
    let listener = tokio::net::TcpListener::bind(a.addr)
        .await
        .map_err(|e| ServiceError::input(format!("cannot listen on {}: {e}", a.addr), None))?;
    // Uploads are spooled beside the project's store when there is a project,
    // so a blob that arrived whole is moved into a local store, not copied.
    let hub = berth_hub::Hub::new(berth, clock);
    let hub = match config_state_dir {
        Some(d) => hub.with_uploads(berth_hub::Uploads { spool: d.join("hub-spool"), ..Default::default() }),
        None => hub,
    };
    let stopped = |e: std::io::Error| ServiceError::Infra { message: format!("the hub stopped: {e}"), hint: None };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let ready = |addr| eprintln!("berth hub listening on {scheme}://{addr}");
    let listen = berth_hub::Listen { tls, header_read_timeout: a.header_read_timeout };
    berth_hub::serve(listener, hub, listen, ready, shutdown()).await.map_err(stopped)
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn new_token(r: &NewTokenReport, json: bool) {
    if json {
        return render::json(r);
    }
    println!("{}", r.secret);
    eprintln!(
        "made token {} for {} ({} on {}{}); the secret above is shown only this once",
        r.token.id,
        r.token.principal,
        r.token.grant.role,
        r.token.grant.models,
        envs(&r.token.grant)
    );
}

fn envs(g: &Grant) -> String {
    if g.envs.is_empty() {
        String::new()
    } else {
        format!(" in {}", g.envs.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", "))
    }
}

pub async fn token(cmd: &TokenCommand, dir: &Path, json: bool) -> Result<()> {
    let b = ops(dir).await?;
    match cmd {
        TokenCommand::Create { principal, role, models, envs, expires } => {
            let grant = Grant { role: *role, models: models.clone(), envs: envs.clone() };
            let expires_at = expires.map(|d| berth_core::Clock::now(&SystemClock).plus(d));
            let report = b.create_token(&TokenRequest { principal: principal.clone(), grant, expires_at }).await?;
            new_token(&report, json);
        }
        TokenCommand::List => {
            let list = b.tokens().await?;
            if json { render::json(&list) } else { tokens(&list) }
        }
        TokenCommand::Revoke { id } => {
            let t = b.revoke_token(id).await?;
            if json {
                render::json(&t)
            } else {
                println!("revoked {} ({})", t.id, t.principal);
            }
        }
    }
    Ok(())
}

fn tokens(list: &[TokenRecord]) {
    let now = berth_core::Clock::now(&SystemClock);
    let at = |t: Option<berth_core::Timestamp>| t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                format!("{}…", t.prefix),
                t.principal.clone(),
                format!("{} on {}{}", t.grant.role, t.grant.models, envs(&t.grant)),
                at(t.expires_at),
                at(t.last_used_at),
                t.unusable(now).unwrap_or("active").to_string(),
            ]
        })
        .collect();
    render::table(&["ID", "SECRET", "PRINCIPAL", "GRANT", "EXPIRES", "LAST USED", "STATE"], &rows);
}

pub async fn policy(cmd: &PolicyCommand, dir: &Path, json: bool) -> Result<()> {
    match cmd {
        PolicyCommand::Apply { file } => {
            let path = match file {
                Some(f) => dir.join(f),
                None => Config::discover(dir, &env)?.root.map(|r| r.join("berth.toml")).ok_or_else(|| {
                    ServiceError::input(
                        "no berth.toml here or above",
                        Some("name the file: `berth policy apply FILE`".into()),
                    )
                })?,
            };
            let environments = read_policy_file(&path)?;
            let b = ops(dir).await?;
            let r = b.policy_apply(&environments, &path.display().to_string()).await?;
            if json {
                render::json(&r)
            } else if r.applied {
                println!("applied policy version {} ({}) from {}", r.policy.version, r.policy.digest, path.display());
            } else {
                println!("policy version {} is already this document; nothing changed", r.policy.version);
            }
        }
        PolicyCommand::Show { history: true } => {
            let list = ops(dir).await?.policy_history().await?;
            if json {
                render::json(&list)
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|p| {
                        vec![
                            p.version.to_string(),
                            p.applied_at.to_rfc3339(),
                            p.applied_by.clone(),
                            p.source.clone().unwrap_or_default(),
                            p.digest.clone(),
                        ]
                    })
                    .collect();
                render::table(&["VERSION", "APPLIED", "BY", "SOURCE", "DIGEST"], &rows);
            }
        }
        PolicyCommand::Show { history: false } => {
            let r = ops(dir).await?.policy_show().await?;
            if json {
                render::json(&r)
            } else {
                show(&r.in_force);
                if r.differs_from_config {
                    render::warn(
                        "this project's berth.toml says something else; the policy above is the one enforced",
                        Some("`berth policy apply` makes berth.toml's the policy in force"),
                    );
                }
            }
        }
    }
    Ok(())
}

fn show(p: &PolicyInForce) {
    match &p.record {
        Some(r) => {
            println!("# policy version {} applied by {} at {}", r.version, r.applied_by, r.applied_at.to_rfc3339())
        }
        None => println!("# the registry has no policy; this berth.toml's [environments] stand in"),
    }
    if p.environments.is_empty() {
        println!("# no environment has requirements");
    }
    let doc = toml::to_string(&serde_json::json!({ "environments": p.environments })).unwrap_or_default();
    print!("{doc}");
}
