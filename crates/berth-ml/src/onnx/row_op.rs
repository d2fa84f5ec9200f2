//! A small bridge that turns a berth operator over one input tensor into a
//! tract operator.
//!
//! An ONNX-ML operator berth implements itself (an SVM, an encoder) only
//! says what it outputs for an input of a given type and shape, and how it
//! computes that; [`BerthOp`] does the rest of tract's plumbing (type and
//! shape inference, the typed model, evaluation), so that the rest of the
//! graph around it still runs in tract.

use std::fmt::Debug;
use std::sync::Arc;

use tract_onnx::tract_hir::internal::*;

/// One output of a [`RowOp`]: its element type and shape.
pub type OutputFact = (DatumType, TVec<TDim>);

/// An operator of one input, evaluated by berth.
pub trait RowOp: Debug + Send + Sync + 'static {
    /// The operator's name, as tract shows it in its plans.
    fn name(&self) -> &'static str;

    /// How many outputs the operator has.
    fn n_outputs(&self) -> usize;

    /// The outputs' types and shapes for an input of type `dt` and `shape`;
    /// an error says why such an input cannot be taken.
    fn outputs(&self, dt: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>>;

    /// Computes the outputs for one input tensor.
    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>>;
}

/// The tract operator around a [`RowOp`]. Two are equal when they share one
/// operator.
#[derive(Debug, Clone)]
pub struct BerthOp(pub Arc<dyn RowOp>);

impl BerthOp {
    /// Wraps `op` for tract's operator table.
    pub fn inference(op: impl RowOp) -> Box<dyn InferenceOp> {
        expand(BerthOp(Arc::new(op)))
    }
}

impl PartialEq for BerthOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for BerthOp {}

impl Expansion for BerthOp {
    fn name(&self) -> StaticName {
        self.0.name().into()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.0.n_outputs())
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, self.0.n_outputs())?;
        let op = self.0.clone();
        s.given_2(&inputs[0].datum_type, &inputs[0].shape, move |s, dt, shape| {
            for (proxy, (dt, shape)) in outputs.iter().zip(op.outputs(dt, &shape)?) {
                s.equals(&proxy.datum_type, dt)?;
                s.equals(&proxy.shape, shape)?;
            }
            Ok(())
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.clone(), inputs)
    }
}

impl Op for BerthOp {
    fn name(&self) -> StaticName {
        self.0.name().into()
    }

    op_as_typed_op!();
}

impl EvalOp for BerthOp {
    op_out_of_plan!();

    fn eval(&self, _: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        Ok(self.0.eval(&input)?.into_iter().map(Tensor::into_tvalue).collect())
    }
}

impl TypedOp for BerthOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        Ok(self
            .0
            .outputs(inputs[0].datum_type, &shape)?
            .into_iter()
            .map(|(dt, s)| TypedFact::dt_shape(dt, s))
            .collect())
    }

    as_op!();
}

/// The `[rows, columns]` of a matrix input, or an error naming `what`.
pub fn matrix_shape(what: &str, shape: &[TDim]) -> TractResult<(TDim, TDim)> {
    match shape {
        [rows, cols] => Ok((rows.clone(), cols.clone())),
        [cols] => Ok((1.to_dim(), cols.clone())),
        other => bail!("{what} takes a [rows, features] matrix; got shape {other:?}"),
    }
}

/// The input as a row-major `f32` buffer with its row count; other numeric
/// types are converted.
pub fn float_rows(input: &Tensor, features: usize, what: &str) -> TractResult<(usize, Vec<f32>)> {
    let input = input.cast_to::<f32>()?;
    let view = input.to_plain_array_view::<f32>()?;
    let data: Vec<f32> = view.iter().copied().collect();
    let columns = input.shape().last().copied().unwrap_or(0);
    ensure!(
        columns == features,
        "{what} reads {features} features per row; the input has {columns} columns (shape {:?})",
        input.shape()
    );
    let rows = data.len().checked_div(features).unwrap_or(0);
    Ok((rows, data))
}
