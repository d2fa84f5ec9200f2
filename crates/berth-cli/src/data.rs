//! `berth data …`: synthetic data, profiles and schemas. Pure data work with
//! no store or registry, so it calls `berth-data` directly.

use berth_data::synth::{Drift, Kind, SynthOptions, apply_drift, generate};
use berth_data::{ColumnProfile, Profile, ReadOptions, read_table, write_table};
use berth_service::{Result, ServiceError};
use serde::Serialize;

use crate::cli::{DataCommand, SynthArgs};
use crate::render;

#[derive(Serialize)]
struct SynthReport<'a> {
    output: &'a std::path::Path,
    kind: &'a str,
    rows: usize,
    seed: u64,
    columns: Vec<String>,
    drift: Vec<String>,
}

pub fn run(cmd: &DataCommand, json: bool) -> Result<()> {
    match cmd {
        DataCommand::Synth(a) => synth(a, json),
        DataCommand::Profile { file, columns, output } => {
            let t = read_table(file, &ReadOptions { schema: None, columns: columns.clone() })?;
            let p = Profile::of(&t);
            if let Some(out) = output {
                let text = serde_json::to_vec_pretty(&p).map_err(|e| ServiceError::input(e.to_string(), None))?;
                std::fs::write(out, text).map_err(|e| ServiceError::Infra {
                    message: format!("{}: cannot write: {e}", out.display()),
                    hint: None,
                })?;
            }
            if json {
                render::json(&p)
            } else {
                print_profile(&p)
            }
            Ok(())
        }
        DataCommand::Schema { file } => {
            let t = read_table(file, &ReadOptions::default())?;
            let s = t.schema();
            if json {
                render::json(&s);
            } else {
                let rows: Vec<Vec<String>> = s.fields.iter().map(|f| vec![f.name.clone(), f.ty.to_string()]).collect();
                render::table(&["COLUMN", "TYPE"], &rows);
                println!("{} rows", t.rows());
            }
            Ok(())
        }
    }
}

fn synth(a: &SynthArgs, json: bool) -> Result<()> {
    let kind = Kind::parse(&a.kind)?;
    let drifts = a.drift.iter().map(|d| Drift::parse(d)).collect::<berth_data::Result<Vec<_>>>()?;
    let o = SynthOptions {
        rows: a.rows,
        seed: a.seed,
        features: a.features,
        classes: a.classes,
        contamination: a.contamination,
    };
    let mut t = generate(kind, &o)?;
    if !drifts.is_empty() {
        t = apply_drift(&t, &drifts, a.seed)?;
    }
    write_table(&t, &a.output)?;
    let report = SynthReport {
        output: &a.output,
        kind: &a.kind,
        rows: t.rows(),
        seed: a.seed,
        columns: t.names(),
        drift: drifts.iter().map(ToString::to_string).collect(),
    };
    if json {
        render::json(&report);
    } else {
        println!("{} rows of {} data (seed {}) -> {}", report.rows, a.kind, a.seed, a.output.display());
        println!("  columns: {}", report.columns.join(", "));
        if !report.drift.is_empty() {
            println!("  drift:   {}", report.drift.join(", "));
        }
    }
    Ok(())
}

fn fmt(x: f64) -> String {
    if x.is_nan() { "-".into() } else { format!("{x:.4}") }
}

fn print_profile(p: &Profile) {
    let mut rows = Vec::new();
    for (name, c) in &p.columns {
        match c {
            ColumnProfile::Numeric(n) => rows.push(vec![
                name.clone(),
                "numeric".into(),
                n.count.to_string(),
                n.nulls.to_string(),
                fmt(n.mean),
                fmt(n.std),
                fmt(n.min),
                fmt(n.quantiles["p50"]),
                fmt(n.max),
                String::new(),
            ]),
            ColumnProfile::Categorical(k) => {
                let mut top: Vec<(&String, &u64)> = k.frequencies.iter().collect();
                top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
                let shown: Vec<String> = top.iter().take(3).map(|(l, n)| format!("{l}={n}")).collect();
                rows.push(vec![
                    name.clone(),
                    "categorical".into(),
                    k.count.to_string(),
                    k.nulls.to_string(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("{} distinct: {}", k.distinct, shown.join(", ")),
                ]);
            }
        }
    }
    render::table(&["COLUMN", "KIND", "COUNT", "NULLS", "MEAN", "STD", "MIN", "P50", "MAX", "CATEGORIES"], &rows);
    println!("{} rows", p.rows);
}
