//! Turning table columns into the dense numeric matrix models work on.
//!
//! Numeric columns (float, int, bool) are standardised with the training
//! mean and (population) standard deviation; a timestamp column becomes its
//! trend (the standardised time) and the sine and cosine of each calendar
//! cycle that varies in the training rows (hour of day, day of week, day of
//! year, month, in UTC), so a linear model sees a daily cycle; text columns are
//! one-hot encoded over the levels seen in training (a level unseen in
//! training encodes as all zeros). Nulls, NaN and infinities in a feature
//! are refused, at training and at prediction, with the column, the count and
//! the first row: berth never guesses a value for the user.
//!
//! Models that handle missing values and categories themselves (histogram
//! gradient boosting) use the native encoding instead: numeric columns as
//! they are, text columns as one column of level codes, a timestamp as its
//! time plus hour of day, day of week and month as categories and day of
//! year as a number, and nulls, NaN and unseen levels as NaN (missing); only
//! infinities are refused.

use berth_data::{Calendar, ColumnType, Table};
use serde::{Deserialize, Serialize};

use crate::{MlError, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FeatureKind {
    Numeric {
        mean: f64,
        scale: f64,
    },
    Categorical {
        levels: Vec<String>,
    },
    /// One column holding the level's position in `levels`; a null or a
    /// level unseen in training encodes as NaN (missing).
    Category {
        levels: Vec<String>,
    },
    /// A timestamp: its trend, `(seconds - mean) / scale`, then each of
    /// `parts` as a sine and cosine pair, or, `native`, as a category code
    /// (day of year as its number).
    Time {
        mean: f64,
        scale: f64,
        parts: Vec<TimePart>,
        #[serde(default, skip_serializing_if = "is_false")]
        native: bool,
    },
}

/// A calendar cycle of a timestamp, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePart {
    HourOfDay,
    DayOfWeek,
    DayOfYear,
    Month,
}

impl TimePart {
    pub const ALL: [TimePart; 4] = [TimePart::HourOfDay, TimePart::DayOfWeek, TimePart::DayOfYear, TimePart::Month];

    /// The position in the cycle as a share of a turn, in [0, 1).
    fn phase(self, c: &Calendar) -> f64 {
        match self {
            TimePart::HourOfDay => c.hour_fraction / 24.0,
            TimePart::DayOfWeek => f64::from(c.day_of_week) / 7.0,
            TimePart::DayOfYear => f64::from(c.day_of_year - 1) / f64::from(c.days_in_year),
            TimePart::Month => f64::from(c.month - 1) / 12.0,
        }
    }

    /// The native encoding: a category code (hour, weekday, month − 1), or
    /// the day of the year as a number.
    fn code(self, c: &Calendar) -> u32 {
        match self {
            TimePart::HourOfDay => c.hour,
            TimePart::DayOfWeek => c.day_of_week,
            TimePart::DayOfYear => c.day_of_year,
            TimePart::Month => c.month - 1,
        }
    }

    /// How many categories the native encoding has; `None` for a number.
    fn levels(self) -> Option<usize> {
        match self {
            TimePart::HourOfDay => Some(24),
            TimePart::DayOfWeek => Some(7),
            TimePart::DayOfYear => None,
            TimePart::Month => Some(12),
        }
    }
}

