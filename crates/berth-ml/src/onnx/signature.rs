//! What an ONNX graph declares about the tensors it reads and writes: each
//! one's name, element type and dimensions, as exported, so that a server
//! can describe the model in the graph's own terms.
//!
//! Outputs are described as berth returns them: a classifier's label output
//! carries the labels berth reports, its probability output the
//! probabilities. A `ZipMap` output (a sequence of maps from class to
//! probability) keeps its name and is described as the float tensor
//! `[rows, classes]` it was built from, classes in the model's order.
//! Outputs berth does not compute are left out.

use tract_onnx::pb;

/// One input or output tensor as the graph declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphTensor {
    pub name: String,
    /// ONNX's name for the element type (`"float"`, `"double"`, `"int64"`,
    /// `"string"`, `"bool"`, …), or `"unknown"` when the graph does not say.
    pub element: &'static str,
    /// Each dimension's size; `None` for a symbolic or missing one. `None`
    /// altogether when the graph declares no shape.
    pub dims: Option<Vec<Option<u64>>>,
}

/// One output berth computes, and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphOutput {
    pub tensor: GraphTensor,
    /// The labels (classifiers); otherwise the probabilities, scores or
    /// predicted values.
    pub labels: bool,
    /// Declared as a `ZipMap`'s sequence of maps, described as the float
    /// tensor berth returns instead.
    pub from_zipmap: bool,
}

/// ONNX's name for a `TensorProto.DataType` code.
fn element_name(code: i32) -> &'static str {
    match code {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        _ => "unknown",
    }
}

/// The tensor a value declares; a map or sequence (not kept by the schema
/// berth reads) has an unknown element type and no shape.
pub(super) fn tensor_of(v: &pb::ValueInfoProto) -> GraphTensor {
    use pb::tensor_shape_proto::dimension::Value;
    use pb::type_proto::Value as T;
    let tensor = v.r#type.as_ref().and_then(|t| t.value.as_ref()).map(|T::TensorType(t)| t);
    let dims = tensor.and_then(|t| t.shape.as_ref()).map(|s| {
        s.dim
            .iter()
            .map(|d| match d.value {
                Some(Value::DimValue(n)) if n >= 0 => Some(n as u64),
                _ => None,
            })
            .collect()
    });
    GraphTensor { name: v.name.clone(), element: tensor.map(|t| element_name(t.elem_type)).unwrap_or("unknown"), dims }
}

/// The outputs berth computes, in the graph's order: `scores` is the index
/// of the probabilities or values, `labels` that of the labels (for a
/// classifier), `zipmaps` the names of outputs that were `ZipMap`s and
/// `classes` the number of classes.
pub(super) fn outputs(
    declared: &[GraphTensor],
    scores: usize,
    labels: Option<usize>,
    zipmaps: &[String],
    classes: Option<usize>,
) -> Vec<GraphOutput> {
    declared
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == scores || Some(*i) == labels)
        .map(|(i, t)| {
            let from_zipmap = zipmaps.contains(&t.name);
            let tensor = if from_zipmap {
                GraphTensor {
                    name: t.name.clone(),
                    element: "float",
                    dims: Some(vec![None, classes.map(|k| k as u64)]),
                }
            } else {
                t.clone()
            };
            GraphOutput { tensor, labels: i != scores, from_zipmap }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, element: &'static str, dims: Option<Vec<Option<u64>>>) -> GraphTensor {
        GraphTensor { name: name.into(), element, dims }
    }

    #[test]
    fn a_zipmap_is_described_as_the_probability_matrix_and_other_outputs_keep_their_declaration() {
        let declared = [
            t("output_label", "int64", Some(vec![None])),
            t("output_probability", "unknown", None),
            t("extra", "float", None),
        ];
        let out = outputs(&declared, 1, Some(0), &["output_probability".into()], Some(3));
        assert_eq!(out.len(), 2, "outputs berth does not compute are left out");
        assert!(out[0].labels && !out[0].from_zipmap);
        assert_eq!(out[0].tensor, declared[0]);
        assert_eq!(out[1].tensor, t("output_probability", "float", Some(vec![None, Some(3)])));
        assert!(!out[1].labels && out[1].from_zipmap);
    }
}
