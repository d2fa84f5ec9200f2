//! The registry suite: every behaviour below is one async function over
//! `dyn Registry`, run once on SQLite (a fresh file per test) and once on
//! PostgreSQL (a fresh database per test on 127.0.0.1:5432, created and
//! dropped with sqlx). Tests are named `sqlite::<behaviour>` and
//! `postgres::<behaviour>`. PostgreSQL being unreachable fails the
//! `postgres::` tests; nothing is skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_core::{
    AliasName, Clock, Digest, ErrorClass, Exit, FixedClock, Lineage, ModelName, NewVersion, Ref, SystemClock,
    Timestamp, VersionStatus,
};
use berth_registry::{Actor, AuditFilter, PgRegistry, Registry, RegistryError, SqliteRegistry};
use sqlx::Connection;

// ---------------------------------------------------------------------------
// Engines: a fresh database per test, torn down even when the test fails.
// ---------------------------------------------------------------------------

/// The maintenance database the PostgreSQL tests create their databases from.
const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

enum Engine {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf, opened: Mutex<Vec<Arc<SqliteRegistry>>> },
    Postgres { name: String, url: String, opened: Mutex<Vec<Arc<PgRegistry>>> },
}

/// One test's database. Suite functions open as many registries on it as
/// they need (each one is a separate pool, like a separate process).
struct Db {
    engine: Engine,
}

async fn pg_admin() -> sqlx::PgConnection {
    let connect = sqlx::PgConnection::connect(PG_ADMIN_URL);
    match tokio::time::timeout(Duration::from_secs(15), connect).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!(
            "the postgres:: registry tests need PostgreSQL at 127.0.0.1:5432 (trust auth, user `postgres`, \
             database `test`), and connecting to {PG_ADMIN_URL} failed: {e}"
        ),
        Err(_) => panic!(
            "the postgres:: registry tests need PostgreSQL at 127.0.0.1:5432 (trust auth, user `postgres`, \
             database `test`), and connecting to {PG_ADMIN_URL} did not finish within 15 s"
        ),
    }
}

fn unique_db_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("berth_t_{}_{n}_{nanos}", std::process::id())
}

impl Db {
    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("registry.db");
        Db { engine: Engine::Sqlite { _dir: dir, path, opened: Mutex::new(Vec::new()) } }
    }

    async fn postgres() -> Db {
        let name = unique_db_name();
        let mut admin = pg_admin().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {PG_ADMIN_URL} failed: {e}"));
        let _ = admin.close().await;
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        Db { engine: Engine::Postgres { name, url, opened: Mutex::new(Vec::new()) } }
    }

    /// A new registry (its own connection pool) on this test's database.
    async fn open(&self) -> Arc<dyn Registry> {
        self.open_with(Arc::new(SystemClock)).await
    }

    async fn open_with(&self, clock: Arc<dyn Clock>) -> Arc<dyn Registry> {
        match &self.engine {
            Engine::Sqlite { path, opened, .. } => {
                let r = SqliteRegistry::open(path, Duration::from_secs(10), clock)
                    .await
                    .unwrap_or_else(|e| panic!("open the SQLite registry at {}: {e}", path.display()));
                let r = Arc::new(r);
                opened.lock().unwrap().push(r.clone());
                r
            }
            Engine::Postgres { url, opened, .. } => {
                let r =
                    PgRegistry::open(url, clock).await.unwrap_or_else(|e| panic!("open the registry at {url}: {e}"));
                let r = Arc::new(r);
                opened.lock().unwrap().push(r.clone());
                r
            }
        }
    }

    /// Closes every pool opened on the database, then drops the database.
    async fn teardown(&self) {
        const CLOSE: Duration = Duration::from_secs(10);
        match &self.engine {
            Engine::Sqlite { opened, .. } => {
                let regs = std::mem::take(&mut *opened.lock().unwrap());
                for r in regs {
                    let _ = tokio::time::timeout(CLOSE, r.close()).await;
                }
            }
            Engine::Postgres { name, opened, .. } => {
                let regs = std::mem::take(&mut *opened.lock().unwrap());
                for r in regs {
                    let _ = tokio::time::timeout(CLOSE, r.close()).await;
                }
                let mut admin = pg_admin().await;
                if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut admin)
                    .await
                {
                    eprintln!("warning: could not drop test database {name}: {e}");
                }
                let _ = admin.close().await;
            }
        }
    }
}

/// Runs one suite function on a fresh database, tears the database down
/// whatever happened, then reports the function's failure if it failed.
async fn run<F, Fut>(db: Db, body: F)
where
    F: FnOnce(Arc<Db>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = Arc::new(db);
    let outcome = tokio::spawn(body(db.clone())).await;
    db.teardown().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
}

/// Generates `sqlite::<name>` and `postgres::<name>` for each suite function.
macro_rules! registry_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::run(super::Db::sqlite().await, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::run(super::Db::postgres().await, super::$name).await;
                }
            )*
        }
    };
}

