//! Seeded synthetic data for CI and demos. The same kind, size, options and
//! seed give the same table — and so byte-identical files — on every machine.
//!
//! Kinds:
//! - `classification`: `f0..f{d-1}` ~ N(0, 1), a categorical `segment`, and
//!   `target` in 0..classes drawn from a softmax of linear scores.
//! - `regression`: `x0..x{d-1}` ~ N(0, 1), `target` linear in them plus an
//!   interaction and Gaussian noise.
//! - `forecast`: the usual load-forecasting example: hourly `timestamp` from 2024-01-01,
//!   `temperature` ~ N(20, 5), `humidity` ~ N(60, 10), and a `load` that
//!   depends on both and on the hour of day, plus noise.
//! - `text`: sentiment-like sentences `text` with `label` positive/negative
//!   (5% of labels flipped, so a model cannot be perfect).
//! - `anomaly`: `x0..x{d-1}` inliers ~ N(0, 1) and exactly
//!   round(rows × contamination) outliers uniform in [-6, 6]; `is_anomaly` 0/1.

use std::fmt;

use crate::column::{Column, ColumnData};
use crate::{DataError, Result, Rng, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Classification,
    Regression,
    Forecast,
    Text,
    Anomaly,
}

impl Kind {
    pub const ALL: [&'static str; 5] = ["classification", "regression", "forecast", "text", "anomaly"];

    pub fn parse(s: &str) -> Result<Kind> {
        Ok(match s {
            "classification" => Kind::Classification,
            "regression" => Kind::Regression,
            "forecast" => Kind::Forecast,
            "text" => Kind::Text,
            "anomaly" => Kind::Anomaly,
            _ => return Err(DataError::Invalid(format!("unknown kind {s:?}; use one of {}", Kind::ALL.join(", ")))),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SynthOptions {
    pub rows: usize,
    pub seed: u64,
    /// Number of numeric features (classification, regression, anomaly).
    pub features: usize,
    pub classes: usize,
    pub contamination: f64,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions { rows: 1000, seed: 42, features: 10, classes: 2, contamination: 0.05 }
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

pub fn generate(kind: Kind, o: &SynthOptions) -> Result<Table> {
    if o.rows == 0 {
        return Err(DataError::Invalid("--rows must be at least 1".into()));
    }
    if matches!(kind, Kind::Classification | Kind::Regression | Kind::Anomaly) && o.features == 0 {
        return Err(DataError::Invalid("--features must be at least 1".into()));
    }
    let mut rng = Rng::new(o.seed);
    match kind {
        Kind::Classification => classification(o, &mut rng),
        Kind::Regression => regression(o, &mut rng),
        Kind::Forecast => forecast(o, &mut rng),
        Kind::Text => text(o, &mut rng),
        Kind::Anomaly => anomaly(o, &mut rng),
    }
}

fn features(o: &SynthOptions, rng: &mut Rng) -> Vec<Vec<f64>> {
    let mut cols = vec![Vec::with_capacity(o.rows); o.features];
    for _ in 0..o.rows {
        for c in cols.iter_mut() {
            c.push(round4(rng.normal()));
        }
    }
    cols
}

// Rows are drawn one at a time across column-major features.
#[allow(clippy::needless_range_loop)]
fn classification(o: &SynthOptions, rng: &mut Rng) -> Result<Table> {
    if o.classes < 2 {
        return Err(DataError::Invalid("--classes must be at least 2".into()));
    }
    let d = o.features;
    // Class weights: the first half of the features carry the signal.
    let informative = d.div_ceil(2);
    let w: Vec<Vec<f64>> = (0..o.classes)
        .map(|_| (0..d).map(|j| if j < informative { round4(rng.normal() * 1.5) } else { 0.0 }).collect())
        .collect();
    let seg_effect: Vec<Vec<f64>> =
        (0..o.classes).map(|_| (0..4).map(|_| round4(rng.normal() * 0.5)).collect()).collect();
    let x = features(o, rng);
    let mut segment = Vec::with_capacity(o.rows);
    let mut target = Vec::with_capacity(o.rows);
    for i in 0..o.rows {
        let s = rng.weighted(&[0.4, 0.3, 0.2, 0.1]);
        let scores: Vec<f64> =
            (0..o.classes).map(|c| (0..d).map(|j| w[c][j] * x[j][i]).sum::<f64>() + seg_effect[c][s]).collect();
        let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let p: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
        target.push(rng.weighted(&p) as i64);
        segment.push(["a", "b", "c", "d"][s]);
    }
    let mut cols: Vec<Column> = x.into_iter().enumerate().map(|(j, v)| Column::float(format!("f{j}"), v)).collect();
    cols.push(Column::strings("segment", &segment));
    cols.push(Column::int("target", target));
    Table::new(cols)
}

fn regression(o: &SynthOptions, rng: &mut Rng) -> Result<Table> {
    let d = o.features;
    let w: Vec<f64> = (0..d).map(|_| ((rng.uniform() * 6.0 - 3.0) * 100.0).round() / 100.0).collect();
    let x = features(o, rng);
    let target: Vec<f64> = (0..o.rows)
        .map(|i| {
            let lin: f64 = (0..d).map(|j| w[j] * x[j][i]).sum();
            let inter = if d > 1 { 0.5 * x[0][i] * x[1][i] } else { 0.0 };
            round4(lin + inter + rng.normal_with(0.0, 0.5))
        })
        .collect();
    let mut cols: Vec<Column> = x.into_iter().enumerate().map(|(j, v)| Column::float(format!("x{j}"), v)).collect();
    cols.push(Column::float("target", target));
    Table::new(cols)
}

/// 2024-01-01 00:00:00 UTC.
const FORECAST_START: i64 = 1_704_067_200;

fn forecast(o: &SynthOptions, rng: &mut Rng) -> Result<Table> {
    let (mut ts, mut temp, mut hum, mut load) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..o.rows {
        let t = FORECAST_START + 3600 * i as i64;
        let hour = (i % 24) as f64;
        let temperature = round4(rng.normal_with(20.0, 5.0));
        let humidity = round4(rng.normal_with(60.0, 10.0));
        let daily = (2.0 * std::f64::consts::PI * (hour - 6.0) / 24.0).sin();
        let l =
            1000.0 + 12.0 * (temperature - 20.0) - 4.0 * (humidity - 60.0) + 80.0 * daily + rng.normal_with(0.0, 30.0);
        ts.push(t);
        temp.push(temperature);
        hum.push(humidity);
        load.push(round4(l));
    }
    Table::new(vec![
        Column::timestamp("timestamp", ts),
        Column::float("temperature", temp),
        Column::float("humidity", hum),
        Column::float("load", load),
    ])
}

const POSITIVE: [&str; 12] = [
    "great",
    "excellent",
    "wonderful",
    "fast",
    "friendly",
    "reliable",
    "delightful",
    "superb",
    "helpful",
    "smooth",
    "perfect",
    "lovely",
];
const NEGATIVE: [&str; 12] = [
    "terrible",
    "awful",
    "slow",
    "rude",
    "broken",
    "disappointing",
    "poor",
    "buggy",
    "useless",
    "painful",
    "horrible",
    "late",
];
const NOUNS: [&str; 10] =
    ["service", "delivery", "app", "support", "product", "staff", "checkout", "update", "experience", "package"];
const FILLER: [&str; 8] = ["really", "quite", "very", "honestly", "overall", "again", "today", "so"];

fn text(o: &SynthOptions, rng: &mut Rng) -> Result<Table> {
    let mut texts = Vec::with_capacity(o.rows);
    let mut labels = Vec::with_capacity(o.rows);
    let pick = |rng: &mut Rng, words: &[&'static str]| words[rng.below(words.len() as u64) as usize];
    for _ in 0..o.rows {
        let positive = rng.uniform() < 0.5;
        let words = if positive { &POSITIVE } else { &NEGATIVE };
        let noun = pick(rng, &NOUNS);
        let a = pick(rng, words);
        let filler = pick(rng, &FILLER);
        let sentence = match rng.below(3) {
            0 => format!("the {noun} was {filler} {a}"),
            1 => format!("{filler} {a} {noun}, {}", pick(rng, words)),
            _ => format!("what a {a} {noun}"),
        };
        let flip = rng.uniform() < 0.05;
        labels.push(if positive != flip { "positive" } else { "negative" });
        texts.push(sentence);
    }
    Table::new(vec![Column::strings("text", &texts), Column::strings("label", &labels)])
}

fn anomaly(o: &SynthOptions, rng: &mut Rng) -> Result<Table> {
    if !(0.0..=0.5).contains(&o.contamination) {
        return Err(DataError::Invalid(format!("--contamination is {}, expected 0 to 0.5", o.contamination)));
    }
    let outliers = (o.rows as f64 * o.contamination).round() as usize;
    let mut flags: Vec<i64> = (0..o.rows).map(|i| i64::from(i < outliers)).collect();
    rng.shuffle(&mut flags);
    let mut cols = vec![Vec::with_capacity(o.rows); o.features];
    for flag in &flags {
        for c in cols.iter_mut() {
            c.push(round4(if *flag == 1 { rng.uniform() * 12.0 - 6.0 } else { rng.normal() }));
        }
    }
    let mut out: Vec<Column> = cols.into_iter().enumerate().map(|(j, v)| Column::float(format!("x{j}"), v)).collect();
    out.push(Column::int("is_anomaly", flags));
    Table::new(out)
}

/// A change applied to a copy of a table, to exercise drift checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    /// Add `by` to every value of a numeric column.
    Shift { column: String, by: f64 },
    /// Multiply deviations from the column mean by `by` (the mean stays).
    Scale { column: String, by: f64 },
    /// Reassign values of a categorical column so `level` has `share` of the rows.
    Mix { column: String, level: String, share: f64 },
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Shift { column, by } => write!(f, "shift:{column}={by}"),
            Drift::Scale { column, by } => write!(f, "scale:{column}={by}"),
            Drift::Mix { column, level, share } => write!(f, "mix:{column}={level}:{share}"),
        }
    }
}

impl Drift {
    pub const FORMS: &'static str = "shift:COLUMN=DELTA, scale:COLUMN=FACTOR or mix:COLUMN=LEVEL:SHARE";

    pub fn parse(s: &str) -> Result<Drift> {
        let bad = |why: &str| DataError::Invalid(format!("invalid drift {s:?}: {why}; use {}", Drift::FORMS));
        let (op, rest) = s.split_once(':').ok_or_else(|| bad("missing ':'"))?;
        let (column, val) = rest.split_once('=').ok_or_else(|| bad("missing '='"))?;
        let column = column.to_string();
        let num = |v: &str| v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| bad("not a number"));
        match op {
            "shift" => Ok(Drift::Shift { column, by: num(val)? }),
            "scale" => Ok(Drift::Scale { column, by: num(val)? }),
            "mix" => {
                let (level, share) = val.rsplit_once(':').ok_or_else(|| bad("mix needs LEVEL:SHARE"))?;
                let share = num(share)?;
                if !(0.0..=1.0).contains(&share) {
                    return Err(bad("the share must be between 0 and 1"));
                }
                Ok(Drift::Mix { column, level: level.to_string(), share })
            }
            _ => Err(bad("unknown operation")),
        }
    }
}

/// Applies drifts in order to a copy of the table.
pub fn apply_drift(table: &Table, drifts: &[Drift], seed: u64) -> Result<Table> {
    let mut rng = Rng::new(seed ^ 0x000D_81F7);
    let mut cols = table.clone().into_columns();
    for d in drifts {
        let name = match d {
            Drift::Shift { column, .. } | Drift::Scale { column, .. } | Drift::Mix { column, .. } => column,
        };
        let Some(c) = cols.iter_mut().find(|c| &c.name == name) else {
            return Err(DataError::MissingColumns { missing: vec![name.clone()], available: table.names() });
        };
        let wrong = |expected: &str, c: &Column| DataError::WrongType {
            column: c.name.clone(),
            expected: expected.into(),
            found: c.ty().to_string(),
        };
        match (d, &mut c.data) {
            (Drift::Shift { by, .. }, ColumnData::Float(v)) => v.iter_mut().for_each(|x| *x = round4(*x + by)),
            (Drift::Scale { by, .. }, ColumnData::Float(v)) => {
                let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
                v.iter_mut().for_each(|x| *x = round4(mean + (*x - mean) * by));
            }
            (Drift::Mix { level, share, .. }, ColumnData::Str { levels, codes }) => {
                let target = match levels.iter().position(|l| l == level) {
                    Some(p) => p as u32,
                    None => {
                        levels.push(level.clone());
                        (levels.len() - 1) as u32
                    }
                };
                let n = codes.len().max(1) as f64;
                let cur = codes.iter().filter(|c| **c == target).count() as f64 / n;
                let mut counts = vec![0f64; levels.len()];
                codes.iter().for_each(|c| counts[*c as usize] += 1.0);
                counts[target as usize] = 0.0;
                for code in codes.iter_mut() {
                    if *share > cur && *code != target && rng.uniform() < (share - cur) / (1.0 - cur) {
                        *code = target;
                    } else if *share < cur
                        && *code == target
                        && rng.uniform() < (cur - share) / cur
                        && counts.iter().sum::<f64>() > 0.0
                    {
                        *code = rng.weighted(&counts) as u32;
                    }
                }
            }
            (Drift::Mix { .. }, _) => return Err(wrong("str", c)),
            (_, _) => return Err(wrong("float", c)),
        }
    }
    Table::new(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_table_and_another_seed_does_not() {
        for kind in Kind::ALL {
            let k = Kind::parse(kind).unwrap();
            let o = SynthOptions { rows: 200, ..Default::default() };
            let a = generate(k, &o).unwrap();
            assert_eq!(a, generate(k, &o).unwrap(), "{kind}");
            assert_ne!(a, generate(k, &SynthOptions { seed: 7, ..o.clone() }).unwrap(), "{kind}");
            assert_eq!(a.rows(), 200);
        }
    }

    #[test]
    fn forecast_load_depends_on_temperature() {
        let t = generate(Kind::Forecast, &SynthOptions { rows: 5000, ..Default::default() }).unwrap();
        let x = t.column("temperature").unwrap();
        let y = t.column("load").unwrap();
        let n = t.rows() as f64;
        let (mx, my) = (
            (0..t.rows()).map(|i| x.as_f64(i).unwrap()).sum::<f64>() / n,
            (0..t.rows()).map(|i| y.as_f64(i).unwrap()).sum::<f64>() / n,
        );
        let cov: f64 =
            (0..t.rows()).map(|i| (x.as_f64(i).unwrap() - mx) * (y.as_f64(i).unwrap() - my)).sum::<f64>() / n;
        assert!(cov / 25.0 > 8.0, "slope {}", cov / 25.0);
        assert_eq!(x.len(), 5000);
        assert_eq!(t.column("timestamp").unwrap().display(25), "2024-01-02 01:00:00");
    }

    #[test]
    fn anomaly_data_has_the_exact_share_of_outliers() {
        let t =
            generate(Kind::Anomaly, &SynthOptions { rows: 1000, contamination: 0.07, ..Default::default() }).unwrap();
        let c = t.column("is_anomaly").unwrap();
        assert_eq!((0..1000).filter(|i| c.as_f64(*i) == Some(1.0)).count(), 70);
    }

    #[test]
    fn drift_shifts_scales_and_remixes() {
        let o = SynthOptions { rows: 4000, ..Default::default() };
        let base = generate(Kind::Classification, &o).unwrap();
        let drifts = ["shift:f0=2", "scale:f1=3", "mix:segment=d:0.6"].map(|d| Drift::parse(d).unwrap());
        let drifted = apply_drift(&base, &drifts, 1).unwrap();
        let mean = |t: &Table, c: &str| {
            (0..t.rows()).map(|i| t.column(c).unwrap().as_f64(i).unwrap()).sum::<f64>() / t.rows() as f64
        };
        assert!((mean(&drifted, "f0") - mean(&base, "f0") - 2.0).abs() < 1e-6);
        let share = (0..drifted.rows()).filter(|i| drifted.column("segment").unwrap().str_at(*i) == Some("d")).count()
            as f64
            / 4000.0;
        assert!((share - 0.6).abs() < 0.03, "{share}");
        assert!(Drift::parse("shift:f0").is_err());
        assert!(apply_drift(&base, &[Drift::parse("shift:segment=1").unwrap()], 1).is_err());
        assert!(apply_drift(&base, &[Drift::parse("shift:nope=1").unwrap()], 1).is_err());
    }
}
