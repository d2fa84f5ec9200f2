//! Rollouts: a staged change of an environment with analysis that promotes
//! or aborts. This is the plan and the judgement, free of I/O: the server
//! routes requests, fills an [`Arm`] per side with what it saw, and asks
//! [`analyze`] whether the candidate may go on.
//!
//! - **canary**: the candidate takes `steps[i]`% of requests (optionally
//!   sticky by a request header); after each step's pause, its error rate,
//!   p99 latency and prediction distribution are held against stable's. A
//!   failed analysis aborts; passing the last step promotes.
//! - **blue-green**: the candidate is loaded beside stable as a preview
//!   (reachable with a header), smoke-tested, then switched to at once; a
//!   switch back is instant while the rollout lasts.
//! - **shadow**: stable answers; every request is mirrored to the candidate
//!   and the two answers compared.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Canary,
    BlueGreen,
    Shadow,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Canary => "canary",
            Strategy::BlueGreen => "blue-green",
            Strategy::Shadow => "shadow",
        }
    }
}

/// When a canary's analysis fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Requests each side must have answered in a step before it is judged.
    pub min_requests: u64,
    /// The candidate's error rate may exceed stable's by at most this (0.02 = 2 points).
    pub max_error_rate_increase: f64,
    /// The candidate's p99 may be at most this multiple of stable's …
    pub max_p99_ratio: f64,
    /// … plus this many milliseconds (sub-millisecond p99s are noise).
    pub p99_slack_ms: f64,
    /// The population stability index between the two sides' predictions.
    pub max_psi: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_requests: 50,
            max_error_rate_increase: 0.02,
            max_p99_ratio: 1.5,
            p99_slack_ms: 5.0,
            max_psi: 0.25,
        }
    }
}

/// What a rollout is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    pub strategy: Strategy,
    /// The candidate version of the served model.
    pub candidate: u64,
    /// Canary weights in percent, rising, ending at 100.
    #[serde(default = "default_steps")]
    pub steps: Vec<u32>,
    /// How long each canary step lasts before it is judged, in milliseconds.
    #[serde(default = "default_pause_ms")]
    pub pause_ms: u64,
    /// Route by this request header's value, so a caller stays on one side.
    #[serde(default)]
    pub sticky_header: Option<String>,
    #[serde(default)]
    pub thresholds: Thresholds,
}

fn default_steps() -> Vec<u32> {
    vec![10, 50, 100]
}

fn default_pause_ms() -> u64 {
    60_000
}

impl RolloutSpec {
    /// What is wrong with the spec, if anything.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.strategy == Strategy::Canary {
            if self.steps.is_empty() {
                out.push("a canary needs steps, e.g. [10, 50, 100]".to_string());
            }
            if self.steps.iter().any(|s| *s == 0 || *s > 100) {
                out.push(format!("steps {:?}: each is a percentage from 1 to 100", self.steps));
            }
            if self.steps.windows(2).any(|w| w[0] >= w[1]) {
                out.push(format!("steps {:?} must rise", self.steps));
            }
            if self.steps.last().is_some_and(|l| *l != 100) {
                out.push(format!("steps {:?} must end at 100", self.steps));
            }
            if self.steps.first().is_some_and(|f| *f == 100) {
                out.push(
                    "the first step must be below 100, so that stable answers some requests to compare with".into(),
                );
            }
        }
        let t = &self.thresholds;
        if !(t.max_error_rate_increase >= 0.0 && t.max_p99_ratio >= 1.0 && t.p99_slack_ms >= 0.0 && t.max_psi > 0.0) {
            out.push(
                "thresholds: max_error_rate_increase >= 0, max_p99_ratio >= 1, p99_slack_ms >= 0, max_psi > 0".into(),
            );
        }
        out
    }
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// A canary at `steps[step]`, since `since_ms` (Unix milliseconds).
    Canary {
        step: usize,
        since_ms: i64,
    },
    /// Blue-green: the candidate answers only requests that ask for the preview.
    Preview,
    /// Blue-green: the candidate answers everything; stable stays loaded.
    Switched,
    /// Shadow: requests are mirrored to the candidate.
    Shadowing,
    Promoted {
        at_ms: i64,
    },
    Aborted {
        at_ms: i64,
        reason: String,
    },
    /// Shadow or blue-green ended without moving the environment.
    Ended {
        at_ms: i64,
    },
}

impl Phase {
    pub fn active(&self) -> bool {
        matches!(self, Phase::Canary { .. } | Phase::Preview | Phase::Switched | Phase::Shadowing)
    }
}

