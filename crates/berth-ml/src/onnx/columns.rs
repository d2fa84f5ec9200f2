//! Graphs with several inputs, one per column, as converters export a
//! table (a scikit-learn `ColumnTransformer`: numbers scaled, text one-hot
//! encoded): each input `[rows, 1]` is filled from the data's column of the
//! same name — numbers as the input's element type, text as strings.

use berth_data::{ColumnType, Table};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::GraphTensor;
use crate::{MlError, Result};

/// A graph's inputs, one per column: what each is fed with, and for each
/// text input a category its encoder knows ([`known_text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Columns {
    pub feeds: Vec<Feed>,
    pub known_text: Vec<(String, String)>,
}

/// What one input is fed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feed {
    F32,
    F64,
    I64,
    Text,
}

impl Feed {
    fn of(t: &GraphTensor) -> Result<Feed> {
        Ok(match t.element {
            "float" => Feed::F32,
            "double" => Feed::F64,
            "int64" => Feed::I64,
            "string" => Feed::Text,
            other => {
                return Err(MlError::BadOnnx(format!(
                    "input {:?} holds {other}; berth feeds a graph's inputs with float, double, int64 or string \
                     columns",
                    t.name
                )));
            }
        })
    }

    fn fact(self, rows: TDim) -> InferenceFact {
        let shape = [rows, 1.to_dim()];
        match self {
            Feed::F32 => f32::fact(shape).into(),
            Feed::F64 => f64::fact(shape).into(),
            Feed::I64 => i64::fact(shape).into(),
            Feed::Text => String::fact(shape).into(),
        }
    }
}

/// The feeds of a graph with several inputs, each a tensor `[rows, 1]`.
pub(super) fn feeds(inputs: &[GraphTensor]) -> Result<Vec<Feed>> {
    inputs
        .iter()
        .map(|t| {
            let width = t.dims.as_ref().and_then(|d| d.last().copied().flatten());
            if t.dims.as_ref().map(Vec::len) != Some(2) || width != Some(1) {
                return Err(MlError::BadOnnx(format!(
                    "input {:?} has shape {:?}; berth fills a model's inputs one column each, so each must be \
                     [rows, 1]",
                    t.name, t.dims
                )));
            }
            Feed::of(t)
        })
        .collect()
}

/// Declares each input's type and shape to tract.
pub(super) fn declare(model: &mut InferenceModel, feeds: &[Feed]) -> TractResult<()> {
    let rows = model.symbols.sym("rows");
    for (i, f) in feeds.iter().enumerate() {
        model.set_input_fact(i, f.fact(rows.to_dim()))?;
    }
    Ok(())
}

fn refused(e: impl std::fmt::Display) -> MlError {
    MlError::BadOnnx(format!("{e:#}"))
}

/// The tensors for `table`: each input from the column of its name.
pub(super) fn tensors(inputs: &[GraphTensor], feeds: &[Feed], table: &Table) -> Result<TVec<TValue>> {
    let rows = table.rows();
    let mut out = TVec::new();
    for (t, feed) in inputs.iter().zip(feeds) {
        let Some(column) = table.column(&t.name) else {
            let names: Vec<&str> = inputs.iter().map(|t| t.name.as_str()).collect();
            return Err(MlError::Invalid(format!(
                "the model reads a column {:?} (its inputs are {names:?}); the data has {:?}",
                t.name,
                table.names()
            )));
        };
        let missing = |i: usize, what: &str| {
            MlError::Invalid(format!(
                "column {:?} row {i} is null or not {what}; the model needs one in every row",
                t.name
            ))
        };
        let tensor = match feed {
            Feed::Text => {
                if column.ty() != ColumnType::Str {
                    return Err(MlError::Invalid(format!(
                        "column {:?} holds {}; the model's input {:?} takes text",
                        t.name,
                        column.ty(),
                        t.name
                    )));
                }
                let v = (0..rows)
                    .map(|i| column.str_at(i).map(str::to_string).ok_or_else(|| missing(i, "text")))
                    .collect::<Result<Vec<String>>>()?;
                tract_ndarray::Array2::from_shape_vec((rows, 1), v).map_err(refused)?.into_tensor()
            }
            numeric => {
                if !column.ty().is_numeric() {
                    return Err(MlError::Invalid(format!(
                        "column {:?} holds {}; the model's input {:?} takes numbers",
                        t.name,
                        column.ty(),
                        t.name
                    )));
                }
                let v = (0..rows).map(|i| column.as_f64(i).ok_or_else(|| missing(i, "a number")));
                let v = v.collect::<Result<Vec<f64>>>()?;
                match numeric {
                    Feed::F64 => Tensor::from_shape(&[rows, 1], &v),
                    Feed::I64 => {
                        let ints: Vec<i64> = v.iter().map(|x| *x as i64).collect();
                        Tensor::from_shape(&[rows, 1], &ints)
                    }
                    _ => Tensor::from_shape(&[rows, 1], &v.iter().map(|x| *x as f32).collect::<Vec<_>>()),
                }
                .map_err(refused)?
            }
        };
        out.push(tensor.into());
    }
    Ok(out)
}

/// Every input must be a tensor; a map or a sequence is named with the
/// node that reads it.
pub(super) fn check_tensors(graph: &pb::GraphProto) -> Result<()> {
    for input in &graph.input {
        if super::not_a_tensor(input) {
            let reader = graph.node.iter().find(|n| n.input.contains(&input.name));
            let by = reader.map(|n| format!(" read by node '{}' ({})", n.name, super::op_name(n))).unwrap_or_default();
            return Err(MlError::BadOnnx(format!(
                "input {:?} is not a tensor (a map or a sequence){by}; berth runs models whose inputs are tensors",
                input.name
            )));
        }
    }
    Ok(())
}

/// A category a text input is known to take: the first of the categories
/// (`cats_strings`, `keys_strings`) of the first encoder its values reach,
/// through at most a few nodes; a row built from it is one the model can
/// score (an encoder may refuse categories it does not know).
pub(super) fn known_text(graph: &pb::GraphProto, input: &str) -> Option<String> {
    let mut reached = vec![input.to_string()];
    for _ in 0..8 {
        let mut next = Vec::new();
        for n in graph.node.iter().filter(|n| n.input.iter().any(|i| reached.contains(i))) {
            let categories = n
                .attribute
                .iter()
                .find(|a| matches!(a.name.as_str(), "cats_strings" | "keys_strings") && !a.strings.is_empty());
            if let Some(a) = categories {
                return Some(String::from_utf8_lossy(&a.strings[0]).into_owned());
            }
            next.extend(n.output.iter().cloned());
        }
        if next.is_empty() {
            return None;
        }
        reached = next;
    }
    None
}
