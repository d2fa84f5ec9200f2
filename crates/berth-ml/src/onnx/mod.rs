//! Running ONNX models exported from Python, in pure Rust through tract.
//!
//! Before tract sees a graph, berth rewrites what tract lacks or gets wrong
//! for classic ML exports: `ZipMap` (skl2onnx's default classifier output, a
//! sequence of maps) is removed and the probability tensor it wrapped becomes
//! the output; `Scaler` becomes `Sub` and `Mul`; constant
//! `ArrayFeatureExtractor` indices are made one-dimensional
//! ([`feature_extractor`]). Many ONNX-ML operators are berth's own
//! ([`ml_ops`] registers them): the tree ensembles ([`tree_ensemble`]), the
//! SVMs ([`svm`]), the linear models ([`linear_classifier`],
//! [`linear_regressor`]) and the preprocessing operators ([`encoders`]).
//! Their attributes are checked before tract runs, and an operator neither
//! tract nor berth implements is refused at load time with its name and
//! node; tract's own failures are retold with the node they concern
//! ([`errors`]).
//!
//! Inputs: one float matrix `[rows, features]`, or — as converters export a
//! table — one `[rows, 1]` input per column, numbers or text, each filled
//! from the column of its name ([`columns`]). What the graph declares about
//! its inputs and outputs is kept ([`signature`]).
//!
//! Labels: for SVMs and linear classifiers, the model's own label output
//! is reported (an SVM votes one-vs-one, and its scores do not always show
//! the winner); for every other classifier the label of a row is its most
//! probable class, taken from the probabilities (tract's own label output is
//! wrong for some binary tree ensembles). Ties go to the class listed first,
//! as scikit-learn's `predict` does: a binary random forest whose trees split
//! 0.5/0.5 predicts the first class, where onnxruntime's label output gives
//! the second. The probabilities are the same in both.

mod attrs;
mod columns;
mod encoders;
mod errors;
mod feature_extractor;
mod linear_classifier;
mod linear_regressor;
mod ml_ops;
mod row_op;
mod signature;
mod svm;
mod tree_ensemble;

use std::sync::Arc;

use tract_onnx::pb;
use tract_onnx::prelude::*;

pub use signature::{GraphOutput, GraphTensor};

use crate::{MlError, Prediction, Result};

/// A loaded, optimised ONNX model taking one float matrix `[rows, features]`
/// ([`OnnxModel::run`]), or one input per column of a table
/// ([`OnnxModel::run_table`]).
pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    /// The (first) input's name.
    pub input_name: String,
    /// Values per row: the input matrix's width, or the number of inputs
    /// for a graph that reads one per column.
    pub n_features: usize,
    /// Class labels in probability-column order (classifiers only).
    pub classes: Option<Vec<String>>,
    /// The graph's inputs, as declared.
    pub inputs: Vec<GraphTensor>,
    /// The outputs berth computes, named and typed as the graph declares
    /// them (a `ZipMap` as the probability matrix it wraps).
    pub outputs: Vec<GraphOutput>,
    /// Which output holds probabilities (classifiers) or values (regressors).
    output: usize,
    /// Which output holds the labels, when the model's own labels are the
    /// ones to report (see [`label_output`]).
    label_output: Option<usize>,
    /// For a graph with several inputs, one per column: what each is fed
    /// with; `None` for one input matrix.
    columns: Option<Box<columns::Columns>>,
    /// The graph's nodes, to name the one that fails at run time.
    nodes: Vec<pb::NodeProto>,
}

fn op_name(n: &pb::NodeProto) -> String {
    if n.domain.is_empty() { n.op_type.clone() } else { format!("{}.{}", n.domain, n.op_type) }
}

/// The graph output carrying the labels of a classifier berth computes
/// itself and whose scores do not always show its label (`SVMClassifier`,
/// `LinearClassifier`), through any `Cast` or `Identity`. An SVM's label is
/// its one-vs-one vote: a two-class SVM's scores are `[-d, d]` for a
/// decision value `d` that votes for the *first* class when positive. A
/// binary linear model may output its one margin alone.
fn label_output(graph: &pb::GraphProto) -> Option<usize> {
    let svm = graph.node.iter().find(|n| matches!(n.op_type.as_str(), "SVMClassifier" | "LinearClassifier"))?;
    let mut tensor = svm.output.first()?.clone();
    while let Some(next) = graph
        .node
        .iter()
        .find(|n| matches!(n.op_type.as_str(), "Cast" | "Identity") && n.input.first() == Some(&tensor))
    {
        tensor = next.output.first()?.clone();
    }
    graph.output.iter().position(|o| o.name == tensor)
}

