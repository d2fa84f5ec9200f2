//! Live drift for Prometheus: the last `--drift-window` rows a version
//! answered, each input column counted in the bins the gate's PSI uses
//! (`berth_gate::bins`) against the version's reference profile, and what
//! the version predicted (its labels by class, its values by quantile, and
//! their PSI against the training target). The counts per bin move as rows
//! enter and leave the window, so recording a request costs a bin lookup
//! per value, and a scrape a PSI per column, never a pass over the rows.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;

use berth_data::{Column, ColumnData, ColumnProfile, ColumnType, MAX_CATEGORIES, OTHER, Profile, Table};
use berth_gate::bins::{Bins, bin_of};
use berth_ml::Prediction;

use crate::input::Inputs;
use crate::metrics::escape;

/// A row without a value in a column (null, NaN or infinite): counted as
/// missing, in no bin.
const MISSING: u32 = u32::MAX;
const QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// For each row of the window, the bin it fell in; and how many rows each
/// bin holds.
#[derive(Default)]
struct Counts {
    slots: Vec<u32>,
    per_bin: Vec<u64>,
    missing: u64,
}

impl Counts {
    /// Puts bin `b` at position `at`, forgetting what was there.
    fn put(&mut self, at: usize, b: u32) {
        if at < self.slots.len() {
            let old = std::mem::replace(&mut self.slots[at], b);
            match old {
                MISSING => self.missing -= 1,
                old => self.per_bin[old as usize] -= 1,
            }
        } else {
            self.slots.push(b);
        }
        match b {
            MISSING => self.missing += 1,
            b => self.per_bin[b as usize] += 1,
        }
    }

    fn missing_ratio(&self) -> f64 {
        if self.slots.is_empty() { 0.0 } else { self.missing as f64 / self.slots.len() as f64 }
    }
}

/// A column compared with its reference: its bins, and the categories the
/// reference never saw, each a bin after the reference's own (beyond
/// [`MAX_CATEGORIES`] of them, all further ones share the bin of `OTHER`,
/// as a profile counts them).
struct Track {
    column: String,
    bins: Bins,
    unseen: HashMap<String, u32>,
    counts: Counts,
}

impl Track {
    fn new(column: &str, bins: Bins) -> Track {
        let counts = Counts { per_bin: vec![0; bins.len()], ..Counts::default() };
        Track { column: column.to_string(), bins, unseen: HashMap::new(), counts }
    }

    fn category(&mut self, level: &str) -> u32 {
        let Bins::Categorical { levels, .. } = &self.bins else { return MISSING };
        let key = if self.unseen.len() >= MAX_CATEGORIES && !self.unseen.contains_key(level) { OTHER } else { level };
        if let Ok(i) = levels.binary_search_by(|l| l.as_str().cmp(key)) {
            return i as u32;
        }
        if let Some(i) = self.unseen.get(key) {
            return *i;
        }
        let i = self.counts.per_bin.len() as u32;
        self.counts.per_bin.push(0);
        self.unseen.insert(key.to_string(), i);
        i
    }

    fn number(&self, x: Option<f64>) -> u32 {
        match (&self.bins, x) {
            (Bins::Numeric { edges, .. }, Some(x)) if x.is_finite() => bin_of(edges, x) as u32,
            _ => MISSING,
        }
    }

    /// The bin of each of `rows` of `c`.
    fn bins_of(&mut self, c: &Column, rows: std::ops::Range<usize>) -> Vec<u32> {
        match (&self.bins, &c.data) {
            (Bins::Categorical { .. }, ColumnData::Str { levels, codes }) => {
                let by_code: Vec<u32> = levels.iter().map(|l| self.category(l)).collect();
                rows.map(|i| if c.is_null(i) { MISSING } else { by_code[codes[i] as usize] }).collect()
            }
            (Bins::Categorical { .. }, ColumnData::Bool(v)) => {
                let (f, t) = (self.category("false"), self.category("true"));
                rows.map(|i| {
                    if c.is_null(i) {
                        MISSING
                    } else if v[i] {
                        t
                    } else {
                        f
                    }
                })
                .collect()
            }
            (Bins::Categorical { .. }, _) => rows.map(|_| MISSING).collect(),
            (Bins::Numeric { .. }, ColumnData::Str { .. }) => {
                rows.map(|i| self.number(c.str_at(i).and_then(|s| s.trim().parse().ok()))).collect()
            }
            (Bins::Numeric { .. }, _) => rows.map(|i| self.number(c.as_f64(i))).collect(),
        }
    }

