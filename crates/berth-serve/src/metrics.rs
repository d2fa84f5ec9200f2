//! Prometheus metrics, kept in atomics so that recording never blocks a
//! request: per model version the requests by endpoint and status, a latency
//! histogram, requests in flight and the distribution of what was predicted;
//! per load the time it took; per server the connections open, refused
//! over the limit and closed by a timeout, and admin calls refused.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_ml::Prediction;

/// The inference endpoints, as the `endpoint` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Predict,
    KServeV1,
    OpenInference,
}

impl Endpoint {
    const ALL: [Endpoint; 3] = [Endpoint::Predict, Endpoint::KServeV1, Endpoint::OpenInference];

    fn label(self) -> &'static str {
        match self {
            Endpoint::Predict => "predict",
            Endpoint::KServeV1 => "v1",
            Endpoint::OpenInference => "v2",
        }
    }
}

/// Status codes counted one by one; anything else is counted as "other".
const CODES: [u16; 10] = [200, 400, 404, 408, 413, 415, 422, 429, 500, 503];
const LATENCY_BUCKETS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Predicted values (regression, anomaly scores) on a symmetric log scale:
/// the model's range is not known in advance.
const VALUE_BUCKETS: [f64; 15] =
    [-1e4, -1e3, -100.0, -10.0, -1.0, -0.1, -0.01, 0.0, 0.01, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4];

fn code_index(code: u16) -> usize {
    CODES.iter().position(|c| *c == code).unwrap_or(CODES.len())
}

#[derive(Default)]
struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    /// The sum as f64 bits (updated by compare-and-swap).
    sum: AtomicU64,
}

impl Histogram {
    fn new(n: usize) -> Histogram {
        Histogram { buckets: (0..n).map(|_| AtomicU64::new(0)).collect(), ..Default::default() }
    }

