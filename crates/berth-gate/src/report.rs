//! The gate's report: a verdict, every check with its value and threshold,
//! and the numbers behind them; rendered as text for a terminal, JSON (first
//! the fields a hand-written validation script usually reports — passed,
//! accuracy, latency percentiles, per-class recall, each check's verdict,
//! the errors — so such a script's consumers keep working, then everything
//! else), Markdown for a pull request and JUnit XML (one test case per check).

use std::collections::BTreeMap;
use std::fmt::Write;

use berth_ml::Task;
use serde::{Deserialize, Serialize};

use crate::gate::BaselineMode;

/// One check: `name` is stable (`metric.accuracy`, `baseline.mae`,
/// `drift`, `latency.p99`, `data.nulls.age`, …) so CI can key on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<String>,
    pub message: String,
}

impl Check {
    /// A check with its verdict and the sentence that explains it.
    pub fn new(name: impl Into<String>, passed: bool, message: impl Into<String>) -> Check {
        Check { name: name.into(), passed, value: None, threshold: None, message: message.into() }
    }

    pub fn passed(name: impl Into<String>, message: impl Into<String>) -> Check {
        Check::new(name, true, message)
    }

    pub fn failed(name: impl Into<String>, message: impl Into<String>) -> Check {
        Check::new(name, false, message)
    }

    /// The value measured, for CI to read without parsing the message.
    pub fn with_value(mut self, value: f64) -> Check {
        self.value = Some(value);
        self
    }

    /// What the value had to be, as a person reads it (`>= 0.85`, `<= 10%`).
    pub fn with_threshold(mut self, threshold: impl Into<String>) -> Check {
        self.threshold = Some(threshold.into());
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub path: String,
    pub digest: String,
    pub rows: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineMetric {
    pub metric: String,
    pub value: f64,
    pub baseline: f64,
    /// (value − baseline) / |baseline|, in percent.
    pub change_pct: f64,
    /// Paired bootstrap interval of value − baseline, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineReport {
    pub model: String,
    /// `rescore` or `stored`.
    pub mode: BaselineMode,
    pub metrics: Vec<BaselineMetric>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub runs: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
    pub batch_rows: usize,
    pub rows_per_s: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    // First the fields a hand-written validation script usually reports,
    // so what reads such a script's output can read this.
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_threshold_ms: Option<f64>,
    pub per_class_recall: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall_threshold: Option<f64>,
    pub checks: BTreeMap<String, bool>,
    pub errors: Vec<String>,
    // Everything else.
    pub gate: String,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    pub data: DataInfo,
    pub created_at: String,
    /// Metric values by name (`accuracy`, `recall.churned`, `mape`); each
    /// in its [`crate::metrics::Metric`]'s unit (fractions in [0, 1];
    /// `mape` in percent). Read back as a plain name → number map by
    /// whatever compares live metrics with a version's gate.
    pub metrics: BTreeMap<String, f64>,
    pub results: Vec<Check>,
    /// What the gate allowed but probably did not mean (a MAPE threshold
    /// below 1%), one sentence each; no effect on the verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion_matrix: Option<crate::metrics::ConfusionMatrix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_cv: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction_outlier_share: Option<f64>,
}

impl Report {
    pub fn new(gate: &str, model: &str) -> Report {
        Report { gate: gate.into(), model: model.into(), passed: true, ..Default::default() }
    }

    /// Records a check; a failed one fails the report and adds its message
    /// to `errors`.
    pub fn check(&mut self, check: Check) {
        if !check.passed {
            self.errors.push(check.message.clone());
            self.passed = false;
        }
        self.checks.insert(check.name.clone(), check.passed);
        self.results.push(check);
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.results.iter().filter(|c| !c.passed)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The terminal report: ✓/✗ per check, grouped, and the baseline with
    /// each metric's change in percent.
    pub fn to_text(&self) -> String {
        let rule = "─".repeat(72);
        let mut s = String::new();
        let _ = writeln!(s, "{}", "=".repeat(72));
        let _ = writeln!(s, "GATE {}  ·  {}", self.gate, self.model);
        let _ = writeln!(s, "{}", "=".repeat(72));
        let _ = writeln!(s, "Status:  {}", if self.passed { "✓ PASSED" } else { "✗ FAILED" });
        let _ = writeln!(s, "Data:    {} ({} rows, {})", self.data.path, self.data.rows, short(&self.data.digest));
        if let Some(t) = &self.task {
            let _ = writeln!(s, "Task:    {t}");
        }
        for n in &self.notes {
            let _ = writeln!(s, "Note:    {n}");
        }
        let section = |s: &mut String, title: &str, keep: &dyn Fn(&str) -> bool| {
            let rows: Vec<&Check> = self.results.iter().filter(|c| keep(&c.name)).collect();
            if !rows.is_empty() {
                let _ = writeln!(s, "{rule}\n{title}\n{rule}");
                for c in rows {
                    let _ = writeln!(s, "  {} {}", mark(c.passed), c.message);
                }
            }
        };
        let grouped = ["metric.", "baseline.", "drift", "data."];
        section(&mut s, "CHECKS", &|n| !grouped.iter().any(|g| n.starts_with(g)));
        section(&mut s, "DATA", &|n| n.starts_with("data."));
        section(&mut s, "METRICS", &|n| n.starts_with("metric."));
        if let Some(b) = &self.baseline {
            let _ = writeln!(s, "{rule}\nBASELINE ({}, {})\n{rule}", b.model, b.mode);
            for m in &b.metrics {
                let ci = m.interval.map(|(a, z)| format!("  CI [{a:+.4}, {z:+.4}]")).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  {} {}: {:.4} vs {:.4} ({:+.2}%){ci}",
                    mark(m.passed),
                    m.metric,
                    m.value,
                    m.baseline,
                    m.change_pct
                );
            }
        }
        section(&mut s, "DRIFT", &|n| n.starts_with("drift"));
        let _ = writeln!(s, "{}", "=".repeat(72));
        s
    }

    /// Markdown for a pull request or `$GITHUB_STEP_SUMMARY`.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### {} gate `{}` — {}\n",
            if self.passed { "✅" } else { "❌" },
            self.gate,
            if self.passed { "passed" } else { "failed" }
        );
        let _ = writeln!(
            s,
            "Model `{}` on `{}` ({} rows, `{}`)\n",
            self.model,
            self.data.path,
            self.data.rows,
            short(&self.data.digest)
        );
        for n in &self.notes {
            let _ = writeln!(s, "> **Note:** {n}\n");
        }
        let _ = writeln!(s, "| | check | value | threshold | detail |\n|---|---|---|---|---|");
        for c in &self.results {
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {} | {} |",
                if c.passed { "✅" } else { "❌" },
                c.name,
                c.value.map(|v| format!("{v:.4}")).unwrap_or_default(),
                c.threshold.clone().unwrap_or_default().replace('|', "\\|"),
                c.message.replace('|', "\\|")
            );
        }
        if let Some(b) = &self.baseline {
            let _ = writeln!(
                s,
                "\n**Baseline** `{}` ({})\n\n| metric | value | baseline | change |\n|---|---|---|---|",
                b.model, b.mode
            );
            for m in &b.metrics {
                let _ = writeln!(s, "| {} | {:.4} | {:.4} | {:+.2}% |", m.metric, m.value, m.baseline, m.change_pct);
            }
        }
        s
    }

    /// JUnit XML: one test suite, one test case per check.
    pub fn to_junit(&self) -> String {
        let failures = self.failed().count();
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            s,
            "<testsuites name=\"berth\" tests=\"{}\" failures=\"{failures}\">\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" timestamp=\"{}\">",
            self.results.len(),
            xml(&format!("gate {} · {}", self.gate, self.model)),
            self.results.len(),
            xml(&self.created_at)
        );
        for c in &self.results {
            let _ = write!(s, "    <testcase classname=\"{}\" name=\"{}\"", xml(&self.gate), xml(&c.name));
            if c.passed {
                let _ = writeln!(s, "/>");
            } else {
                let _ = writeln!(s, ">\n      <failure message=\"{}\"/>\n    </testcase>", xml(&c.message));
            }
        }
        s.push_str("  </testsuite>\n</testsuites>\n");
        s
    }
}

