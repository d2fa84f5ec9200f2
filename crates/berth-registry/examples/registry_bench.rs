//! Registry throughput: create N versions of one model, point an alias at
//! one, then resolve `name@alias` M times. Prints one JSON line per phase.
//! Run by `bench/registry.sh`; not a test.
//!
//! usage: registry_bench URL VERSIONS RESOLVES

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_core::{AliasName, Digest, ModelName, NewVersion, Ref, SystemClock, VersionMeta};
use berth_registry::{Actor, RegistryUrl, connect};

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn report(phase: &str, url: &str, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    println!(
        "{{\"engine\":{:?},\"phase\":{:?},\"ops\":{},\"ops_per_s\":{:.1},\"p50_us\":{:.1},\"p99_us\":{:.1}}}",
        url.split(':').next().unwrap_or(""),
        phase,
        lat.len(),
        lat.len() as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: registry_bench URL VERSIONS RESOLVES");
        std::process::exit(2);
    }
    let (url, n, m): (&str, usize, usize) =
        (&args[1], args[2].parse().expect("VERSIONS"), args[3].parse().expect("RESOLVES"));
    let reg_url = RegistryUrl::parse(url, Path::new(".")).expect("registry URL");
    let reg = connect(&reg_url, Duration::from_secs(30), Arc::new(SystemClock)).await.expect("connect");
    let model = ModelName::parse("bench").unwrap();
    let manifest = Digest::of(b"manifest");
    let blob = Digest::of(b"weights");

    let mut lat = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        let v = NewVersion {
            model: model.clone(),
            manifest,
            size: 7,
            meta: VersionMeta {
                format: Some("onnx".into()),
                params: BTreeMap::from([("seed".to_string(), i.to_string())]),
                metrics: BTreeMap::from([("accuracy".to_string(), 0.9)]),
                ..Default::default()
            },
            created_by: "bench".into(),
            created_by_token: None,
        };
        reg.create_version(v, &[blob], None).await.expect("create version");
        lat.push(t.elapsed());
    }
    report("create_version", url, lat, start.elapsed());

    let alias = AliasName::parse("production").unwrap();
    reg.set_alias(&model, &alias, (n / 2).max(1) as u64, &Actor::named("bench"), None).await.expect("set alias");
    let r = Ref::parse("bench@production").unwrap();
    let mut lat = Vec::with_capacity(m);
    let start = Instant::now();
    for _ in 0..m {
        let t = Instant::now();
        let v = reg.resolve(&r).await.expect("resolve");
        assert_eq!(v.version, (n / 2).max(1) as u64);
        lat.push(t.elapsed());
    }
    report("resolve_alias", url, lat, start.elapsed());
}
