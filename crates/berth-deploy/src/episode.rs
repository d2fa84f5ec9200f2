//! Alerting hysteresis for live monitoring: a monitor runs again and again,
//! and people want to hear when something starts going wrong and when it is
//! over, not once per run while it lasts. Given the status of the report
//! before and of the one just made, [`transitions`] says which events start
//! or end an episode. Pure: the caller reads the previous report (in the
//! transaction that stores the new one) and sends what this returns.

use crate::event::EventKind;

/// What one monitor report says about the version it watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MonitorStatus {
    /// Live quality is worse than the policy allows.
    pub degraded: bool,
    /// The live data drifted from the reference.
    pub drift: bool,
}

impl MonitorStatus {
    pub fn new(degraded: bool, drift: bool) -> MonitorStatus {
        MonitorStatus { degraded, drift }
    }

    /// Anything wrong at all.
    pub fn troubled(self) -> bool {
        self.degraded || self.drift
    }
}

/// The events the change from `previous` (`None`: the first report for this
/// model and environment) to `now` fires, in a fixed order: degradation
/// starting, drift starting, or everything recovered. A state that continues
/// fires nothing; so does a partial recovery (degraded and drifted, then only
/// drifted), since the episode is not over.
pub fn transitions(previous: Option<MonitorStatus>, now: MonitorStatus) -> Vec<EventKind> {
    let before = previous.unwrap_or_default();
    let mut events = Vec::new();
    if now.degraded && !before.degraded {
        events.push(EventKind::MonitorDegraded);
    }
    if now.drift && !before.drift {
        events.push(EventKind::MonitorDrift);
    }
    if before.troubled() && !now.troubled() {
        events.push(EventKind::MonitorRecovered);
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventKind::{MonitorDegraded as Degraded, MonitorDrift as Drift, MonitorRecovered as Recovered};

    const OK: MonitorStatus = MonitorStatus { degraded: false, drift: false };
    const DEGRADED: MonitorStatus = MonitorStatus { degraded: true, drift: false };
    const DRIFTED: MonitorStatus = MonitorStatus { degraded: false, drift: true };
    const BOTH: MonitorStatus = MonitorStatus { degraded: true, drift: true };

    #[test]
    fn a_first_report_alerts_on_what_is_wrong_and_is_silent_when_all_is_well() {
        assert_eq!(transitions(None, OK), []);
        assert_eq!(transitions(None, DEGRADED), [Degraded]);
        assert_eq!(transitions(None, DRIFTED), [Drift]);
        assert_eq!(transitions(None, BOTH), [Degraded, Drift]);
    }

    #[test]
    fn an_episode_starting_alerts_once() {
        assert_eq!(transitions(Some(OK), DEGRADED), [Degraded]);
        assert_eq!(transitions(Some(OK), DRIFTED), [Drift]);
        assert_eq!(transitions(Some(OK), BOTH), [Degraded, Drift]);
    }

    #[test]
    fn a_state_that_continues_is_silent() {
        for s in [OK, DEGRADED, DRIFTED, BOTH] {
            assert_eq!(transitions(Some(s), s), [], "{s:?} again");
        }
    }

    #[test]
    fn a_second_trouble_during_an_episode_alerts_for_itself_only() {
        assert_eq!(transitions(Some(DEGRADED), BOTH), [Drift]);
        assert_eq!(transitions(Some(DRIFTED), BOTH), [Degraded]);
        // One trouble giving way to the other: the new one starts, nothing recovered.
        assert_eq!(transitions(Some(DEGRADED), DRIFTED), [Drift]);
        assert_eq!(transitions(Some(DRIFTED), DEGRADED), [Degraded]);
    }

    #[test]
    fn a_partial_recovery_is_not_a_recovery() {
        assert_eq!(transitions(Some(BOTH), DEGRADED), []);
        assert_eq!(transitions(Some(BOTH), DRIFTED), []);
    }

    #[test]
    fn recovery_is_announced_when_nothing_is_wrong_any_more() {
        assert_eq!(transitions(Some(DEGRADED), OK), [Recovered]);
        assert_eq!(transitions(Some(DRIFTED), OK), [Recovered]);
        assert_eq!(transitions(Some(BOTH), OK), [Recovered]);
    }

    #[test]
    fn the_events_carry_their_names_and_titles() {
        assert_eq!(
            [Degraded, Drift, Recovered].map(EventKind::as_str),
            ["monitor.degraded", "monitor.drift", "monitor.recovered"]
        );
        assert_eq!(
            [Degraded, Drift, Recovered].map(EventKind::title),
            ["Live quality degraded", "Live data drifted", "Monitor recovered"]
        );
        assert!(Recovered.matches("monitor.*"));
    }
}
