//! What people write about a model and its versions beyond the files: a
//! description and tags, both editable. A model may be created before its
//! first version, with them (as MLflow's clients do); a model without
//! versions may be deleted, a model with versions never is — its versions
//! are what rollbacks and the audit log rest on.

use std::collections::BTreeMap;

use berth_core::{ModelName, Timestamp, VersionRecord};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::db::Db;
use crate::rows::AuditRow;
use crate::{Actor, RegistryError, Result};

/// A model's own notes: its description and tags, and when it was created
/// and last changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelNotes {
    pub name: ModelName,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One change to the notes of a model or of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteEdit {
    /// Replaces the description; `None` clears it.
    Describe(Option<String>),
    /// Sets one tag.
    SetTag { key: String, value: String },
    /// Removes one tag (removing a tag that is not there changes nothing).
    RemoveTag { key: String },
}

impl NoteEdit {
    fn action(&self, what: &str) -> String {
        let verb = match self {
            NoteEdit::Describe(_) => "describe",
            NoteEdit::SetTag { .. } => "tag",
            NoteEdit::RemoveTag { .. } => "untag",
        };
        format!("{what}.{verb}")
    }
}

fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl Db {
    /// Creates `model` without versions, with a description and tags,
    /// audited as `model.create`. False (and nothing changed) when the model exists.
    pub(crate) async fn create_model(
        &self,
        model: &ModelName,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
        actor: &Actor,
    ) -> Result<bool> {
        let now = self.clock.now().millis();
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO models (name, next_version, created_at, updated_at, description) VALUES ($1, 1, $2, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(model.as_str())
        .bind(now)
        .bind(description)
        .execute(&mut *tx)
        .await
        .map_err(self.err())?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await.map_err(self.err())?;
            return Ok(false);
        }
        for (k, v) in tags {
            self.set_model_tag(&mut tx, model, k, v).await?;
        }
        let after = serde_json::json!({"description": description, "tags": tags});
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "model.create",
            model: Some(model.as_str()),
            version: None,
            before: None,
            after: Some(after.to_string()),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(true)
    }

    /// The notes of `model`.
    pub(crate) async fn model_notes(&self, model: &ModelName) -> Result<ModelNotes> {
        let mut conn = self.conn().await?;
        self.model_notes_in(&mut conn, model).await
    }

    async fn model_notes_in(&self, conn: &mut AnyConnection, model: &ModelName) -> Result<ModelNotes> {
        let row = sqlx::query("SELECT name, description, created_at, updated_at FROM models WHERE name = $1")
            .bind(model.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(self.err())?
            .ok_or_else(|| RegistryError::ModelNotFound(model.to_string()))?;
        let rows = sqlx::query("SELECT key, value FROM model_tags WHERE model = $1")
            .bind(model.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(self.err())?;
        let mut tags = BTreeMap::new();
        for r in rows {
            tags.insert(r.try_get("key").map_err(self.err())?, r.try_get("value").map_err(self.err())?);
        }
        let name: String = row.try_get("name").map_err(self.err())?;
        Ok(ModelNotes {
            name: self.ctx().model(&name)?,
            description: row.try_get("description").map_err(self.err())?,
            tags,
            created_at: Timestamp::from_millis(row.try_get("created_at").map_err(self.err())?),
            updated_at: Timestamp::from_millis(row.try_get("updated_at").map_err(self.err())?),
        })
    }

    async fn set_model_tag(&self, conn: &mut AnyConnection, model: &ModelName, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO model_tags (model, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (model, key) DO UPDATE SET value = excluded.value",
        )
        .bind(model.as_str())
        .bind(key)
        .bind(value)
        .execute(conn)
        .await
        .map_err(self.err())?;
        Ok(())
    }

    /// Changes the notes of `model` (audited as `model.describe`,
    /// `model.tag` or `model.untag`) and returns them as they now are.
    pub(crate) async fn edit_model(&self, model: &ModelName, edit: &NoteEdit, actor: &Actor) -> Result<ModelNotes> {
        let mut tx = self.begin_write().await?;
        self.lock_model(&mut tx, model).await?;
        let before = self.model_notes_in(&mut tx, model).await?;
        match edit {
            NoteEdit::Describe(d) => {
                sqlx::query("UPDATE models SET description = $2 WHERE name = $1")
                    .bind(model.as_str())
                    .bind(d.as_deref())
                    .execute(&mut *tx)
                    .await
                    .map_err(self.err())?;
            }
            NoteEdit::SetTag { key, value } => self.set_model_tag(&mut tx, model, key, value).await?,
            NoteEdit::RemoveTag { key } => {
                sqlx::query("DELETE FROM model_tags WHERE model = $1 AND key = $2")
                    .bind(model.as_str())
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.err())?;
            }
        }
        let after = self.model_notes_in(&mut tx, model).await?;
        let action = edit.action("model");
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: &action,
            model: Some(model.as_str()),
            version: None,
            before: Some(json(&serde_json::json!({"description": before.description, "tags": before.tags}))),
            after: Some(json(&serde_json::json!({"description": after.description, "tags": after.tags}))),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(after)
    }

    /// Changes the notes of version `n` of `model` (audited as
    /// `version.describe`, `version.tag` or `version.untag`).
    pub(crate) async fn edit_version(
        &self,
        model: &ModelName,
        n: u64,
        edit: &NoteEdit,
        actor: &Actor,
    ) -> Result<VersionRecord> {
        let mut tx = self.begin_write().await?;
        self.lock_model(&mut tx, model).await?;
        let before = self.version_in(&mut tx, model, n).await?;
        match edit {
            NoteEdit::Describe(d) => {
                sqlx::query("UPDATE versions SET description = $3 WHERE model = $1 AND version = $2")
                    .bind(model.as_str())
                    .bind(n as i64)
                    .bind(d.as_deref())
                    .execute(&mut *tx)
                    .await
                    .map_err(self.err())?;
            }
            NoteEdit::RemoveTag { key } => {
                sqlx::query("DELETE FROM version_tags WHERE model = $1 AND version = $2 AND key = $3")
                    .bind(model.as_str())
                    .bind(n as i64)
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.err())?;
            }
            NoteEdit::SetTag { key, value } => self.put_version_tag(&mut tx, model, n, key, value).await?,
        }
        let after = self.version_in(&mut tx, model, n).await?;
        let action = edit.action("version");
        let notes =
            |v: &VersionRecord| json(&serde_json::json!({"description": v.meta.description, "tags": v.meta.tags}));
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: &action,
            model: Some(model.as_str()),
            version: Some(n),
            before: Some(notes(&before)),
            after: Some(notes(&after)),
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(after)
    }

    /// Deletes `model`, which must have no versions (`ModelHasVersions`
    /// otherwise), with its tags; audited as `model.delete`.
    pub(crate) async fn delete_model(&self, model: &ModelName, actor: &Actor) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.lock_model(&mut tx, model).await?;
        let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM versions WHERE model = $1")
            .bind(model.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(self.err())?;
        if versions > 0 {
            return Err(RegistryError::ModelHasVersions { model: model.to_string(), versions: versions as u64 });
        }
        let before = self.model_notes_in(&mut tx, model).await?;
        for sql in ["DELETE FROM model_tags WHERE model = $1", "DELETE FROM models WHERE name = $1"] {
            sqlx::query(sql).bind(model.as_str()).execute(&mut *tx).await.map_err(self.err())?;
        }
        let audit = AuditRow {
            actor: &actor.name,
            token: actor.token.as_deref(),
            action: "model.delete",
            model: Some(model.as_str()),
            version: None,
            before: Some(json(&serde_json::json!({"description": before.description, "tags": before.tags}))),
            after: None,
        };
        self.insert_audit(&mut tx, audit).await?;
        tx.commit().await.map_err(self.err())?;
        Ok(())
    }
}
