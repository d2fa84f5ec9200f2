//! Models: the [`Predictor`] abstraction (a table in; values, labels with
//! class probabilities, or scores out), berth's native model format, feature
//! encoding, and the built-in trainers. Works on in-memory tables from
//! `berth-data`; does no I/O beyond reading and writing a model file, and
//! knows nothing of stores, registries or gates.

mod algorithm;
mod ensemble;
mod error;
mod features;
mod forecast;
mod hist;
mod hyperparameter;
mod iforest;
mod linalg;
mod model;
mod onnx;
mod text;
mod train;
mod train_hist;
mod tree;

pub use algorithm::{
    Algorithm, AlgorithmName, GradientBoostingParams, HistGradientBoostingParams, IsolationForestParams,
    LogisticRegressionParams, NaiveBayesParams, RandomForestParams, RidgeParams,
};
pub use error::MlError;
pub use features::{Encoded, FeatureEncoder, FeatureKind, TimePart};
pub use forecast::ModelType;
pub use hist::HistTree;
pub use hyperparameter::{EarlyStopping, HistLoss, Hyper};
pub use model::{Estimator, MAX_MODEL_BYTES, Model, Prediction, Predictor, Signature, Task};
pub use onnx::OnnxModel;
pub use text::NaiveBayes;
pub use train::{TrainConfig, TrainConfigDraft, Trained, train};
pub use tree::Tree;

pub type Result<T, E = MlError> = std::result::Result<T, E>;
