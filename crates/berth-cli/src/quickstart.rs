//! `berth quickstart`: the whole loop on a throwaway project, each step shown.
//! It drives the same service calls as the commands, so what it shows is what
//! the commands do.

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_core::{AliasName, ModelName, Ref};
use berth_service::{NoTransfer, PushRequest, Result, ServiceError};

fn step(n: usize, text: &str) {
    println!("\n[{n}] {text}");
}

fn io(e: std::io::Error) -> ServiceError {
    ServiceError::Infra { message: format!("quickstart: {e}"), hint: None }
}

/// A small stand-in model file: deterministic bytes from a seed.
fn model_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub async fn run(dir: Option<PathBuf>, json: bool) -> Result<()> {
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
    println!("    registry {}\n    store    {}", init.registry_url, init.store_url);
    let config = berth_service::Config::discover(&dir, &env)?;
    let b = berth_service::Berth::open(config, "quickstart".into()).await?;

    let work = dir.join("work");
    std::fs::create_dir_all(work.join("model")).map_err(io)?;
    let model = ModelName::parse("churn").map_err(|e| ServiceError::input(e.to_string(), None))?;
    let mut refs = Vec::new();
    for (i, acc) in [(1u64, 0.87), (2, 0.91)] {
        std::fs::write(work.join("model/weights.bin"), model_bytes(i, 256 * 1024)).map_err(io)?;
        std::fs::write(work.join("model/config.json"), format!("{{\"layers\": 3, \"seed\": {i}}}")).map_err(io)?;
        step(1 + i as usize, &format!("berth push work/model --model churn  (training run {i}, accuracy {acc})"));
        let req = PushRequest {
            paths: vec![work.join("model")],
            model: Some(model.clone()),
            metrics: BTreeMap::from([("accuracy".to_string(), acc)]),
            params: BTreeMap::from([("seed".to_string(), i.to_string())]),
            ..Default::default()
        };
        let r = b.push(req, &NoTransfer).await?;
        println!(
            "    {} {}  ({} files, {} written, {} already stored)",
            r.reference, r.version.manifest, r.files, r.blobs_written, r.blobs_skipped
        );
        refs.push(r);
    }
    let production = AliasName::parse("production").map_err(|e| ServiceError::input(e.to_string(), None))?;
    step(4, "berth alias set churn production 2");
    b.alias_set(&model, &production, 2, Some("accuracy 0.91 > 0.87")).await?;
    println!("    churn@production -> 2");

    step(5, "berth pull churn@production -o deploy  (every byte verified)");
    let deploy = dir.join("deploy");
    let p = b
        .pull(
            &Ref { model: model.clone(), selector: berth_core::Selector::Alias(production.clone()) },
            Some(deploy.clone()),
            &NoTransfer,
        )
        .await?;
    println!("    {} -> {} ({} written)", p.reference, p.dir.display(), p.written);
    let again = b.pull(&Ref::version(model.clone(), 2), Some(deploy.clone()), &NoTransfer).await?;
    println!("    pulled again: {} written, {} already up to date", again.written, again.skipped);

    step(6, "berth alias set churn production 1 --reason rollback");
    b.alias_set(&model, &production, 1, Some("rollback")).await?;
    for e in b.alias_history(&model, Some(&production)).await? {
        println!(
            "    {}  {} -> {}  by {}  ({})",
            e.at,
            e.from.map(|f| f.to_string()).unwrap_or("-".into()),
            e.to.map(|f| f.to_string()).unwrap_or("-".into()),
            e.actor,
            e.reason.unwrap_or_default()
        );
    }

    step(7, "berth fsck");
    let f = b.fsck().await?;
    println!("    {} blobs checked: {}", f.blobs_checked, if f.ok { "ok" } else { "DAMAGED" });

    step(8, "berth log");
    for e in b.log(None, Some(10)).await? {
        println!("    {}  {:<14} {}", e.at, e.action, e.model.map(|m| m.to_string()).unwrap_or_default());
    }
    if json {
        crate::render::json(
            &serde_json::json!({"project": dir, "versions": refs.iter().map(|r| &r.reference).collect::<Vec<_>>(), "fsck_ok": f.ok}),
        );
    }
    println!("\nDone. The project is in {}; try `berth -C {} models`.", dir.display(), dir.display());
    if !f.ok {
        return Err(ServiceError::Infra { message: "fsck found damage in the quickstart project".into(), hint: None });
    }
    Ok(())
}