    /// The bin of each of `rows` of what was predicted: labels as the
    /// target's categories (or, for a target profiled as numbers, as the
    /// numbers they spell), values as numbers.
    fn bins_of_predictions(&mut self, p: &Prediction, rows: std::ops::Range<usize>) -> Vec<u32> {
        match (&self.bins, &p.labels, &p.values) {
            (Bins::Categorical { .. }, Some(l), _) => l[rows].iter().map(|x| self.category(x)).collect(),
            (Bins::Numeric { .. }, Some(l), _) => l[rows].iter().map(|x| self.number(x.trim().parse().ok())).collect(),
            (Bins::Numeric { .. }, None, Some(v)) => v[rows].iter().map(|x| self.number(Some(*x))).collect(),
            _ => rows.map(|_| MISSING).collect(),
        }
    }

    fn psi(&self) -> Option<f64> {
        self.bins.psi(&self.counts.per_bin)
    }
}

struct Window {
    /// Rows in the window, at most the capacity.
    rows: usize,
    /// With the window full, the position of its oldest row.
    oldest: usize,
    inputs: Vec<Track>,
    /// The predictions against the training target's profile.
    target: Option<Track>,
    /// Predicted labels by class (classifiers and detectors).
    classes: Option<(Vec<String>, Counts)>,
    /// Predicted values and scores, by position (NaN where there is none).
    values: Vec<f64>,
}

/// The window of one version, shared by every request it answers.
pub struct LiveWindow {
    capacity: usize,
    window: Mutex<Window>,
}

/// What a scrape reads of a window, taken under its lock.
pub struct Snapshot {
    rows: usize,
    /// Per tracked input: column, PSI (none without a value), missing share.
    inputs: Vec<(String, Option<f64>, f64)>,
    prediction_psi: Option<f64>,
    class_ratio: Vec<(String, f64)>,
    value_quantiles: Vec<(f64, f64)>,
}

impl LiveWindow {
    /// A window of `capacity` rows (none for 0). Input columns are tracked
    /// where the profile has them with a kind their type can be compared
    /// with, as the gate would test them: timestamps and identifiers are
    /// left out. `target` names the training target in the profile, which
    /// the predictions are compared with.
    pub fn new(
        capacity: usize,
        profile: Option<&Profile>,
        inputs: &Inputs,
        target: Option<&str>,
        classes: Option<&[String]>,
    ) -> Option<LiveWindow> {
        if capacity == 0 {
            return None;
        }
        let comparable = |ty: ColumnType, p: &ColumnProfile| match p {
            ColumnProfile::Numeric(_) => matches!(ty, ColumnType::Float | ColumnType::Int),
            ColumnProfile::Categorical(_) => matches!(ty, ColumnType::Str | ColumnType::Bool),
        };
        let mut tracked = Vec::new();
        let mut target_track = None;
        if let Some(profile) = profile {
            for f in &inputs.fields {
                if berth_gate::drift::named_like_identifier(&f.name) {
                    continue;
                }
                let Some(p) = profile.column(&f.name) else { continue };
                if !comparable(f.ty, p) {
                    tracing::warn!(column = %f.name, "live drift: the input's type differs from its reference profile; not tracked");
                    continue;
                }
                if let Some(bins) = Bins::from_profile(p) {
                    tracked.push(Track::new(&f.name, bins));
                }
            }
            target_track = target
                .and_then(|t| profile.column(t).map(|p| (t, p)))
                .and_then(|(t, p)| Bins::from_profile(p).map(|b| Track::new(t, b)));
        }
        let classes = classes
            .filter(|c| !c.is_empty())
            .map(|c| (c.to_vec(), Counts { per_bin: vec![0; c.len()], ..Counts::default() }));
        Some(LiveWindow {
            capacity,
            window: Mutex::new(Window {
                rows: 0,
                oldest: 0,
                inputs: tracked,
                target: target_track,
                classes,
                values: Vec::new(),
            }),
        })
    }

