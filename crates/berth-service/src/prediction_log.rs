//! The prediction log's format, shared by the server that writes it and
//! the monitor that reads it back.
//!
//! A log is a directory. Each prediction segment is one Parquet file,
//! `predictions-<model>-v<version>-<replica>-<started>-<since>-<seq>.parquet`,
//! holding one row per predicted row: `request_id`, `row` (its place in the
//! request), `ts` (seconds since the epoch), `model`, `version`,
//! `latency_ms`, the inputs as they arrived (a name the log uses itself gets
//! `input_` before it), then `prediction` (label or value) and a
//! `proba_<class>` column per class. Labels that arrive later are feedback
//! segments in `feedback/`: `request_id`, `row`, `ts`, `label` (text) and
//! `value` (number), one of the two set. Segments appear by rename and the
//! hidden `.…partial.parquet` files are never read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use berth_data::{Column, ReadOptions, Table};

use crate::{Result, ServiceError};

/// The columns every prediction segment has, before the inputs.
pub const LOG_COLUMNS: [&str; 6] = ["request_id", "row", "ts", "model", "version", "latency_ms"];
/// The predicted label (text) or value (number).
pub const PREDICTION_COLUMN: &str = "prediction";
/// Each class's probability is a column `proba_<class>`.
pub const PROBA_PREFIX: &str = "proba_";
/// Where feedback segments live, inside the log directory.
pub const FEEDBACK_DIR: &str = "feedback";

/// Whether the log uses `name` for itself (an input of that name is
/// written as `input_<name>`).
pub fn reserved(name: &str) -> bool {
    LOG_COLUMNS.contains(&name) || name == PREDICTION_COLUMN || name.starts_with(PROBA_PREFIX)
}

/// The column an input named `name` is logged as.
pub fn logged_name(name: &str) -> String {
    if reserved(name) { format!("input_{name}") } else { name.to_string() }
}

/// How the segments of one version's predictions begin.
pub fn segment_prefix(model: &str, version: &str) -> String {
    format!("predictions-{model}-v{version}-")
}

/// One label that arrived for a logged row.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    /// Seconds since the epoch.
    pub at: i64,
    pub request_id: String,
    pub row: u32,
    pub label: Option<String>,
    pub value: Option<f64>,
}

/// The table a feedback segment holds.
pub fn feedback_table(rows: &[Feedback]) -> berth_data::Result<Table> {
    let ids: Vec<&str> = rows.iter().map(|f| f.request_id.as_str()).collect();
    let labels: Vec<&str> = rows.iter().map(|f| f.label.as_deref().unwrap_or_default()).collect();
    Table::new(vec![
        Column::strings("request_id", &ids),
        Column::int("row", rows.iter().map(|f| i64::from(f.row)).collect()),
        Column::timestamp("ts", rows.iter().map(|f| f.at).collect()),
        Column::strings("label", &labels).with_valid(rows.iter().map(|f| f.label.is_some()).collect()),
        Column::float("value", rows.iter().map(|f| f.value.unwrap_or(f64::NAN)).collect())
            .with_valid(rows.iter().map(|f| f.value.is_some()).collect()),
    ])
}

/// Writes `table` as `dir/name` through a hidden temporary file and a
/// rename, so that a reader never sees half a segment.
pub fn write_segment(dir: &Path, name: &str, table: &Table) -> berth_data::Result<PathBuf> {
    let at = dir.join(name);
    let tmp = dir.join(format!(".{name}.partial.parquet"));
    berth_data::write_table(table, &tmp)?;
    std::fs::rename(&tmp, &at).map_err(|source| berth_data::DataError::Io { path: at.clone(), source })?;
    Ok(at)
}

