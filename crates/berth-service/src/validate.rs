//! `validate`: runs a gate on one subject — a model (a file or a ref), a
//! running server, or a file of predictions — in three steps: load the
//! subject, score it (the data and the truth loaded, drift computed beside
//! the scoring, the baseline rescored, single rows timed), and let
//! `berth-gate` evaluate. A version validated by ref gets the report stored
//! on it.
//!
//! "Model loads", "data loads" and "model predicts" are checks: when one
//! fails the report says so and the later checks do not run. Questions that
//! were asked wrong (a missing label column, a predictions file of the wrong
//! length, a metric the model cannot have) are errors (exit 2), not verdicts.

use std::path::{Path, PathBuf};
use std::time::Instant;

use berth_core::{Exit, ModelArg, VersionRecord};
use berth_data::{Profile, ReadOptions, Table, read_table};
use berth_gate::drift::{Current, DriftReport, Reference};
use berth_gate::evaluate::{self, BaselineInput, Inputs, LatencySample, Truth};
use berth_gate::gate::{BaselineMode, DriftReference};
use berth_gate::report::Check;
use berth_gate::{Gate, Report};
use berth_ml::{Prediction, Signature, Task};

use crate::endpoint::{Endpoint, EndpointUrl};
use crate::predict::Scorer;
use crate::{Operations, Result, ServiceError};

/// What is validated, decided once where the arguments enter.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A model file or a registry ref.
    Model(ModelArg),
    /// A running berth server (a staging server, say), scored over HTTP.
    Endpoint(EndpointUrl),
    /// Predictions made elsewhere, as `berth predict` writes them: a
    /// `prediction` column and, for a classifier, `proba_<class>` columns,
    /// one row per data row. Nothing in the file says its task, so the
    /// caller does.
    Predictions { path: PathBuf, task: Task },
}

/// A model argument as a person wrote it: the path, or the ref.
fn shown_arg(m: &ModelArg) -> String {
    match m {
        ModelArg::File(p) => p.display().to_string(),
        ModelArg::Ref(r) => r.to_string(),
    }
}

impl std::fmt::Display for Subject {
    /// How the report names the subject before it loads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Model(m) => f.write_str(&shown_arg(m)),
            Subject::Endpoint(url) => write!(f, "{url}"),
            Subject::Predictions { .. } => f.write_str(PREDICTIONS_FILE),
        }
    }
}

/// How reports name a predictions file's model, which they cannot know.
const PREDICTIONS_FILE: &str = "(predictions file)";

/// What to validate and how.
#[derive(Debug, Clone)]
pub struct ValidateRequest {
    pub subject: Subject,
    pub data: PathBuf,
    pub gate: Gate,
    pub gate_name: String,
    /// The model compared with: the gate's `[baseline] ref`.
    pub baseline: Option<ModelArg>,
    /// The label column; default the gate's `target`, else the model's.
    pub target: Option<String>,
    /// ONNX input columns.
    pub features: Option<Vec<String>>,
    /// When the subject is a ref, store the report on the version.
    pub store: bool,
}

impl ValidateRequest {
    /// Validates `subject` on `data` under `gate`, against the gate's
    /// baseline (its `[baseline] ref`, decided here as a file or a ref), and
    /// stores the report on the version.
    pub fn new(subject: Subject, data: PathBuf, gate: Gate, gate_name: String) -> Result<ValidateRequest> {
        let baseline = gate.baseline.as_ref().and_then(|b| b.reference.as_deref()).map(model_arg).transpose()?;
        Ok(ValidateRequest { subject, data, gate, gate_name, baseline, target: None, features: None, store: true })
    }
}

/// A model or baseline argument: a file or a ref, or why it is neither.
pub fn model_arg(s: &str) -> Result<ModelArg> {
    ModelArg::parse(s, Path::is_file).map_err(|e| ServiceError::input(e.to_string(), Some(e.hint())))
}