/// A judged canary step, for the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub weight: u32,
    pub at_ms: i64,
    pub passed: bool,
    pub checks: Vec<CheckResult>,
}

/// The whole rollout as persisted: it survives a restart of the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutState {
    pub model: String,
    /// The environment the server follows, which a promotion moves.
    pub env: Option<String>,
    pub stable: u64,
    pub spec: RolloutSpec,
    pub phase: Phase,
    pub started_ms: i64,
    pub steps: Vec<StepRecord>,
}

impl RolloutState {
    pub fn new(model: &str, env: Option<&str>, stable: u64, spec: RolloutSpec, now_ms: i64) -> RolloutState {
        let phase = match spec.strategy {
            Strategy::Canary => Phase::Canary { step: 0, since_ms: now_ms },
            Strategy::BlueGreen => Phase::Preview,
            Strategy::Shadow => Phase::Shadowing,
        };
        RolloutState {
            model: model.into(),
            env: env.map(str::to_string),
            stable,
            spec,
            phase,
            started_ms: now_ms,
            steps: Vec::new(),
        }
    }

    /// The candidate's share of ordinary traffic, in percent.
    pub fn weight(&self) -> u32 {
        match &self.phase {
            Phase::Canary { step, .. } => self.spec.steps.get(*step).copied().unwrap_or(0),
            Phase::Switched => 100,
            _ => 0,
        }
    }
}

/// Which side answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Stable,
    Candidate,
}

/// Routes one request: by the sticky key's hash when there is one, else by
/// the request's sequence number spread evenly over 100 slots.
pub fn route(weight: u32, sticky_key: Option<&str>, sequence: u64) -> Side {
    if weight == 0 {
        return Side::Stable;
    }
    if weight >= 100 {
        return Side::Candidate;
    }
    let slot = match sticky_key {
        Some(k) => fnv1a(k.as_bytes()) % 100,
        None => mix(sequence) % 100,
    };
    if slot < u64::from(weight) { Side::Candidate } else { Side::Stable }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// splitmix64's finaliser: consecutive numbers land on unrelated slots.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What one side answered during a step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Arm {
    pub requests: u64,
    pub errors: u64,
    /// Latencies in milliseconds (at most [`Arm::KEEP`]).
    #[serde(skip)]
    pub latencies_ms: Vec<f64>,
    /// One score per predicted row: a classifier's probability of its first
    /// class, a regressor's value, a detector's score (at most [`Arm::KEEP`]).
    #[serde(skip)]
    pub scores: Vec<f64>,
    /// Predicted labels and how often.
    pub labels: BTreeMap<String, u64>,
}

impl Arm {
    pub const KEEP: usize = 20_000;

    pub fn record(&mut self, ok: bool, latency_ms: f64) {
        self.requests += 1;
        if !ok {
            self.errors += 1;
        }
        if self.latencies_ms.len() < Self::KEEP {
            self.latencies_ms.push(latency_ms);
        }
    }

    pub fn predicted(&mut self, scores: impl IntoIterator<Item = f64>, labels: impl IntoIterator<Item = String>) {
        let room = Self::KEEP.saturating_sub(self.scores.len());
        self.scores.extend(scores.into_iter().filter(|s| s.is_finite()).take(room));
        for l in labels {
            *self.labels.entry(l).or_default() += 1;
        }
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 { 0.0 } else { self.errors as f64 / self.requests as f64 }
    }

    pub fn p99(&self) -> Option<f64> {
        quantile(&self.latencies_ms, 0.99)
    }
}

fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Not enough requests yet on one side.
    Wait {
        detail: String,
    },
    Pass {
        checks: Vec<CheckResult>,
    },
    Fail {
        checks: Vec<CheckResult>,
    },
}

