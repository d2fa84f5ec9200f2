//! `ai.onnx.ml.SVMClassifier` and `SVMRegressor`, read from their node
//! attributes and evaluated by berth.
//!
//! Both operators come in two modes. With support vectors
//! (`vectors_per_class` / `n_supports` > 0) the kernel — `LINEAR` `x·v`,
//! `POLY` `(γ x·v + c₀)^d`, `RBF` `exp(-γ |x - v|²)` or `SIGMOID`
//! `tanh(γ x·v + c₀)`, with `kernel_params = [γ, c₀, d]` — is taken between
//! the row and every support vector. Without, `coefficients` holds one
//! linear model per class (or one for a regressor) and `rho[0]` is added.
//!
//! A classifier with support vectors is one-vs-one: every pair of classes
//! `(i, j)`, `i < j`, in order, has a decision value
//! `Σ coef·k(class i's vectors) + Σ coef·k(class j's vectors) + rho[pair]`;
//! a positive value votes for `i`, otherwise for `j`, and the label is the
//! class with most votes (the first of a tie). The scores output follows
//! onnxruntime, which is what exporters target:
//!
//! - with `prob_a`/`prob_b`, each pair's value is Platt-scaled,
//!   `1 - σ(value·a + b)` clipped to `[1e-7, 1 - 1e-7]`, and the pairwise
//!   probabilities are coupled into one per class by the iterative method of
//!   Wu, Lin and Weng (as libsvm does), then `post_transform` is applied;
//! - without, two classes give `[-value, value]` (`post_transform` `NONE`)
//!   or `[1 - value, value]` (any other), and more classes give the pairwise
//!   values, transformed.
//!
//! A linear classifier's label is the highest score's class, except that two
//! classes follow onnxruntime's rule (the second class when its score passes
//! 0.5 with non-negative weights, or 0 with signed ones). The probability
//! coupling runs in `f32`, in onnxruntime's order, so that its stopping test
//! ends at the same iteration. Kernels are `f32`, as in onnxruntime: a
//! linear or polynomial kernel between large rows cancels heavily, and only
//! the same arithmetic gives the same digits. A classifier's pairwise sums
//! accumulate in `f64`; a regressor's in `f32`.

use tract_onnx::pb;
use tract_onnx::tract_hir::internal::*;

use super::attrs::{Attrs, Labels, PostTransform, logistic};
use super::row_op::{OutputFact, RowOp, float_rows, matrix_shape};

#[derive(Debug, Clone, Copy, PartialEq)]
enum KernelType {
    Linear,
    Poly,
    Rbf,
    Sigmoid,
}

/// A kernel with its parameters.
#[derive(Debug, Clone, Copy)]
struct Kernel {
    kind: KernelType,
    gamma: f64,
    coef0: f64,
    degree: f64,
}

impl Kernel {
    fn from_attrs(at: &Attrs) -> Result<Kernel, String> {
        let kind = match at.string("kernel_type", "LINEAR").as_str() {
            "LINEAR" => KernelType::Linear,
            "POLY" => KernelType::Poly,
            "RBF" => KernelType::Rbf,
            "SIGMOID" => KernelType::Sigmoid,
            other => {
                return Err(format!("kernel_type {other:?} is not one berth runs; valid: LINEAR, POLY, RBF, SIGMOID"));
            }
        };
        let params = at.floats("kernel_params");
        let (gamma, coef0, degree) = match params.as_slice() {
            [] => (0.0, 0.0, 0.0),
            [g, c, d, ..] => (f64::from(*g), f64::from(*c), f64::from(*d)),
            short => {
                return Err(format!("kernel_params has {} values; it takes three: gamma, coef0, degree", short.len()));
            }
        };
        Ok(Kernel { kind, gamma, coef0, degree })
    }

    fn linear() -> Kernel {
        Kernel { kind: KernelType::Linear, gamma: 0.0, coef0: 0.0, degree: 0.0 }
    }

    /// The kernel between a row and a vector, in `f32` as onnxruntime
    /// computes it: dot products by fused multiply-adds in feature order,
    /// squared distances by plain sums.
    fn apply(&self, x: &[f32], v: &[f32]) -> f32 {
        let dot = || x.iter().zip(v).fold(0f32, |s, (a, b)| a.mul_add(*b, s));
        let (gamma, coef0) = (self.gamma as f32, self.coef0 as f32);
        match self.kind {
            KernelType::Linear => dot(),
            KernelType::Poly => {
                let base = gamma.mul_add(dot(), coef0);
                match self.degree {
                    2.0 => base * base,
                    3.0 => base * base * base,
                    d => base.powf(d as f32),
                }
            }
            KernelType::Sigmoid => gamma.mul_add(dot(), coef0).tanh(),
            KernelType::Rbf => {
                let d2 = x.iter().zip(v).fold(0f32, |s, (a, b)| s + (a - b) * (a - b));
                (-gamma * d2).exp()
            }
        }
    }
}

