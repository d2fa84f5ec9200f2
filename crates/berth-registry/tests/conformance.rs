//! One suite, every engine: each behaviour below runs against SQLite (a fresh
//! file) and PostgreSQL (a fresh database at 127.0.0.1:5432, dropped after).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use berth_core::{
    AliasName, Clock, DeliveryStatus, Digest, FixedClock, Grant, Lineage, ModelName, ModelPattern, MoveKind,
    NewVersion, Ref, Role, SystemClock, Timestamp, VersionMeta,
};
use berth_registry::{
    Actor, ApprovalFilter, AuditFilter, DeliveryUpdate, Deploy, DeployTarget, MonitorFilter, MoveFacts, MoveGuard,
    NewDelivery, NewGateReport, NewMonitorReport, NewToken, NoteEdit, PgRegistry, Registry, RegistryError,
    SqliteRegistry,
};
use berth_testkit::PgDatabase;

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
/// Opens a new connection (pool) to the engine's database, with a clock.
type Opener = Box<dyn Fn(Arc<dyn Clock>) -> BoxFuture<Arc<dyn Registry>> + Send + Sync>;

/// A registry under test, with whatever keeps it alive (a temp dir, a database).
struct Engine {
    open: Opener,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

fn sqlite() -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    Engine {
        open: Box::new(move |clock| {
            let path = path.clone();
            Box::pin(async move {
                Arc::new(SqliteRegistry::open(&path, Duration::from_secs(30), clock).await.unwrap())
                    as Arc<dyn Registry>
            })
        }),
        _keep: Box::new(dir),
    }
}

fn postgres() -> Engine {
    let db = PgDatabase::create();
    let url = db.url.clone();
    Engine {
        open: Box::new(move |clock| {
            let url = url.clone();
            Box::pin(async move { Arc::new(PgRegistry::open(&url, clock).await.unwrap()) as Arc<dyn Registry> })
        }),
        _keep: Box::new(db),
    }
}

impl Engine {
    async fn registry(&self) -> Arc<dyn Registry> {
        (self.open)(Arc::new(SystemClock)).await
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::sqlite()).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::postgres()).await;
                }
            )*
        }
    };
}

suite!(
    versions_are_numbered_per_model_from_one,
    refs_resolve_numbers_aliases_and_latest,
    unknown_names_give_the_right_errors,
    tags_are_upserted_and_audited,
    gate_reports_are_stored_on_their_version_and_audited,
    aliases_keep_their_history,
    the_audit_log_records_every_mutation_newest_first,
    referenced_blobs_include_manifests_and_files,
    leases_hold_blobs_until_released,
    a_running_gc_turns_uploads_away,
    expired_leases_and_gc_runs_are_ignored,
    a_lease_tells_its_own_blobs_until_it_ends,
    models_are_summarised,
    concurrent_pushes_get_distinct_consecutive_numbers,
    concurrent_alias_moves_leave_a_consistent_chain,
    reopening_keeps_everything_and_migrates_once,
    promotions_record_their_kind_and_evidence,
    rollback_goes_to_the_previous_healthy_version,
    approvals_are_recorded_once_per_approver,
    deliveries_are_logged_and_updated,
    concurrent_promotes_and_rollbacks_leave_one_current_version_and_a_chain,
    tokens_are_stored_without_their_secret_and_revoked_once,
    policies_are_versioned_and_applied_once_per_document,
    concurrent_policy_applies_keep_one_numbering,
    a_guard_judges_the_move_on_the_facts_read_in_its_transaction,
    versions_come_in_pages_newest_first,
    lfs_objects_are_recorded_once_per_repository_and_audited,
    monitor_reports_return_their_predecessor_and_list_newest_first,
    log_segments_are_recorded_once_per_name_and_listed_in_name_order,
    models_are_created_described_tagged_and_deleted_only_without_versions,
    versions_are_described_and_untagged,
    staged_files_are_replaced_by_path_and_live_for_gc,
);

fn name(s: &str) -> ModelName {
    ModelName::parse(s).unwrap()
}

fn alias(s: &str) -> AliasName {
    AliasName::parse(s).unwrap()
}

fn new_version(model: &str, seed: u8) -> NewVersion {
    NewVersion {
        model: name(model),
        manifest: Digest::of(&[seed, 1]),
        size: 100 + u64::from(seed),
        meta: VersionMeta {
            format: Some("onnx".into()),
            signature: Some(serde_json::json!({"inputs": [{"name": "x", "type": "float"}]})),
            params: BTreeMap::from([("lr".to_string(), "0.1".to_string())]),
            metrics: BTreeMap::from([("accuracy".to_string(), 0.9 + f64::from(seed) / 1000.0)]),
            tags: BTreeMap::from([("team".to_string(), "risk".to_string())]),
            description: Some(format!("run {seed}")),
            lineage: Lineage { git_commit: Some("abc".into()), git_dirty: Some(false), ..Default::default() },
        },
        created_by: "alice".into(),
        created_by_token: None,
    }
}

fn actor() -> Actor {
    Actor::named("bob")
}

async fn versions_are_numbered_per_model_from_one(e: Engine) {
    let r = e.registry().await;
    for i in 0..3 {
        assert_eq!(r.create_version(new_version("churn", i), &[], None).await.unwrap().version, u64::from(i) + 1);
    }
    assert_eq!(r.create_version(new_version("fraud", 9), &[], None).await.unwrap().version, 1);
    let vs = r.versions(&name("churn")).await.unwrap();
    assert_eq!(vs.iter().map(|v| v.version).collect::<Vec<_>>(), [3, 2, 1]);
    let v1 = &vs[2];
    assert_eq!(v1.meta.metrics["accuracy"], 0.9);
    assert_eq!(v1.meta.params["lr"], "0.1");
    assert_eq!(v1.meta.tags["team"], "risk");
    assert_eq!(v1.meta.lineage.git_commit.as_deref(), Some("abc"));
    assert_eq!(v1.meta.signature.as_ref().unwrap()["inputs"][0]["name"], "x");
    assert_eq!(v1.meta.description.as_deref(), Some("run 0"));
    assert_eq!(v1.created_by, "alice");
    assert_eq!(v1.manifest, Digest::of(&[0, 1]));
}