registry_suite!(
    the_first_push_creates_the_model_and_version_one,
    version_numbers_are_consecutive_per_model_and_independent_across_models,
    version_and_resolve_find_numbers_latest_and_aliases,
    unknown_models_versions_and_aliases_are_told_apart,
    an_alias_cannot_point_at_a_missing_version,
    set_tags_upserts_and_audits_before_and_after,
    alias_moves_record_from_to_actor_and_reason,
    an_unchanged_alias_is_a_no_op,
    alias_history_is_oldest_first_and_can_follow_one_alias,
    the_audit_log_is_newest_first_filtered_by_model_and_limited,
    every_mutation_leaves_one_audit_entry,
    referenced_blobs_include_the_manifest_and_every_blob,
    an_upload_lease_holds_its_blobs_until_it_ends,
    creating_a_version_releases_its_lease,
    a_running_gc_refuses_uploads_until_it_ends,
    expired_leases_and_gc_runs_are_ignored,
    models_are_summarised_with_counts_latest_and_aliases,
    eight_concurrent_pushes_get_versions_one_to_eight,
    eight_processes_pushing_at_once_get_versions_one_to_eight,
    fifty_concurrent_alias_moves_leave_a_consistent_chain,
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn model(s: &str) -> ModelName {
    ModelName::parse(s).unwrap()
}

fn alias(s: &str) -> AliasName {
    AliasName::parse(s).unwrap()
}

fn reference(s: &str) -> Ref {
    Ref::parse(s).unwrap()
}

fn bob() -> Actor {
    Actor("bob".into())
}

fn manifest_of(m: &str, seed: u64) -> Digest {
    Digest::of(format!("manifest of {m} #{seed}").as_bytes())
}

/// A push of `m` whose fields all depend on `seed`, so records can be told apart.
fn push(m: &str, seed: u64) -> NewVersion {
    NewVersion {
        model: model(m),
        manifest: manifest_of(m, seed),
        size: 1000 + seed,
        format: Some("onnx".into()),
        signature: Some(serde_json::json!({"inputs": [{"name": "x", "dtype": "float32", "shape": [null, 4]}]})),
        params: BTreeMap::from([("lr".into(), "0.1".into()), ("seed".into(), seed.to_string())]),
        metrics: BTreeMap::from([("accuracy".into(), 0.9 + seed as f64 / 1000.0), ("auc".into(), 0.123_456_789)]),
        tags: BTreeMap::from([("team".into(), "risk".into()), ("owner".into(), "alice".into())]),
        description: Some(format!("run {seed}")),
        lineage: Lineage {
            git_commit: Some("0123abcd".into()),
            git_branch: Some("main".into()),
            git_dirty: Some(false),
            data: BTreeMap::from([("train".into(), Digest::of(b"train.csv"))]),
            ..Default::default()
        },
        created_by: "alice".into(),
    }
}

async fn push_n(r: &Arc<dyn Registry>, m: &str, n: u64) {
    for seed in 1..=n {
        r.create_version(push(m, seed), &[], None).await.unwrap();
    }
}

fn actions(log: &[berth_core::AuditEntry]) -> Vec<&str> {
    log.iter().map(|a| a.action.as_str()).collect()
}

// ---------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------

async fn the_first_push_creates_the_model_and_version_one(db: Arc<Db>) {
    let r = db.open().await;
    assert!(r.models().await.unwrap().is_empty());
    assert!(matches!(r.versions(&model("churn")).await.unwrap_err(), RegistryError::ModelNotFound(_)));

    let pushed = push("churn", 1);
    let rec = r.create_version(pushed.clone(), &[], None).await.unwrap();
    assert_eq!(rec.version, 1);
    assert_eq!(rec.status, VersionStatus::Ready);
    assert_eq!(
        (
            &rec.model,
            rec.manifest,
            rec.size,
            &rec.format,
            &rec.signature,
            &rec.params,
            &rec.metrics,
            &rec.tags,
            &rec.description,
            &rec.lineage,
            &rec.created_by
        ),
        (
            &pushed.model,
            pushed.manifest,
            pushed.size,
            &pushed.format,
            &pushed.signature,
            &pushed.params,
            &pushed.metrics,
            &pushed.tags,
            &pushed.description,
            &pushed.lineage,
            &pushed.created_by
        )
    );
    // What is read back is exactly what create_version returned.
    assert_eq!(r.version(&model("churn"), 1).await.unwrap(), rec);
    assert_eq!(r.versions(&model("churn")).await.unwrap(), [rec]);

    let models = r.models().await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!((models[0].name.as_str(), models[0].versions, models[0].latest), ("churn", 1, Some(1)));
}

async fn version_numbers_are_consecutive_per_model_and_independent_across_models(db: Arc<Db>) {
    let r = db.open().await;
    let mut got = Vec::new();
    for (m, seed) in [("churn", 1), ("churn", 2), ("fraud", 1), ("churn", 3), ("fraud", 2), ("churn", 4)] {
        got.push((m, r.create_version(push(m, seed), &[], None).await.unwrap().version));
    }
    assert_eq!(got, [("churn", 1), ("churn", 2), ("fraud", 1), ("churn", 3), ("fraud", 2), ("churn", 4)]);

    let churn = r.versions(&model("churn")).await.unwrap();
    assert_eq!(churn.iter().map(|v| v.version).collect::<Vec<_>>(), [4, 3, 2, 1], "newest first");
    assert!(churn.iter().all(|v| v.model.as_str() == "churn"));
    // Each number holds the push that got it.
    for v in &churn {
        assert_eq!(v.manifest, manifest_of("churn", v.version));
    }
    let fraud = r.versions(&model("fraud")).await.unwrap();
    assert_eq!(fraud.iter().map(|v| v.version).collect::<Vec<_>>(), [2, 1]);
}

async fn version_and_resolve_find_numbers_latest_and_aliases(db: Arc<Db>) {
    let r = db.open().await;
    push_n(&r, "churn", 3).await;
    push_n(&r, "fraud", 1).await;
    r.set_alias(&model("churn"), &alias("production"), 2, &bob(), None).await.unwrap();

    let v2 = r.version(&model("churn"), 2).await.unwrap();
    assert_eq!((v2.version, v2.manifest), (2, manifest_of("churn", 2)));

    for (s, want) in [("churn@1", 1), ("churn@2", 2), ("churn@latest", 3), ("churn", 3), ("churn@production", 2)] {
        let got = r.resolve(&reference(s)).await.unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(got.version, want, "{s}");
        assert_eq!(got, r.version(&model("churn"), want).await.unwrap(), "{s} resolves to the full record");
    }
    // The same alias name on another model is another alias.
    assert!(matches!(
        r.resolve(&reference("fraud@production")).await.unwrap_err(),
        RegistryError::AliasNotFound { .. }
    ));
    assert_eq!(r.resolve(&reference("fraud@latest")).await.unwrap().version, 1);
}

async fn unknown_models_versions_and_aliases_are_told_apart(db: Arc<Db>) {
    let r = db.open().await;
    push_n(&r, "churn", 2).await;
    let (churn, ghost) = (model("churn"), model("ghost"));

    for e in [
        r.version(&ghost, 1).await.unwrap_err(),
        r.versions(&ghost).await.unwrap_err(),
        r.resolve(&reference("ghost@1")).await.unwrap_err(),
        r.resolve(&reference("ghost@latest")).await.unwrap_err(),
        r.resolve(&reference("ghost@production")).await.unwrap_err(),
        r.set_tags(&ghost, 1, &BTreeMap::new(), &bob()).await.unwrap_err(),
        r.remove_alias(&ghost, &alias("production"), &bob(), None).await.unwrap_err(),
    ] {
        assert!(matches!(&e, RegistryError::ModelNotFound(m) if m == "ghost"), "{e:?}");
        assert_eq!(e.class(), ErrorClass::Input);
        assert!(e.to_string().contains("ghost"), "{e}");
    }

    for e in [
        r.version(&churn, 3).await.unwrap_err(),
        r.resolve(&reference("churn@3")).await.unwrap_err(),
        r.set_tags(&churn, 3, &BTreeMap::new(), &bob()).await.unwrap_err(),
    ] {
        match &e {
            RegistryError::VersionNotFound { model, version, latest } => {
                assert_eq!((model.as_str(), *version, latest.as_str()), ("churn", 3, "2"), "{e}")
            }
            other => panic!("expected VersionNotFound, got {other:?}"),
        }
        assert_eq!(e.class(), ErrorClass::Input);
        assert!(e.to_string().contains("latest is 2"), "{e}");
    }

    for e in [
        r.resolve(&reference("churn@staging")).await.unwrap_err(),
        r.remove_alias(&churn, &alias("staging"), &bob(), None).await.unwrap_err(),
    ] {
        assert!(
            matches!(&e, RegistryError::AliasNotFound { model, alias } if model == "churn" && alias == "staging"),
            "{e:?}"
        );
        assert_eq!(e.class(), ErrorClass::Input);
    }
}

async fn an_alias_cannot_point_at_a_missing_version(db: Arc<Db>) {
    let r = db.open().await;
    push_n(&r, "churn", 2).await;
    let (churn, prod) = (model("churn"), alias("production"));

    let e = r.set_alias(&churn, &prod, 5, &bob(), None).await.unwrap_err();
    assert!(
        matches!(&e, RegistryError::VersionNotFound { model, version: 5, latest } if model == "churn" && latest == "2"),
        "{e:?}"
    );
    let e = r.set_alias(&model("ghost"), &prod, 1, &bob(), None).await.unwrap_err();
    assert!(matches!(&e, RegistryError::ModelNotFound(m) if m == "ghost"), "{e:?}");

    // The refused moves changed nothing and logged nothing.
    assert!(r.aliases(&churn).await.unwrap().is_empty());
    assert!(r.alias_history(&churn, None).await.unwrap().is_empty());
    let log = r.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(actions(&log), ["version.create", "version.create"]);

    // It still points at an existing one, and stays put on a later bad move.
    r.set_alias(&churn, &prod, 2, &bob(), None).await.unwrap();
    assert!(r.set_alias(&churn, &prod, 9, &bob(), None).await.is_err());
    assert_eq!(r.aliases(&churn).await.unwrap(), BTreeMap::from([("production".to_string(), 2)]));
}

async fn set_tags_upserts_and_audits_before_and_after(db: Arc<Db>) {
    let r = db.open().await;
    push_n(&r, "churn", 2).await;
    let churn = model("churn");
    let original = r.version(&churn, 1).await.unwrap();
    let before = original.tags.clone();
    assert_eq!(before, BTreeMap::from([("owner".into(), "alice".into()), ("team".into(), "risk".into())]));

    let set = BTreeMap::from([("team".to_string(), "ml".to_string()), ("stage".to_string(), "qa".to_string())]);
    let rec = r.set_tags(&churn, 1, &set, &bob()).await.unwrap();
    let want: BTreeMap<String, String> =
        BTreeMap::from([("owner".into(), "alice".into()), ("stage".into(), "qa".into()), ("team".into(), "ml".into())]);
    assert_eq!(rec.tags, want, "existing keys are updated, new keys added, others kept");
    assert_eq!(r.version(&churn, 1).await.unwrap().tags, want);
    assert_eq!(r.versions(&churn).await.unwrap()[1].tags, want);
    assert_eq!(r.version(&churn, 2).await.unwrap().tags, before, "other versions keep their tags");
    let mut expected = original.clone();
    expected.tags = want.clone();
    assert_eq!(rec, expected, "only the tags change");

    let log = r.audit(&AuditFilter { model: Some(churn.clone()), limit: Some(1) }).await.unwrap();
    assert_eq!(log.len(), 1);
    let entry = &log[0];
    assert_eq!((entry.action.as_str(), entry.actor.as_str(), entry.version), ("version.tag", "bob", Some(1)));
    assert_eq!(entry.model.as_ref(), Some(&churn));
    assert_eq!(entry.before, Some(serde_json::to_value(&before).unwrap()));
    assert_eq!(entry.after, Some(serde_json::to_value(&want).unwrap()));

    // Setting the same tags again is accepted and changes nothing.
    assert_eq!(r.set_tags(&churn, 1, &set, &bob()).await.unwrap().tags, want);
}

// ---------------------------------------------------------------------------
// Aliases
// ---------------------------------------------------------------------------

async fn alias_moves_record_from_to_actor_and_reason(db: Arc<Db>) {
    let r = db.open().await;
    push_n(&r, "churn", 3).await;
    let (churn, prod) = (model("churn"), alias("production"));

    let first = r.set_alias(&churn, &prod, 1, &bob(), Some("first release")).await.unwrap().expect("a move");
    assert_eq!((first.from, first.to), (None, Some(1)));
    assert_eq!((first.model.as_str(), first.alias.as_str()), ("churn", "production"));
    assert_eq!((first.actor.as_str(), first.reason.as_deref()), ("bob", Some("first release")));

    let second = r.set_alias(&churn, &prod, 3, &Actor("carol".into()), None).await.unwrap().expect("a move");
    assert_eq!(
        (second.from, second.to, second.actor.as_str(), second.reason.as_deref()),
        (Some(1), Some(3), "carol", None)
    );
    assert_eq!(r.aliases(&churn).await.unwrap(), BTreeMap::from([("production".to_string(), 3)]));
    assert_eq!(r.resolve(&reference("churn@production")).await.unwrap().version, 3);

    let removed = r.remove_alias(&churn, &prod, &bob(), Some("incident 42")).await.unwrap();
    assert_eq!((removed.from, removed.to, removed.reason.as_deref()), (Some(3), None, Some("incident 42")));
    assert!(r.aliases(&churn).await.unwrap().is_empty());
    assert!(matches!(
        r.resolve(&reference("churn@production")).await.unwrap_err(),
        RegistryError::AliasNotFound { .. }
    ));

    // The history holds exactly the events the calls returned.
    assert_eq!(r.alias_history(&churn, Some(&prod)).await.unwrap(), [first, second, removed]);

    // A removed alias can be set again; it starts from nothing.
    let again = r.set_alias(&churn, &prod, 2, &bob(), None).await.unwrap().unwrap();
    assert_eq!((again.from, again.to), (None, Some(2)));
}

async fn an_unchanged_alias_is_a_no_op(db: Arc<Db>) {
    // A clock that moves only when read: any write that stamps a time shows.
    let r = db.open_with(Arc::new(FixedClock::new(Timestamp::from_millis(1_700_000_000_000)))).await;
    push_n(&r, "churn", 2).await;
    let (churn, prod) = (model("churn"), alias("production"));
    r.set_alias(&churn, &prod, 2, &bob(), None).await.unwrap().unwrap();
    let history = r.alias_history(&churn, None).await.unwrap();
    let log = r.audit(&AuditFilter::default()).await.unwrap();
    let summary = r.models().await.unwrap();

    assert_eq!(r.set_alias(&churn, &prod, 2, &Actor("carol".into()), Some("again")).await.unwrap(), None);

    assert_eq!(r.alias_history(&churn, None).await.unwrap(), history, "no event");
    assert_eq!(r.audit(&AuditFilter::default()).await.unwrap(), log, "no audit entry");
    assert_eq!(r.models().await.unwrap(), summary, "the model is not touched");
    assert_eq!(r.aliases(&churn).await.unwrap(), BTreeMap::from([("production".to_string(), 2)]));
}

async fn alias_history_is_oldest_first_and_can_follow_one_alias(db: Arc<Db>) {
    let r = db.open().await;
    push_n(&r, "churn", 3).await;
    push_n(&r, "fraud", 2).await;
    let (churn, prod, staging) = (model("churn"), alias("production"), alias("staging"));
    let mut events = Vec::new();
    events.push(r.set_alias(&churn, &staging, 1, &bob(), None).await.unwrap().unwrap());
    events.push(r.set_alias(&churn, &prod, 1, &bob(), None).await.unwrap().unwrap());
    r.set_alias(&model("fraud"), &prod, 2, &bob(), None).await.unwrap().unwrap();
    events.push(r.set_alias(&churn, &staging, 2, &bob(), None).await.unwrap().unwrap());
    events.push(r.set_alias(&churn, &staging, 3, &bob(), None).await.unwrap().unwrap());
    events.push(r.set_alias(&churn, &prod, 2, &bob(), None).await.unwrap().unwrap());
    events.push(r.remove_alias(&churn, &staging, &bob(), None).await.unwrap());

    let all = r.alias_history(&churn, None).await.unwrap();
    assert_eq!(all, events, "every move of the model's aliases, oldest first, no other model's");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id && w[0].at <= w[1].at));

    let only_staging = r.alias_history(&churn, Some(&staging)).await.unwrap();
    let moves: Vec<_> = only_staging.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(moves, [(None, Some(1)), (Some(1), Some(2)), (Some(2), Some(3)), (Some(3), None)]);
    let only_prod = r.alias_history(&churn, Some(&prod)).await.unwrap();
    assert_eq!(only_prod.iter().map(|e| (e.from, e.to)).collect::<Vec<_>>(), [(None, Some(1)), (Some(1), Some(2))]);

    let fraud = r.alias_history(&model("fraud"), None).await.unwrap();
    assert_eq!(fraud.len(), 1);
    assert!(r.alias_history(&model("ghost"), None).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------

async fn the_audit_log_is_newest_first_filtered_by_model_and_limited(db: Arc<Db>) {
    let r = db.open().await;
    r.create_version(push("churn", 1), &[], None).await.unwrap();
    r.create_version(push("fraud", 1), &[], None).await.unwrap();
    r.set_alias(&model("churn"), &alias("production"), 1, &bob(), None).await.unwrap();
    r.create_version(push("fraud", 2), &[], None).await.unwrap();
    r.record(&bob(), "gc", serde_json::json!({"removed": 3})).await.unwrap();

    let all = r.audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(actions(&all), ["gc", "version.create", "alias.set", "version.create", "version.create"]);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id && w[0].at >= w[1].at), "newest first");
    let models: Vec<_> = all.iter().map(|a| a.model.as_ref().map(|m| m.as_str())).collect();
    assert_eq!(models, [None, Some("fraud"), Some("churn"), Some("fraud"), Some("churn")]);

    let churn = r.audit(&AuditFilter { model: Some(model("churn")), limit: None }).await.unwrap();
    assert_eq!(churn, vec![all[2].clone(), all[4].clone()]);
    let fraud = r.audit(&AuditFilter { model: Some(model("fraud")), limit: Some(1) }).await.unwrap();
    assert_eq!(fraud, vec![all[1].clone()], "the newest of that model");
    assert_eq!(r.audit(&AuditFilter { model: None, limit: Some(2) }).await.unwrap(), all[..2].to_vec());
    assert!(r.audit(&AuditFilter { model: None, limit: Some(0) }).await.unwrap().is_empty());
    assert!(r.audit(&AuditFilter { model: Some(model("ghost")), limit: None }).await.unwrap().is_empty());
}

