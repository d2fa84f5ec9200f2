//! The gate file: a named set of checks, written in TOML.
//!
//! The whole reference, with a complete example, is [`GATE_REFERENCE`]:
//! `berth validate --help` prints it, every parse error points there, and the
//! tests below check that its example parses and that it names every key the
//! gate file accepts. Metric names are parsed into [`Metric`] as the file
//! is read, so an unknown name is refused with its line. What types cannot
//! say is checked after parsing: ranges (a fraction metric's threshold must
//! be in [0, 1], so `accuracy = { min = 85 }` is refused with "did you mean
//! 0.85?"), metrics of two tasks in one gate, and suspicious values become
//! notes ([`Gate::notes`]) rather than silent passes. Whether the metrics
//! fit the model is known only once the model is: [`Gate::check_task`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_core::{ErrorClass, Exit};
use berth_ml::Task;
use serde::{Deserialize, Serialize};

use crate::metrics::{Metric, Unit};

/// The gate file reference with complete examples, as `berth validate
/// --help` prints it: every section and key, its default, and each metric's
/// unit and range.
pub const GATE_REFERENCE: &str = include_str!("gate_reference.txt");

/// Where a gate file's errors send the reader: the reference above.
pub const GATE_HELP: &str = "see `berth validate --help` for the gate file reference, with a complete example";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GateError {
    #[error("{file} line {line}: {message}")]
    Parse { file: String, line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "metric \"{metric}\" does not apply to {} model; valid: {}{}",
        with_article(*task),
        Metric::of_task(*task).iter().map(|m| m.name()).collect::<Vec<_>>().join(", "),
        if *task == Task::Classification { ", recall.<class>, precision.<class>, f1.<class>" } else { "" }
    )]
    WrongTask { metric: Metric, task: Task },
}

impl Exit for GateError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Input
    }

    fn hint(&self) -> Option<String> {
        Some(GATE_HELP.to_string())
    }
}

/// "a classification", "an anomaly": the task with its article.
fn with_article(task: Task) -> String {
    let article = if task == Task::Anomaly { "an" } else { "a" };
    format!("{article} {task}")
}

/// A value the types admit but the gate cannot mean: the key's path in the
/// file (for its line) and what to say.
struct Problem {
    path: Vec<String>,
    message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: Option<String>,
    pub target: Option<String>,
    #[serde(default)]
    pub metrics: BTreeMap<Metric, Bound>,
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

    /// The bound with a unit after each number (`<= 10%`).
    pub fn with_suffix(&self, unit: &str) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) => format!("in [{a}{unit}, {b}{unit}]"),
            (Some(a), None) => format!(">= {a}{unit}"),
            (None, Some(b)) => format!("<= {b}{unit}"),
            (None, None) => "any".into(),
        }
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.with_suffix(""))
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
    pub metrics: BTreeMap<Metric, Tolerance>,
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

impl std::fmt::Display for BaselineMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BaselineMode::Rescore => "rescore",
            BaselineMode::Stored => "stored",
        })
    }
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
    #[serde(default)]
    pub reference: DriftReference,
    /// Columns to test; default: the model's input columns.
    pub columns: Option<Vec<String>>,
    /// Columns tested although they look like timestamps or identifiers,
    /// which are otherwise skipped (see [`crate::drift`]).
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default)]
    pub correction: Correction,
    #[serde(default)]
    pub numeric_test: NumericTest,
    /// With the z-test, also Levene's test on the spread: the z-test alone
    /// passes a column whose mean stayed and whose spread grew.
    #[serde(default = "yes")]
    pub variance_test: bool,
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
            reference: DriftReference::Profile,
            columns: None,
            include: Vec::new(),
            alpha: default_alpha(),
            correction: Correction::default(),
            numeric_test: NumericTest::default(),
            variance_test: true,
            max_drifted_share: default_share(),
            min_wasserstein: default_effect(),
            min_jensen_shannon: default_effect(),
        }
    }
}

