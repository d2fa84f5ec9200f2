//! The gate file: a named set of checks, written in TOML.
//!
//! ```toml
//! name = "release"                 # default: the file's stem
//! target = "label"                 # default: the model's target column
//!
//! [metrics]                        # any metric the model's task computes
//! accuracy = { min = 0.85 }
//! per_class_recall = { min = 0.70 } # every class
//! log_loss = { max = 0.4 }
//!
//! [baseline]                       # or --baseline REF
//! ref = "churn@production"
//! mode = "rescore"                 # rescore the baseline on the same data, or "stored" metrics
//! metrics = { accuracy = { tolerance = 0.01 }, mae = { tolerance = 0.05, relative = true } }
//! bootstrap = { samples = 1000, confidence = 0.95, seed = 7 }
//!
//! [drift]
//! reference = "profile"            # the version's stored profile, or a CSV/Parquet path
//! alpha = 0.05
//! correction = "holm"              # holm | bh | none
//! max_drifted_share = 0.3
//!
//! [stability]
//! max_cv = 0.5
//!
//! [range]
//! sigmas = 3.0
//! max_share = 0.05
//!
//! [latency]
//! max_p99_ms = 100
//!
//! [data]
//! max_null_share = 0.01
//! ranges = { age = { min = 0, max = 120 } }
//! min_class_share = 0.05
//! ```
//!
//! A tolerance is signed: positive allows the new model to be that much
//! worse than the baseline, negative demands that much improvement;
//! `relative = true` reads it as a fraction of the baseline's value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GateError {
    #[error("{file} line {line}: {message}")]
    Parse { file: String, line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: Option<String>,
    pub target: Option<String>,
    #[serde(default)]
    pub metrics: BTreeMap<String, Bound>,
    pub baseline: Option<BaselineSpec>,
    pub drift: Option<DriftSpec>,
    pub stability: Option<StabilitySpec>,
    pub range: Option<RangeSpec>,
    pub latency: Option<LatencySpec>,
    pub data: Option<DataSpec>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Bound {
    pub fn admits(&self, v: f64) -> bool {
        !v.is_nan() && self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) => write!(f, "in [{a}, {b}]"),
            (Some(a), None) => write!(f, ">= {a}"),
            (None, Some(b)) => write!(f, "<= {b}"),
            (None, None) => write!(f, "any"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSpec {
    /// A ref (`churn@production`, `churn@3`) or a model file.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    #[serde(default)]
    pub mode: BaselineMode,
    /// Per metric. Empty: the metrics the gate bounds (else the task's
    /// headline metrics), each at the relative `tolerance` below.
    #[serde(default)]
    pub metrics: BTreeMap<String, Tolerance>,
    /// Relative tolerance for the metrics compared by default (0.05: at most
    /// 5% worse); 0 when absent.
    pub tolerance: Option<f64>,
    pub bootstrap: Option<Bootstrap>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineMode {
    /// Score the baseline model on the same data (preferred: same rows, same code).
    #[default]
    Rescore,
    /// Use the metrics stored on the baseline version.
    Stored,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    #[serde(default)]
    pub tolerance: f64,
    #[serde(default)]
    pub relative: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    #[serde(default = "default_samples")]
    pub samples: usize,
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    #[serde(default)]
    pub seed: u64,
}

fn default_samples() -> usize {
    1000
}
fn default_confidence() -> f64 {
    0.95
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSpec {
    /// `"profile"` (the version's stored reference profile) or a data file.
    #[serde(default = "default_reference")]
    pub reference: String,
    /// Columns to test; default: the model's input columns.
    pub columns: Option<Vec<String>>,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default)]
    pub correction: Correction,
    #[serde(default)]
    pub numeric_test: NumericTest,
    /// The dataset drifts when more than this share of columns drift.
    #[serde(default = "default_share")]
    pub max_drifted_share: f64,
    /// Effect sizes below these never count as drift, however small the
    /// p-value (huge samples make trivial shifts significant).
    #[serde(default = "default_effect")]
    pub min_wasserstein: f64,
    #[serde(default = "default_effect")]
    pub min_jensen_shannon: f64,
}

impl Default for DriftSpec {
    fn default() -> Self {
        DriftSpec {
            reference: default_reference(),
            columns: None,
            alpha: default_alpha(),
            correction: Correction::default(),
            numeric_test: NumericTest::default(),
            max_drifted_share: default_share(),
            min_wasserstein: default_effect(),
            min_jensen_shannon: default_effect(),
        }
    }
}

fn default_reference() -> String {
    "profile".into()
}
fn default_alpha() -> f64 {
    0.05
}
fn default_share() -> f64 {
    0.5
}
fn default_effect() -> f64 {
    0.1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    #[default]
    Holm,
    Bh,
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumericTest {
    /// Two-sample Kolmogorov–Smirnov.
    #[default]
    Ks,
    /// z-test on the means (the seeds' test).
    Z,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StabilitySpec {
    /// Largest coefficient of variation (std / |mean|) of the predictions.
    pub max_cv: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    #[serde(default = "default_sigmas")]
    pub sigmas: f64,
    /// Largest share of predictions further than `sigmas` standard
    /// deviations from their mean.
    #[serde(default = "default_range_share")]
    pub max_share: f64,
}

fn default_sigmas() -> f64 {
    3.0
}
fn default_range_share() -> f64 {
    0.05
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    #[serde(default = "default_runs")]
    pub runs: usize,
    #[serde(default = "default_warmup")]
    pub warmup: usize,
    pub max_p50_ms: Option<f64>,
    pub max_p99_ms: Option<f64>,
    /// Batch throughput floor, rows per second.
    pub min_rows_per_s: Option<f64>,
}

impl Default for LatencySpec {
    fn default() -> Self {
        LatencySpec {
            runs: default_runs(),
            warmup: default_warmup(),
            max_p50_ms: None,
            max_p99_ms: None,
            min_rows_per_s: None,
        }
    }
}

fn default_runs() -> usize {
    100
}
fn default_warmup() -> usize {
    5
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The data's columns and types match the model's signature.
    #[serde(default = "yes")]
    pub schema: bool,
    /// Largest share of nulls in any column, and per column.
    pub max_null_share: Option<f64>,
    #[serde(default)]
    pub null_share: BTreeMap<String, f64>,
    #[serde(default)]
    pub ranges: BTreeMap<String, Bound>,
    /// Smallest share of any class in the target column.
    pub min_class_share: Option<f64>,
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec {
            schema: true,
            max_null_share: None,
            null_share: BTreeMap::new(),
            ranges: BTreeMap::new(),
            min_class_share: None,
        }
    }
}

fn yes() -> bool {
    true
}

impl Gate {
    /// Parses a gate file's text; errors name the file, the line and the key.
    pub fn parse(text: &str, file: &str) -> Result<Gate, GateError> {
        let gate: Gate = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            GateError::Parse { file: file.to_string(), line, message: e.message().trim().to_string() }
        })?;
        gate.validate()?;
        Ok(gate)
    }

    /// Checks what types cannot: ranges of numbers and non-empty names.
    pub fn validate(&self) -> Result<(), GateError> {
        let bad = |what: String| Err(GateError::Invalid(what));
        for (name, b) in &self.metrics {
            if b.min.is_none() && b.max.is_none() {
                return bad(format!("metrics.{name} has neither min nor max; write e.g. {name} = {{ min = 0.8 }}"));
            }
            if let (Some(a), Some(z)) = (b.min, b.max)
                && a > z
            {
                return bad(format!("metrics.{name}: min {a} is above max {z}"));
            }
        }
        if let Some(d) = &self.drift {
            if !(d.alpha > 0.0 && d.alpha < 1.0) {
                return bad(format!("drift.alpha = {} must be between 0 and 1 (exclusive)", d.alpha));
            }
            if !(0.0..=1.0).contains(&d.max_drifted_share) {
                return bad(format!("drift.max_drifted_share = {} must be between 0 and 1", d.max_drifted_share));
            }
        }
        if let Some(b) = &self.baseline
            && let Some(bs) = &b.bootstrap
        {
            if !(bs.confidence > 0.0 && bs.confidence < 1.0) {
                return bad(format!("baseline.bootstrap.confidence = {} must be between 0 and 1", bs.confidence));
            }
            if bs.samples < 10 {
                return bad(format!("baseline.bootstrap.samples = {} is too few; use 200 or more", bs.samples));
            }
        }
        if let Some(r) = &self.range
            && (r.sigmas <= 0.0 || !(0.0..=1.0).contains(&r.max_share))
        {
            return bad(format!(
                "range: sigmas = {} must be positive and max_share = {} between 0 and 1",
                r.sigmas, r.max_share
            ));
        }
        if let Some(l) = &self.latency
            && l.runs == 0
        {
            return bad("latency.runs must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let e =
            Gate::parse("[metrics]\naccuracy = { min = 0.8 }\n\n[stability]\nmax_vc = 0.5\n", "g.toml").unwrap_err();
        let GateError::Parse { line, message, .. } = &e else { panic!("{e}") };
        assert_eq!(*line, 5, "{e}");
        assert!(message.contains("max_vc"), "{e}");
    }

    #[test]
    fn wrong_types_are_refused() {
        let e = Gate::parse("[metrics]\naccuracy = { min = \"high\" }\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = Gate::parse("[drift]\nalpha = 2.0\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("drift.alpha = 2"), "{e}");
        let e = Gate::parse("[metrics]\naccuracy = {}\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("neither min nor max"), "{e}");
    }

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("gate.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| !l.starts_with("//! ```toml"))
            .skip(1)
            .take_while(|l| !l.starts_with("//! ```"))
            .map(|l| format!("{}\n", l.trim_start_matches("//!").trim_start()))
            .collect();
        let g = Gate::parse(&example, "example").unwrap();
        assert_eq!(g.metrics["accuracy"].min, Some(0.85));
        assert_eq!(g.baseline.unwrap().metrics["mae"], Tolerance { tolerance: 0.05, relative: true });
        assert_eq!(g.drift.unwrap().correction, Correction::Holm);
    }
}
