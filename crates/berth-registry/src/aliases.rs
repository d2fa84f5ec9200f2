//! Aliases (environments) and their history: moving one (`deploy`, of which
//! `set_alias` is the plain kind), removing one, and reading where they point
//! and how they moved. Every move appends to `alias_events` and the audit log
//! in the transaction that makes it, under the model's lock
//! ([`Db::lock_model`]), so the history is a chain without gaps.

use std::collections::BTreeMap;

use berth_core::{AliasEvent, AliasName, ModelName, MoveKind};
use sqlx::{AnyConnection, Row};

use crate::db::Db;
use crate::rows::{AuditRow, MoveRow, to_json};
use crate::{Actor, ApprovalFilter, Deploy, DeployTarget, MoveFacts, MoveGuard, RegistryError, Result};

impl Db {
    /// Moves an environment as one transaction: reads where it points, picks
    /// the target (for [`DeployTarget::PreviousHealthy`], from the history it
    /// reads in the same transaction), moves it and appends the move to the
    /// history and the audit log. `None` when it already points there.
    pub(crate) async fn deploy(&self, d: Deploy<'_>, actor: &Actor) -> Result<Option<AliasEvent>> {
        let mut tx = self.begin_write().await?;
        self.lock_model(&mut tx, d.model).await?;
        let from = self.current_alias(&mut tx, d.model, d.env).await?;
        let to = match d.to {
            DeployTarget::Version(n) => {
                self.version_in(&mut tx, d.model, n).await?;
                n
            }
            DeployTarget::PreviousHealthy => self.previous_healthy(&mut tx, d.model, d.env, from).await?,
        };
        if from == Some(to) {
            tx.rollback().await.map_err(self.err())?;
            return Ok(None);
        }
        let mut evidence = d.evidence;
        if let Some(guard) = d.guard
            && let Some(e) = self.judged(&mut tx, guard, d.model, d.env, from, to, d.kind).await?
        {
            evidence = Some(e);
        }
        sqlx::query(
            "INSERT INTO aliases (model, alias, version, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
        )
        .bind(d.model.as_str())
        .bind(d.env.as_str())
        .bind(to as i64)
        .bind(self.clock.now().millis())
        .execute(&mut *tx)
        .await
        .map_err(self.err())?;
        let m = MoveRow {
            model: d.model,
            alias: d.env,
            from,
            to: Some(to),
            reason: d.reason,
            kind: d.kind,
            evidence: evidence.as_ref(),
        };
        let ev = self.record_alias_move(&mut tx, m, actor).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(Some(ev))
    }

