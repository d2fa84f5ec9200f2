//! `berth data …`: synthetic data, profiles and schemas. Pure data work with
//! no store or registry, so it calls `berth-data` directly.

use berth_data::synth::{Kind, SynthOptions, apply_drift, generate};
use berth_data::{ColumnProfile, Profile, ReadOptions, read_table, write_table};
use berth_service::{Result, ServiceError};
use serde::Serialize;

use crate::cli::{CorrectionArg, DataCommand, DriftArgs, NumericTestArg, SynthArgs, SynthKind};
use crate::render;

#[derive(Serialize)]
struct SynthReport<'a> {
    output: &'a std::path::Path,
    kind: &'static str,
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
        DataCommand::Drift(a) => drift(a, json).map(|_| ()),
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

impl From<SynthKind> for Kind {
    fn from(k: SynthKind) -> Kind {
        match k {
            SynthKind::Classification => Kind::Classification,
            SynthKind::Regression => Kind::Regression,
            SynthKind::Forecast => Kind::Forecast,
            SynthKind::Text => Kind::Text,
            SynthKind::Anomaly => Kind::Anomaly,
        }
    }
}

impl SynthKind {
    fn as_str(self) -> &'static str {
        match self {
            SynthKind::Classification => "classification",
            SynthKind::Regression => "regression",
            SynthKind::Forecast => "forecast",
            SynthKind::Text => "text",
            SynthKind::Anomaly => "anomaly",
        }
    }
}

fn synth(a: &SynthArgs, json: bool) -> Result<()> {
    let drifts = &a.drift;
    let o = SynthOptions {
        rows: a.rows,
        seed: a.seed,
        features: a.features,
        classes: a.classes,
        contamination: a.contamination,
    };
    let mut t = generate(a.kind.into(), &o)?;
    if !drifts.is_empty() {
        t = apply_drift(&t, drifts, a.seed)?;
    }
    write_table(&t, &a.output)?;
    let report = SynthReport {
        output: &a.output,
        kind: a.kind.as_str(),
        rows: t.rows(),
        seed: a.seed,
        columns: t.names(),
        drift: drifts.iter().map(ToString::to_string).collect(),
    };
    if json {
        render::json(&report);
    } else {
        println!("{} rows of {} data (seed {}) -> {}", report.rows, report.kind, a.seed, a.output.display());
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

/// `berth data drift`: exit 1 when the dataset drifts.
pub fn drift(a: &DriftArgs, json: bool) -> Result<u8> {
    use berth_gate::drift::{Current, Reference};
    use berth_gate::gate::{Correction, DriftSpec, NumericTest};
    let bad = |m: String, h: &str| ServiceError::input(m, Some(h.to_string()));
    let correction = match a.correction {
        CorrectionArg::Holm => Correction::Holm,
        CorrectionArg::Bh => Correction::Bh,
        CorrectionArg::None => Correction::None,
    };
    let numeric_test = match a.numeric_test {
        NumericTestArg::Ks => NumericTest::Ks,
        NumericTestArg::Z => NumericTest::Z,
        NumericTestArg::Levene => NumericTest::Levene,
    };
    let spec = DriftSpec {
        alpha: a.alpha,
        correction,
        numeric_test,
        max_drifted_share: a.max_drifted_share,
        columns: a.columns.clone(),
        ..DriftSpec::default()
    };
    berth_gate::Gate { drift: Some(spec.clone()), ..Default::default() }
        .validate()
        .map_err(|e| bad(e.to_string(), "see `berth data drift --help`"))?;
    let options = ReadOptions { schema: None, columns: a.columns.clone() };
    // The two files are read at the same time.
    let (reference, current) = std::thread::scope(|s| {
        let reference = s.spawn(|| read_table(&a.reference, &options));
        let current = read_table(&a.data, &options);
        (reference.join().expect("reading the reference panicked"), current)
    });
    let (reference, current) = (reference?, current?);
    let names: Vec<String> = reference.names().into_iter().filter(|n| current.column(n).is_some()).collect();
    if names.is_empty() {
        return Err(bad(
            format!("{} and {} have no column in common", a.reference.display(), a.data.display()),
            "compare files with the same columns",
        ));
    }
    let columns = names
        .iter()
        .map(|n| {
            let (r, c) = (reference.column(n).expect("listed"), current.column(n).expect("listed"));
            (n.clone(), Reference::from_column(r), Current::from_column(c))
        })
        .collect();
    let report = berth_gate::drift::drift(columns, &spec);
    if json {
        render::json(&report);
    } else {
        let rows: Vec<Vec<String>> = report
            .columns
            .iter()
            .map(|c| {
                vec![
                    c.column.clone(),
                    c.test.to_string(),
                    format!("{:.4}", c.statistic),
                    format!("{:.3e}", c.p_adjusted),
                    format!("{:.4}", c.psi),
                    c.wasserstein_norm.or(c.jensen_shannon).map(|e| format!("{e:.4}")).unwrap_or_default(),
                    if c.drifted { "DRIFT".into() } else { c.skipped.clone().unwrap_or_else(|| "ok".into()) },
                ]
            })
            .collect();
        render::table(&["COLUMN", "TEST", "STATISTIC", "P (ADJ.)", "PSI", "EFFECT", ""], &rows);
        println!(
            "{} of {} columns drifted ({:.0}%, max {:.0}%): {}",
            report.drifted,
            report.tested,
            report.share * 100.0,
            report.max_drifted_share * 100.0,
            if report.dataset_drift { "DATASET DRIFT" } else { "no dataset drift" }
        );
    }
    Ok(if report.dataset_drift { 1 } else { 0 })
}
