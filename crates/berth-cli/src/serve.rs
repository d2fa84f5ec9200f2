//! `berth serve`: flags into serve options; the server lives in berth-serve.

use std::path::Path;

use berth_serve::{Follow, Limits, LogOptions, ServeOptions, Target};
use berth_service::{Config, Result, ServiceError, detect_actor};

use crate::cli::ServeArgs;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

pub async fn run(a: &ServeArgs, dir: &Path) -> Result<()> {
    let target = match (&a.reference, &a.model) {
        (None, Some(file)) => Target::File { path: dir.join(file), name: a.name.clone(), features: a.features.clone() },
        (Some(r), None) => {
            let reference = crate::train::parse_model_ref(r)?;
            let config = Config::discover(dir, &env)?;
            let actor = detect_actor(config.user.as_deref(), &env);
            Target::Registry { config: Box::new(config), actor, reference, features: a.features.clone() }
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
    if a.max_in_flight == 0 || a.max_body_bytes == 0 {
        return Err(ServiceError::input("--max-in-flight and --max-body-bytes must be at least 1", None));
    }
    let log = a.prediction_log.as_ref().map(|d| LogOptions {
        sample: a.prediction_log_sample,
        max_bytes: a.prediction_log_max_mib << 20,
        ..LogOptions::new(dir.join(d))
    });
    let o = ServeOptions {
        target,
        follow: Follow { poll: a.poll, synthetic: a.allow_synthetic && ci, signature },
        limits: Limits { max_body_bytes: a.max_body_bytes, timeout: a.timeout, max_in_flight: a.max_in_flight },
        log,
        drain: a.drain,
    };
    let listener = tokio::net::TcpListener::bind(&a.addr).await.map_err(|e| {
        ServiceError::input(
            format!("cannot listen on {}: {e}", a.addr),
            Some("pick another --addr, e.g. 127.0.0.1:0 for any free port".into()),
        )
    })?;
    berth_serve::run(listener, o, |addr| eprintln!("berth serve: listening on http://{addr}"))
        .await
        .map_err(|e| ServiceError::Infra { message: format!("the server stopped: {e}"), hint: None })
}
