//! `berth train` and `berth predict`: argument handling and output; the work
//! is in the service layer.

use std::collections::BTreeMap;
use std::path::Path;

use berth_core::Ref;
use berth_ml::{Task, TrainConfig};
use berth_service::{Result, Scorer, ServiceError, TrainRequest, detect_lineage, push_request_for};

use crate::cli::TrainArgs;
use crate::progress::Bars;
use crate::render;

fn task(s: &str) -> Result<Task> {
    match s {
        "classification" => Ok(Task::Classification),
        "regression" => Ok(Task::Regression),
        "anomaly" => Ok(Task::Anomaly),
        _ => Err(ServiceError::input(
            format!("unknown model type {s:?}"),
            Some("use classification, regression or anomaly".into()),
        )),
    }
}

fn config_from(a: &TrainArgs) -> Result<TrainConfig> {
    let mut cfg = match &a.config {
        Some(p) => berth_service::load_train_config(p)?,
        None => {
            let missing: Vec<&str> = [
                ("--model-type", a.model_type.is_none()),
                ("--algorithm", a.algorithm.is_none()),
                ("--target", a.target.is_none() && a.model_type.as_deref() != Some("anomaly")),
            ]
            .iter()
            .filter(|(_, m)| *m)
            .map(|(n, _)| *n)
            .collect();
            if !missing.is_empty() {
                return Err(ServiceError::input(
                    format!("without --config, berth train needs {}", missing.join(", ")),
                    Some("pass --config train.toml, or e.g. --model-type classification --algorithm logistic_regression --target label".into()),
                ));
            }
            TrainConfig {
                model_type: task(a.model_type.as_deref().unwrap_or_default())?,
                algorithm: a.algorithm.clone().unwrap_or_default(),
                hyperparameters: BTreeMap::new(),
                features: None,
                target: a.target.clone(),
                validation_split: 0.2,
                seed: 42,
                data: None,
            }
        }
    };
    if let Some(t) = &a.model_type {
        cfg.model_type = task(t)?;
    }
    if let Some(v) = &a.algorithm {
        cfg.algorithm = v.clone();
    }
    if let Some(v) = &a.target {
        cfg.target = Some(v.clone());
    }
    if let Some(v) = &a.features {
        cfg.features = Some(v.clone());
    }
    if let Some(v) = a.validation_split {
        cfg.validation_split = v;
    }
    if let Some(v) = a.seed {
        cfg.seed = v;
    }
    for (k, v) in crate::run::parse_kv(&a.hyperparameters, "hyperparameter")? {
        let x: f64 = v.parse().map_err(|_| {
            ServiceError::input(
                format!("hyperparameter {k} = {v:?} is not a number"),
                Some("write it as --set C=0.5".into()),
            )
        })?;
        cfg.hyperparameters.insert(k, x);
    }
    Ok(cfg)
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
    let push_model = a
        .push
        .as_deref()
        .map(berth_core::ModelName::parse)
        .transpose()
        .map_err(|e| ServiceError::input(e.to_string(), None))?;
    let req = TrainRequest { config, data, out_dir: a.output.clone(), force: a.force };
    let spinner = bars.spinner(&format!("training {} on {}", req.config.algorithm, req.data.display()));
    let report = tokio::task::spawn_blocking(move || berth_service::train(&req))
        .await
        .map_err(|e| ServiceError::Infra { message: format!("training stopped: {e}"), hint: None })??;
    spinner.finish_and_clear();
    let pushed = match push_model {
        Some(m) => {
            let b = crate::run::open(dir).await?;
            let req = push_request_for(&report, m, detect_lineage(dir, &|k| std::env::var(k).ok()))?;
            Some(b.push(req, bars).await?)
        }
        None => None,
    };
    if json {
        render::json(&serde_json::json!({"train": report, "push": pushed}));
        return Ok(());
    }
    println!(
        "trained {} on {} rows ({} for training, {} for {}) in {:.2}s -> {}",
        report.config.algorithm,
        report.rows,
        report.train_rows,
        if report.metrics_on == "validation" { report.validation_rows } else { report.train_rows },
        report.metrics_on,
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

/// A model argument that must name a registered version (not a file).
pub fn parse_model_ref(model: &str) -> Result<Ref> {
    match berth_service::model_arg(model)? {
        berth_core::ModelArg::Ref(r) => Ok(r),
        berth_core::ModelArg::File(p) => Err(ServiceError::input(
            format!("{} is a file; this argument names a registered version", p.display()),
            Some(format!("pass NAME@ENV, or serve the file with --model {}", p.display())),
        )),
    }
}

pub async fn predict(
    model: &str,
    data: &Path,
    output: &Path,
    features: Option<&[String]>,
    dir: &Path,
    json: bool,
) -> Result<()> {
    let features = features.map(<[String]>::to_vec);
    let report = match berth_service::model_arg(model)? {
        berth_core::ModelArg::File(path) => {
            berth_service::predict_to_file(&Scorer::open_file(&path, features)?, model, data, output)?
        }
        berth_core::ModelArg::Ref(r) => {
            let b = crate::run::open(dir).await?;
            let (file, _, v) = b.fetch_model(&r).await?;
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