async fn every_mutation_leaves_one_audit_entry(db: Arc<Db>) {
    let r = db.open().await;
    let (churn, prod) = (model("churn"), alias("production"));
    let v = r.create_version(push("churn", 1), &[Digest::of(b"w")], None).await.unwrap();
    r.create_version(push("churn", 2), &[], None).await.unwrap();
    r.set_tags(&churn, 1, &BTreeMap::from([("stage".into(), "qa".into())]), &bob()).await.unwrap();
    r.set_alias(&churn, &prod, 1, &bob(), Some("go")).await.unwrap();
    r.set_alias(&churn, &prod, 1, &bob(), None).await.unwrap(); // no-op: no entry
    let _ = r.set_alias(&churn, &prod, 7, &bob(), None).await.unwrap_err(); // refused: no entry
    r.set_alias(&churn, &prod, 2, &bob(), None).await.unwrap();
    r.remove_alias(&churn, &prod, &Actor("carol".into()), Some("rollback")).await.unwrap();
    r.record(&Actor("gc-bot".into()), "gc", serde_json::json!({"removed": 1, "freed": 10})).await.unwrap();

    let mut log = r.audit(&AuditFilter::default()).await.unwrap();
    log.reverse(); // oldest first, in call order
    assert_eq!(
        actions(&log),
        ["version.create", "version.create", "version.tag", "alias.set", "alias.set", "alias.remove", "gc"]
    );
    let who: Vec<_> = log.iter().map(|a| (a.actor.as_str(), a.version)).collect();
    assert_eq!(
        who,
        [
            ("alice", Some(1)),
            ("alice", Some(2)),
            ("bob", Some(1)),
            ("bob", Some(1)),
            ("bob", Some(2)),
            ("carol", Some(2)),
            ("gc-bot", None)
        ]
    );
    let create = &log[0];
    assert_eq!(create.before, None);
    let after = create.after.as_ref().unwrap();
    assert_eq!(after["version"], 1);
    assert_eq!(after["manifest"], v.manifest.to_string());
    let moved = &log[4];
    assert_eq!(moved.before.as_ref().unwrap()["version"], 1);
    assert_eq!(moved.after.as_ref().unwrap()["version"], 2);
    let removed = &log[5];
    assert_eq!(removed.before.as_ref().unwrap()["version"], 2);
    assert!(removed.after.as_ref().unwrap()["version"].is_null());
    assert_eq!(removed.after.as_ref().unwrap()["reason"], "rollback");
    let gc = &log[6];
    assert_eq!((gc.model.as_ref(), gc.after.clone()), (None, Some(serde_json::json!({"removed": 1, "freed": 10}))));
}