    /// Takes the rows of one answered request into the window (only its
    /// last `capacity` rows, when it has more).
    pub fn observe(&self, table: &Table, p: &Prediction) {
        let n = table.rows().min(p.len());
        let rows = n.saturating_sub(self.capacity)..n;
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let inputs: Vec<Vec<u32>> = w
            .inputs
            .iter_mut()
            .map(|t| match table.column(&t.column) {
                Some(c) => t.bins_of(c, rows.clone()),
                None => rows.clone().map(|_| MISSING).collect(),
            })
            .collect();
        let target: Option<Vec<u32>> = w.target.as_mut().map(|t| t.bins_of_predictions(p, rows.clone()));
        let classes: Option<Vec<u32>> = match (&w.classes, &p.labels) {
            (Some((names, _)), Some(l)) => Some(
                l[rows.clone()]
                    .iter()
                    .map(|x| names.iter().position(|c| c == x).map_or(MISSING, |k| k as u32))
                    .collect(),
            ),
            _ => None,
        };
        for (k, i) in rows.clone().enumerate() {
            let at = if w.rows < self.capacity { w.rows } else { w.oldest };
            for (t, bins) in w.inputs.iter_mut().zip(&inputs) {
                t.counts.put(at, bins[k]);
            }
            if let Some(t) = &mut w.target {
                t.counts.put(at, target.as_ref().map_or(MISSING, |b| b[k]));
            }
            if let Some((_, counts)) = &mut w.classes {
                counts.put(at, classes.as_ref().map_or(MISSING, |b| b[k]));
            }
            let value = p.values.as_ref().map_or(f64::NAN, |v| v[i]);
            if at < w.values.len() {
                w.values[at] = value;
            } else {
                w.values.push(value);
            }
            if w.rows < self.capacity {
                w.rows += 1;
            } else {
                w.oldest = (w.oldest + 1) % self.capacity;
            }
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let inputs = w.inputs.iter().map(|t| (t.column.clone(), t.psi(), t.counts.missing_ratio())).collect();
        let class_ratio = match &w.classes {
            Some((names, c)) if w.rows > 0 => {
                names.iter().zip(&c.per_bin).map(|(n, k)| (n.clone(), *k as f64 / w.rows as f64)).collect()
            }
            _ => Vec::new(),
        };
        let mut values: Vec<f64> = w.values.iter().copied().filter(|x| x.is_finite()).collect();
        let rows = w.rows;
        let prediction_psi = w.target.as_ref().and_then(Track::psi);
        drop(w);
        values.sort_by(f64::total_cmp);
        let value_quantiles = if values.is_empty() {
            Vec::new()
        } else {
            QUANTILES.iter().map(|q| (*q, berth_data::quantile_sorted(&values, *q))).collect()
        };
        Snapshot { rows, inputs, prediction_psi, class_ratio, value_quantiles }
    }
}

/// The live gauges of every version in `windows` (model, version,
/// snapshot), one metric family after another.
pub fn render(out: &mut String, windows: &[(&str, &str, Snapshot)]) {
    let mv = |m: &str, v: &str| format!("model=\"{}\",version=\"{}\"", escape(m), escape(v));
    out.push_str(
        "# HELP berth_live_window_rows Rows in the live window: the last --drift-window rows the version answered.\n",
    );
    out.push_str("# TYPE berth_live_window_rows gauge\n");
    for (m, v, s) in windows {
        let _ = writeln!(out, "berth_live_window_rows{{{}}} {}", mv(m, v), s.rows);
    }
    out.push_str(
        "# HELP berth_live_drift_psi PSI of an input column over the live window against the version's reference \
         profile, in the gate's bins (the reference's deciles; its categories).\n",
    );
    out.push_str("# TYPE berth_live_drift_psi gauge\n");
    for (m, v, s) in windows {
        for (c, psi, _) in &s.inputs {
            if let Some(psi) = psi {
                let _ = writeln!(out, "berth_live_drift_psi{{{},column=\"{}\"}} {}", mv(m, v), escape(c), psi);
            }
        }
    }
    out.push_str(
        "# HELP berth_live_missing_ratio Share of the live window's rows without a value (null, NaN, infinite) in \
         an input column.\n",
    );
    out.push_str("# TYPE berth_live_missing_ratio gauge\n");
    for (m, v, s) in windows {
        for (c, _, missing) in &s.inputs {
            let _ = writeln!(out, "berth_live_missing_ratio{{{},column=\"{}\"}} {}", mv(m, v), escape(c), missing);
        }
    }
    out.push_str(
        "# HELP berth_live_prediction_psi PSI of the live window's predictions against the training target's \
         profile.\n",
    );
    out.push_str("# TYPE berth_live_prediction_psi gauge\n");
    for (m, v, s) in windows {
        if let Some(psi) = s.prediction_psi {
            let _ = writeln!(out, "berth_live_prediction_psi{{{}}} {}", mv(m, v), psi);
        }
    }
    out.push_str("# HELP berth_live_predicted_class_ratio Share of the live window's rows predicted as each class.\n");
    out.push_str("# TYPE berth_live_predicted_class_ratio gauge\n");
    for (m, v, s) in windows {
        for (c, r) in &s.class_ratio {
            let _ = writeln!(out, "berth_live_predicted_class_ratio{{{},class=\"{}\"}} {}", mv(m, v), escape(c), r);
        }
    }
    out.push_str(
        "# HELP berth_live_predicted_value Quantiles of the live window's predicted values and scores (NumPy's \
         interpolation).\n",
    );
    out.push_str("# TYPE berth_live_predicted_value gauge\n");
    for (m, v, s) in windows {
        for (q, x) in &s.value_quantiles {
            let _ = writeln!(out, "berth_live_predicted_value{{{},quantile=\"{q}\"}} {x}", mv(m, v));
        }
    }
}

#[cfg(test)]
mod tests {
    use berth_data::{Field, Rng};
    use berth_gate::drift::{Current, Reference};
    use berth_gate::gate::DriftSpec;

