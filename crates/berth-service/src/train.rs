//! `train`: fit a built-in model on a data file and write everything a
//! version needs into a directory — the model, its validation metrics, a
//! training summary, the input signature and the training data's reference
//! profile — optionally pushing it all as a new version with lineage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use berth_core::{Digest, Lineage, ModelName, Sha256Hasher, VersionMeta};
use berth_data::{Profile, ReadOptions, read_table};
use berth_ml::{Predictor, Task, TrainConfig, TrainConfigDraft};
use serde::Serialize;

use crate::{Result, ServiceError};

pub const MODEL_FILE: &str = "model.berth";

/// Every file a training run writes, and so every file its version holds.
pub const TRAINING_OUTPUTS: [&str; 5] =
    [MODEL_FILE, "metrics.json", "signature.json", "profile.json", "training_summary.json"];

#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub config: TrainConfig,
    pub data: PathBuf,
    pub out_dir: PathBuf,
    /// Train into a directory that holds files training did not write (they
    /// are left alone and never pushed).
    pub force: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub out_dir: PathBuf,
    pub model_file: PathBuf,
    pub model_digest: Digest,
    pub data: PathBuf,
    pub data_digest: Digest,
    pub rows: usize,
    pub train_rows: usize,
    pub validation_rows: usize,
    /// Which rows the metrics were computed on: "validation", or "training"
    /// when `validation_split` is 0.
    pub metrics_on: &'static str,
    pub metrics: BTreeMap<String, f64>,
    pub iterations: usize,
    pub seconds: f64,
    /// The files this run wrote: what a push of it holds, nothing else.
    pub files: Vec<PathBuf>,
    #[serde(skip)]
    pub config: TrainConfig,
}

/// Refuses an output directory holding files a training run does not write,
/// so that no stale or stray file can be mistaken for part of the new model.
fn check_out_dir(dir: &Path, force: bool) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(ServiceError::input(
                format!("-o {}: is a file, not a directory", dir.display()),
                Some("pass a directory for the training outputs, e.g. -o model".into()),
            ));
        }
        Err(e) => return Err(ServiceError::input(format!("-o {}: cannot read: {e}", dir.display()), None)),
    };
    let mut foreign: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !TRAINING_OUTPUTS.contains(&n.as_str()))
        .collect();
    if foreign.is_empty() || force {
        return Ok(());
    }
    foreign.sort();
    let shown = foreign.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    let more = if foreign.len() > 5 { format!(" and {} more", foreign.len() - 5) } else { String::new() };
    Err(ServiceError::input(
        format!("-o {} already holds files berth train does not write: {shown}{more}", dir.display()),
        Some(
            "train into a fresh directory, or pass --force to train there anyway (those files are left alone and \
             never pushed)"
                .into(),
        ),
    ))
}

/// The sha256 of a file, read in 1 MiB blocks.
pub fn file_digest(path: &Path) -> Result<Digest> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)
        .map_err(|e| ServiceError::input(format!("{}: cannot read: {e}", path.display()), None))?;
    let mut h = Sha256Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n =
            f.read(&mut buf).map_err(|e| ServiceError::input(format!("{}: cannot read: {e}", path.display()), None))?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

fn write_json<T: Serialize>(dir: &Path, name: &str, v: &T) -> Result<()> {
    let p = dir.join(name);
    let mut bytes = serde_json::to_vec_pretty(v).expect("reports serialise");
    bytes.push(b'\n');
    std::fs::write(&p, bytes)
        .map_err(|e| ServiceError::Infra { message: format!("{}: cannot write: {e}", p.display()), hint: None })
}

fn metric_error(e: berth_gate::metrics::MetricError) -> ServiceError {
    ServiceError::Infra { message: format!("cannot compute metrics: {e}"), hint: None }
}

