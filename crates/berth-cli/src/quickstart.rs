//! `berth quickstart`: the whole loop on a throwaway project, each step shown
//! with the command that does it. It drives the same service calls as the
//! commands, so what it shows is what the commands do:
//!
//! 1. synthesize data, train, push, validate against a gate;
//! 2. promote to staging, start the server and smoke-test it;
//! 3. approve and promote to production;
//! 4. train a deliberately worse model and watch the gate block it;
//! 5. roll back (live metrics degrade; `berth check` rolls back).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_core::{AliasName, ModelName, Ref, Selector};
use berth_data::synth::{Kind, SynthOptions, generate};
use berth_gate::Gate;
use berth_ml::{Algorithm, AlgorithmName, Task, TrainConfig};
use berth_service::{Berth, Config, NoTransfer, Operations, Result, ServiceError, TrainRequest, ValidateRequest};

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

fn cmd(text: &str) {
    say!("  $ {text}");
}

fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Infra { message: format!("quickstart: {e}"), hint: None }
}

fn name<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| ServiceError::input(e.to_string(), None))
}

fn failed(what: &str) -> ServiceError {
    ServiceError::Infra {
        message: format!("quickstart: {what}"),
        hint: Some("this is a bug in berth; please report it".into()),
    }
}

const POLICY: &str = r#"
# Where versions go, and what each environment requires first.
[environments.staging]
require_gates = ["staging"]

[environments.production]
require_gates = ["production"]
approvals = 1                  # from someone other than the version's publisher
promoters = ["quickstart"]
max_degradation = 0.2          # `berth check` rolls back beyond a 20% drop
"#;

const STAGING_GATE: &str = "# The staging gate: good enough to try.\n[metrics]\naccuracy = { min = 0.75 }\n";
const PRODUCTION_GATE: &str = "# The production gate.\n[metrics]\naccuracy = { min = 0.80 }\nroc_auc = { min = 0.85 }\n\n\
                               [latency]\nmax_p99_ms = 50\n";

