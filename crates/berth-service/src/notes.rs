//! What people write about a model and its versions: descriptions and tags,
//! editable by publishers; creating a model before its first version (with
//! them), and deleting one that never had a version (nothing rests on it, so
//! whoever may create it may delete it).

use std::collections::BTreeMap;

use berth_core::{ModelName, Ref, Role, VersionRecord};
use berth_registry::{ModelNotes, NoteEdit};

use crate::{Berth, Result, ServiceError};

impl Berth {
    /// Creates `model` without versions; a conflict when it exists.
    pub async fn create_model(
        &self,
        model: &ModelName,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<ModelNotes> {
        self.allow(Role::Publisher, Some(model), None)?;
        if !self.registry.create_model(model, description, tags, &self.actor).await? {
            return Err(ServiceError::Conflict {
                message: format!("model {model} exists already"),
                hint: Some(format!("push a version to it, or `berth versions {model}` to see what it holds")),
            });
        }
        Ok(self.registry.model_notes(model).await?)
    }

    /// A model's description and tags.
    pub async fn model_notes(&self, model: &ModelName) -> Result<ModelNotes> {
        self.allow(Role::Reader, Some(model), None)?;
        Ok(self.registry.model_notes(model).await?)
    }

    /// Changes a model's description or one of its tags.
    pub async fn edit_model(&self, model: &ModelName, edit: &NoteEdit) -> Result<ModelNotes> {
        self.allow(Role::Publisher, Some(model), None)?;
        Ok(self.registry.edit_model(model, edit, &self.actor).await?)
    }

    /// Changes the description or one tag of the version `r` names.
    pub async fn edit_version(&self, r: &Ref, edit: &NoteEdit) -> Result<VersionRecord> {
        self.allow(Role::Publisher, Some(&r.model), None)?;
        let v = self.registry.resolve(r).await?;
        Ok(self.registry.edit_version(&v.model, v.version, edit, &self.actor).await?)
    }

    /// Deletes a model that has no versions; one with versions is a conflict.
    pub async fn delete_model(&self, model: &ModelName) -> Result<()> {
        self.allow(Role::Publisher, Some(model), None)?;
        Ok(self.registry.delete_model(model, &self.actor).await?)
    }
}

#[cfg(test)]
mod tests {
    use berth_core::{Grant, ModelPattern};

    use super::*;
    use crate::testing::project;
    use crate::{ErrorKind, Principal};

    fn churn() -> ModelName {
        ModelName::parse("churn").unwrap()
    }

    fn as_role(b: &Berth, role: Role) -> Berth {
        let grant = Grant { role, models: ModelPattern::parse("*").unwrap(), envs: Vec::new() };
        b.acting_as(Principal { name: "ci".into(), token: Some("tok_1".into()), grant })
    }

    #[tokio::test]
    async fn a_model_is_created_once_and_edited_and_deleted_by_publishers() {
        let (_dir, b) = project().await;
        let tags = BTreeMap::from([("team".to_string(), "growth".to_string())]);
        let reader = as_role(&b, Role::Reader);
        assert_eq!(reader.create_model(&churn(), None, &tags).await.unwrap_err().kind(), ErrorKind::Denied);
        let publisher = as_role(&b, Role::Publisher);
        let notes = publisher.create_model(&churn(), Some("who leaves"), &tags).await.unwrap();
        assert_eq!((notes.description.as_deref(), notes.tags), (Some("who leaves"), tags.clone()));
        let again = publisher.create_model(&churn(), None, &tags).await.unwrap_err();
        assert_eq!(again.kind(), ErrorKind::Conflict);
        assert!(again.message().contains("exists already"), "{}", again.message());

        let edit = NoteEdit::Describe(Some("churn in 30 days".into()));
        assert_eq!(reader.edit_model(&churn(), &edit).await.unwrap_err().kind(), ErrorKind::Denied);
        publisher.edit_model(&churn(), &edit).await.unwrap();
        assert_eq!(reader.model_notes(&churn()).await.unwrap().description.as_deref(), Some("churn in 30 days"));

        assert_eq!(reader.delete_model(&churn()).await.unwrap_err().kind(), ErrorKind::Denied);
        publisher.delete_model(&churn()).await.unwrap();
        assert_eq!(b.model_notes(&churn()).await.unwrap_err().kind(), ErrorKind::NotFound);
    }
}
