//! `predict`: batch scoring of a data file with a model file or a registry
//! ref, writing one row of predictions per input row (CSV or Parquet).

use std::path::{Path, PathBuf};

use berth_core::{Digest, Manifest, ManifestEntry, Ref, RelPath, VersionRecord};
use berth_data::{Column, ReadOptions, Table, read_table, write_table};
use berth_ml::{Model, Predictor};

use serde::Serialize;

use crate::train::ml_error;
use crate::{Berth, NoTransfer, Result, ServiceError};

#[derive(Debug, Clone, Serialize)]
pub struct PredictReport {
    pub model: String,
    pub rows: usize,
    pub output: PathBuf,
    pub columns: Vec<String>,
}

/// A model ready to score tables: one trained by berth, or an ONNX export
/// whose single input matrix is filled from `features` (default: every
/// numeric column of the data, in order) — or, for an export with one input
/// per column, each input from the column of its name.
pub enum Scorer {
    Native(Box<Model>),
    Onnx { model: berth_ml::OnnxModel, features: Option<Vec<String>> },
}

impl Scorer {
    /// Opens a model file: `.onnx` as ONNX, anything else as a berth model.
    pub fn open_file(path: &Path, features: Option<Vec<String>>) -> Result<Scorer> {
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx")) {
            let bytes = std::fs::read(path)
                .map_err(|e| ServiceError::input(format!("{}: cannot read: {e}", path.display()), None))?;
            Ok(Scorer::Onnx { model: berth_ml::OnnxModel::from_bytes(&bytes).map_err(ml_error)?, features })
        } else {
            Ok(Scorer::Native(Box::new(Model::load(path).map_err(ml_error)?)))
        }
    }

    pub fn from_model_file(file: &ModelFile, features: Option<Vec<String>>) -> Result<Scorer> {
        match file {
            ModelFile::Berth(p) | ModelFile::Onnx(p) => Scorer::open_file(p, features),
        }
    }

    /// A berth model's signature; ONNX exports carry none berth can trust.
    pub fn signature(&self) -> Option<&berth_ml::Signature> {
        match self {
            Scorer::Native(m) => Some(&m.signature),
            Scorer::Onnx { .. } => None,
        }
    }

    pub fn task(&self) -> berth_ml::Task {
        match self {
            Scorer::Native(m) => m.signature.task,
            Scorer::Onnx { model, .. } if model.classes.is_some() => berth_ml::Task::Classification,
            Scorer::Onnx { .. } => berth_ml::Task::Regression,
        }
    }

    /// Classes the model was trained on (classifiers).
    pub fn classes(&self) -> Option<&[String]> {
        match self {
            Scorer::Native(m) => m.signature.classes.as_deref(),
            Scorer::Onnx { model, .. } => model.classes.as_deref(),
        }
    }

    pub fn predict(&self, table: &Table) -> Result<berth_ml::Prediction> {
        match self {
            Scorer::Native(m) => m.predict(table).map_err(ml_error),
            Scorer::Onnx { model, features } if model.reads_columns() => {
                if let Some(f) = features {
                    return Err(ServiceError::input(
                        format!(
                            "the model reads its columns by name ({} inputs); --features {f:?} was given",
                            model.inputs.len()
                        ),
                        Some("leave out --features: each of the model's inputs is the column of its name".into()),
                    ));
                }
                model.run_table(table).map_err(ml_error)
            }
            Scorer::Onnx { model, features } => {
                let names: Vec<String> = match features {
                    Some(f) => f.clone(),
                    None => table.columns().iter().filter(|c| c.ty().is_numeric()).map(|c| c.name.clone()).collect(),
                };
                if names.len() != model.n_features {
                    return Err(ServiceError::input(
                        format!(
                            "the model takes {} features; {} columns were chosen: {names:?}",
                            model.n_features,
                            names.len()
                        ),
                        Some("pass --features with the model's input columns, in training order".into()),
                    ));
                }
                let chosen = table.select(&names)?;
                let rows = chosen.rows();
                let mut data = Vec::with_capacity(rows * names.len());
                for i in 0..rows {
                    for c in chosen.columns() {
                        let v = c.as_f64(i).ok_or_else(|| {
                            ServiceError::input(
                                format!("column {:?} row {i} is null or not a number", c.name),
                                Some("the model needs a number in every cell".into()),
                            )
                        })?;
                        data.push(v as f32);
                    }
                }
                model.run(data, rows).map_err(ml_error)
            }
        }
    }
}

