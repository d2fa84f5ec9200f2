//! `berth train` and `berth predict`: argument handling and output; the work
//! is in the service layer.

use std::path::Path;

use berth_core::{Exit, ModelArg, Ref};
use berth_ml::{ModelType, TrainConfig, TrainConfigDraft};
use berth_service::{Result, Scorer, ServiceError, TrainRequest, detect_lineage};

use crate::cli::{TaskArg, TrainArgs};

impl From<TaskArg> for ModelType {
    fn from(t: TaskArg) -> ModelType {
        match t {
            TaskArg::Classification => ModelType::Classification,
            TaskArg::Regression => ModelType::Regression,
            TaskArg::Anomaly => ModelType::Anomaly,
            TaskArg::Forecast => ModelType::Forecast,
        }
    }
}
use crate::progress::Bars;
use crate::render;

/// The config file (if any) with the flags laid over it, checked once: the
/// algorithm must fit the model type and take every hyperparameter given.
fn config_from(a: &TrainArgs) -> Result<TrainConfig> {
    let mut draft = match &a.config {
        Some(p) => berth_service::load_train_config(p)?,
        None => match (a.model_type, a.algorithm) {
            (Some(task), Some(algorithm)) if a.target.is_some() || task == TaskArg::Anomaly => {
                TrainConfigDraft::new(task.into(), algorithm)
            }
            (task, algorithm) => {
                let missing: Vec<&str> = [
                    ("--model-type", task.is_none()),
                    ("--algorithm", algorithm.is_none()),
                    ("--target", a.target.is_none() && task != Some(TaskArg::Anomaly)),
                ]
                .iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| *n)
                .collect();
                return Err(ServiceError::input(
                    format!("without --config, berth train needs {}", missing.join(", ")),
                    Some("pass --config train.toml, or e.g. --model-type classification --algorithm logistic_regression --target label".into()),
                ));
            }
        },
    };
    if let Some(t) = a.model_type {
        draft.model_type = t.into();
    }
    if let Some(v) = a.algorithm {
        draft.algorithm = v;
    }
    if let Some(v) = &a.target {
        draft.target = Some(v.clone());
    }
    if let Some(v) = &a.features {
        draft.features = Some(v.clone());
    }
    if let Some(v) = a.validation_split {
        draft.validation_split = v;
    }
    if let Some(v) = a.seed {
        draft.seed = v;
    }
    draft.hyperparameters.extend(a.hyperparameters.iter().cloned());
    TrainConfig::try_from(draft).map_err(|e| ServiceError::input(e.to_string(), e.hint()))
}

pub async fn train(a: &TrainArgs, dir: &Path, json: bool, quiet: bool, bars: &Bars) -> Result<()> {
    let config = config_from(a)?;
    let data = match (&a.data, &config.data) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => a.config.as_ref().and_then(|c| c.parent()).unwrap_or(Path::new("")).join(d),
        (None, None) => {
            return Err(ServiceError::input(
                "no training data",
                Some("pass --data FILE or set `data` in the config".into()),
            ));
        }
    };
    // Where the version will go is settled before training, so a hub or
    // registry out of reach is said before minutes are spent.
    let pushing = match a.push.clone() {
        Some(m) => Some((m, crate::run::ops(dir).await?)),
        None => None,
    };
    let req = TrainRequest { config, data, out_dir: a.output.clone(), force: a.force };
    let spinner = bars.spinner(&format!("training {} on {}", req.config.algorithm, req.data.display()));
    let report = berth_service::train_off_runtime(req).await?;
    spinner.finish_and_clear();
    let pushed = match pushing {
        Some((m, b)) => {
            let lineage = detect_lineage(dir, &|k| std::env::var(k).ok());
            let p = b.push_training(&report, m, lineage, bars).await?;
            crate::actions::output("ref", &p.reference);
            Some(p)
        }
        None => None,
    };
    if json {
        render::json(&serde_json::json!({"train": report, "push": pushed}));
        return Ok(());
    }
    let split = if report.metrics_on == "validation" {
        format!("{} for training, {} for validation", report.train_rows, report.validation_rows)
    } else {
        "all for training; the metrics are on the training rows".to_string()
    };
    println!(
        "trained {} on {} rows ({split}) in {:.2}s -> {}",
        report.config.algorithm,
        report.rows,
        report.seconds,
        report.out_dir.display()
    );
    println!("  model    {} {}", report.model_file.display(), report.model_digest);
    let shown: Vec<String> =
        report.metrics.iter().filter(|(k, _)| !k.starts_with("recall.")).map(|(k, v)| format!("{k}={v:.4}")).collect();
    println!("  metrics  {}", shown.join(" "));
    if let Some(p) = pushed {
        render::push(&p, quiet);
    }
    Ok(())
}