// ---------------------------------------------------------------------------
// Blobs, leases and gc
// ---------------------------------------------------------------------------

async fn referenced_blobs_include_the_manifest_and_every_blob(db: Arc<Db>) {
    let r = db.open().await;
    assert!(r.referenced_blobs().await.unwrap().is_empty());
    let (a, b, c) = (Digest::of(b"a"), Digest::of(b"b"), Digest::of(b"c"));
    let v1 = r.create_version(push("churn", 1), &[a, b, a], None).await.unwrap();
    let v2 = r.create_version(push("fraud", 1), &[b, c], None).await.unwrap();

    let refs = r.referenced_blobs().await.unwrap();
    let want: BTreeSet<Digest> = [v1.manifest, v2.manifest, a, b, c].into();
    assert_eq!(refs.keys().copied().collect::<BTreeSet<_>>(), want);
    assert_eq!(refs[&v1.manifest], (model("churn"), 1));
    assert_eq!(refs[&v2.manifest], (model("fraud"), 1));
    assert_eq!(refs[&a], (model("churn"), 1));
    assert_eq!(refs[&c], (model("fraud"), 1));
    assert!([(model("churn"), 1), (model("fraud"), 1)].contains(&refs[&b]));

    // A version whose blob list already holds its manifest references it once.
    let m = manifest_of("churn", 2);
    r.create_version(push("churn", 2), &[m], None).await.unwrap();
    assert_eq!(r.referenced_blobs().await.unwrap()[&m], (model("churn"), 2));
}