/// The support vectors, `vectors × features` row-major.
#[derive(Debug, Clone)]
struct Support {
    vectors: Vec<f32>,
    count: usize,
}

impl Support {
    fn row(&self, v: usize, features: usize) -> &[f32] {
        &self.vectors[v * features..(v + 1) * features]
    }
}

/// How a classifier scores a row.
#[derive(Debug, Clone)]
enum ClassifierMode {
    /// One-vs-one over support vectors; `starts[c]..starts[c + 1]` are class
    /// `c`'s vectors.
    Svc { support: Support, starts: Vec<usize>, probability: Option<(Vec<f32>, Vec<f32>)> },
    /// One linear model per class.
    Linear,
}

/// An `SVMClassifier` node.
#[derive(Debug, Clone)]
pub struct SvmClassifier {
    kernel: Kernel,
    mode: ClassifierMode,
    coefficients: Vec<f32>,
    rho: Vec<f32>,
    post: PostTransform,
    labels: Labels,
    features: usize,
    weights_all_positive: bool,
}

fn check_post(post: PostTransform) -> Result<PostTransform, String> {
    if post == PostTransform::Probit {
        return Err("post_transform PROBIT is not one berth runs; valid: NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO".into());
    }
    Ok(post)
}

impl SvmClassifier {
    pub fn from_node(node: &pb::NodeProto) -> Result<SvmClassifier, String> {
        let at = Attrs(node);
        let labels = at.class_labels()?;
        let classes = labels.len();
        if classes < 2 {
            return Err(format!("the classifier declares {classes} class label(s); it needs at least two"));
        }
        let kernel = Kernel::from_attrs(&at)?;
        let coefficients = at.floats("coefficients");
        if coefficients.is_empty() {
            return Err("coefficients is empty".into());
        }
        let rho = at.floats("rho");
        let post = check_post(PostTransform::parse(&at.string("post_transform", "NONE"))?)?;
        let (prob_a, prob_b) = (at.floats("prob_a"), at.floats("prob_b"));
        if prob_a.len() != prob_b.len() {
            return Err(format!("prob_a has {} values and prob_b {}; they go in pairs", prob_a.len(), prob_b.len()));
        }
        let per_class = at.ints("vectors_per_class");
        if per_class.iter().any(|n| *n < 0) {
            return Err(format!("vectors_per_class {per_class:?} has a negative count"));
        }
        let count: usize = per_class.iter().map(|n| *n as usize).sum();
        let pairs = classes * (classes - 1) / 2;
        let weights_all_positive = coefficients.iter().all(|c| *c >= 0.0);
        let (mode, features, kernel) = if count > 0 {
            if per_class.len() != classes {
                return Err(format!("vectors_per_class has {} entries for {classes} classes", per_class.len()));
            }
            let vectors = at.floats("support_vectors");
            if vectors.is_empty() || vectors.len() % count != 0 {
                return Err(format!(
                    "support_vectors has {} values, not a whole number of {count} vectors",
                    vectors.len()
                ));
            }
            let features = vectors.len() / count;
            if coefficients.len() < (classes - 1) * count {
                return Err(format!(
                    "coefficients has {} values; {} classes and {count} support vectors need {}",
                    coefficients.len(),
                    classes,
                    (classes - 1) * count
                ));
            }
            if rho.len() < pairs {
                return Err(format!("rho has {} values; {classes} classes need one per pair, {pairs}", rho.len()));
            }
            if !prob_a.is_empty() && prob_a.len() < pairs {
                return Err(format!(
                    "prob_a has {} values; {classes} classes need one per pair, {pairs}",
                    prob_a.len()
                ));
            }
            let mut starts = vec![0];
            for n in &per_class {
                starts.push(starts.last().copied().unwrap_or(0) + *n as usize);
            }
            let probability = (!prob_a.is_empty()).then_some((prob_a, prob_b));
            (ClassifierMode::Svc { support: Support { vectors, count }, starts, probability }, features, kernel)
        } else {
            if coefficients.len() % classes != 0 {
                return Err(format!(
                    "coefficients has {} values, not one linear model for each of {classes} classes",
                    coefficients.len()
                ));
            }
            if rho.is_empty() {
                return Err("rho is empty; a linear SVM needs its intercept".into());
            }
            (ClassifierMode::Linear, coefficients.len() / classes, Kernel::linear())
        };
        Ok(SvmClassifier { kernel, mode, coefficients, rho, post, labels, features, weights_all_positive })
    }

