//! berth's statistics against the values SciPy computed on the same inputs
//! (scripts/reference_stats.py), to 1e-9 relative: Kolmogorov–Smirnov,
//! chi-square, the z-test, Levene's test, their distributions, the distances
//! and the corrections.

use berth_gate::stats::{
    benjamini_hochberg, beta_inc, chi2_contingency, chi2_sf, f_sf, holm, jensenshannon, ks_2samp, kstwo_sf, levene,
    levene_sorted, normal_sf, psi, smirnov, wasserstein_distance, ztest_two_sample,
};
use serde_json::Value;

const REFERENCE: &str = include_str!("data/stats_reference.json");
const RELATIVE: f64 = 1e-9;
/// Below this, values are compared absolutely (both sides are ~0).
const TINY: f64 = 1e-300;

fn doc() -> Value {
    serde_json::from_str(REFERENCE).unwrap()
}

/// Relative error of `got` against `want`, absolute below [`TINY`].
fn error(got: f64, want: f64) -> f64 {
    if got == want {
        return 0.0;
    }
    (got - want).abs() / want.abs().max(TINY)
}

struct Checker {
    checked: usize,
    worst: f64,
    worst_at: String,
    failures: Vec<String>,
}

impl Checker {
    fn new() -> Checker {
        Checker { checked: 0, worst: 0.0, worst_at: String::new(), failures: Vec::new() }
    }

    fn close(&mut self, what: &str, got: f64, want: f64) {
        self.checked += 1;
        let e = error(got, want);
        if e > self.worst {
            self.worst = e;
            self.worst_at = what.to_string();
        }
        if e.is_nan() || e > RELATIVE {
            self.failures.push(format!("{what}: got {got:e}, SciPy says {want:e} (relative error {e:e})"));
        }
    }