async fn an_upload_lease_holds_its_blobs_until_it_ends(db: Arc<Db>) {
    let r = db.open().await;
    let (a, b) = (Digest::of(b"weights"), Digest::of(b"config"));
    assert!(r.leased_blobs().await.unwrap().is_empty());
    let lease = r.begin_upload(&[a, b], Duration::from_secs(600)).await.unwrap();

    let leased: BTreeSet<Digest> = r.leased_blobs().await.unwrap().into_iter().collect();
    assert_eq!(leased, [a, b].into());
    let active = r.active_leases().await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].id, lease);
    assert_eq!(active[0].holder, berth_registry::this_holder());
    assert_eq!(active[0].expires_at.millis() - active[0].created_at.millis(), 600_000);

    r.end_upload(lease).await.unwrap();
    assert!(r.leased_blobs().await.unwrap().is_empty());
    assert!(r.active_leases().await.unwrap().is_empty());
    r.end_upload(lease).await.expect("ending a lease twice is harmless");
}

async fn creating_a_version_releases_its_lease(db: Arc<Db>) {
    let r = db.open().await;
    let (a, b) = (Digest::of(b"mine"), Digest::of(b"someone else's"));
    let mine = r.begin_upload(&[a], Duration::from_secs(600)).await.unwrap();
    let theirs = r.begin_upload(&[b], Duration::from_secs(600)).await.unwrap();
    assert_ne!(mine, theirs);

    r.create_version(push("churn", 1), &[a], Some(mine)).await.unwrap();
    assert_eq!(r.leased_blobs().await.unwrap(), [b], "only the other push's lease remains");
    assert_eq!(r.active_leases().await.unwrap().iter().map(|l| l.id).collect::<Vec<_>>(), [theirs]);
    assert!(r.referenced_blobs().await.unwrap().contains_key(&a), "the blob is now referenced instead");
}