fn attr_labels(node: &pb::NodeProto) -> Option<Vec<String>> {
    for a in &node.attribute {
        match a.name.as_str() {
            "classlabels_int64s" | "classlabels_ints" if !a.ints.is_empty() => {
                return Some(a.ints.iter().map(|i| i.to_string()).collect());
            }
            "classlabels_strings" if !a.strings.is_empty() => {
                return Some(a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect());
            }
            _ => {}
        }
    }
    None
}

fn last_dim(v: &pb::ValueInfoProto) -> Option<usize> {
    use pb::tensor_shape_proto::dimension::Value;
    use pb::type_proto::Value as T;
    let Some(T::TensorType(t)) = v.r#type.as_ref().and_then(|t| t.value.as_ref()) else { return None };
    match t.shape.as_ref()?.dim.last()?.value.as_ref()? {
        Value::DimValue(n) if *n > 0 => Some(*n as usize),
        _ => None,
    }
}

/// Whether an input is declared as something other than a tensor (a map or
/// a sequence: the ONNX schema berth reads keeps tensor types only).
fn not_a_tensor(v: &pb::ValueInfoProto) -> bool {
    v.r#type.as_ref().and_then(|t| t.value.as_ref()).is_none()
}

fn floats_attr(node: &pb::NodeProto, name: &str) -> Vec<f32> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.floats.clone()).unwrap_or_default()
}

/// `ai.onnx.ml.Scaler` computes `(x - offset) * scale` per feature; it is
/// rewritten into the standard `Sub` and `Mul` with constant operands.
fn rewrite_scalers(graph: &mut pb::GraphProto) {
    let mut nodes = Vec::with_capacity(graph.node.len());
    for n in std::mem::take(&mut graph.node) {
        if n.op_type != "Scaler" || n.input.len() != 1 || n.output.len() != 1 {
            nodes.push(n);
            continue;
        }
        let (offset, scale) = (floats_attr(&n, "offset"), floats_attr(&n, "scale"));
        let constant = |suffix: &str, values: Vec<f32>| pb::TensorProto {
            dims: vec![values.len() as i64],
            data_type: 1, // FLOAT
            float_data: values,
            name: format!("{}__berth_{suffix}", n.output[0]),
            ..Default::default()
        };
        let offset = constant("offset", if offset.is_empty() { vec![0.0] } else { offset });
        let scale = constant("scale", if scale.is_empty() { vec![1.0] } else { scale });
        let centred = format!("{}__berth_centred", n.output[0]);
        nodes.push(pb::NodeProto {
            input: vec![n.input[0].clone(), offset.name.clone()],
            output: vec![centred.clone()],
            name: format!("{}__sub", n.name),
            op_type: "Sub".into(),
            ..Default::default()
        });
        nodes.push(pb::NodeProto {
            input: vec![centred, scale.name.clone()],
            output: vec![n.output[0].clone()],
            name: n.name.clone(),
            op_type: "Mul".into(),
            ..Default::default()
        });
        graph.initializer.push(offset);
        graph.initializer.push(scale);
    }
    graph.node = nodes;
}

fn bad(e: impl std::fmt::Display) -> MlError {
    MlError::BadOnnx(format!("{e:#}"))
}