/// Judges the candidate against stable over one step.
pub fn analyze(stable: &Arm, candidate: &Arm, t: &Thresholds) -> Verdict {
    if stable.requests < t.min_requests || candidate.requests < t.min_requests {
        return Verdict::Wait {
            detail: format!(
                "{} stable and {} candidate requests so far; {} each are needed",
                stable.requests, candidate.requests, t.min_requests
            ),
        };
    }
    let mut checks = Vec::new();
    let (se, ce) = (stable.error_rate(), candidate.error_rate());
    checks.push(CheckResult {
        name: "error_rate".into(),
        passed: ce <= se + t.max_error_rate_increase,
        detail: format!(
            "candidate {:.2}% vs stable {:.2}% (at most {:.2} points more)",
            ce * 100.0,
            se * 100.0,
            t.max_error_rate_increase * 100.0
        ),
    });
    if let (Some(sp), Some(cp)) = (stable.p99(), candidate.p99()) {
        let limit = sp * t.max_p99_ratio + t.p99_slack_ms;
        checks.push(CheckResult {
            name: "p99_latency".into(),
            passed: cp <= limit,
            detail: format!("candidate {cp:.2} ms vs stable {sp:.2} ms (at most {limit:.2} ms)"),
        });
    }
    let psi = prediction_psi(stable, candidate);
    if let Some(psi) = psi {
        checks.push(CheckResult {
            name: "prediction_distribution".into(),
            passed: psi <= t.max_psi,
            detail: format!("PSI {psi:.3} between the two sides' predictions (at most {})", t.max_psi),
        });
    }
    if checks.iter().all(|c| c.passed) { Verdict::Pass { checks } } else { Verdict::Fail { checks } }
}

/// The larger of the PSI over scores (ten bins at stable's deciles) and
/// over predicted labels; `None` without predictions on both sides.
pub fn prediction_psi(stable: &Arm, candidate: &Arm) -> Option<f64> {
    let mut worst: Option<f64> = None;
    if !stable.scores.is_empty() && !candidate.scores.is_empty() {
        let mut edges: Vec<f64> = (1..10).filter_map(|i| quantile(&stable.scores, f64::from(i) / 10.0)).collect();
        edges.dedup();
        let hist = |v: &[f64]| {
            let mut h = vec![0.0; edges.len() + 1];
            for x in v {
                h[edges.partition_point(|e| e < x)] += 1.0;
            }
            h
        };
        worst = Some(psi(&hist(&stable.scores), &hist(&candidate.scores)));
    }
    if !stable.labels.is_empty() && !candidate.labels.is_empty() {
        let keys: std::collections::BTreeSet<&String> = stable.labels.keys().chain(candidate.labels.keys()).collect();
        let count = |a: &Arm| keys.iter().map(|k| a.labels.get(*k).copied().unwrap_or(0) as f64).collect::<Vec<_>>();
        let p = psi(&count(stable), &count(candidate));
        worst = Some(worst.map_or(p, |w| w.max(p)));
    }
    worst
}

/// PSI between two histograms of counts, through the gate's PSI (the one
/// checked against reference values): counts become proportions first.
fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    let (te, ta) = (expected.iter().sum::<f64>(), actual.iter().sum::<f64>());
    if te == 0.0 || ta == 0.0 {
        return 0.0;
    }
    let e: Vec<f64> = expected.iter().map(|x| x / te).collect();
    let a: Vec<f64> = actual.iter().map(|x| x / ta).collect();
    berth_gate::stats::psi(&e, &a).unwrap_or(f64::INFINITY)
}

/// Shadow traffic: how the candidate's answers compare with stable's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowStats {
    /// Rows both sides predicted.
    pub rows: u64,
    /// Rows with the same label (classifiers, detectors).
    pub agreed: u64,
    pub candidate_errors: u64,
    /// Sum and maximum of |candidate − stable| over scores.
    pub abs_diff_sum: f64,
    pub max_abs_diff: f64,
    pub stable_ms_sum: f64,
    pub candidate_ms_sum: f64,
    pub requests: u64,
    /// Requests not mirrored because too many mirrors were still running:
    /// shadowing never queues work without bound behind live traffic.
    #[serde(default)]
    pub skipped: u64,
}

impl ShadowStats {
    pub fn compare(&mut self, stable: (&[f64], Option<&[String]>), candidate: (&[f64], Option<&[String]>)) {
        let n = stable.0.len().min(candidate.0.len());
        for i in 0..n {
            let d = (stable.0[i] - candidate.0[i]).abs();
            if d.is_finite() {
                self.abs_diff_sum += d;
                self.max_abs_diff = self.max_abs_diff.max(d);
            }
        }
        if let (Some(a), Some(b)) = (stable.1, candidate.1) {
            self.agreed += a.iter().zip(b).filter(|(x, y)| x == y).count() as u64;
            self.rows += a.len().min(b.len()) as u64;
        } else {
            self.rows += n as u64;
        }
    }

