//! `berth quickstart`: the whole loop on a throwaway project, each step shown.
//! It drives the same service calls as the commands, so what it shows is what
//! the commands do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_core::{AliasName, ModelName, Ref, Selector};
use berth_data::synth::{Kind, SynthOptions, generate};
use berth_ml::{Task, TrainConfig};
use berth_service::{Berth, NoTransfer, Result, ServiceError, TrainRequest, push_request_for};

/// The narrative goes to stdout, or to stderr with `--json` so that stdout
/// holds only the JSON summary.
static TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

macro_rules! say {
    ($($t:tt)*) => {
        if TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!($($t)*);
        } else {
            println!($($t)*);
        }
    };
}

fn step(n: usize, text: &str) {
    say!("\n[{n}] {text}");
}

fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Infra { message: format!("quickstart: {e}"), hint: None }
}

fn name<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| ServiceError::input(e.to_string(), None))
}

/// Trains one configuration on `data` into `out` and pushes it as a version of `model`.
async fn train_and_push(b: &Berth, model: &ModelName, algorithm: &str, data: &Path, out: &Path) -> Result<(u64, f64)> {
    let config = TrainConfig {
        model_type: Task::Classification,
        algorithm: algorithm.into(),
        hyperparameters: BTreeMap::new(),
        features: None,
        target: Some("target".into()),
        validation_split: 0.2,
        seed: 42,
        data: None,
    };
    let req = TrainRequest { config, data: data.to_path_buf(), out_dir: out.to_path_buf() };
    let report = tokio::task::spawn_blocking(move || berth_service::train(&req))
        .await
        .map_err(|e| ServiceError::Infra { message: format!("training stopped: {e}"), hint: None })??;
    let accuracy = report.metrics.get("accuracy").copied().unwrap_or(f64::NAN);
    let pushed = b.push(push_request_for(&report, model.clone(), Default::default())?, &NoTransfer).await?;
    say!(
        "    {:<20} {} rows in {:.2}s, validation accuracy {:.4}  ->  {} {}",
        algorithm,
        report.train_rows,
        report.seconds,
        accuracy,
        pushed.reference,
        pushed.version.manifest.short()
    );
    Ok((pushed.version.version, accuracy))
}

pub async fn run(dir: Option<PathBuf>, json: bool) -> Result<()> {
    TO_STDERR.store(json, std::sync::atomic::Ordering::Relaxed);
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("berth-quickstart-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let env = |k: &str| match k {
        "BERTH_USER" => Some("quickstart".to_string()),
        _ => None,
    };
    step(1, &format!("berth init  (project in {})", dir.display()));
    let init = berth_service::init(&dir, None, None, &env)?;
    say!("    registry {}\n    store    {}", init.registry_url, init.store_url);
    let config = berth_service::Config::discover(&dir, &env)?;
    let b = Berth::open(config, "quickstart".into()).await?;

    step(2, "berth data synth --kind classification --rows 20000 --seed 42 -o data/train.csv");
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir).map_err(io)?;
    let train_csv = data_dir.join("train.csv");
    let table = generate(Kind::Classification, &SynthOptions { rows: 20_000, seed: 42, ..Default::default() })?;
    berth_data::write_table(&table, &train_csv)?;
    say!("    {} rows: {}", table.rows(), table.names().join(", "));

    step(3, "berth train --algorithm … --push churn  (three real models, trained in seconds)");
    let model = name(ModelName::parse("churn"))?;
    let mut results = Vec::new();
    for algorithm in ["logistic_regression", "random_forest", "gradient_boosting"] {
        let out = dir.join("runs").join(algorithm);
        results.push(train_and_push(&b, &model, algorithm, &train_csv, &out).await?);
    }
    let (best, best_acc) = results.iter().copied().fold((0, f64::NEG_INFINITY), |a, r| if r.1 > a.1 { r } else { a });

    let production = name(AliasName::parse("production"))?;
    step(4, &format!("berth alias set churn production {best}  (the best validation accuracy, {best_acc:.4})"));
    b.alias_set(&model, &production, best, Some(&format!("best validation accuracy {best_acc:.4}"))).await?;
    say!("    churn@production -> {best}");

    step(5, "berth pull churn@production -o deploy  (every byte verified), then berth predict");
    let deploy = dir.join("deploy");
    let prod = Ref { model: model.clone(), selector: Selector::Alias(production.clone()) };
    let p = b.pull(&prod, Some(deploy.clone()), &NoTransfer).await?;
    say!("    {} -> {} ({} files)", p.reference, p.dir.display(), p.files);
    let (m, _) = b.open_scorer(&prod, None).await?;
    let preds = berth_service::predict_to_file(&m, "churn@production", &train_csv, &dir.join("predictions.csv"))?;
    say!("    {} predictions -> {}", preds.rows, preds.output.display());

    let worst = results.iter().copied().fold((0, f64::INFINITY), |a, r| if r.1 < a.1 { r } else { a }).0;
    step(6, &format!("berth alias set churn production {worst}, then roll back to {best}"));
    b.alias_set(&model, &production, worst, Some("try the other model")).await?;
    b.alias_set(&model, &production, best, Some("rollback")).await?;
    for e in b.alias_history(&model, Some(&production)).await? {
        let v = |x: Option<u64>| x.map(|f| f.to_string()).unwrap_or_else(|| "-".into());
        say!("    {}  {} -> {}  by {}  ({})", e.at, v(e.from), v(e.to), e.actor, e.reason.unwrap_or_default());
    }

    step(7, "berth fsck");
    let f = b.fsck().await?;
    say!("    {} blobs checked: {}", f.blobs_checked, if f.ok { "ok" } else { "DAMAGED" });

    step(8, "berth log");
    for e in b.log(None, Some(8)).await? {
        let target = match (&e.model, e.version) {
            (Some(m), Some(v)) => format!("{m}@{v}"),
            _ => String::new(),
        };
        say!("    {}  {:<14} {}", e.at, e.action, target);
    }
    if json {
        crate::render::json(&serde_json::json!({
            "project": dir,
            "versions": results.iter().map(|(v, a)| serde_json::json!({"version": v, "accuracy": a})).collect::<Vec<_>>(),
            "production": best,
            "fsck_ok": f.ok,
        }));
    }
    say!("\nDone. The project is in {}; try `berth -C {} versions churn`.", dir.display(), dir.display());
    if !f.ok {
        return Err(ServiceError::Infra { message: "fsck found damage in the quickstart project".into(), hint: None });
    }
    Ok(())
}
