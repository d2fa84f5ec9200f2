//! berth's ONNX-ML operators, registered into tract's operator table.
//!
//! tract lacks `TreeEnsembleRegressor` and refuses binary boosted
//! classifiers in its `TreeEnsembleClassifier`; both names are bound here to
//! berth's [`TreeEnsemble`], wrapped as a tract operator so that the rest of
//! the graph (casts, identities, scalers) still runs in tract.
//!
//! Through the generic [`BerthOp`] bridge, berth also runs the SVMs
//! (`SVMClassifier`, `SVMRegressor`: [`super::svm`]), the linear models
//! (`LinearClassifier`, which tract types wrongly for string labels and
//! one-score binary models: [`super::linear_classifier`]; `LinearRegressor`:
//! [`super::linear_regressor`]) and the preprocessing operators
//! (`Binarizer`, `Imputer`, `OneHotEncoder`, `LabelEncoder`,
//! `FeatureVectorizer`: [`super::encoders`]).

use std::sync::Arc;

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::encoders::{Binarizer, FeatureVectorizer, Imputer, LabelEncoder, OneHotEncoder};
use super::linear_classifier::LinearClassifier;
use super::linear_regressor::LinearRegressor;
use super::row_op::{BerthOp, RowOp};
use super::svm::{SvmClassifier, SvmRegressor};
use super::tree_ensemble::{Labels, TreeEnsemble};

pub fn register(ops: &mut OnnxOpRegister) {
    ops.insert("TreeEnsembleRegressor", regressor);
    ops.insert("TreeEnsembleClassifier", classifier);
    ops.insert("SVMClassifier", |_, n| row_op(n, SvmClassifier::from_node));
    ops.insert("SVMRegressor", |_, n| row_op(n, SvmRegressor::from_node));
    ops.insert("LinearClassifier", |_, n| row_op(n, LinearClassifier::from_node));
    ops.insert("LinearRegressor", |_, n| row_op(n, LinearRegressor::from_node));
    ops.insert("FeatureVectorizer", |_, n| row_op(n, FeatureVectorizer::from_node));
    ops.insert("Binarizer", |_, n| row_op(n, Binarizer::from_node));
    ops.insert("Imputer", |_, n| row_op(n, Imputer::from_node));
    ops.insert("OneHotEncoder", |_, n| row_op(n, OneHotEncoder::from_node));
    ops.insert("LabelEncoder", |_, n| row_op(n, LabelEncoder::from_node));
}

/// Builds one of berth's [`RowOp`]s from its node.
fn row_op<T: RowOp>(
    node: &NodeProto,
    from_node: fn(&NodeProto) -> Result<T, String>,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let op = from_node(node).map_err(|e| format_err!("{} node {:?}: {e}", node.op_type, node.name))?;
    Ok((BerthOp::inference(op), vec![]))
}

/// Checks the attributes of a node whose operator [`register`] binds
/// (`None` for any other operator): an error says, in berth's words, why
/// berth cannot run it.
pub fn validate(node: &NodeProto) -> Option<Result<(), String>> {
    Some(match node.op_type.as_str() {
        "TreeEnsembleRegressor" => TreeEnsemble::from_node(node, false).map(drop),
        "TreeEnsembleClassifier" => TreeEnsemble::from_node(node, true).map(drop),
        "SVMClassifier" => SvmClassifier::from_node(node).map(drop),
        "SVMRegressor" => SvmRegressor::from_node(node).map(drop),
        "LinearClassifier" => LinearClassifier::from_node(node).map(drop),
        "LinearRegressor" => LinearRegressor::from_node(node).map(drop),
        "FeatureVectorizer" => FeatureVectorizer::from_node(node).map(drop),
        "Binarizer" => Binarizer::from_node(node).map(drop),
        "Imputer" => Imputer::from_node(node).map(drop),
        "OneHotEncoder" => OneHotEncoder::from_node(node).map(drop),
        "LabelEncoder" => LabelEncoder::from_node(node).map(drop),
        _ => return None,
    })
}