impl OnnxModel {
    pub fn from_bytes(bytes: &[u8]) -> Result<OnnxModel> {
        let mut onnx = tract_onnx::onnx().with_ignore_output_shapes(true).with_ignore_output_types(true);
        ml_ops::register(&mut onnx.op_register);
        let mut proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| MlError::BadOnnx(format!("not an ONNX model ({e:#})")))?;
        let graph = proto.graph.as_mut().ok_or_else(|| MlError::BadOnnx("the file has no graph".into()))?;
        if graph.input.is_empty() {
            return Err(MlError::BadOnnx("the graph has no inputs".into()));
        }
        // Several inputs: one per column, fed from a table by name.
        let feeds = if graph.input.len() > 1 {
            columns::check_tensors(graph)?;
            let declared: Vec<GraphTensor> = graph.input.iter().map(signature::tensor_of).collect();
            Some(columns::feeds(&declared)?)
        } else {
            None
        };
        let columns = feeds.map(|feeds| {
            let known_text = graph
                .input
                .iter()
                .filter_map(|i| Some((i.name.clone(), columns::known_text(graph, &i.name)?)))
                .collect();
            Box::new(columns::Columns { feeds, known_text })
        });
        let input_name = graph.input[0].name.clone();
        if not_a_tensor(&graph.input[0]) {
            let reader = graph.node.iter().find(|n| n.input.contains(&input_name));
            let by = reader.map(|n| format!(" read by node '{}' ({})", n.name, op_name(n))).unwrap_or_default();
            return Err(MlError::BadOnnx(format!(
                "input {input_name:?} is not a tensor (a map or a sequence){by}; berth runs models whose input is one \
                 float matrix"
            )));
        }
        let n_features = match &columns {
            Some(c) => c.feeds.len(),
            None => last_dim(&graph.input[0])
                .ok_or_else(|| MlError::BadOnnx(format!("input {input_name:?} has no fixed feature count")))?,
        };

        // Class labels: the ZipMap's, else any classifier node's.
        let mut classes = None;
        for n in &graph.node {
            if let Some(l) = attr_labels(n) {
                classes = Some(l);
                if n.op_type == "ZipMap" {
                    break;
                }
            }
        }
        let declared_inputs: Vec<GraphTensor> = graph.input.iter().map(signature::tensor_of).collect();
        let declared_outputs: Vec<GraphTensor> = graph.output.iter().map(signature::tensor_of).collect();
        // Remove ZipMap: its input tensor takes its place among the outputs.
        let zipmaps: Vec<(String, String)> = graph
            .node
            .iter()
            .filter(|n| n.op_type == "ZipMap")
            .filter_map(|n| Some((n.input.first()?.clone(), n.output.first()?.clone())))
            .collect();
        graph.node.retain(|n| n.op_type != "ZipMap");
        for (tensor, seq) in &zipmaps {
            for o in graph.output.iter_mut().filter(|o| &o.name == seq) {
                o.name = tensor.clone();
                o.r#type = None;
            }
        }
        rewrite_scalers(graph);
        feature_extractor::flatten_constant_indices(graph);
        let known = &onnx.op_register.0;
        if let Some(n) = graph.node.iter().find(|n| !known.contains_key(&n.op_type)) {
            return Err(MlError::UnsupportedOperator { op: op_name(n), node: n.name.clone() });
        }
        for n in &graph.node {
            if let Some(Err(e)) = ml_ops::validate(n) {
                return Err(MlError::BadOnnx(format!("node '{}' ({}): {e}", n.name, op_name(n))));
            }
        }
        let label_output = label_output(graph);
        // Regressors: the float output; classifiers: the probabilities (the
        // last float output, after the label).
        let output = if classes.is_some() { graph.output.len().saturating_sub(1) } else { 0 };
        let labels_at = match (&classes, label_output) {
            (Some(_), Some(i)) => Some(i),
            (Some(_), None) => (0..graph.output.len()).find(|i| *i != output),
            (None, _) => None,
        };
        let zipmap_outputs: Vec<String> = zipmaps.iter().map(|(_, seq)| seq.clone()).collect();
        let outputs =
            signature::outputs(&declared_outputs, output, labels_at, &zipmap_outputs, classes.as_ref().map(Vec::len));