/// True when validating needs a project (the subject or the baseline is a ref).
pub fn needs_project(req: &ValidateRequest) -> bool {
    let is_ref = |m: &ModelArg| matches!(m, ModelArg::Ref(_));
    matches!(&req.subject, Subject::Model(m) if is_ref(m)) || req.baseline.as_ref().is_some_and(is_ref)
}

/// How far a step got: done, or a failed check that ends the report (the
/// model does not predict). Errors (`Err`) are not verdicts: they are
/// questions asked wrong, or infrastructure that failed.
enum Step<T> {
    Done(T),
    Failed(String),
}

/// A subject ready to score: what validating needs of a model, a server or
/// a predictions file, so the steps after loading are written once.
trait Score {
    /// How the report names it once loaded (`churn@3`, `churn@3 at http://…`).
    fn shown(&self) -> String;

    fn task(&self) -> Task;

    /// The classes the model was trained on, when it says: truth labels
    /// outside them are refused.
    fn classes(&self) -> Option<&[String]> {
        None
    }

    /// The model's signature, when it carries one berth trusts: the default
    /// target, the drift columns and the data checks come from it.
    fn signature(&self) -> Option<&Signature> {
        None
    }

    /// The version behind a ref: its stored profile is the drift reference,
    /// and the report is stored on it.
    fn version(&self) -> Option<&VersionRecord> {
        None
    }

    /// A `profile.json` beside a model file: the drift reference when
    /// there is no version.
    fn profile_file(&self) -> Option<&Path> {
        None
    }

    /// Adapts to the data before scoring.
    fn fit_to(&mut self, _table: &Table, _target: &str) {}

    /// Every row's prediction.
    async fn predict(&self, table: &Table) -> Result<Step<Prediction>>;

    /// Single-row latencies in milliseconds, after `warmup` untimed calls;
    /// `None` when nothing runs here to time.
    async fn latency(&self, table: &Table, runs: usize, warmup: usize) -> Result<Option<Vec<f64>>>;
}

/// A model file or a version, opened.
struct LoadedModel {
    scorer: Scorer,
    shown: String,
    version: Option<VersionRecord>,
    profile_path: Option<PathBuf>,
}

impl LoadedModel {
    async fn load(
        berth: Option<&dyn Operations>,
        model: &ModelArg,
        features: Option<Vec<String>>,
    ) -> Result<LoadedModel> {
        match model {
            ModelArg::File(path) => Ok(LoadedModel {
                scorer: Scorer::open_file(path, features)?,
                shown: path.display().to_string(),
                version: None,
                profile_path: path.parent().map(|d| d.join("profile.json")).filter(|p| p.is_file()),
            }),
            ModelArg::Ref(r) => {
                let b = berth.ok_or_else(|| {
                    ServiceError::input(
                        format!("{r} is a ref, and a ref needs a berth project"),
                        Some("run inside a project (berth init), or pass a model file".into()),
                    )
                })?;
                let (scorer, v) = b.open_scorer(r, features).await?;
                Ok(LoadedModel {
                    scorer,
                    shown: format!("{}@{}", v.model, v.version),
                    version: Some(v),
                    profile_path: None,
                })
            }
        }
    }
}

impl Score for LoadedModel {
    fn shown(&self) -> String {
        self.shown.clone()
    }

    fn task(&self) -> Task {
        self.scorer.task()
    }

    fn classes(&self) -> Option<&[String]> {
        self.scorer.classes()
    }

    fn signature(&self) -> Option<&Signature> {
        self.scorer.signature()
    }

    fn version(&self) -> Option<&VersionRecord> {
        self.version.as_ref()
    }

    fn profile_file(&self) -> Option<&Path> {
        self.profile_path.as_deref()
    }

