//! One suite over the seam, run against both of its implementations: the
//! service in this process (`Berth`) and the service through a hub over real
//! HTTP (`HubClient`). Each behaviour is a function of an `Operations` pair
//! (the publisher, who may do everything, and an approver), so what a caller
//! sees cannot depend on which side carries the call.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_core::{AliasName, Grant, ModelName, ModelPattern, Ref, Role, SystemClock};
use berth_hub::Hub;
use berth_service::{
    ApprovalFilter, Berth, Config, ErrorKind, HubClient, NoTransfer, Operations, Principal, PushRequest, ServiceError,
    TokenRequest,
};

const POLICY: &str = "\n[environments.production]\napprovals = 1\n";

/// Both callers of one side, and the service that pushes versions for them.
struct Side {
    publisher: Box<dyn Operations>,
    approver: Box<dyn Operations>,
    /// A caller with the reader role only.
    reader: Box<dyn Operations>,
    berth: Berth,
    dir: tempfile::TempDir,
}

/// A project with `churn@1` and `churn@2`, both published by alice.
async fn project() -> (tempfile::TempDir, Berth) {
    let dir = tempfile::tempdir().unwrap();
    berth_service::init(dir.path(), None, None, &|_| None).unwrap();
    let toml = dir.path().join("berth.toml");
    let mut cfg = std::fs::read_to_string(&toml).unwrap();
    cfg.push_str(POLICY);
    std::fs::write(&toml, cfg).unwrap();
    let config = Config::discover(dir.path(), &|_| None).unwrap();
    let berth = Berth::open(config, "alice".into()).await.unwrap();
    for i in 1..=2u8 {
        let file = dir.path().join(format!("m{i}.txt"));
        std::fs::write(&file, [i; 32]).unwrap();
        let req = PushRequest { paths: vec![file], model: Some(name("churn")), ..Default::default() };
        berth.push(req, &NoTransfer).await.unwrap();
    }
    (dir, berth)
}

fn name(s: &str) -> ModelName {
    ModelName::parse(s).unwrap()
}

fn env(s: &str) -> AliasName {
    AliasName::parse(s).unwrap()
}

fn r(s: &str) -> Ref {
    Ref::parse(s).unwrap()
}

fn reader_grant() -> Grant {
    Grant { role: Role::Reader, models: ModelPattern::any(), envs: Vec::new() }
}

fn approver_grant() -> Grant {
    Grant { role: Role::Approver, models: ModelPattern::any(), envs: Vec::new() }
}

async fn in_process() -> Side {
    let (dir, berth) = project().await;
    let bob = Principal { name: "bob".into(), token: None, grant: approver_grant() };
    let carol = Principal { name: "carol".into(), token: None, grant: reader_grant() };
    Side {
        publisher: Box::new(berth.clone()),
        approver: Box::new(berth.acting_as(bob)),
        reader: Box::new(berth.acting_as(carol)),
        berth,
        dir,
    }
}

async fn through_hub() -> Side {
    let (dir, berth) = project().await;
    let mint = async |principal: &str, grant: Grant| {
        berth.create_token(&TokenRequest { principal: principal.into(), grant, expires_at: None }).await.unwrap().secret
    };
    let alice = mint("alice", Grant::everything()).await;
    let bob = mint("bob", approver_grant()).await;
    let carol = mint("carol", reader_grant()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(berth_hub::run(
        listener,
        Hub::new(berth.clone(), Arc::new(SystemClock)),
        |_| {},
        std::future::pending(),
    ));
    Side {
        publisher: Box::new(HubClient::new(&url, alice, false).unwrap()),
        approver: Box::new(HubClient::new(&url, bob, false).unwrap()),
        reader: Box::new(HubClient::new(&url, carol, false).unwrap()),
        berth,
        dir,
    }
}

fn kind<T: std::fmt::Debug>(r: Result<T, ServiceError>) -> ErrorKind {
    r.expect_err("expected a refusal").kind()
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::in_process().await).await;
                }
            )*
        }
        mod through_the_hub {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::through_hub().await).await;
                }
            )*
        }
    };
}