    fn finish(self, group: &str) {
        println!("{group}: {} values, max relative error {:e} ({})", self.checked, self.worst, self.worst_at);
        assert!(self.checked > 0, "{group}: nothing checked");
        assert!(self.failures.is_empty(), "{group}: {} mismatches:\n{}", self.failures.len(), self.failures.join("\n"));
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}

/// Inline samples are integers over a denominator, so both sides build the same doubles.
fn inline_sample(case: &Value, key: &str) -> Vec<f64> {
    let den = num(&case["den"]);
    case[key].as_array().unwrap().iter().map(|x| x.as_i64().unwrap() as f64 / den).collect()
}

/// The deterministic generator of scripts/reference_stats.py.
fn generated(generator: &Value, spec: &Value) -> Vec<f64> {
    let p: Vec<i64> = generator["p"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
    let c: Vec<i64> = generator["c"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
    let m = generator["m"].as_i64().unwrap();
    let (n, offset) = (spec["n"].as_i64().unwrap(), spec["offset"].as_i64().unwrap());
    let (scale, shift) = (num(&spec["scale"]), num(&spec["shift"]));
    (0..n)
        .map(|i| {
            let i = i + offset;
            let total = p.iter().zip(&c).fold(0.0, |acc, (p, c)| acc + ((i * p + c) % m) as f64 / m as f64);
            (total - 2.0) * scale + shift
        })
        .collect()
}

/// Keeps the slowest call seen, for the timing line each grid test prints.
fn note_slowest(slowest: &mut (f64, String), started: std::time::Instant, label: impl Fn() -> String) {
    let seconds = started.elapsed().as_secs_f64();
    if seconds > slowest.0 {
        *slowest = (seconds, label());
    }
}

fn ks_cases(select: impl Fn(&Value) -> bool) -> Checker {
    let doc = doc();
    let mut checker = Checker::new();
    for case in doc["ks_2samp"].as_array().unwrap().iter().filter(|c| select(c)) {
        let name = case["name"].as_str().unwrap();
        let (a, b) = if case.get("gen_a").is_some() {
            (generated(&doc["generator"], &case["gen_a"]), generated(&doc["generator"], &case["gen_b"]))
        } else {
            (inline_sample(case, "a"), inline_sample(case, "b"))
        };
        let started = std::time::Instant::now();
        let result = ks_2samp(&a, &b).unwrap();
        println!("ks_2samp {name}: {:.3} s", started.elapsed().as_secs_f64());
        checker.close(&format!("{name} statistic"), result.statistic, num(&case["statistic"]));
        checker.close(&format!("{name} p-value"), result.pvalue, num(&case["pvalue"]));
    }
    checker
}

fn sizes(case: &Value) -> (usize, usize) {
    match case.get("gen_a") {
        Some(a) => (a["n"].as_u64().unwrap() as usize, case["gen_b"]["n"].as_u64().unwrap() as usize),
        None => (case["a"].as_array().unwrap().len(), case["b"].as_array().unwrap().len()),
    }
}

#[test]
fn ks_2samp_matches_scipy_on_exact_path() {
    ks_cases(|c| {
        let (n1, n2) = sizes(c);
        n1.max(n2) <= 10_000
    })
    .finish("ks_2samp exact path");
}

#[test]
fn ks_2samp_matches_scipy_on_asymptotic_path() {
    ks_cases(|c| {
        let (n1, n2) = sizes(c);
        n1.max(n2) > 10_000
    })
    .finish("ks_2samp asymptotic path");
}

#[test]
fn kstwo_sf_matches_scipy_on_every_branch() {
    let mut checker = Checker::new();
    let mut slowest = (0.0, String::new());
    for row in doc()["kstwo_sf"].as_array().unwrap() {
        let (n, d, want) = (row[0].as_u64().unwrap(), num(&row[1]), num(&row[2]));
        let started = std::time::Instant::now();
        checker.close(&format!("kstwo.sf({d}, {n})"), kstwo_sf(d, n), want);
        note_slowest(&mut slowest, started, || format!("kstwo.sf({d}, {n})"));
    }
    println!("slowest: {:.3} s for {}", slowest.0, slowest.1);
    checker.finish("kstwo.sf");
}

#[test]
fn smirnov_matches_scipy() {
    let mut checker = Checker::new();
    let mut slowest = (0.0, String::new());
    for row in doc()["smirnov"].as_array().unwrap() {
        let (n, x, want) = (row[0].as_u64().unwrap(), num(&row[1]), num(&row[2]));
        let started = std::time::Instant::now();
        checker.close(&format!("smirnov({n}, {x})"), smirnov(n, x), want);
        note_slowest(&mut slowest, started, || format!("smirnov({n}, {x})"));
    }
    println!("slowest: {:.3} s for {}", slowest.0, slowest.1);
    checker.finish("smirnov");
}

#[test]
fn chi2_contingency_matches_scipy() {
    let mut checker = Checker::new();
    for case in doc()["chi2_contingency"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let table: Vec<Vec<f64>> = case["table"].as_array().unwrap().iter().map(floats).collect();
        let result = chi2_contingency(&table).unwrap();
        assert_eq!(result.dof as u64, case["dof"].as_u64().unwrap(), "{name}: dof");
        checker.close(&format!("{name} statistic"), result.statistic, num(&case["statistic"]));
        checker.close(&format!("{name} p-value"), result.pvalue, num(&case["pvalue"]));
    }
    checker.finish("chi2_contingency");
}

#[test]
fn chi2_sf_matches_scipy() {
    let mut checker = Checker::new();
    for row in doc()["chi2_sf"].as_array().unwrap() {
        let (k, x, want) = (num(&row[0]), num(&row[1]), num(&row[2]));
        checker.close(&format!("chi2.sf({x}, {k})"), chi2_sf(x, k), want);
    }
    checker.finish("chi2.sf");
}

#[test]
fn normal_sf_matches_scipy() {
    let mut checker = Checker::new();
    for row in doc()["normal_sf"].as_array().unwrap() {
        let (z, want) = (num(&row[0]), num(&row[1]));
        checker.close(&format!("norm.sf({z})"), normal_sf(z), want);
    }
    checker.finish("norm.sf");
}

#[test]
fn ztest_and_wasserstein_match_numpy_and_scipy() {
    let mut checker = Checker::new();
    for case in doc()["two_sample"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (a, b) = (inline_sample(case, "a"), inline_sample(case, "b"));
        let z = ztest_two_sample(&a, &b).unwrap();
        checker.close(&format!("{name} z"), z.statistic, num(&case["z"]));
        checker.close(&format!("{name} z p-value"), z.pvalue, num(&case["z_pvalue"]));
        checker.close(&format!("{name} wasserstein"), wasserstein_distance(&a, &b).unwrap(), num(&case["wasserstein"]));
    }
    checker.finish("z-test and Wasserstein");
}

#[test]
fn levene_matches_scipy_on_inline_and_generated_samples() {
    let doc = doc();
    let mut checker = Checker::new();
    for case in doc["levene"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let samples: Vec<Vec<f64>> = match case.get("gen") {
            Some(specs) => specs.as_array().unwrap().iter().map(|s| generated(&doc["generator"], s)).collect(),
            None => {
                let den = num(&case["den"]);
                case["samples"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_array().unwrap().iter().map(|x| x.as_i64().unwrap() as f64 / den).collect())
                    .collect()
            }
        };
        let views: Vec<&[f64]> = samples.iter().map(|s| s.as_slice()).collect();
        let result = levene(&views).unwrap();
        checker.close(&format!("{name} statistic"), result.statistic, num(&case["statistic"]));
        checker.close(&format!("{name} p-value"), result.pvalue, num(&case["pvalue"]));
        // The drift check's entry point, on sorted copies, agrees.
        let sorted: Vec<Vec<f64>> = samples
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s.sort_by(f64::total_cmp);
                s
            })
            .collect();
        let views: Vec<&[f64]> = sorted.iter().map(|s| s.as_slice()).collect();
        checker.close(&format!("{name} p-value (sorted)"), levene_sorted(&views).unwrap().pvalue, num(&case["pvalue"]));
    }
    checker.finish("levene");
}

#[test]
fn f_sf_and_beta_inc_match_scipy() {
    let mut checker = Checker::new();
    for row in doc()["f_sf"].as_array().unwrap() {
        let (dfn, dfd, x, want) = (num(&row[0]), num(&row[1]), num(&row[2]), num(&row[3]));
        checker.close(&format!("f.sf({x}, {dfn}, {dfd})"), f_sf(x, dfn, dfd), want);
    }
    for row in doc()["beta_inc"].as_array().unwrap() {
        let (a, b, x, want) = (num(&row[0]), num(&row[1]), num(&row[2]), num(&row[3]));
        checker.close(&format!("betainc({a}, {b}, {x})"), beta_inc(a, b, x), want);
    }
    checker.finish("f.sf and betainc");
}

#[test]
fn jensenshannon_and_psi_match_scipy_and_numpy() {
    let mut checker = Checker::new();
    for case in doc()["binned"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (p, q) = (floats(&case["p"]), floats(&case["q"]));
        checker.close(&format!("{name} jensenshannon"), jensenshannon(&p, &q).unwrap(), num(&case["jensenshannon"]));
        checker.close(&format!("{name} psi"), psi(&p, &q).unwrap(), num(&case["psi"]));
    }
    checker.finish("Jensen-Shannon and PSI");
}

#[test]
fn holm_and_benjamini_hochberg_match_reference() {
    let mut checker = Checker::new();
    for case in doc()["corrections"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let p = floats(&case["p"]);
        for (method, got) in [("holm", holm(&p).unwrap()), ("bh", benjamini_hochberg(&p).unwrap())] {
            let want = floats(&case[method]);
            assert_eq!(got.len(), want.len(), "{name} {method}: length");
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                checker.close(&format!("{name} {method}[{i}]"), *g, *w);
            }
        }
    }
    checker.finish("Holm and Benjamini-Hochberg");
}
