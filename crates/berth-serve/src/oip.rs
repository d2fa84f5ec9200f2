//! The Open Inference Protocol's view of a served version: the tensors its
//! metadata lists, how a request's tensors become rows, and how a
//! prediction becomes named, typed output tensors.
//!
//! A model trained by berth reads its named feature columns (one `[-1]`
//! tensor each) and answers `label` (BYTES), `prediction` or `score` (FP64)
//! and `probabilities` (FP64 `[-1, classes]`, the classes in the
//! `classes` parameter).
//!
//! A model served from an ONNX file is described in the graph's own terms,
//! so a client written against the same file for another server works
//! unchanged: its input as declared (name, datatype from the element type,
//! shape with -1 for the rows), and its outputs as declared — labels typed
//! as the graph types them (INT64 or BYTES), probabilities and values as
//! FP32 (FP64 when the graph says double). A `ZipMap` output (a sequence of
//! maps from class to probability, which the protocol cannot carry) keeps
//! its name and is the FP32 `[-1, classes]` tensor it was built from,
//! classes in the model's order and listed in its `classes` parameter. The
//! first dimension is always -1: berth takes any number of rows. Outputs
//! berth does not compute are not listed. Requests may send the input as
//! FP32, FP64 or any integer type; values are converted to the floats the
//! graph runs on. A graph with one input per column (a `ColumnTransformer`'s
//! export) takes one tensor per input, `[rows]` or `[rows, 1]`: numbers for
//! its numeric inputs, BYTES for its text ones.

use berth_data::{ColumnType, Table};
use berth_ml::{Prediction, Task};
use berth_service::Scorer;
use serde_json::{Map, Value, json};

use crate::input::Tensor;
use crate::refusal::Refusal;
use crate::served::Served;

/// A tensor as the model's metadata lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<i64>,
    pub parameters: Option<Map<String, Value>>,
}

impl Described {
    fn json(&self) -> Value {
        let mut v = json!({ "name": self.name, "datatype": self.datatype, "shape": self.shape });
        if let Some(p) = &self.parameters {
            v["parameters"] = Value::Object(p.clone());
        }
        v
    }
}

/// The protocol's datatype for an ONNX element type; an undeclared one is
/// read as the floats berth feeds the graph.
fn datatype_of(element: &str) -> &'static str {
    match element {
        "double" => "FP64",
        "float16" => "FP16",
        "int8" => "INT8",
        "int16" => "INT16",
        "int32" => "INT32",
        "int64" => "INT64",
        "uint8" => "UINT8",
        "uint16" => "UINT16",
        "uint32" => "UINT32",
        "uint64" => "UINT64",
        "bool" => "BOOL",
        "string" => "BYTES",
        _ => "FP32",
    }
}

/// A declared shape with -1 for the rows and for every unknown size;
/// `fallback` when the graph declares none.
fn shape_of(dims: Option<&[Option<u64>]>, fallback: &[i64]) -> Vec<i64> {
    match dims {
        Some(d) if !d.is_empty() => d
            .iter()
            .enumerate()
            .map(|(i, n)| match n {
                Some(n) if i > 0 => *n as i64,
                _ => -1,
            })
            .collect(),
        _ => fallback.to_vec(),
    }
}

fn classes_parameter(classes: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("classes".into(), Value::from(classes.join(",")));
    m
}

/// What an ONNX output carries and how it is typed.
fn onnx_output(
    name: &str,
    element: &str,
    dims: Option<&[Option<u64>]>,
    labels: bool,
    classes: Option<&[String]>,
) -> Described {
    let name = name.to_string();
    if labels {
        let datatype = if element == "int64" { "INT64" } else { "BYTES" };
        return Described { name, datatype, shape: shape_of(dims, &[-1]), parameters: None };
    }
    let datatype = if element == "double" { "FP64" } else { "FP32" };
    match classes {
        Some(c) => Described {
            name,
            datatype,
            shape: shape_of(dims, &[-1, c.len() as i64]),
            parameters: Some(classes_parameter(c)),
        },
        None => Described { name, datatype, shape: shape_of(dims, &[-1, 1]), parameters: None },
    }
}