/// A model argument that must name a registered version (not a file),
/// decided after `-C` as every model argument is.
pub fn parse_model_ref(model: &str) -> Result<Ref> {
    match berth_service::model_arg(model)? {
        ModelArg::Ref(r) => Ok(r),
        ModelArg::File(p) => Err(ServiceError::input(
            format!("{} is a file; this argument names a registered version", p.display()),
            Some(format!("pass NAME@ENV, or serve the file with --model {}", p.display())),
        )),
    }
}

pub async fn predict(
    model: &ModelArg,
    data: &Path,
    output: &Path,
    features: Option<&[String]>,
    dir: &Path,
    json: bool,
) -> Result<()> {
    let features = features.map(<[String]>::to_vec);
    let report = match model {
        ModelArg::File(path) => {
            let shown = path.display().to_string();
            berth_service::predict_to_file(&Scorer::open_file(path, features)?, &shown, data, output)?
        }
        ModelArg::Ref(r) => {
            let b = crate::run::ops(dir).await?;
            let (file, _, v) = b.fetch_model(r).await?;
            let shown = format!("{}@{}", v.model, v.version);
            berth_service::predict_to_file(&Scorer::from_model_file(&file, features)?, &shown, data, output)?
        }
    };
    if json {
        render::json(&report);
    } else {
        println!(
            "{} predictions from {} -> {} ({})",
            report.rows,
            report.model,
            report.output.display(),
            report.columns.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn config(args: &[&str]) -> Result<TrainConfig> {
        let cli = Cli::try_parse_from(["berth", "train"].iter().chain(args)).unwrap();
        let Command::Train(a) = cli.command else { panic!("not train") };
        config_from(&a)
    }

    #[test]
    fn flags_lay_over_the_config_and_the_whole_is_checked_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.toml");
        std::fs::write(
            &path,
            "model_type = \"classification\"\nalgorithm = \"logistic_regression\"\ntarget = \"y\"\n\
             [hyperparameters]\nC = 0.5\ntol = 0.001\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = config(&["--config", p, "--set", "C=0.25", "--seed", "9"]).unwrap();
        let berth_ml::Algorithm::LogisticRegression(lr) = c.algorithm else { panic!("{c:?}") };
        assert_eq!((lr.c, lr.tol, lr.max_iter, c.seed), (0.25, 0.001, 100, 9));
        // The config's hyperparameters go with the algorithm the flags name.
        let e = config(&["--config", p, "--algorithm", "random_forest"]).unwrap_err().to_string();
        assert!(e.contains("unknown hyperparameter \"C\" for random_forest"), "{e}");
        let e = config(&["--config", p, "--model-type", "regression"]).unwrap_err().to_string();
        assert!(e.contains("logistic_regression trains classification models, not regression models"), "{e}");
        let c = config(&["--model-type", "anomaly", "--algorithm", "isolation_forest"]).unwrap();
        assert_eq!((c.algorithm.to_string(), c.validation_split, c.seed), ("isolation_forest".into(), 0.2, 42));
        let e = config(&["--model-type", "classification"]).unwrap_err().to_string();
        assert!(e.contains("needs --algorithm, --target"), "{e}");
    }
}