/// What drift compares the data with, as the gate file writes it:
/// `"profile"`, or the path of a data file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum DriftReference {
    /// The reference profile stored with the version at training (or the
    /// `profile.json` beside a model file).
    #[default]
    Profile,
    /// A CSV or Parquet file of reference data.
    File(PathBuf),
}

impl From<String> for DriftReference {
    fn from(s: String) -> DriftReference {
        if s == "profile" { DriftReference::Profile } else { DriftReference::File(s.into()) }
    }
}

impl From<DriftReference> for String {
    fn from(r: DriftReference) -> String {
        match r {
            DriftReference::Profile => "profile".into(),
            DriftReference::File(p) => p.display().to_string(),
        }
    }
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
    /// Two-sample Kolmogorov–Smirnov: any change of the distribution.
    #[default]
    Ks,
    /// z-test on the means. It detects a moved mean and nothing else: a
    /// column scaled by 1.5 around the same mean passes it (p ≈ 0.5 in this
    /// crate's and the CLI's tests), so
    /// [`DriftSpec::variance_test`] runs Levene's test beside it unless
    /// turned off.
    Z,
    /// Levene's test centred on the median (Brown–Forsythe): a changed
    /// spread, whatever the mean did.
    Levene,
}

impl NumericTest {
    pub fn name(self) -> &'static str {
        match self {
            NumericTest::Ks => "ks",
            NumericTest::Z => "z",
            NumericTest::Levene => "levene",
        }
    }
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
    /// Parses a gate file's text; errors name the file, the line and the key,
    /// and say what to write instead.
    pub fn parse(text: &str, file: &str) -> Result<Gate, GateError> {
        let gate: Gate = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_at(text, s.start));
            GateError::Parse { file: file.to_string(), line, message: e.message().trim().to_string() }
        })?;
        if let Some(p) = gate.problems().into_iter().next() {
            let path: Vec<&str> = p.path.iter().map(String::as_str).collect();
            return Err(match line_of(text, &path) {
                Some(line) => GateError::Parse { file: file.to_string(), line, message: p.message },
                None => GateError::Invalid(format!("{file}: {}", p.message)),
            });
        }
        Ok(gate)
    }

    /// Checks what types cannot: ranges of numbers and non-empty names.
    /// (The gate may come from flags as well as a file, so no line here.)
    pub fn validate(&self) -> Result<(), GateError> {
        match self.problems().into_iter().next() {
            Some(p) => Err(GateError::Invalid(p.message)),
            None => Ok(()),
        }
    }

    /// Every metric the gate names, with its section: bounded ones, then
    /// those compared with the baseline.
    fn named_metrics(&self) -> impl Iterator<Item = (&'static str, &Metric)> {
        let bounded = self.metrics.keys().map(|m| ("metrics", m));
        let compared = self.baseline.iter().flat_map(|b| b.metrics.keys()).map(|m| ("baseline.metrics", m));
        bounded.chain(compared)
    }

    /// The task the gate's metrics belong to; `None` when it names none.
    pub fn task(&self) -> Option<Task> {
        self.named_metrics().next().map(|(_, m)| m.task())
    }

    /// Refuses a gate whose metrics a `task` model does not have (`mae` on
    /// a classifier), before anything runs.
    pub fn check_task(&self, task: Task) -> Result<(), GateError> {
        match self.named_metrics().find(|(_, m)| m.task() != task) {
            Some((_, m)) => Err(GateError::WrongTask { metric: m.clone(), task }),
            None => Ok(()),
        }
    }

    /// Values that are allowed but probably not what was meant, one
    /// sentence each; the report carries them and the CLI prints them.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for (metric, b) in &self.metrics {
            if metric.unit() != Unit::Percent {
                continue;
            }
            for (side, v) in [("min", b.min), ("max", b.max)] {
                if let Some(v) = v
                    && v > 0.0
                    && v < 1.0
                {
                    notes.push(format!(
                        "metrics.{metric}.{side} = {v}: {metric} is in percent, so this means {v}%; \
                         if you meant {}%, write {side} = {}",
                        tidy(v * 100.0),
                        tidy(v * 100.0)
                    ));
                }
            }
        }
        notes
    }

    fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut bad = |path: &[&str], message: String| {
            out.push(Problem { path: path.iter().map(|p| p.to_string()).collect(), message })
        };
        for (metric, b) in &self.metrics {
            let name = &*metric.name();
            if b.min.is_none() && b.max.is_none() {
                bad(
                    &["metrics", name],
                    format!("metrics.{name} has neither min nor max; write e.g. {name} = {{ min = 0.8 }}"),
                );
            }
            if let (Some(a), Some(z)) = (b.min, b.max)
                && a > z
            {
                bad(&["metrics", name], format!("metrics.{name}: min {a} is above max {z}; swap them"));
            }
            for (side, v) in [("min", b.min), ("max", b.max)] {
                if let Some(v) = v
                    && let Some(why) = out_of_range(metric, v)
                {
                    bad(&["metrics", name, side], format!("metrics.{name}.{side} = {v}: {why}"));
                }
            }
        }
        // One validation scores one model, so metrics of two tasks can
        // never all be computed.
        let mut named = self.named_metrics();
        if let Some((first_section, first)) = named.next()
            && let Some((section, other)) = named.find(|(_, m)| m.task() != first.task())
        {
            let other_name = other.name();
            let path: Vec<&str> = section.split('.').chain([&*other_name]).collect();
            bad(
                &path,
                format!(
                    "{section}.{other} is for {} models, but {first_section}.{first} is for {} models; a gate \
                     checks one kind of model: remove one, or write one gate per model",
                    other.task(),
                    first.task()
                ),
            );
        }
        if let Some(d) = &self.drift {
            if !(d.alpha > 0.0 && d.alpha < 1.0) {
                bad(
                    &["drift", "alpha"],
                    format!("drift.alpha = {} must be between 0 and 1 (exclusive), e.g. 0.05", d.alpha),
                );
            }
            if !(0.0..=1.0).contains(&d.max_drifted_share) {
                bad(
                    &["drift", "max_drifted_share"],
                    format!(
                        "drift.max_drifted_share = {} must be between 0 and 1{}",
                        d.max_drifted_share,
                        suggest_fraction(d.max_drifted_share)
                    ),
                );
            }
            for (key, v) in [("min_wasserstein", d.min_wasserstein), ("min_jensen_shannon", d.min_jensen_shannon)] {
                if v.is_nan() || v < 0.0 {
                    bad(&["drift", key], format!("drift.{key} = {v} must be 0 or more (0 turns the floor off)"));
                }
            }
            if d.min_jensen_shannon > 1.0 {
                bad(
                    &["drift", "min_jensen_shannon"],
                    format!(
                        "drift.min_jensen_shannon = {} can never be reached: the Jensen-Shannon distance is at most 1",
                        d.min_jensen_shannon
                    ),
                );
            }
            if let Some(columns) = &d.columns {
                for c in &d.include {
                    if !columns.contains(c) {
                        bad(
                            &["drift", "include"],
                            format!("drift.include names {c:?}, which drift.columns leaves out; add it to columns too"),
                        );
                    }
                }
            }
            if !d.variance_test && d.numeric_test != NumericTest::Z {
                bad(
                    &["drift", "variance_test"],
                    format!(
                        "drift.variance_test = false applies to numeric_test = \"z\" only, not {:?}; remove it",
                        d.numeric_test.name()
                    ),
                );
            }
        }
        if let Some(b) = &self.baseline {
            for (metric, t) in &b.metrics {
                let name = &*metric.name();
                if metric.unit() == Unit::Fraction && t.tolerance.abs() >= 1.0 {
                    let how = if t.relative { "a relative" } else { "an absolute" };
                    bad(
                        &["baseline", "metrics", name, "tolerance"],
                        format!(
                            "baseline.metrics.{name}.tolerance = {}: {name} is a fraction in [0, 1], so {how} \
                             tolerance of {} lets any value pass{}",
                            t.tolerance,
                            t.tolerance,
                            suggest_fraction(t.tolerance)
                        ),
                    );
                }
            }
            if let Some(bs) = &b.bootstrap {
                if !(bs.confidence > 0.0 && bs.confidence < 1.0) {
                    bad(
                        &["baseline", "bootstrap", "confidence"],
                        format!(
                            "baseline.bootstrap.confidence = {} must be between 0 and 1{}",
                            bs.confidence,
                            suggest_fraction(bs.confidence)
                        ),
                    );
                }
                if bs.samples < 10 {
                    bad(
                        &["baseline", "bootstrap", "samples"],
                        format!("baseline.bootstrap.samples = {} is too few; use 200 or more", bs.samples),
                    );
                }
            }
        }
        if let Some(s) = &self.stability
            && (s.max_cv.is_nan() || s.max_cv < 0.0)
        {
            bad(&["stability", "max_cv"], format!("stability.max_cv = {} must be 0 or more", s.max_cv));
        }
        if let Some(r) = &self.range {
            if r.sigmas.is_nan() || r.sigmas <= 0.0 {
                bad(&["range", "sigmas"], format!("range.sigmas = {} must be above 0, e.g. 3", r.sigmas));
            }
            if !(0.0..=1.0).contains(&r.max_share) {
                bad(
                    &["range", "max_share"],
                    format!(
                        "range.max_share = {} must be between 0 and 1{}",
                        r.max_share,
                        suggest_fraction(r.max_share)
                    ),
                );
            }
        }
        if let Some(l) = &self.latency {
            if l.runs == 0 {
                bad(&["latency", "runs"], "latency.runs must be at least 1".into());
            }
            for (key, v) in
                [("max_p50_ms", l.max_p50_ms), ("max_p99_ms", l.max_p99_ms), ("min_rows_per_s", l.min_rows_per_s)]
            {
                if let Some(v) = v
                    && (v.is_nan() || v < 0.0)
                {
                    bad(&["latency", key], format!("latency.{key} = {v} must be 0 or more"));
                }
            }
        }
        if let Some(d) = &self.data {
            let mut shares: Vec<(Vec<&str>, String, f64)> = Vec::new();
            if let Some(v) = d.max_null_share {
                shares.push((vec!["data", "max_null_share"], "data.max_null_share".into(), v));
            }
            if let Some(v) = d.min_class_share {
                shares.push((vec!["data", "min_class_share"], "data.min_class_share".into(), v));
            }
            for (column, v) in &d.null_share {
                shares.push((vec!["data", "null_share", column], format!("data.null_share.{column}"), *v));
            }
            for (path, key, v) in shares {
                if !(0.0..=1.0).contains(&v) {
                    bad(&path, format!("{key} = {v} is a share in [0, 1]{}", suggest_fraction(v)));
                }
            }
        }
        out
    }
}