    use super::*;

    fn table(x: &[f64], colour: &[&str], flag: &[bool]) -> Table {
        Table::new(vec![
            Column::float("x", x.to_vec()),
            Column::strings("colour", colour),
            Column::new("flag", ColumnData::Bool(flag.to_vec())),
        ])
        .unwrap()
    }

    fn inputs() -> Inputs {
        let f = |name: &str, ty| Field { name: name.into(), ty };
        Inputs { fields: vec![f("x", ColumnType::Float), f("colour", ColumnType::Str), f("flag", ColumnType::Bool)] }
    }

    /// The gate's PSI of `live` against `profile`, column by column.
    fn gate_psi(profile: &Profile, live: &Table) -> Vec<(String, f64)> {
        let columns = live
            .columns()
            .iter()
            .map(|c| {
                (c.name.clone(), Reference::from_profile(profile.column(&c.name).unwrap()), Current::from_column(c))
            })
            .collect();
        berth_gate::drift::drift(columns, &DriftSpec::default())
            .columns
            .into_iter()
            .map(|c| (c.column, c.psi))
            .collect()
    }

    #[test]
    fn the_window_psi_is_the_gates_psi_of_its_last_rows() {
        let mut rng = Rng::new(7);
        let colours = ["red", "green", "blue"];
        let n = 3000;
        let x: Vec<f64> = (0..n).map(|_| rng.normal_with(0.0, 1.0)).collect();
        let c: Vec<&str> = (0..n).map(|i| colours[i % 3]).collect();
        let f: Vec<bool> = (0..n).map(|i| i % 4 == 0).collect();
        let profile = Profile::of(&table(&x, &c, &f));
        let w = LiveWindow::new(500, Some(&profile), &inputs(), None, None).unwrap();
        // 800 live rows in requests of 1 to 97, shifted, with a colour never seen in training.
        let lx: Vec<f64> = (0..800).map(|_| rng.normal_with(0.7, 1.3)).collect();
        let lc: Vec<&str> = (0..800).map(|i| if i % 5 == 0 { "mauve" } else { colours[i % 2] }).collect();
        let lf: Vec<bool> = (0..800).map(|i| i % 2 == 0).collect();
        let mut at = 0;
        for size in (1..=97).cycle() {
            let end = (at + size).min(800);
            let t = table(&lx[at..end], &lc[at..end], &lf[at..end]);
            let p = Prediction { values: Some(vec![0.0; t.rows()]), labels: None, probabilities: None, classes: None };
            w.observe(&t, &p);
            at = end;
            if at == 800 {
                break;
            }
        }
        let s = w.snapshot();
        assert_eq!(s.rows, 500);
        let expected = gate_psi(&profile, &table(&lx[300..], &lc[300..], &lf[300..]));
        for ((column, psi, missing), (gate_column, gate)) in s.inputs.iter().zip(&expected) {
            assert_eq!(column, gate_column);
            let psi = psi.unwrap();
            assert!((psi - gate).abs() <= 1e-12 * gate.max(1.0), "{column}: live {psi}, gate {gate}");
            assert!(psi > 0.05, "{column}: {psi}");
            assert_eq!(*missing, 0.0);
        }
    }