suite!(
    reads_agree_and_unknown_names_are_not_found,
    tags_are_set_on_versions,
    aliases_move_and_keep_their_history,
    the_road_to_production_holds_the_policy_and_four_eyes,
    tokens_and_policies_are_for_admins,
    monitor_reports_alert_on_changes_of_state_only,
    live_checks_roll_back_with_the_callers_evidence,
    log_segments_are_stored_once_by_name_listed_and_read_back,
);

async fn reads_agree_and_unknown_names_are_not_found(s: Side) {
    let models = s.publisher.models().await.unwrap();
    assert_eq!(models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["churn"]);
    let vs = s.publisher.versions_with_aliases(&name("churn")).await.unwrap();
    assert_eq!(vs.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
    let shown = s.approver.show(&r("churn@1")).await.unwrap();
    assert_eq!((shown.version.created_by.as_str(), shown.files.len()), ("alice", 1));
    assert_eq!(s.publisher.resolve(&r("churn@latest")).await.unwrap().version, 2);
    assert_eq!(s.publisher.whoami().await.unwrap().name, "alice");
    assert_eq!(kind(s.publisher.versions_with_aliases(&name("nosuch")).await), ErrorKind::NotFound);
    assert_eq!(kind(s.publisher.show(&r("churn@9")).await), ErrorKind::NotFound);
    assert_eq!(kind(s.publisher.deployments(&name("nosuch"), None).await), ErrorKind::NotFound);
}

async fn tags_are_set_on_versions(s: Side) {
    let tags = BTreeMap::from([("team".to_string(), "risk".to_string())]);
    let v = s.publisher.tag(&r("churn@1"), &tags).await.unwrap();
    assert_eq!(v.meta.tags, tags);
    assert_eq!(s.publisher.show(&r("churn@1")).await.unwrap().version.meta.tags, tags);
    // An approver publishes nothing.
    assert_eq!(kind(s.approver.tag(&r("churn@1"), &tags).await), ErrorKind::Denied);
}

async fn aliases_move_and_keep_their_history(s: Side) {
    let (m, canary) = (name("churn"), env("canary"));
    assert!(s.publisher.alias_set(&m, &canary, 1, Some("try")).await.unwrap().is_some());
    assert!(s.publisher.alias_set(&m, &canary, 1, None).await.unwrap().is_none(), "a no-op is not a move");
    assert_eq!(s.publisher.resolve(&r("churn@canary")).await.unwrap().version, 1);
    s.publisher.alias_set(&m, &canary, 2, None).await.unwrap();
    let history = s.publisher.alias_history(&m, Some(&canary)).await.unwrap();
    assert_eq!(history.iter().map(|e| (e.from, e.to)).collect::<Vec<_>>(), [(None, Some(1)), (Some(1), Some(2))]);
    let removed = s.publisher.alias_rm(&m, &canary, Some("done")).await.unwrap();
    assert_eq!((removed.from, removed.to), (Some(2), None));
    assert_eq!(kind(s.publisher.alias_rm(&m, &canary, None).await), ErrorKind::NotFound);
    // A governed environment does not move by alias, and an approver moves nothing.
    assert_eq!(kind(s.publisher.alias_set(&m, &env("production"), 1, None).await), ErrorKind::BadInput);
    assert_eq!(kind(s.approver.alias_set(&m, &canary, 1, None).await), ErrorKind::Denied);
}

async fn the_road_to_production_holds_the_policy_and_four_eyes(s: Side) {
    let (m, prod) = (name("churn"), env("production"));
    // Without an approval the promotion is refused with what is missing.
    let refused = s.publisher.promote_into(&r("churn@1"), &prod, None, false).await.unwrap();
    assert!(!refused.promoted);
    assert_eq!(refused.missing.len(), 1, "{:?}", refused.missing);
    // The publisher cannot approve its own version; someone else can.
    assert_eq!(kind(s.publisher.approve(&r("churn@1"), &prod, None).await), ErrorKind::Denied);
    let approved = s.approver.approve(&r("churn@1"), &prod, Some("ok")).await.unwrap();
    assert!(approved.new);
    assert_eq!((approved.counted, approved.needed), (1, 1));
    assert!(!s.approver.approve(&r("churn@1"), &prod, None).await.unwrap().new, "approving twice is one approval");
    let filter = ApprovalFilter { model: Some(m.clone()), version: Some(1), env: Some(prod.clone()) };
    let approvals = s.publisher.approvals(&filter).await.unwrap();
    assert_eq!(approvals.iter().map(|a| a.approver.as_str()).collect::<Vec<_>>(), ["bob"]);
    // An approver does not deploy.
    assert_eq!(kind(s.approver.promote_into(&r("churn@1"), &prod, None, false).await), ErrorKind::Denied);
    let promoted = s.publisher.promote_into(&r("churn@1"), &prod, Some("first"), false).await.unwrap();
    assert!(promoted.promoted, "{:?}", promoted.missing);
    assert_eq!(kind(s.publisher.rollback(&m, &prod, None, None).await), ErrorKind::Conflict);
    s.approver.approve(&r("churn@2"), &prod, None).await.unwrap();
    assert!(s.publisher.promote_into(&r("churn@2"), &prod, None, false).await.unwrap().promoted);
    // A governed environment is not removed by alias either.
    assert_eq!(kind(s.publisher.alias_rm(&m, &prod, None).await), ErrorKind::BadInput);
    let back = s.publisher.rollback(&m, &prod, None, Some("errors")).await.unwrap();
    assert_eq!((back.deployment.from, back.deployment.to), (Some(2), Some(1)));
    let deployments = s.approver.deployments(&m, Some(&prod)).await.unwrap();
    let moves: Vec<_> = deployments.iter().map(|d| (d.event.from, d.event.to)).collect();
    assert_eq!(moves, [(None, Some(1)), (Some(1), Some(2)), (Some(2), Some(1))]);
    assert!(deployments[0].event.evidence.as_ref().unwrap()["approvals"][0]["approver"] == "bob");
    let log = s.publisher.log(Some(m.clone()), None).await.unwrap();
    assert!(log.iter().any(|e| e.action == "env.promote" && e.actor == "alice"));
    assert!(log.iter().any(|e| e.action == "version.approve" && e.actor == "bob"));
}

async fn tokens_and_policies_are_for_admins(s: Side) {
    let req = TokenRequest { principal: "ci".into(), grant: approver_grant(), expires_at: None };
    let made = s.publisher.create_token(&req).await.unwrap();
    assert!(made.secret.starts_with("berth_"));
    let listed = s.publisher.tokens().await.unwrap();
    assert!(listed.iter().any(|t| t.id == made.token.id && t.principal == "ci"));
    assert!(!serde_json::to_string(&listed).unwrap().contains(&made.secret));
    assert!(s.publisher.revoke_token(&made.token.id).await.unwrap().revoked_at.is_some());
    assert_eq!(kind(s.publisher.revoke_token("tok_nosuch").await), ErrorKind::NotFound);
    assert_eq!(kind(s.approver.create_token(&req).await), ErrorKind::Denied);
    assert_eq!(kind(s.approver.tokens().await), ErrorKind::Denied);

    let shown = s.approver.policy_show().await.unwrap();
    let before = shown.in_force.record.as_ref().map(|p| p.version).unwrap();
    assert_eq!(shown.in_force.environments["production"].approvals, 1);
    let mut next = shown.in_force.environments.clone();
    next.get_mut("production").unwrap().approvals = 2;
    assert_eq!(kind(s.approver.policy_apply(&next, "test").await), ErrorKind::Denied);
    let applied = s.publisher.policy_apply(&next, "test").await.unwrap();
    assert!(applied.applied);
    assert_eq!(applied.policy.version, before + 1);
    assert!(!s.publisher.policy_apply(&next, "test").await.unwrap().applied, "the same document again is no change");
    let history = s.approver.policy_history().await.unwrap();
    assert_eq!(history[0].version, before + 1);
    // The new policy holds at once: one approval is no longer enough.
    s.approver.approve(&r("churn@2"), &env("production"), None).await.unwrap();
    let refused = s.publisher.promote_into(&r("churn@2"), &env("production"), None, false).await.unwrap();
    assert!(!refused.promoted);
    let _ = (&s.berth, s.dir.path());
}

fn monitor_report(version: u64, env: &str, degraded: bool) -> serde_json::Value {
    serde_json::json!({
        "version": version,
        "env": env,
        "degraded": degraded,
        "data_drift_detected": false,
        "metrics": {"mae": if degraded { 9.5 } else { 3.1 }},
        "window": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "rows": 1000, "labelled": 800},
        "summary": if degraded { "mae 9.5 is over 4.0" } else { "all well" },
        "reasons": if degraded { vec!["mae 9.5 > 4.0"] } else { vec![] },
    })
}

