//! `model-versions/*`: berth's versions as MLflow's model versions. A
//! version is created from files uploaded through the artifact proxy
//! (`source` is `mlflow-artifacts:/MODEL/DIR`, under the model's own name):
//! an ordinary berth version of those files, content-addressed, gateable
//! and servable. Descriptions and tags are editable; versions are never
//! deleted, since rollbacks and the audit log rest on them.

use std::collections::BTreeMap;

use axum::Extension;
use axum::response::Response;
use berth_core::{Lineage, ModelName, Ref, VersionMeta, VersionRecord};
use berth_service::{Berth, NoteEdit};
use serde_json::{Value, json};

use super::artifacts::{Place, version_uri};
use super::entities::{RUN_ID_KEY, SOURCE_KEY, model_version};
use super::request::Fields;
use super::search::{Filter, Key, page, page_offset};
use super::{Answer, MlflowError, empty};
use crate::auth::Caller;
use crate::body;

async fn aliases(b: &Berth, model: &ModelName) -> Result<BTreeMap<String, u64>, MlflowError> {
    Ok(b.versions_page(model, None, Some(1)).await?.aliases)
}

async fn one(b: &Berth, v: &VersionRecord) -> Result<Response, MlflowError> {
    let aliases = aliases(b, &v.model).await?;
    Ok(body::ok(&json!({ "model_version": model_version(v, &aliases) })))
}

fn named(f: &Fields) -> Result<Ref, MlflowError> {
    Ok(Ref::version(f.model("name")?, f.version("version")?))
}

pub(crate) async fn create(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let model = f.model("name")?;
    let source = f.required("source")?;
    let dir = match Place::of_uri(&source)? {
        Place::Staged { model: m, path } if m == model => path,
        Place::Staged { model: m, .. } => {
            return Err(MlflowError::invalid(format!(
                "source {source:?} holds files of model {m}, not of {model}: upload {model}'s files under \
                 mlflow-artifacts:/{model}/…"
            )));
        }
        _ => {
            return Err(MlflowError::invalid(format!(
                "source {source:?} is not a directory of uploaded files: upload the model's files through this hub's \
                 artifact proxy under mlflow-artifacts:/{model}/DIR and pass that URI"
            )));
        }
    };
    let mut lineage = Lineage::default();
    lineage.extra.insert(SOURCE_KEY.into(), source);
    if let Some(run) = f.text("run_id")?.filter(|r| !r.is_empty()) {
        lineage.extra.insert(RUN_ID_KEY.into(), run);
    }
    let meta = VersionMeta {
        tags: f.tags("tags")?.into_iter().collect(),
        description: f.text("description")?.filter(|d| !d.is_empty()),
        lineage,
        ..VersionMeta::default()
    };
    let report = b.version_from_staged(&model, &dir, meta).await?;
    one(&b, &report.version).await
}

pub(crate) async fn get(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let v = b.resolve(&named(&f)?).await?;
    one(&b, &v).await
}

pub(crate) async fn search(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let filter = Filter::parse(f.text("filter")?.as_deref())?;
    let max = f.number("max_results")?.unwrap_or(10_000).clamp(1, 100_000) as usize;
    let offset = page_offset(f.text("page_token")?.as_deref())?;
    // A filter on one name reads one model's versions, not every model's.
    let named: Vec<ModelName> = filter
        .0
        .iter()
        .filter(|c| c.key == Key::Name && c.op == super::search::Op::Eq)
        .filter_map(|c| ModelName::parse(&c.value).ok())
        .collect();
    let models = if named.is_empty() { b.models().await?.into_iter().map(|m| m.name).collect() } else { named };
    let mut found = Vec::new();
    for m in &models {
        let listing = match b.versions_page(m, None, None).await {
            Ok(l) => l,
            Err(e) if e.kind() == berth_service::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        for v in listing.versions {
            let hit = filter.matches(|k| match k {
                Key::Name => Some(v.model.to_string()),
                Key::RunId => v.meta.lineage.extra.get(RUN_ID_KEY).cloned(),
                Key::VersionNumber => Some(v.version.to_string()),
                Key::Tag(t) => v.meta.tags.get(t).cloned(),
            });
            if hit {
                found.push(model_version(&v, &listing.aliases));
            }
        }
    }
    let (versions, next): (Vec<Value>, _) = page(found, offset, max);
    let mut out = json!({ "model_versions": versions });
    if let Some(next) = next {
        out["next_page_token"] = json!(next);
    }
    Ok(body::ok(&out))
}

pub(crate) async fn update(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let r = named(&f)?;
    let v = match f.text("description")? {
        Some(d) => b.edit_version(&r, &NoteEdit::Describe(Some(d).filter(|d| !d.is_empty()))).await?,
        None => b.resolve(&r).await?,
    };
    one(&b, &v).await
}

pub(crate) async fn delete(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let v = b.resolve(&named(&f)?).await?;
    Err(MlflowError::conflict(format!(
        "berth keeps every version: {}@{} stays, because rollbacks and the audit log rest on versions; move aliases \
         away from it instead (`berth alias rm`, or delete the alias through this API)",
        v.model, v.version
    )))
}

pub(crate) async fn set_tag(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let edit = NoteEdit::SetTag { key: f.required("key")?, value: f.text("value")?.unwrap_or_default() };
    b.edit_version(&named(&f)?, &edit).await?;
    Ok(empty())
}

pub(crate) async fn delete_tag(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    b.edit_version(&named(&f)?, &NoteEdit::RemoveTag { key: f.required("key")? }).await?;
    Ok(empty())
}

pub(crate) async fn download_uri(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let v = b.resolve(&named(&f)?).await?;
    Ok(body::ok(&json!({ "artifact_uri": version_uri(&v.model, v.version) })))
}

/// Stages are MLflow's older way to deploy; berth's environments replace them.
pub(crate) async fn transition_stage(f: Fields) -> Answer {
    let r = named(&f)?;
    Err(MlflowError::invalid(format!(
        "berth has no model stages: set an alias instead (e.g. `production` on {}@{}), which berth's policy governs \
         like a promotion",
        r.model,
        match r.selector {
            berth_core::Selector::Version(n) => n.to_string(),
            _ => "N".into(),
        }
    )))
}