async fn refs_resolve_numbers_aliases_and_latest(e: Engine) {
    let r = e.registry().await;
    for i in 0..3 {
        r.create_version(new_version("churn", i), &[], None).await.unwrap();
    }
    r.set_alias(&name("churn"), &alias("production"), 2, &actor(), None).await.unwrap();
    let get = |s: &str| {
        let r = r.clone();
        let s = s.to_string();
        async move { r.resolve(&Ref::parse(&s).unwrap()).await.unwrap().version }
    };
    assert_eq!(get("churn@1").await, 1);
    assert_eq!(get("churn@latest").await, 3);
    assert_eq!(get("churn").await, 3);
    assert_eq!(get("churn@production").await, 2);
}

async fn unknown_names_give_the_right_errors(e: Engine) {
    let r = e.registry().await;
    r.create_version(new_version("churn", 0), &[], None).await.unwrap();
    let resolve = |s: &str| {
        let r = r.clone();
        let s = s.to_string();
        async move { r.resolve(&Ref::parse(&s).unwrap()).await.unwrap_err() }
    };
    assert!(matches!(resolve("ghost@1").await, RegistryError::ModelNotFound(m) if m == "ghost"));
    assert!(matches!(resolve("ghost@latest").await, RegistryError::ModelNotFound(_)));
    assert!(matches!(resolve("ghost@production").await, RegistryError::ModelNotFound(_)));
    match resolve("churn@5").await {
        RegistryError::VersionNotFound { version: 5, latest, .. } => assert_eq!(latest, "1"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(resolve("churn@staging").await, RegistryError::AliasNotFound { .. }));
    let e1 = r.set_alias(&name("churn"), &alias("production"), 7, &actor(), None).await.unwrap_err();
    assert!(matches!(e1, RegistryError::VersionNotFound { version: 7, .. }), "{e1:?}");
    let e2 = r.set_alias(&name("ghost"), &alias("production"), 1, &actor(), None).await.unwrap_err();
    assert!(matches!(e2, RegistryError::ModelNotFound(_)), "{e2:?}");
    let e3 = r.remove_alias(&name("churn"), &alias("production"), &actor(), None, None).await.unwrap_err();
    assert!(matches!(e3, RegistryError::AliasNotFound { .. }), "{e3:?}");
    assert!(matches!(r.versions(&name("ghost")).await.unwrap_err(), RegistryError::ModelNotFound(_)));
}

async fn tags_are_upserted_and_audited(e: Engine) {
    let r = e.registry().await;
    r.create_version(new_version("churn", 0), &[], None).await.unwrap();
    let tags = BTreeMap::from([("team".to_string(), "ml".to_string()), ("stage".to_string(), "qa".to_string())]);
    let v = r.set_tags(&name("churn"), 1, &tags, &actor()).await.unwrap();
    assert_eq!(v.meta.tags, tags);
    let log = r.audit(&AuditFilter { model: Some(name("churn")), limit: Some(1) }).await.unwrap();
    assert_eq!(log[0].action, "version.tag");
    assert_eq!(log[0].actor, "bob");
    assert_eq!(log[0].before.as_ref().unwrap()["team"], "risk");
    assert_eq!(log[0].after.as_ref().unwrap()["team"], "ml");
}

async fn gate_reports_are_stored_on_their_version_and_audited(e: Engine) {
    let r = e.registry().await;
    r.create_version(new_version("churn", 0), &[], None).await.unwrap();
    r.create_version(new_version("churn", 1), &[], None).await.unwrap();
    let report = serde_json::json!({"passed": false, "errors": ["accuracy 0.7 < 0.8"]});
    let churn = name("churn");
    let g = |version, gate, passed| NewGateReport {
        model: &churn,
        version,
        gate,
        data_digest: "sha256:00ff",
        passed,
        report: &report,
    };
    let first = r.add_gate_report(g(2, "release", false), &actor()).await.unwrap();
    r.add_gate_report(g(2, "smoke", true), &actor()).await.unwrap();
    assert_eq!((first.gate.as_str(), first.passed, first.created_by.as_str()), ("release", false, "bob"));
    let on_2 = r.gate_reports(&name("churn"), 2).await.unwrap();
    assert_eq!(
        on_2.iter().map(|g| (g.gate.as_str(), g.passed)).collect::<Vec<_>>(),
        [("release", false), ("smoke", true)]
    );
    assert_eq!(on_2[0].report, report);
    assert_eq!(on_2[0].data_digest, "sha256:00ff");
    assert!(r.gate_reports(&name("churn"), 1).await.unwrap().is_empty());
    let log = r.audit(&AuditFilter { model: Some(name("churn")), limit: Some(1) }).await.unwrap();
    assert_eq!((log[0].action.as_str(), log[0].version), ("version.gate", Some(2)));
    // Only existing versions take reports.
    assert!(r.add_gate_report(g(9, "release", true), &actor()).await.is_err());
}

async fn aliases_keep_their_history(e: Engine) {
    let r = e.registry().await;
    for i in 0..3 {
        r.create_version(new_version("churn", i), &[], None).await.unwrap();
    }
    let (m, prod) = (name("churn"), alias("production"));
    let first = r.set_alias(&m, &prod, 1, &actor(), Some("first")).await.unwrap().unwrap();
    assert_eq!((first.from, first.to), (None, Some(1)));
    assert!(r.set_alias(&m, &prod, 1, &actor(), None).await.unwrap().is_none(), "unchanged is a no-op");
    r.set_alias(&m, &prod, 3, &actor(), Some("better")).await.unwrap();
    r.set_alias(&m, &alias("staging"), 2, &actor(), None).await.unwrap();
    let removed = r.remove_alias(&m, &prod, &actor(), Some("incident"), None).await.unwrap();
    assert_eq!((removed.from, removed.to), (Some(3), None));
    let h = r.alias_history(&m, Some(&prod)).await.unwrap();
    let moves: Vec<_> = h.iter().map(|e| (e.from, e.to, e.reason.clone())).collect();
    assert_eq!(
        moves,
        [
            (None, Some(1), Some("first".into())),
            (Some(1), Some(3), Some("better".into())),
            (Some(3), None, Some("incident".into()))
        ]
    );
    assert_eq!(h[0].actor, "bob");
    assert!(h.windows(2).all(|w| w[0].id < w[1].id && w[0].at <= w[1].at));
    assert_eq!(r.alias_history(&m, None).await.unwrap().len(), 4);
    assert_eq!(r.aliases(&m).await.unwrap(), BTreeMap::from([("staging".to_string(), 2)]));
}

async fn the_audit_log_records_every_mutation_newest_first(e: Engine) {
    let r = e.registry().await;
    r.create_version(new_version("churn", 0), &[], None).await.unwrap();
    r.create_version(new_version("fraud", 0), &[], None).await.unwrap();
    r.set_alias(&name("churn"), &alias("production"), 1, &actor(), None).await.unwrap();
    r.remove_alias(&name("churn"), &alias("production"), &actor(), None, None).await.unwrap();
    r.record(&actor(), "gc", serde_json::json!({"removed": 2})).await.unwrap();
    let all = r.audit(&AuditFilter::default()).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["gc", "alias.remove", "alias.set", "version.create", "version.create"]);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(all[0].after.as_ref().unwrap()["removed"], 2);
    let churn = r.audit(&AuditFilter { model: Some(name("churn")), limit: None }).await.unwrap();
    assert_eq!(churn.len(), 3);
    assert_eq!(r.audit(&AuditFilter { model: None, limit: Some(2) }).await.unwrap().len(), 2);
}