/// Writes the bytes of a segment read elsewhere (the store) as `dir/name`,
/// through a hidden temporary file and a rename, creating `dir`.
pub fn write_segment_bytes(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let at = dir.join(name);
    let tmp = dir.join(format!(".{name}.partial.parquet"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &at)?;
    Ok(at)
}

fn log_error(dir: &Path, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::input(
        format!("the prediction log {}: {e}", dir.display()),
        Some("point at the directory `berth serve --prediction-log DIR` writes".into()),
    )
}

/// Every prediction of one version in the log, segments in name order.
/// `None` when it has none.
pub fn read_predictions(dir: &Path, model: &str, version: u64) -> Result<Option<Table>> {
    if !dir.is_dir() {
        return Err(log_error(dir, "no such directory"));
    }
    let prefix = segment_prefix(model, &version.to_string());
    let files: Vec<PathBuf> = berth_data::data_files(dir)
        .map_err(|e| log_error(dir, e))?
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
        .collect();
    if files.is_empty() {
        return Ok(None);
    }
    Ok(Some(berth_data::read_files(&files, &ReadOptions::default()).map_err(|e| log_error(dir, e))?))
}

/// One labelled row of a request: its row, when the label came, the label
/// (its code among the label texts) or value (number).
type Labelled = (u32, i64, Option<u32>, Option<f64>);

/// The labelled rows of one request: most requests are one row.
#[derive(Debug, Default)]
enum Slot {
    #[default]
    Empty,
    One(Labelled),
    Many(Vec<Labelled>),
}

impl Slot {
    fn rows(&self) -> &[Labelled] {
        match self {
            Slot::Empty => &[],
            Slot::One(l) => std::slice::from_ref(l),
            Slot::Many(v) => v,
        }
    }
}

/// What the feedback says about each logged row, the newest label winning.
/// Request ids and label texts are kept once each, as the feedback
/// segments' dictionaries hold them.
#[derive(Debug, Default)]
pub struct Labels {
    /// request id → its code, the position of its slot.
    ids: berth_data::TextIndex,
    slots: Vec<Slot>,
    texts: Vec<String>,
    rows: usize,
    /// Labels received in all.
    pub received: u64,
    /// Labels that replaced an earlier one for the same row.
    pub replaced: u64,
}

impl Labels {
    /// The label (text) and value (number) for one row, if it has any.
    pub fn get(&self, request_id: &str, row: u32) -> Option<(Option<&str>, Option<f64>)> {
        let code = self.ids.lookup(request_id)?;
        let (_, _, l, v) = self.slots.get(code as usize)?.rows().iter().find(|e| e.0 == row)?;
        Some((l.map(|c| self.texts[c as usize].as_str()), *v))
    }

    /// Labelled rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    fn add(&mut self, id: u32, e: Labelled) {
        self.received += 1;
        let slot = &mut self.slots[id as usize];
        let existing = match slot {
            Slot::Empty => None,
            Slot::One(l) if l.0 == e.0 => Some(l),
            Slot::One(_) => None,
            Slot::Many(v) => v.iter_mut().find(|l| l.0 == e.0),
        };
        match existing {
            Some(l) => {
                self.replaced += 1;
                // Last write wins: the later label, or at the same second the one read later.
                if e.1 >= l.1 {
                    *l = e;
                }
            }
            None => {
                *slot = match std::mem::take(slot) {
                    Slot::Empty => Slot::One(e),
                    Slot::One(first) => Slot::Many(vec![first, e]),
                    Slot::Many(mut v) => {
                        v.push(e);
                        Slot::Many(v)
                    }
                };
                self.rows += 1;
            }
        }
    }
}