    /// An ONNX model of one input matrix without `--features` reads every
    /// numeric column but the label (one with an input per column reads
    /// those columns by name).
    fn fit_to(&mut self, table: &Table, target: &str) {
        if let Scorer::Onnx { model, features: f @ None } = &mut self.scorer
            && !model.reads_columns()
        {
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

    /// A model that does not predict the data is a failed check.
    async fn predict(&self, table: &Table) -> Result<Step<Prediction>> {
        Ok(match self.scorer.predict(table) {
            Ok(p) => Step::Done(p),
            Err(e) => Step::Failed(format!("the model does not predict: {e}")),
        })
    }

    async fn latency(&self, table: &Table, runs: usize, warmup: usize) -> Result<Option<Vec<f64>>> {
        measure_latency(&self.scorer, table, runs, warmup).map(Some)
    }
}

/// A running server: it predicts and is timed over the network.
impl Score for Endpoint {
    fn shown(&self) -> String {
        Endpoint::shown(self)
    }

    fn task(&self) -> Task {
        self.task
    }

    fn classes(&self) -> Option<&[String]> {
        self.classes.as_deref()
    }

    async fn predict(&self, table: &Table) -> Result<Step<Prediction>> {
        Endpoint::predict(self, table).await.map(Step::Done)
    }

    async fn latency(&self, table: &Table, runs: usize, warmup: usize) -> Result<Option<Vec<f64>>> {
        Endpoint::latency(self, table, runs, warmup).await.map(Some)
    }
}

/// Predictions made elsewhere: read, never timed.
struct PredictionsFile<'a> {
    path: &'a Path,
    task: Task,
}

impl Score for PredictionsFile<'_> {
    fn shown(&self) -> String {
        PREDICTIONS_FILE.to_string()
    }

    fn task(&self) -> Task {
        self.task
    }

    async fn predict(&self, table: &Table) -> Result<Step<Prediction>> {
        read_predictions(self.path, table.rows(), self.task).map(Step::Done)
    }

    async fn latency(&self, _table: &Table, _runs: usize, _warmup: usize) -> Result<Option<Vec<f64>>> {
        Ok(None)
    }
}

/// When a report was made, to the second: on the service's clock when there
/// is a project, else on the system's (a model file validated on its own).
fn created_at(berth: Option<&dyn Operations>) -> String {
    use berth_core::Clock;
    let now = berth.map(|b| b.now()).unwrap_or_else(|| berth_core::SystemClock.now());
    let since_epoch = std::time::Duration::from_millis(now.millis().max(0) as u64);
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + since_epoch).to_string()
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
        Task::Anomaly => {
            Truth::Anomalies((0..c.len()).map(|i| matches!(c.display(i).as_str(), "1" | "true")).collect())
        }
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