/// The calendar parts that take more than one value over `rows` of `c`.
fn varying_parts(c: &berth_data::Column, rows: &[usize]) -> Vec<TimePart> {
    let mut first: Option<[u32; 4]> = None;
    let mut varies = [false; 4];
    for &i in rows {
        let Some(secs) = c.as_f64(i).filter(|x| x.is_finite()) else { continue };
        let cal = Calendar::of(secs as i64);
        let codes = TimePart::ALL.map(|p| p.code(&cal));
        match first {
            None => first = Some(codes),
            Some(f) => (0..4).for_each(|k| varies[k] |= f[k] != codes[k]),
        }
        if varies.iter().all(|v| *v) {
            break;
        }
    }
    TimePart::ALL.into_iter().zip(varies).filter(|(_, v)| *v).map(|(p, _)| p).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    #[serde(rename = "type")]
    pub input: ColumnType,
    #[serde(flatten)]
    pub kind: FeatureKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureEncoder {
    pub features: Vec<Feature>,
    /// Whether nulls and NaN encode as NaN (the model handles missing values)
    /// rather than being refused.
    #[serde(default, skip_serializing_if = "is_false")]
    pub missing: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A dense row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Encoded {
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// Refuses nulls, NaN and infinities in column `name` (only infinities when
/// `missing_ok`).
fn check_values(table: &Table, name: &str, missing_ok: bool) -> Result<()> {
    let c = table.column(name).expect("caller checked");
    let mut bad = 0;
    let mut first = None;
    let mut what = "null";
    for i in 0..c.len() {
        let problem = if c.is_null(i) {
            (!missing_ok).then_some("null")
        } else {
            match c.as_f64(i) {
                Some(x) if x.is_nan() => (!missing_ok).then_some("NaN"),
                Some(x) if x.is_infinite() => Some("infinite"),
                _ => None,
            }
        };
        if let Some(p) = problem {
            bad += 1;
            if first.is_none() {
                first = Some(i);
                what = p;
            }
        }
    }
    match first {
        Some(first_row) => Err(MlError::BadValues {
            column: name.to_string(),
            what: if bad > 1 { "null, NaN or infinite" } else { what },
            count: bad,
            first_row,
        }),
        None => Ok(()),
    }
}

fn require(table: &Table, names: &[String]) -> Result<()> {
    let missing: Vec<String> = names.iter().filter(|n| table.column(n).is_none()).cloned().collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(berth_data::DataError::MissingColumns { missing, available: table.names() }.into())
    }
}

/// A categorical feature's column must be text.
fn require_text(name: &str, c: &berth_data::Column) -> Result<()> {
    if c.ty() == ColumnType::Str {
        return Ok(());
    }
    Err(MlError::WrongType {
        column: name.to_string(),
        expected: "the model expects text (categorical)".into(),
        found: c.ty().to_string(),
    })
}

/// The mean and (population) standard deviation of `rows` of `c`; a scale
/// of 1 for a constant column.
fn mean_scale(c: &berth_data::Column, rows: &[usize]) -> (f64, f64) {
    let n = rows.len().max(1) as f64;
    let mean = rows.iter().map(|&i| c.as_f64(i).unwrap_or(0.0)).sum::<f64>() / n;
    let var = rows.iter().map(|&i| (c.as_f64(i).unwrap_or(0.0) - mean).powi(2)).sum::<f64>() / n;
    (mean, if var > 0.0 { var.sqrt() } else { 1.0 })
}

/// A numeric or time feature's column must not be text.
fn require_numeric(f: &Feature, c: &berth_data::Column) -> Result<()> {
    if c.ty() != ColumnType::Str {
        return Ok(());
    }
    Err(MlError::WrongType {
        column: f.name.clone(),
        expected: format!("the model expects {} (numeric)", f.input),
        found: "text".into(),
    })
}

/// The distinct values of a text column over `rows`, sorted.
fn levels_of(c: &berth_data::Column, rows: &[usize]) -> Vec<String> {
    let mut levels: Vec<String> = rows.iter().filter_map(|&i| c.str_at(i)).map(str::to_string).collect();
    levels.sort();
    levels.dedup();
    levels
}

impl FeatureEncoder {
    /// Learns the encoding of `names` from the training rows `rows`.
    pub fn fit(table: &Table, names: &[String], rows: &[usize]) -> Result<FeatureEncoder> {
        require(table, names)?;
        let mut features = Vec::with_capacity(names.len());
        for name in names {
            check_values(table, name, false)?;
            let c = table.column(name).expect("checked");
            let kind = match c.ty() {
                ColumnType::Str => FeatureKind::Categorical { levels: levels_of(c, rows) },
                ColumnType::Timestamp => {
                    let (mean, scale) = mean_scale(c, rows);
                    FeatureKind::Time { mean, scale, parts: varying_parts(c, rows), native: false }
                }
                _ => {
                    let (mean, scale) = mean_scale(c, rows);
                    FeatureKind::Numeric { mean, scale }
                }
            };
            features.push(Feature { name: name.clone(), input: c.ty(), kind });
        }
        Ok(FeatureEncoder { features, missing: false })
    }

    /// Learns the native encoding of `names` from the training rows `rows`:
    /// numeric columns unchanged, text columns as level codes, missing
    /// values kept as NaN.
    pub fn fit_native(table: &Table, names: &[String], rows: &[usize]) -> Result<FeatureEncoder> {
        require(table, names)?;
        let mut features = Vec::with_capacity(names.len());
        for name in names {
            check_values(table, name, true)?;
            let c = table.column(name).expect("checked");
            let kind = match c.ty() {
                ColumnType::Str => FeatureKind::Category { levels: levels_of(c, rows) },
                ColumnType::Timestamp => {
                    FeatureKind::Time { mean: 0.0, scale: 1.0, parts: varying_parts(c, rows), native: true }
                }
                _ => FeatureKind::Numeric { mean: 0.0, scale: 1.0 },
            };
            features.push(Feature { name: name.clone(), input: c.ty(), kind });
        }
        Ok(FeatureEncoder { features, missing: true })
    }

    /// For each encoded column, the number of levels when it holds category
    /// codes, else `None`.
    pub fn category_levels(&self) -> Vec<Option<usize>> {
        let mut out = Vec::with_capacity(self.width());
        for f in &self.features {
            match &f.kind {
                FeatureKind::Numeric { .. } => out.push(None),
                FeatureKind::Categorical { levels } => out.extend(std::iter::repeat_n(None, levels.len())),
                FeatureKind::Category { levels } => out.push(Some(levels.len())),
                FeatureKind::Time { parts, native, .. } => {
                    out.push(None);
                    for p in parts {
                        if *native {
                            out.push(p.levels());
                        } else {
                            out.extend([None, None]);
                        }
                    }
                }
            }
        }
        out
    }

    pub fn width(&self) -> usize {
        self.features
            .iter()
            .map(|f| match &f.kind {
                FeatureKind::Numeric { .. } => 1,
                FeatureKind::Categorical { levels } => levels.len(),
                FeatureKind::Category { .. } => 1,
                FeatureKind::Time { parts, native, .. } => 1 + parts.len() * if *native { 1 } else { 2 },
            })
            .sum()
    }

    pub fn names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name.clone()).collect()
    }

    /// Encodes the listed rows (all rows when `rows` is `None`).
    pub fn encode(&self, table: &Table, rows: Option<&[usize]>) -> Result<Encoded> {
        require(table, &self.names())?;
        let all: Vec<usize>;
        let rows = match rows {
            Some(r) => r,
            None => {
                all = (0..table.rows()).collect();
                &all
            }
        };
        let cols = self.width();
        let mut data = vec![0.0; rows.len() * cols];
        let mut offset = 0;
        for f in &self.features {
            let c = table.column(&f.name).expect("checked");
            check_values(table, &f.name, self.missing)?;
            match &f.kind {
                FeatureKind::Numeric { mean, scale } => {
                    require_numeric(f, c)?;
                    for (r, &i) in rows.iter().enumerate() {
                        let x = if c.is_null(i) { f64::NAN } else { c.as_f64(i).unwrap_or(f64::NAN) };
                        data[r * cols + offset] = (x - mean) / scale;
                    }
                    offset += 1;
                }
                FeatureKind::Time { mean, scale, parts, native } => {
                    require_numeric(f, c)?;
                    let width = 1 + parts.len() * if *native { 1 } else { 2 };
                    for (r, &i) in rows.iter().enumerate() {
                        let out = &mut data[r * cols + offset..r * cols + offset + width];
                        match c.as_f64(i).filter(|x| x.is_finite()) {
                            None => out.fill(f64::NAN),
                            Some(secs) => {
                                out[0] = (secs - mean) / scale;
                                let cal = Calendar::of(secs as i64);
                                for (k, p) in parts.iter().enumerate() {
                                    if *native {
                                        out[1 + k] = f64::from(p.code(&cal));
                                    } else {
                                        let turn = std::f64::consts::TAU * p.phase(&cal);
                                        out[1 + 2 * k] = turn.sin();
                                        out[2 + 2 * k] = turn.cos();
                                    }
                                }
                            }
                        }
                    }
                    offset += width;
                }
                FeatureKind::Category { levels } => {
                    require_text(&f.name, c)?;
                    for (r, &i) in rows.iter().enumerate() {
                        let code = c.str_at(i).and_then(|s| levels.binary_search_by(|l| l.as_str().cmp(s)).ok());
                        data[r * cols + offset] = code.map_or(f64::NAN, |k| k as f64);
                    }
                    offset += 1;
                }
                FeatureKind::Categorical { levels } => {
                    require_text(&f.name, c)?;
                    for (r, &i) in rows.iter().enumerate() {
                        if let Some(k) = c.str_at(i).and_then(|s| levels.binary_search_by(|l| l.as_str().cmp(s)).ok()) {
                            data[r * cols + offset + k] = 1.0;
                        }
                    }
                    offset += levels.len();
                }
            }
        }
        Ok(Encoded { rows: rows.len(), cols, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_data::Column;

    #[test]
    fn numeric_features_are_standardised_and_text_one_hot() {
        let t = Table::new(vec![Column::float("x", vec![1.0, 3.0]), Column::strings("s", &["b", "a"])]).unwrap();
        let enc = FeatureEncoder::fit(&t, &["x".into(), "s".into()], &[0, 1]).unwrap();
        let e = enc.encode(&t, None).unwrap();
        assert_eq!((e.rows, e.cols), (2, 3));
        assert_eq!(e.row(0), [-1.0, 0.0, 1.0]);
        assert_eq!(e.row(1), [1.0, 1.0, 0.0]);
    }

    #[test]
    fn nulls_and_nan_are_refused_with_column_and_row() {
        let t = Table::new(vec![Column::float("x", vec![1.0, f64::NAN, 2.0])]).unwrap();
        let e = FeatureEncoder::fit(&t, &["x".into()], &[0, 1, 2]).unwrap_err().to_string();
        assert!(e.contains("\"x\" has 1 NaN value(s) (first at row 1)"), "{e}");
        let t = Table::new(vec![Column::float("x", vec![1.0, 0.0]).with_valid(vec![true, false])]).unwrap();
        assert!(FeatureEncoder::fit(&t, &["x".into()], &[0, 1]).unwrap_err().to_string().contains("null"));
    }

    #[test]
    fn the_native_encoding_keeps_missing_values_and_codes_text() {
        let t = Table::new(vec![
            Column::float("x", vec![1.0, f64::NAN, 2.0, 0.0]).with_valid(vec![true, true, true, false]),
            Column::strings("s", &["b", "a", "b", "c"]),
        ])
        .unwrap();
        let enc = FeatureEncoder::fit_native(&t, &["x".into(), "s".into()], &[0, 1, 2]).unwrap();
        assert_eq!(enc.category_levels(), [None, Some(2)]);
        let e = enc.encode(&t, None).unwrap();
        assert_eq!(e.row(0), [1.0, 1.0]);
        assert!(e.row(1)[0].is_nan() && e.row(1)[1] == 0.0);
        assert!(e.row(3)[0].is_nan() && e.row(3)[1].is_nan(), "a null and an unseen level are missing");
        let inf = Table::new(vec![Column::float("x", vec![f64::INFINITY])]).unwrap();
        assert!(FeatureEncoder::fit_native(&inf, &["x".into()], &[0]).unwrap_err().to_string().contains("infinite"));
    }

    #[test]
    fn a_timestamp_becomes_its_trend_and_the_cycles_that_vary() {
        // Hourly over two days of January 2024: hour, weekday and day of year
        // vary, the month does not.
        let secs: Vec<i64> = (0..48).map(|h| 1_704_067_200 + 3600 * h).collect();
        let t = Table::new(vec![Column::timestamp("ts", secs)]).unwrap();
        let all: Vec<usize> = (0..48).collect();
        let enc = FeatureEncoder::fit(&t, &["ts".into()], &all).unwrap();
        let FeatureKind::Time { parts, .. } = &enc.features[0].kind else { panic!("{enc:?}") };
        assert_eq!(parts, &[TimePart::HourOfDay, TimePart::DayOfWeek, TimePart::DayOfYear]);
        assert_eq!(enc.width(), 7);
        let e = enc.encode(&t, None).unwrap();
        // 06:00 is a quarter turn of the day: sin 1, cos 0.
        let six = e.row(6);
        assert!((six[1] - 1.0).abs() < 1e-12 && six[2].abs() < 1e-12, "{six:?}");
        // The trend is standardised: mean 0 over the training rows.
        assert!((0..48).map(|i| e.row(i)[0]).sum::<f64>().abs() < 1e-9);

        let native = FeatureEncoder::fit_native(&t, &["ts".into()], &all).unwrap();
        assert_eq!(native.category_levels(), [None, Some(24), Some(7), None]);
        let e = native.encode(&t, None).unwrap();
        // 2024-01-02 05:00 (row 29): hour 5, a Tuesday (1), day 2 of the year.
        assert_eq!(&e.row(29)[1..], [5.0, 1.0, 2.0]);
        assert_eq!(e.row(29)[0], 1_704_067_200.0 + 29.0 * 3600.0);
    }

    #[test]
    fn missing_features_are_all_listed() {
        let t = Table::new(vec![Column::float("x", vec![1.0])]).unwrap();
        let e = FeatureEncoder::fit(&t, &["a".into(), "x".into(), "b".into()], &[0]).unwrap_err().to_string();
        assert!(e.contains("[\"a\", \"b\"]"), "{e}");
    }
}