async fn a_running_gc_refuses_uploads_until_it_ends(db: Arc<Db>) {
    let r = db.open().await;
    let d = Digest::of(b"blob");
    let before = r.begin_upload(&[d], Duration::from_secs(600)).await.unwrap();

    let run = r.gc_begin(Duration::from_secs(600)).await.unwrap();
    let e = r.begin_upload(&[Digest::of(b"new")], Duration::from_secs(600)).await.unwrap_err();
    assert!(matches!(e, RegistryError::GcRunning { .. }), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Infra);
    // The refused lease is withdrawn; the one taken before the gc still holds.
    assert_eq!(r.leased_blobs().await.unwrap(), [d]);
    assert_eq!(r.active_leases().await.unwrap().iter().map(|l| l.id).collect::<Vec<_>>(), [before]);

    // Another registry instance (another process) is refused as well.
    let other = db.open().await;
    assert!(matches!(other.begin_upload(&[], Duration::from_secs(60)).await, Err(RegistryError::GcRunning { .. })));

    r.gc_end(run).await.unwrap();
    let after = r.begin_upload(&[Digest::of(b"new")], Duration::from_secs(600)).await.unwrap();
    other.begin_upload(&[], Duration::from_secs(60)).await.unwrap();
    assert!(r.active_leases().await.unwrap().iter().any(|l| l.id == after));
}

