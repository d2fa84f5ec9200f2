//! Turning rows into records, and the rows the registry appends.

use std::collections::BTreeMap;

use berth_core::{
    AliasEvent, AliasName, Approval, AuditEntry, Delivery, DeliveryStatus, Digest, GateRecord, Grant, Lineage,
    ModelName, ModelPattern, MonitorRecord, MoveKind, Role, Timestamp, VersionMeta, VersionRecord, VersionStatus,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::{RegistryError, Result};

pub(crate) struct Ctx<'a> {
    pub url: &'a str,
}

impl Ctx<'_> {
    fn bad(&self, what: &'static str, detail: impl ToString) -> RegistryError {
        RegistryError::BadRow { url: self.url.to_string(), what, detail: detail.to_string() }
    }

    fn get<'r, T>(&self, row: &'r AnyRow, name: &'static str) -> Result<T>
    where
        T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
    {
        row.try_get(name).map_err(|e| self.bad(name, e))
    }

    fn json<T: serde::de::DeserializeOwned>(&self, what: &'static str, s: &str) -> Result<T> {
        serde_json::from_str(s).map_err(|e| self.bad(what, e))
    }

    pub fn model(&self, s: &str) -> Result<ModelName> {
        ModelName::parse(s).map_err(|e| self.bad("model", e))
    }

    pub fn version(&self, row: &AnyRow, tags: BTreeMap<String, String>) -> Result<VersionRecord> {
        let model: String = self.get(row, "model")?;
        let manifest: String = self.get(row, "manifest")?;
        let signature: Option<String> = self.get(row, "signature")?;
        let params: String = self.get(row, "params")?;
        let metrics: String = self.get(row, "metrics")?;
        let lineage: String = self.get(row, "lineage")?;
        let status: String = self.get(row, "status")?;
        Ok(VersionRecord {
            model: self.model(&model)?,
            version: self.get::<i64>(row, "version")? as u64,
            manifest: Digest::parse(&manifest).map_err(|e| self.bad("manifest", e))?,
            size: self.get::<i64>(row, "size")? as u64,
            meta: VersionMeta {
                format: self.get(row, "format")?,
                signature: signature.map(|s| self.json("signature", &s)).transpose()?,
                params: self.json("params", &params)?,
                metrics: self.json("metrics", &metrics)?,
                tags,
                description: self.get(row, "description")?,
                lineage: self.json::<Lineage>("lineage", &lineage)?,
            },
            created_by: self.get(row, "created_by")?,
            created_at: Timestamp::from_millis(self.get(row, "created_at")?),
            status: VersionStatus::parse(&status).ok_or_else(|| self.bad("status", &status))?,
        })
    }

    pub fn alias_event(&self, row: &AnyRow) -> Result<AliasEvent> {
        let model: String = self.get(row, "model")?;
        let alias: String = self.get(row, "alias")?;
        Ok(AliasEvent {
            id: self.get(row, "id")?,
            model: self.model(&model)?,
            alias: AliasName::parse(&alias).map_err(|e| self.bad("alias", e))?,
            from: self.get::<Option<i64>>(row, "from_version")?.map(|v| v as u64),
            to: self.get::<Option<i64>>(row, "to_version")?.map(|v| v as u64),
            actor: self.get(row, "actor")?,
            reason: self.get(row, "reason")?,
            at: Timestamp::from_millis(self.get(row, "at")?),
            kind: match self.get::<Option<String>>(row, "kind")? {
                None => MoveKind::Alias,
                Some(k) => MoveKind::parse(&k).ok_or_else(|| self.bad("kind", &k))?,
            },
            evidence: self.get::<Option<String>>(row, "evidence")?.map(|e| self.json("evidence", &e)).transpose()?,
        })
    }

    pub fn approval(&self, row: &AnyRow) -> Result<Approval> {
        let model: String = self.get(row, "model")?;
        let env: String = self.get(row, "env")?;
        Ok(Approval {
            id: self.get(row, "id")?,
            model: self.model(&model)?,
            version: self.get::<i64>(row, "version")? as u64,
            env: AliasName::parse(&env).map_err(|e| self.bad("env", e))?,
            approver: self.get(row, "approver")?,
            comment: self.get(row, "comment")?,
            at: Timestamp::from_millis(self.get(row, "at")?),
        })
    }

    pub fn delivery(&self, row: &AnyRow) -> Result<Delivery> {
        let model: Option<String> = self.get(row, "model")?;
        let status: String = self.get(row, "status")?;
        Ok(Delivery {
            id: self.get(row, "id")?,
            event_id: self.get(row, "event_id")?,
            event: self.get(row, "event")?,
            model: model.map(|m| self.model(&m)).transpose()?,
            notifier: self.get(row, "notifier")?,
            target: self.get(row, "target")?,
            status: DeliveryStatus::parse(&status).ok_or_else(|| self.bad("status", &status))?,
            attempts: self.get::<i64>(row, "attempts")? as u32,
            last_status: self.get::<Option<i64>>(row, "last_status")?.map(|s| s as u16),
            last_error: self.get(row, "last_error")?,
            created_at: Timestamp::from_millis(self.get(row, "created_at")?),
            finished_at: self.get::<Option<i64>>(row, "finished_at")?.map(Timestamp::from_millis),
        })
    }

    pub fn gate_record(&self, row: &AnyRow) -> Result<GateRecord> {
        let model: String = self.get(row, "model")?;
        let report: String = self.get(row, "report")?;
        Ok(GateRecord {
            id: self.get(row, "id")?,
            model: self.model(&model)?,
            version: self.get::<i64>(row, "version")? as u64,
            gate: self.get(row, "gate")?,
            data_digest: self.get(row, "data_digest")?,
            passed: self.get::<i64>(row, "passed")? != 0,
            created_by: self.get(row, "created_by")?,
            created_at: Timestamp::from_millis(self.get(row, "created_at")?),
            report: serde_json::from_str(&report).map_err(|e| self.bad("report", e))?,
        })
    }

    pub fn monitor_record(&self, row: &AnyRow) -> Result<MonitorRecord> {
        let model: String = self.get(row, "model")?;
        let env: String = self.get(row, "env")?;
        let report: String = self.get(row, "report")?;
        Ok(MonitorRecord {
            id: self.get(row, "id")?,
            model: self.model(&model)?,
            version: self.get::<i64>(row, "version")? as u64,
            env: AliasName::parse(&env).map_err(|e| self.bad("env", e))?,
            degraded: self.get::<i64>(row, "degraded")? != 0,
            drift: self.get::<i64>(row, "drift")? != 0,
            created_by: self.get(row, "created_by")?,
            created_at: Timestamp::from_millis(self.get(row, "created_at")?),
            report: self.json("report", &report)?,
        })
    }

    pub fn audit(&self, row: &AnyRow) -> Result<AuditEntry> {
        let model: Option<String> = self.get(row, "model")?;
        let before: Option<String> = self.get(row, "before_json")?;
        let after: Option<String> = self.get(row, "after_json")?;
        Ok(AuditEntry {
            id: self.get(row, "id")?,
            at: Timestamp::from_millis(self.get(row, "at")?),
            actor: self.get(row, "actor")?,
            token: self.get(row, "token")?,
            action: self.get(row, "action")?,
            model: model.map(|m| self.model(&m)).transpose()?,
            version: self.get::<Option<i64>>(row, "version")?.map(|v| v as u64),
            before: before.map(|s| self.json("before_json", &s)).transpose()?,
            after: after.map(|s| self.json("after_json", &s)).transpose()?,
        })
    }

    pub fn token(&self, row: &AnyRow) -> Result<crate::TokenRecord> {
        let role: String = self.get(row, "role")?;
        let models: String = self.get(row, "models")?;
        let envs: String = self.get(row, "envs")?;
        let envs: Vec<String> = self.json("envs", &envs)?;
        let envs = envs
            .iter()
            .map(|e| AliasName::parse(e).map_err(|err| self.bad("envs", err)))
            .collect::<Result<Vec<_>>>()?;
        let millis = |name: &'static str| -> Result<Option<Timestamp>> {
            Ok(self.get::<Option<i64>>(row, name)?.map(Timestamp::from_millis))
        };
        Ok(crate::TokenRecord {
            id: self.get(row, "id")?,
            prefix: self.get(row, "prefix")?,
            principal: self.get(row, "principal")?,
            grant: Grant {
                role: Role::parse(&role).ok_or_else(|| self.bad("role", &role))?,
                models: ModelPattern::parse(&models).map_err(|e| self.bad("models", e))?,
                envs,
            },
            created_by: self.get(row, "created_by")?,
            created_at: Timestamp::from_millis(self.get(row, "created_at")?),
            expires_at: millis("expires_at")?,
            revoked_at: millis("revoked_at")?,
            revoked_by: self.get(row, "revoked_by")?,
            last_used_at: millis("last_used_at")?,
        })
    }

    pub fn policy(&self, row: &AnyRow) -> Result<crate::PolicyRecord> {
        let document: String = self.get(row, "document")?;
        Ok(crate::PolicyRecord {
            version: self.get::<i64>(row, "version")? as u64,
            document: self.json("document", &document)?,
            digest: self.get(row, "digest")?,
            applied_by: self.get(row, "applied_by")?,
            applied_at: Timestamp::from_millis(self.get(row, "applied_at")?),
            source: self.get(row, "source")?,
        })
    }

    pub fn digest(&self, s: &str) -> Result<Digest> {
        Digest::parse(s).map_err(|e| self.bad("digest", e))
    }
}

/// One audit entry to append.
pub(crate) struct AuditRow<'a> {
    pub actor: &'a str,
    /// The id of the token the actor came with.
    pub token: Option<&'a str>,
    pub action: &'a str,
    pub model: Option<&'a str>,
    pub version: Option<u64>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One move of an environment (alias), as `record_alias_move` writes it.
pub(crate) struct MoveRow<'a> {
    pub model: &'a ModelName,
    pub alias: &'a AliasName,
    pub from: Option<u64>,
    pub to: Option<u64>,
    pub reason: Option<&'a str>,
    pub kind: MoveKind,
    pub evidence: Option<&'a serde_json::Value>,
}

impl MoveRow<'_> {
    /// The audit action: `alias.set`/`alias.remove` for plain moves, `env.<kind>` otherwise.
    pub fn action(&self) -> String {
        match (self.kind, self.to) {
            (MoveKind::Alias, Some(_)) => "alias.set".into(),
            (MoveKind::Alias, None) => "alias.remove".into(),
            (k, _) => format!("env.{}", k.as_str()),
        }
    }
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("records always serialise")
}