/// Every label in the log's `feedback/` directory (empty when there is none).
pub fn read_labels(dir: &Path) -> Result<Labels> {
    let fdir = dir.join(FEEDBACK_DIR);
    let mut labels = Labels::default();
    if !fdir.is_dir() {
        return Ok(labels);
    }
    let files = berth_data::data_files(&fdir).map_err(|e| log_error(&fdir, e))?;
    if files.is_empty() {
        return Ok(labels);
    }
    let t = berth_data::read_files(&files, &ReadOptions::default()).map_err(|e| log_error(&fdir, e))?;
    let n = t.rows();
    let mut columns: HashMap<String, Column> = t.into_columns().into_iter().map(|c| (c.name.clone(), c)).collect();
    let mut take = |name: &str| {
        columns.remove(name).ok_or_else(|| log_error(&fdir, format!("a feedback segment has no {name:?} column")))
    };
    let (ids, rows, ts) = (take("request_id")?, take("row")?, take("ts")?);
    let (label, value) = (take("label").ok(), take("value").ok());
    let id_valid: Vec<bool> = (0..n).map(|i| !ids.is_null(i)).collect();
    let berth_data::ColumnData::Str { levels, codes: id_codes } = ids.data else {
        return Err(log_error(&fdir, "a feedback segment's request_id column is not text"));
    };
    labels.slots = std::iter::repeat_with(Slot::default).take(levels.len()).collect();
    labels.ids = berth_data::TextIndex::from_levels(levels).ready();
    // A label is text; a segment whose label column is not has values only.
    let label_codes: Option<(Vec<u32>, Vec<bool>)> = label.and_then(|c| {
        let valid = (0..n).map(|i| !c.is_null(i)).collect();
        match c.data {
            berth_data::ColumnData::Str { levels, codes } => {
                labels.texts = levels;
                Some((codes, valid))
            }
            _ => None,
        }
    });
    for i in 0..n {
        let (true, Some(row)) = (id_valid[i], rows.as_f64(i)) else { continue };
        let at = ts.as_f64(i).unwrap_or(0.0) as i64;
        let l = label_codes.as_ref().and_then(|(codes, valid)| valid[i].then_some(codes[i]));
        let v = value.as_ref().and_then(|c| c.as_f64(i)).filter(|v| !v.is_nan());
        if l.is_some() || v.is_some() {
            labels.add(id_codes[i], (row as u32, at, l, v));
        }
    }
    Ok(labels)
}

