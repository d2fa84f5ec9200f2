//! What `/metrics` tells Prometheus: requests by route and status, their
//! latency as a histogram, and authentication failures.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Route {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<String, Route>>,
    auth_failures: AtomicU64,
}

impl Metrics {
    pub fn record(&self, route: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let r = routes.entry(route.to_string()).or_default();
        *r.by_status.entry(status).or_default() += 1;
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                r.buckets[i] += 1;
            }
        }
        r.count += 1;
        r.sum += secs;
    }

    pub fn auth_failure(&self) {
        self.auth_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP berth_hub_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE berth_hub_requests_total counter\n");
        for (route, r) in routes.iter() {
            for (status, n) in &r.by_status {
                let _ = writeln!(out, "berth_hub_requests_total{{route=\"{route}\",code=\"{status}\"}} {n}");
            }
        }
        out.push_str("# HELP berth_hub_request_seconds Time to answer a request, by route.\n");
        out.push_str("# TYPE berth_hub_request_seconds histogram\n");
        for (route, r) in routes.iter() {
            for (le, n) in BUCKETS.iter().zip(r.buckets) {
                let _ = writeln!(out, "berth_hub_request_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {n}");
            }
            let _ = writeln!(out, "berth_hub_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", r.count);
            let _ = writeln!(out, "berth_hub_request_seconds_sum{{route=\"{route}\"}} {}", r.sum);
            let _ = writeln!(out, "berth_hub_request_seconds_count{{route=\"{route}\"}} {}", r.count);
        }
        out.push_str(
            "# HELP berth_hub_auth_failures_total Requests refused for a missing, unknown, revoked or expired token.\n",
        );
        out.push_str("# TYPE berth_hub_auth_failures_total counter\n");
        let _ = writeln!(out, "berth_hub_auth_failures_total {}", self.auth_failures.load(Ordering::Relaxed));
        out
    }
}
