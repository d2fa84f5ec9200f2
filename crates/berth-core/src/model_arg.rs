//! The model a command is pointed at: a file on disk or a ref into the
//! registry, decided once where the argument enters.
//!
//! A string with a path separator, or ending in a model file's extension, is
//! a file (so `models/model.pkl` is never read as a model name); so is any
//! string naming an existing file. Everything else is a ref. Pickle files are
//! refused by name: loading one runs arbitrary code.

use std::path::{Path, PathBuf};

use crate::{Ref, RefError};

/// Extensions that mark a string as a model file rather than a name.
const MODEL_FILE_EXTENSIONS: [&str; 11] =
    ["berth", "onnx", "pkl", "pickle", "joblib", "pt", "pth", "h5", "keras", "safetensors", "bin"];

/// Formats berth never opens, because opening them executes code.
const PICKLE_EXTENSIONS: [&str; 3] = ["pkl", "pickle", "joblib"];

#[derive(Debug, Clone, PartialEq)]
pub enum ModelArg {
    File(PathBuf),
    Ref(Ref),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelArgError {
    #[error("{path}: pickle files are never loaded (unpickling runs arbitrary code)")]
    Pickle { path: String },
    #[error("{path}: no such model file")]
    NotFound { path: String },
    #[error("{value:?} is neither a model file nor a ref: {source}")]
    Neither { value: String, source: RefError },
}

impl ModelArgError {
    pub fn hint(&self) -> String {
        match self {
            ModelArgError::Pickle { .. } => "export the model to ONNX (skl2onnx for scikit-learn, onnxmltools for \
                                              LightGBM and XGBoost) and pass the .onnx file, or train it with `berth train`"
                .into(),
            ModelArgError::NotFound { .. } => "check the path, or name a registered version as NAME@VERSION".into(),
            ModelArgError::Neither { .. } => {
                "pass a model.berth or .onnx path, or NAME@VERSION, NAME@ALIAS or NAME@latest".into()
            }
        }
    }
}

impl ModelArg {
    /// Decides what `s` names; `is_file` says whether a path is an existing
    /// file (this crate does no I/O itself).
    pub fn parse(s: &str, is_file: impl Fn(&Path) -> bool) -> Result<ModelArg, ModelArgError> {
        let path = Path::new(s);
        let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let looks_like_file = s.contains('/')
            || s.contains(std::path::MAIN_SEPARATOR)
            || extension.as_deref().is_some_and(|e| MODEL_FILE_EXTENSIONS.contains(&e));
        if extension.as_deref().is_some_and(|e| PICKLE_EXTENSIONS.contains(&e)) {
            return Err(ModelArgError::Pickle { path: s.to_string() });
        }
        if is_file(path) {
            return Ok(ModelArg::File(path.to_path_buf()));
        }
        if looks_like_file && !s.contains('@') {
            return Err(ModelArgError::NotFound { path: s.to_string() });
        }
        Ref::parse(s).map(ModelArg::Ref).map_err(|source| ModelArgError::Neither { value: s.to_string(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &Path) -> bool {
        false
    }

    #[test]
    fn paths_are_files_and_names_are_refs() {
        assert!(matches!(ModelArg::parse("churn@3", none), Ok(ModelArg::Ref(_))));
        assert!(matches!(ModelArg::parse("churn", none), Ok(ModelArg::Ref(_))));
        assert!(matches!(ModelArg::parse("model.v2@production", none), Ok(ModelArg::Ref(_))));
        assert_eq!(
            ModelArg::parse("models/model.onnx", none),
            Err(ModelArgError::NotFound { path: "models/model.onnx".into() })
        );
        assert_eq!(ModelArg::parse("model.berth", none), Err(ModelArgError::NotFound { path: "model.berth".into() }));
        assert_eq!(ModelArg::parse("out/model.berth", |_| true), Ok(ModelArg::File("out/model.berth".into())));
        assert!(matches!(ModelArg::parse("Churn@1", none), Err(ModelArgError::Neither { .. })));
    }

    #[test]
    fn pickles_are_refused_whether_or_not_they_exist() {
        for s in ["models/model.pkl", "model.joblib", "m.PICKLE"] {
            assert!(matches!(ModelArg::parse(s, |_| true), Err(ModelArgError::Pickle { .. })), "{s}");
        }
    }
}