/// Scores `data` and writes `output`: a `prediction` column; for a
/// classifier one `proba_<class>` column per class; for anomaly detection
/// the `score` behind each label.
pub fn predict_to_file(scorer: &Scorer, shown: &str, data: &Path, output: &Path) -> Result<PredictReport> {
    let table = read_table(data, &ReadOptions::default())?;
    let p = scorer.predict(&table)?;
    write_predictions(p, shown, output)
}

fn write_predictions(p: berth_ml::Prediction, shown: &str, output: &Path) -> Result<PredictReport> {
    let mut cols = Vec::new();
    match (p.values, p.labels) {
        (Some(v), None) => cols.push(Column::float("prediction", v)),
        (None, Some(labels)) => cols.push(Column::strings("prediction", &labels)),
        // Anomaly detection: the label and the score behind it.
        (Some(v), Some(labels)) => {
            cols.push(Column::strings("prediction", &labels));
            cols.push(Column::float("score", v));
        }
        (None, None) => {}
    }
    if let (Some(probs), Some(classes)) = (p.probabilities, p.classes) {
        for (k, c) in classes.iter().enumerate() {
            cols.push(Column::float(format!("proba_{c}"), probs.iter().map(|r| r[k]).collect()));
        }
    }
    let out = Table::new(cols)?;
    write_table(&out, output)?;
    Ok(PredictReport { model: shown.to_string(), rows: out.rows(), output: output.to_path_buf(), columns: out.names() })
}

/// A version's model, as a verified file in the local cache.
#[derive(Debug, Clone)]
pub enum ModelFile {
    /// A model trained by `berth train` (`model.berth`).
    Berth(PathBuf),
    /// A model exported to ONNX (the version's only `.onnx` file).
    Onnx(PathBuf),
}

/// Which of a version's files is the model berth runs: its `model.berth`,
/// else its only `.onnx` file; its path, its entry, and whether it is ONNX.
pub(crate) fn model_entry(v: &VersionRecord, manifest: &Manifest) -> Result<(RelPath, ManifestEntry, bool)> {
    let berth = manifest.files.iter().find(|(p, _)| p.as_str() == crate::MODEL_FILE);
    let onnx: Vec<_> =
        manifest.files.iter().filter(|(p, _)| p.as_str().to_ascii_lowercase().ends_with(".onnx")).collect();
    match (berth, onnx.as_slice()) {
        (Some((p, e)), _) => Ok((p.clone(), *e, false)),
        (None, [(p, e)]) => Ok(((*p).clone(), **e, true)),
        _ => {
            let files: Vec<&str> = manifest.files.keys().map(|p| p.as_str()).collect();
            Err(ServiceError::input(
                format!("{}@{} has no model berth can run: its files are {files:?}", v.model, v.version),
                Some(format!("push a {} from `berth train`, or exactly one .onnx file", crate::MODEL_FILE)),
            ))
        }
    }
}

/// Where a model's verified copy is kept in the cache `dir` (`None`: the
/// system's temporary directory), named by its digest.
pub(crate) fn cached_model(dir: Option<&Path>, e: &ManifestEntry, is_onnx: bool) -> (PathBuf, bool) {
    let dir = match dir {
        Some(d) => d.join("models"),
        None => std::env::temp_dir().join("berth-models"),
    };
    let dest = dir.join(if is_onnx { format!("{}.onnx", e.digest.hex()) } else { e.digest.hex() });
    let fresh = dest.is_file() && crate::train::file_digest(&dest).ok() == Some(e.digest);
    (dest, fresh)
}

impl ModelFile {
    pub(crate) fn at(path: PathBuf, is_onnx: bool) -> ModelFile {
        if is_onnx { ModelFile::Onnx(path) } else { ModelFile::Berth(path) }
    }

    pub fn path(&self) -> &Path {
        match self {
            ModelFile::Berth(p) | ModelFile::Onnx(p) => p,
        }
    }
}

impl Berth {
    /// Fetches a version's model file (verified) into the local cache; the
    /// digest is the file's, checked against the manifest.
    pub async fn fetch_model(&self, r: &Ref) -> Result<(ModelFile, Digest, VersionRecord)> {
        self.allow(berth_core::Role::Reader, Some(&r.model), None)?;
        let v = self.registry.resolve(r).await?;
        let manifest = self.manifest(&v).await?;
        let (_, entry, is_onnx) = model_entry(&v, &manifest)?;
        let cache = self.config.state_dir().map(|d| d.join("cache"));
        let (dest, fresh) = cached_model(cache.as_deref(), &entry, is_onnx);
        if !fresh {
            self.store.get_to_file(&entry.digest, &dest, &*NoTransfer.progress()).await?;
        }
        Ok((ModelFile::at(dest, is_onnx), entry.digest, v))
    }
}