/// `berth feedback`: labels for logged predictions, from a file.
#[derive(Debug, Clone)]
pub struct FeedbackBatch {
    pub data: PathBuf,
    pub id_column: String,
    /// Text (labels) or numbers (values; whole numbers also name classes).
    pub target: String,
    /// Each label's row within its request; without it, row 0.
    pub row_column: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FeedbackBatchReport {
    pub segment: PathBuf,
    pub labels: u64,
    /// Rows left out because their id or target was empty.
    pub skipped: u64,
    /// Labels whose request id is in the log's predictions now.
    pub matched: u64,
    pub unmatched: u64,
}

/// Writes the labels in `batch.data` as one feedback segment of the log
/// at `dir`.
pub fn record_feedback(dir: &Path, batch: &FeedbackBatch) -> Result<FeedbackBatchReport> {
    if !dir.is_dir() {
        return Err(log_error(dir, "no such directory"));
    }
    let t = berth_data::read_table(&batch.data, &ReadOptions::default())?;
    let shown = batch.data.display();
    let column = |name: &str, flag: &str| {
        t.column(name).ok_or_else(|| {
            ServiceError::input(
                format!("{shown} has no column {name:?}; its columns are {}", t.names().join(", ")),
                Some(format!("name the column with {flag}")),
            )
        })
    };
    let ids = column(&batch.id_column, "--id-column")?;
    let target = column(&batch.target, "--target")?;
    let rows = batch.row_column.as_deref().map(|r| column(r, "--row-column")).transpose()?;
    let text = matches!(target.ty(), berth_data::ColumnType::Str);
    if !text && !matches!(target.ty(), berth_data::ColumnType::Float | berth_data::ColumnType::Int) {
        return Err(ServiceError::input(
            format!(
                "the target column {:?} of {shown} holds {:?} values, not labels or numbers",
                batch.target,
                target.ty()
            ),
            None,
        ));
    }
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let mut out = Vec::with_capacity(t.rows());
    let mut skipped = 0;
    for i in 0..t.rows() {
        let id = match (ids.str_at(i), ids.as_f64(i)) {
            (Some(s), _) if !s.is_empty() => s.to_string(),
            (None, Some(n)) => number_as_class(n),
            _ => {
                skipped += 1;
                continue;
            }
        };
        let row = match rows.map(|r| r.as_f64(i)) {
            None => 0,
            Some(Some(r)) if r >= 0.0 && r.fract() == 0.0 && r <= f64::from(u32::MAX) => r as u32,
            Some(other) => {
                return Err(ServiceError::input(
                    format!(
                        "row {i} of {shown}: the row number {} is not a whole number from 0",
                        other.map_or("(empty)".to_string(), |r| r.to_string())
                    ),
                    None,
                ));
            }
        };
        let (label, value) = if text {
            (target.str_at(i).map(str::to_string), None)
        } else {
            (None, target.as_f64(i).filter(|v| v.is_finite()))
        };
        if label.is_none() && value.is_none() {
            skipped += 1;
            continue;
        }
        out.push(Feedback { at, request_id: id, row, label, value });
    }
    let logged: std::collections::HashSet<String> = logged_request_ids(dir)?;
    let matched = out.iter().filter(|f| logged.contains(&f.request_id)).count() as u64;
    let fdir = dir.join(FEEDBACK_DIR);
    std::fs::create_dir_all(&fdir).map_err(|e| log_error(&fdir, e))?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let name = format!("feedback-batch-{}-{nanos}.parquet", std::process::id());
    let segment = write_segment(&fdir, &name, &feedback_table(&out)?)?;
    let labels = out.len() as u64;
    Ok(FeedbackBatchReport { segment, labels, skipped, matched, unmatched: labels - matched })
}

/// Every request id in the log's prediction segments.
fn logged_request_ids(dir: &Path) -> Result<std::collections::HashSet<String>> {
    let files: Vec<PathBuf> = berth_data::data_files(dir)
        .map_err(|e| log_error(dir, e))?
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("predictions-")))
        .collect();
    if files.is_empty() {
        return Ok(Default::default());
    }
    let opts = ReadOptions { columns: Some(vec!["request_id".to_string()]), ..ReadOptions::default() };
    let t = berth_data::read_files(&files, &opts).map_err(|e| log_error(dir, e))?;
    let Some(c) = t.column("request_id") else { return Ok(Default::default()) };
    Ok((0..c.len()).filter_map(|i| c.str_at(i).map(str::to_string)).collect())
}

/// A number as a class label: `1` for 1.0, else as Rust writes it.
pub fn number_as_class(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { v.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_label_wins_and_replacements_are_counted() {
        let d = tempfile::tempdir().unwrap();
        let fdir = d.path().join(FEEDBACK_DIR);
        std::fs::create_dir_all(&fdir).unwrap();
        let f = |at, id: &str, label: &str| Feedback {
            at,
            request_id: id.into(),
            row: 0,
            label: Some(label.into()),
            value: None,
        };
        write_segment(&fdir, "feedback-a.parquet", &feedback_table(&[f(10, "r1", "yes"), f(5, "r2", "no")]).unwrap())
            .unwrap();
        write_segment(&fdir, "feedback-b.parquet", &feedback_table(&[f(3, "r1", "no"), f(7, "r2", "yes")]).unwrap())
            .unwrap();
        let labels = read_labels(d.path()).unwrap();
        assert_eq!((labels.received, labels.replaced, labels.len()), (4, 2, 2));
        assert_eq!(labels.get("r1", 0), Some((Some("yes"), None)));
        assert_eq!(labels.get("r2", 0), Some((Some("yes"), None)));
        assert_eq!(labels.get("r2", 1), None);
    }

    #[test]
    fn inputs_the_log_names_itself_are_renamed() {
        assert_eq!((logged_name("row").as_str(), logged_name("age").as_str()), ("input_row", "age"));
        assert_eq!(logged_name("proba_x"), "input_proba_x");
        assert_eq!((number_as_class(1.0), number_as_class(2.5)), ("1".to_string(), "2.5".to_string()));
    }
}
