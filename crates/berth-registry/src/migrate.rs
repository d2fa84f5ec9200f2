//! Embedded schema migrations, applied in order inside one transaction.
//! The SQL is shared by both engines; only the auto-increment key differs.

use crate::db::Db;
use crate::{RegistryError, Result};

/// Each migration, in order. Never edit one that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE models (
    name TEXT PRIMARY KEY,
    next_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE versions (
    model TEXT NOT NULL REFERENCES models(name),
    version BIGINT NOT NULL,
    manifest TEXT NOT NULL,
    size BIGINT NOT NULL,
    format TEXT,
    signature TEXT,
    params TEXT NOT NULL,
    metrics TEXT NOT NULL,
    description TEXT,
    lineage TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (model, version)
);
CREATE TABLE version_tags (
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model, version, key),
    FOREIGN KEY (model, version) REFERENCES versions(model, version)
);
CREATE INDEX version_tags_by_key ON version_tags (key, value);
CREATE TABLE version_blobs (
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (model, version, digest),
    FOREIGN KEY (model, version) REFERENCES versions(model, version)
);
CREATE INDEX version_blobs_by_digest ON version_blobs (digest);
CREATE TABLE aliases (
    model TEXT NOT NULL REFERENCES models(name),
    alias TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (model, alias),
    FOREIGN KEY (model, version) REFERENCES versions(model, version)
);
CREATE TABLE alias_events (
    id {ID},
    model TEXT NOT NULL,
    alias TEXT NOT NULL,
    from_version BIGINT,
    to_version BIGINT,
    actor TEXT NOT NULL,
    reason TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX alias_events_by_alias ON alias_events (model, alias, id);
CREATE TABLE audit_log (
    id {ID},
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    model TEXT,
    version BIGINT,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_log_by_model ON audit_log (model, id);
CREATE TABLE upload_leases (
    id {ID},
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    holder TEXT NOT NULL,
    digests TEXT NOT NULL
);
CREATE TABLE gc_runs (
    id {ID},
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    finished_at BIGINT
);
"#,
    r#"
CREATE TABLE gate_reports (
    id {ID},
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    gate TEXT NOT NULL,
    data_digest TEXT NOT NULL,
    passed BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    report TEXT NOT NULL,
    FOREIGN KEY (model, version) REFERENCES versions(model, version)
);
CREATE INDEX gate_reports_by_version ON gate_reports (model, version, id);
"#,
    r#"
ALTER TABLE alias_events ADD COLUMN kind TEXT;
ALTER TABLE alias_events ADD COLUMN evidence TEXT;
CREATE TABLE approvals (
    id {ID},
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    env TEXT NOT NULL,
    approver TEXT NOT NULL,
    comment TEXT,
    at BIGINT NOT NULL,
    FOREIGN KEY (model, version) REFERENCES versions(model, version)
);
CREATE UNIQUE INDEX approvals_once ON approvals (model, version, env, approver);
CREATE TABLE deliveries (
    id {ID},
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    model TEXT,
    notifier TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
"#,
    r#"
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    principal TEXT NOT NULL,
    role TEXT NOT NULL,
    models TEXT NOT NULL,
    envs TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    revoked_by TEXT,
    last_used_at BIGINT
);
CREATE TABLE policies (
    version BIGINT PRIMARY KEY,
    document TEXT NOT NULL,
    digest TEXT NOT NULL,
    applied_by TEXT NOT NULL,
    applied_at BIGINT NOT NULL,
    source TEXT
);
CREATE TABLE policy_lock (applies BIGINT NOT NULL);
INSERT INTO policy_lock (applies) VALUES (0);
"#,
    r#"
ALTER TABLE audit_log ADD COLUMN token TEXT;
"#,
    r#"
CREATE INDEX versions_by_manifest ON versions (model, manifest);
"#,
    r#"
CREATE TABLE lfs_objects (
    repo TEXT NOT NULL,
    oid TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (repo, oid)
);
CREATE INDEX lfs_objects_by_oid ON lfs_objects (oid);
"#,
    r#"
CREATE TABLE monitor_reports (
    id {ID},
    model TEXT NOT NULL,
    version BIGINT NOT NULL,
    env TEXT NOT NULL,
    degraded BIGINT NOT NULL,
    drift BIGINT NOT NULL,
    window_end BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    report TEXT NOT NULL,
    FOREIGN KEY (model, version) REFERENCES versions(model, version)
);
CREATE INDEX monitor_reports_by_env ON monitor_reports (model, env, id);
"#,
    r#"
CREATE TABLE log_segments (
    model TEXT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (model, name)
);
CREATE INDEX log_segments_by_digest ON log_segments (digest);
"#,
    r#"
ALTER TABLE models ADD COLUMN description TEXT;
CREATE TABLE model_tags (
    model TEXT NOT NULL REFERENCES models(name),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (model, key)
);
CREATE TABLE staged_files (
    model TEXT NOT NULL,
    path TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (model, path)
);
CREATE INDEX staged_files_by_digest ON staged_files (digest);
"#,
];

const SCHEMA_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS berth_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

fn render(sql: &str, id_type: &str) -> String {
    sql.replace("{ID}", id_type)
}

const APPLIED: &str = "SELECT COALESCE(MAX(version), 0) FROM berth_schema";

impl Db {
    /// Applies the embedded migrations not yet applied, in one transaction
    /// that holds the engine's migration lock ([`crate::engine::Engine::lock_migrations`]).
    pub(crate) async fn migrate(&self) -> Result<()> {
        // Fast path without a write lock: an up-to-date schema is the common case.
        let applied: Result<i64, _> = sqlx::query_scalar(APPLIED).fetch_one(&self.pool).await;
        if applied.is_ok_and(|v| v == MIGRATIONS.len() as i64) {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        self.engine.lock_migrations(&mut tx).await.map_err(self.err())?;
        sqlx::raw_sql(SCHEMA_TABLE).execute(&mut *tx).await.map_err(self.err())?;
        let current: i64 = sqlx::query_scalar(APPLIED).fetch_one(&mut *tx).await.map_err(self.err())?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(RegistryError::SchemaTooNew { url: self.url.clone(), found: current, known });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let sql = render(m, self.engine.id_type());
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.map_err(self.err())?;
            sqlx::query("INSERT INTO berth_schema (version, applied_at) VALUES ($1, $2)")
                .bind(i as i64 + 1)
                .bind(self.clock.now().millis())
                .execute(&mut *tx)
                .await
                .map_err(self.err())?;
        }
        tx.commit().await.map_err(self.err())
    }
}