    fn classes(&self) -> usize {
        self.labels.len()
    }

    /// Columns of the scores output.
    fn score_columns(&self) -> usize {
        match &self.mode {
            ClassifierMode::Svc { probability: None, .. } if self.classes() > 2 => {
                self.classes() * (self.classes() - 1) / 2
            }
            _ => self.classes(),
        }
    }

    /// Scores one row: the winning class and the scores output.
    fn score_row(&self, row: &[f32], kernels: &mut Vec<f32>) -> (usize, Vec<f32>) {
        let classes = self.classes();
        match &self.mode {
            ClassifierMode::Linear => {
                let scores: Vec<f32> = self
                    .coefficients
                    .chunks_exact(self.features)
                    .map(|c| self.kernel.apply(row, c) + self.rho[0])
                    .collect();
                let best = first_max(&scores);
                let top = scores[best];
                // onnxruntime's two-class rule: the second class past 0.5 with
                // non-negative weights, or past 0 with signed ones.
                let threshold = if self.weights_all_positive { top >= 0.5 } else { top > 0.0 };
                let winner = if classes == 2 && threshold { 1 } else { best };
                (winner, self.post.apply(scores))
            }
            ClassifierMode::Svc { support, starts, probability } => {
                kernels.clear();
                kernels.extend((0..support.count).map(|v| self.kernel.apply(row, support.row(v, self.features))));
                let count = support.count;
                let mut votes = vec![0usize; classes];
                let mut values = Vec::with_capacity(classes * (classes - 1) / 2);
                for i in 0..classes {
                    for j in i + 1..classes {
                        let side = |class: usize, coef_row: usize| -> f64 {
                            (starts[class]..starts[class + 1])
                                .map(|v| f64::from(self.coefficients[coef_row * count + v] * kernels[v]))
                                .sum()
                        };
                        let sum = side(i, j - 1) + side(j, i) + f64::from(self.rho[values.len()]);
                        votes[if sum > 0.0 { i } else { j }] += 1;
                        values.push(sum as f32);
                    }
                }
                let winner = votes.iter().enumerate().fold(0, |b, (i, v)| if *v > votes[b] { i } else { b });
                let scores = match probability {
                    Some((a, b)) => self.post.apply(couple(classes, &pairwise_probabilities(&values, a, b, classes))),
                    None if classes > 2 => self.post.apply(values),
                    None if self.post == PostTransform::None => vec![-values[0], values[0]],
                    None => vec![1.0 - values[0], values[0]],
                };
                (winner, scores)
            }
        }
    }
}

fn first_max(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |b, (i, x)| if *x > v[b] { i } else { b })
}

/// The `classes × classes` matrix `r`, `r[i][j]` the Platt-scaled
/// probability of `i` over `j`.
fn pairwise_probabilities(values: &[f32], a: &[f32], b: &[f32], classes: usize) -> Vec<f32> {
    let mut r = vec![0f32; classes * classes];
    let mut pair = 0;
    for i in 0..classes {
        for j in i + 1..classes {
            let p = (1.0 - logistic(values[pair] * a[pair] + b[pair])).clamp(1.0e-7, 1.0 - 1.0e-7);
            r[i * classes + j] = p;
            r[j * classes + i] = 1.0 - p;
            pair += 1;
        }
    }
    r
}

