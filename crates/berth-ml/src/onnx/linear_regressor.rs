//! `ai.onnx.ml.LinearRegressor`, evaluated by berth: `X·Cᵀ + intercepts`,
//! one column per target, in `f32` as onnxruntime computes it.
//!
//! tract's own expands it into a matrix product that its optimiser pushes
//! into the `Concat` before it; when a piece of that concatenation is built
//! from a shape (`PolynomialFeatures`' constant column, from `Shape` and
//! `ConstantOfShape`), the pushed product loses track of ranks. As one
//! operator, the product stays where the model put it.

use tract_onnx::pb;
use tract_onnx::tract_hir::internal::*;

use super::attrs::Attrs;
use super::row_op::{OutputFact, RowOp, float_rows, matrix_shape};

/// A `LinearRegressor` node.
#[derive(Debug, Clone)]
pub struct LinearRegressor {
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    targets: usize,
    features: usize,
}

impl LinearRegressor {
    pub fn from_node(node: &pb::NodeProto) -> Result<LinearRegressor, String> {
        let at = Attrs(node);
        let coefficients = at.floats("coefficients");
        let intercepts = at.floats("intercepts");
        let targets = at.int("targets", 1);
        let targets = usize::try_from(targets)
            .ok()
            .filter(|t| *t > 0)
            .ok_or(format!("targets is {targets}; it is at least 1"))?;
        if coefficients.is_empty() || coefficients.len() % targets != 0 {
            return Err(format!(
                "coefficients has {} values, not a whole number of rows for {targets} targets",
                coefficients.len()
            ));
        }
        if !(intercepts.is_empty() || intercepts.len() == targets) {
            return Err(format!("intercepts has {} values for {targets} targets", intercepts.len()));
        }
        let post = at.string("post_transform", "NONE");
        if post != "NONE" {
            return Err(format!("post_transform {post:?} on a linear regressor is not one berth runs; only NONE is"));
        }
        let features = coefficients.len() / targets;
        Ok(LinearRegressor { coefficients, intercepts, targets, features })
    }
}

impl RowOp for LinearRegressor {
    fn name(&self) -> &'static str {
        "BerthLinearRegressor"
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn outputs(&self, _: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>> {
        let (rows, _) = matrix_shape("a linear regressor", shape)?;
        Ok(tvec![(f32::datum_type(), tvec![rows, self.targets.to_dim()])])
    }

    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>> {
        let (rows, data) = float_rows(input, self.features, "the linear regressor")?;
        let mut out = Vec::with_capacity(rows * self.targets);
        for row in data.chunks_exact(self.features) {
            for (t, c) in self.coefficients.chunks_exact(self.features).enumerate() {
                let b = self.intercepts.get(t).copied().unwrap_or(0.0);
                out.push(row.iter().zip(c).fold(b, |s, (x, w)| x.mul_add(*w, s)));
            }
        }
        Ok(tvec![Tensor::from_shape(&[rows, self.targets], &out)?])
    }
}