async fn referenced_blobs_include_manifests_and_files(e: Engine) {
    let r = e.registry().await;
    let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
    let v = r.create_version(new_version("churn", 0), &[a, b, a], None).await.unwrap();
    let refs = r.referenced_blobs().await.unwrap();
    assert_eq!(refs.len(), 3);
    assert_eq!(refs[&v.manifest], (name("churn"), 1));
    assert!(refs.contains_key(&a) && refs.contains_key(&b));
}

async fn leases_hold_blobs_until_released(e: Engine) {
    let r = e.registry().await;
    let d = Digest::of(b"weights");
    let lease = r.begin_upload(&[d], Duration::from_secs(60)).await.unwrap();
    assert_eq!(r.leased_blobs().await.unwrap(), [d]);
    let leases = r.active_leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert!(leases[0].holder.ends_with(&format!(":{}", std::process::id())));
    r.create_version(new_version("churn", 0), &[d], Some(lease)).await.unwrap();
    assert!(r.leased_blobs().await.unwrap().is_empty(), "creating the version released the lease");
    let other = r.begin_upload(&[d], Duration::from_secs(60)).await.unwrap();
    r.end_upload(other).await.unwrap();
    assert!(r.active_leases().await.unwrap().is_empty());
}

async fn a_running_gc_turns_uploads_away(e: Engine) {
    let r = e.registry().await;
    let run = r.gc_begin(Duration::from_secs(60)).await.unwrap();
    let err = r.begin_upload(&[], Duration::from_secs(60)).await.unwrap_err();
    assert!(matches!(err, RegistryError::GcRunning { .. }), "{err:?}");
    assert!(r.active_leases().await.unwrap().is_empty(), "the refused lease was withdrawn");
    r.gc_end(run).await.unwrap();
    r.begin_upload(&[], Duration::from_secs(60)).await.unwrap();
}

async fn expired_leases_and_gc_runs_are_ignored(e: Engine) {
    // A clock that stands still unless told: leases and gc runs expire by it.
    let clock = Arc::new(FixedClock::new(Timestamp::from_millis(1_000_000)));
    let r = (e.open)(clock.clone()).await;
    r.begin_upload(&[Digest::of(b"x")], Duration::from_millis(50)).await.unwrap();
    r.gc_begin(Duration::from_millis(50)).await.unwrap();
    // FixedClock advances a millisecond per reading; read it past the expiry.
    for _ in 0..100 {
        clock.now();
    }
    assert!(r.leased_blobs().await.unwrap().is_empty());
    assert!(r.active_leases().await.unwrap().is_empty());
    r.begin_upload(&[], Duration::from_secs(60)).await.expect("an expired gc run no longer blocks uploads");
}

