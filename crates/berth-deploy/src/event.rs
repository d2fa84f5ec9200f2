//! What happened, as notifiers are told: a kind, who, which version and
//! environment, a one-line summary and the details.

use std::sync::atomic::{AtomicU64, Ordering};

use berth_core::{ModelName, Timestamp};
use serde::Serialize;
use sha2::Digest as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventKind {
    #[serde(rename = "version.pushed")]
    VersionPushed,
    #[serde(rename = "gate.passed")]
    GatePassed,
    #[serde(rename = "gate.failed")]
    GateFailed,
    /// A promotion was refused for want of approvals: approvers are wanted.
    #[serde(rename = "promotion.requested")]
    PromotionRequested,
    #[serde(rename = "promotion.approved")]
    PromotionApproved,
    #[serde(rename = "promotion.done")]
    PromotionDone,
    #[serde(rename = "rollback")]
    Rollback,
    #[serde(rename = "rollout.promoted")]
    RolloutPromoted,
    #[serde(rename = "rollout.aborted")]
    RolloutAborted,
    /// A monitor found live quality degraded, after a report that did not.
    #[serde(rename = "monitor.degraded")]
    MonitorDegraded,
    /// A monitor found the live data drifted, after a report that did not.
    #[serde(rename = "monitor.drift")]
    MonitorDrift,
    /// A monitor found nothing wrong, after a report that found something.
    #[serde(rename = "monitor.recovered")]
    MonitorRecovered,
}

impl EventKind {
    pub const ALL: [EventKind; 12] = [
        EventKind::VersionPushed,
        EventKind::GatePassed,
        EventKind::GateFailed,
        EventKind::PromotionRequested,
        EventKind::PromotionApproved,
        EventKind::PromotionDone,
        EventKind::Rollback,
        EventKind::RolloutPromoted,
        EventKind::RolloutAborted,
        EventKind::MonitorDegraded,
        EventKind::MonitorDrift,
        EventKind::MonitorRecovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::VersionPushed => "version.pushed",
            EventKind::GatePassed => "gate.passed",
            EventKind::GateFailed => "gate.failed",
            EventKind::PromotionRequested => "promotion.requested",
            EventKind::PromotionApproved => "promotion.approved",
            EventKind::PromotionDone => "promotion.done",
            EventKind::Rollback => "rollback",
            EventKind::RolloutPromoted => "rollout.promoted",
            EventKind::RolloutAborted => "rollout.aborted",
            EventKind::MonitorDegraded => "monitor.degraded",
            EventKind::MonitorDrift => "monitor.drift",
            EventKind::MonitorRecovered => "monitor.recovered",
        }
    }

    /// A title for people.
    pub fn title(self) -> &'static str {
        match self {
            EventKind::VersionPushed => "Version pushed",
            EventKind::GatePassed => "Gate passed",
            EventKind::GateFailed => "Gate failed",
            EventKind::PromotionRequested => "Approval requested",
            EventKind::PromotionApproved => "Promotion approved",
            EventKind::PromotionDone => "Promoted",
            EventKind::Rollback => "Rolled back",
            EventKind::RolloutPromoted => "Rollout promoted",
            EventKind::RolloutAborted => "Rollout aborted",
            EventKind::MonitorDegraded => "Live quality degraded",
            EventKind::MonitorDrift => "Live data drifted",
            EventKind::MonitorRecovered => "Monitor recovered",
        }
    }

    /// Whether a notifier's event pattern selects this kind: the exact name,
    /// a prefix with `.*` (`promotion.*`) or `*`.
    pub fn matches(self, pattern: &str) -> bool {
        let name = self.as_str();
        pattern == "*"
            || pattern == name
            || pattern.strip_suffix(".*").is_some_and(|p| name.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
    }

    /// Checks a pattern names at least one kind.
    pub fn valid_pattern(pattern: &str) -> bool {
        EventKind::ALL.iter().any(|k| k.matches(pattern))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Unique per event; every notifier gets the same id (`x-berth-delivery`).
    pub id: String,
    #[serde(rename = "event")]
    pub kind: EventKind,
    pub at: Timestamp,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    pub summary: String,
    pub details: serde_json::Value,
}

impl Event {
    pub fn new(kind: EventKind, at: Timestamp, actor: &str, summary: String) -> Event {
        Event {
            id: new_id(at),
            kind,
            at,
            actor: actor.to_string(),
            model: None,
            version: None,
            env: None,
            summary,
            details: serde_json::Value::Null,
        }
    }

    pub fn version(mut self, model: &ModelName, version: u64) -> Event {
        self.model = Some(model.clone());
        self.version = Some(version);
        self
    }

    pub fn env(mut self, env: &str) -> Event {
        self.env = Some(env.to_string());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Event {
        self.details = details;
        self
    }
}

/// `evt_` and 16 hex digits from the time, the process and a counter.
fn new_id(at: Timestamp) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut h = sha2::Sha256::new();
    h.update(at.millis().to_le_bytes());
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    format!("evt_{}", hex::encode(&h.finalize()[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_select_kinds() {
        assert!(EventKind::PromotionDone.matches("promotion.*"));
        assert!(EventKind::PromotionDone.matches("promotion.done"));
        assert!(EventKind::PromotionDone.matches("*"));
        assert!(!EventKind::PromotionDone.matches("promo.*"));
        assert!(!EventKind::Rollback.matches("rollout.*"));
        assert!(EventKind::valid_pattern("gate.*"));
        assert!(!EventKind::valid_pattern("deploy.*"));
        assert!(EventKind::valid_pattern("monitor.*"));
    }

    #[test]
    fn every_kind_serialises_as_its_name() {
        for k in EventKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }

    #[test]
    fn ids_are_unique() {
        let at = Timestamp::from_millis(1);
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| new_id(at)).collect();
        assert_eq!(ids.len(), 1000);
        let e = Event::new(EventKind::Rollback, at, "ci", "x".into());
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["event"], "rollback");
        assert!(json.get("model").is_none());
    }
}
