//! MLflow's artifact proxy, `/api/2.0/mlflow-artifacts/artifacts`, over
//! berth's files. Its paths begin with a model's name:
//!
//! - `MODEL/versions/N/…` is version N's files, read-only — what
//!   `get-download-uri` hands out, so `models:/MODEL@ALIAS` loads through
//!   it. A version with one `.onnx` file and no `MLmodel` of its own is
//!   listed with a generated `MLmodel` (flavors `python_function`, loaded by
//!   `mlflow.onnx`, and `onnx`), so `mlflow.pyfunc.load_model` runs it;
//! - `MODEL/anything/else` is files staged under the model, uploaded one by
//!   one (`PUT`), until `model-versions/create` makes a version of a
//!   directory of them.
//!
//! The root lists the models the caller may read, a model its staged
//! directories and `versions`. Listing a path that holds nothing is an
//! empty list, as MLflow's own server answers.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use berth_core::{Manifest, ModelName, Ref, RelPath, VersionRecord};
use serde_json::json;

use super::request::Fields;
use super::{Answer, MlflowError, empty};
use crate::Hub;
use crate::auth::Caller;
use crate::blobs;

/// The directory under a model that holds its versions.
const VERSIONS: &str = "versions";
/// The file MLflow reads a model's flavors from.
const MLMODEL: &str = "MLmodel";

/// The artifact URI of a version's files.
pub(crate) fn version_uri(model: &ModelName, n: u64) -> String {
    format!("mlflow-artifacts:/{model}/{VERSIONS}/{n}")
}

/// What an artifact path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// The root: every model.
    Root,
    /// A model: its staged directories and its versions.
    Model(ModelName),
    /// The directory of a model's versions.
    Versions(ModelName),
    /// A path inside a version (`""`: the version's root).
    Version { model: ModelName, version: u64, path: String },
    /// A path among the files staged under a model.
    Staged { model: ModelName, path: String },
}

impl Place {
    /// What `path` (relative to the proxy's root) names.
    pub fn of_path(path: &str) -> Result<Place, MlflowError> {
        let path = path.trim_matches('/');
        if path.split('/').any(|s| s == ".." || s == ".") {
            return Err(MlflowError::invalid(format!("artifact path {path:?} may not contain '.' or '..'")));
        }
        let mut parts = path.splitn(4, '/');
        let Some(m) = parts.next().filter(|m| !m.is_empty()) else { return Ok(Place::Root) };
        let model = ModelName::parse(m).map_err(|e| {
            MlflowError::invalid(format!(
                "artifact path {path:?} must begin with a berth model name ({e}): upload under MODEL/…, e.g. churn/run-1/model"
            ))
        })?;
        let rest: Vec<&str> = parts.collect();
        match rest.as_slice() {
            [] => Ok(Place::Model(model)),
            [VERSIONS] => Ok(Place::Versions(model)),
            [VERSIONS, n, tail @ ..] => {
                let version = n.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    MlflowError::invalid(format!(
                        "artifact path {path:?}: {model}/{VERSIONS}/ holds version numbers, not {n:?}"
                    ))
                })?;
                Ok(Place::Version { model, version, path: tail.join("/") })
            }
            _ => Ok(Place::Staged { model, path: rest.join("/") }),
        }
    }

    /// What an artifact URI (`mlflow-artifacts:/PATH`, or with a host,
    /// `mlflow-artifacts://HOST/PATH`) names.
    pub fn of_uri(uri: &str) -> Result<Place, MlflowError> {
        let Some(rest) = uri.strip_prefix("mlflow-artifacts:") else {
            return Err(MlflowError::invalid(format!(
                "{uri:?} is not an mlflow-artifacts: URI; upload through this hub's artifact proxy and name the \
                 directory as mlflow-artifacts:/MODEL/DIR"
            )));
        };
        let path = match rest.strip_prefix("//") {
            Some(with_host) => with_host.split_once('/').map(|(_, p)| p).unwrap_or(""),
            None => rest,
        };
        Place::of_path(path)
    }
}

/// One entry of a listing, as MLflow's `FileInfo`: a name relative to the
/// listed directory, whether it is a directory, and a file's size.
fn entry(name: &str, size: Option<u64>) -> serde_json::Value {
    match size {
        Some(s) => json!({"path": name, "is_dir": false, "file_size": s}),
        None => json!({"path": name, "is_dir": true}),
    }
}