async fn a_lease_tells_its_own_blobs_until_it_ends(e: Engine) {
    let r = e.registry().await;
    let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
    let one = r.begin_upload(&[a, b], Duration::from_secs(60)).await.unwrap();
    let two = r.begin_upload(&[b], Duration::from_secs(60)).await.unwrap();
    assert_eq!(r.lease_digests(one).await.unwrap(), Some(vec![a, b]));
    assert_eq!(r.lease_digests(two).await.unwrap(), Some(vec![b]));
    r.end_upload(one).await.unwrap();
    assert_eq!(r.lease_digests(one).await.unwrap(), None, "an ended lease holds nothing");
    r.create_version(new_version("churn", 0), &[b], Some(two)).await.unwrap();
    assert_eq!(r.lease_digests(two).await.unwrap(), None, "the version's transaction ended it");
    let short = r.begin_upload(&[a], Duration::from_millis(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(r.lease_digests(short).await.unwrap(), None, "an expired lease holds nothing");
}

async fn models_are_summarised(e: Engine) {
    let r = e.registry().await;
    for i in 0..2 {
        r.create_version(new_version("churn", i), &[], None).await.unwrap();
    }
    r.create_version(new_version("fraud", 0), &[], None).await.unwrap();
    r.set_alias(&name("churn"), &alias("production"), 1, &actor(), None).await.unwrap();
    let ms = r.models().await.unwrap();
    assert_eq!(ms.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["churn", "fraud"]);
    assert_eq!((ms[0].versions, ms[0].latest), (2, Some(2)));
    assert_eq!(ms[0].aliases, BTreeMap::from([("production".to_string(), 1)]));
    assert!(ms[1].aliases.is_empty());
}

async fn concurrent_pushes_get_distinct_consecutive_numbers(e: Engine) {
    // Eight separate registries (separate pools), as eight processes would have.
    let mut regs = Vec::new();
    for _ in 0..8 {
        regs.push(e.registry().await);
    }
    let tasks: Vec<_> = regs
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            tokio::spawn(
                async move { r.create_version(new_version("race", i as u8), &[], None).await.unwrap().version },
            )
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
    assert_eq!(e.registry().await.versions(&name("race")).await.unwrap().len(), 8);
}

async fn concurrent_alias_moves_leave_a_consistent_chain(e: Engine) {
    let r = e.registry().await;
    for i in 0..10 {
        r.create_version(new_version("churn", i), &[], None).await.unwrap();
    }
    let mut regs = Vec::new();
    for _ in 0..5 {
        regs.push(e.registry().await);
    }
    let tasks: Vec<_> = (0..50u64)
        .map(|i| {
            let r = regs[i as usize % regs.len()].clone();
            tokio::spawn(async move {
                let a = AliasName::parse("production").unwrap();
                if i % 7 == 6 {
                    let _ =
                        r.remove_alias(&ModelName::parse("churn").unwrap(), &a, &Actor::named("x"), None, None).await;
                } else {
                    r.set_alias(&ModelName::parse("churn").unwrap(), &a, i % 10 + 1, &Actor::named("x"), None)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let h = r.alias_history(&name("churn"), Some(&alias("production"))).await.unwrap();
    assert!(!h.is_empty());
    assert_eq!(h[0].from, None);
    for w in h.windows(2) {
        assert_eq!(w[1].from, w[0].to, "every move starts where the previous one ended: {w:?}");
    }
    let current = r.aliases(&name("churn")).await.unwrap().get("production").copied();
    assert_eq!(current, h.last().unwrap().to);
}

async fn reopening_keeps_everything_and_migrates_once(e: Engine) {
    let r = e.registry().await;
    r.create_version(new_version("churn", 0), &[], None).await.unwrap();
    drop(r);
    let opened: Vec<_> = (0..4).map(|_| e.registry()).collect();
    let mut regs = Vec::new();
    for o in opened {
        regs.push(o.await);
    }
    assert_eq!(regs[3].versions(&name("churn")).await.unwrap().len(), 1);
}

fn promote<'a>(model: &'a ModelName, env: &'a AliasName, n: u64) -> Deploy<'a> {
    Deploy {
        model,
        env,
        to: DeployTarget::Version(n),
        kind: MoveKind::Promote,
        reason: Some("gates passed"),
        guard: None,
        evidence: Some(serde_json::json!({"gates": [{"gate": "production", "report": "sha256:ab"}]})),
    }
}

fn rollback<'a>(model: &'a ModelName, env: &'a AliasName) -> Deploy<'a> {
    Deploy {
        to: DeployTarget::PreviousHealthy,
        kind: MoveKind::Rollback,
        reason: Some("errors"),
        evidence: None,
        ..promote(model, env, 0)
    }
}

async fn promotions_record_their_kind_and_evidence(e: Engine) {
    let r = e.registry().await;
    for i in 0..2 {
        r.create_version(new_version("churn", i), &[], None).await.unwrap();
    }
    let (m, prod) = (name("churn"), alias("production"));
    r.set_alias(&m, &prod, 1, &actor(), None).await.unwrap();
    let ev = r.deploy(promote(&m, &prod, 2), &actor()).await.unwrap().unwrap();
    assert_eq!((ev.from, ev.to, ev.kind), (Some(1), Some(2), MoveKind::Promote));
    assert!(r.deploy(promote(&m, &prod, 2), &actor()).await.unwrap().is_none(), "already there");
    let h = r.alias_history(&m, Some(&prod)).await.unwrap();
    assert_eq!(h.iter().map(|e| e.kind).collect::<Vec<_>>(), [MoveKind::Alias, MoveKind::Promote]);
    assert_eq!(h[1].evidence.as_ref().unwrap()["gates"][0]["report"], "sha256:ab");
    assert_eq!(h[1].reason.as_deref(), Some("gates passed"));
    let audit = r.audit(&AuditFilter { model: Some(m.clone()), limit: Some(1) }).await.unwrap();
    assert_eq!(audit[0].action, "env.promote");
    let missing = r.deploy(promote(&m, &prod, 9), &actor()).await.unwrap_err();
    assert!(matches!(missing, RegistryError::VersionNotFound { version: 9, .. }), "{missing}");
}

async fn rollback_goes_to_the_previous_healthy_version(e: Engine) {
    let r = e.registry().await;
    for i in 0..4 {
        r.create_version(new_version("churn", i), &[], None).await.unwrap();
    }
    let (m, prod) = (name("churn"), alias("production"));
    let nothing = r.deploy(rollback(&m, &prod), &actor()).await.unwrap_err();
    assert!(matches!(nothing, RegistryError::NothingToRollBack { current: None, .. }), "{nothing}");
    for n in 1..=3 {
        r.deploy(promote(&m, &prod, n), &actor()).await.unwrap();
    }
    let back = r.deploy(rollback(&m, &prod), &actor()).await.unwrap().unwrap();
    assert_eq!((back.from, back.to, back.kind), (Some(3), Some(2), MoveKind::Rollback));
    // 3 was left by a rollback: the next rollback goes to 1, not back to 3.
    let again = r.deploy(rollback(&m, &prod), &actor()).await.unwrap().unwrap();
    assert_eq!((again.from, again.to), (Some(2), Some(1)));
    let explicit = Deploy { to: DeployTarget::Version(4), ..rollback(&m, &prod) };
    assert_eq!(r.deploy(explicit, &actor()).await.unwrap().unwrap().to, Some(4));
    let e = r.deploy(rollback(&m, &alias("staging")), &actor()).await.unwrap_err();
    assert!(e.to_string().contains("churn@staging has no earlier healthy version"), "{e}");
}

async fn approvals_are_recorded_once_per_approver(e: Engine) {
    let r = e.registry().await;
    r.create_version(new_version("churn", 0), &[], None).await.unwrap();
    let (m, prod) = (name("churn"), alias("production"));
    let (a, new) = r.approve(&m, 1, &prod, &Actor::named("carol"), Some("looks good")).await.unwrap();
    assert!(new);
    assert_eq!((a.approver.as_str(), a.comment.as_deref()), ("carol", Some("looks good")));
    let (again, new) = r.approve(&m, 1, &prod, &Actor::named("carol"), Some("twice")).await.unwrap();
    assert!(!new);
    assert_eq!((again.id, again.comment.as_deref()), (a.id, Some("looks good")));
    r.approve(&m, 1, &alias("staging"), &Actor::named("dave"), None).await.unwrap();
    let all = r.approvals(&ApprovalFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let prod_only = r.approvals(&ApprovalFilter { env: Some(prod.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(prod_only.iter().map(|a| a.approver.as_str()).collect::<Vec<_>>(), ["carol"]);
    let none = r.approvals(&ApprovalFilter { model: Some(m.clone()), version: Some(2), env: None }).await.unwrap();
    assert!(none.is_empty());
    assert!(matches!(r.approve(&m, 7, &prod, &actor(), None).await, Err(RegistryError::VersionNotFound { .. })));
    let audit = r.audit(&AuditFilter { model: Some(m), limit: None }).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "version.approve").count(), 2);
}

async fn deliveries_are_logged_and_updated(e: Engine) {
    let r = e.registry().await;
    let m = name("churn");
    let d = NewDelivery {
        event_id: "ev1",
        event: "promotion.done",
        model: Some(&m),
        notifier: "slack",
        target: "https://hooks.example/…",
    };
    let id = r.add_delivery(d.clone()).await.unwrap();
    let id2 = r.add_delivery(NewDelivery { notifier: "audit-hook", ..d }).await.unwrap();
    let pending = r.deliveries(None).await.unwrap();
    assert_eq!(pending.iter().map(|d| d.id).collect::<Vec<_>>(), [id2, id]);
    assert!(pending.iter().all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0 && d.finished_at.is_none()));
    let u = DeliveryUpdate { status: DeliveryStatus::Delivered, attempts: 2, last_status: Some(200), last_error: None };
    r.update_delivery(id, &u).await.unwrap();
    let u = DeliveryUpdate {
        status: DeliveryStatus::Failed,
        attempts: 3,
        last_status: Some(500),
        last_error: Some("HTTP 500".into()),
    };
    r.update_delivery(id2, &u).await.unwrap();
    let log = r.deliveries(Some(10)).await.unwrap();
    assert_eq!((log[0].status, log[0].attempts, log[0].last_status), (DeliveryStatus::Failed, 3, Some(500)));
    assert_eq!(
        (log[1].status, log[1].last_status, log[1].event.as_str()),
        (DeliveryStatus::Delivered, Some(200), "promotion.done")
    );
    assert!(log.iter().all(|d| d.finished_at.is_some()));
    assert_eq!(r.deliveries(Some(1)).await.unwrap().len(), 1);
}

async fn concurrent_promotes_and_rollbacks_leave_one_current_version_and_a_chain(e: Engine) {
    let r = e.registry().await;
    for i in 0..6 {
        r.create_version(new_version("churn", i), &[], None).await.unwrap();
    }
    let (m, prod) = (name("churn"), alias("production"));
    r.deploy(promote(&m, &prod, 1), &actor()).await.unwrap();
    let mut regs = Vec::new();
    for _ in 0..5 {
        regs.push(e.registry().await);
    }
    let tasks: Vec<_> = (0..60u64)
        .map(|i| {
            let r = regs[i as usize % regs.len()].clone();
            let (m, prod) = (m.clone(), prod.clone());
            tokio::spawn(async move {
                let who = Actor::named(format!("worker-{i}"));
                if i % 3 == 2 {
                    // A rollback may find nothing healthy left: that is a refusal, not a corruption.
                    match r.deploy(rollback(&m, &prod), &who).await {
                        Ok(_) | Err(RegistryError::NothingToRollBack { .. }) => {}
                        Err(e) => panic!("rollback {i}: {e}"),
                    }
                } else {
                    r.deploy(promote(&m, &prod, i % 6 + 1), &who).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let h = r.alias_history(&m, Some(&prod)).await.unwrap();
    assert!(h.len() > 20, "{} moves", h.len());
    assert!(h.iter().any(|e| e.kind == MoveKind::Rollback), "some rollbacks moved");
    assert_eq!(h[0].from, None);
    for w in h.windows(2) {
        assert_eq!(w[1].from, w[0].to, "every move starts where the previous one ended: {w:?}");
        assert_ne!(w[1].from, w[1].to, "no move stays in place");
    }
    let current = r.aliases(&m).await.unwrap();
    assert_eq!(current.len(), 1, "one current version: {current:?}");
    assert_eq!(current.get("production").copied(), h.last().unwrap().to);
}

async fn tokens_are_stored_without_their_secret_and_revoked_once(e: Engine) {
    let clock = Arc::new(FixedClock::new(Timestamp::from_millis(1_000_000)));
    let r = (e.open)(clock.clone()).await;
    let grant =
        Grant { role: Role::Deployer, models: ModelPattern::parse("fraud-*").unwrap(), envs: vec![alias("staging")] };
    let t = NewToken {
        id: "tok_000000000001",
        secret_sha256: "ab".repeat(32).leak(),
        prefix: "berth_AbCd",
        principal: "ci",
        grant: &grant,
        expires_at: Some(Timestamp::from_millis(2_000_000)),
    };
    let rec = r.create_token(t.clone(), &actor()).await.unwrap();
    assert_eq!((rec.principal.as_str(), &rec.grant, rec.created_by.as_str()), ("ci", &grant, "bob"));
    assert_eq!(rec.unusable(Timestamp::from_millis(1_500_000)), None);
    assert_eq!(rec.unusable(Timestamp::from_millis(2_000_000)), Some("expired"));
    // The same secret cannot be stored twice.
    assert!(r.create_token(NewToken { id: "tok_000000000002", ..t.clone() }, &actor()).await.is_err());
    let found = r.token_by_hash(&"ab".repeat(32)).await.unwrap().unwrap();
    assert_eq!(found, rec);
    assert!(r.token_by_hash(&"cd".repeat(32)).await.unwrap().is_none());

    // Last use is written, then not again within the minute.
    let last_use = async || r.tokens().await.unwrap()[0].last_used_at.unwrap();
    r.touch_token(&rec.id).await.unwrap();
    let first = last_use().await;
    clock.advance(Duration::from_secs(30));
    r.touch_token(&rec.id).await.unwrap();
    assert_eq!(last_use().await, first);
    clock.advance(Duration::from_secs(31));
    r.touch_token(&rec.id).await.unwrap();
    assert!(last_use().await.millis() > first.millis() + 60_000);

    let revoked = r.revoke_token(&rec.id, &Actor::named("carol")).await.unwrap();
    assert_eq!(revoked.revoked_by.as_deref(), Some("carol"));
    assert_eq!(revoked.unusable(revoked.revoked_at.unwrap()), Some("revoked"));
    clock.advance(Duration::from_secs(5));
    let again = r.revoke_token(&rec.id, &actor()).await.unwrap();
    assert_eq!((again.revoked_at, again.revoked_by), (revoked.revoked_at, revoked.revoked_by));
    assert!(matches!(r.revoke_token("tok_nope", &actor()).await, Err(RegistryError::TokenNotFound(_))));

    let audit = r.audit(&AuditFilter::default()).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["token.revoke", "token.revoke", "token.create"]);
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains(&"ab".repeat(32)), "the audit log holds a token hash: {text}");
}

async fn policies_are_versioned_and_applied_once_per_document(e: Engine) {
    let r = e.registry().await;
    assert_eq!(r.policy().await.unwrap(), None);
    let doc = serde_json::json!({"production": {"approvals": 1, "require_gates": ["quality"]}});
    let (p1, new) = r.apply_policy(&doc, Some("berth.toml"), &actor()).await.unwrap();
    assert!(new);
    assert_eq!((p1.version, &p1.document, p1.source.as_deref()), (1, &doc, Some("berth.toml")));
    assert!(p1.digest.starts_with("sha256:"));
    // The same document, keys in another order, is not a new version.
    let same: serde_json::Value =
        serde_json::from_str(r#"{"production": {"require_gates": ["quality"], "approvals": 1}}"#).unwrap();
    let (again, new) = r.apply_policy(&same, None, &Actor::named("carol")).await.unwrap();
    assert!(!new);
    assert_eq!(again, p1);
    let doc2 = serde_json::json!({"production": {"approvals": 2}});
    let (p2, new) = r.apply_policy(&doc2, None, &Actor::named("carol")).await.unwrap();
    assert!(new);
    assert_eq!((p2.version, p2.applied_by.as_str()), (2, "carol"));
    assert_eq!(r.policy().await.unwrap(), Some(p2.clone()));
    let history = r.policy_history().await.unwrap();
    assert_eq!(history.iter().map(|p| p.version).collect::<Vec<_>>(), [2, 1]);
    let audit = r.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "policy.apply").count(), 2);
    assert_eq!(audit[0].before, Some(serde_json::json!({"policy": 1, "digest": p1.digest})));
}

async fn concurrent_policy_applies_keep_one_numbering(e: Engine) {
    let r = e.registry().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            let doc = serde_json::json!({"production": {"approvals": i}});
            r.apply_policy(&doc, None, &actor()).await.unwrap().0.version
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort();
    assert_eq!(versions, (1..=8).collect::<Vec<u64>>());
}

/// What a judge was shown: from, target, policy version, gate reports, approvals.
type Seen = (Option<u64>, u64, Option<u64>, usize, usize);

/// Records what it was shown and answers as told.
struct Judge {
    allow: bool,
    seen: std::sync::Mutex<Vec<Seen>>,
}

impl MoveGuard for Judge {
    fn judge(&self, f: &MoveFacts<'_>) -> Result<Option<serde_json::Value>, String> {
        let policy = f.policy.map(|p| p.version);
        self.seen.lock().unwrap().push((f.from, f.target.version, policy, f.gates.len(), f.approvals.len()));
        if self.allow { Ok(Some(serde_json::json!({"judged": true}))) } else { Err("not today".into()) }
    }
}

async fn a_guard_judges_the_move_on_the_facts_read_in_its_transaction(e: Engine) {
    let r = e.registry().await;
    let (m, prod) = (name("churn"), alias("production"));
    r.create_version(new_version("churn", 1), &[], None).await.unwrap();
    r.create_version(new_version("churn", 2), &[], None).await.unwrap();
    r.apply_policy(&serde_json::json!({"production": {"approvals": 1}}), None, &actor()).await.unwrap();
    r.approve(&m, 2, &prod, &Actor::named("carol"), None).await.unwrap();
    r.approve(&m, 2, &alias("staging"), &Actor::named("carol"), None).await.unwrap();

    let no = Judge { allow: false, seen: Default::default() };
    let d = Deploy { guard: Some(&no), ..promote(&m, &prod, 2) };
    match r.deploy(d, &actor()).await {
        Err(RegistryError::MoveRefused { version: 2, reason, .. }) => assert_eq!(reason, "not today"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(*no.seen.lock().unwrap(), [(None, 2, Some(1), 0, 1)]);
    assert!(r.aliases(&m).await.unwrap().is_empty(), "a refused move moved");
    assert!(r.alias_history(&m, None).await.unwrap().is_empty());

    let yes = Judge { allow: true, seen: Default::default() };
    let d = Deploy { guard: Some(&yes), ..promote(&m, &prod, 2) };
    let ev = r.deploy(d, &actor()).await.unwrap().unwrap();
    assert_eq!(ev.evidence, Some(serde_json::json!({"judged": true})));
    // A rollback is judged on the target the transaction picked.
    let d = Deploy { guard: Some(&yes), to: DeployTarget::Version(1), ..rollback(&m, &prod) };
    r.deploy(d, &actor()).await.unwrap().unwrap();
    assert_eq!(yes.seen.lock().unwrap()[1], (Some(2), 1, Some(1), 0, 0));
    // A removal is judged on the version the alias leaves.
    match r.remove_alias(&m, &prod, &actor(), None, Some(&no)).await {
        Err(RegistryError::MoveRefused { version: 1, .. }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(r.aliases(&m).await.unwrap().get("production"), Some(&1));
    r.remove_alias(&m, &prod, &actor(), None, Some(&yes)).await.unwrap();
    assert!(r.aliases(&m).await.unwrap().is_empty());
}

async fn versions_come_in_pages_newest_first(e: Engine) {
    let r = e.registry().await;
    let m = name("churn");
    for i in 1..=5 {
        r.create_version(new_version("churn", i), &[], None).await.unwrap();
    }
    r.set_tags(&m, 2, &BTreeMap::from([("k".to_string(), "v".to_string())]), &actor()).await.unwrap();
    let numbers = |vs: &[berth_core::VersionRecord]| vs.iter().map(|v| v.version).collect::<Vec<_>>();
    assert_eq!(numbers(&r.versions_page(&m, None, Some(2)).await.unwrap()), [5, 4]);
    let page = r.versions_page(&m, Some(4), Some(2)).await.unwrap();
    assert_eq!(numbers(&page), [3, 2]);
    assert_eq!(page[1].meta.tags.get("k").map(String::as_str), Some("v"));
    assert_eq!(page[0].meta.tags.get("team").map(String::as_str), Some("risk"));
    assert!(r.versions_page(&m, Some(1), None).await.unwrap().is_empty());
    assert_eq!(numbers(&r.versions(&m).await.unwrap()), [5, 4, 3, 2, 1]);
    assert!(matches!(r.versions_page(&name("nosuch"), None, Some(1)).await, Err(RegistryError::ModelNotFound(_))));
    // The newest version holding a manifest, by index.
    let third = r.version(&m, 3).await.unwrap();
    assert_eq!(r.newest_with_manifest(&m, &third.manifest).await.unwrap().map(|v| v.version), Some(3));
    assert_eq!(r.newest_with_manifest(&m, &Digest::of(b"none")).await.unwrap(), None);
    assert_eq!(r.newest_with_manifest(&name("nosuch"), &third.manifest).await.unwrap(), None);
}

async fn lfs_objects_are_recorded_once_per_repository_and_audited(e: Engine) {
    let r = e.registry().await;
    let (oid, other) = (Digest::of(b"lfs object"), Digest::of(b"another"));
    assert!(r.lfs_object(&name("churn"), &oid).await.unwrap().is_none());
    assert!(r.record_lfs_object(&name("churn"), &oid, 10, &actor()).await.unwrap(), "new");
    assert!(!r.record_lfs_object(&name("churn"), &oid, 10, &actor()).await.unwrap(), "recorded once");
    assert!(r.record_lfs_object(&name("fraud"), &oid, 10, &actor()).await.unwrap(), "per repository");
    r.record_lfs_object(&name("fraud"), &other, 7, &actor()).await.unwrap();
    let o = r.lfs_object(&name("churn"), &oid).await.unwrap().unwrap();
    assert_eq!((o.repo, o.oid, o.size, o.created_by.as_str()), (name("churn"), oid, 10, "bob"));
    assert!(r.lfs_object(&name("churn"), &other).await.unwrap().is_none(), "only the repository that recorded it");
    let blobs = r.lfs_blobs().await.unwrap();
    assert_eq!(blobs.keys().copied().collect::<Vec<_>>().len(), 2);
    assert!(blobs.contains_key(&oid) && blobs[&other] == name("fraud"));
    let audit = r.audit(&AuditFilter { model: Some(name("churn")), limit: None }).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "lfs.object").count(), 1, "{audit:?}");
    assert!(r.models().await.unwrap().is_empty(), "recording an object creates no model");
}

async fn log_segments_are_recorded_once_per_name_and_listed_in_name_order(e: Engine) {
    let r = e.registry().await;
    let (a, b) = (Digest::of(b"segment a"), Digest::of(b"segment b"));
    let churn = name("churn");
    let (first, new) = r.record_log_segment(&churn, "predictions-churn-v1-x-2.parquet", &a, 9, &actor()).await.unwrap();
    assert!(new);
    assert_eq!((first.digest, first.size, first.created_by.as_str()), (a, 9, "bob"));
    r.record_log_segment(&churn, "feedback-x-1.parquet", &b, 9, &actor()).await.unwrap();
    let (kept, new) = r.record_log_segment(&churn, "predictions-churn-v1-x-2.parquet", &b, 9, &actor()).await.unwrap();
    assert!(!new, "a name is recorded once");
    assert_eq!(kept.digest, a, "and keeps what it holds");
    r.record_log_segment(&name("fraud"), "feedback-y-1.parquet", &a, 9, &actor()).await.unwrap();
    let one = r.log_segment(&churn, "predictions-churn-v1-x-2.parquet").await.unwrap();
    assert_eq!(one.map(|s| s.digest), Some(a), "one segment by name");
    assert_eq!(r.log_segment(&name("fraud"), "predictions-churn-v1-x-2.parquet").await.unwrap(), None, "per model");
    let names: Vec<String> = r.log_segments(&churn).await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["feedback-x-1.parquet", "predictions-churn-v1-x-2.parquet"]);
    let blobs = r.log_segment_blobs().await.unwrap();
    assert_eq!((blobs.len(), blobs[&b].clone()), (2, churn.clone()));
    let audit = r.audit(&AuditFilter { model: Some(churn), limit: None }).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "log.segment").count(), 2, "{audit:?}");
    assert!(r.models().await.unwrap().is_empty(), "recording a segment creates no model");
}

async fn monitor_reports_return_their_predecessor_and_list_newest_first(e: Engine) {
    let r = e.registry().await;
    r.create_version(new_version("churn", 0), &[], None).await.unwrap();
    r.create_version(new_version("churn", 1), &[], None).await.unwrap();
    let (churn, prod, staging) = (name("churn"), alias("production"), alias("staging"));
    let at = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
    let report = serde_json::json!({"version": 2, "metrics": {"mae": 3.1}});
    let m = |env, degraded, drift, window_end| NewMonitorReport {
        model: &churn,
        version: 2,
        env,
        degraded,
        drift,
        window_end,
        report: &report,
    };
    let (before, first) =
        r.add_monitor_report(m(&prod, false, false, Some(at("2026-01-01T00:00:00Z"))), &actor()).await.unwrap();
    assert!(before.is_none(), "the first report follows none");
    assert_eq!(
        (first.env.as_str(), first.degraded, first.drift, first.created_by.as_str()),
        ("production", false, false, "bob")
    );
    assert_eq!(first.report, report);
    // Another environment's reports are not this one's predecessors.
    let (before, _) = r.add_monitor_report(m(&staging, true, true, None), &actor()).await.unwrap();
    assert!(before.is_none());
    let (before, second) =
        r.add_monitor_report(m(&prod, true, false, Some(at("2026-01-02T00:00:00Z"))), &actor()).await.unwrap();
    assert_eq!(before.as_ref().map(|b| b.id), Some(first.id));

    let all = r.monitor_reports(&churn, &MonitorFilter::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let f = MonitorFilter { env: Some(&prod), limit: Some(1), ..Default::default() };
    assert_eq!(r.monitor_reports(&churn, &f).await.unwrap().iter().map(|x| x.id).collect::<Vec<_>>(), [second.id]);
    let f = MonitorFilter { window_ends_to: Some(at("2026-01-01T12:00:00Z")), ..Default::default() };
    let early: Vec<_> = r.monitor_reports(&churn, &f).await.unwrap().iter().map(|x| x.id).collect();
    assert_eq!(early, [first.id], "a bound leaves out later windows and reports without one");
    let f = MonitorFilter { window_ends_from: Some(at("2026-01-03T00:00:00Z")), ..Default::default() };
    assert!(r.monitor_reports(&churn, &f).await.unwrap().is_empty());

    let log = r.audit(&AuditFilter { model: Some(churn.clone()), limit: Some(1) }).await.unwrap();
    assert_eq!((log[0].action.as_str(), log[0].version), ("version.monitor", Some(2)));
    assert_eq!(log[0].after.as_ref().unwrap()["degraded"], true);
    // Only existing versions of existing models take reports.
    let bad = NewMonitorReport { version: 9, ..m(&prod, false, false, None) };
    assert!(matches!(r.add_monitor_report(bad, &actor()).await, Err(RegistryError::VersionNotFound { .. })));
    let ghost = name("ghost");
    let bad = NewMonitorReport { model: &ghost, ..m(&prod, false, false, None) };
    assert!(matches!(r.add_monitor_report(bad, &actor()).await, Err(RegistryError::ModelNotFound(_))));
}

async fn models_are_created_described_tagged_and_deleted_only_without_versions(e: Engine) {
    let r = e.registry().await;
    let churn = name("churn");
    let tags = BTreeMap::from([("team".to_string(), "growth".to_string())]);
    assert!(r.create_model(&churn, Some("who leaves"), &tags, &actor()).await.unwrap(), "created");
    assert!(!r.create_model(&churn, None, &BTreeMap::new(), &actor()).await.unwrap(), "exists");
    let notes = r.model_notes(&churn).await.unwrap();
    assert_eq!((notes.description.as_deref(), notes.tags.clone()), (Some("who leaves"), tags));
    let summary = r.models().await.unwrap();
    assert_eq!((summary.len(), summary[0].versions, summary[0].latest), (1, 0, None), "a model without versions");

    let set = NoteEdit::SetTag { key: "tier".into(), value: "1".into() };
    r.edit_model(&churn, &set, &actor()).await.unwrap();
    r.edit_model(&churn, &NoteEdit::RemoveTag { key: "team".into() }, &actor()).await.unwrap();
    let notes = r.edit_model(&churn, &NoteEdit::Describe(None), &actor()).await.unwrap();
    assert_eq!(notes.description, None);
    assert_eq!(notes.tags, BTreeMap::from([("tier".to_string(), "1".to_string())]));
    assert!(matches!(
        r.edit_model(&name("nope"), &set, &actor()).await,
        Err(RegistryError::ModelNotFound(m)) if m == "nope"
    ));

    let v = r.create_version(new_version("churn", 1), &[], None).await.unwrap();
    assert_eq!(v.version, 1, "the first version of a model created empty is 1");
    assert!(matches!(r.delete_model(&churn, &actor()).await, Err(RegistryError::ModelHasVersions { versions: 1, .. })));
    r.create_model(&name("draft"), None, &BTreeMap::from([("a".into(), "b".into())]), &actor()).await.unwrap();
    r.delete_model(&name("draft"), &actor()).await.unwrap();
    assert!(matches!(r.model_notes(&name("draft")).await, Err(RegistryError::ModelNotFound(_))));
    assert!(r.create_model(&name("draft"), None, &BTreeMap::new(), &actor()).await.unwrap(), "the name is free again");
    assert!(r.model_notes(&name("draft")).await.unwrap().tags.is_empty(), "its tags went with it");
    let audit = r.audit(&AuditFilter { model: None, limit: None }).await.unwrap();
    let actions: Vec<&str> =
        audit.iter().rev().map(|a| a.action.as_str()).filter(|a| a.starts_with("model.")).collect();
    assert_eq!(
        actions,
        ["model.create", "model.tag", "model.untag", "model.describe", "model.create", "model.delete", "model.create"]
    );
}

async fn versions_are_described_and_untagged(e: Engine) {
    let r = e.registry().await;
    let churn = name("churn");
    r.create_version(new_version("churn", 1), &[], None).await.unwrap();
    let set = NoteEdit::SetTag { key: "stage".into(), value: "candidate".into() };
    let v = r.edit_version(&churn, 1, &set, &actor()).await.unwrap();
    assert_eq!(v.meta.tags.get("stage").map(String::as_str), Some("candidate"));
    let v = r.edit_version(&churn, 1, &NoteEdit::Describe(Some("first cut".into())), &actor()).await.unwrap();
    assert_eq!(v.meta.description.as_deref(), Some("first cut"));
    let v = r.edit_version(&churn, 1, &NoteEdit::RemoveTag { key: "stage".into() }, &actor()).await.unwrap();
    assert!(!v.meta.tags.contains_key("stage"));
    let again = r.resolve(&Ref::parse("churn@1").unwrap()).await.unwrap();
    assert_eq!((again.meta.description.as_deref(), again.meta.tags.contains_key("stage")), (Some("first cut"), false));
    assert!(matches!(
        r.edit_version(&churn, 7, &set, &actor()).await,
        Err(RegistryError::VersionNotFound { version: 7, .. })
    ));
    let audit = r.audit(&AuditFilter { model: Some(churn), limit: None }).await.unwrap();
    let actions: Vec<&str> = audit.iter().rev().map(|a| a.action.as_str()).collect();
    assert!(actions.ends_with(&["version.tag", "version.describe", "version.untag"]), "{actions:?}");
}

async fn staged_files_are_replaced_by_path_and_live_for_gc(e: Engine) {
    let r = e.registry().await;
    let churn = name("churn");
    let (a, b) = (Digest::of(b"staged a"), Digest::of(b"staged b"));
    r.stage_file(&churn, "run-1/model/model.onnx", &a, 8, &actor()).await.unwrap();
    r.stage_file(&churn, "run-1/model/MLmodel", &b, 8, &actor()).await.unwrap();
    let again = r.stage_file(&churn, "run-1/model/model.onnx", &b, 8, &actor()).await.unwrap();
    assert_eq!((again.digest, again.created_by.as_str()), (b, "bob"), "staging a path again replaces it");
    r.stage_file(&name("fraud"), "x/model.onnx", &a, 8, &actor()).await.unwrap();
    let paths: Vec<String> = r.staged_files(&churn).await.unwrap().into_iter().map(|f| f.path).collect();
    assert_eq!(paths, ["run-1/model/MLmodel", "run-1/model/model.onnx"], "per model, in path order");
    let blobs = r.staged_blobs().await.unwrap();
    assert_eq!(blobs.len(), 2);
    assert_eq!(blobs[&b], churn);
    let audit = r.audit(&AuditFilter { model: Some(churn), limit: None }).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "file.stage").count(), 3, "{audit:?}");
    assert!(r.models().await.unwrap().is_empty(), "staging creates no model");
}
