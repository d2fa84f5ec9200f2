//! hist_gradient_boosting against scikit-learn's HistGradientBoosting* and
//! LightGBM 4 at their defaults (scripts/reference_hist_gradient_boosting.py):
//! the same 20,000 generated rows — missing values in two numeric features
//! and in a text column — trained on the first 16,000, scored on the rest.
//! Without early stopping, the held-out accuracy / R² must be within half a
//! point of scikit-learn's and of LightGBM's; at the defaults (early stopping
//! on a random tenth of the training rows), no more than a point below. The
//! absolute-error and Poisson losses are held to scikit-learn's held-out
//! error within 3 % and to LightGBM's without early stopping, and to
//! scikit-learn's at the defaults within its own spread across seeds.

use std::path::Path;
use std::time::Instant;

use berth_data::{Column, ReadOptions, Table, read_table};
use berth_ml::{Algorithm, AlgorithmName, Model, Predictor, Task, TrainConfig, train};
use serde_json::Value;

/// splitmix64, as the reference script has it.
struct SplitMix(u64);

impl SplitMix {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 * 2f64.powi(-53)
    }

    fn noise(&mut self) -> f64 {
        self.uniform() + self.uniform() + self.uniform() + self.uniform() - 2.0
    }
}

const LEVELS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const CAT_EFFECT: [f64; 6] = [0.9, -0.8, 0.3, -0.2, 1.2, -1.1];
const ROWS: usize = 20_000;
const TRAIN: usize = 16_000;
const TOLERANCE: f64 = 0.005;

/// The reference rows, computed exactly as the script's `generate`.
fn generate() -> Table {
    let mut r = SplitMix(20_261_202);
    let mut x_cols: Vec<Vec<f64>> = (0..8).map(|_| Vec::with_capacity(ROWS)).collect();
    let (mut c, mut c_valid) = (Vec::with_capacity(ROWS), Vec::with_capacity(ROWS));
    let (mut y_bin, mut y_multi, mut y_reg) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROWS {
        let x: Vec<f64> = (0..8).map(|_| 2.0 * r.uniform() - 1.0).collect();
        let k = (r.uniform() * 6.0) as usize;
        let (e0, e1, e2) = (r.noise(), r.noise(), r.noise());
        let step = if x[2] > 0.2 { 1.0 } else { -0.6 };
        let s = 1.5 * x[0] * x[1] + step + 2.0 * x[3] * x[3] - 0.7 + 0.8 * x[4] - 0.5 * x[5] * x[6]
            + CAT_EFFECT[k]
            + 0.8 * e0;
        let reg =
            3.0 * x[0] * x[1] + 2.0 * step + 2.0 * x[3] * x[3] + x[4] - x[5] * x[6] + 1.5 * CAT_EFFECT[k] + 0.5 * e0;
        let m =
            [x[0] + CAT_EFFECT[k] + 0.5 * e1, 3.0 * x[1] * x[2] + 0.5 * e2, 3.0 * x[3] * x[3] - 1.0 + x[7] + 0.5 * e0];
        let mut multi = 0;
        for cl in [1, 2] {
            if m[cl] > m[multi] {
                multi = cl;
            }
        }
        let (miss0, miss3, miss_c) = (r.uniform() < 0.1, r.uniform() < 0.15, r.uniform() < 0.05);
        for (j, col) in x_cols.iter_mut().enumerate() {
            col.push(if (j == 0 && miss0) || (j == 3 && miss3) { f64::NAN } else { x[j] });
        }
        c.push(if miss_c { "" } else { LEVELS[k] });
        c_valid.push(!miss_c);
        y_bin.push(i64::from(s > 0.0));
        y_multi.push(multi as i64);
        y_reg.push(reg);
    }
    let mut cols: Vec<Column> =
        x_cols.into_iter().enumerate().map(|(j, v)| Column::float(format!("x{j}"), v)).collect();
    cols.push(Column::strings("c", &c).with_valid(c_valid));
    cols.push(Column::int("y_bin", y_bin));
    cols.push(Column::int("y_multi", y_multi));
    cols.push(Column::float("y_pos", y_reg.iter().map(|v| (v / 4.0).exp()).collect()));
    cols.push(Column::float("y_reg", y_reg));
    Table::new(cols).unwrap()
}

fn features() -> Vec<String> {
    (0..8).map(|j| format!("x{j}")).chain(["c".to_string()]).collect()
}