/// [`train`] on the blocking pool, for async callers: training takes whole
/// cores for seconds and must not stall the runtime.
pub async fn train_off_runtime(req: TrainRequest) -> Result<TrainReport> {
    tokio::task::spawn_blocking(move || train(&req))
        .await
        .map_err(|e| ServiceError::Infra { message: format!("training stopped: {e}"), hint: None })?
}

/// Trains and writes the outputs; pure local work (no store, no registry).
pub fn train(req: &TrainRequest) -> Result<TrainReport> {
    let started = Instant::now();
    check_out_dir(&req.out_dir, req.force)?;
    let table = read_table(&req.data, &ReadOptions::default())?;
    let data_digest = file_digest(&req.data)?;
    let trained = berth_ml::train(&table, &req.config).map_err(ml_error)?;
    let (eval_rows, metrics_on) = if trained.validation_rows.is_empty() {
        (&trained.train_rows, "training")
    } else {
        (&trained.validation_rows, "validation")
    };
    let eval = table.take(eval_rows);
    let pred = trained.model.predict(&eval).map_err(ml_error)?;
    let target = req.config.target.as_deref().filter(|t| !t.is_empty()).and_then(|t| eval.column(t));
    let metrics = match (req.config.task(), target) {
        (Task::Regression, Some(target)) => {
            let y: Vec<f64> = (0..eval.rows()).map(|i| target.as_f64(i).unwrap_or(f64::NAN)).collect();
            berth_gate::metrics::regression(&y, pred.values.as_deref().unwrap_or_default())
                .map_err(metric_error)?
                .to_map()
        }
        (Task::Classification, Some(target)) => {
            let y: Vec<String> = (0..eval.rows())
                .map(|i| match target.as_f64(i) {
                    Some(x) if x.fract() == 0.0 && target.ty() == berth_data::ColumnType::Float => {
                        format!("{}", x as i64)
                    }
                    _ => target.display(i),
                })
                .collect();
            let labels = pred.labels.clone().unwrap_or_default();
            let proba = pred.probabilities.as_deref().zip(pred.classes.as_deref());
            berth_gate::metrics::classification(&y, &labels, proba).map_err(metric_error)?.to_map()
        }
        (Task::Anomaly, target) => {
            let flagged: Vec<bool> = pred.labels.as_deref().unwrap_or_default().iter().map(|l| l == "1").collect();
            match target {
                Some(t) => {
                    let known: Vec<bool> = (0..eval.rows()).map(|i| t.as_f64(i).is_some_and(|v| v != 0.0)).collect();
                    berth_gate::metrics::anomaly(&known, &flagged).map_err(metric_error)?.to_map()
                }
                None => BTreeMap::from([(
                    "flagged".to_string(),
                    flagged.iter().filter(|f| **f).count() as f64 / flagged.len().max(1) as f64,
                )]),
            }
        }
        (task, None) => return Err(ServiceError::input(format!("a {task} model needs a target column"), None)),
    };
    std::fs::create_dir_all(&req.out_dir).map_err(|e| ServiceError::Infra {
        message: format!("{}: cannot create: {e}", req.out_dir.display()),
        hint: None,
    })?;
    let model_file = req.out_dir.join(MODEL_FILE);
    let bytes = trained.model.to_bytes();
    let model_digest = Digest::of(&bytes);
    std::fs::write(&model_file, &bytes).map_err(|e| ServiceError::Infra {
        message: format!("{}: cannot write: {e}", model_file.display()),
        hint: None,
    })?;
    let mut columns = match &trained.model.estimator {
        berth_ml::Estimator::NaiveBayes(nb) => vec![nb.column.clone()],
        _ => trained.model.encoder.names(),
    };
    columns.extend(req.config.target.clone().filter(|t| !t.is_empty()));
    let profile = Profile::of(&table.take(&trained.train_rows).select(&columns)?);
    let seconds = started.elapsed().as_secs_f64();
    write_json(&req.out_dir, "metrics.json", &metrics)?;
    write_json(&req.out_dir, "signature.json", &trained.model.signature)?;
    // Compact: the profile carries up to 10,000 sample values per column.
    std::fs::write(req.out_dir.join("profile.json"), serde_json::to_vec(&profile).expect("profiles serialise"))
        .map_err(|e| ServiceError::Infra {
            message: format!("{}: cannot write the profile: {e}", req.out_dir.display()),
            hint: None,
        })?;
    write_json(
        &req.out_dir,
        "training_summary.json",
        &serde_json::json!({
            "data": {"path": req.data, "digest": data_digest, "rows": table.rows()},
            "model": {"file": MODEL_FILE, "digest": model_digest},
            "config": req.config,
            "hyperparameters": trained.model.hyperparameters,
            "features": trained.model.encoder.names(),
            "train_rows": trained.train_rows.len(),
            "validation_rows": trained.validation_rows.len(),
            "metrics_on": metrics_on,
            "iterations": trained.iterations,
            "duration_seconds": seconds,
        }),
    )?;
    Ok(TrainReport {
        out_dir: req.out_dir.clone(),
        model_file,
        model_digest,
        data: req.data.clone(),
        data_digest,
        rows: table.rows(),
        train_rows: trained.train_rows.len(),
        validation_rows: trained.validation_rows.len(),
        metrics_on,
        metrics,
        iterations: trained.iterations,
        seconds,
        files: TRAINING_OUTPUTS.iter().map(|f| req.out_dir.join(f)).collect(),
        config: req.config.clone(),
    })
}