    /// What `/admin/rollout` shows: shares and means, not sums.
    pub fn summary(&self) -> serde_json::Value {
        let per = |x: f64, n: u64| if n == 0 { None } else { Some(x / n as f64) };
        serde_json::json!({
            "requests": self.requests,
            "skipped": self.skipped,
            "rows": self.rows,
            "agreement": per(self.agreed as f64, self.rows),
            "mean_abs_diff": per(self.abs_diff_sum, self.rows),
            "max_abs_diff": self.max_abs_diff,
            "candidate_errors": self.candidate_errors,
            "stable_mean_ms": per(self.stable_ms_sum, self.requests),
            "candidate_mean_ms": per(self.candidate_ms_sum, self.requests),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(requests: u64, errors: u64, latency: f64, scores: &[f64]) -> Arm {
        let mut a = Arm::default();
        for i in 0..requests {
            a.record(i >= errors, latency);
        }
        a.predicted(scores.iter().copied(), scores.iter().map(|s| if *s > 0.5 { "1" } else { "0" }.to_string()));
        a
    }

    fn spread(n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|i| lo + (hi - lo) * (i as f64 + 0.5) / n as f64).collect()
    }

    #[test]
    fn routing_follows_the_weight_and_sticky_keys_stay_put() {
        let share = |w| (0..10_000u64).filter(|i| route(w, None, *i) == Side::Candidate).count();
        assert_eq!(share(0), 0);
        assert_eq!(share(100), 10_000);
        let ten = share(10);
        assert!((900..1100).contains(&ten), "{ten}");
        let key = "user-42";
        let first = route(50, Some(key), 0);
        assert!((1..1000).all(|i| route(50, Some(key), i) == first), "a sticky key never changes side");
        let users = (0..2000).filter(|u| route(30, Some(&format!("user-{u}")), 0) == Side::Candidate).count();
        assert!((500..700).contains(&users), "{users}");
    }

    #[test]
    fn a_similar_candidate_passes_and_a_different_one_fails() {
        let t = Thresholds { min_requests: 50, ..Default::default() };
        let stable = arm(200, 1, 2.0, &spread(400, 0.0, 1.0));
        let same = arm(100, 0, 2.2, &spread(200, 0.01, 1.0));
        assert!(matches!(analyze(&stable, &same, &t), Verdict::Pass { .. }), "{:?}", analyze(&stable, &same, &t));
        // Predictions collapsed around 0.5: the distribution check fails.
        let collapsed = arm(100, 0, 2.0, &spread(200, 0.45, 0.55));
        let Verdict::Fail { checks } = analyze(&stable, &collapsed, &t) else { panic!() };
        assert_eq!(
            checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["prediction_distribution"]
        );
        // Errors: 10% against 0.5%.
        let failing = arm(100, 10, 2.0, &spread(200, 0.0, 1.0));
        let Verdict::Fail { checks } = analyze(&stable, &failing, &t) else { panic!() };
        assert!(!checks[0].passed && checks[0].detail.contains("candidate 10.00% vs stable 0.50%"), "{checks:?}");
        // Slow: 40 ms against 2 ms.
        let slow = arm(100, 0, 40.0, &spread(200, 0.0, 1.0));
        assert!(matches!(analyze(&stable, &slow, &t), Verdict::Fail { .. }));
        // Too few requests: wait.
        assert!(matches!(analyze(&stable, &arm(10, 0, 2.0, &[]), &t), Verdict::Wait { .. }));
    }

    #[test]
    fn specs_are_checked() {
        let spec = |steps: Vec<u32>| RolloutSpec {
            strategy: Strategy::Canary,
            candidate: 2,
            steps,
            pause_ms: 1000,
            sticky_header: None,
            thresholds: Thresholds::default(),
        };
        assert!(spec(vec![10, 50, 100]).problems().is_empty());
        assert_eq!(spec(vec![50, 10, 100]).problems().len(), 1);
        assert_eq!(spec(vec![10, 50]).problems().len(), 1);
        assert_eq!(spec(vec![]).problems().len(), 1);
        assert_eq!(spec(vec![100]).problems().len(), 1);
        let s = RolloutState::new("churn", Some("production"), 1, spec(vec![10, 100]), 0);
        assert_eq!((s.weight(), s.phase.active()), (10, true));
    }

    #[test]
    fn shadow_statistics_count_agreement_and_differences() {
        let mut s = ShadowStats::default();
        let (a, b) = (vec![0.9, 0.2, 0.6], vec![0.8, 0.3, 0.4]);
        let (la, lb) = (vec!["1".to_string(), "0".into(), "1".into()], vec!["1".to_string(), "0".into(), "0".into()]);
        s.compare((&a, Some(&la)), (&b, Some(&lb)));
        s.requests = 1;
        let j = s.summary();
        assert_eq!(j["rows"], 3);
        assert!((j["agreement"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.max_abs_diff - 0.2).abs() < 1e-12);
    }
}