/// Why `v` cannot be a threshold of `metric`, with the fix; `None` when it can.
fn out_of_range(metric: &Metric, v: f64) -> Option<String> {
    let unit = metric.unit();
    if v.is_nan() {
        return Some(format!("{metric} cannot be compared with NaN; write a number"));
    }
    if unit.admits(v) {
        return None;
    }
    Some(match unit {
        Unit::Fraction | Unit::AtMostOne => format!("{metric} is {}{}", unit.range(), suggest_fraction(v)),
        _ => format!("{metric} is {}; {v} is never reached", unit.range()),
    })
}

/// "; did you mean 0.85?" for a value that reads as a percentage.
fn suggest_fraction(v: f64) -> String {
    if v.abs() > 1.0 && v.abs() <= 100.0 { format!("; did you mean {}?", tidy(v / 100.0)) } else { String::new() }
}

/// `x` without the binary noise of a decimal scaling (0.1 × 100 is
/// 10.000000000000002), for messages.
fn tidy(x: f64) -> f64 {
    (x * 1e12).round() / 1e12
}

/// The 1-based line of byte offset `at`.
fn line_at(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// The line of the value at `path` (table keys from the top), if the text
/// has it there: a value that came from a flag has no line.
fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut span = None;
    for (i, key) in path.iter().enumerate() {
        let (_, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *key)?;
        span = Some(value.span());
        if i + 1 < path.len() {
            match value.get_ref() {
                toml::de::DeValue::Table(t) => table = t,
                _ => break,
            }
        }
    }
    span.map(|s| line_at(text, s.start))
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

    /// The indented blocks after `intro` in the reference, as TOML.
    fn example(intro: &str) -> String {
        GATE_REFERENCE
            .lines()
            .skip_while(|l| !l.starts_with(intro))
            .skip(2)
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
            .collect()
    }

    #[test]
    fn the_reference_examples_parse() {
        let g = Gate::parse(&example("A complete example:"), "example").unwrap();
        assert_eq!(g.metrics[&Metric::Accuracy].min, Some(0.85));
        assert_eq!(g.baseline.unwrap().metrics[&Metric::Accuracy], Tolerance { tolerance: 0.01, relative: false });
        assert_eq!(g.drift.unwrap().correction, Correction::Holm);
        assert_eq!(g.latency.unwrap().max_p99_ms, Some(100.0));
        let g = Gate::parse(&example("A regression gate reads the same way:"), "example").unwrap();
        assert_eq!(g.metrics[&Metric::Mape].max, Some(10.0));
        assert!(g.notes().is_empty());
    }

    /// Every key of every section, from a gate with every option set.
    fn every_key() -> Vec<String> {
        let mut g = Gate {
            name: Some("n".into()),
            target: Some("t".into()),
            metrics: BTreeMap::from([(Metric::Accuracy, Bound { min: Some(0.5), max: Some(0.9) })]),
            baseline: Some(BaselineSpec {
                reference: Some("m@1".into()),
                tolerance: Some(0.1),
                bootstrap: Some(Bootstrap { samples: 100, confidence: 0.9, seed: 1 }),
                metrics: BTreeMap::from([(Metric::Mae, Tolerance::default())]),
                ..Default::default()
            }),
            drift: Some(DriftSpec { columns: Some(vec!["a".into()]), ..Default::default() }),
            stability: Some(StabilitySpec { max_cv: 1.0 }),
            range: Some(RangeSpec { sigmas: 3.0, max_share: 0.1 }),
            latency: Some(LatencySpec {
                max_p50_ms: Some(1.0),
                max_p99_ms: Some(2.0),
                min_rows_per_s: Some(3.0),
                ..Default::default()
            }),
            data: Some(DataSpec { max_null_share: Some(0.1), min_class_share: Some(0.1), ..Default::default() }),
        };
        g.data.as_mut().unwrap().null_share.insert("c".into(), 0.1);
        g.data.as_mut().unwrap().ranges.insert("c".into(), Bound { min: Some(0.0), max: None });
        fn keys(v: &serde_json::Value, out: &mut Vec<String>, depth: usize) {
            if let serde_json::Value::Object(m) = v {
                for (k, v) in m {
                    out.push(k.clone());
                    // Below a section, only the fixed keys of its tables
                    // (not metric or column names, which are the user's).
                    if depth == 0 || matches!(k.as_str(), "bootstrap") {
                        keys(v, out, depth + 1);
                    }
                }
            }
        }
        let mut out = Vec::new();
        keys(&serde_json::to_value(&g).unwrap(), &mut out, 0);
        out.retain(|k| !matches!(k.as_str(), "accuracy" | "mae" | "c"));
        out.extend(["min", "max", "tolerance", "relative"].map(String::from));
        out
    }

    #[test]
    fn the_reference_names_every_key() {
        let keys = every_key();
        assert!(keys.len() > 30, "{keys:?}");
        for key in keys {
            assert!(
                GATE_REFERENCE.contains(&format!("{key} =")) || GATE_REFERENCE.contains(&format!("[{key}]")),
                "the gate reference does not document {key:?}"
            );
        }
        assert!(GATE_REFERENCE.lines().all(|l| l.chars().count() <= 79), "a reference line is longer than 79");
    }

    #[test]
    fn a_fraction_threshold_written_as_a_percentage_is_refused_with_its_line_and_the_fix() {
        let e = Gate::parse("[metrics]\naccuracy = { min = 85 }\n", "g.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "g.toml line 2: metrics.accuracy.min = 85: accuracy is a fraction in [0, 1]; did you mean 0.85?"
        );
        assert_eq!(e.hint().as_deref(), Some(GATE_HELP));
        // The same in a table of its own, a per-class recall and R².
        let e = Gate::parse("name = \"x\"\n\n[metrics.recall_macro]\nmin = 70\n", "g.toml").unwrap_err();
        assert!(e.to_string().starts_with("g.toml line 4: metrics.recall_macro.min = 70"), "{e}");
        assert!(e.to_string().ends_with("did you mean 0.7?"), "{e}");
        let e = Gate::parse("[metrics]\n\"recall.churned\" = { min = 0.5, max = 120 }\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("line 2: metrics.recall.churned.max = 120"), "{e}");
        let e = Gate::parse("[metrics]\nr2 = { min = 90 }\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("r2 is at most 1") && e.to_string().contains("did you mean 0.9?"), "{e}");
        let e = Gate::parse("[metrics]\nmae = { max = -1 }\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("mae is in the target's units, 0 or more"), "{e}");
        // Anomaly detection's precision is a fraction too; a threshold from a flag has no line.
        let flags = Gate {
            metrics: BTreeMap::from([(Metric::FlaggedPrecision, Bound { min: Some(90.0), max: None })]),
            ..Default::default()
        };
        assert_eq!(
            flags.validate().unwrap_err().to_string(),
            "metrics.precision.min = 90: precision is a fraction in [0, 1]; did you mean 0.9?"
        );
        // Values in range pass.
        Gate::parse("[metrics]\naccuracy = { min = 0 , max = 1 }\nroc_auc = { min = 0.5 }\n", "g.toml").unwrap();
        Gate::parse("[metrics]\nr2 = { min = -3 }\nmae = { max = 1e6 }\n", "g.toml").unwrap();
    }

    #[test]
    fn an_unknown_metric_is_refused_with_its_line_the_nearest_name_and_the_list() {
        let e = Gate::parse("name = \"x\"\n[metrics]\nacuracy = { min = 0.8 }\n", "g.toml").unwrap_err();
        let GateError::Parse { line, message, .. } = &e else { panic!("{e}") };
        assert_eq!(*line, 3, "{e}");
        assert!(message.starts_with("unknown metric \"acuracy\"; did you mean accuracy?"), "{e}");
        assert!(message.contains("regression: mae, mse, rmse, mape"), "{e}");
        assert_eq!(e.hint().as_deref(), Some(GATE_HELP));
        // Names the gate used to pass on to the model's task are refused here now.
        let e = Gate::parse("[metrics]\ncustom = { min = 85 }\n", "g.toml").unwrap_err();
        assert!(e.to_string().starts_with("g.toml line 2: unknown metric \"custom\"; berth computes"), "{e}");
        // A baseline's metrics are names too; a per-class one needs its class.
        let e = Gate::parse("[baseline]\nmetrics = { rsme = { tolerance = 1 } }\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("line 2") && e.to_string().contains("did you mean rmse?"), "{e}");
        let e = Gate::parse("[metrics]\n\"recall.\" = { min = 0.5 }\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("metric \"recall.\" names no class"), "{e}");
        let g = Gate::parse("[metrics]\n\"f1.churned\" = { min = 0.5 }\n", "g.toml").unwrap();
        assert!(g.metrics.contains_key(&Metric::OfClass(crate::metrics::ClassScore::F1, "churned".into())));
    }

    #[test]
    fn metrics_of_two_tasks_are_refused_and_the_task_is_checked_against_the_model() {
        let e = Gate::parse("[metrics]\naccuracy = { min = 0.8 }\nmae = { max = 3 }\n", "g.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "g.toml line 3: metrics.mae is for regression models, but metrics.accuracy is for classification \
             models; a gate checks one kind of model: remove one, or write one gate per model"
        );
        let e =
            Gate::parse("[metrics]\nmape = { max = 10 }\n[baseline]\nmetrics = { f1 = {} }\n", "g.toml").unwrap_err();
        assert!(
            e.to_string().starts_with(
                "g.toml line 4: baseline.metrics.f1 is for anomaly models, but metrics.mape is for regression"
            ),
            "{e}"
        );
        let g = Gate::parse("[metrics]\nmae = { max = 3 }\n", "g.toml").unwrap();
        assert_eq!(g.task(), Some(Task::Regression));
        g.check_task(Task::Regression).unwrap();
        let e = g.check_task(Task::Classification).unwrap_err();
        assert!(e.to_string().starts_with("metric \"mae\" does not apply to a classification model; valid: accuracy"));
        assert!(e.to_string().ends_with("per_class_recall, recall.<class>, precision.<class>, f1.<class>"), "{e}");
        assert_eq!(Gate::default().task(), None);
        Gate::default().check_task(Task::Anomaly).unwrap();
    }

    #[test]
    fn shares_and_fraction_tolerances_are_range_checked() {
        let e = Gate::parse("[data]\nmax_null_share = 5\n", "g.toml").unwrap_err();
        assert_eq!(e.to_string(), "g.toml line 2: data.max_null_share = 5 is a share in [0, 1]; did you mean 0.05?");
        let e = Gate::parse("[baseline]\nref = \"m@1\"\nmetrics = { accuracy = { tolerance = 2 } }\n", "g.toml")
            .unwrap_err();
        assert!(e.to_string().contains("line 3: baseline.metrics.accuracy.tolerance = 2"), "{e}");
        assert!(e.to_string().contains("lets any value pass; did you mean 0.02?"), "{e}");
        // MAPE's absolute tolerance is in percentage points: 2 is fine.
        Gate::parse("[baseline]\nref = \"m@1\"\nmetrics = { mape = { tolerance = 2 } }\n", "g.toml").unwrap();
    }

    #[test]
    fn a_mape_threshold_below_one_is_kept_with_a_note() {
        let g = Gate::parse("[metrics]\nmape = { max = 0.1 }\n", "g.toml").unwrap();
        assert_eq!(
            g.notes(),
            ["metrics.mape.max = 0.1: mape is in percent, so this means 0.1%; if you meant 10%, write max = 10"]
        );
        assert!(Gate::parse("[metrics]\nmape = { max = 10 }\n", "g.toml").unwrap().notes().is_empty());
        let e = Gate::parse("[metrics]\nmape = { max = -5 }\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("mape is in percent, 0 or more"), "{e}");
    }

    #[test]
    fn drift_keys_for_timestamps_identifiers_and_the_variance_test_are_checked() {
        let g = Gate::parse("[drift]\ninclude = [\"timestamp\"]\nnumeric_test = \"z\"\n", "g.toml").unwrap();
        let d = g.drift.unwrap();
        assert_eq!(d.include, ["timestamp"]);
        assert!(d.variance_test, "Levene's test runs beside z by default");
        assert_eq!(
            Gate::parse("[drift]\nnumeric_test = \"levene\"\n", "g.toml").unwrap().drift.unwrap().numeric_test,
            NumericTest::Levene
        );
        let e = Gate::parse("[drift]\ncolumns = [\"a\"]\ninclude = [\"ts\"]\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("line 3: drift.include names \"ts\""), "{e}");
        let e = Gate::parse("[drift]\nvariance_test = false\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("applies to numeric_test = \"z\" only"), "{e}");
        let e = Gate::parse("[drift]\nexclude = [\"ts\"]\n", "g.toml").unwrap_err();
        assert!(e.to_string().contains("line 2") && e.to_string().contains("exclude"), "{e}");
    }
}