fn config(task: Task, target: &str) -> TrainConfig {
    TrainConfig {
        model_type: task.into(),
        algorithm: Algorithm::with_defaults(AlgorithmName::HistGradientBoosting),
        features: Some(features()),
        target: Some(target.into()),
        validation_split: 0.0,
        seed: 1,
        data: None,
        time_column: None,
    }
}

fn accuracy(m: &Model, test: &Table, target: &str) -> f64 {
    let labels = m.predict(test).unwrap().labels.unwrap();
    let y = test.column(target).unwrap();
    (0..test.rows()).filter(|&i| y.display(i) == labels[i]).count() as f64 / test.rows() as f64
}

fn r2(m: &Model, test: &Table, target: &str) -> f64 {
    let p = m.predict(test).unwrap().values.unwrap();
    let y: Vec<f64> = (0..test.rows()).map(|i| test.column(target).unwrap().as_f64(i).unwrap()).collect();
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_res: f64 = y.iter().zip(&p).map(|(a, b)| (a - b).powi(2)).sum();
    1.0 - ss_res / y.iter().map(|a| (a - mean).powi(2)).sum::<f64>()
}

/// The held-out score of berth's model on `target`, trained on the first
/// rows with `early_stopping` (-1 auto, 0 off).
fn score(t: &Table, task: Task, target: &str, early_stopping: f64) -> (f64, Model) {
    let (train_t, test_t) = (t.take(&(0..TRAIN).collect::<Vec<_>>()), t.take(&(TRAIN..ROWS).collect::<Vec<_>>()));
    let mut cfg = config(task, target);
    let given = [("early_stopping".to_string(), early_stopping.into())].into_iter().collect();
    cfg.algorithm = Algorithm::new(AlgorithmName::HistGradientBoosting, &given).unwrap();
    let model = train(&train_t, &cfg).unwrap().model;
    let got = match task {
        Task::Regression => r2(&model, &test_t, target),
        _ => accuracy(&model, &test_t, target),
    };
    (got, model)
}

/// Scores berth against both references, at the defaults and without early
/// stopping. Without it both sides fit the same rows, so the scores must
/// agree to [`TOLERANCE`]; at the defaults each side holds out its own random
/// tenth of the training rows, which alone moves the score by up to a point
/// on this data, so berth's must be no more than twice that below either.
fn check(task: Task, target: &str, metric: &str) {
    let t = generate();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hist_gradient_boosting.json");
    let r: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let key = format!("{target}_{metric}");
    for (run, early_stopping, tolerance) in [("no_early_stopping", 0.0, TOLERANCE), ("defaults", -1.0, 2.0 * TOLERANCE)]
    {
        let (got, model) = score(&t, task, target, early_stopping);
        for library in ["scikit-learn", "lightgbm"] {
            let want = r[run][library][&key].as_f64().unwrap();
            eprintln!("{key} ({run}): berth {got:.4}, {library} {want:.4}");
            let ok = if early_stopping == 0.0 { (got - want).abs() <= tolerance } else { got >= want - tolerance };
            assert!(ok, "{key} ({run}): berth {got:.4}, {library} {want:.4}");
        }
        assert_eq!(Model::from_bytes(&model.to_bytes()).unwrap(), model, "the model file round-trips");
    }
}

/// The held-out error of berth's regressor trained with `loss` on `target`:
/// the mean absolute error, or for Poisson the mean Poisson deviance.
fn loss_error(t: &Table, loss: &str, target: &str, early_stopping: f64) -> f64 {
    let (train_t, test_t) = (t.take(&(0..TRAIN).collect::<Vec<_>>()), t.take(&(TRAIN..ROWS).collect::<Vec<_>>()));
    let mut cfg = config(Task::Regression, target);
    let given = [
        ("early_stopping".to_string(), early_stopping.into()),
        ("loss".to_string(), berth_ml::Hyper::Name(loss.into())),
    ]
    .into_iter()
    .collect();
    cfg.algorithm = Algorithm::new(AlgorithmName::HistGradientBoosting, &given).unwrap();
    let model = train(&train_t, &cfg).unwrap().model;
    assert_eq!(Model::from_bytes(&model.to_bytes()).unwrap(), model, "the model file round-trips");
    let p = model.predict(&test_t).unwrap().values.unwrap();
    let y: Vec<f64> = (0..test_t.rows()).map(|i| test_t.column(target).unwrap().as_f64(i).unwrap()).collect();
    let n = y.len() as f64;
    match loss {
        "poisson" => {
            y.iter().zip(&p).map(|(y, mu)| 2.0 * (if *y > 0.0 { y * (y / mu).ln() } else { 0.0 } - y + mu)).sum::<f64>()
                / n
        }
        _ => y.iter().zip(&p).map(|(y, v)| (y - v).abs()).sum::<f64>() / n,
    }
}

