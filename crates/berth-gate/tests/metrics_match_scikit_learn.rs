//! berth's metrics against the values scikit-learn computed on the same
//! inputs (scripts/reference_metrics.py), to 1e-9 relative. MAPE is the one
//! metric berth reports in another unit: percent, scikit-learn's fraction
//! × 100.

use berth_gate::metrics::{classification, regression};
use serde_json::Value;

const REFERENCE: &str = include_str!("data/metrics_reference.json");

fn close(name: &str, metric: &str, got: f64, want: f64) {
    let tol = 1e-9 * want.abs().max(1e-300) + 1e-15;
    assert!((got - want).abs() <= tol, "{name}: {metric} is {got}, scikit-learn says {want}");
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| x.to_string()).collect()
}

#[test]
fn every_metric_matches_scikit_learn_on_every_case() {
    let doc: Value = serde_json::from_str(REFERENCE).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let expected = case["expected"].as_object().unwrap();
        let got = if case["kind"] == "classification" {
            let (t, p) = (strings(&case["y_true"]), strings(&case["y_pred"]));
            let proba: Option<Vec<Vec<f64>>> = case.get("proba").map(|rows| {
                rows.as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())
                    .collect()
            });
            let labels = case.get("labels").map(strings);
            let m = classification(&t, &p, proba.as_deref().zip(labels.as_deref())).unwrap();
            let want: Vec<Vec<u64>> = serde_json::from_value(case["confusion_matrix"].clone()).unwrap();
            assert_eq!(m.confusion_matrix.counts, want, "{name}: confusion matrix");
            m.to_map()
        } else {
            let f = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<f64>>();
            regression(&f(&case["y_true"]), &f(&case["y_pred"])).unwrap().to_map()
        };
        for (metric, want) in expected {
            let value = got.get(metric).unwrap_or_else(|| panic!("{name}: berth does not compute {metric}"));
            let want = want.as_f64().unwrap();
            let want = if metric == "mape" { want * 100.0 } else { want };
            close(name, metric, *value, want);
            checked += 1;
        }
    }
    assert!(checked >= 160, "only {checked} values compared");
}

#[test]
fn mape_is_in_percent() {
    // Every prediction 30% above the truth: scikit-learn says 0.3, berth 30.
    let truth = [10.0, 20.0, 40.0, 80.0];
    let predicted: Vec<f64> = truth.iter().map(|t| t * 1.3).collect();
    let m = regression(&truth, &predicted).unwrap();
    assert!((m.mape - 30.0).abs() < 1e-9, "{}", m.mape);
}

#[test]
fn mismatched_lengths_and_empty_input_are_errors() {
    assert!(regression(&[1.0], &[]).is_err());
    assert!(regression(&[], &[]).is_err());
    let a = vec!["a".to_string()];
    assert!(classification(&a, &[], None).is_err());
}

/// `berth monitor` judges its labelled rows through the same metrics: each
/// reference case as a window of live traffic, every labelled row joined.
#[test]
fn the_monitor_reports_scikit_learns_values_for_its_labelled_rows() {
    use berth_gate::evaluate::Truth;
    use berth_gate::monitor::{Baseline, Live, MonitorSpec, assess};
    use berth_ml::Prediction;

    let doc: Value = serde_json::from_str(REFERENCE).unwrap();
    let spec = MonitorSpec { min_labelled: 1, ..MonitorSpec::default() };
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let floats = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<f64>>();
        let (truth, prediction) = if case["kind"] == "classification" {
            let proba: Option<Vec<Vec<f64>>> =
                case.get("proba").map(|rows| rows.as_array().unwrap().iter().map(floats).collect());
            let p = Prediction {
                values: None,
                labels: Some(strings(&case["y_pred"])),
                probabilities: proba,
                classes: case.get("labels").map(strings),
            };
            (Truth::Labels(strings(&case["y_true"])), p)
        } else {
            let p =
                Prediction { values: Some(floats(&case["y_pred"])), labels: None, probabilities: None, classes: None };
            (Truth::Values(floats(&case["y_true"])), p)
        };
        let rows = prediction.len();
        let inputs = berth_data::Table::new(vec![berth_data::Column::float("x", vec![0.0; rows])]).unwrap();
        let live = Live {
            inputs: &inputs,
            predicted: None,
            latency_ms: &[],
            requests: 1,
            labelled: Some((truth, prediction)),
        };
        let r = assess(&spec, live, &Baseline { profile: None, target: None });
        assert_eq!(r.labelled, rows as u64, "{name}");
        for (metric, want) in case["expected"].as_object().unwrap() {
            let got = r.metrics.get(metric).unwrap_or_else(|| panic!("{name}: the monitor does not report {metric}"));
            let want = want.as_f64().unwrap();
            close(name, metric, *got, if metric == "mape" { want * 100.0 } else { want });
            checked += 1;
        }
    }
    assert!(checked >= 160, "only {checked} values compared");
}