/// The inputs the metadata lists.
pub fn inputs(served: &Served) -> Vec<Described> {
    match &served.scorer {
        Scorer::Onnx { model, .. } => model
            .inputs
            .iter()
            .map(|t| Described {
                name: t.name.clone(),
                datatype: datatype_of(t.element),
                shape: shape_of(t.dims.as_deref(), &[-1, model.n_features as i64]),
                parameters: None,
            })
            .collect(),
        Scorer::Native(_) => served
            .inputs
            .fields
            .iter()
            .map(|f| Described {
                name: f.name.clone(),
                datatype: column_datatype(f.ty),
                shape: vec![-1],
                parameters: None,
            })
            .collect(),
    }
}

fn column_datatype(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Float => "FP64",
        ColumnType::Int | ColumnType::Timestamp => "INT64",
        ColumnType::Bool => "BOOL",
        ColumnType::Str => "BYTES",
    }
}

/// The outputs the metadata lists, in the order answers give them.
pub fn outputs(served: &Served) -> Vec<Described> {
    let classes = served.scorer.classes();
    let d = |name: &str, datatype, shape: Vec<i64>| Described { name: name.into(), datatype, shape, parameters: None };
    match &served.scorer {
        Scorer::Onnx { model, .. } => model
            .outputs
            .iter()
            .map(|o| onnx_output(&o.tensor.name, o.tensor.element, o.tensor.dims.as_deref(), o.labels, classes))
            .collect(),
        Scorer::Native(_) => match served.task() {
            Task::Regression => vec![d("prediction", "FP64", vec![-1])],
            Task::Classification => {
                let k = classes.map(|k| k.len() as i64).unwrap_or(-1);
                let mut probabilities = d("probabilities", "FP64", vec![-1, k]);
                probabilities.parameters = Some(classes_parameter(classes.unwrap_or(&[])));
                vec![d("label", "BYTES", vec![-1]), probabilities]
            }
            Task::Anomaly => vec![d("label", "BYTES", vec![-1]), d("score", "FP64", vec![-1])],
        },
    }
}

/// `GET /v2/models/{m}`: the model, its version, platform, inputs and outputs.
pub fn metadata(served: &Served) -> Value {
    let inputs: Vec<Value> = inputs(served).iter().map(Described::json).collect();
    let outputs: Vec<Value> = outputs(served).iter().map(Described::json).collect();
    json!({
        "name": served.name, "versions": [served.version], "platform": served.platform(),
        "inputs": inputs, "outputs": outputs,
    })
}

/// The rows of a request: an ONNX model's input as one `[rows, features]`
/// tensor named as the graph names it; otherwise (a berth model, or an
/// ONNX graph with one input per column) one tensor per input column, or
/// one matrix of them all, in order.
pub fn table(served: &Served, tensors: &[Tensor]) -> Result<Table, Refusal> {
    let Scorer::Onnx { model, .. } = &served.scorer else { return served.inputs.from_tensors(tensors) };
    if model.reads_columns() {
        return served.inputs.from_tensors(tensors);
    }
    let Some(graph_input) = model.inputs.first() else { return served.inputs.from_tensors(tensors) };
    let declared = &inputs(served)[0];
    let Some(t) = tensors.iter().find(|t| t.name == graph_input.name) else {
        // Tensors named after the columns berth reads (x0, x1, …) are read as before.
        let columns = served.inputs.names();
        if !tensors.is_empty() && tensors.iter().all(|t| columns.contains(&t.name.as_str())) {
            return served.inputs.from_tensors(tensors);
        }
        let sent: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
        return Err(Refusal::malformed(format!(
            "this model's input is {:?} ({} {:?}); the request sent {sent:?}",
            declared.name, declared.datatype, declared.shape
        )));
    };
    if tensors.len() > 1 {
        let others: Vec<&str> = tensors.iter().filter(|x| x.name != t.name).map(|x| x.name.as_str()).collect();
        return Err(Refusal::malformed(format!(
            "this model has one input, {:?}; the request also sent {others:?}",
            declared.name
        )));
    }
    let f = model.n_features as i64;
    if !matches!(t.shape.as_slice(), [n, k] if *n >= 0 && *k == f) {
        return Err(Refusal::malformed(format!(
            "input {:?} has shape {:?}; the model takes [rows, {f}] ({} {:?})",
            t.name, t.shape, declared.datatype, declared.shape
        )));
    }
    if !t.datatype_fits(ColumnType::Float) {
        return Err(Refusal::malformed(format!(
            "input {:?} has datatype {}; the model takes numbers: send FP32 (as the graph declares {}), FP64 or an \
             integer type",
            t.name, t.datatype, declared.datatype
        )));
    }
    served.inputs.from_matrix(t)
}