/// The drift columns: the gate's, else the model's inputs, else every
/// column but the label; each with its reference (the stored profile, or a
/// reference data file) and its current values.
async fn drift_columns(
    spec: &berth_gate::gate::DriftSpec,
    subject: &impl Score,
    berth: Option<&dyn Operations>,
    table: &Table,
    target: &str,
) -> Result<Vec<(String, Reference, Current)>> {
    let names: Vec<String> = match (&spec.columns, subject.signature()) {
        (Some(c), _) => c.clone(),
        (None, Some(sig)) => sig.inputs.iter().map(|f| f.name.clone()).collect(),
        (None, None) => table.names().into_iter().filter(|n| n != target).collect(),
    };
    let current = names
        .iter()
        .map(|n| match table.column(n) {
            Some(c) => Ok((n.clone(), Current::from_column(c))),
            None => Err(ServiceError::input(
                format!("drift column {n:?} is not in the data; its columns are {:?}", table.names()),
                Some("name columns of the data in [drift] columns".into()),
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    if let DriftReference::File(path) = &spec.reference {
        let reference = read_table(path, &ReadOptions::default())?;
        return current
            .into_iter()
            .map(|(n, c)| {
                let r = reference.column(&n).ok_or_else(|| {
                    ServiceError::input(
                        format!("the drift reference {} has no column {n:?}", path.display()),
                        Some("use a reference file with the data's columns, or list [drift] columns".into()),
                    )
                })?;
                Ok((n, Reference::from_column(r), c))
            })
            .collect();
    }
    let profile: Profile = match (subject.version(), berth, subject.profile_file()) {
        (Some(v), Some(b), _) => {
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
        (None, _, Some(p)) => serde_json::from_slice(
            &std::fs::read(p).map_err(|e| ServiceError::input(format!("{}: cannot read: {e}", p.display()), None))?,
        )
        .map_err(|e| ServiceError::input(format!("{}: {e}", p.display()), None))?,
        _ => {
            return Err(ServiceError::input(
                format!("drift needs a reference: {} has no stored profile", subject.shown()),
                Some("set [drift] reference = \"reference.csv\" in the gate file".into()),
            ));
        }
    };
    current
        .into_iter()
        .map(|(n, c)| {
            let p = profile
                .column(&n)
                .ok_or_else(|| ServiceError::input(format!("the reference profile has no column {n:?}"), None))?;
            Ok((n, Reference::from_profile(p), c))
        })
        .collect()
}

/// Runs the gate. `berth` is needed when the subject or the baseline is a
/// ref ([`needs_project`]).
pub async fn validate(berth: Option<&dyn Operations>, req: &ValidateRequest) -> Result<Report> {
    let mut report = Report::new(&req.gate_name, &req.subject.to_string());
    report.created_at = created_at(berth);
    report.data.path = req.data.display().to_string();
    // Model loads (or the endpoint answers).
    match &req.subject {
        Subject::Model(model) => match LoadedModel::load(berth, model, req.features.clone()).await {
            Ok(m) => {
                report.check(Check::passed("model_loads", format!("model {} loads", m.shown)));
                score_and_evaluate(m, berth, req, report).await
            }
            Err(e) => {
                report.check(Check::failed("model_loads", format!("model {} does not load: {e}", req.subject)));
                Ok(report)
            }
        },
        Subject::Endpoint(url) => match Endpoint::connect_to(url).await {
            Ok(e) => {
                report.check(Check::passed("model_loads", format!("endpoint {} answers", e.shown())));
                score_and_evaluate(e, berth, req, report).await
            }
            Err(e @ ServiceError::Input { .. }) => Err(e),
            Err(e) => {
                report.check(Check::failed("model_loads", format!("endpoint {url} does not answer: {e}")));
                Ok(report)
            }
        },
        Subject::Predictions { path, task } => {
            score_and_evaluate(PredictionsFile { path, task: *task }, berth, req, report).await
        }
    }
}

/// Everything after the subject loaded: the data and the truth, drift
/// beside the scoring, the baseline, latency, the verdict, the stored report.
async fn score_and_evaluate(
    mut subject: impl Score,
    berth: Option<&dyn Operations>,
    req: &ValidateRequest,
    mut report: Report,
) -> Result<Report> {
    report.model = subject.shown();
    let task = subject.task();
    req.gate.check_task(task).map_err(|e| ServiceError::input(e.to_string(), e.hint()))?;

    // Data loads.
    let Some(table) = load_data(&req.data, &mut report)? else {
        return Ok(report);
    };
    let target = req
        .target
        .clone()
        .or_else(|| req.gate.target.clone())
        .or_else(|| subject.signature().and_then(|s| s.target.clone()))
        .ok_or_else(|| {
            ServiceError::input("which column holds the true labels?", Some("pass --target COLUMN".into()))
        })?;
    let truth = truth(&table, &target, task)?;
    if let (Truth::Labels(t), Some(classes)) = (&truth, subject.classes()) {
        let unseen = evaluate::unseen_labels(t, classes);
        if !unseen.is_empty() {
            return Err(ServiceError::input(
                format!("labels {unseen:?} in {target:?} were never seen in training; the model knows {classes:?}"),
                Some("validate on data labelled like the training data".into()),
            ));
        }
    }
    subject.fit_to(&table, &target);

    // Drift needs only the data: it runs on other cores while the model predicts.
    let drift = match &req.gate.drift {
        Some(spec) => {
            let columns = drift_columns(spec, &subject, berth, &table, &target).await?;
            let spec = spec.clone();
            Some(tokio::task::spawn_blocking(move || berth_gate::drift::drift(columns, &spec)))
        }
        None => None,
    };

    // Model predicts.
    let started = Instant::now();
    let prediction = match subject.predict(&table).await? {
        Step::Done(p) => p,
        Step::Failed(why) => {
            report.check(Check::failed("model_predicts", why));
            return Ok(report);
        }
    };
    let batch_seconds = started.elapsed().as_secs_f64();
    if let Some(v) = &prediction.values
        && let Some(i) = v.iter().position(|x| !x.is_finite())
    {
        return Err(ServiceError::input(format!("prediction {i} is {}, not a number", v[i]), None));
    }
    report.check(Check::passed("model_predicts", format!("{} predictions", prediction.len())));

    let baseline = baseline(berth, req, &table, &target).await?;
    let drift: Option<DriftReport> = match drift {
        Some(running) => Some(
            running
                .await
                .map_err(|e| ServiceError::Infra { message: format!("the drift check failed: {e}"), hint: None })?,
        ),
        None => None,
    };
    let latency = match &req.gate.latency {
        Some(spec) => subject.latency(&table, spec.runs, spec.warmup).await?.map(|single_ms| LatencySample {
            single_ms,
            batch_rows: table.rows(),
            batch_seconds,
        }),
        None => None,
    };
    // The data checks need the model's inputs; without a signature only the
    // checks on the data itself run.
    let no_inputs = Signature { task, inputs: vec![], target: None, classes: None };
    let data = match subject.signature() {
        Some(s) => Some((&table, s)),
        None => req.gate.data.as_ref().map(|_| (&table, &no_inputs)),
    };
    evaluate::evaluate(
        &req.gate,
        Inputs { truth, prediction: &prediction, baseline, drift, latency, data, target: target.clone() },
        &mut report,
    );

    if req.store
        && let (Some(b), Some(v)) = (berth, subject.version())
    {
        b.store_gate_report(v, &req.gate_name, &report).await?;
    }
    Ok(report)
}

/// The evaluation data, its digest hashed while it is parsed; `None` (and a
/// failed check) when it does not load.
fn load_data(path: &Path, report: &mut Report) -> Result<Option<Table>> {
    let (table, digest) = std::thread::scope(|s| {
        let digest = s.spawn(|| crate::train::file_digest(path));
        let table = read_table(path, &ReadOptions::default());
        (table, digest.join().expect("hashing the data panicked"))
    });
    let table = match table {
        Ok(t) => t,
        Err(e) => {
            report.check(Check::failed("data_loads", format!("data {} does not load: {e}", path.display())));
            return Ok(None);
        }
    };
    if table.rows() == 0 {
        return Err(ServiceError::input(
            format!("{} has no rows to validate on", path.display()),
            Some("validate on data with at least one row".into()),
        ));
    }
    report.data.rows = table.rows();
    report.data.digest = digest?.to_string();
    report.check(Check::passed("data_loads", format!("data loads: {} rows", table.rows())));
    Ok(Some(table))
}

/// The baseline's predictions on the same rows, or its stored metrics.
async fn baseline(
    berth: Option<&dyn Operations>,
    req: &ValidateRequest,
    table: &Table,
    target: &str,
) -> Result<Option<(String, BaselineInput)>> {
    let Some(arg) = &req.baseline else {
        return Ok(None);
    };
    let mut base = LoadedModel::load(berth, arg, req.features.clone()).await?;
    base.fit_to(table, target);
    let input = match req.gate.baseline.as_ref().map(|s| s.mode).unwrap_or_default() {
        BaselineMode::Stored => {
            let v = base.version.as_ref().ok_or_else(|| {
                ServiceError::input(
                    format!("baseline {} is a file: it has no stored metrics", shown_arg(arg)),
                    Some("use mode = \"rescore\", or a ref".into()),
                )
            })?;
            BaselineInput::Stored(v.meta.metrics.clone())
        }
        BaselineMode::Rescore => BaselineInput::Rescored(base.scorer.predict(table)?),
    };
    Ok(Some((base.shown, input)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(text: &str) -> Gate {
        Gate::parse(text, "g.toml").unwrap()
    }

    #[test]
    fn a_project_is_needed_only_for_refs_and_the_gate_baseline_is_decided_once() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model.berth");
        std::fs::write(&model, b"{}").unwrap();
        let file = Subject::Model(ModelArg::File(model.clone()));
        let by_ref = Subject::Model(model_arg("churn@3").unwrap());
        let data = PathBuf::from("data.csv");
        let req = |s: &Subject, g: &str| ValidateRequest::new(s.clone(), data.clone(), gate(g), "g".into());
        assert!(!needs_project(&req(&file, "").unwrap()));
        assert!(needs_project(&req(&by_ref, "").unwrap()));
        let with_baseline = req(&file, "[baseline]\nref = \"churn@production\"\n").unwrap();
        assert!(matches!(&with_baseline.baseline, Some(ModelArg::Ref(r)) if r.to_string() == "churn@production"));
        assert!(needs_project(&with_baseline));
        let predictions = Subject::Predictions { path: "p.csv".into(), task: Task::Regression };
        assert!(!needs_project(&req(&predictions, "").unwrap()));
        assert_eq!(predictions.to_string(), PREDICTIONS_FILE);
        assert_eq!(by_ref.to_string(), "churn@3");
        let e = req(&file, "[baseline]\nref = \"Bad@1\"\n").unwrap_err();
        assert!(e.to_string().contains("\"Bad@1\" is neither a model file nor a ref"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_predictions_file_is_loaded_scored_and_evaluated_without_a_project() {
        let dir = tempfile::tempdir().unwrap();
        let (mut data, mut preds) = (String::from("y\n"), String::from("prediction\n"));
        for i in 1..=40 {
            data.push_str(&format!("{}\n", f64::from(i)));
            preds.push_str(&format!("{}\n", f64::from(i) * 1.3));
        }
        std::fs::write(dir.path().join("truth.csv"), data).unwrap();
        std::fs::write(dir.path().join("preds.csv"), preds).unwrap();
        let subject = Subject::Predictions { path: dir.path().join("preds.csv"), task: Task::Regression };
        let gate = gate("[metrics]\nmape = { max = 10 }\n[latency]\nmax_p99_ms = 1\n");
        let mut req = ValidateRequest::new(subject, dir.path().join("truth.csv"), gate, "g".into()).unwrap();
        req.target = Some("y".into());
        let report = validate(None, &req).await.unwrap();
        assert_eq!(report.model, PREDICTIONS_FILE);
        assert_eq!(report.data.rows, 40);
        assert!(report.checks["data_loads"] && report.checks["model_predicts"], "{}", report.to_text());
        assert!(!report.checks["metric.mape"]);
        // Nothing runs here to time, so the latency bound has nothing to check.
        assert!(report.latency.is_none() && !report.checks.contains_key("latency.p99"));
        // A gate for another task is refused once the task is known.
        let mut wrong = req.clone();
        wrong.gate = Gate::parse("[metrics]\naccuracy = { min = 0.5 }\n", "g.toml").unwrap();
        let e = validate(None, &wrong).await.unwrap_err();
        assert!(e.to_string().contains("does not apply to a regression model"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_model_file_that_does_not_load_is_a_failed_check() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("broken.berth");
        std::fs::write(&model, b"{\"format\": \"berth-model\"").unwrap();
        let req = ValidateRequest::new(
            Subject::Model(ModelArg::File(model.clone())),
            dir.path().join("data.csv"),
            Gate::default(),
            "g".into(),
        )
        .unwrap();
        let report = validate(None, &req).await.unwrap();
        assert!(!report.passed && !report.checks["model_loads"], "{}", report.to_text());
        assert_eq!(report.model, model.display().to_string());
        assert_eq!(report.results.len(), 1, "nothing after a model that does not load runs");
    }
}
