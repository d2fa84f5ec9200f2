//! The notification delivery log: a row per notification about to be
//! delivered, updated after each attempt.

use berth_core::{Delivery, DeliveryStatus};

use crate::db::Db;
use crate::{DeliveryUpdate, NewDelivery, Result};

impl Db {
    /// Records a notification about to be delivered; returns its id.
    pub(crate) async fn add_delivery(&self, d: NewDelivery<'_>) -> Result<i64> {
        sqlx::query_scalar(
            "INSERT INTO deliveries (event_id, event, model, notifier, target, status, attempts, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING id",
        )
        .bind(d.event_id)
        .bind(d.event)
        .bind(d.model.map(|m| m.as_str()))
        .bind(d.notifier)
        .bind(d.target)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(self.clock.now().millis())
        .fetch_one(&self.pool)
        .await
        .map_err(self.err())
    }

    /// Stores how an attempt went; a delivery that is no longer pending is finished now.
    pub(crate) async fn update_delivery(&self, id: i64, u: &DeliveryUpdate) -> Result<()> {
        let finished = (u.status != DeliveryStatus::Pending).then(|| self.clock.now().millis());
        sqlx::query(
            "UPDATE deliveries SET status = $2, attempts = $3, last_status = $4, last_error = $5, finished_at = $6 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(u.status.as_str())
        .bind(i64::from(u.attempts))
        .bind(u.last_status.map(i64::from))
        .bind(u.last_error.as_deref())
        .bind(finished)
        .execute(&self.pool)
        .await
        .map_err(self.err())?;
        Ok(())
    }

    /// The delivery log, newest first.
    pub(crate) async fn deliveries(&self, limit: Option<u32>) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT id, event_id, event, model, notifier, target, status, attempts, last_status, last_error, \
             created_at, finished_at FROM deliveries ORDER BY id DESC LIMIT $1",
        )
        .bind(limit.map(i64::from).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(self.err())?;
        rows.iter().map(|r| self.ctx().delivery(r)).collect()
    }
}
