//! `validate`: runs a gate. Loads the model (a file or a ref), the data and
//! the truth, scores (or reads a predictions file), rescoring the baseline,
//! gathering drift columns and timing single rows, then lets `berth-gate`
//! decide. A version validated by ref gets the report stored on it.
//!
//! "Model loads", "data loads" and "model predicts" are checks: when one
//! fails the report says so and the later checks do not run. Questions that
//! were asked wrong (a missing label column, a predictions file of the wrong
//! length, a metric the model cannot have) are errors (exit 2), not verdicts.

use std::path::{Path, PathBuf};
use std::time::Instant;

use berth_core::{ModelArg, VersionRecord};
use berth_data::{Profile, ReadOptions, Table, read_table};
use berth_gate::drift::{Current, Reference};
use berth_gate::evaluate::{self, BaselineInput, Inputs, LatencySample, Truth};
use berth_gate::{Gate, Report};
use berth_ml::{Prediction, Task};

use crate::endpoint::Endpoint;
use crate::predict::Scorer;
use crate::{Berth, Result, ServiceError};

/// What to validate and how.
#[derive(Debug, Clone, Default)]
pub struct ValidateRequest {
    /// A model file or a ref; `None` with `predictions`.
    pub model: Option<String>,
    pub data: PathBuf,
    pub gate: Gate,
    pub gate_name: String,
    /// A predictions file (model-agnostic): a `prediction` column, and for
    /// classifiers `proba_<class>` columns, one row per data row.
    pub predictions: Option<PathBuf>,
    /// A running berth server to score through (e.g. staging), instead of a
    /// model: `http://HOST:PORT`.
    pub endpoint: Option<String>,
    /// The task when no model says it (with `predictions` only).
    pub task: Option<Task>,
    /// Overrides the gate's baseline ref.
    pub baseline: Option<String>,
    pub target: Option<String>,
    /// ONNX input columns.
    pub features: Option<Vec<String>>,
    /// When the model is a ref, store the report on the version.
    pub store: bool,
}

/// A loaded model: the scorer, how to show it, the version behind a ref.
struct Loaded {
    scorer: Scorer,
    shown: String,
    version: Option<VersionRecord>,
    /// A `profile.json` beside a model file, if any.
    profile_path: Option<PathBuf>,
}

/// A model or baseline argument: a file or a ref, or why it is neither.
pub fn model_arg(s: &str) -> Result<ModelArg> {
    ModelArg::parse(s, Path::is_file).map_err(|e| ServiceError::input(e.to_string(), Some(e.hint())))
}

/// True when validating needs a project (some input is a ref).
pub fn needs_project(req: &ValidateRequest) -> bool {
    let refs = |s: &Option<String>| s.as_deref().is_some_and(|m| matches!(model_arg(m), Ok(ModelArg::Ref(_))));
    refs(&req.model) || refs(&req.baseline) || refs(&req.gate.baseline.as_ref().and_then(|b| b.reference.clone()))
}

