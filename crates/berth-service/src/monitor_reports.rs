//! Monitor reports: what `berth monitor` found in live traffic — live
//! metrics, drift, data quality — stored on the version it watched, for one
//! environment. Recording one alerts on changes only (`berth-deploy`'s
//! `episode`): degradation or drift starting, or everything recovering,
//! decided against the report stored before it in the same transaction.

use berth_core::{AliasName, ModelName, MonitorRecord, Role, Timestamp, VersionRecord};
use berth_deploy::episode::{MonitorStatus, transitions};
use berth_deploy::notify::Outcome;
use berth_deploy::{Event, EventKind};
use berth_registry::{MonitorFilter, NewMonitorReport};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Berth, Result, ServiceError};

/// A monitor report as stored, the events its change of state fired and how
/// their deliveries went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MonitorRecorded {
    pub record: MonitorRecord,
    /// The events fired, by name (`monitor.degraded`, `monitor.drift`,
    /// `monitor.recovered`); empty while a state continues.
    pub events: Vec<String>,
    pub notified: Vec<Outcome>,
}

/// The fields of a report the service relies on, checked.
struct Checked {
    status: MonitorStatus,
    window_end: Option<Timestamp>,
}

impl Berth {
    /// Stores a monitor report on version `v` for `env` (the deployer role on
    /// both) and tells the notifiers what changed since the previous report
    /// for the same model and environment.
    pub async fn record_monitor_report(
        &self,
        v: &VersionRecord,
        env: &AliasName,
        report: &Value,
    ) -> Result<MonitorRecorded> {
        self.allow(Role::Deployer, Some(&v.model), Some(env))?;
        let checked = check_report(v, env, report)?;
        let new = NewMonitorReport {
            model: &v.model,
            version: v.version,
            env,
            degraded: checked.status.degraded,
            drift: checked.status.drift,
            window_end: checked.window_end,
            report,
        };
        let (previous, record) = self.registry.add_monitor_report(new, &self.actor).await?;
        let previous = previous.map(|p| MonitorStatus::new(p.degraded, p.drift));
        let kinds = transitions(previous, checked.status);
        let mut notified = Vec::new();
        for &kind in &kinds {
            notified.extend(self.notify(self.monitor_event(kind, &record)).await);
        }
        let events = kinds.iter().map(|k| k.as_str().to_string()).collect();
        Ok(MonitorRecorded { record, events, notified })
    }

    /// A model's monitor reports (of one environment, or all), newest first,
    /// at most `limit` of them.
    pub async fn monitor_reports(
        &self,
        model: &ModelName,
        env: Option<&AliasName>,
        limit: Option<u32>,
    ) -> Result<Vec<MonitorRecord>> {
        self.monitor_reports_where(model, &MonitorFilter { env, limit, ..Default::default() }).await
    }

    /// The newest monitor report of a model (in one environment, or any)
    /// whose window ends between the two bounds (each inclusive, each
    /// optional); `None` when there is none.
    pub async fn newest_monitor_report(
        &self,
        model: &ModelName,
        env: Option<&AliasName>,
        window_ends_from: Option<Timestamp>,
        window_ends_to: Option<Timestamp>,
    ) -> Result<Option<MonitorRecord>> {
        let filter = MonitorFilter { env, window_ends_from, window_ends_to, limit: Some(1) };
        Ok(self.monitor_reports_where(model, &filter).await?.into_iter().next())
    }

    async fn monitor_reports_where(&self, model: &ModelName, filter: &MonitorFilter<'_>) -> Result<Vec<MonitorRecord>> {
        self.allow(Role::Reader, Some(model), filter.env)?;
        // An unknown model is an error, not an empty list.
        self.require_model(model).await?;
        Ok(self.registry.monitor_reports(model, filter).await?)
    }

    /// The event for one change of state: the report's own summary, and what
    /// someone paged needs first (metrics, drift, reasons, window).
    fn monitor_event(&self, kind: EventKind, record: &MonitorRecord) -> Event {
        let r = &record.report;
        let summary = match r["summary"].as_str().filter(|s| !s.trim().is_empty()) {
            Some(s) => s.to_string(),
            None => format!("{}@{} in {}: {}", record.model, record.version, record.env, kind.title().to_lowercase()),
        };
        let details = serde_json::json!({
            "report_id": record.id,
            "degraded": record.degraded,
            "data_drift_detected": record.drift,
            "metrics": r.get("metrics"),
            "reasons": r.get("reasons"),
            "window": r.get("window"),
        });
        Event::new(kind, record.created_at, &self.actor.name, summary)
            .version(&record.model, record.version)
            .env(record.env.as_str())
            .details(details)
    }
}

