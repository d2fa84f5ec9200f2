//! A model version ready to answer: the scorer, what it reads, where it came
//! from, and its metrics. Immutable once built; a swap replaces the whole
//! value, so a request keeps the version it started on.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use berth_data::{Column, ColumnData, ColumnType, Field, Table};
use berth_ml::{FeatureKind, Prediction, Task};
use berth_service::Scorer;
use serde::Serialize;

use crate::input::Inputs;
use crate::live::LiveWindow;
use crate::metrics::VersionMetrics;

/// Where the served model came from, as `/health` and every log line say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A model file given on the command line.
    Local,
    /// Resolved in the registry and fetched (verified) from the store.
    Store,
    /// The store or registry was unreachable: the last verified copy.
    Cache,
    /// Trained on synthetic data at start-up, in CI only.
    Synthetic,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Store => "store",
            Source::Cache => "cache",
            Source::Synthetic => "synthetic",
        }
    }
}

pub struct Served {
    pub name: String,
    pub version: String,
    /// sha256 of the model file.
    pub digest: String,
    pub source: Source,
    pub scorer: Scorer,
    pub inputs: Inputs,
    pub load_duration: Duration,
    pub loaded_at: SystemTime,
    pub metrics: Arc<VersionMetrics>,
    /// The last rows it answered, against its reference profile.
    pub live: Option<LiveWindow>,
}

impl Served {
    /// "name@version", as the response header says.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    pub fn task(&self) -> Task {
        self.scorer.task()
    }

    pub fn platform(&self) -> &'static str {
        match self.scorer {
            Scorer::Native(_) => "berth",
            Scorer::Onnx { .. } => "onnx",
        }
    }
}

/// The inputs a scorer reads: a berth model's signature; for an ONNX export
/// of one matrix the `features` it was given, or positional `x0..` floats;
/// for one with an input per column, those inputs.
pub fn inputs_of(scorer: &Scorer) -> Inputs {
    match scorer {
        Scorer::Native(m) => Inputs { fields: m.signature.inputs.clone() },
        Scorer::Onnx { model, .. } if model.reads_columns() => Inputs {
            fields: model
                .inputs
                .iter()
                .map(|t| Field {
                    name: t.name.clone(),
                    ty: match t.element {
                        "string" => ColumnType::Str,
                        "int64" => ColumnType::Int,
                        _ => ColumnType::Float,
                    },
                })
                .collect(),
        },
        Scorer::Onnx { model, features } => Inputs {
            fields: match features {
                Some(f) => f.iter().map(|n| Field { name: n.clone(), ty: ColumnType::Float }).collect(),
                None => (0..model.n_features).map(|j| Field { name: format!("x{j}"), ty: ColumnType::Float }).collect(),
            },
        },
    }
}

/// One plausible row from what the model knows about its inputs: the
/// training mean of each numeric feature, the first level of each
/// categorical one (for an ONNX export, the first category its encoder
/// knows), neutral values otherwise.
pub fn sample_row(scorer: &Scorer, inputs: &Inputs) -> Table {
    let features = match scorer {
        Scorer::Native(m) => m.encoder.features.as_slice(),
        Scorer::Onnx { .. } => &[],
    };
    let cols = inputs
        .fields
        .iter()
        .map(|f| {
            let known = features.iter().find(|x| x.name == f.name).map(|x| &x.kind);
            let mean = match known {
                Some(FeatureKind::Numeric { mean, .. } | FeatureKind::Time { mean, .. }) => *mean,
                _ => 0.0,
            };
            match f.ty {
                ColumnType::Float => Column::float(&f.name, vec![mean]),
                ColumnType::Int => Column::int(&f.name, vec![mean.round() as i64]),
                ColumnType::Timestamp => Column::timestamp(&f.name, vec![mean.round() as i64]),
                ColumnType::Bool => Column::new(&f.name, ColumnData::Bool(vec![mean >= 0.5])),
                ColumnType::Str => {
                    let encoded = match scorer {
                        Scorer::Onnx { model, .. } => model.known_text(&f.name),
                        Scorer::Native(_) => None,
                    };
                    let level = match known {
                        Some(FeatureKind::Categorical { levels }) => levels.first().cloned().unwrap_or_default(),
                        _ => encoded.unwrap_or("berth smoke test").to_string(),
                    };
                    Column::strings(&f.name, &[level])
                }
            }
        })
        .collect();
    Table::new(cols).expect("one value per column")
}

/// The smoke test a candidate passes before it is swapped in: it predicts
/// one row from its signature, and the answer is well-formed.
pub fn smoke_test(scorer: &Scorer, inputs: &Inputs) -> Result<(), String> {
    let row = sample_row(scorer, inputs);
    let p = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scorer.predict(&row)))
        .map_err(|_| "the model panicked on a sample row".to_string())?
        .map_err(|e| format!("the model failed on a sample row: {e}"))?;
    check_prediction(&p, 1)
}

pub fn check_prediction(p: &Prediction, rows: usize) -> Result<(), String> {
    if p.len() != rows {
        return Err(format!("the model returned {} predictions for {rows} rows", p.len()));
    }
    if let Some(v) = &p.values
        && let Some(x) = v.iter().find(|x| !x.is_finite())
    {
        return Err(format!("the model returned a non-finite value ({x})"));
    }
    if let Some(probs) = &p.probabilities
        && probs.iter().flatten().any(|x| !x.is_finite())
    {
        return Err("the model returned a non-finite probability".into());
    }
    Ok(())
}