async fn monitor_reports_alert_on_changes_of_state_only(s: Side) {
    let (m, prod) = (name("churn"), env("production"));
    let v = s.publisher.resolve(&r("churn@2")).await.unwrap();
    let record = async |degraded| {
        s.publisher.record_monitor_report(&v, &prod, &monitor_report(2, "production", degraded)).await.unwrap()
    };
    let ok = record(false).await;
    assert!(ok.events.is_empty(), "a first report with nothing wrong is silent: {:?}", ok.events);
    assert_eq!((ok.record.version, ok.record.env.as_str(), ok.record.degraded), (2, "production", false));
    assert_eq!(record(true).await.events, ["monitor.degraded"]);
    assert!(record(true).await.events.is_empty(), "a degradation that continues is silent");
    assert_eq!(record(false).await.events, ["monitor.recovered"]);

    let listed = s.reader.monitor_reports(&m, Some(&prod), None).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.degraded).collect::<Vec<_>>(), [false, true, true, false], "newest first");
    assert_eq!(listed[0].report["metrics"]["mae"], 3.1);
    assert_eq!(s.reader.monitor_reports(&m, None, Some(1)).await.unwrap()[0].id, listed[0].id);
    assert!(s.reader.monitor_reports(&m, Some(&env("staging")), None).await.unwrap().is_empty());
    assert_eq!(kind(s.reader.monitor_reports(&name("nosuch"), None, None).await), ErrorKind::NotFound);

    // Recording needs the deployer role; a report must be about what it is recorded on.
    let report = monitor_report(2, "production", true);
    assert_eq!(kind(s.reader.record_monitor_report(&v, &prod, &report).await), ErrorKind::Denied);
    assert_eq!(kind(s.approver.record_monitor_report(&v, &prod, &report).await), ErrorKind::Denied);
    let other = monitor_report(1, "production", true);
    assert_eq!(kind(s.publisher.record_monitor_report(&v, &prod, &other).await), ErrorKind::BadInput);
    let no_flag = serde_json::json!({"version": 2, "env": "production"});
    assert_eq!(kind(s.publisher.record_monitor_report(&v, &prod, &no_flag).await), ErrorKind::BadInput);
    let log = s.publisher.log(Some(m.clone()), Some(1)).await.unwrap();
    assert_eq!((log[0].action.as_str(), log[0].actor.as_str()), ("version.monitor", "alice"));
}