fn mark(passed: bool) -> &'static str {
    if passed { "✓" } else { "✗" }
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(19)]
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new("release", "churn@3");
        r.check(Check::passed("metric.accuracy", "accuracy 0.9000 >= 0.85").with_value(0.9).with_threshold(">= 0.85"));
        r.check(
            Check::failed("latency.p99", "p99 latency 120.0 ms > 100 ms").with_value(120.0).with_threshold("<= 100"),
        );
        r.check(Check::failed("data.nulls.\"a<b\"", "column \"a<b\" & co: 50% nulls").with_value(0.5));
        r
    }

    #[test]
    fn a_failed_check_fails_the_report_and_is_listed() {
        let r = sample();
        assert!(!r.passed);
        assert_eq!(r.errors.len(), 2);
        assert!(r.checks["metric.accuracy"]);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["passed"], false);
        assert_eq!(v["checks"]["latency.p99"], false);
    }

    #[test]
    fn junit_escapes_and_counts() {
        let x = sample().to_junit();
        assert!(x.contains("tests=\"3\" failures=\"2\""), "{x}");
        assert!(x.contains("&quot;a&lt;b&quot; &amp; co"), "{x}");
        assert_eq!(x.matches("<testcase").count(), 3);
    }

    #[test]
    fn notes_are_shown_and_do_not_change_the_verdict() {
        let mut r = Report::new("g", "m");
        r.notes.push("metrics.mape.max = 0.5: mape is in percent".into());
        assert!(r.passed);
        assert!(r.to_text().contains("Note:    metrics.mape.max = 0.5"), "{}", r.to_text());
        assert!(r.to_markdown().contains("> **Note:** metrics.mape.max"), "{}", r.to_markdown());
        let back: Report = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back.notes, r.notes);
        // Reports stored before notes existed still read.
        let old: Report = serde_json::from_str(&Report::new("g", "m").to_json()).unwrap();
        assert!(old.notes.is_empty());
    }

    #[test]
    fn text_and_markdown_show_every_check() {
        let r = sample();
        let t = r.to_text();
        assert!(t.contains("✗ FAILED") && t.contains("✓ accuracy 0.9000") && t.contains("✗ p99 latency"), "{t}");
        let m = r.to_markdown();
        assert!(m.contains("❌ gate `release` — failed") && m.contains("| ✅ | `metric.accuracy` |"), "{m}");
    }

    #[test]
    fn the_task_and_the_baseline_mode_keep_their_names_in_json_and_text() {
        let mut r = Report::new("g", "m");
        r.task = Some(Task::Regression);
        r.baseline = Some(BaselineReport { model: "m@1".into(), mode: BaselineMode::Stored, metrics: vec![] });
        let json = r.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!((v["task"].as_str(), v["baseline"]["mode"].as_str()), (Some("regression"), Some("stored")));
        // Reports stored with these fields as strings read back the same.
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let t = r.to_text();
        assert!(t.contains("Task:    regression") && t.contains("BASELINE (m@1, stored)"), "{t}");
    }
}
