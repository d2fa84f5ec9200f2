//! `berth serve`: flags into serve options; the server lives in berth-serve.

use std::path::Path;
use std::sync::Arc;

use berth_serve::{AdminToken, Follow, Limits, LogOptions, Reach, ServeOptions, Target};
use berth_service::{Config, HubClient, Result, ServiceError, detect_actor};

use crate::cli::ServeArgs;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

pub async fn run(a: &ServeArgs, dir: &Path) -> Result<()> {
    let target = match (&a.reference, &a.model) {
        (None, Some(file)) => Target::File { path: dir.join(file), name: a.name.clone(), features: a.features.clone() },
        (Some(r), None) => {
            let reference = crate::train::parse_model_ref(r)?;
            Target::Registry { reach: Arc::new(reach(dir)?), reference, features: a.features.clone() }
        }
        _ => {
            return Err(ServiceError::input(
                "berth serve needs a ref (e.g. churn@production) or --model FILE",
                Some("run `berth serve churn@production` or `berth serve --model model/model.berth`".into()),
            ));
        }
    };
    if let Some(f) = &a.features {
        let mut seen = std::collections::BTreeSet::new();
        if let Some(d) = f.iter().find(|n| !seen.insert(n.as_str())) {
            return Err(ServiceError::input(format!("--features names {d:?} twice"), None));
        }
    }
    let ci = berth_serve::in_ci(&env);
    if a.allow_synthetic && !ci {
        tracing::warn!("--allow-synthetic is ignored outside CI (neither CI nor GITHUB_ACTIONS is set)");
    }
    let signature = match &a.signature {
        Some(p) => {
            let text = std::fs::read_to_string(dir.join(p))
                .map_err(|e| ServiceError::input(format!("--signature {}: cannot read: {e}", p.display()), None))?;
            Some(serde_json::from_str(&text).map_err(|e| {
                ServiceError::input(
                    format!("--signature {}: not a berth signature: {e}", p.display()),
                    Some("pass the signature.json that `berth train` writes".into()),
                )
            })?)
        }
        None => None,
    };
    if !(a.prediction_log_sample > 0.0 && a.prediction_log_sample <= 1.0) {
        return Err(ServiceError::input(
            format!("--prediction-log-sample {} is not in (0, 1]", a.prediction_log_sample),
            Some("e.g. 0.1 logs one request in ten".into()),
        ));
    }
    if a.max_in_flight == 0 || a.max_body_bytes == 0 || a.max_connections == 0 {
        return Err(ServiceError::input(
            "--max-in-flight, --max-body-bytes and --max-connections must be at least 1",
            None,
        ));
    }
    let admin = admin_token(a.admin_token_env.as_deref())?;
    let log = a.prediction_log.as_ref().map(|d| LogOptions {
        sample: a.prediction_log_sample,
        max_bytes: a.prediction_log_max_mib << 20,
        segment_age: a.prediction_log_rotate,
        to_store: a.prediction_log_to_store,
        ..LogOptions::new(dir.join(d))
    });
    let o = ServeOptions {
        target,
        follow: Follow { poll: a.poll, synthetic: a.allow_synthetic && ci, signature },
        limits: Limits {
            max_body_bytes: a.max_body_bytes,
            timeout: a.timeout,
            max_in_flight: a.max_in_flight,
            header_read_timeout: a.header_read_timeout,
            idle_timeout: a.idle_timeout,
            max_connections: a.max_connections,
        },
        log,
        drift_window: a.drift_window,
        drain: a.drain,
        admin,
    };
    let listener = tokio::net::TcpListener::bind(&a.addr).await.map_err(|e| {
        ServiceError::input(
            format!("cannot listen on {}: {e}", a.addr),
            Some("pick another --addr, e.g. 127.0.0.1:0 for any free port".into()),
        )
    })?;
    let bound = listener.local_addr().map_err(|e| ServiceError::Infra {
        message: format!("cannot tell which address {} is: {e}", a.addr),
        hint: None,
    })?;
    if o.admin.is_none() && !berth_serve::is_loopback(bound.ip()) {
        return Err(ServiceError::input(
            format!(
                "--addr {} listens on {bound}, which other machines can reach, and the admin endpoints \
                 (/admin/reload, /admin/rollout) would take no credential",
                a.addr
            ),
            Some(
                "give them a token: `export BERTH_ADMIN_TOKEN=$(openssl rand -hex 32)` and add \
                 --admin-token-env BERTH_ADMIN_TOKEN (clients send it as Authorization: Bearer TOKEN); \
                 or listen on loopback only, e.g. --addr 127.0.0.1:8080"
                    .into(),
            ),
        ));
    }
    match berth_serve::check_target(&o.target).await {
        Ok(None) => {}
        Ok(Some(waiting)) => tracing::warn!("{waiting}"),
        // In CI the stand-in is there for exactly this: no real model to be had.
        Err(e) if o.follow.synthetic => tracing::warn!("{e}; serving the synthetic stand-in meanwhile"),
        Err(e) => return Err(e),
    }
    berth_serve::run(listener, o, |addr| eprintln!("berth serve: listening on http://{addr}"))
        .await
        .map_err(|e| ServiceError::Infra { message: format!("the server stopped: {e}"), hint: None })
}

/// How the server reaches the ref it follows: through the hub when one is
/// configured (its token needs only the reader role, and a rollout asks the
/// hub to move the environment), else the project's registry and store.
fn reach(dir: &Path) -> Result<Reach> {
    match crate::run::hub_url(dir) {
        Some(url) => {
            let client = HubClient::from_environment(&url, &env)?;
            // The project's state directory when there is a project, else this machine's cache.
            let state = Config::discover(dir, &env).ok().and_then(|c| c.state_dir()).or_else(|| client.cache_dir());
            Ok(Reach::hub(client, state))
        }
        None => {
            let config = Config::discover(dir, &env)?;
            let actor = detect_actor(config.user.as_deref(), &env);
            Ok(Reach::local(config, actor))
        }
    }
}

/// The admin token from the variable `--admin-token-env` names. The errors
/// name the variable, never its value.
fn admin_token(var: Option<&str>) -> Result<Option<AdminToken>> {
    let Some(var) = var else { return Ok(None) };
    let how = format!("set it to a long random string, e.g. `export {var}=$(openssl rand -hex 32)`");
    let token = match std::env::var(var) {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => return Err(ServiceError::input(format!("--admin-token-env {var}: {var} is empty"), Some(how))),
        Err(std::env::VarError::NotPresent) => {
            return Err(ServiceError::input(format!("--admin-token-env {var}: {var} is not set"), Some(how)));
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(ServiceError::input(format!("--admin-token-env {var}: {var} is not valid UTF-8"), Some(how)));
        }
    };
    let admin = AdminToken::new(&token).map_err(|why| {
        ServiceError::input(format!("--admin-token-env {var}: the token in {var} is unusable: {why}"), Some(how))
    })?;
    if token.len() < 16 {
        tracing::warn!("the admin token in {var} is {} characters long; use at least 32 random ones", token.len());
    }
    Ok(Some(admin))
}