/// Checks what the service reads from a report: an object that names the
/// version and environment it is recorded on, says whether it is degraded,
/// and, when it has them, whether the data drifted and where its window ends.
fn check_report(v: &VersionRecord, env: &AliasName, report: &Value) -> Result<Checked> {
    let bad = |what: String| {
        ServiceError::input(
            format!("the monitor report for {}@{} in {env}: {what}", v.model, v.version),
            Some("record the report `berth monitor` writes, unchanged".into()),
        )
    };
    if !report.is_object() {
        return Err(bad(format!("it is {}, not a JSON object", kind_of(report))));
    }
    match report.get("version").map(|n| (n, n.as_u64())) {
        Some((_, Some(n))) if n == v.version => {}
        Some((_, Some(n))) => return Err(bad(format!("it is about version {n}, not {}", v.version))),
        Some((n, None)) => return Err(bad(format!("\"version\" is {n}, not a version number"))),
        None => return Err(bad("it has no \"version\"".into())),
    }
    match report.get("env") {
        Some(Value::String(e)) if e == env.as_str() => {}
        Some(Value::String(e)) => return Err(bad(format!("it is about environment {e:?}, not {env}"))),
        Some(e) => return Err(bad(format!("\"env\" is {}, not an environment name", kind_of(e)))),
        None => return Err(bad("it has no \"env\"".into())),
    }
    let flag = |key: &str, required: bool| match report.get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        None if !required => Ok(false),
        None => Err(bad(format!("it has no {key:?} (true or false)"))),
        Some(x) => Err(bad(format!("{key:?} is {}, not true or false", kind_of(x)))),
    };
    let status = MonitorStatus::new(flag("degraded", true)?, flag("data_drift_detected", false)?);
    let window_end = match report.get("window").and_then(|w| w.get("to")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            parse_time_bound(s, true)
                .ok_or_else(|| bad(format!("window.to {s:?} is not an RFC 3339 time such as 2026-01-31T12:00:00Z")))?,
        ),
        Some(x) => return Err(bad(format!("window.to is {}, not an RFC 3339 time", kind_of(x)))),
    };
    Ok(Checked { status, window_end })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const DAY_MS: i64 = 86_400_000;

/// An ISO 8601 date (`2026-01-31`) or RFC 3339 date-time
/// (`2026-01-31T12:00:00.5+02:00`, `Z`, `t`/`z` or a space allowed) as an
/// instant. A date alone is a whole day: as a start bound (`end` false) its
/// first millisecond, as an end bound its last, so `to=2026-01-31` includes
/// that day. A leap second counts as the last millisecond of its minute.
pub fn parse_time_bound(s: &str, end: bool) -> Option<Timestamp> {
    let days = parse_date(s.get(..10)?)?;
    let rest = &s[10..];
    if rest.is_empty() {
        let ms = days * DAY_MS;
        return Some(Timestamp::from_millis(if end { ms + DAY_MS - 1 } else { ms }));
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (of_day, offset) = parse_time_of_day(rest)?;
    Some(Timestamp::from_millis(days * DAY_MS + of_day - offset))
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&s[..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// `HH:MM:SS[.fff…](Z|±HH:MM)` as (milliseconds into the day, offset in milliseconds).
fn parse_time_of_day(s: &str) -> Option<(i64, i64)> {
    let b = s.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, mi, sec) = (digits(&s[..2])?, digits(&s[3..5])?, digits(&s[6..8])?);
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[8..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        millis = frac[..n].bytes().chain(std::iter::repeat(b'0')).take(3).fold(0, |a, c| a * 10 + i64::from(c - b'0'));
        rest = &frac[n..];
    }
    let (sec, millis) = if sec == 60 { (59, 999) } else { (sec, millis) };
    let of_day = ((h * 60 + mi) * 60 + sec) * 1000 + millis;
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = &rest[1..];
            if o.len() != 5 || o.as_bytes()[2] != b':' {
                return None;
            }
            let (oh, om) = (digits(&o[..2])?, digits(&o[3..])?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om) * 60_000
        }
    };
    Some((of_day, offset))
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<i64> {
        parse_time_bound(s, false).map(Timestamp::millis)
    }

    #[test]
    fn dates_and_times_parse_as_iso_8601_and_rfc_3339_say() {
        assert_eq!(at("1970-01-01"), Some(0));
        assert_eq!(parse_time_bound("1970-01-01", true).map(Timestamp::millis), Some(DAY_MS - 1));
        assert_eq!(at("2026-01-31T12:00:00Z"), Timestamp::parse_rfc3339("2026-01-31T12:00:00Z").map(|t| t.millis()));
        assert_eq!(at("1970-01-01T02:00:00.25+02:00"), Some(250));
        assert_eq!(at("1970-01-01t00:00:01z"), Some(1000));
        assert_eq!(at("1970-01-01 00:00:00-00:30"), Some(1_800_000));
        assert_eq!(at("2024-02-29T00:00:00Z"), Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").map(|t| t.millis()));
        assert_eq!(at("1969-12-31T23:59:60Z"), Some(-1), "a leap second is its minute's last millisecond");
        for bad in [
            "",
            "2026-13-01",
            "2023-02-29",
            "2026-01-31T",
            "2026-01-31T25:00:00Z",
            "2026-01-31T12:00:00",
            "31/01/2026",
            "2026-01-31T12:00:00+0200",
            "2026-01-31T12:00:00.Z",
        ] {
            assert_eq!(at(bad), None, "{bad:?}");
        }
    }
}
