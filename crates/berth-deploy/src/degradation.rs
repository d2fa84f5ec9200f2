//! Live metrics against the metrics a version passed its gate with: how much
//! worse each one is, and whether that is beyond what the environment allows.

use std::collections::BTreeMap;

use berth_gate::metrics::{Direction, Metric};
use serde::Serialize;

/// Which way `metric` improves. Live metrics are named as the gate report
/// names them; a name berth does not compute (a metric pushed from a
/// training run's own metrics file) counts as higher-is-better.
fn direction(metric: &str) -> Direction {
    Metric::parse(metric).map_or(Direction::HigherIsBetter, |m| m.direction())
}

/// One metric compared.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Degradation {
    pub metric: String,
    /// The value the version's gate measured.
    pub gate: f64,
    pub live: f64,
    /// How much worse live is, as a fraction of the gate value (negative
    /// when live is better). Against a gate value of 0, the absolute
    /// difference.
    pub worse_by: f64,
    pub exceeded: bool,
}

impl Degradation {
    pub fn describe(&self, allowed: f64) -> String {
        let direction = match direction(&self.metric) {
            Direction::LowerIsBetter => "rose",
            Direction::HigherIsBetter => "fell",
        };
        format!(
            "{} {direction} from {:.4} to {:.4} ({:.1}% worse; {:.0}% allowed)",
            self.metric,
            self.gate,
            self.live,
            self.worse_by * 100.0,
            allowed * 100.0
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DegradationReport {
    pub allowed: f64,
    pub compared: Vec<Degradation>,
    /// Live metrics the gate did not measure, left out of the comparison.
    pub not_compared: Vec<String>,
}

impl DegradationReport {
    pub fn exceeded(&self) -> impl Iterator<Item = &Degradation> {
        self.compared.iter().filter(|d| d.exceeded)
    }

    pub fn degraded(&self) -> bool {
        self.exceeded().next().is_some()
    }
}

/// Compares every live metric that the gate also measured.
pub fn compare(gate: &BTreeMap<String, f64>, live: &BTreeMap<String, f64>, allowed: f64) -> DegradationReport {
    let mut compared = Vec::new();
    let mut not_compared = Vec::new();
    for (metric, &l) in live {
        let Some(&g) = gate.get(metric) else {
            not_compared.push(metric.clone());
            continue;
        };
        let worse = -direction(metric).gain(l, g);
        let worse_by = if g == 0.0 { worse } else { worse / g.abs() };
        compared.push(Degradation { metric: metric.clone(), gate: g, live: l, worse_by, exceeded: worse_by > allowed });
    }
    DegradationReport { allowed, compared, not_compared }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_drop_over_the_allowance_is_flagged_in_either_direction() {
        let gate = m(&[("accuracy", 0.90), ("rmse", 10.0), ("f1_macro", 0.80)]);
        let live = m(&[("accuracy", 0.70), ("rmse", 11.0), ("f1_macro", 0.85), ("requests", 1000.0)]);
        let r = compare(&gate, &live, 0.2);
        let by: BTreeMap<_, _> = r.compared.iter().map(|d| (d.metric.as_str(), (d.worse_by, d.exceeded))).collect();
        assert!((by["accuracy"].0 - 0.2222222222).abs() < 1e-9 && by["accuracy"].1);
        assert!((by["rmse"].0 - 0.1).abs() < 1e-12 && !by["rmse"].1);
        assert!(by["f1_macro"].0 < 0.0 && !by["f1_macro"].1, "better is never degraded");
        assert_eq!(r.not_compared, ["requests"]);
        assert!(r.degraded());
        let d = r.exceeded().next().unwrap();
        assert_eq!(d.describe(0.2), "accuracy fell from 0.9000 to 0.7000 (22.2% worse; 20% allowed)");
    }

    #[test]
    fn exactly_the_allowance_is_not_over_it() {
        let r = compare(&m(&[("mae", 10.0)]), &m(&[("mae", 12.0)]), 0.2);
        assert!(!r.degraded());
        let r = compare(&m(&[("mae", 0.0)]), &m(&[("mae", 0.5)]), 0.2);
        assert!(r.degraded(), "against 0 the absolute difference counts");
    }

    #[test]
    fn lower_is_better_metrics_degrade_when_they_rise() {
        let r = compare(
            &m(&[("mape", 10.0), ("recall.churned", 0.8)]),
            &m(&[("mape", 13.0), ("recall.churned", 0.9)]),
            0.2,
        );
        let d = r.exceeded().next().unwrap();
        assert_eq!(d.describe(0.2), "mape rose from 10.0000 to 13.0000 (30.0% worse; 20% allowed)");
        assert_eq!(r.exceeded().count(), 1, "a higher per-class recall is better");
        // A name berth does not compute counts as higher-is-better.
        assert!(compare(&m(&[("custom", 1.0)]), &m(&[("custom", 0.5)]), 0.2).degraded());
    }
}