async fn expired_leases_and_gc_runs_are_ignored(db: Arc<Db>) {
    // FixedClock moves one millisecond per reading, so reading it moves time on.
    let clock = Arc::new(FixedClock::new(Timestamp::from_millis(1_700_000_000_000)));
    let r = db.open_with(clock.clone()).await;
    let (short, long) = (Digest::of(b"short"), Digest::of(b"long"));
    r.begin_upload(&[short], Duration::from_millis(20)).await.unwrap();
    let kept = r.begin_upload(&[long], Duration::from_secs(3600)).await.unwrap();
    assert_eq!(r.leased_blobs().await.unwrap().len(), 2);

    for _ in 0..50 {
        clock.now();
    }
    assert_eq!(r.leased_blobs().await.unwrap(), [long], "the expired lease no longer holds its blob");
    assert_eq!(r.active_leases().await.unwrap().iter().map(|l| l.id).collect::<Vec<_>>(), [kept]);

    // A gc that died without gc_end stops blocking uploads when its run expires.
    r.gc_begin(Duration::from_millis(20)).await.unwrap();
    assert!(matches!(r.begin_upload(&[], Duration::from_secs(60)).await, Err(RegistryError::GcRunning { .. })));
    for _ in 0..50 {
        clock.now();
    }
    r.begin_upload(&[], Duration::from_secs(60)).await.expect("an expired gc run no longer blocks uploads");
}

// ---------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------