    fn observe(&self, bounds: &[f64], x: f64) {
        if let Some(i) = bounds.iter().position(|b| x <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ =
            self.sum.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| Some((f64::from_bits(s) + x).to_bits()));
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let mut cumulative = 0;
        for (b, n) in bounds.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", f64::from_bits(self.sum.load(Ordering::Relaxed)));
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// Everything counted for one model version (or for requests that came
/// when no model was loaded: model and version empty).
pub struct VersionMetrics {
    model: String,
    version: String,
    requests: Vec<AtomicU64>,
    latency: Vec<Histogram>,
    in_flight: AtomicI64,
    classes: Vec<String>,
    class_counts: Vec<AtomicU64>,
    values: Histogram,
}

impl VersionMetrics {
    pub fn new(model: &str, version: &str, classes: &[String]) -> VersionMetrics {
        VersionMetrics {
            model: model.into(),
            version: version.into(),
            requests: (0..Endpoint::ALL.len() * (CODES.len() + 1)).map(|_| AtomicU64::new(0)).collect(),
            latency: Endpoint::ALL.iter().map(|_| Histogram::new(LATENCY_BUCKETS.len())).collect(),
            in_flight: AtomicI64::new(0),
            classes: classes.to_vec(),
            class_counts: classes.iter().map(|_| AtomicU64::new(0)).collect(),
            values: Histogram::new(VALUE_BUCKETS.len()),
        }
    }

    /// Counts a request as in flight until the guard drops.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    pub fn finish(&self, endpoint: Endpoint, code: u16, took: Duration) {
        let e = endpoint as usize;
        self.requests[e * (CODES.len() + 1) + code_index(code)].fetch_add(1, Ordering::Relaxed);
        self.latency[e].observe(&LATENCY_BUCKETS, took.as_secs_f64());
    }

    pub fn predicted(&self, p: &Prediction) {
        if let Some(labels) = &p.labels
            && !self.classes.is_empty()
        {
            for l in labels {
                if let Some(k) = self.classes.iter().position(|c| c == l) {
                    self.class_counts[k].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if let Some(values) = &p.values {
            for v in values {
                self.values.observe(&VALUE_BUCKETS, *v);
            }
        }
    }

    fn labels(&self) -> String {
        format!("model=\"{}\",version=\"{}\"", escape(&self.model), escape(&self.version))
    }

    /// This version's lines of one metric family.
    fn render(&self, family: Family, out: &mut String) {
        let mv = self.labels();
        for endpoint in Endpoint::ALL {
            let e = endpoint as usize;
            let seen = self.latency[e].count.load(Ordering::Relaxed) > 0;
            let codes = &self.requests[e * (CODES.len() + 1)..(e + 1) * (CODES.len() + 1)];
            match family {
                Family::Requests => {
                    for (i, n) in codes.iter().enumerate() {
                        let n = n.load(Ordering::Relaxed);
                        if n > 0 {
                            let code = CODES.get(i).map(|c| c.to_string()).unwrap_or_else(|| "other".into());
                            let _ = writeln!(
                                out,
                                "berth_requests_total{{{mv},endpoint=\"{}\",code=\"{code}\"}} {n}",
                                endpoint.label()
                            );
                        }
                    }
                }
                Family::Errors if seen => {
                    let errors: u64 = codes
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| CODES.get(*i).is_none_or(|c| !(200..300).contains(c)))
                        .map(|(_, n)| n.load(Ordering::Relaxed))
                        .sum();
                    let _ =
                        writeln!(out, "berth_request_errors_total{{{mv},endpoint=\"{}\"}} {errors}", endpoint.label());
                }
                Family::Latency if seen => self.latency[e].render(
                    out,
                    "berth_request_duration_seconds",
                    &format!("{mv},endpoint=\"{}\"", endpoint.label()),
                    &LATENCY_BUCKETS,
                ),
                _ => {}
            }
        }
        match family {
            Family::InFlight => {
                let _ = writeln!(out, "berth_requests_in_flight{{{mv}}} {}", self.in_flight.load(Ordering::Relaxed));
            }
            Family::Classes => {
                for (c, n) in self.classes.iter().zip(&self.class_counts) {
                    let _ = writeln!(
                        out,
                        "berth_predicted_class_total{{{mv},class=\"{}\"}} {}",
                        escape(c),
                        n.load(Ordering::Relaxed)
                    );
                }
            }
            Family::Values if self.values.count.load(Ordering::Relaxed) > 0 => {
                self.values.render(out, "berth_predicted_value", &mv, &VALUE_BUCKETS);
            }
            _ => {}
        }
    }
}

/// The metric families every version has, in the order they are written:
/// each family's lines come together, whatever the number of versions, as
/// the exposition format requires.
#[derive(Clone, Copy)]
enum Family {
    Requests,
    Errors,
    Latency,
    InFlight,
    Classes,
    Values,
}

impl Family {
    const ALL: [(Family, &'static str, &'static str, &'static str); 6] = [
        (
            Family::Requests,
            "berth_requests_total",
            "counter",
            "Inference requests by model version, endpoint and status code.",
        ),
        (Family::Errors, "berth_request_errors_total", "counter", "Inference requests answered with a non-2xx status."),
        (
            Family::Latency,
            "berth_request_duration_seconds",
            "histogram",
            "Inference request latency, body read to response.",
        ),
        (Family::InFlight, "berth_requests_in_flight", "gauge", "Inference requests being answered now."),
        (Family::Classes, "berth_predicted_class_total", "counter", "Predicted labels by class."),
        (Family::Values, "berth_predicted_value", "histogram", "Predicted values and anomaly scores."),
    ];
}

pub struct InFlight(Arc<VersionMetrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Connection counts: what a flood of slow or idle clients shows up as.
#[derive(Default)]
pub struct Connections {
    open: AtomicI64,
    accepted: AtomicU64,
    /// Closed at once because the connection limit was reached.
    pub refused: AtomicU64,
    header_timeouts: AtomicU64,
    idle_timeouts: AtomicU64,
}

impl Connections {
    /// Counts a connection as open until the guard drops.
    pub(crate) fn opened(&self) -> OpenConnection<'_> {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self)
    }

    pub(crate) fn expired(&self, why: crate::conn::Expired) {
        let n = match why {
            crate::conn::Expired::Header => &self.header_timeouts,
            crate::conn::Expired::Idle => &self.idle_timeouts,
        };
        n.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String) {
        out.push_str("# HELP berth_connections_open HTTP connections open now.\n");
        out.push_str("# TYPE berth_connections_open gauge\n");
        let _ = writeln!(out, "berth_connections_open {}", self.open.load(Ordering::Relaxed));
        out.push_str("# HELP berth_connections_accepted_total HTTP connections accepted.\n");
        out.push_str("# TYPE berth_connections_accepted_total counter\n");
        let _ = writeln!(out, "berth_connections_accepted_total {}", self.accepted.load(Ordering::Relaxed));
        out.push_str(
            "# HELP berth_connections_refused_total Connections closed at once because --max-connections were open.\n",
        );
        out.push_str("# TYPE berth_connections_refused_total counter\n");
        let _ = writeln!(out, "berth_connections_refused_total {}", self.refused.load(Ordering::Relaxed));
        out.push_str(
            "# HELP berth_connections_timed_out_total Connections closed by the server: a request head not \
             complete within --header-read-timeout (header), or no request within --idle-timeout (idle).\n",
        );
        out.push_str("# TYPE berth_connections_timed_out_total counter\n");
        let _ = writeln!(
            out,
            "berth_connections_timed_out_total{{reason=\"header\"}} {}",
            self.header_timeouts.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "berth_connections_timed_out_total{{reason=\"idle\"}} {}",
            self.idle_timeouts.load(Ordering::Relaxed)
        );
    }
}

pub(crate) struct OpenConnection<'a>(&'a Connections);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Load {
    model: String,
    version: String,
    source: String,
    seconds: f64,
}

/// All series the server has: one per version it has served, kept after a
/// swap so that counters never go backwards.
pub struct Metrics {
    versions: Mutex<Vec<Arc<VersionMetrics>>>,
    /// Requests answered before any model was loaded.
    pub unloaded: Arc<VersionMetrics>,
    loads: Mutex<Vec<Load>>,
    pub log_dropped: AtomicU64,
    pub log_written: AtomicU64,
    /// Segments sent to the store (`--prediction-log-to-store`), and rounds that could not send.
    pub log_uploaded: AtomicU64,
    pub log_upload_failures: AtomicU64,
    /// Labels taken by `POST /feedback`.
    pub feedback_received: AtomicU64,
    pub connections: Connections,
    /// Admin requests refused for a missing or wrong token.
    pub admin_refused: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            versions: Mutex::new(Vec::new()),
            unloaded: Arc::new(VersionMetrics::new("", "", &[])),
            loads: Mutex::new(Vec::new()),
            log_dropped: AtomicU64::new(0),
            log_written: AtomicU64::new(0),
            log_uploaded: AtomicU64::new(0),
            log_upload_failures: AtomicU64::new(0),
            feedback_received: AtomicU64::new(0),
            connections: Connections::default(),
            admin_refused: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// The series of a version, created on first use.
    pub fn version(&self, model: &str, version: &str, classes: &[String]) -> Arc<VersionMetrics> {
        let mut vs = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = vs.iter().find(|v| v.model == model && v.version == version) {
            return v.clone();
        }
        let v = Arc::new(VersionMetrics::new(model, version, classes));
        vs.push(v.clone());
        v
    }

    pub fn loaded(&self, model: &str, version: &str, source: &str, took: Duration) {
        let mut loads = self.loads.lock().unwrap_or_else(|e| e.into_inner());
        loads.retain(|l| !(l.model == model && l.version == version));
        loads.push(Load {
            model: model.into(),
            version: version.into(),
            source: source.into(),
            seconds: took.as_secs_f64(),
        });
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, ready: bool) -> String {
        let mut out = String::with_capacity(4096);
        let versions = self.versions.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (family, name, kind, help) in Family::ALL {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            self.unloaded.render(family, &mut out);
            for v in &versions {
                v.render(family, &mut out);
            }
        }
        out.push_str(
            "# HELP berth_model_load_seconds Time to load (fetch, verify, open, smoke-test) a model version.\n",
        );
        out.push_str("# TYPE berth_model_load_seconds gauge\n");
        for l in self.loads.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "berth_model_load_seconds{{model=\"{}\",version=\"{}\",source=\"{}\"}} {}",
                escape(&l.model),
                escape(&l.version),
                l.source,
                l.seconds
            );
        }
        out.push_str("# HELP berth_model_ready 1 when a model is loaded and answering.\n");
        out.push_str("# TYPE berth_model_ready gauge\n");
        let _ = writeln!(out, "berth_model_ready {}", u8::from(ready));
        out.push_str("# HELP berth_prediction_log_records_total Prediction log rows written to segments.\n");
        out.push_str("# TYPE berth_prediction_log_records_total counter\n");
        let _ = writeln!(out, "berth_prediction_log_records_total {}", self.log_written.load(Ordering::Relaxed));
        out.push_str(
            "# HELP berth_prediction_log_dropped_total Prediction log records dropped because the log was behind.\n",
        );
        out.push_str("# TYPE berth_prediction_log_dropped_total counter\n");
        let _ = writeln!(out, "berth_prediction_log_dropped_total {}", self.log_dropped.load(Ordering::Relaxed));
        out.push_str("# HELP berth_prediction_log_uploaded_total Prediction log segments sent to the store.\n");
        out.push_str("# TYPE berth_prediction_log_uploaded_total counter\n");
        let _ = writeln!(out, "berth_prediction_log_uploaded_total {}", self.log_uploaded.load(Ordering::Relaxed));
        out.push_str(
            "# HELP berth_prediction_log_upload_failures_total Rounds that could not send the log to the store.\n",
        );
        out.push_str("# TYPE berth_prediction_log_upload_failures_total counter\n");
        let _ = writeln!(
            out,
            "berth_prediction_log_upload_failures_total {}",
            self.log_upload_failures.load(Ordering::Relaxed)
        );
        out.push_str("# HELP berth_feedback_received_total Labels taken by POST /feedback.\n");
        out.push_str("# TYPE berth_feedback_received_total counter\n");
        let _ = writeln!(out, "berth_feedback_received_total {}", self.feedback_received.load(Ordering::Relaxed));
        self.connections.render(&mut out);
        out.push_str("# HELP berth_admin_refused_total Admin requests refused for a missing or wrong admin token.\n");
        out.push_str("# TYPE berth_admin_refused_total counter\n");
        let _ = writeln!(out, "berth_admin_refused_total {}", self.admin_refused.load(Ordering::Relaxed));
        out
    }
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counts_never_reset_across_versions() {
        let m = Metrics::default();
        let v1 = m.version("churn", "1", &["no".into(), "yes".into()]);
        v1.finish(Endpoint::Predict, 200, Duration::from_micros(300));
        v1.finish(Endpoint::Predict, 200, Duration::from_millis(3));
        v1.finish(Endpoint::Predict, 422, Duration::from_micros(50));
        v1.predicted(&Prediction {
            values: None,
            labels: Some(vec!["yes".into(), "yes".into(), "no".into()]),
            probabilities: None,
            classes: None,
        });
        assert!(Arc::ptr_eq(&v1, &m.version("churn", "1", &[])));
        let text = m.render(true);
        assert!(text.contains(r#"berth_requests_total{model="churn",version="1",endpoint="predict",code="200"} 2"#));
        assert!(text.contains(r#"berth_request_errors_total{model="churn",version="1",endpoint="predict"} 1"#));
        assert!(text.contains(r#"endpoint="predict",le="0.0001"} 1"#), "{text}");
        assert!(text.contains(r#"endpoint="predict",le="0.0005"} 2"#), "{text}");
        assert!(text.contains(r#"endpoint="predict",le="0.005"} 3"#), "{text}");
        assert!(text.contains(r#"berth_predicted_class_total{model="churn",version="1",class="yes"} 2"#));
        assert!(text.contains("berth_model_ready 1"));
    }

    #[test]
    fn each_family_comes_in_one_group_however_many_versions() {
        let m = Metrics::default();
        for v in ["1", "2"] {
            let s = m.version("churn", v, &["no".into(), "yes".into()]);
            s.finish(Endpoint::Predict, 200, Duration::from_micros(300));
            s.finish(Endpoint::OpenInference, 422, Duration::from_micros(30));
        }
        let text = m.render(true);
        let families: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(['{', ' ']).next().unwrap())
            .map(|n| n.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count"))
            .collect();
        let mut groups = families.clone();
        groups.dedup();
        let mut distinct = groups.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(groups.len(), distinct.len(), "a family split in two: {groups:?}\n{text}");
        assert!(text.contains(r#"berth_request_errors_total{model="churn",version="2",endpoint="v2"} 1"#), "{text}");
    }

    #[test]
    fn connections_are_counted_open_until_closed_and_by_why_they_closed() {
        let m = Metrics::default();
        let open = m.connections.opened();
        let _second = m.connections.opened();
        m.connections.expired(crate::conn::Expired::Idle);
        m.connections.refused.fetch_add(3, Ordering::Relaxed);
        drop(open);
        let text = m.render(false);
        assert!(text.contains("berth_connections_open 1\n"), "{text}");
        assert!(text.contains("berth_connections_accepted_total 2\n"), "{text}");
        assert!(text.contains("berth_connections_refused_total 3\n"), "{text}");
        assert!(text.contains("berth_connections_timed_out_total{reason=\"idle\"} 1\n"), "{text}");
        assert!(text.contains("berth_connections_timed_out_total{reason=\"header\"} 0\n"), "{text}");
    }
}