/// The entries directly under `dir` of `files` (path → size): files with
/// their sizes, subdirectories once each.
fn children<'a>(files: impl Iterator<Item = (&'a str, u64)>, dir: &str) -> Vec<serde_json::Value> {
    let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
    let mut out: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for (path, size) in files {
        let Some(rest) = path.strip_prefix(&prefix) else { continue };
        match rest.split_once('/') {
            Some((sub, _)) => out.insert(sub.to_string(), None),
            None => out.insert(rest.to_string(), Some(size)),
        };
    }
    out.iter().map(|(name, size)| entry(name, *size)).collect()
}

/// The `MLmodel` berth describes a version with, when it holds one ONNX
/// file at its root and no `MLmodel` of its own.
fn generated_mlmodel(v: &VersionRecord, manifest: &Manifest) -> Option<String> {
    if manifest.files.keys().any(|p| p.as_str() == MLMODEL) {
        return None;
    }
    let mut onnx = manifest.files.keys().map(RelPath::as_str).filter(|p| !p.contains('/') && p.ends_with(".onnx"));
    let (Some(file), None) = (onnx.next(), onnx.next()) else { return None };
    // JSON strings are YAML strings, so the file name needs no other quoting.
    let data = serde_json::to_string(file).ok()?;
    Some(format!(
        "artifact_path: model\n\
         flavors:\n  \
           onnx:\n    \
             data: {data}\n    \
             providers:\n    - CPUExecutionProvider\n  \
           python_function:\n    \
             data: {data}\n    \
             loader_module: mlflow.onnx\n\
         model_uuid: {uuid}\n\
         berth_version: \"{model}@{n}\"\n",
        uuid = &v.manifest.hex()[..32],
        model = v.model,
        n = v.version,
    ))
}

/// `GET …/artifacts?path=P`: what is directly under P.
pub(crate) async fn list(Extension(Caller(b)): Extension<Caller>, f: Fields) -> Answer {
    let files = match Place::of_path(f.text("path")?.as_deref().unwrap_or(""))? {
        Place::Root => b.models().await?.iter().map(|m| entry(m.name.as_str(), None)).collect(),
        Place::Model(model) => {
            let staged = b.staged_files(&model, "").await?;
            let mut out = children(staged.iter().map(|f| (f.path.as_str(), f.size)), "");
            out.push(entry(VERSIONS, None));
            out.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
            out
        }
        Place::Versions(model) => {
            let versions = b.versions_page(&model, None, None).await?.versions;
            versions.iter().rev().map(|v| entry(&v.version.to_string(), None)).collect()
        }
        Place::Version { model, version, path } => {
            let v = b.resolve(&Ref::version(model, version)).await?;
            let manifest = b.manifest(&v).await?;
            let generated = generated_mlmodel(&v, &manifest);
            let mut files: Vec<(&str, u64)> = manifest.files.iter().map(|(p, e)| (p.as_str(), e.size)).collect();
            if let Some(g) = &generated {
                files.push((MLMODEL, g.len() as u64));
            }
            children(files.into_iter(), &path)
        }
        Place::Staged { model, path } => {
            let staged = b.staged_files(&model, &path).await?;
            children(staged.iter().map(|f| (f.path.as_str(), f.size)), &path)
        }
    };
    Ok(crate::body::ok(&json!({ "files": files })))
}

fn not_there(path: &str) -> MlflowError {
    MlflowError::missing(format!("no artifact at {path:?}: list its directory with ?path= to see what is there"))
}

/// Files up to this size are read whole (verified) and sent from memory;
/// larger ones are spooled to a file and streamed.
const IN_MEMORY: u64 = 4 << 20;

fn octets(body: Body, len: u64) -> Response {
    let mut answer = Response::new(body);
    let h = answer.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    answer
}

/// `GET …/artifacts/P`: one file, verified as it is read.
pub(crate) async fn download(
    State(hub): State<std::sync::Arc<Hub>>,
    Extension(Caller(b)): Extension<Caller>,
    Path(path): Path<String>,
) -> Answer {
    let dir = hub.spool().await?;
    let spool = tempfile::TempDir::new_in(&dir).map_err(|e| blobs::spool_error(&dir, e))?;
    let dest = spool.path().join("file");
    let found = match Place::of_path(&path)? {
        Place::Version { model, version, path: file } => {
            let v = b.resolve(&Ref::version(model, version)).await?;
            let manifest = b.manifest(&v).await?;
            match manifest.files.iter().find(|(p, _)| p.as_str() == file) {
                // Small files (an MLmodel, most ONNX exports) go out from memory.
                Some((_, e)) if e.size <= IN_MEMORY => {
                    let bytes = b.version_file_of(&v, &manifest, &file).await?.ok_or_else(|| not_there(&path))?;
                    return Ok(octets(Body::from(bytes), e.size));
                }
                Some(_) => {
                    b.open_version_file(&Ref::version(v.model.clone(), v.version), &file, &dest).await?.is_some()
                }
                None if file == MLMODEL => {
                    let text = generated_mlmodel(&v, &manifest).ok_or_else(|| not_there(&path))?;
                    let len = text.len() as u64;
                    return Ok(octets(Body::from(text), len));
                }
                None => false,
            }
        }
        Place::Staged { model, path: file } => b.open_staged_file(&model, &file, &dest).await?.is_some(),
        _ => false,
    };
    if !found {
        return Err(not_there(&path));
    }
    let file = tokio::fs::File::open(&dest).await.map_err(|e| blobs::spool_error(&dir, e))?;
    let len = file.metadata().await.map_err(|e| blobs::spool_error(&dir, e))?.len();
    Ok(octets(Body::from_stream(blobs::stream_file(file, len, spool)), len))
}