    /// Points an alias at a version: a plain move ([`MoveKind::Alias`]).
    pub(crate) async fn set_alias(
        &self,
        model: &ModelName,
        alias: &AliasName,
        n: u64,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<Option<AliasEvent>> {
        let d = Deploy {
            model,
            env: alias,
            to: DeployTarget::Version(n),
            kind: MoveKind::Alias,
            reason,
            evidence: None,
            guard: None,
        };
        self.deploy(d, actor).await
    }

    pub(crate) async fn remove_alias(
        &self,
        model: &ModelName,
        alias: &AliasName,
        actor: &Actor,
        reason: Option<&str>,
        guard: Option<&dyn MoveGuard>,
    ) -> Result<AliasEvent> {
        let mut tx = self.begin_write().await?;
        self.lock_model(&mut tx, model).await?;
        let Some(from) = self.current_alias(&mut tx, model, alias).await? else {
            return Err(RegistryError::AliasNotFound { model: model.to_string(), alias: alias.to_string() });
        };
        if let Some(guard) = guard {
            // Judged on the version the alias leaves.
            self.judged(&mut tx, guard, model, alias, Some(from), from, MoveKind::Alias).await?;
        }
        sqlx::query("DELETE FROM aliases WHERE model = $1 AND alias = $2")
            .bind(model.as_str())
            .bind(alias.as_str())
            .execute(&mut *tx)
            .await
            .map_err(self.err())?;
        let m = MoveRow { model, alias, from: Some(from), to: None, reason, kind: MoveKind::Alias, evidence: None };
        let ev = self.record_alias_move(&mut tx, m, actor).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(ev)
    }

    /// Reads the facts a guard judges a move on, inside the move's
    /// transaction, and asks it: the evidence to record, or the refusal
    /// (after rolling nothing forward: the caller's transaction is dropped).
    #[allow(clippy::too_many_arguments)]
    async fn judged(
        &self,
        tx: &mut AnyConnection,
        guard: &dyn MoveGuard,
        model: &ModelName,
        env: &AliasName,
        from: Option<u64>,
        to: u64,
        kind: MoveKind,
    ) -> Result<Option<serde_json::Value>> {
        let target = self.version_in(tx, model, to).await?;
        let policy = self.policy_on(tx).await?;
        let gates = self.gate_reports_on(tx, model, to).await?;
        let filter = ApprovalFilter { model: Some(model.clone()), version: Some(to), env: Some(env.clone()) };
        let approvals = self.approvals_on(tx, &filter).await?;
        let facts = MoveFacts {
            model,
            env,
            from,
            target: &target,
            kind,
            policy: policy.as_ref(),
            gates: &gates,
            approvals: &approvals,
        };
        guard.judge(&facts).map_err(|reason| RegistryError::MoveRefused {
            model: model.to_string(),
            env: env.to_string(),
            version: to,
            reason,
        })
    }

    pub(crate) async fn aliases(&self, model: &ModelName) -> Result<BTreeMap<String, u64>> {
        let rows = sqlx::query("SELECT alias, version FROM aliases WHERE model = $1")
            .bind(model.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(self.err())?;
        let mut out = BTreeMap::new();
        for r in rows {
            out.insert(
                r.try_get("alias").map_err(self.err())?,
                r.try_get::<i64, _>("version").map_err(self.err())? as u64,
            );
        }
        Ok(out)
    }

    /// Every move of a model's aliases (or of one alias), oldest first.
    pub(crate) async fn alias_history(&self, model: &ModelName, alias: Option<&AliasName>) -> Result<Vec<AliasEvent>> {
        let rows = match alias {
            Some(a) => {
                sqlx::query(
                    "SELECT id, model, alias, from_version, to_version, actor, reason, at, kind, evidence \
                     FROM alias_events WHERE model = $1 AND alias = $2 ORDER BY id",
                )
                .bind(model.as_str())
                .bind(a.as_str())
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query(
                    "SELECT id, model, alias, from_version, to_version, actor, reason, at, kind, evidence \
                     FROM alias_events WHERE model = $1 ORDER BY id",
                )
                .bind(model.as_str())
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(self.err())?;
        rows.iter().map(|r| self.ctx().alias_event(r)).collect()
    }

    /// The version an alias points at, read on `conn`.
    pub(crate) async fn current_alias(
        &self,
        conn: &mut AnyConnection,
        model: &ModelName,
        alias: &AliasName,
    ) -> Result<Option<u64>> {
        let v: Option<i64> = sqlx::query_scalar("SELECT version FROM aliases WHERE model = $1 AND alias = $2")
            .bind(model.as_str())
            .bind(alias.as_str())
            .fetch_optional(conn)
            .await
            .map_err(self.err())?;
        Ok(v.map(|v| v as u64))
    }

    /// The version an environment rolls back to by default: the most recent
    /// one it pointed at, other than `current`, that it did not leave by a
    /// rollback. Reads the history on `conn`, inside the deploy's transaction.
    async fn previous_healthy(
        &self,
        conn: &mut AnyConnection,
        model: &ModelName,
        env: &AliasName,
        current: Option<u64>,
    ) -> Result<u64> {
        let rows = sqlx::query(
            "SELECT from_version, to_version, kind FROM alias_events WHERE model = $1 AND alias = $2 ORDER BY id DESC",
        )
        .bind(model.as_str())
        .bind(env.as_str())
        .fetch_all(conn)
        .await
        .map_err(self.err())?;
        let mut moves = Vec::with_capacity(rows.len());
        for r in &rows {
            let from: Option<i64> = r.try_get("from_version").map_err(self.err())?;
            let to: Option<i64> = r.try_get("to_version").map_err(self.err())?;
            let kind: Option<String> = r.try_get("kind").map_err(self.err())?;
            let kind = kind.as_deref().and_then(MoveKind::parse).unwrap_or_default();
            moves.push((from.map(|f| f as u64), to.map(|t| t as u64), kind));
        }
        crate::deploy::previous_healthy(&moves, current).ok_or_else(|| RegistryError::NothingToRollBack {
            model: model.to_string(),
            env: env.to_string(),
            current,
            moves: moves.len(),
        })
    }

    /// Appends an alias move to its history and to the audit log.
    async fn record_alias_move(&self, conn: &mut AnyConnection, m: MoveRow<'_>, actor: &Actor) -> Result<AliasEvent> {
        let at = self.clock.now();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO alias_events (model, alias, from_version, to_version, actor, reason, at, kind, evidence) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(m.model.as_str())
        .bind(m.alias.as_str())
        .bind(m.from.map(|f| f as i64))
        .bind(m.to.map(|t| t as i64))
        .bind(actor.name.as_str())
        .bind(m.reason)
        .bind(at.millis())
        .bind(m.kind.as_str())
        .bind(m.evidence.map(to_json))
        .fetch_one(&mut *conn)
        .await
        .map_err(self.err())?;
        let action = m.action();
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: &action,
            model: Some(m.model.as_str()),
            version: m.to.or(m.from),
            before: Some(serde_json::json!({"alias": m.alias, "version": m.from}).to_string()),
            after: Some(serde_json::json!({"alias": m.alias, "version": m.to, "reason": m.reason}).to_string()),
        };
        self.insert_audit(conn, audit).await?;
        Ok(AliasEvent {
            id,
            model: m.model.clone(),
            alias: m.alias.clone(),
            from: m.from,
            to: m.to,
            actor: actor.name.clone(),
            reason: m.reason.map(str::to_string),
            at,
            kind: m.kind,
            evidence: m.evidence.cloned(),
        })
    }
}