/// An output tensor's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bytes(Vec<String>),
}

impl Data {
    fn json(&self) -> Value {
        match self {
            Data::F32(v) => json!(v),
            Data::F64(v) => json!(v),
            Data::I64(v) => json!(v),
            Data::Bytes(v) => json!(v),
        }
    }
}

/// One output of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub datatype: &'static str,
    pub shape: Vec<usize>,
    pub parameters: Option<Map<String, Value>>,
    pub data: Data,
}

impl Output {
    /// The output in the answer's JSON: with its data, or with the size of
    /// the binary data that follows the JSON instead.
    pub fn json(&self, binary_size: Option<usize>) -> Value {
        let mut v = json!({ "name": self.name, "datatype": self.datatype, "shape": self.shape });
        let mut parameters = self.parameters.clone().unwrap_or_default();
        match binary_size {
            Some(n) => {
                parameters.insert("binary_data_size".into(), Value::from(n));
            }
            None => v["data"] = self.data.json(),
        }
        if !parameters.is_empty() {
            v["parameters"] = Value::Object(parameters);
        }
        v
    }
}

/// Rows × columns of the probabilities, flattened.
fn flat(probs: &[Vec<f64>]) -> (Vec<f64>, usize) {
    (probs.iter().flatten().copied().collect(), probs.first().map(Vec::len).unwrap_or(0))
}

/// Labels as the graph types them: integers when it declares INT64 and
/// every label is one; text otherwise.
fn labels_as(datatype: &'static str, labels: &[String]) -> (&'static str, Data) {
    if datatype == "INT64"
        && let Ok(ints) = labels.iter().map(|l| l.parse::<i64>()).collect::<Result<Vec<_>, _>>()
    {
        return ("INT64", Data::I64(ints));
    }
    ("BYTES", Data::Bytes(labels.to_vec()))
}

/// A shape of `rows` by the declared shape's other dimensions: `[rows]`
/// for a one-dimensional declaration, `[rows, k]` otherwise.
fn rows_by(declared: &[i64], rows: usize, k: usize) -> Vec<usize> {
    if declared.len() == 1 { vec![rows] } else { vec![rows, k] }
}

/// The answer's outputs for a prediction, in the metadata's order.
pub fn answer(served: &Served, p: &Prediction) -> Vec<Output> {
    let n = p.len();
    let described = outputs(served);
    let mut out = Vec::with_capacity(described.len());
    for d in described {
        let Described { name, datatype, shape, parameters } = d;
        let is_labels = match &served.scorer {
            Scorer::Onnx { model, .. } => model.outputs.iter().any(|o| o.tensor.name == name && o.labels),
            Scorer::Native(_) => name == "label",
        };
        let output = if is_labels {
            let Some(labels) = &p.labels else { continue };
            let (datatype, data) = labels_as(datatype, labels);
            Output { name, datatype, shape: rows_by(&shape, n, 1), parameters, data }
        } else if let Some(probs) = &p.probabilities {
            let (values, k) = flat(probs);
            let data = if datatype == "FP32" { Data::F32(to_f32(&values)) } else { Data::F64(values) };
            Output { name, datatype, shape: vec![n, k], parameters, data }
        } else if let Some(values) = &p.values {
            let data = if datatype == "FP32" { Data::F32(to_f32(values)) } else { Data::F64(values.clone()) };
            Output { name, datatype, shape: rows_by(&shape, n, 1), parameters, data }
        } else {
            continue;
        };
        out.push(output);
    }
    out
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|x| *x as f32).collect()
}
