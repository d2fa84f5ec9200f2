use berth_core::{ErrorClass, Exit};

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error(transparent)]
    Data(#[from] berth_data::DataError),
    #[error("unknown algorithm {found:?} for {task}; valid: {valid}")]
    UnknownAlgorithm { found: String, task: String, valid: String },
    #[error("unknown hyperparameter {found:?} for {algorithm}; valid: {valid}")]
    UnknownHyperparameter { found: String, algorithm: String, valid: String },
    #[error("hyperparameter {name} = {value}: {reason}")]
    BadHyperparameter { name: String, value: String, reason: String },
    #[error("feature column {column:?} has {count} {what} value(s) (first at row {first_row})")]
    BadValues { column: String, what: &'static str, count: usize, first_row: usize },
    #[error("column {column:?} is {found}; {expected}")]
    WrongType { column: String, expected: String, found: String },
    #[error("the target {column:?} has a single class ({class:?}); a classifier needs at least two")]
    SingleClass { column: String, class: String },
    #[error("{0}")]
    Invalid(String),
    #[error("not a berth model file: {0}")]
    BadModel(String),
    #[error("cannot load the ONNX model: {0}")]
    BadOnnx(String),
    #[error("the ONNX model uses operator {op} (node {node:?}), which berth cannot run yet")]
    UnsupportedOperator { op: String, node: String },
}

impl Exit for MlError {
    fn class(&self) -> ErrorClass {
        match self {
            MlError::Data(e) => e.class(),
            _ => ErrorClass::Input,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            MlError::Data(e) => e.hint(),
            MlError::BadValues { .. } => {
                Some("features may not be null, NaN or infinite: drop or impute those rows first".into())
            }
            MlError::SingleClass { .. } => Some("check the target column and the data's rows".into()),
            _ => None,
        }
    }
}
