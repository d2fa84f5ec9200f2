//! `berth monitor`: one look at live traffic. Reads the window of the
//! prediction log that the version serving in an environment answered,
//! joins the labels that came later, judges it (`berth_gate::monitor`:
//! the gate's metrics and drift tests, data quality, volume, latency),
//! holds the live metrics against the ones the version passed its gate
//! with (the environment's `max_degradation`, as `berth check` does),
//! records the report on the version — which alerts when degradation or
//! drift starts or ends — and, when the metrics dropped too far, rolls the
//! environment back with the report as evidence. Works through the seam,
//! so the same code runs in-process and against a hub.

use std::path::PathBuf;
use std::time::Duration;

use berth_core::{AliasName, ModelName, Ref, Selector, Timestamp};
use berth_data::{Column, ColumnType, Profile, Table};
use berth_gate::evaluate::Truth;
use berth_gate::monitor::{Baseline, Live, LiveReport, MonitorSpec, assess};
use berth_ml::{Prediction, Signature, Task};
use serde::Serialize;
use serde_json::{Value, json};

use crate::prediction_log::{self, LOG_COLUMNS, Labels, PREDICTION_COLUMN, PROBA_PREFIX};
use crate::{CheckReport, CheckRequest, ErrorKind, MonitorRecorded, Operations, Result, ServiceError};

/// Which rows of the log one look covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    /// Predictions made within this long before now.
    Since(Duration),
    /// The newest this many predictions.
    Last(u64),
}

#[derive(Debug, Clone)]
pub struct MonitorRequest {
    pub model: ModelName,
    pub env: AliasName,
    /// The prediction log directory.
    pub log: PathBuf,
    pub window: Window,
    pub spec: MonitorSpec,
    /// Judge and print; record nothing, roll nothing back.
    pub dry_run: bool,
}

/// What one look found and did.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorOutcome {
    /// The report as stored on the version.
    pub report: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<MonitorRecorded>,
    /// The rollback check, when the metrics were judged against the gate's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckReport>,
}

impl MonitorOutcome {
    pub fn degraded(&self) -> bool {
        self.report["degraded"].as_bool().unwrap_or(false)
    }
    pub fn drifted(&self) -> bool {
        self.report["data_drift_detected"].as_bool().unwrap_or(false)
    }
}

/// The rows of the window and what they were joined with.
struct Rows {
    table: Table,
    requests: u64,
    from: Option<i64>,
    to: Option<i64>,
}

pub async fn monitor(ops: &dyn Operations, req: &MonitorRequest) -> Result<MonitorOutcome> {
    let (model, env) = (&req.model, &req.env);
    let v = ops.resolve(&Ref { model: model.clone(), selector: Selector::Alias(env.clone()) }).await?;
    let now = ops.now();
    let signature: Option<Signature> = match ops.version_file(&v, "signature.json").await? {
        Some(b) => serde_json::from_slice(&b).ok(),
        None => None,
    };
    let profile: Option<Profile> = match ops.version_file(&v, "profile.json").await? {
        Some(b) => Some(
            serde_json::from_slice(&b)
                .map_err(|e| ServiceError::input(format!("{model}@{}: profile.json: {e}", v.version), None))?,
        ),
        None => None,
    };
    let log = req.log.clone();
    let (model_s, version) = (model.to_string(), v.version);
    let window = req.window;
    let read = tokio::task::spawn_blocking(move || -> Result<(Option<Rows>, Labels)> {
        let table = prediction_log::read_predictions(&log, &model_s, version)?;
        let w = table.map(|t| in_window(t, window, now)).transpose()?;
        Ok((w, prediction_log::read_labels(&log)?))
    });
    let (w, labels) = read
        .await
        .map_err(|e| ServiceError::Infra { message: format!("reading the prediction log: {e}"), hint: None })??;
    let task = signature.as_ref().map(|s| s.task).or_else(|| w.as_ref().and_then(|w| task_of(&w.table)));
    let inputs = w.as_ref().map(|w| input_columns(&w.table, signature.as_ref())).transpose()?;
    let empty = Table::new(Vec::new()).expect("an empty table");
    let (labelled, joined) = match (&w, task) {
        (Some(w), Some(task)) => join(&w.table, &labels, task)?,
        _ => (None, 0),
    };
    let predicted = w.as_ref().and_then(|w| w.table.column(PREDICTION_COLUMN));
    let latency: Vec<f64> = w
        .as_ref()
        .and_then(|w| w.table.column("latency_ms"))
        .map(|c| (0..c.len()).filter_map(|i| c.as_f64(i)).collect())
        .unwrap_or_default();
    let live = Live {
        inputs: inputs.as_ref().unwrap_or(&empty),
        predicted,
        latency_ms: &latency,
        requests: w.as_ref().map_or(0, |w| w.requests),
        labelled,
    };
    let baseline = Baseline { profile: profile.as_ref(), target: signature.as_ref().and_then(|s| s.target.as_deref()) };
    let mut judged = assess(&req.spec, live, &baseline);

    // The live metrics against the gate's: the same judgment as `berth check`.
    let mut check = None;
    if !judged.metrics.is_empty() {
        let ask = CheckRequest {
            model: model.clone(),
            env: env.clone(),
            live: judged.metrics.clone(),
            max_degradation: req.spec.max_degradation,
            dry_run: true,
            evidence: None,
        };
        match ops.check(&ask).await {
            Ok(c) => {
                for d in c.comparison.exceeded() {
                    judged.degraded_because.push(format!(
                        "{} (against {})",
                        d.describe(c.comparison.allowed),
                        c.against
                    ));
                }
                check = Some(c);
            }
            Err(e) if e.kind() == ErrorKind::BadInput => judged.notes.push(format!("not compared with the gate: {e}")),
            Err(e) => return Err(e),
        }
    }
    let report = report_json(req, version, now, w.as_ref(), &judged, &labels, joined, check.as_ref());
    if req.dry_run {
        return Ok(MonitorOutcome { report, recorded: None, check });
    }
    let recorded = ops.record_monitor_report(&v, env, &report).await?;
    if check.as_ref().is_some_and(|c| c.degraded) && req.spec.rollback {
        let ask = CheckRequest {
            model: model.clone(),
            env: env.clone(),
            live: judged.metrics.clone(),
            max_degradation: req.spec.max_degradation,
            dry_run: false,
            evidence: Some(json!({"monitor_report": recorded.record.id, "window": report["window"]})),
        };
        check = Some(ops.check(&ask).await?);
    }
    Ok(MonitorOutcome { report, recorded: Some(recorded), check })
}

