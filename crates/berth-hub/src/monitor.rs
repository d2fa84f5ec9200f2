//! Monitor reports through the hub: `berth monitor` records what live
//! traffic said about a version in an environment (the deployer role, as
//! for the moves it may lead to), anyone with the reader role lists them,
//! and the seeds' dashboards read the newest as one flat object at
//! `GET /models/{name}/performance`.

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery};
use axum::http::StatusCode;
use berth_core::{AliasName, MonitorRecord, Ref, Selector, Timestamp};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::body::{self, ok, param, query};
use crate::error::ApiError;
use crate::routes::{Answer, model};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordBody {
    version: u64,
    env: AliasName,
    report: Map<String, Value>,
}

/// `POST /api/v1/models/{model}/monitor-reports`: 201 with the record and
/// the events its change of state fired.
pub(crate) async fn record(Extension(Caller(b)): Extension<Caller>, Path(m): Path<String>, body: Body) -> Answer {
    let m = model(&m)?;
    let req: RecordBody = body::parse(body).await?;
    let v = b.resolve(&Ref { model: m, selector: Selector::Version(req.version) }).await?;
    let recorded = b.record_monitor_report(&v, &req.env, &Value::Object(req.report)).await?;
    Ok(body::json(StatusCode::CREATED, &recorded))
}

/// `GET /api/v1/models/{model}/monitor-reports?env=&limit=`: newest first.
pub(crate) async fn list(
    Extension(Caller(b)): Extension<Caller>,
    Path(m): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let m = model(&m)?;
    let q = query(q.as_deref(), &["env", "limit"])?;
    let env = param(&q, "env", AliasName::parse)?;
    let limit = param(&q, "limit", |s| match s.parse::<u32>() {
        Ok(0) | Err(_) => Err(format!("{s:?} is not a count from 1 to {}", u32::MAX)),
        Ok(n) => Ok(n),
    })?;
    Ok(ok(&json!({"monitor_reports": b.monitor_reports(&m, env.as_ref(), limit).await?})))
}

/// `GET /models/{model}/performance?env=&start_date=&end_date=`: the newest
/// report (of `env`, or of any environment) whose window ends in the range,
/// flattened: its metrics at the top level beside what it is about.
pub(crate) async fn performance(
    Extension(Caller(b)): Extension<Caller>,
    Path(m): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let m = model(&m)?;
    let q = query(q.as_deref(), &["env", "start_date", "end_date"])?;
    let env = param(&q, "env", AliasName::parse)?;
    let from = param(&q, "start_date", |s| bound(s, false))?;
    let to = param(&q, "end_date", |s| bound(s, true))?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::bad_input(
            format!("start_date {} is after end_date {}", q["start_date"], q["end_date"]),
            "give a start_date on or before the end_date",
        ));
    }
    match b.newest_monitor_report(&m, env.as_ref(), from, to).await? {
        Some(r) => Ok(ok(&flat(&r))),
        None => {
            let env = env.map(|e| e.to_string()).unwrap_or_else(|| "ENV".into());
            Err(ApiError::not_found(
                format!("no monitor report of {m} has a window ending in the range asked for"),
                format!("run `berth monitor {m} --env {env}` to record one, or widen start_date and end_date"),
            ))
        }
    }
}

fn bound(s: &str, end: bool) -> Result<Timestamp, String> {
    berth_service::parse_time_bound(s, end)
        .ok_or_else(|| format!("{s:?} is not a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z)"))
}

/// A report as the seeds read it: what it is about, then every metric.
fn flat(r: &MonitorRecord) -> Value {
    let mut out = Map::new();
    if let Some(metrics) = r.report["metrics"].as_object() {
        out.extend(metrics.iter().filter(|(_, v)| v.is_number()).map(|(k, v)| (k.clone(), v.clone())));
    }
    // What the report is about wins over a metric of the same name.
    let about = json!({
        "model": r.model,
        "version": r.version,
        "env": r.env,
        "created_at": r.created_at,
        "report_id": r.id,
        "window": r.report.get("window").filter(|w| w.is_object()).cloned().unwrap_or_else(|| json!({})),
        "data_drift_detected": r.drift,
        "degraded": r.degraded,
    });
    out.extend(about.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
    Value::Object(out)
}
