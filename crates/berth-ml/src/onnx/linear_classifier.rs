//! `ai.onnx.ml.LinearClassifier`, evaluated by berth so that string class
//! labels and one-score binary models run (tract's own refuses both).
//!
//! Scores are `X·Cᵀ + intercepts`, one column per intercept, in `f32` as
//! onnxruntime computes them. With several columns the label is the highest
//! score's class (the first of a tie) and `post_transform` applies to the
//! row. With one column (a binary model such as scikit-learn's `LinearSVC`
//! or a binary logistic regression exported as one margin `s`), the label is
//! the second class when `s > 0`, else the first, and two declared classes
//! give the scores `[1 - s, s]`, as onnxruntime writes them.

use tract_onnx::pb;
use tract_onnx::tract_hir::internal::*;

use super::attrs::{Attrs, Labels, PostTransform};
use super::row_op::{OutputFact, RowOp, float_rows, matrix_shape};

/// A `LinearClassifier` node.
#[derive(Debug, Clone)]
pub struct LinearClassifier {
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    features: usize,
    post: PostTransform,
    labels: Labels,
}

impl LinearClassifier {
    pub fn from_node(node: &pb::NodeProto) -> Result<LinearClassifier, String> {
        let at = Attrs(node);
        let labels = at.class_labels()?;
        let coefficients = at.floats("coefficients");
        let intercepts = at.floats("intercepts");
        if coefficients.is_empty() {
            return Err("coefficients is empty".into());
        }
        if intercepts.is_empty() || coefficients.len() % intercepts.len() != 0 {
            return Err(format!(
                "coefficients has {} values, not a whole number of rows for {} intercepts",
                coefficients.len(),
                intercepts.len()
            ));
        }
        let post = PostTransform::parse(&at.string("post_transform", "NONE"))?;
        if post == PostTransform::Probit {
            return Err(
                "post_transform PROBIT is not one berth runs; valid: NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO".into()
            );
        }
        let targets = intercepts.len();
        if targets > 1 && targets != labels.len() {
            return Err(format!("the classifier has {targets} score columns for {} class labels", labels.len()));
        }
        if targets == 1 && labels.len() != 2 {
            return Err(format!("one score column needs two class labels; the classifier declares {}", labels.len()));
        }
        let features = coefficients.len() / targets;
        Ok(LinearClassifier { coefficients, intercepts, features, post, labels })
    }

    fn score_columns(&self) -> usize {
        self.intercepts.len().max(2)
    }

    fn score_row(&self, row: &[f32]) -> (usize, Vec<f32>) {
        let scores: Vec<f32> = self
            .coefficients
            .chunks_exact(self.features)
            .zip(&self.intercepts)
            .map(|(c, b)| row.iter().zip(c).fold(*b, |s, (x, w)| x.mul_add(*w, s)))
            .collect();
        if let [s] = scores[..] {
            return (usize::from(s > 0.0), vec![1.0 - s, s]);
        }
        let best = scores.iter().enumerate().fold(0, |b, (i, v)| if *v > scores[b] { i } else { b });
        (best, self.post.apply(scores))
    }
}

impl RowOp for LinearClassifier {
    fn name(&self) -> &'static str {
        "BerthLinearClassifier"
    }

    fn n_outputs(&self) -> usize {
        2
    }

    fn outputs(&self, _: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>> {
        let (rows, _) = matrix_shape("a linear classifier", shape)?;
        Ok(tvec![
            (self.labels.datum_type(), tvec![rows.clone()]),
            (f32::datum_type(), tvec![rows, self.score_columns().to_dim()])
        ])
    }

    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>> {
        let (rows, data) = float_rows(input, self.features, "the linear classifier")?;
        let k = self.score_columns();
        let mut scores = Vec::with_capacity(rows * k);
        let mut winners = Vec::with_capacity(rows);
        for row in data.chunks_exact(self.features) {
            let (w, s) = self.score_row(row);
            winners.push(w);
            scores.extend(s);
        }
        Ok(tvec![self.labels.pick(&winners)?, Tensor::from_shape(&[rows, k], &scores)?])
    }
}
