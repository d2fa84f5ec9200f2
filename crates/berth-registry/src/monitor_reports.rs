//! Monitor reports: what live traffic said about a version in one
//! environment (degraded or not, drifted or not), stored beside it and
//! audited as `version.monitor`. Alerts fire on changes of state, so the
//! insert also reads the report it follows, in the same transaction.

use berth_core::{ModelName, MonitorRecord};
use sqlx::AnyConnection;

use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, MonitorFilter, NewMonitorReport, Result};

const COLUMNS: &str = "id, model, version, env, degraded, drift, created_by, created_at, report";

impl Db {
    /// Stores a report under the model's lock (the version must exist) and
    /// returns the one stored before it for the same environment, if any:
    /// concurrent monitors on one model are serialised by the lock, so each
    /// report's predecessor is exactly one other report.
    pub(crate) async fn add_monitor_report(
        &self,
        m: NewMonitorReport<'_>,
        actor: &Actor,
    ) -> Result<(Option<MonitorRecord>, MonitorRecord)> {
        let mut tx = self.begin_write().await?;
        self.lock_model(&mut tx, m.model).await?;
        self.version_in(&mut tx, m.model, m.version).await?;
        let previous = self.newest_monitor_report_on(&mut tx, m.model, m.env.as_str()).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO monitor_reports \
             (model, version, env, degraded, drift, window_end, created_by, created_at, report) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
        )))
        .bind(m.model.as_str())
        .bind(m.version as i64)
        .bind(m.env.as_str())
        .bind(i64::from(m.degraded))
        .bind(i64::from(m.drift))
        .bind(m.window_end.map(|t| t.millis()))
        .bind(&actor.name)
        .bind(self.clock.now().millis())
        .bind(m.report.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err())?;
        let rec = self.ctx().monitor_record(&row)?;
        let after = serde_json::json!({"env": m.env, "degraded": m.degraded, "drift": m.drift, "report": rec.id});
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "version.monitor",
            model: Some(m.model.as_str()),
            version: Some(m.version),
            before: None,
            after: Some(after.to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok((previous, rec))
    }

    /// The newest report for (model, env), read on `conn`.
    async fn newest_monitor_report_on(
        &self,
        conn: &mut AnyConnection,
        model: &ModelName,
        env: &str,
    ) -> Result<Option<MonitorRecord>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM monitor_reports WHERE model = $1 AND env = $2 ORDER BY id DESC LIMIT 1"
        )))
        .bind(model.as_str())
        .bind(env)
        .fetch_optional(conn)
        .await
        .map_err(self.err())?;
        row.map(|r| self.ctx().monitor_record(&r)).transpose()
    }

    /// A model's reports as `filter` narrows them, newest first. A bound on
    /// the window's end leaves out reports that name no window end.
    pub(crate) async fn monitor_reports(
        &self,
        model: &ModelName,
        filter: &MonitorFilter<'_>,
    ) -> Result<Vec<MonitorRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM monitor_reports WHERE model = $1 AND ($2 IS NULL OR env = $2) \
             AND ($3 IS NULL OR window_end >= $3) AND ($4 IS NULL OR window_end <= $4) \
             ORDER BY id DESC LIMIT $5"
        )))
        .bind(model.as_str())
        .bind(filter.env.map(|e| e.as_str()))
        .bind(filter.window_ends_from.map(|t| t.millis()))
        .bind(filter.window_ends_to.map(|t| t.millis()))
        .bind(filter.limit.map(i64::from).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err())?;
        rows.iter().map(|r| self.ctx().monitor_record(r)).collect()
    }
}
