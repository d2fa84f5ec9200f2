//! The CI stand-in: when no real model can be had and the operator allowed
//! it, a tiny real model trained in milliseconds on synthetic data shaped
//! like the expected signature, so that a pipeline can exercise the server.
//! It is always reported as `source: "synthetic"`.

use berth_data::{Column, ColumnData, ColumnType, Rng, Table};
use berth_ml::{Algorithm, AlgorithmName, Model, Signature, Task, TrainConfig};

const ROWS: usize = 200;
const TARGET: &str = "__berth_synthetic_target";

/// Trains the stand-in for `signature` (or, when none is known, for the
/// shape of `berth data synth --kind classification`).
pub fn train(signature: Option<&Signature>) -> Result<Model, String> {
    let (table, task, classes) = match signature {
        Some(s) => (table_for(s)?, s.task, s.classes.clone()),
        None => {
            let o = berth_data::synth::SynthOptions { rows: ROWS, seed: 7, ..Default::default() };
            let t =
                berth_data::synth::generate(berth_data::synth::Kind::Classification, &o).map_err(|e| e.to_string())?;
            let mut cols = t.into_columns();
            if let Some(c) = cols.last_mut() {
                c.name = TARGET.into();
            }
            (Table::new(cols).map_err(|e| e.to_string())?, Task::Classification, None)
        }
    };
    let table = match (&classes, task) {
        (Some(classes), Task::Classification) if classes.len() >= 2 => with_target_classes(table, classes),
        _ => table,
    };
    let features: Vec<String> = table.names().into_iter().filter(|n| n != TARGET).collect();
    let cfg = TrainConfig {
        model_type: task.into(),
        algorithm: Algorithm::with_defaults(match task {
            Task::Classification => AlgorithmName::LogisticRegression,
            Task::Regression => AlgorithmName::Ridge,
            Task::Anomaly => AlgorithmName::IsolationForest,
        }),
        features: Some(features),
        target: (task != Task::Anomaly).then(|| TARGET.to_string()),
        validation_split: 0.2,
        seed: 7,
        data: None,
        time_column: None,
    };
    let mut model = berth_ml::train(&table, &cfg).map_err(|e| e.to_string())?.model;
    if let Some(s) = signature {
        model.signature.target = s.target.clone();
    }
    Ok(model)
}

/// Random columns with the signature's names and types, and a target that
/// depends on the numeric ones.
fn table_for(s: &Signature) -> Result<Table, String> {
    let mut rng = Rng::new(7);
    let mut score = vec![0.0; ROWS];
    let mut cols: Vec<Column> = s
        .inputs
        .iter()
        .map(|f| match f.ty {
            ColumnType::Float | ColumnType::Int | ColumnType::Timestamp => {
                let v: Vec<f64> = (0..ROWS).map(|_| rng.normal()).collect();
                score.iter_mut().zip(&v).for_each(|(s, x)| *s += x);
                match f.ty {
                    ColumnType::Float => Column::float(&f.name, v),
                    ColumnType::Int => Column::int(&f.name, v.iter().map(|x| (x * 10.0).round() as i64).collect()),
                    _ => Column::timestamp(&f.name, v.iter().map(|x| 1_700_000_000 + (x * 3600.0) as i64).collect()),
                }
            }
            ColumnType::Bool => {
                Column::new(&f.name, ColumnData::Bool((0..ROWS).map(|_| rng.uniform() < 0.5).collect()))
            }
            ColumnType::Str => {
                let levels = ["a", "b", "c"];
                let v: Vec<&str> = (0..ROWS).map(|_| levels[rng.weighted(&[1.0, 1.0, 1.0])]).collect();
                Column::strings(&f.name, &v)
            }
        })
        .collect();
    let noisy: Vec<f64> = score.iter().map(|s| s + rng.normal() * 0.5).collect();
    cols.push(match s.task {
        Task::Regression => Column::float(TARGET, noisy),
        _ => Column::int(TARGET, noisy.iter().map(|x| i64::from(*x > 0.0)).collect()),
    });
    Table::new(cols).map_err(|e| format!("the signature's inputs cannot make a table: {e}"))
}

/// Relabels a two-valued target with the signature's class names, spread
/// over all of them by rank.
fn with_target_classes(table: Table, classes: &[String]) -> Table {
    let mut cols = table.into_columns();
    let t = cols.pop().expect("a target column");
    let n = t.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| t.as_f64(*a).partial_cmp(&t.as_f64(*b)).unwrap_or(std::cmp::Ordering::Equal));
    let mut labels = vec![String::new(); n];
    for (rank, i) in order.into_iter().enumerate() {
        labels[i] = classes[rank * classes.len() / n].clone();
    }
    cols.push(Column::strings(TARGET, &labels));
    Table::new(cols).expect("same length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_data::Field;
    use berth_ml::Predictor;

    #[test]
    fn a_stand_in_takes_the_signature_it_was_asked_for() {
        let s = Signature {
            task: Task::Classification,
            inputs: vec![
                Field { name: "tenure".into(), ty: ColumnType::Float },
                Field { name: "plan".into(), ty: ColumnType::Str },
            ],
            target: Some("churned".into()),
            classes: Some(vec!["no".into(), "maybe".into(), "yes".into()]),
        };
        let m = train(Some(&s)).unwrap();
        assert_eq!(m.signature.inputs, s.inputs);
        assert_eq!(m.signature.classes.as_deref(), Some(&["maybe".to_string(), "no".into(), "yes".into()][..]));
        let row = Table::new(vec![Column::float("tenure", vec![1.0]), Column::strings("plan", &["b"])]).unwrap();
        assert_eq!(m.predict(&row).unwrap().len(), 1);
        assert_eq!(train(None).unwrap().signature.inputs.len(), 11);
    }
}
