//! `smoke`: the post-deploy smoke test, done with real requests.
//! The server must say it is healthy, answer every row of a sample one
//! request at a time and the whole sample in one batch, with well-formed
//! predictions, within the latency bound.

use std::path::PathBuf;
use std::time::Instant;

use berth_data::{ReadOptions, read_table};
use berth_ml::{Prediction, Task};
use serde::Serialize;

use crate::endpoint::Endpoint;
use crate::{Result, ServiceError};

#[derive(Debug, Clone)]
pub struct SmokeRequest {
    pub endpoint: String,
    pub data: PathBuf,
    /// Rows sent one request each (the first N of the data).
    pub rows: usize,
    /// p99 of the single-row requests may not exceed this.
    pub max_latency_ms: Option<f64>,
    /// The version the server must be serving (`NAME@N`): after a promotion
    /// a server that follows the environment swaps it in within its poll
    /// interval, so the smoke test waits up to `wait` for it.
    pub expect: Option<(berth_core::ModelName, u64)>,
    pub wait: std::time::Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct SmokeCheck {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SmokeReport {
    pub passed: bool,
    pub endpoint: String,
    /// NAME@VERSION that answered, when the server said.
    pub model: Option<String>,
    pub requests: usize,
    pub failures: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub checks: Vec<SmokeCheck>,
    /// The first few failures, as the server or the check put them.
    pub errors: Vec<String>,
}

impl SmokeReport {
    fn check(&mut self, name: &str, passed: bool, detail: String) {
        self.passed &= passed;
        self.checks.push(SmokeCheck { name: name.into(), passed, detail });
    }
}

/// Why a prediction is not what this model should answer, if it is not.
fn malformed(e: &Endpoint, p: &Prediction, rows: usize) -> Option<String> {
    if p.len() != rows {
        return Some(format!("{} predictions for {rows} rows", p.len()));
    }
    match e.task {
        Task::Regression => p.values.as_ref()?.iter().find(|v| !v.is_finite()).map(|v| format!("prediction {v}")),
        Task::Classification => {
            let classes = e.classes.as_deref().unwrap_or_default();
            if let Some(l) = p.labels.as_ref()?.iter().find(|l| !classes.contains(l)) {
                return Some(format!("label {l:?} is not one of the model's classes {classes:?}"));
            }
            let bad = p.probabilities.as_ref()?.iter().find(|r| (r.iter().sum::<f64>() - 1.0).abs() > 1e-6)?;
            Some(format!("probabilities {bad:?} do not sum to 1"))
        }
        Task::Anomaly => None,
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    berth_data::quantile_sorted(sorted, q)
}

pub async fn smoke(req: &SmokeRequest) -> Result<SmokeReport> {
    if req.rows == 0 {
        return Err(ServiceError::input("--rows must be at least 1", None));
    }
    let table = read_table(&req.data, &ReadOptions::default())?;
    if table.rows() == 0 {
        return Err(ServiceError::input(format!("{} has no rows to send", req.data.display()), None));
    }
    let mut report = SmokeReport {
        passed: true,
        endpoint: req.endpoint.clone(),
        model: None,
        requests: 0,
        failures: 0,
        p50_ms: None,
        p99_ms: None,
        checks: Vec::new(),
        errors: Vec::new(),
    };
    let deadline = Instant::now() + req.wait;
    let e = loop {
        let e = match Endpoint::connect(&req.endpoint).await {
            Ok(e) => e,
            Err(err @ ServiceError::Input { .. }) => return Err(err),
            Err(err) => {
                report.check("health", false, err.to_string());
                return Ok(report);
            }
        };
        let Some((model, n)) = &req.expect else { break e };
        let serving = e.name == model.as_str() && (e.version == n.to_string() || e.version == format!("{model}@{n}"));
        if serving {
            report.check("version", true, format!("{} serves {model}@{n}", e.url()));
            break e;
        }
        if Instant::now() >= deadline {
            let why = format!(
                "{} still serves {}@{} after {}s, not {model}@{n}",
                e.url(),
                e.name,
                e.version,
                req.wait.as_secs()
            );
            report.check("version", false, why);
            return Ok(report);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    let missing: Vec<&String> = e.inputs.iter().filter(|n| table.column(n).is_none()).collect();
    if !missing.is_empty() {
        return Err(ServiceError::input(
            format!("{} takes {:?}; {} lacks {missing:?}", e.shown(), e.inputs, req.data.display()),
            Some("send data with the model's input columns".into()),
        ));
    }
    report.model = Some(format!("{}@{}", e.name, e.version));
    report.check("health", true, format!("{} is healthy", e.shown()));

    let n = req.rows.min(table.rows());
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let one = table.take(&[i]);
        let started = Instant::now();
        let answer = e.predict(&one).await;
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        report.requests += 1;
        let problem = match answer {
            Ok(p) => malformed(&e, &p, 1),
            Err(err) => Some(err.to_string()),
        };
        if let Some(p) = problem {
            report.failures += 1;
            if report.errors.len() < 5 {
                report.errors.push(format!("row {i}: {p}"));
            }
        }
    }
    report.check(
        "single_rows",
        report.failures == 0,
        format!("{} of {n} single-row requests answered well", n - report.failures),
    );

    let sample = table.take(&(0..n).collect::<Vec<_>>());
    report.requests += 1;
    let batch = match e.predict(&sample).await {
        Ok(p) => malformed(&e, &p, n),
        Err(err) => Some(err.to_string()),
    };
    match batch {
        None => report.check("batch", true, format!("a batch of {n} rows answered well")),
        Some(p) => {
            report.failures += 1;
            report.errors.push(format!("batch: {p}"));
            report.check("batch", false, format!("a batch of {n} rows: {p}"));
        }
    }

    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    report.p50_ms = Some(p50);
    report.p99_ms = Some(p99);
    if let Some(max) = req.max_latency_ms {
        report.check("latency", p99 <= max, format!("p99 {p99:.3} ms (max {max} ms), p50 {p50:.3} ms"));
    }
    Ok(report)
}