async fn live_checks_roll_back_with_the_callers_evidence(s: Side) {
    let (m, canary) = (name("churn"), env("canary"));
    let file = s.dir.path().join("m3.txt");
    std::fs::write(&file, [3; 32]).unwrap();
    let mut meta = berth_core::VersionMeta::default();
    meta.metrics.insert("accuracy".into(), 0.9);
    s.berth.push(PushRequest { paths: vec![file], model: Some(m.clone()), meta }, &NoTransfer).await.unwrap();
    s.publisher.alias_set(&m, &canary, 2, None).await.unwrap();
    s.publisher.alias_set(&m, &canary, 3, None).await.unwrap();
    let ask = |accuracy: f64, dry_run: bool| berth_service::CheckRequest {
        model: m.clone(),
        env: canary.clone(),
        live: [("accuracy".to_string(), accuracy)].into(),
        max_degradation: None,
        dry_run,
        evidence: Some(serde_json::json!({"monitor_report": 7})),
    };
    let fine = s.publisher.check(&ask(0.88, false)).await.unwrap();
    assert!(!fine.degraded && fine.rollback.is_none(), "{fine:?}");
    let would = s.publisher.check(&ask(0.5, true)).await.unwrap();
    assert!(would.degraded && would.rollback.is_none(), "a dry run moves nothing");
    assert_eq!(kind(s.reader.check(&ask(0.5, false)).await), ErrorKind::Denied);
    let back = s.publisher.check(&ask(0.5, false)).await.unwrap();
    let ev = back.rollback.expect("rolled back");
    assert_eq!((ev.from, ev.to), (Some(3), Some(2)));
    assert_eq!(ev.evidence.as_ref().unwrap()["monitor_report"], 7, "the caller's evidence is kept");
    assert_eq!(ev.evidence.as_ref().unwrap()["live"]["accuracy"], 0.5);
    let unmeasured = berth_service::CheckRequest { live: [("mae".to_string(), 1.0)].into(), ..ask(0.5, true) };
    assert_eq!(kind(s.publisher.check(&unmeasured).await), ErrorKind::BadInput);
}