/// Couples pairwise probabilities `r` into one probability per class
/// (Wu, Lin and Weng 2004, method 2, as libsvm computes it): minimises
/// `pᵀQp` on the simplex by coordinate steps, at most 100 sweeps, stopping
/// when every `(Qp)ᵢ` is within `0.005 / k` of `pᵀQp`.
fn couple(k: usize, r: &[f32]) -> Vec<f32> {
    let mut q = vec![0f32; k * k];
    for i in 0..k {
        for j in 0..k {
            if j < i {
                q[i * k + i] += r[j * k + i] * r[j * k + i];
                q[i * k + j] = q[j * k + i];
            } else if j > i {
                q[i * k + i] += r[j * k + i] * r[j * k + i];
                q[i * k + j] = -r[j * k + i] * r[i * k + j];
            }
        }
    }
    let mut p = vec![1.0 / k as f32; k];
    let mut qp = vec![0f32; k];
    let eps = 0.005 / k as f32;
    for _ in 0..100 {
        let mut pqp = 0f32;
        for i in 0..k {
            qp[i] = (0..k).fold(0f32, |s, j| s + q[i * k + j] * p[j]);
            pqp += p[i] * qp[i];
        }
        let worst = qp.iter().fold(0f32, |m, v| m.max((v - pqp).abs()));
        if worst < eps {
            break;
        }
        for i in 0..k {
            let diff = (pqp - qp[i]) / q[i * k + i];
            p[i] += diff;
            pqp = (pqp + diff * (diff * q[i * k + i] + 2.0 * qp[i])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[i * k + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
    p
}

impl RowOp for SvmClassifier {
    fn name(&self) -> &'static str {
        "BerthSVMClassifier"
    }

    fn n_outputs(&self) -> usize {
        2
    }

    fn outputs(&self, _: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>> {
        let (rows, _) = matrix_shape("an SVM classifier", shape)?;
        Ok(tvec![
            (self.labels.datum_type(), tvec![rows.clone()]),
            (f32::datum_type(), tvec![rows, self.score_columns().to_dim()])
        ])
    }

    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>> {
        let (rows, data) = float_rows(input, self.features, "the SVM classifier")?;
        let k = self.score_columns();
        let mut scores = Vec::with_capacity(rows * k);
        let mut winners = Vec::with_capacity(rows);
        let mut kernels = Vec::new();
        for row in data.chunks_exact(self.features) {
            let (w, s) = self.score_row(row, &mut kernels);
            winners.push(w);
            scores.extend(s);
        }
        Ok(tvec![self.labels.pick(&winners)?, Tensor::from_shape(&[rows, k], &scores)?])
    }
}

/// An `SVMRegressor` node: one target, the kernel expansion over support
/// vectors (or a linear model) plus `rho[0]`; with `one_class`, the sign as
/// `±1`.
#[derive(Debug, Clone)]
pub struct SvmRegressor {
    kernel: Kernel,
    support: Option<Support>,
    coefficients: Vec<f32>,
    rho: f32,
    one_class: bool,
    features: usize,
}

impl SvmRegressor {
    pub fn from_node(node: &pb::NodeProto) -> Result<SvmRegressor, String> {
        let at = Attrs(node);
        let kernel = Kernel::from_attrs(&at)?;
        let coefficients = at.floats("coefficients");
        if coefficients.is_empty() {
            return Err("coefficients is empty".into());
        }
        let rho = *at.floats("rho").first().ok_or("rho is empty; the regressor needs its intercept")?;
        let post = at.string("post_transform", "NONE");
        if post != "NONE" {
            return Err(format!(
                "post_transform {post:?} on an SVM regressor is not one berth runs; only NONE is (onnxruntime ignores it)"
            ));
        }
        let n_supports = at.int("n_supports", 0);
        let count = usize::try_from(n_supports).map_err(|_| format!("n_supports {n_supports} is negative"))?;
        let (support, features, kernel) = if count > 0 {
            let vectors = at.floats("support_vectors");
            if vectors.is_empty() || vectors.len() % count != 0 {
                return Err(format!(
                    "support_vectors has {} values, not a whole number of {count} vectors",
                    vectors.len()
                ));
            }
            if coefficients.len() < count {
                return Err(format!("coefficients has {} values for {count} support vectors", coefficients.len()));
            }
            let features = vectors.len() / count;
            (Some(Support { vectors, count }), features, kernel)
        } else {
            (None, coefficients.len(), Kernel::linear())
        };
        Ok(SvmRegressor { kernel, support, coefficients, rho, one_class: at.int("one_class", 0) != 0, features })
    }

    fn score_row(&self, row: &[f32]) -> f32 {
        let value = match &self.support {
            Some(s) => (0..s.count).fold(0f32, |sum, v| {
                self.coefficients[v].mul_add(self.kernel.apply(row, s.row(v, self.features)), sum)
            }),
            None => self.kernel.apply(row, &self.coefficients),
        } + self.rho;
        match (self.one_class, value > 0.0) {
            (false, _) => value,
            (true, true) => 1.0,
            (true, false) => -1.0,
        }
    }
}

impl RowOp for SvmRegressor {
    fn name(&self) -> &'static str {
        "BerthSVMRegressor"
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn outputs(&self, _: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>> {
        let (rows, _) = matrix_shape("an SVM regressor", shape)?;
        Ok(tvec![(f32::datum_type(), tvec![rows, 1.to_dim()])])
    }

    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>> {
        let (rows, data) = float_rows(input, self.features, "the SVM regressor")?;
        let values: Vec<f32> = data.chunks_exact(self.features).map(|r| self.score_row(r)).collect();
        Ok(tvec![Tensor::from_shape(&[rows, 1], &values)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupling_two_classes_returns_the_pairwise_probability() {
        let r = [0.0, 0.8, 0.2, 0.0];
        let p = couple(2, &r);
        assert!((p[0] - 0.8).abs() < 1e-3 && (p[1] - 0.2).abs() < 1e-3, "{p:?}");
    }

    fn svc(extra: Vec<pb::AttributeProto>) -> pb::NodeProto {
        let floats =
            |name: &str, v: &[f32]| pb::AttributeProto { name: name.into(), floats: v.to_vec(), ..Default::default() };
        let ints =
            |name: &str, v: &[i64]| pb::AttributeProto { name: name.into(), ints: v.to_vec(), ..Default::default() };
        let mut attribute = vec![
            ints("classlabels_ints", &[0, 1]),
            ints("vectors_per_class", &[1, 1]),
            floats("support_vectors", &[0.0, 0.0, 1.0, 1.0]),
            floats("coefficients", &[1.0, -1.0]),
            floats("rho", &[0.0]),
            floats("kernel_params", &[0.5, 0.0, 3.0]),
        ];
        attribute.extend(extra);
        pb::NodeProto { op_type: "SVMClassifier".into(), name: "s".into(), attribute, ..Default::default() }
    }

    #[test]
    fn malformed_svms_are_refused_with_the_reason() {
        let text = |name: &str, v: &str| pb::AttributeProto {
            name: name.into(),
            s: v.as_bytes().to_vec(),
            ..Default::default()
        };
        let floats =
            |name: &str, v: &[f32]| pb::AttributeProto { name: name.into(), floats: v.to_vec(), ..Default::default() };
        assert!(SvmClassifier::from_node(&svc(vec![])).is_ok());
        let e = SvmClassifier::from_node(&svc(vec![text("kernel_type", "FOO")])).unwrap_err();
        assert!(e.contains("kernel_type \"FOO\" is not one berth runs"), "{e}");
        let e = SvmClassifier::from_node(&svc(vec![text("post_transform", "PROBIT")])).unwrap_err();
        assert!(e.contains("PROBIT"), "{e}");
        let mut short = svc(vec![]);
        short.attribute[2] = floats("support_vectors", &[0.0, 0.0, 1.0]);
        let e = SvmClassifier::from_node(&short).unwrap_err();
        assert!(e.contains("support_vectors has 3 values"), "{e}");
        let mut params = svc(vec![]);
        params.attribute[5] = floats("kernel_params", &[0.5]);
        assert!(SvmClassifier::from_node(&params).unwrap_err().contains("kernel_params has 1 values"));
    }

    #[test]
    fn a_binary_svm_votes_for_the_first_class_on_a_positive_value() {
        // RBF: the row [0, 0] is its own first support vector: d = 1 - e^-1 > 0.
        let op = SvmClassifier::from_node(&svc(vec![pb::AttributeProto {
            name: "kernel_type".into(),
            s: b"RBF".to_vec(),
            ..Default::default()
        }]))
        .unwrap();
        let (winner, scores) = op.score_row(&[0.0, 0.0], &mut vec![]);
        assert_eq!(winner, 0);
        assert!(scores[1] > 0.0 && scores[0] == -scores[1], "{scores:?}");
    }

    #[test]
    fn kernels_follow_their_formulas() {
        let k = |kind| Kernel { kind, gamma: 0.5, coef0: 1.0, degree: 2.0 };
        let (x, v) = ([1.0, 2.0], [3.0, -1.0]);
        assert_eq!(k(KernelType::Linear).apply(&x, &v), 1.0);
        assert_eq!(k(KernelType::Poly).apply(&x, &v), 2.25);
        assert!((k(KernelType::Rbf).apply(&x, &v) - (-0.5f32 * 13.0).exp()).abs() < 1e-7);
        assert!((k(KernelType::Sigmoid).apply(&x, &v) - 1.5f32.tanh()).abs() < 1e-7);
    }
}