fn check_loss(loss: &str, target: &str, key: &str) {
    let t = generate();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hist_gradient_boosting.json");
    let r: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    // Without early stopping every side fits the same rows: within 3 % of
    // scikit-learn, and no more than 3 % worse than LightGBM. At the
    // defaults each side holds out its own tenth, and scikit-learn's own
    // held-out MAE ranges over 0.525-0.574 for random_state 0-4 on this
    // data, so berth's may be up to 10 % above the reference run's.
    for (run, early_stopping) in [("no_early_stopping", 0.0), ("defaults", -1.0)] {
        let got = loss_error(&t, loss, target, early_stopping);
        let sklearn = r[run]["scikit-learn"][key].as_f64().unwrap();
        let lightgbm = r[run]["lightgbm"][key].as_f64().unwrap();
        eprintln!("{key} ({run}): berth {got:.5}, scikit-learn {sklearn:.5}, lightgbm {lightgbm:.5}");
        if early_stopping == 0.0 {
            assert!((got / sklearn - 1.0).abs() <= 0.03, "{key} ({run}): berth {got:.5}, scikit-learn {sklearn:.5}");
            assert!(got <= lightgbm * 1.03, "{key} ({run}): berth {got:.5}, lightgbm {lightgbm:.5}");
        } else {
            assert!(got <= sklearn * 1.10, "{key} ({run}): berth {got:.5}, scikit-learn {sklearn:.5}");
        }
    }
}

#[test]
fn absolute_error_matches_scikit_learn() {
    check_loss("absolute_error", "y_reg", "y_reg_mae");
}

#[test]
fn poisson_deviance_matches_scikit_learn() {
    check_loss("poisson", "y_pos", "y_pos_poisson_deviance");
}

#[test]
fn binary_accuracy_matches_scikit_learn_and_lightgbm() {
    check(Task::Classification, "y_bin", "accuracy");
}

#[test]
fn multiclass_accuracy_matches_scikit_learn_and_lightgbm() {
    check(Task::Classification, "y_multi", "accuracy");
}

#[test]
fn regression_r2_matches_scikit_learn_and_lightgbm() {
    check(Task::Regression, "y_reg", "r2");
}

#[test]
fn the_same_seed_gives_the_same_model_file() {
    let t = generate().take(&(0..12_000).collect::<Vec<_>>());
    let mut cfg = config(Task::Classification, "y_multi");
    cfg.validation_split = 0.2;
    let a = train(&t, &cfg).unwrap().model.to_bytes();
    let b = train(&t, &cfg).unwrap().model.to_bytes();
    assert!(a == b, "two fits with the same seed differ");
    cfg.seed = 2;
    assert!(train(&t, &cfg).unwrap().model.to_bytes() != a, "the seed changes the split");
}

/// Fit time on the CSV the reference script writes with `--timing FILE`
/// (80,000 training rows × 20 features); prints, asserts nothing. Run with
/// `BERTH_TIMING_CSV=FILE cargo test --release --test hist_gradient_boosting -- --ignored --nocapture`.
#[test]
#[ignore = "a timing run, not a test"]
fn time_a_fit_on_80k_rows() {
    let Ok(file) = std::env::var("BERTH_TIMING_CSV") else {
        eprintln!("set BERTH_TIMING_CSV to the CSV the reference script's --timing writes");
        return;
    };
    let t = read_table(Path::new(&file), &ReadOptions::default()).unwrap();
    let (train_t, test_t) = (t.take(&(0..80_000).collect::<Vec<_>>()), t.take(&(80_000..t.rows()).collect::<Vec<_>>()));
    for name in [AlgorithmName::HistGradientBoosting, AlgorithmName::GradientBoosting] {
        let cfg = TrainConfig {
            model_type: Task::Classification.into(),
            algorithm: Algorithm::with_defaults(name),
            features: None,
            target: Some("y".into()),
            validation_split: 0.0,
            seed: 1,
            data: None,
            time_column: None,
        };
        let started = Instant::now();
        let trained = train(&train_t, &cfg).unwrap();
        let seconds = started.elapsed().as_secs_f64();
        let acc = accuracy(&trained.model, &test_t, "y");
        eprintln!("berth {name}: fit {seconds:.2} s, held-out accuracy {acc:.4}, {} iterations", trained.iterations);
    }
}
