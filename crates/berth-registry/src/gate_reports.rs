//! Gate reports: a gate's verdict on a version, stored beside it and audited
//! as `version.gate`.

use berth_core::{GateRecord, ModelName};
use sqlx::AnyConnection;

use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, NewGateReport, Result};

impl Db {
    /// Stores a report under the model's lock; the version must exist.
    pub(crate) async fn add_gate_report(&self, g: NewGateReport<'_>, actor: &Actor) -> Result<GateRecord> {
        let mut tx = self.begin_write().await?;
        self.lock_model(&mut tx, g.model).await?;
        // The version must exist.
        self.version_in(&mut tx, g.model, g.version).await?;
        let row = sqlx::query(
            "INSERT INTO gate_reports (model, version, gate, data_digest, passed, created_by, created_at, report) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING id, model, version, gate, data_digest, passed, created_by, created_at, report",
        )
        .bind(g.model.as_str())
        .bind(g.version as i64)
        .bind(g.gate)
        .bind(g.data_digest)
        .bind(i64::from(g.passed))
        .bind(&actor.name)
        .bind(self.clock.now().millis())
        .bind(g.report.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(self.err())?;
        let rec = self.ctx().gate_record(&row)?;
        let after = serde_json::json!({"gate": g.gate, "data_digest": g.data_digest, "passed": g.passed});
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "version.gate",
            model: Some(g.model.as_str()),
            version: Some(g.version),
            before: None,
            after: Some(after.to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(rec)
    }

    /// The gate reports stored on a version, oldest first.
    pub(crate) async fn gate_reports(&self, model: &ModelName, n: u64) -> Result<Vec<GateRecord>> {
        self.gate_reports_on(&mut *self.conn().await?, model, n).await
    }

    /// [`Db::gate_reports`] on a connection (inside a transaction).
    pub(crate) async fn gate_reports_on(
        &self,
        conn: &mut AnyConnection,
        model: &ModelName,
        n: u64,
    ) -> Result<Vec<GateRecord>> {
        let rows = sqlx::query(
            "SELECT id, model, version, gate, data_digest, passed, created_by, created_at, report \
             FROM gate_reports WHERE model = $1 AND version = $2 ORDER BY id",
        )
        .bind(model.as_str())
        .bind(n as i64)
        .fetch_all(conn)
        .await
        .map_err(self.err())?;
        rows.iter().map(|r| self.ctx().gate_record(r)).collect()
    }
}