/// The rows inside the window, oldest first.
fn in_window(t: Table, window: Window, now: Timestamp) -> Result<Rows> {
    let ts = t.column("ts").ok_or_else(|| ServiceError::input("a prediction segment has no \"ts\" column", None))?;
    let at: Vec<i64> = (0..t.rows()).map(|i| ts.as_f64(i).map_or(i64::MIN, |x| x as i64)).collect();
    let mut rows: Vec<usize> = match window {
        Window::Since(d) => {
            let from = now.millis() / 1000 - d.as_secs() as i64;
            (0..t.rows()).filter(|&i| at[i] >= from).collect()
        }
        Window::Last(_) => (0..t.rows()).collect(),
    };
    rows.sort_by_key(|&i| at[i]);
    if let Window::Last(n) = window {
        let skip = rows.len().saturating_sub(n as usize);
        rows.drain(..skip);
    }
    let (from, to) = (rows.first().map(|&i| at[i]), rows.last().map(|&i| at[i]));
    let table = if rows.len() == t.rows() && rows.windows(2).all(|w| w[0] < w[1]) { t } else { t.take(&rows) };
    // Distinct request ids: a text column's levels are distinct, so count the codes in use.
    let requests = table.column("request_id").map_or(0, |c| match &c.data {
        berth_data::ColumnData::Str { levels, codes } => {
            let mut seen = vec![false; levels.len()];
            (0..c.len()).filter(|&i| !c.is_null(i) && !std::mem::replace(&mut seen[codes[i] as usize], true)).count()
                as u64
        }
        _ => {
            let mut ids: Vec<&str> = (0..c.len()).filter_map(|i| c.str_at(i)).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len() as u64
        }
    });
    Ok(Rows { table, requests, from, to })
}

/// The task the log's predictions are of, when no signature says.
fn task_of(t: &Table) -> Option<Task> {
    match t.column(PREDICTION_COLUMN)?.ty() {
        ColumnType::Str => Some(Task::Classification),
        ColumnType::Float | ColumnType::Int => Some(Task::Regression),
        _ => None,
    }
}

/// The model's inputs as logged, under their own names: the signature's,
/// else every column the log did not add.
fn input_columns(t: &Table, signature: Option<&Signature>) -> Result<Table> {
    let names: Vec<String> = match signature {
        Some(s) => s.inputs.iter().map(|f| f.name.clone()).collect(),
        None => t
            .names()
            .into_iter()
            .filter(|n| !LOG_COLUMNS.contains(&n.as_str()) && n != PREDICTION_COLUMN && !n.starts_with(PROBA_PREFIX))
            .map(|n| n.strip_prefix("input_").map(str::to_string).unwrap_or(n))
            .collect(),
    };
    let mut columns = Vec::new();
    for n in names {
        if let Some(c) = t.column(&prediction_log::logged_name(&n)) {
            let mut c = c.clone();
            c.name = n;
            columns.push(c);
        }
    }
    Ok(Table::new(columns)?)
}

