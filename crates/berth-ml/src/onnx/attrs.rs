//! Typed reading of ONNX node attributes, shared by berth's ONNX-ML
//! operators: lists, strings and class labels, each with the default the
//! ONNX-ML specification gives when the attribute is absent.

use tract_onnx::pb;
use tract_onnx::tract_hir::internal::*;

/// Reads typed attributes of one node.
pub struct Attrs<'a>(pub &'a pb::NodeProto);

impl Attrs<'_> {
    pub fn get(&self, name: &str) -> Option<&pb::AttributeProto> {
        self.0.attribute.iter().find(|a| a.name == name)
    }

    pub fn ints(&self, name: &str) -> Vec<i64> {
        self.get(name).map(|a| a.ints.clone()).unwrap_or_default()
    }

    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    pub fn floats(&self, name: &str) -> Vec<f32> {
        self.get(name).map(|a| a.floats.clone()).unwrap_or_default()
    }

    pub fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f)
    }

    pub fn strings(&self, name: &str) -> Vec<Vec<u8>> {
        self.get(name).map(|a| a.strings.clone()).unwrap_or_default()
    }

    /// A string list, decoded as UTF-8 (invalid bytes replaced).
    pub fn texts(&self, name: &str) -> Vec<String> {
        self.strings(name).iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect()
    }

    pub fn string(&self, name: &str, default: &str) -> String {
        self.get(name).map(|a| String::from_utf8_lossy(&a.s).into_owned()).unwrap_or_else(|| default.to_string())
    }

    /// A tensor attribute (`*_as_tensor` forms), if present.
    pub fn tensor(&self, name: &str) -> Option<&pb::TensorProto> {
        self.get(name).and_then(|a| a.t.as_ref())
    }

    /// A float list, or its `<name>_as_tensor` double variant.
    pub fn reals(&self, name: &str) -> Result<Vec<f64>, String> {
        if let Some(a) = self.get(name) {
            return Ok(a.floats.iter().map(|v| f64::from(*v)).collect());
        }
        let Some(t) = self.tensor(&format!("{name}_as_tensor")) else { return Ok(vec![]) };
        tensor_reals(t).map_err(|e| format!("{name}_as_tensor {e}"))
    }

    /// Class labels from `classlabels_ints` (or `classlabels_int64s`) or
    /// `classlabels_strings`: exactly one of them.
    pub fn class_labels(&self) -> Result<Labels, String> {
        let mut ints = self.ints("classlabels_ints");
        if ints.is_empty() {
            ints = self.ints("classlabels_int64s");
        }
        let strings = self.texts("classlabels_strings");
        match (ints.is_empty(), strings.is_empty()) {
            (false, true) => Ok(Labels::Ints(ints)),
            (true, false) => Ok(Labels::Strings(strings)),
            (true, true) => Err("the classifier declares no class labels".into()),
            (false, false) => Err("the classifier declares both integer and string class labels".into()),
        }
    }
}

/// The values of a float or double tensor as `f64`.
pub fn tensor_reals(t: &pb::TensorProto) -> Result<Vec<f64>, String> {
    if !t.double_data.is_empty() {
        return Ok(t.double_data.clone());
    }
    if !t.float_data.is_empty() {
        return Ok(t.float_data.iter().map(|v| f64::from(*v)).collect());
    }
    let chunk = |n: usize| t.raw_data.chunks_exact(n).map(|c| c.iter().rev().fold(0u64, |a, b| a << 8 | u64::from(*b)));
    match t.data_type {
        11 => Ok(chunk(8).map(f64::from_bits).collect()),
        1 => Ok(chunk(4).map(|b| f64::from(f32::from_bits(b as u32))).collect()),
        other => Err(format!("has element type {other}; expected float (1) or double (11)")),
    }
}

/// Class labels of a classifier, as the model declares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Labels {
    Ints(Vec<i64>),
    Strings(Vec<String>),
}

impl Labels {
    pub fn len(&self) -> usize {
        match self {
            Labels::Ints(v) => v.len(),
            Labels::Strings(v) => v.len(),
        }
    }

    /// The element type of a label tensor.
    pub fn datum_type(&self) -> DatumType {
        match self {
            Labels::Ints(_) => i64::datum_type(),
            Labels::Strings(_) => String::datum_type(),
        }
    }

    /// A `[rows]` tensor of the labels at `positions`.
    pub fn pick(&self, positions: &[usize]) -> TractResult<Tensor> {
        let rows = [positions.len()];
        Ok(match self {
            Labels::Ints(l) => Tensor::from_shape(&rows, &positions.iter().map(|p| l[*p]).collect::<Vec<_>>())?,
            Labels::Strings(l) => {
                tract_ndarray::Array1::from_vec(positions.iter().map(|p| l[*p].clone()).collect()).into_tensor()
            }
        })
    }
}

/// A classifier's `post_transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostTransform {
    None,
    Softmax,
    Logistic,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    pub fn parse(s: &str) -> Result<PostTransform, String> {
        Ok(match s {
            "NONE" => PostTransform::None,
            "SOFTMAX" => PostTransform::Softmax,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            other => {
                return Err(format!(
                    "unknown post_transform {other:?}; valid: NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT"
                ));
            }
        })
    }
}

impl PostTransform {
    /// The transform over one row's scores, in `f32` as onnxruntime does it;
    /// a single score is left as it is. `Probit` is refused where it is
    /// read and leaves scores unchanged here.
    pub fn apply(self, mut scores: Vec<f32>) -> Vec<f32> {
        if scores.len() < 2 {
            return scores;
        }
        match self {
            PostTransform::None | PostTransform::Probit => {}
            PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic(*s)),
            PostTransform::Softmax => {
                let max = scores.iter().fold(f32::MIN, |m, s| m.max(*s));
                scores.iter_mut().for_each(|s| *s = (*s - max).exp());
                let sum: f32 = scores.iter().sum();
                scores.iter_mut().for_each(|s| *s /= sum);
            }
            PostTransform::SoftmaxZero => {
                let max = scores.iter().fold(f32::MIN, |m, s| m.max(*s));
                let scale = (-max).exp();
                let mut sum = 0.0;
                for s in scores.iter_mut() {
                    if s.abs() > 1e-7 {
                        *s = (*s - max).exp();
                        sum += *s;
                    } else {
                        *s *= scale;
                    }
                }
                scores.iter_mut().for_each(|s| *s /= sum);
            }
        }
        scores
    }
}

/// onnxruntime's logistic, `σ(v)`, in `f32`.
pub fn logistic(v: f32) -> f32 {
    let e = 1.0 / (1.0 + (-v.abs()).exp());
    if v < 0.0 { 1.0 - e } else { e }
}