async fn models_are_summarised_with_counts_latest_and_aliases(db: Arc<Db>) {
    let r = db.open().await;
    push_n(&r, "fraud", 1).await;
    push_n(&r, "churn", 3).await;
    push_n(&r, "anomaly", 2).await;
    let churn = model("churn");
    r.set_alias(&churn, &alias("production"), 2, &bob(), None).await.unwrap();
    r.set_alias(&churn, &alias("staging"), 3, &bob(), None).await.unwrap();
    r.set_alias(&model("anomaly"), &alias("production"), 1, &bob(), None).await.unwrap();
    r.set_alias(&model("anomaly"), &alias("canary"), 2, &bob(), None).await.unwrap();
    r.remove_alias(&model("anomaly"), &alias("canary"), &bob(), None).await.unwrap();

    let ms = r.models().await.unwrap();
    let got: Vec<_> = ms.iter().map(|m| (m.name.as_str(), m.versions, m.latest, m.aliases.clone())).collect();
    assert_eq!(
        got,
        [
            ("anomaly", 2, Some(2), BTreeMap::from([("production".to_string(), 1)])),
            ("churn", 3, Some(3), BTreeMap::from([("production".to_string(), 2), ("staging".to_string(), 3)])),
            ("fraud", 1, Some(1), BTreeMap::new()),
        ]
    );
    for m in &ms {
        assert!(m.created_at <= m.updated_at, "{m:?}");
        assert_eq!(m.aliases, r.aliases(&m.name).await.unwrap());
    }
    let oldest = r.versions(&model("fraud")).await.unwrap()[0].created_at;
    assert_eq!(ms[2].created_at, oldest, "a model is created with its first version");
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

/// Eight pushes of one model at once, each through `regs[i % regs.len()]`.
async fn push_eight_at_once(regs: Vec<Arc<dyn Registry>>) -> Vec<(u64, u64)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8u64)
        .map(|seed| {
            let r = regs[seed as usize % regs.len()].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let v = r.create_version(push("race", seed), &[], None).await.unwrap();
                (v.version, seed)
            })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    got
}

async fn check_eight_pushes(r: &Arc<dyn Registry>, mut got: Vec<(u64, u64)>) {
    got.sort();
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), (1..=8).collect::<Vec<u64>>(), "{got:?}");
    let listed = r.versions(&model("race")).await.unwrap();
    assert_eq!(listed.iter().map(|v| v.version).collect::<Vec<_>>(), (1..=8).rev().collect::<Vec<u64>>());
    for (n, seed) in got {
        assert_eq!(r.version(&model("race"), n).await.unwrap().manifest, manifest_of("race", seed), "version {n}");
    }
    let log = r.audit(&AuditFilter { model: Some(model("race")), limit: None }).await.unwrap();
    assert_eq!(log.iter().filter(|a| a.action == "version.create").count(), 8);
    let summary = r.models().await.unwrap();
    assert_eq!((summary[0].versions, summary[0].latest), (8, Some(8)));
}

async fn eight_concurrent_pushes_get_versions_one_to_eight(db: Arc<Db>) {
    let r = db.open().await;
    let got = push_eight_at_once(vec![r.clone()]).await;
    check_eight_pushes(&r, got).await;
}

async fn eight_processes_pushing_at_once_get_versions_one_to_eight(db: Arc<Db>) {
    // Eight registries opened at once on a new database, as eight processes
    // starting together would: they also race to migrate it.
    let opening: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.open().await })
        })
        .collect();
    let mut regs = Vec::new();
    for o in opening {
        regs.push(o.await.unwrap());
    }
    let got = push_eight_at_once(regs.clone()).await;
    check_eight_pushes(&regs[0], got).await;
}

async fn fifty_concurrent_alias_moves_leave_a_consistent_chain(db: Arc<Db>) {
    let r = db.open().await;
    push_n(&r, "churn", 50).await;
    let mut regs = vec![r.clone()];
    for _ in 0..3 {
        regs.push(db.open().await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (1..=50u64)
        .map(|n| {
            let r = regs[n as usize % regs.len()].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                r.set_alias(&model("churn"), &alias("production"), n, &Actor(format!("task-{n}")), None)
                    .await
                    .unwrap_or_else(|e| panic!("moving production to {n}: {e}"))
            })
        })
        .collect();
    let mut returned = Vec::new();
    for t in tasks {
        returned.push(t.await.unwrap().expect("every target differs, so no move is a no-op"));
    }

    let h = r.alias_history(&model("churn"), Some(&alias("production"))).await.unwrap();
    assert_eq!(h.len(), 50, "one event per move");
    assert_eq!(h[0].from, None, "the first move starts from nothing");
    for w in h.windows(2) {
        assert_eq!(w[1].from, w[0].to, "every move starts where the previous one ended: {w:?}");
        assert!(w[0].id < w[1].id);
    }
    let targets: BTreeSet<u64> = h.iter().map(|e| e.to.unwrap()).collect();
    assert_eq!(targets, (1..=50).collect::<BTreeSet<u64>>());
    for e in &h {
        assert_eq!(e.actor, format!("task-{}", e.to.unwrap()));
    }
    returned.sort_by_key(|e| e.id);
    assert_eq!(returned, h, "each call returned the event that was stored");

    let current = r.aliases(&model("churn")).await.unwrap()["production"];
    assert_eq!(Some(current), h.last().unwrap().to, "the alias is where the last event put it");
    assert_eq!(r.resolve(&reference("churn@production")).await.unwrap().version, current);
    let log = r.audit(&AuditFilter { model: Some(model("churn")), limit: None }).await.unwrap();
    assert_eq!(log.iter().filter(|a| a.action == "alias.set").count(), 50);
}
