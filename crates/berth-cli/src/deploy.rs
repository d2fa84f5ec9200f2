//! Human output of promote, approve, approvals, deployments, rollback,
//! check and notifications.

use berth_core::{Approval, Delivery, MoveKind};
use berth_deploy::notify::Outcome;
use berth_service::{ApproveReport, CheckReport, DeploymentRecord, PromoteReport, RollbackReport};

use crate::render::table;

fn version(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// Deliveries that worked; a failed one has been warned about by the
/// notifier already, as for every event.
pub(crate) fn notified(outcomes: &[Outcome]) {
    for o in outcomes.iter().filter(|o| o.last_error.is_none()) {
        println!("  notified {} ({} attempt{})", o.notifier, o.attempts, if o.attempts == 1 { "" } else { "s" })
    }
}

pub fn promote(r: &PromoteReport) {
    let target = format!("{}@{}", r.model, r.version);
    if !r.missing.is_empty() {
        println!("{target} cannot be promoted to {} yet:", r.env);
        for m in &r.missing {
            println!("  ✗ {}", m.message);
            println!("      {}", m.fix);
        }
    } else if r.promoted {
        println!("{target} promoted to {} (was {})", r.env, version(r.from));
    } else {
        println!("{} already points at {target} (nothing changed)", r.env);
    }
    notified(&r.notified);
}

pub fn approve(r: &ApproveReport) {
    let a = &r.approval;
    let what = if r.new { "approved" } else { "was already approved" };
    println!("{}@{} {what} for {} by {}", a.model, a.version, a.env, a.approver);
    if r.needed > 0 {
        println!("  {} of {} approvals the policy needs", r.counted, r.needed);
    }
    notified(&r.notified);
}

pub fn approvals(list: &[Approval]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.at.to_string(),
                format!("{}@{}", a.model, a.version),
                a.env.to_string(),
                a.approver.clone(),
                a.comment.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["WHEN", "VERSION", "ENV", "APPROVER", "COMMENT"], &rows);
}

pub fn deployments(list: &[DeploymentRecord]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            let e = &d.event;
            let reports: Vec<String> = d.gate_reports.iter().map(|g| g.get(..19).unwrap_or(g).to_string()).collect();
            vec![
                e.at.to_string(),
                e.alias.to_string(),
                e.kind.as_str().to_string(),
                version(e.from),
                version(e.to),
                e.actor.clone(),
                e.reason.clone().unwrap_or_default(),
                reports.join(" "),
            ]
        })
        .collect();
    table(&["WHEN", "ENV", "KIND", "FROM", "TO", "WHO", "WHY", "GATE REPORTS"], &rows);
}

pub fn rollback(r: &RollbackReport) {
    let d = &r.deployment;
    println!("{}@{} rolled back from {} to {}", r.model, r.env, version(d.from), version(d.to));
    notified(&r.notified);
}

pub fn check(r: &CheckReport) {
    println!("{}@{} (version {}) against {}:", r.model, r.env, r.version, r.against);
    let rows: Vec<Vec<String>> = r
        .comparison
        .compared
        .iter()
        .map(|d| {
            vec![
                d.metric.clone(),
                format!("{:.4}", d.gate),
                format!("{:.4}", d.live),
                format!("{:+.1}%", d.worse_by * 100.0),
                if d.exceeded { "✗ degraded".into() } else { "✓".into() },
            ]
        })
        .collect();
    table(&["METRIC", "GATE", "LIVE", "WORSE BY", ""], &rows);
    if !r.comparison.not_compared.is_empty() {
        println!("not compared (the gate did not measure them): {}", r.comparison.not_compared.join(", "));
    }
    let allowed = r.comparison.allowed * 100.0;
    match (&r.rollback, r.degraded, r.dry_run) {
        (_, false, _) => println!("healthy: no metric is more than {allowed:.0}% worse"),
        (_, true, true) => println!("degraded beyond {allowed:.0}%: would roll back (--dry-run)"),
        (Some(ev), true, false) => {
            let how = if ev.kind == MoveKind::AutoRollback { "rolled back automatically" } else { "rolled back" };
            println!("degraded beyond {allowed:.0}%: {how} from {} to {}", version(ev.from), version(ev.to));
        }
        (None, true, false) => match &r.rollback_refused {
            Some(why) => println!("degraded beyond {allowed:.0}%, but not rolled back: {why}"),
            None => println!("degraded beyond {allowed:.0}%, and already on the rollback target"),
        },
    }
    notified(&r.notified);
}

pub fn notifications(list: &[Delivery]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                d.created_at.to_string(),
                d.event.clone(),
                d.model.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                d.notifier.clone(),
                d.target.clone(),
                d.status.as_str().to_string(),
                d.attempts.to_string(),
                d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                d.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["WHEN", "EVENT", "MODEL", "NOTIFIER", "TARGET", "STATUS", "TRIES", "HTTP", "ERROR"], &rows);
}