/// `PUT …/artifacts/MODEL/DIR/FILE`: stages one file, spooled and hashed
/// as it arrives.
pub(crate) async fn upload(
    State(hub): State<std::sync::Arc<Hub>>,
    headers: HeaderMap,
    Extension(Caller(b)): Extension<Caller>,
    Path(path): Path<String>,
    req: Body,
) -> Answer {
    let (model, file) = match Place::of_path(&path)? {
        Place::Staged { model, path } => (model, path),
        Place::Version { model, version, .. } => {
            return Err(MlflowError::conflict(format!(
                "{model}/{VERSIONS}/{version} is version {version}'s files, which never change: upload new files \
                 under another directory of {model} and create a version from it"
            )));
        }
        _ => {
            return Err(MlflowError::invalid(format!(
                "artifact path {path:?} names no file under a model: upload to MODEL/DIR/FILE, e.g. churn/run-1/model.onnx"
            )));
        }
    };
    let rel = RelPath::parse(&file).map_err(|e| MlflowError::invalid(format!("artifact path {path:?}: {e}")))?;
    // Refused before a byte of the body is read.
    b.may_stage(&model)?;
    let spooled = blobs::spool_body(&hub, &headers, req).await?;
    b.stage_file(&model, &rel, spooled.hashed()).await?;
    Ok(empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn churn() -> ModelName {
        ModelName::parse("churn").unwrap()
    }

    #[test]
    fn paths_name_models_versions_and_staged_files() {
        assert_eq!(Place::of_path("").unwrap(), Place::Root);
        assert_eq!(Place::of_path("/churn/").unwrap(), Place::Model(churn()));
        assert_eq!(Place::of_path("churn/versions").unwrap(), Place::Versions(churn()));
        assert_eq!(
            Place::of_path("churn/versions/3/sub/model.onnx").unwrap(),
            Place::Version { model: churn(), version: 3, path: "sub/model.onnx".into() }
        );
        assert_eq!(
            Place::of_path("churn/run-1/model/model.onnx").unwrap(),
            Place::Staged { model: churn(), path: "run-1/model/model.onnx".into() }
        );
        assert_eq!(
            Place::of_uri("mlflow-artifacts://hub:8443/churn/run-1").unwrap(),
            Place::Staged { model: churn(), path: "run-1".into() }
        );
        assert_eq!(
            Place::of_uri("mlflow-artifacts:/churn/versions/2").unwrap(),
            Place::Version { model: churn(), version: 2, path: String::new() }
        );
        for bad in ["Churn Model/x", "churn/versions/zero", "churn/../fraud/x"] {
            assert_eq!(Place::of_path(bad).unwrap_err().code, "INVALID_PARAMETER_VALUE", "{bad}");
        }
        assert!(Place::of_uri("s3://bucket/churn").unwrap_err().message.contains("not an mlflow-artifacts: URI"));
    }

    #[test]
    fn a_listing_holds_the_direct_children_of_its_directory() {
        let files = [("model/MLmodel", 3), ("model/model.onnx", 10), ("model/code/x.py", 1), ("other.txt", 2)];
        let list = children(files.iter().map(|(p, s)| (*p, *s)), "model");
        assert_eq!(list, [entry("MLmodel", Some(3)), entry("code", None), entry("model.onnx", Some(10))]);
        let root = children(files.iter().map(|(p, s)| (*p, *s)), "");
        assert_eq!(root, [entry("model", None), entry("other.txt", Some(2))]);
        assert!(children(files.iter().map(|(p, s)| (*p, *s)), "model/model.onnx").is_empty(), "a file lists nothing");
    }
}