/// The labelled rows of the window: their truth and the model's prediction
/// for each; and how many rows were joined.
fn join(t: &Table, labels: &Labels, task: Task) -> Result<(Option<(Truth, Prediction)>, u64)> {
    let (Some(ids), Some(rows), Some(predicted)) =
        (t.column("request_id"), t.column("row"), t.column(PREDICTION_COLUMN))
    else {
        return Ok((None, 0));
    };
    let mut hit: Vec<usize> = Vec::new();
    let mut text: Vec<String> = Vec::new();
    let mut numbers: Vec<f64> = Vec::new();
    for i in 0..t.rows() {
        let (Some(id), Some(row)) = (ids.str_at(i), rows.as_f64(i)) else { continue };
        let Some((label, value)) = labels.get(id, row as u32) else { continue };
        match task {
            Task::Regression => {
                let Some(v) = value.or_else(|| label.and_then(|l| l.parse().ok())) else { continue };
                numbers.push(v);
            }
            _ => {
                let Some(l) = label.map(str::to_string).or_else(|| value.map(prediction_log::number_as_class)) else {
                    continue;
                };
                text.push(l);
            }
        }
        hit.push(i);
    }
    if hit.is_empty() {
        return Ok((None, 0));
    }
    let joined = hit.len() as u64;
    let p = prediction_of(t, predicted, &hit, task);
    let truth = match task {
        Task::Regression => Truth::Values(numbers),
        Task::Anomaly => Truth::Anomalies(text.iter().map(|l| l == "1" || l.eq_ignore_ascii_case("true")).collect()),
        _ => Truth::Labels(text),
    };
    Ok((Some((truth, p)), joined))
}

/// What the model predicted for `rows`, from the log's columns.
fn prediction_of(t: &Table, predicted: &Column, rows: &[usize], task: Task) -> Prediction {
    if task == Task::Regression {
        let values = rows.iter().map(|&i| predicted.as_f64(i).unwrap_or(f64::NAN)).collect();
        return Prediction { values: Some(values), labels: None, probabilities: None, classes: None };
    }
    let labels = rows.iter().map(|&i| predicted.str_at(i).unwrap_or_default().to_string()).collect();
    let proba: Vec<&Column> = t.columns().iter().filter(|c| c.name.starts_with(PROBA_PREFIX)).collect();
    let (probabilities, classes) = if proba.is_empty() {
        (None, None)
    } else {
        let classes = proba.iter().map(|c| c.name[PROBA_PREFIX.len()..].to_string()).collect();
        let p = rows.iter().map(|&i| proba.iter().map(|c| c.as_f64(i).unwrap_or(f64::NAN)).collect()).collect();
        (Some(p), Some(classes))
    };
    Prediction { values: None, labels: Some(labels), probabilities, classes }
}

fn rfc3339(secs: i64) -> String {
    Timestamp::from_millis(secs * 1000).to_rfc3339()
}

#[allow(clippy::too_many_arguments)]
fn report_json(
    req: &MonitorRequest,
    version: u64,
    now: Timestamp,
    w: Option<&Rows>,
    judged: &LiveReport,
    labels: &Labels,
    joined: u64,
    check: Option<&CheckReport>,
) -> Value {
    let degraded = judged.degraded();
    let drift = judged.drifted();
    let (kind, size) = match req.window {
        Window::Since(d) => ("time", json!(d.as_secs())),
        Window::Last(n) => ("last", json!(n)),
    };
    let summary = match (degraded, drift) {
        (false, false) => format!(
            "{}@{} in {}: healthy over {} predictions ({} labelled)",
            req.model, version, req.env, judged.predictions, judged.labelled
        ),
        _ => format!(
            "{}@{} in {}: {}",
            req.model,
            version,
            req.env,
            judged.degraded_because.iter().chain(&judged.drift_because).cloned().collect::<Vec<_>>().join("; ")
        ),
    };
    json!({
        "model": req.model,
        "version": version,
        "env": req.env,
        "degraded": degraded,
        "data_drift_detected": drift,
        "summary": summary,
        "window": {
            "kind": kind,
            "size": size,
            "from": w.and_then(|w| w.from).map(rfc3339),
            "to": w.and_then(|w| w.to).map(rfc3339).unwrap_or_else(|| now.to_rfc3339()),
            "predictions": judged.predictions,
            "requests": judged.requests,
            "labelled": judged.labelled,
        },
        "metrics": judged.metrics,
        "reasons": {"degraded": judged.degraded_because, "drift": judged.drift_because},
        "feedback": {"received": labels.received, "replaced": labels.replaced, "labelled_rows": labels.len(), "joined": joined},
        "against": check.map(|c| c.against.clone()),
        "comparison": check.map(|c| &c.comparison),
        "live": judged,
    })
}