async fn load(berth: Option<&Berth>, model: &str, features: Option<Vec<String>>) -> Result<Loaded> {
    let r = match model_arg(model)? {
        ModelArg::File(path) => {
            let profile = path.parent().map(|d| d.join("profile.json")).filter(|p| p.is_file());
            return Ok(Loaded {
                scorer: Scorer::open_file(&path, features)?,
                shown: model.to_string(),
                version: None,
                profile_path: profile,
            });
        }
        ModelArg::Ref(r) => r,
    };
    let b = berth.ok_or_else(|| {
        ServiceError::input(
            format!("{model:?} is not a file, and a ref needs a berth project"),
            Some("run inside a project (berth init), or pass a model file".into()),
        )
    })?;
    let (scorer, v) = b.open_scorer(&r, features).await?;
    Ok(Loaded { scorer, shown: format!("{}@{}", v.model, v.version), version: Some(v), profile_path: None })
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The truth column as the task needs it; nulls are refused.
fn truth(table: &Table, target: &str, task: Task) -> Result<Truth> {
    let c = table.column(target).ok_or_else(|| {
        ServiceError::input(
            format!("the data has no label column {target:?}; its columns are {:?}", table.names()),
            Some("name it with --target or `target = ...` in the gate file".into()),
        )
    })?;
    if let Some(row) = (0..c.len()).find(|i| c.is_null(*i)) {
        return Err(ServiceError::input(
            format!("the label column {target:?} is empty at row {row} ({} empty in all)", c.null_count()),
            Some("every row needs its true label".into()),
        ));
    }
    Ok(match task {
        Task::Regression => Truth::Values(
            (0..c.len())
                .map(|i| {
                    c.as_f64(i).filter(|v| v.is_finite()).ok_or_else(|| {
                        ServiceError::input(
                            format!("the label column {target:?} holds {:?} at row {i}, not a number", c.display(i)),
                            None,
                        )
                    })
                })
                .collect::<Result<_>>()?,
        ),
        Task::Anomaly => Truth::Labels(
            (0..c.len())
                .map(|i| match c.display(i).as_str() {
                    "1" | "true" => "1".to_string(),
                    _ => "0".to_string(),
                })
                .collect(),
        ),
        Task::Classification => Truth::Labels((0..c.len()).map(|i| c.display(i)).collect()),
    })
}

/// Reads a predictions file as berth predict writes it.
fn read_predictions(path: &Path, rows: usize, task: Task) -> Result<Prediction> {
    let t = read_table(path, &ReadOptions::default())?;
    if t.rows() != rows {
        return Err(ServiceError::input(
            format!("{} has {} predictions for {rows} data rows", path.display(), t.rows()),
            Some("predict on exactly the rows of --data, in the same order".into()),
        ));
    }
    let p = t.column("prediction").ok_or_else(|| {
        ServiceError::input(
            format!("{} has no `prediction` column; its columns are {:?}", path.display(), t.names()),
            Some("write one row per data row with a `prediction` column (and proba_<class> columns)".into()),
        )
    })?;
    if let Some(i) = (0..p.len()).find(|i| p.is_null(*i) || p.as_f64(*i).is_some_and(f64::is_nan)) {
        return Err(ServiceError::input(
            format!("{}: prediction {i} is empty or NaN", path.display()),
            Some("every row needs a prediction".into()),
        ));
    }
    let proba: Vec<&berth_data::Column> = t.columns().iter().filter(|c| c.name.starts_with("proba_")).collect();
    let classes: Vec<String> = proba.iter().map(|c| c.name["proba_".len()..].to_string()).collect();
    let probabilities = if proba.is_empty() {
        None
    } else {
        Some(
            (0..rows)
                .map(|i| {
                    proba
                        .iter()
                        .map(|c| {
                            c.as_f64(i).filter(|v| v.is_finite()).ok_or_else(|| {
                                ServiceError::input(
                                    format!("{}: {} is empty or not a number at row {i}", path.display(), c.name),
                                    None,
                                )
                            })
                        })
                        .collect::<Result<Vec<f64>>>()
                })
                .collect::<Result<Vec<_>>>()?,
        )
    };
    Ok(match task {
        Task::Regression => Prediction {
            values: Some((0..rows).map(|i| p.as_f64(i).unwrap_or(f64::NAN)).collect()),
            labels: None,
            probabilities: None,
            classes: None,
        },
        _ => Prediction {
            values: None,
            labels: Some((0..rows).map(|i| p.display(i)).collect()),
            classes: probabilities.as_ref().map(|_| classes),
            probabilities,
        },
    })
}

/// Single-row latencies: `warmup` unmeasured calls, then `runs` measured
/// ones cycling through the data's rows.
fn measure_latency(scorer: &Scorer, table: &Table, runs: usize, warmup: usize) -> Result<Vec<f64>> {
    let rows = table.rows().max(1);
    let mut ms = Vec::with_capacity(runs);
    for k in 0..warmup + runs {
        let one = table.take(&[k % rows]);
        let t = Instant::now();
        scorer.predict(&one)?;
        if k >= warmup {
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(ms)
}

async fn drift_columns(
    gate: &Gate,
    loaded: Option<&Loaded>,
    berth: Option<&Berth>,
    table: &Table,
    target: &str,
) -> Result<Vec<(String, Reference, Current)>> {
    let spec = gate.drift.clone().unwrap_or_default();
    let names: Vec<String> = match (&spec.columns, loaded.and_then(|l| l.scorer.signature())) {
        (Some(c), _) => c.clone(),
        (None, Some(sig)) => sig.inputs.iter().map(|f| f.name.clone()).collect(),
        (None, None) => table.names().into_iter().filter(|n| n != target).collect(),
    };
    for n in &names {
        if table.column(n).is_none() {
            return Err(ServiceError::input(
                format!("drift column {n:?} is not in the data; its columns are {:?}", table.names()),
                None,
            ));
        }
    }
    let current = |n: &str| Current::from_column(table.column(n).expect("checked above"));
    if spec.reference != "profile" {
        let reference = read_table(Path::new(&spec.reference), &ReadOptions::default())?;
        return names
            .iter()
            .map(|n| {
                let r = reference.column(n).ok_or_else(|| {
                    ServiceError::input(format!("the drift reference {} has no column {n:?}", spec.reference), None)
                })?;
                Ok((n.clone(), Reference::from_column(r), current(n)))
            })
            .collect();
    }
    let profile: Profile = match loaded {
        Some(Loaded { version: Some(v), .. }) => {
            let b = berth.expect("a version implies a project");
            let bytes = b.version_file(v, "profile.json").await?.ok_or_else(|| {
                ServiceError::input(
                    format!("{}@{} has no profile.json to check drift against", v.model, v.version),
                    Some(
                        "set [drift] reference = \"reference.csv\", or push versions with `berth train --push`".into(),
                    ),
                )
            })?;
            serde_json::from_slice(&bytes)
                .map_err(|e| ServiceError::input(format!("{}@{}: profile.json: {e}", v.model, v.version), None))?
        }
        Some(Loaded { profile_path: Some(p), .. }) => serde_json::from_slice(
            &std::fs::read(p).map_err(|e| ServiceError::input(format!("{}: cannot read: {e}", p.display()), None))?,
        )
        .map_err(|e| ServiceError::input(format!("{}: {e}", p.display()), None))?,
        _ => {
            return Err(ServiceError::input(
                "drift needs a reference: the model has no stored profile",
                Some("set [drift] reference = \"reference.csv\" in the gate file".into()),
            ));
        }
    };
    names
        .iter()
        .map(|n| {
            let p = profile
                .column(n)
                .ok_or_else(|| ServiceError::input(format!("the reference profile has no column {n:?}"), None))?;
            Ok((n.clone(), Reference::from_profile(p), current(n)))
        })
        .collect()
}

/// An ONNX model without `--features` reads every numeric column but the
/// label.
fn default_features(scorer: &mut Scorer, table: &Table, target: &str) {
    if let Scorer::Onnx { features: f @ None, .. } = scorer {
        *f = Some(
            table
                .columns()
                .iter()
                .filter(|c| c.ty().is_numeric() && c.name != target)
                .map(|c| c.name.clone())
                .collect(),
        );
    }
}

/// Runs the gate. `berth` is needed when some input is a ref.
pub async fn validate(berth: Option<&Berth>, req: &ValidateRequest) -> Result<Report> {
    let mut report = Report::new(&req.gate_name, req.model.as_deref().unwrap_or("(predictions file)"));
    report.created_at = now_rfc3339();
    report.data.path = req.data.display().to_string();

    // Model loads (or the endpoint answers).
    let endpoint = match &req.endpoint {
        None => None,
        Some(url) => match Endpoint::connect(url).await {
            Ok(e) => {
                report.check("model_loads", true, None, None, format!("endpoint {} answers", e.shown()));
                report.model = e.shown();
                Some(e)
            }
            Err(e @ ServiceError::Input { .. }) => return Err(e),
            Err(e) => {
                report.check("model_loads", false, None, None, format!("endpoint {url} does not answer: {e}"));
                return Ok(report);
            }
        },
    };
    let mut loaded = match &req.model {
        None => None,
        Some(m) => match load(berth, m, req.features.clone()).await {
            Ok(l) => {
                report.check("model_loads", true, None, None, format!("model {} loads", l.shown));
                report.model = l.shown.clone();
                Some(l)
            }
            Err(e @ ServiceError::Input { .. }) if model_arg(m).is_err() => return Err(e),
            Err(e) => {
                report.check("model_loads", false, None, None, format!("model {m} does not load: {e}"));
                return Ok(report);
            }
        },
    };
    let task = match (&loaded, req.task) {
        _ if endpoint.is_some() => endpoint.as_ref().map(|e| e.task).unwrap_or(Task::Regression),
        (Some(l), _) => l.scorer.task(),
        (None, Some(t)) => t,
        (None, None) => {
            return Err(ServiceError::input(
                "with a predictions file and no model, say the task",
                Some("pass --task classification|regression|anomaly".into()),
            ));
        }
    };
    evaluate::check_metric_names(&req.gate, task).map_err(|m| ServiceError::input(m, None))?;

    // Data loads.
    // The data's digest (for the stored report) is hashed while it is parsed.
    let (table, digest) = std::thread::scope(|s| {
        let digest = s.spawn(|| crate::train::file_digest(&req.data));
        let table = read_table(&req.data, &ReadOptions::default());
        (table, digest.join().expect("hashing the data panicked"))
    });
    let table = match table {
        Ok(t) => t,
        Err(e) => {
            report.check("data_loads", false, None, None, format!("data {} does not load: {e}", req.data.display()));
            return Ok(report);
        }
    };
    if table.rows() == 0 {
        return Err(ServiceError::input(format!("{} has no rows to validate on", req.data.display()), None));
    }
    report.data.rows = table.rows();
    report.data.digest = digest?.to_string();
    report.check("data_loads", true, None, None, format!("data loads: {} rows", table.rows()));

    let target = req
        .target
        .clone()
        .or_else(|| req.gate.target.clone())
        .or_else(|| loaded.as_ref().and_then(|l| l.scorer.signature()).and_then(|s| s.target.clone()))
        .ok_or_else(|| {
            ServiceError::input("which column holds the true labels?", Some("pass --target COLUMN".into()))
        })?;
    let truth = truth(&table, &target, task)?;
    let known_classes = match &endpoint {
        Some(e) => e.classes.as_deref(),
        None => loaded.as_ref().and_then(|l| l.scorer.classes()),
    };
    if let (Truth::Labels(t), Some(classes)) = (&truth, known_classes)
        && task == Task::Classification
    {
        let unseen = evaluate::unseen_labels(t, classes);
        if !unseen.is_empty() {
            return Err(ServiceError::input(
                format!("labels {unseen:?} in {target:?} were never seen in training; the model knows {classes:?}"),
                Some("validate on data labelled like the training data".into()),
            ));
        }
    }

    if let Some(l) = loaded.as_mut() {
        default_features(&mut l.scorer, &table, &target);
    }

    // Drift needs only the data: it runs on other cores while the model predicts.
    let drift = if req.gate.drift.is_some() {
        let columns = drift_columns(&req.gate, loaded.as_ref(), berth, &table, &target).await?;
        let spec = req.gate.drift.clone().unwrap_or_default();
        Some(tokio::task::spawn_blocking(move || berth_gate::drift::drift(columns, &spec)))
    } else {
        None
    };

    // Model predicts (or the predictions file).
    let started = Instant::now();
    let prediction = match (&loaded, &req.predictions) {
        _ if let Some(e) = &endpoint => e.predict(&table).await?,
        (_, Some(path)) => read_predictions(path, table.rows(), task)?,
        (Some(l), None) => match l.scorer.predict(&table) {
            Ok(p) => p,
            Err(e) => {
                report.check("model_predicts", false, None, None, format!("the model does not predict: {e}"));
                return Ok(report);
            }
        },
        (None, None) => unreachable!("a model, an endpoint or a predictions file is required"),
    };
    let batch_seconds = started.elapsed().as_secs_f64();
    if let Some(v) = &prediction.values
        && let Some(i) = v.iter().position(|x| !x.is_finite())
    {
        return Err(ServiceError::input(format!("prediction {i} is {}, not a number", v[i]), None));
    }
    report.check("model_predicts", true, None, None, format!("{} predictions", prediction.len()));

    // Baseline.
    let baseline_ref = req.baseline.clone().or_else(|| req.gate.baseline.as_ref().and_then(|b| b.reference.clone()));
    let baseline = match baseline_ref {
        None => None,
        Some(b) => {
            let mode = req.gate.baseline.as_ref().map(|s| s.mode).unwrap_or_default();
            let mut base = load(berth, &b, req.features.clone()).await?;
            default_features(&mut base.scorer, &table, &target);
            let input = match mode {
                berth_gate::gate::BaselineMode::Stored => {
                    let v = base.version.as_ref().ok_or_else(|| {
                        ServiceError::input(
                            format!("baseline {b} is a file: it has no stored metrics"),
                            Some("use mode = \"rescore\", or a ref".into()),
                        )
                    })?;
                    BaselineInput::Stored(v.metrics.clone())
                }
                berth_gate::gate::BaselineMode::Rescore => BaselineInput::Rescored(base.scorer.predict(&table)?),
            };
            Some((base.shown, input))
        }
    };

    let drift = match drift {
        Some(task) => Some(
            task.await
                .map_err(|e| ServiceError::Infra { message: format!("the drift check failed: {e}"), hint: None })?,
        ),
        None => None,
    };
    let latency = match (&req.gate.latency, &loaded) {
        (Some(spec), _) if let Some(e) = &endpoint => Some(LatencySample {
            single_ms: e.latency(&table, spec.runs, spec.warmup).await?,
            batch_rows: table.rows(),
            batch_seconds,
        }),
        (Some(spec), Some(l)) => Some(LatencySample {
            single_ms: measure_latency(&l.scorer, &table, spec.runs, spec.warmup)?,
            batch_rows: table.rows(),
            batch_seconds,
        }),
        _ => None,
    };
    let empty_signature;
    let data = match loaded.as_ref().and_then(|l| l.scorer.signature()) {
        Some(s) => Some((&table, s)),
        None if req.gate.data.is_some() => {
            empty_signature = berth_ml::Signature { task, inputs: vec![], target: None, classes: None };
            Some((&table, &empty_signature))
        }
        None => None,
    };
    evaluate::evaluate(
        &req.gate,
        Inputs { task, truth, prediction: &prediction, baseline, drift, latency, data, target: target.clone() },
        &mut report,
    );

    if req.store
        && let (Some(b), Some(Loaded { version: Some(v), .. })) = (berth, &loaded)
    {
        b.store_gate_report(v, &req.gate_name, &report).await?;
    }
    Ok(report)
}
