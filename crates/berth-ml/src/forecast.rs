//! Forecasts: a regression over time. A config's `model_type` names either a
//! model's task or `forecast`, which trains a regression model whose
//! validation rows are the latest ones by its time column (never a shuffled
//! share, which would let the model learn from the future it is scored on),
//! and whose timestamp reaches the model as its calendar cycles.

use berth_data::{ColumnType, Table};
use serde::{Deserialize, Serialize};

use crate::model::Task;
use crate::{MlError, Result};

/// What a training config's `model_type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    Regression,
    Classification,
    Anomaly,
    /// A regression over time, validated on its latest rows.
    Forecast,
}

impl ModelType {
    /// The task of the model it trains: a forecast is a regression model.
    pub fn task(self) -> Task {
        match self {
            ModelType::Regression | ModelType::Forecast => Task::Regression,
            ModelType::Classification => Task::Classification,
            ModelType::Anomaly => Task::Anomaly,
        }
    }
}

impl From<Task> for ModelType {
    fn from(t: Task) -> ModelType {
        match t {
            Task::Regression => ModelType::Regression,
            Task::Classification => ModelType::Classification,
            Task::Anomaly => ModelType::Anomaly,
        }
    }
}

impl std::fmt::Display for ModelType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelType::Forecast => f.write_str("forecast"),
            other => other.task().fmt(f),
        }
    }
}

/// A forecast's time column: the one named, else the one timestamp column
/// among the features.
pub(crate) fn time_column(table: &Table, features: &[String], named: Option<&str>) -> Result<String> {
    if let Some(name) = named {
        let c = table.required(name)?;
        if c.ty() != ColumnType::Timestamp {
            return Err(MlError::WrongType {
                column: name.to_string(),
                expected: "a forecast's time_column must hold timestamps (YYYY-MM-DD[ HH:MM:SS] in a CSV)".into(),
                found: c.ty().to_string(),
            });
        }
        return Ok(name.to_string());
    }
    let times: Vec<&String> =
        features.iter().filter(|f| table.column(f).is_some_and(|c| c.ty() == ColumnType::Timestamp)).collect();
    match times.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(MlError::Invalid(
            "a forecast needs a timestamp column among its features, and there is none; \
             set time_column, or use model_type = \"regression\""
                .into(),
        )),
        several => Err(MlError::Invalid(format!(
            "a forecast orders its rows by one timestamp column, and the features hold {}: {several:?}; \
             set time_column to the one that says when each row happened",
            several.len()
        ))),
    }
}

/// Splits the rows into (train, validation) by time: the latest `fraction`
/// of rows are the validation rows. Both come back in time order (a tie in
/// time keeps file order).
pub(crate) fn split_by_time(table: &Table, time: &str, fraction: f64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..0.9).contains(&fraction) {
        return Err(MlError::Invalid(format!("validation_split is {fraction}; use a value from 0 to 0.9")));
    }
    let c = table.required(time)?;
    if let Some(first_row) = (0..c.len()).find(|&i| c.is_null(i)) {
        return Err(MlError::BadValues { column: time.to_string(), what: "null", count: c.null_count(), first_row });
    }
    let mut order: Vec<usize> = (0..table.rows()).collect();
    order.sort_by_key(|&i| c.as_f64(i).map_or(i64::MIN, |s| s as i64));
    let n_val = (order.len() as f64 * fraction).round() as usize;
    let validation = order.split_off(order.len() - n_val);
    if order.len() < 2 {
        return Err(MlError::Invalid(format!(
            "only {} training row(s) after the validation split; need at least 2",
            order.len()
        )));
    }
    Ok((order, validation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_data::Column;

    #[test]
    fn the_latest_rows_validate_in_time_order() {
        let t = Table::new(vec![Column::timestamp("ts", vec![50, 10, 40, 20, 30]), Column::float("x", vec![0.0; 5])])
            .unwrap();
        let (train, val) = split_by_time(&t, "ts", 0.4).unwrap();
        assert_eq!((train, val), (vec![1, 3, 4], vec![2, 0]));
    }

    #[test]
    fn the_time_column_is_found_or_the_problem_named() {
        let t = Table::new(vec![
            Column::timestamp("a", vec![1]),
            Column::timestamp("b", vec![2]),
            Column::float("x", vec![0.0]),
        ])
        .unwrap();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(time_column(&t, &names(&["a", "x"]), None).unwrap(), "a");
        let e = time_column(&t, &names(&["a", "b"]), None).unwrap_err().to_string();
        assert!(e.contains("set time_column") && e.contains("\"a\", \"b\""), "{e}");
        assert!(time_column(&t, &names(&["x"]), None).unwrap_err().to_string().contains("none"));
        assert!(time_column(&t, &[], Some("x")).unwrap_err().to_string().contains("timestamps"));
        assert_eq!(time_column(&t, &[], Some("b")).unwrap(), "b");
    }
}