fn build(node: &NodeProto, classifier: bool) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let ensemble = TreeEnsemble::from_node(node, classifier)
        .map_err(|e| format_err!("{} node {:?}: {e}", node.op_type, node.name))?;
    Ok((expand(Ensemble(Arc::new(ensemble))), vec![]))
}

fn regressor(_: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    build(node, false)
}

fn classifier(_: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    build(node, true)
}

/// The tract operator: `[rows, features]` in; a regressor's `[rows, targets]`
/// out, or a classifier's labels `[rows]` and probabilities `[rows, classes]`.
/// Two are equal when they share one ensemble.
#[derive(Debug, Clone)]
struct Ensemble(Arc<TreeEnsemble>);

impl PartialEq for Ensemble {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Ensemble {}

impl Ensemble {
    fn label_type(&self) -> Option<DatumType> {
        self.0.labels.as_ref().map(|l| match l {
            Labels::Ints(_) => i64::datum_type(),
            Labels::Strings(_) => String::datum_type(),
        })
    }
}

impl Expansion for Ensemble {
    fn name(&self) -> StaticName {
        "BerthTreeEnsemble".into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(if self.0.labels.is_some() { 2 } else { 1 })
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        let scores = match self.label_type() {
            Some(dt) => {
                check_output_arity(outputs, 2)?;
                s.equals(&outputs[0].datum_type, dt)?;
                s.equals(&outputs[0].rank, 1)?;
                s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
                &outputs[1]
            }
            None => {
                check_output_arity(outputs, 1)?;
                &outputs[0]
            }
        };
        s.equals(&scores.datum_type, f32::datum_type())?;
        s.equals(&scores.rank, 2)?;
        s.equals(&scores.shape[0], &inputs[0].shape[0])?;
        s.equals(&scores.shape[1], self.0.n_outputs.to_dim())?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl Op for Ensemble {
    fn name(&self) -> StaticName {
        "BerthTreeEnsemble".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Ensemble {
    op_out_of_plan!();

    fn eval(&self, _: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let input = input.cast_to::<f32>()?;
        let shape = input.shape();
        ensure!(shape.len() == 2, "a tree ensemble takes a [rows, features] matrix; got shape {shape:?}");
        let (rows, features) = (shape[0], shape[1]);
        ensure!(
            features >= self.0.n_features_used,
            "the tree ensemble reads feature {}; the input has {features} columns",
            self.0.n_features_used - 1
        );
        let data = input.to_plain_array_view::<f32>()?;
        let data = data.as_slice().ok_or_else(|| format_err!("the tree ensemble's input is not contiguous"))?;
        let k = self.0.n_outputs;
        let scores = self.0.eval(data, features);
        let probabilities = Tensor::from_shape(&[rows, k], &scores)?;
        let Some(labels) = &self.0.labels else { return Ok(tvec!(probabilities.into_tvalue())) };
        let best: Vec<usize> = scores
            .chunks_exact(k.max(1))
            .map(|p| p.iter().enumerate().fold(0, |b, (i, v)| if *v > p[b] { i } else { b }))
            .collect();
        let labels = match labels {
            Labels::Ints(l) => Tensor::from_shape(&[rows], &best.iter().map(|b| l[*b]).collect::<Vec<_>>())?,
            Labels::Strings(l) => {
                tract_ndarray::Array1::from_vec(best.iter().map(|b| l[*b].clone()).collect()).into_tensor()
            }
        };
        Ok(tvec!(labels.into_tvalue(), probabilities.into_tvalue()))
    }
}

impl TypedOp for Ensemble {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rows = inputs[0].shape[0].clone();
        let scores = f32::fact([rows.clone(), self.0.n_outputs.to_dim()]);
        Ok(match self.label_type() {
            Some(dt) => tvec!(TypedFact::dt_shape(dt, [rows]), scores),
            None => tvec!(scores),
        })
    }

    as_op!();
}