pub(crate) fn ml_error(e: berth_ml::MlError) -> ServiceError {
    use berth_core::Exit;
    match e {
        berth_ml::MlError::Data(d) => ServiceError::Data(d),
        other => ServiceError::Input { hint: other.hint(), message: other.to_string() },
    }
}

/// What a push of a training run's directory records: its metrics, its
/// hyperparameters as params, its signature, and the data's digest in the lineage.
pub(crate) fn push_request_for(
    report: &TrainReport,
    model: ModelName,
    mut lineage: Lineage,
) -> Result<crate::PushRequest> {
    lineage.data.insert("training_data".into(), report.data_digest);
    lineage.extra.insert("training_config".into(), serde_json::to_string(&report.config).unwrap_or_default());
    let signature: serde_json::Value = serde_json::from_slice(
        &std::fs::read(report.out_dir.join("signature.json"))
            .map_err(|e| ServiceError::Infra { message: format!("cannot read the signature: {e}"), hint: None })?,
    )
    .map_err(|e| ServiceError::Infra { message: format!("cannot read the signature: {e}"), hint: None })?;
    let mut params: BTreeMap<String, String> = BTreeMap::from([
        ("algorithm".to_string(), report.config.algorithm.name().to_string()),
        ("seed".into(), report.config.seed.to_string()),
        ("validation_split".into(), report.config.validation_split.to_string()),
    ]);
    let trained = berth_ml::Model::load(&report.model_file).map_err(ml_error)?;
    for (k, v) in &trained.hyperparameters {
        params.insert(k.clone(), v.to_string());
    }
    let meta = VersionMeta {
        format: Some("berth".into()),
        signature: Some(signature),
        params,
        metrics: report.metrics.clone(),
        tags: BTreeMap::new(),
        description: Some(format!("{} trained on {}", report.config.algorithm, report.data.display())),
        lineage,
    };
    Ok(crate::PushRequest { paths: report.files.clone(), model: Some(model), meta })
}

/// Reads a training config (TOML, the usual training-job shape) as written:
/// the caller lays its flags over it and checks the whole once, with
/// `TrainConfig::try_from`.
pub fn load_train_config(path: &Path) -> Result<TrainConfigDraft> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServiceError::input(format!("{}: cannot read the training config: {e}", path.display()), None))?;
    toml::from_str(&text).map_err(|e| {
        ServiceError::input(
            format!("{}: {}", path.display(), e.message()),
            Some(
                "keys: model_type, algorithm, target, features, validation_split, seed, data, time_column, [hyperparameters]".into(),
            ),
        )
    })
}