    #[test]
    fn missing_values_classes_and_quantiles_are_shares_of_the_window() {
        let profile = Profile::of(&table(&[1.0, 2.0, 3.0, 4.0], &["a", "b", "a", "b"], &[true, false, true, false]));
        let classes = vec!["no".to_string(), "yes".to_string()];
        let w = LiveWindow::new(4, Some(&profile), &inputs(), None, Some(&classes)).unwrap();
        let x = Column::float("x", vec![1.0, f64::NAN, 3.0, 2.0, 9.0]).with_valid(vec![true, true, true, false, true]);
        let t = Table::new(vec![x, Column::strings("colour", &["a"; 5])]).unwrap();
        let labels = ["yes", "yes", "no", "yes", "no"].map(String::from).to_vec();
        let p = Prediction {
            values: Some(vec![10.0, 20.0, 30.0, 40.0, 50.0]),
            labels: Some(labels),
            probabilities: None,
            classes: None,
        };
        w.observe(&t, &p);
        let s = w.snapshot();
        // The window holds the last four rows: NaN, 3, null, 9; and no flag column at all.
        assert_eq!(s.rows, 4);
        let by: HashMap<&str, (Option<f64>, f64)> = s.inputs.iter().map(|(c, p, m)| (c.as_str(), (*p, *m))).collect();
        assert_eq!(by["x"].1, 0.5);
        assert_eq!(by["flag"], (None, 1.0));
        assert_eq!(s.class_ratio, vec![("no".to_string(), 0.5), ("yes".to_string(), 0.5)]);
        assert_eq!(s.value_quantiles[2], (0.5, 35.0));
        let mut text = String::new();
        render(&mut text, &[("churn", "3", s)]);
        assert!(text.contains("berth_live_window_rows{model=\"churn\",version=\"3\"} 4\n"), "{text}");
        assert!(text.contains("berth_live_missing_ratio{model=\"churn\",version=\"3\",column=\"x\"} 0.5\n"), "{text}");
        assert!(!text.contains("berth_live_drift_psi{model=\"churn\",version=\"3\",column=\"flag\"}"), "{text}");
    }

    #[test]
    fn predicted_labels_of_a_numeric_target_are_compared_as_numbers() {
        let target: Vec<f64> = (0..100).map(|i| f64::from(i % 2)).collect();
        let profile = Profile::of(&Table::new(vec![Column::float("churned", target)]).unwrap());
        let w = LiveWindow::new(100, Some(&profile), &Inputs { fields: vec![] }, Some("churned"), None).unwrap();
        let t = Table::new(vec![Column::float("x", vec![0.0; 10])]).unwrap();
        let half = ["0", "1"].iter().cycle().take(10).map(|s| s.to_string()).collect();
        w.observe(&t, &Prediction { values: None, labels: Some(half), probabilities: None, classes: None });
        assert_eq!(w.snapshot().prediction_psi, Some(0.0));
        w.observe(
            &t,
            &Prediction { values: None, labels: Some(vec!["1".into(); 10]), probabilities: None, classes: None },
        );
        assert!(w.snapshot().prediction_psi.unwrap() > 0.1);
    }
}