/// A small Parquet file, as a server's log segment would be.
fn parquet(rows: i64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().join("s.parquet");
    let t = berth_data::Table::new(vec![berth_data::Column::int("row", (0..rows).collect())]).unwrap();
    berth_data::write_table(&t, &at).unwrap();
    std::fs::read(at).unwrap()
}

async fn log_segments_are_stored_once_by_name_listed_and_read_back(s: Side) {
    let m = name("churn");
    let (seg, bytes) = ("predictions-churn-v2-host.1-000000000001-000000000001-000001.parquet", parquet(3));
    let put = s.publisher.put_log_segment(&m, seg, bytes.clone()).await.unwrap();
    assert!(put.recorded);
    assert_eq!((put.segment.size, put.segment.created_by.as_str()), (bytes.len() as u64, "alice"));
    let again = s.publisher.put_log_segment(&m, seg, bytes.clone()).await.unwrap();
    assert!(!again.recorded, "the same bytes again change nothing");
    assert_eq!(kind(s.publisher.put_log_segment(&m, seg, parquet(4)).await), ErrorKind::Conflict);
    s.publisher.put_log_segment(&m, "feedback-batch-1-2.parquet", parquet(1)).await.unwrap();

    let listed = s.reader.log_segments(&m).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["feedback-batch-1-2.parquet", seg]);
    assert_eq!(s.reader.log_segment(&listed[1]).await.unwrap(), bytes, "read back byte for byte");
    let mut gone = listed[1].clone();
    gone.name = "feedback-never-sent.parquet".into();
    assert_eq!(kind(s.reader.log_segment(&gone).await), ErrorKind::NotFound);

    // Storing needs the publisher role; a name must be one of the model's segments, the bytes Parquet.
    assert_eq!(kind(s.reader.put_log_segment(&m, "feedback-x.parquet", parquet(1)).await), ErrorKind::Denied);
    for bad in ["predictions-fraud-v1-x.parquet", "feedback-../x.parquet", "notes.txt", "feedback-x.csv"] {
        assert_eq!(kind(s.publisher.put_log_segment(&m, bad, parquet(1)).await), ErrorKind::BadInput, "{bad}");
    }
    let not_parquet = s.publisher.put_log_segment(&m, "feedback-y.parquet", b"id,label\n1,0\n".to_vec()).await;
    assert_eq!(kind(not_parquet), ErrorKind::BadInput);
    let log = s.publisher.log(Some(m.clone()), None).await.unwrap();
    assert_eq!(log.iter().filter(|a| a.action == "log.segment").count(), 2, "each new segment audited once");

    // A segment is kept by gc and counted by fsck, version or not.
    let gc = s.berth.gc(false, std::time::Duration::from_secs(5)).await.unwrap();
    assert!(!gc.removed.contains(&listed[1].digest) && gc.log_segments == 2, "{gc:?}");
    assert_eq!(s.reader.log_segment(&listed[1]).await.unwrap(), bytes);
    let fsck = s.berth.fsck().await.unwrap();
    assert!(fsck.ok && fsck.log_segments == 2 && fsck.orphaned.is_empty(), "{fsck:?}");
}
