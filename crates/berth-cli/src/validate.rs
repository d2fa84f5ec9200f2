//! `berth validate`: the gate file and flags in, the report out (terminal,
//! JSON, Markdown, JUnit), exit 0 passed / 1 failed.

use std::path::Path;

use berth_core::Exit;
use berth_gate::Gate;
use berth_gate::gate::{BaselineSpec, Bound, GATE_HELP, LatencySpec};
use berth_gate::metrics::Metric;
use berth_ml::Task;
use berth_service::{Result, ServiceError, Subject, ValidateRequest};

use crate::cli::{TaskArg, ValidateArgs};

fn bad(message: String, hint: &str) -> ServiceError {
    ServiceError::input(message, Some(hint.to_string()))
}

impl From<TaskArg> for Task {
    fn from(t: TaskArg) -> Task {
        match t {
            TaskArg::Classification => Task::Classification,
            TaskArg::Regression | TaskArg::Forecast => Task::Regression,
            TaskArg::Anomaly => Task::Anomaly,
        }
    }
}

/// `--min METRIC=X` / `--max METRIC=X`: the metric, named as the gate file
/// names it, and the number.
fn metric_value(flag: &str, kv: &str) -> Result<(Metric, f64)> {
    let example = format!("write e.g. --{flag} f1_macro=0.8");
    let (k, v) = kv.split_once('=').ok_or_else(|| bad(format!("--{flag} {kv:?} is not METRIC=VALUE"), &example))?;
    let metric = Metric::parse(k.trim()).map_err(|e| bad(format!("--{flag} {kv:?}: {e}"), &example))?;
    let x: f64 = v.trim().parse().map_err(|_| bad(format!("--{flag} {kv:?}: {v:?} is not a number"), &example))?;
    Ok((metric, x))
}

/// The one thing validated: a model (a file or a ref), a running server or
/// a predictions file, with the task a predictions file cannot say.
fn subject(a: &ValidateArgs) -> Result<Subject> {
    match (&a.model, &a.endpoint, &a.predictions) {
        (Some(m), None, None) => Ok(Subject::Model(berth_service::model_arg(m)?)),
        (None, Some(url), None) => Ok(Subject::Endpoint(url.clone())),
        (None, None, Some(path)) => match a.task {
            Some(task) => Ok(Subject::Predictions { path: path.clone(), task: task.into() }),
            None => Err(bad(
                "with a predictions file and no model, say the task".into(),
                "pass --task classification|regression|anomaly",
            )),
        },
        (None, None, None) => {
            Err(bad("nothing to validate".into(), "pass a model (file or ref), --endpoint URL or --predictions FILE"))
        }
        _ => Err(bad(
            "validate scores one thing at a time".into(),
            "pass a model (file or ref), --endpoint URL or --predictions FILE, not several",
        )),
    }
}

/// The gate file (if any) with the flags laid over it.
fn gate_from(a: &ValidateArgs) -> Result<(Gate, String)> {
    let (mut gate, mut name) = match &a.gate {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("{}: cannot read the gate file: {e}", path.display()), "check the path"))?;
            let g = Gate::parse(&text, &path.display().to_string())
                .map_err(|e| ServiceError::input(e.to_string(), e.hint()))?;
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "gate".into());
            (g, stem)
        }
        None => (Gate::default(), "cli".to_string()),
    };
    if let Some(n) = &gate.name {
        name = n.clone();
    }
    let mut bound = |metric: Metric, min: Option<f64>, max: Option<f64>| {
        let b = gate.metrics.entry(metric).or_insert(Bound::default());
        if min.is_some() {
            b.min = min;
        }
        if max.is_some() {
            b.max = max;
        }
    };
    if let Some(x) = a.min_accuracy {
        bound(Metric::Accuracy, Some(x), None);
    }
    if let Some(x) = a.min_recall {
        bound(Metric::PerClassRecall, Some(x), None);
    }
    for kv in &a.min {
        let (k, x) = metric_value("min", kv)?;
        bound(k, Some(x), None);
    }
    for kv in &a.max {
        let (k, x) = metric_value("max", kv)?;
        bound(k, None, Some(x));
    }
    if let Some(ms) = a.max_latency_ms {
        let l = gate.latency.get_or_insert(LatencySpec::default());
        l.max_p99_ms = Some(ms);
    }
    if let Some(b) = &a.baseline {
        gate.baseline.get_or_insert_with(BaselineSpec::default).reference = Some(b.clone());
    }
    if let Some(t) = a.tolerance {
        if gate.baseline.as_ref().and_then(|b| b.reference.as_ref()).is_none() {
            return Err(bad("--tolerance needs a baseline".into(), "add --baseline REF"));
        }
        gate.baseline.get_or_insert(BaselineSpec::default()).tolerance = Some(t);
    }
    gate.validate().map_err(|e| bad(e.to_string(), &format!("fix the gate file or the flag; {GATE_HELP}")))?;
    for note in gate.notes() {
        tracing::warn!("{note}");
    }
    Ok((gate, name))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| ServiceError::input(format!("{}: cannot write the report: {e}", path.display()), None))
}

pub async fn run(a: &ValidateArgs, dir: &Path, json: bool) -> Result<u8> {
    // The gate first: its mistakes are worth fixing whatever the subject.
    let (gate, gate_name) = gate_from(a)?;
    let mut req = ValidateRequest::new(subject(a)?, a.data.clone(), gate, gate_name.clone())?;
    req.target = a.target.clone();
    req.features = a.features.clone();
    req.store = !a.no_store;
    let berth = if berth_service::needs_project(&req) { Some(crate::run::ops(dir).await?) } else { None };
    let report = berth_service::validate(berth.as_deref(), &req).await?;

    if let Some(p) = &a.report_json {
        write(p, &report.to_json())?;
    }
    let md = report.to_markdown();
    if let Some(p) = &a.report_md {
        write(p, &md)?;
    }
    crate::actions::summary(&md);
    crate::actions::annotate_failures(&gate_name, &report);
    if let Some(p) = &a.junit {
        write(p, &report.to_junit())?;
    }
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.passed { 0 } else { 1 })
}