/// Trains `algorithm` on `data` into `out` and pushes it as the next version of `model`.
async fn train_and_push(
    b: &Berth,
    model: &ModelName,
    algorithm: AlgorithmName,
    hyper: &[(&str, f64)],
    data: &Path,
    out: &Path,
) -> Result<u64> {
    let given = hyper.iter().map(|(k, v)| (k.to_string(), berth_ml::Hyper::Number(*v))).collect();
    let config = TrainConfig {
        model_type: Task::Classification.into(),
        algorithm: Algorithm::new(algorithm, &given).map_err(|e| failed(&e.to_string()))?,
        features: None,
        target: Some("target".into()),
        validation_split: 0.2,
        seed: 42,
        data: None,
        time_column: None,
    };
    let sets: String = hyper.iter().map(|(k, v)| format!(" --set {k}={v}")).collect();
    cmd(&format!(
        "berth train --data data/{} --model-type classification --target target --algorithm {algorithm}{sets} --push {model}",
        data.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let req = TrainRequest { config, data: data.to_path_buf(), out_dir: out.to_path_buf(), force: false };
    let report = berth_service::train_off_runtime(req).await?;
    let accuracy = report.metrics.get("accuracy").copied().unwrap_or(f64::NAN);
    let pushed = b.push_training(&report, model.clone(), Default::default(), &NoTransfer).await?;
    say!(
        "    {algorithm}: {} rows in {:.2}s, validation accuracy {accuracy:.4}  ->  {}  {}",
        report.train_rows,
        report.seconds,
        pushed.reference,
        pushed.version.manifest.short()
    );
    Ok(pushed.version.version)
}

/// Runs a gate file on a version and stores the report on it; says the verdict.
async fn validate(b: &Berth, dir: &Path, r: &str, gate: &str, data: &Path) -> Result<bool> {
    cmd(&format!("berth validate {r} --gate gates/{gate}.toml --data data/holdout.csv"));
    let path = dir.join("gates").join(format!("{gate}.toml"));
    let text = std::fs::read_to_string(&path).map_err(io)?;
    let g = Gate::parse(&text, &path.display().to_string()).map_err(|e| failed(&e.to_string()))?;
    let subject = berth_service::Subject::Model(berth_service::model_arg(r)?);
    let req = ValidateRequest::new(subject, data.to_path_buf(), g, gate.to_string())?;
    let report = berth_service::validate(Some(b), &req).await?;
    let acc = report.metrics.get("accuracy").copied().unwrap_or(f64::NAN);
    let verdict = if report.passed { "PASSED" } else { "FAILED (exit 1 would block the pipeline)" };
    let p99 = report.latency_p99_ms.map(|p| format!(", single-row p99 {p:.3} ms")).unwrap_or_default();
    say!("    gate {gate}: {verdict}  accuracy {acc:.4}{p99}");
    for c in report.results.iter().filter(|c| !c.passed) {
        say!("      ✗ {}: {}", c.name, c.message);
    }
    Ok(report.passed)
}

async fn promote(b: &Berth, r: &Ref, env: &AliasName, reason: &str) -> Result<bool> {
    cmd(&format!("berth promote {r} --to {env} --reason {reason:?}"));
    let p = b.promote(r, env, Some(reason)).await?;
    if p.missing.is_empty() {
        say!(
            "    {}@{} is live in {env} (was {})",
            p.model,
            p.version,
            p.from.map(|f| f.to_string()).unwrap_or("-".into())
        );
    } else {
        say!("    refused, and told why:");
        for m in &p.missing {
            say!("      ✗ {}\n        {}", m.message, m.fix);
        }
    }
    Ok(p.missing.is_empty())
}

fn version_ref(model: &ModelName, n: u64) -> Ref {
    Ref { model: model.clone(), selector: Selector::Version(n) }
}

/// Writes the project's configuration: the default plus the policies.
fn write_config(dir: &Path) -> Result<()> {
    let path = dir.join("berth.toml");
    let mut text = std::fs::read_to_string(&path).map_err(io)?;
    if !text.contains("[environments.") {
        text.push_str(POLICY);
        std::fs::write(&path, text).map_err(io)?;
    }
    let gates = dir.join("gates");
    std::fs::create_dir_all(&gates).map_err(io)?;
    std::fs::write(gates.join("staging.toml"), STAGING_GATE).map_err(io)?;
    std::fs::write(gates.join("production.toml"), PRODUCTION_GATE).map_err(io)?;
    Ok(())
}

/// Starts `berth serve churn@staging` inside this process and waits until it answers.
async fn start_server(
    config: &Config,
    reference: Ref,
) -> Result<(String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)> {
    let o = berth_serve::ServeOptions {
        target: berth_serve::Target::Registry {
            reach: std::sync::Arc::new(berth_serve::Reach::local(config.clone(), "quickstart".into())),
            reference,
            features: None,
        },
        follow: berth_serve::Follow { poll: Duration::from_secs(1), synthetic: false, signature: None },
        limits: berth_serve::Limits::default(),
        log: None,
        drift_window: 10_000,
        drain: Duration::from_secs(5),
        admin: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(io)?;
    let url = format!("http://{}", listener.local_addr().map_err(io)?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = berth_serve::run_until(listener, o, |_| {}, shutdown).await {
            eprintln!("quickstart: the server stopped: {e}");
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match berth_service::Endpoint::connect(&url).await {
            Ok(_) => return Ok((url, stop, server)),
            Err(e) if std::time::Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

pub async fn run(dir: Option<PathBuf>, json: bool) -> Result<()> {
    TO_STDERR.store(json, std::sync::atomic::Ordering::Relaxed);
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("berth-quickstart-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let dir = dir.canonicalize().map_err(io)?;
    let env = |k: &str| match k {
        "BERTH_USER" => Some("quickstart".to_string()),
        _ => None,
    };
    say!("berth quickstart: the whole loop on the embedded default (SQLite + a local directory).");
    say!("Project: {}", dir.display());
    let init = berth_service::init(&dir, None, None, &env)?;
    write_config(&dir)?;
    say!("  $ berth init   (registry {}, store {})", init.registry_url, init.store_url);
    say!("  berth.toml gains [environments.staging] and [environments.production]; gates/ holds two gate files");
    let config = Config::discover(&dir, &env)?;
    let b = Berth::open(config.clone(), "quickstart".into()).await?;
    // Approvals come from someone else: the reviewer opens the same project.
    let reviewer = Berth::open(config.clone(), "reviewer".into()).await?;

    let model = name(ModelName::parse("churn"))?;
    let (staging, production) = (name(AliasName::parse("staging"))?, name(AliasName::parse("production"))?);

    step(1, "Synthesize data, train, push, validate against a gate");
    cmd(
        "berth data synth --kind classification --rows 25000 --seed 42 -o data/all.csv  (20000 to train, 5000 held out)",
    );
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir).map_err(io)?;
    let (train_csv, holdout_csv) = (data_dir.join("train.csv"), data_dir.join("holdout.csv"));
    let table = generate(Kind::Classification, &SynthOptions { rows: 25_000, seed: 42, ..Default::default() })?;
    berth_data::write_table(&table.take(&(0..20_000).collect::<Vec<_>>()), &train_csv)?;
    berth_data::write_table(&table.take(&(20_000..25_000).collect::<Vec<_>>()), &holdout_csv)?;
    let v1 =
        train_and_push(&b, &model, AlgorithmName::LogisticRegression, &[], &train_csv, &dir.join("runs/v1")).await?;
    let r1 = version_ref(&model, v1);
    if !validate(&b, &dir, &r1.to_string(), "staging", &holdout_csv).await? {
        return Err(failed("the first model did not pass the staging gate"));
    }

    step(2, "Promote to staging, start the server, smoke-test it");
    if !promote(&b, &r1, &staging, "first model").await? {
        return Err(failed("staging refused a version that passed its gate"));
    }
    let live = Ref { model: model.clone(), selector: Selector::Alias(staging.clone()) };
    cmd(&format!("berth serve {live} --addr 127.0.0.1:0 &"));
    let (url, stop, server) = start_server(&config, live).await?;
    say!("    listening on {url}; /health, /readyz, /metrics, /predict, /v2/models/churn/infer");
    cmd(&format!("berth smoke --endpoint {url} --data data/holdout.csv --rows 20 --max-latency-ms 250"));
    let smoke = berth_service::smoke(&berth_service::SmokeRequest {
        endpoint: url.clone(),
        data: holdout_csv.clone(),
        rows: 20,
        max_latency_ms: Some(250.0),
        expect: None,
        wait: std::time::Duration::ZERO,
    })
    .await?;
    for c in &smoke.checks {
        say!("    {} {}: {}", if c.passed { "✓" } else { "✗" }, c.name, c.detail);
    }
    let _ = stop.send(());
    let _ = server.await;
    say!("    server stopped");
    if !smoke.passed {
        return Err(failed("the smoke test failed against the quickstart's own server"));
    }

    step(3, "Approve and promote to production");
    if !validate(&b, &dir, &r1.to_string(), "production", &holdout_csv).await? {
        return Err(failed("the first model did not pass the production gate"));
    }
    if promote(&b, &r1, &production, "first release").await? {
        return Err(failed("production took a version without its approval"));
    }
    cmd(&format!("BERTH_USER=reviewer berth approve {r1} --env production --comment \"reviewed the gate report\""));
    let a = reviewer.approve(&r1, &production, Some("reviewed the gate report")).await?;
    say!("    approved by {} ({} of {} needed)", a.approval.approver, a.counted, a.needed);
    if !promote(&b, &r1, &production, "first release").await? {
        return Err(failed("production refused an approved version"));
    }
    say!("  A weekly retrain takes the same road:");
    let v2 =
        train_and_push(&b, &model, AlgorithmName::LogisticRegression, &[("C", 0.5)], &train_csv, &dir.join("runs/v2"))
            .await?;
    let r2 = version_ref(&model, v2);
    let passed = validate(&b, &dir, &r2.to_string(), "production", &holdout_csv).await?;
    reviewer.approve(&r2, &production, Some("weekly retrain")).await?;
    cmd(&format!("BERTH_USER=reviewer berth approve {r2} --env production"));
    if !passed || !promote(&b, &r2, &production, "weekly retrain").await? {
        return Err(failed("the retrained model did not reach production"));
    }

    step(4, "Train a deliberately worse model: the gate blocks it");
    say!("  A single decision stump:");
    let v3 = train_and_push(
        &b,
        &model,
        AlgorithmName::RandomForest,
        &[("n_estimators", 1.0), ("max_depth", 1.0)],
        &train_csv,
        &dir.join("runs/v3"),
    )
    .await?;
    let r3 = version_ref(&model, v3);
    if validate(&b, &dir, &r3.to_string(), "production", &holdout_csv).await? {
        return Err(failed("the stump passed the production gate"));
    }
    reviewer.approve(&r3, &production, Some("approved by mistake")).await?;
    cmd(&format!("BERTH_USER=reviewer berth approve {r3} --env production   (even with an approval...)"));
    if promote(&b, &r3, &production, "try the stump").await? {
        return Err(failed("production took a version that failed its gate"));
    }

    step(5, "Roll back: live accuracy drops, `berth check` rolls production back");
    let gate_acc = b
        .gate_reports(&model, v2)
        .await?
        .iter()
        .rev()
        .find(|g| g.gate == "production")
        .and_then(|g| g.report["metrics"]["accuracy"].as_f64())
        .unwrap_or(0.85);
    let live_metrics = BTreeMap::from([("accuracy".to_string(), (gate_acc * 0.7 * 1e4).round() / 1e4)]);
    let live_file = dir.join("live.json");
    std::fs::write(&live_file, serde_json::to_string_pretty(&live_metrics).unwrap_or_default()).map_err(io)?;
    cmd("berth check churn --env production --metrics live.json");
    let ask = berth_service::CheckRequest {
        model: model.clone(),
        env: production.clone(),
        live: live_metrics,
        max_degradation: None,
        dry_run: false,
        evidence: None,
    };
    let c = b.check(&ask).await?;
    for d in &c.comparison.compared {
        say!("    {}", d.describe(c.comparison.allowed));
    }
    let Some(back) = &c.rollback else { return Err(failed("the degraded version was not rolled back")) };
    say!(
        "    rolled back automatically: production {} -> {}",
        back.from.map(|f| f.to_string()).unwrap_or_default(),
        back.to.map(|t| t.to_string()).unwrap_or_default()
    );
    cmd("berth deployments churn --env production");
    let history = b.deployments(&model, Some(&production)).await?;
    for d in &history {
        let e = &d.event;
        let v = |x: Option<u64>| x.map(|f| f.to_string()).unwrap_or_else(|| "-".into());
        say!(
            "    {}  {:<13} {} -> {}  by {:<10} {}",
            e.at,
            e.kind.as_str(),
            v(e.from),
            v(e.to),
            e.actor,
            e.reason.clone().unwrap_or_default()
        );
    }

    let f = b.fsck().await?;
    say!("\nWhere everything is:");
    say!("  project        {}", dir.display());
    say!("  configuration  {}  (environments and their policies)", dir.join("berth.toml").display());
    say!("  gates          {}", dir.join("gates").display());
    say!("  data           {}", data_dir.display());
    say!("  registry       {}", init.registry_url);
    say!(
        "  store          {}  ({} blobs, verified: {})",
        init.store_url,
        f.blobs_checked,
        if f.ok { "ok" } else { "DAMAGED" }
    );
    say!("Try: berth -C {} deployments churn   |   berth -C {} serve churn@production", dir.display(), dir.display());
    if json {
        crate::render::json(&serde_json::json!({
            "project": dir,
            "versions": [v1, v2, v3],
            "staging": v1,
            "production": back.to,
            "smoke_passed": smoke.passed,
            "blocked": v3,
            "deployments": history.len(),
            "fsck_ok": f.ok,
        }));
    }
    if !f.ok {
        return Err(ServiceError::Infra { message: "fsck found damage in the quickstart project".into(), hint: None });
    }
    Ok(())
}