        let nodes = graph.node.clone();
        let in_words = |e: TractError| MlError::BadOnnx(errors::in_words(&e, &nodes));
        let mut model = onnx.model_for_proto_model(&proto).map_err(in_words)?;
        let rows = model.symbols.sym("rows");
        match &columns {
            Some(c) => columns::declare(&mut model, &c.feeds).map_err(in_words)?,
            None => {
                model = model
                    .with_input_fact(0, f32::fact([rows.to_dim(), n_features.to_dim()]).into())
                    .map_err(in_words)?
            }
        }
        let plan = model.into_optimized().map_err(in_words)?.into_runnable().map_err(in_words)?;
        Ok(OnnxModel {
            plan,
            input_name,
            n_features,
            classes,
            inputs: declared_inputs,
            outputs,
            columns,
            output,
            label_output,
            nodes,
        })
    }

    /// Whether the graph has several inputs, one per column, to be scored
    /// with [`OnnxModel::run_table`].
    pub fn reads_columns(&self) -> bool {
        self.columns.is_some()
    }

    /// A category the text input `input` is known to take, for a sample
    /// row the model can score.
    pub fn known_text(&self, input: &str) -> Option<&str> {
        let known = &self.columns.as_ref()?.known_text;
        known.iter().find(|(i, _)| i == input).map(|(_, t)| t.as_str())
    }

    /// Scores a table for a graph with one input per column: each input is
    /// the column of its name, numbers or text.
    pub fn run_table(&self, table: &berth_data::Table) -> Result<Prediction> {
        let Some(columns) = &self.columns else {
            return Err(MlError::Invalid(format!(
                "the model takes one matrix {:?} of {} features, not named columns",
                self.input_name, self.n_features
            )));
        };
        let inputs = columns::tensors(&self.inputs, &columns.feeds, table)?;
        self.score(inputs, table.rows())
    }

    /// Scores a row-major `[rows, n_features]` matrix.
    pub fn run(&self, data: Vec<f32>, rows: usize) -> Result<Prediction> {
        if self.columns.is_some() {
            let names: Vec<&str> = self.inputs.iter().map(|t| t.name.as_str()).collect();
            return Err(MlError::Invalid(format!("the model reads the columns {names:?} by name, not one matrix")));
        }
        if data.len() != rows * self.n_features {
            return Err(MlError::Invalid(format!(
                "the model takes {} features per row; got {} values for {rows} rows",
                self.n_features,
                data.len()
            )));
        }
        let input = Tensor::from_shape(&[rows, self.n_features], &data).map_err(bad)?;
        self.score(tvec!(input.into()), rows)
    }

    /// Runs the graph and reads its labels, probabilities or values.
    fn score(&self, inputs: TVec<TValue>, rows: usize) -> Result<Prediction> {
        let out = self.plan.run(inputs).map_err(|e| MlError::BadOnnx(errors::in_words(&e, &self.nodes)))?;
        let t = out.get(self.output).ok_or_else(|| MlError::BadOnnx("the model produced no output".into()))?;
        let t = t.cast_to::<f32>().map_err(bad)?;
        let values: Vec<f64> = t.to_plain_array_view::<f32>().map_err(bad)?.iter().map(|v| f64::from(*v)).collect();
        match &self.classes {
            None => Ok(Prediction { values: Some(values), labels: None, probabilities: None, classes: None }),
            Some(classes) => {
                // One column per class, unless the model's own labels are
                // read: then its scores are reported as they are (a binary
                // decision value may be one column).
                let k = match self.label_output {
                    Some(_) if rows > 0 && values.len().is_multiple_of(rows) => values.len() / rows,
                    _ => classes.len(),
                };
                if values.len() != rows * k || k == 0 {
                    return Err(MlError::BadOnnx(format!(
                        "{} probabilities for {rows} rows and {k} classes",
                        values.len()
                    )));
                }
                let probs: Vec<Vec<f64>> = values.chunks(k).map(<[f64]>::to_vec).collect();
                let labels = match self.label_output.and_then(|i| out.get(i)) {
                    Some(l) => {
                        let l = l.cast_to::<String>().map_err(bad)?;
                        l.to_plain_array_view::<String>().map_err(bad)?.iter().cloned().collect()
                    }
                    None => probs
                        .iter()
                        .map(|p| {
                            classes[p.iter().enumerate().fold(0, |b, (i, v)| if *v > p[b] { i } else { b })].clone()
                        })
                        .collect(),
                };
                Ok(Prediction {
                    values: None,
                    labels: Some(labels),
                    probabilities: Some(probs),
                    classes: Some(classes.clone()),
                })
            }
        }
    }
}
