use berth_core::{ErrorClass, Exit};

#[derive(Debug, thiserror::Error)]
pub enum MlError {
    #[error(transparent)]
    Data(#[from] berth_data::DataError),
    #[error("unknown algorithm {found:?}{suggestion}; valid: {valid}")]
    UnknownAlgorithm { found: String, suggestion: String, valid: String },
    /// A library's boosted trees berth runs from ONNX but does not train.
    #[error(
        "berth does not train {library} models (algorithm {found:?}); its own boosted trees are \
         hist_gradient_boosting (the histogram algorithm {library} uses) and gradient_boosting, and it offers \
         {valid}. To run {library} models, export them to ONNX with onnxmltools ({converter}), then \
         `berth predict model.onnx --data FILE`, or `berth push model.onnx --model NAME` to version one"
    )]
    ForeignAlgorithm { found: String, library: &'static str, converter: &'static str, valid: String },
    #[error("{algorithm} trains {trains} models, not {task} models; for {task} use {valid}")]
    AlgorithmDoesNotFit { algorithm: String, task: String, trains: String, valid: String },
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
            MlError::BadValues { .. } => Some(
                "features may not be null, NaN or infinite: drop or impute those rows first, or train \
                     hist_gradient_boosting, which handles missing (null or NaN) values itself"
                    .into(),
            ),
            MlError::SingleClass { .. } => Some("check the target column and the data's rows".into()),
            MlError::UnknownHyperparameter { .. } => Some(
                "remove it, or give one of those: [hyperparameters] in the training config, --set NAME=VALUE on the \
                 command line"
                    .into(),
            ),
            MlError::AlgorithmDoesNotFit { .. } => {
                Some("change model_type or algorithm (--model-type, --algorithm) so they agree".into())
            }
            _ => None,
        }
    }
}
