//! `registered-models/*`: a berth model seen as MLflow's registered model —
//! created, read, searched, described, tagged, deleted (only without
//! versions) — and its aliases. An alias that berth's policy governs (an
//! environment with a section, such as production) is set by promotion: it
//! moves only when the policy holds, and is refused with everything missing.

use std::collections::BTreeMap;

use axum::Extension;
use axum::http::StatusCode;
use axum::response::Response;
use berth_core::{ModelName, Ref, VersionRecord};
use berth_service::{Berth, ErrorKind, NoteEdit};
use serde_json::{Value, json};

use super::entities::{model_version, registered_model};
use super::request::Fields;
use super::search::{Filter, Key, page, page_offset};
use super::{Answer, MlflowError, empty};
use crate::auth::Caller;
use crate::body;

/// The model's newest version (if any) and its aliases.
async fn latest_and_aliases(
    b: &Berth,
    model: &ModelName,
) -> Result<(Option<VersionRecord>, BTreeMap<String, u64>), MlflowError> {
    let page = b.versions_page(model, None, Some(1)).await?;
    Ok((page.versions.into_iter().next(), page.aliases))
}

async fn describe(b: &Berth, model: &ModelName) -> Result<Value, MlflowError> {
    let notes = b.model_notes(model).await?;
    let (latest, aliases) = latest_and_aliases(b, model).await?;
    Ok(registered_model(&notes, latest.as_ref(), &aliases))
}

fn one(model: Value) -> Response {
    body::ok(&json!({ "registered_model": model }))
}

pub(crate) async fn create(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let model = f.model("name")?;
    let tags: BTreeMap<String, String> = f.tags("tags")?.into_iter().collect();
    match b.create_model(&model, f.text("description")?.as_deref(), &tags).await {
        Ok(_) => Ok(one(describe(&b, &model).await?)),
        // MLflow's own clients (`mlflow.register_model`) look for this code.
        Err(e) if e.kind() == ErrorKind::Conflict => Err(MlflowError::new(
            StatusCode::BAD_REQUEST,
            "RESOURCE_ALREADY_EXISTS",
            format!("Registered Model (name={model}) already exists."),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn get(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    Ok(one(describe(&b, &f.model("name")?).await?))
}

pub(crate) async fn search(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let filter = Filter::parse(f.text("filter")?.as_deref())?;
    let max = f.number("max_results")?.unwrap_or(100).clamp(1, 10_000) as usize;
    let offset = page_offset(f.text("page_token")?.as_deref())?;
    let mut found = Vec::new();
    for m in b.models().await? {
        let notes = b.model_notes(&m.name).await?;
        let hit = filter.matches(|k| match k {
            Key::Name => Some(m.name.to_string()),
            Key::Tag(t) => notes.tags.get(t).cloned(),
            Key::RunId | Key::VersionNumber => None,
        });
        if hit {
            found.push(notes);
        }
    }
    let (notes, next) = page(found, offset, max);
    let mut models = Vec::with_capacity(notes.len());
    for n in &notes {
        let (latest, aliases) = latest_and_aliases(&b, &n.name).await?;
        models.push(registered_model(n, latest.as_ref(), &aliases));
    }
    let mut out = json!({ "registered_models": models });
    if let Some(next) = next {
        out["next_page_token"] = json!(next);
    }
    Ok(body::ok(&out))
}

pub(crate) async fn update(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let model = f.model("name")?;
    if let Some(d) = f.text("description")? {
        b.edit_model(&model, &NoteEdit::Describe(Some(d).filter(|d| !d.is_empty()))).await?;
    }
    Ok(one(describe(&b, &model).await?))
}

pub(crate) async fn delete(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    b.delete_model(&f.model("name")?).await?;
    Ok(empty())
}

pub(crate) async fn set_tag(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let edit = NoteEdit::SetTag { key: f.required("key")?, value: f.text("value")?.unwrap_or_default() };
    b.edit_model(&f.model("name")?, &edit).await?;
    Ok(empty())
}

pub(crate) async fn delete_tag(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    b.edit_model(&f.model("name")?, &NoteEdit::RemoveTag { key: f.required("key")? }).await?;
    Ok(empty())
}

/// The newest version, for the deprecated `get-latest-versions` (berth has no stages).
pub(crate) async fn latest_versions(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let model = f.model("name")?;
    let (latest, aliases) = latest_and_aliases(&b, &model).await?;
    let versions: Vec<Value> = latest.iter().map(|v| model_version(v, &aliases)).collect();
    Ok(body::ok(&json!({ "model_versions": versions })))
}

/// Points an alias at a version: an environment the policy governs by
/// promotion, under the policy; any other alias directly.
pub(crate) async fn set_alias(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let (model, alias, n) = (f.model("name")?, f.alias("alias")?, f.version("version")?);
    let reason = Some("set through the MLflow API");
    if !b.governed(&alias).await? {
        b.alias_set(&model, &alias, n, reason).await?;
        return Ok(empty());
    }
    let report = b.promote(&Ref::version(model.clone(), n), &alias, reason).await?;
    if report.promoted || report.missing.is_empty() {
        return Ok(empty());
    }
    let missing: Vec<String> = report.missing.iter().map(|l| format!("{} (fix: {})", l.message, l.fix)).collect();
    Err(MlflowError::new(
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
        format!(
            "{model}@{alias} is an environment berth's policy governs, and version {n} does not meet it yet: {}",
            missing.join("; ")
        ),
    ))
}

pub(crate) async fn get_alias(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let (model, alias) = (f.model("name")?, f.alias("alias")?);
    let v = b.resolve(&Ref { model: model.clone(), selector: berth_core::Selector::Alias(alias) }).await?;
    let (_, aliases) = latest_and_aliases(&b, &model).await?;
    Ok(body::ok(&json!({ "model_version": model_version(&v, &aliases) })))
}

pub(crate) async fn delete_alias(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    b.alias_rm(&f.model("name")?, &f.alias("alias")?, Some("removed through the MLflow API")).await?;
    Ok(empty())
}
