//! Segments: rows gathered in memory and written as one Parquet file when
//! the segment is closed — by size, by age, when the answering version or
//! its inputs change, and at shutdown. A segment appears by rename, so a
//! reader (`berth monitor`, `berth data drift --data DIR`) never sees half of
//! one; its name carries the replica, so replicas sharing a directory never
//! write the same file.

use std::path::{Path, PathBuf};

use berth_data::{Column, Table};
use berth_ml::Prediction;
pub use berth_service::prediction_log::Feedback;
use berth_service::prediction_log::{LOG_COLUMNS, PREDICTION_COLUMN, PROBA_PREFIX, logged_name};

/// One answered request, as the writer receives it.
pub struct Logged {
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub request_id: String,
    pub model: String,
    pub version: String,
    pub latency_ms: f64,
    pub inputs: Table,
    pub prediction: Prediction,
}

impl Logged {
    /// What must match for two requests to share a segment: the version and
    /// the input columns with their types.
    fn shape(&self) -> (String, String, Vec<(String, berth_data::ColumnType)>) {
        let inputs = self.inputs.columns().iter().map(|c| (c.name.clone(), c.ty())).collect();
        (self.model.clone(), self.version.clone(), inputs)
    }

    /// A rough size in memory, for closing segments by size.
    pub fn bytes(&self) -> u64 {
        let rows = self.inputs.rows() as u64;
        let width =
            self.inputs.columns().len() as u64 + 4 + self.prediction.classes.as_ref().map_or(0, Vec::len) as u64;
        rows * (width * 8 + self.request_id.len() as u64 + 16)
    }
}

/// Rows waiting to be written as one file.
pub struct Open<T> {
    pub rows: Vec<T>,
    pub bytes: u64,
    /// Seconds since the epoch when the first row arrived.
    pub since: i64,
}

impl<T> Open<T> {
    pub fn new(since: i64) -> Open<T> {
        Open { rows: Vec::new(), bytes: 0, since }
    }
}

/// The open prediction segment, if any, and whether `next` fits in it.
pub fn fits(open: &Open<Logged>, next: &Logged) -> bool {
    open.rows.first().is_none_or(|first| first.shape() == next.shape())
}

/// The table a prediction segment holds: the log's own columns, then the
/// inputs as they arrived (a name the log uses for itself gets `input_`
/// before it), then the prediction and its probabilities.
pub fn prediction_table(rows: &[Logged]) -> berth_data::Result<Table> {
    let n: usize = rows.iter().map(|r| r.inputs.rows()).sum();
    let mut request_id = Vec::with_capacity(n);
    let (mut row, mut ts, mut latency) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for r in rows {
        for i in 0..r.inputs.rows() {
            request_id.push(r.request_id.as_str());
            row.push(i as i64);
            ts.push(r.at);
            latency.push(r.latency_ms);
        }
    }
    let first = rows.first();
    fn same(v: Option<&str>, n: usize) -> Vec<&str> {
        vec![v.unwrap_or_default(); n]
    }
    let mut columns = vec![
        Column::strings(LOG_COLUMNS[0], &request_id),
        Column::int(LOG_COLUMNS[1], row),
        Column::timestamp(LOG_COLUMNS[2], ts),
        Column::strings(LOG_COLUMNS[3], &same(first.map(|r| r.model.as_str()), n)),
        Column::strings(LOG_COLUMNS[4], &same(first.map(|r| r.version.as_str()), n)),
        Column::float(LOG_COLUMNS[5], latency),
    ];
    let inputs = Table::concat(rows.iter().map(|r| r.inputs.clone()).collect())?;
    for mut c in inputs.into_columns() {
        c.name = logged_name(&c.name);
        columns.push(c);
    }
    columns.extend(prediction_columns(rows, n));
    Table::new(columns)
}

fn prediction_columns(rows: &[Logged], n: usize) -> Vec<Column> {
    let Some(first) = rows.first() else { return Vec::new() };
    let p = &first.prediction;
    let mut out = Vec::new();
    if p.labels.is_some() {
        let labels: Vec<&str> =
            rows.iter().flat_map(|r| r.prediction.labels.iter().flatten().map(String::as_str)).collect();
        out.push(Column::strings(PREDICTION_COLUMN, &labels));
    } else if p.values.is_some() {
        out.push(Column::float(
            PREDICTION_COLUMN,
            rows.iter().flat_map(|r| r.prediction.values.iter().flatten().copied()).collect(),
        ));
    }
    if let (Some(classes), Some(_)) = (&p.classes, &p.probabilities) {
        for (k, class) in classes.iter().enumerate() {
            let v: Vec<f64> = rows
                .iter()
                .flat_map(|r| {
                    r.prediction
                        .probabilities
                        .iter()
                        .flatten()
                        .map(move |probs| probs.get(k).copied().unwrap_or(f64::NAN))
                })
                .collect();
            if v.len() == n {
                out.push(Column::float(format!("{PROBA_PREFIX}{class}"), v));
            }
        }
    }
    out.retain(|c| c.len() == n);
    out
}

/// The segments in `dir` (not the hidden ones being written), oldest first
/// by modification time, with their sizes.
pub fn segments_by_age(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out: Vec<(std::time::SystemTime, PathBuf, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && name.ends_with(".parquet")
        })
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((m.modified().ok()?, e.path(), m.len()))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, p, n)| (p, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(id: &str, version: &str, x: &[f64], labels: &[&str]) -> Logged {
        Logged {
            at: 1_700_000_000,
            request_id: id.into(),
            model: "churn".into(),
            version: version.into(),
            latency_ms: 1.5,
            inputs: Table::new(vec![Column::float("x", x.to_vec()), Column::float("row", x.to_vec())]).unwrap(),
            prediction: Prediction {
                values: None,
                labels: Some(labels.iter().map(|s| s.to_string()).collect()),
                probabilities: Some(labels.iter().map(|_| vec![0.25, 0.75]).collect()),
                classes: Some(vec!["no".into(), "yes".into()]),
            },
        }
    }

    #[test]
    fn a_segment_holds_one_row_per_predicted_row_with_its_request() {
        let rows = vec![logged("a", "3", &[1.0, 2.0], &["no", "yes"]), logged("b", "3", &[3.0], &["yes"])];
        let t = prediction_table(&rows).unwrap();
        assert_eq!(t.rows(), 3);
        assert_eq!(
            t.names(),
            [
                "request_id",
                "row",
                "ts",
                "model",
                "version",
                "latency_ms",
                "x",
                "input_row",
                "prediction",
                "proba_no",
                "proba_yes"
            ]
        );
        let id = t.column("request_id").unwrap();
        assert_eq!((id.str_at(0), id.str_at(1), id.str_at(2)), (Some("a"), Some("a"), Some("b")));
        assert_eq!(t.column("row").unwrap().as_f64(1), Some(1.0));
        assert_eq!(t.column("prediction").unwrap().str_at(2), Some("yes"));
        assert_eq!(t.column("proba_yes").unwrap().as_f64(0), Some(0.75));
    }

    #[test]
    fn another_version_or_other_inputs_start_another_segment() {
        let mut open = Open::new(0);
        open.rows.push(logged("a", "3", &[1.0], &["no"]));
        assert!(fits(&open, &logged("b", "3", &[2.0], &["no"])));
        assert!(!fits(&open, &logged("c", "4", &[2.0], &["no"])));
    }
}
