//! The drift gate's error rates, measured: on samples with no drift it flags
//! about α of them (also with Levene's test beside the z-test); a 0.2σ shift
//! at n = 10,000 is found nearly always.
//! (Effect-size floors are off here: these check the tests themselves.)

use std::collections::BTreeMap;

use berth_data::Rng;
use berth_gate::drift::{Current, Reference, drift};
use berth_gate::gate::{Correction, DriftSpec, NumericTest};

fn spec() -> DriftSpec {
    DriftSpec { correction: Correction::None, min_wasserstein: 0.0, min_jensen_shannon: 0.0, ..DriftSpec::default() }
}

fn normal(rng: &mut Rng, n: usize, shift: f64) -> Vec<f64> {
    (0..n).map(|_| rng.normal() + shift).collect()
}

fn numeric_reference(mut v: Vec<f64>) -> Reference {
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    Reference::Numeric { count: v.len() as u64, sorted: v, mean, std }
}

fn categories(rng: &mut Rng, n: usize) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        *counts.entry(format!("c{}", rng.below(7))).or_insert(0) += 1;
    }
    counts
}

#[test]
fn false_positive_rate_at_alpha_5_percent_is_about_5_percent() {
    let mut rng = Rng::new(2026);
    let trials = 1000;
    let (mut numeric, mut categorical) = (0, 0);
    for _ in 0..trials {
        let (a, b) = (normal(&mut rng, 500, 0.0), normal(&mut rng, 500, 0.0));
        let (ca, cb) = (categories(&mut rng, 500), categories(&mut rng, 500));
        let r = drift(
            vec![
                ("x".into(), numeric_reference(a), Current::Numeric(b)),
                ("c".into(), Reference::Categorical { counts: ca }, Current::Categorical(cb)),
            ],
            &spec(),
        );
        numeric += usize::from(r.columns[0].drifted);
        categorical += usize::from(r.columns[1].drifted);
    }
    for (name, flagged) in [("KS", numeric), ("chi-square", categorical)] {
        let rate = flagged as f64 / trials as f64;
        assert!((0.03..=0.07).contains(&rate), "{name}: false-positive rate {rate}");
    }
}

#[test]
fn a_fifth_of_a_standard_deviation_is_found_at_ten_thousand_rows() {
    let mut rng = Rng::new(7);
    let trials = 100;
    let mut found = 0;
    for _ in 0..trials {
        let (a, b) = (normal(&mut rng, 10_000, 0.0), normal(&mut rng, 10_000, 0.2));
        let r = drift(vec![("x".into(), numeric_reference(a), Current::Numeric(b))], &DriftSpec::default());
        found += usize::from(r.columns[0].drifted);
    }
    assert!(found >= 95, "found {found} of {trials}");
}

#[test]
fn the_z_test_with_levene_beside_it_still_flags_about_alpha_without_drift() {
    let mut rng = Rng::new(99);
    let trials = 1000;
    let spec = DriftSpec { numeric_test: NumericTest::Z, ..spec() };
    let mut flagged = 0;
    for _ in 0..trials {
        let (a, b) = (normal(&mut rng, 500, 0.0), normal(&mut rng, 500, 0.0));
        let r = drift(vec![("x".into(), numeric_reference(a), Current::Numeric(b))], &spec);
        assert_eq!(r.columns[0].test, "z+levene");
        flagged += usize::from(r.columns[0].drifted);
    }
    let rate = flagged as f64 / trials as f64;
    println!("z + Levene: false-positive rate {rate}");
    assert!((0.02..=0.07).contains(&rate), "z + Levene: false-positive rate {rate}");
}
