//! The ONNX-ML preprocessing operators scikit-learn pipelines export:
//! `Binarizer`, `Imputer`, `OneHotEncoder` and `LabelEncoder`, evaluated by
//! berth element by element, as onnxruntime does:
//!
//! - `Binarizer`: `1` where `x > threshold`, else `0` (NaN gives `0`).
//! - `Imputer`: entries equal to `replaced_value_float` (NaN by default in
//!   exports, which matches NaN) or `replaced_value_int64` become the
//!   imputed value, one for all columns or one per column.
//! - `OneHotEncoder`: `[.., C]` becomes `[.., C, K]` for `K` categories;
//!   numeric inputs are truncated to integers and compared with
//!   `cats_int64s`, strings with `cats_strings`. A value outside the
//!   categories gives zeros when `zeros` is 1 (the default) and is an error
//!   when it is 0.
//! - `LabelEncoder`: opset 1 (`classes_strings`: integers to their class
//!   name and names to their position) and opset 2 and later (`keys_*` to
//!   `values_*` over strings, integers, floats, or the `*_tensor` forms),
//!   with the `default_*` for keys not listed. Float keys match by value,
//!   `0.0` matching `-0.0` and NaN matching NaN.
//! - `FeatureVectorizer` of one input: each row's first
//!   `inputdimensions[0]` values as floats, padded with zeros when the row
//!   is shorter. Several inputs are refused: berth's graphs take one.

use std::collections::HashMap;

use tract_onnx::pb;
use tract_onnx::tract_hir::internal::*;

use super::attrs::{Attrs, tensor_reals};
use super::row_op::{OutputFact, RowOp};

/// tract's analysis types integer tensors as `TDim`; they are `i64`.
fn integer(dt: DatumType) -> DatumType {
    if dt == TDim::datum_type() { i64::datum_type() } else { dt }
}

fn floats_of(input: &Tensor, what: &str) -> TractResult<Vec<f32>> {
    ensure!(input.datum_type().is_number(), "{what} takes numbers; its input holds {:?}", input.datum_type());
    Ok(input.cast_to::<f32>()?.to_plain_array_view::<f32>()?.iter().copied().collect())
}

/// `ai.onnx.ml.Binarizer`.
#[derive(Debug, Clone)]
pub struct Binarizer {
    threshold: f32,
}

impl Binarizer {
    pub fn from_node(node: &pb::NodeProto) -> Result<Binarizer, String> {
        Ok(Binarizer { threshold: Attrs(node).float("threshold", 0.0) })
    }
}

impl RowOp for Binarizer {
    fn name(&self) -> &'static str {
        "BerthBinarizer"
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn outputs(&self, dt: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>> {
        ensure!(dt.is_float(), "the Binarizer takes floats; its input holds {dt:?}");
        Ok(tvec![(dt, shape.into())])
    }

    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>> {
        let x = floats_of(input, "the Binarizer")?;
        let y: Vec<f32> = x.iter().map(|v| if *v > self.threshold { 1.0 } else { 0.0 }).collect();
        Ok(tvec![Tensor::from_shape(input.shape(), &y)?.cast_to_dt(input.datum_type())?.into_owned()])
    }
}

/// `ai.onnx.ml.Imputer`.
#[derive(Debug, Clone)]
pub enum Imputer {
    Floats { values: Vec<f32>, replaced: f32 },
    Ints { values: Vec<i64>, replaced: i64 },
}

impl Imputer {
    pub fn from_node(node: &pb::NodeProto) -> Result<Imputer, String> {
        let at = Attrs(node);
        let (floats, ints) = (at.floats("imputed_value_floats"), at.ints("imputed_value_int64s"));
        match (floats.is_empty(), ints.is_empty()) {
            (false, true) => Ok(Imputer::Floats { values: floats, replaced: at.float("replaced_value_float", 0.0) }),
            (true, false) => Ok(Imputer::Ints { values: ints, replaced: at.int("replaced_value_int64", 0) }),
            (true, true) => Err("neither imputed_value_floats nor imputed_value_int64s is set".into()),
            (false, false) => Err("both imputed_value_floats and imputed_value_int64s are set; one is".into()),
        }
    }

    fn width(&self) -> usize {
        match self {
            Imputer::Floats { values, .. } => values.len(),
            Imputer::Ints { values, .. } => values.len(),
        }
    }

    /// The imputed value for column `c` of a row of `columns`.
    fn at<T: Copy>(values: &[T], c: usize) -> T {
        values[if values.len() == 1 { 0 } else { c }]
    }
}

impl RowOp for Imputer {
    fn name(&self) -> &'static str {
        "BerthImputer"
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn outputs(&self, dt: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>> {
        match self {
            Imputer::Floats { .. } => ensure!(dt.is_float(), "an Imputer of floats takes floats; got {dt:?}"),
            Imputer::Ints { .. } => {
                ensure!(integer(dt) == i64::datum_type(), "an Imputer of int64s takes int64s; got {dt:?}")
            }
        }
        if let (Some(TDim::Val(c)), true) = (shape.last(), self.width() > 1) {
            ensure!(
                *c as usize == self.width(),
                "the Imputer has {} imputed values for an input of {c} columns",
                self.width()
            );
        }
        Ok(tvec![(dt, shape.into())])
    }

    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>> {
        let columns = input.shape().last().copied().unwrap_or(1).max(1);
        ensure!(
            self.width() == 1 || self.width() == columns,
            "the Imputer has {} imputed values for an input of {columns} columns",
            self.width()
        );
        let out = match self {
            Imputer::Floats { values, replaced } => {
                let x = floats_of(input, "the Imputer")?;
                let y: Vec<f32> = x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let missing = if replaced.is_nan() { v.is_nan() } else { v == replaced };
                        if missing { Self::at(values, i % columns) } else { *v }
                    })
                    .collect();
                Tensor::from_shape(input.shape(), &y)?.cast_to_dt(input.datum_type())?.into_owned()
            }
            Imputer::Ints { values, replaced } => {
                let x = input.cast_to::<i64>()?;
                let x = x.to_plain_array_view::<i64>()?;
                let y: Vec<i64> = x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| if v == replaced { Self::at(values, i % columns) } else { *v })
                    .collect();
                Tensor::from_shape(input.shape(), &y)?
            }
        };
        Ok(tvec![out])
    }
}

/// `ai.onnx.ml.OneHotEncoder`.
#[derive(Debug, Clone)]
pub struct OneHotEncoder {
    ints: HashMap<i64, usize>,
    strings: HashMap<String, usize>,
    width: usize,
    zeros: bool,
}

impl OneHotEncoder {
    pub fn from_node(node: &pb::NodeProto) -> Result<OneHotEncoder, String> {
        let at = Attrs(node);
        let (ints, strings) = (at.ints("cats_int64s"), at.texts("cats_strings"));
        if ints.is_empty() == strings.is_empty() {
            return Err("exactly one of cats_int64s and cats_strings must list the categories".into());
        }
        let width = ints.len().max(strings.len());
        let zeros = match at.int("zeros", 1) {
            0 => false,
            1 => true,
            other => return Err(format!("zeros is {other}; it is 0 or 1")),
        };
        Ok(OneHotEncoder {
            ints: ints.iter().enumerate().map(|(i, v)| (*v, i)).collect(),
            strings: strings.into_iter().enumerate().map(|(i, v)| (v, i)).collect(),
            width,
            zeros,
        })
    }

    fn hot(&self, position: Option<usize>, shown: impl Fn() -> String, out: &mut [f32]) -> TractResult<()> {
        match position {
            Some(p) => out[p] = 1.0,
            None if self.zeros => {}
            None => bail!("the OneHotEncoder has no category {} and zeros is 0", shown()),
        }
        Ok(())
    }
}

impl RowOp for OneHotEncoder {
    fn name(&self) -> &'static str {
        "BerthOneHotEncoder"
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn outputs(&self, dt: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>> {
        if self.strings.is_empty() {
            ensure!(integer(dt).is_number(), "a OneHotEncoder over cats_int64s takes numbers; got {dt:?}");
        } else {
            ensure!(dt == String::datum_type(), "a OneHotEncoder over cats_strings takes strings; got {dt:?}");
        }
        let mut shape: TVec<TDim> = shape.into();
        shape.push(self.width.to_dim());
        Ok(tvec![(f32::datum_type(), shape)])
    }

    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>> {
        let k = self.width;
        let mut out = vec![0f32; input.len() * k];
        if input.datum_type() == String::datum_type() {
            for (v, o) in input.to_plain_array_view::<String>()?.iter().zip(out.chunks_exact_mut(k)) {
                self.hot(self.strings.get(v).copied(), || format!("{v:?}"), o)?;
            }
        } else {
            let values: Vec<i64> = if integer(input.datum_type()) == i64::datum_type() {
                input.cast_to::<i64>()?.to_plain_array_view::<i64>()?.iter().copied().collect()
            } else {
                input.cast_to::<f64>()?.to_plain_array_view::<f64>()?.iter().map(|v| *v as i64).collect()
            };
            for (v, o) in values.iter().zip(out.chunks_exact_mut(k)) {
                self.hot(self.ints.get(v).copied(), || v.to_string(), o)?;
            }
        }
        let mut shape: Vec<usize> = input.shape().to_vec();
        shape.push(k);
        Ok(tvec![Tensor::from_shape(&shape, &out)?])
    }
}

/// `ai.onnx.ml.FeatureVectorizer` of one input.
#[derive(Debug, Clone)]
pub struct FeatureVectorizer {
    width: usize,
}

impl FeatureVectorizer {
    pub fn from_node(node: &pb::NodeProto) -> Result<FeatureVectorizer, String> {
        if node.input.len() != 1 {
            return Err(format!("it joins {} inputs; berth runs a FeatureVectorizer of one input", node.input.len()));
        }
        let dims = Attrs(node).ints("inputdimensions");
        match dims[..] {
            [w] if w > 0 => Ok(FeatureVectorizer { width: w as usize }),
            _ => Err(format!("inputdimensions is {dims:?}; one input takes one positive width")),
        }
    }
}

impl RowOp for FeatureVectorizer {
    fn name(&self) -> &'static str {
        "BerthFeatureVectorizer"
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn outputs(&self, dt: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>> {
        ensure!(integer(dt).is_number(), "the FeatureVectorizer takes numbers; got {dt:?}");
        let rows = if shape.len() >= 2 { shape[0].clone() } else { 1.to_dim() };
        Ok(tvec![(f32::datum_type(), tvec![rows, self.width.to_dim()])])
    }

    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>> {
        let columns = input.shape().last().copied().unwrap_or(1).max(1);
        let x = floats_of(input, "the FeatureVectorizer")?;
        let rows = x.len() / columns;
        let mut out = vec![0f32; rows * self.width];
        for (row, o) in x.chunks_exact(columns).zip(out.chunks_exact_mut(self.width)) {
            let n = columns.min(self.width);
            o[..n].copy_from_slice(&row[..n]);
        }
        Ok(tvec![Tensor::from_shape(&[rows, self.width], &out)?])
    }
}

/// A typed list of keys or values of a `LabelEncoder`.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Strings(Vec<String>),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Doubles(Vec<f64>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::Strings(v) => v.len(),
            Column::Ints(v) => v.len(),
            Column::Floats(v) => v.len(),
            Column::Doubles(v) => v.len(),
        }
    }

    fn datum_type(&self) -> DatumType {
        match self {
            Column::Strings(_) => String::datum_type(),
            Column::Ints(_) => i64::datum_type(),
            Column::Floats(_) => f32::datum_type(),
            Column::Doubles(_) => f64::datum_type(),
        }
    }

    /// The column from `<prefix>_strings`, `_int64s`, `_floats` or
    /// `_tensor`, whichever one is set.
    fn from_attrs(at: &Attrs, prefix: &str) -> Result<Option<Column>, String> {
        let mut found = vec![];
        let strings = at.texts(&format!("{prefix}_strings"));
        if !strings.is_empty() {
            found.push(Column::Strings(strings));
        }
        let ints = at.ints(&format!("{prefix}_int64s"));
        if !ints.is_empty() {
            found.push(Column::Ints(ints));
        }
        let floats = at.floats(&format!("{prefix}_floats"));
        if !floats.is_empty() {
            found.push(Column::Floats(floats));
        }
        if let Some(t) = at.tensor(&format!("{prefix}_tensor")) {
            found.push(tensor_column(t).map_err(|e| format!("{prefix}_tensor {e}"))?);
        }
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(format!(
                "more than one of {prefix}_strings, {prefix}_int64s, {prefix}_floats, {prefix}_tensor is set"
            )),
        }
    }
}

fn tensor_column(t: &pb::TensorProto) -> Result<Column, String> {
    Ok(match t.data_type {
        8 => Column::Strings(t.string_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect()),
        7 => Column::Ints(if t.int64_data.is_empty() {
            t.raw_data.chunks_exact(8).map(|c| c.iter().rev().fold(0i64, |a, b| a << 8 | i64::from(*b))).collect()
        } else {
            t.int64_data.clone()
        }),
        1 => Column::Floats(tensor_reals(t)?.iter().map(|v| *v as f32).collect()),
        11 => Column::Doubles(tensor_reals(t)?),
        other => return Err(format!("has element type {other}; berth reads string, int64, float and double")),
    })
}

/// A float key that hashes `0.0` and `-0.0` alike, and every NaN alike.
fn float_key(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// `ai.onnx.ml.LabelEncoder`, either opset's form.
#[derive(Debug, Clone)]
pub struct LabelEncoder {
    keys: Column,
    values: Column,
    /// Position in `keys` of each key, by type.
    by_string: HashMap<String, usize>,
    by_int: HashMap<i64, usize>,
    by_float: HashMap<u64, usize>,
    default: Column,
    /// Opset 1's form: integers also map back to names, or to this.
    classes_default: Option<String>,
}

impl LabelEncoder {
    pub fn from_node(node: &pb::NodeProto) -> Result<LabelEncoder, String> {
        let at = Attrs(node);
        let classes = at.texts("classes_strings");
        let (keys, values) = if !classes.is_empty() {
            let classes = classes.clone();
            // Opset 1: names ↔ positions; the input's type picks the direction,
            // so both directions are kept and `eval` picks one.
            let positions = (0..classes.len() as i64).collect();
            (Column::Strings(classes), Column::Ints(positions))
        } else {
            let keys = Column::from_attrs(&at, "keys")?.ok_or("the LabelEncoder lists no keys")?;
            let values = Column::from_attrs(&at, "values")?.ok_or("the LabelEncoder lists no values")?;
            (keys, values)
        };
        if keys.len() != values.len() {
            return Err(format!("the LabelEncoder has {} keys and {} values", keys.len(), values.len()));
        }
        let default = match at.tensor("default_tensor") {
            Some(t) => tensor_column(t).map_err(|e| format!("default_tensor {e}"))?,
            None => match values.datum_type() {
                dt if dt == String::datum_type() => Column::Strings(vec![at.string("default_string", "_Unused")]),
                dt if dt == i64::datum_type() => Column::Ints(vec![at.int("default_int64", -1)]),
                dt if dt == f32::datum_type() => Column::Floats(vec![at.float("default_float", -0.0)]),
                _ => Column::Doubles(vec![f64::from(at.float("default_float", -0.0))]),
            },
        };
        let mut encoder = LabelEncoder {
            keys,
            values,
            by_string: HashMap::new(),
            by_int: HashMap::new(),
            by_float: HashMap::new(),
            default,
            classes_default: (!classes.is_empty()).then(|| at.string("default_string", "_Unused")),
        };
        match &encoder.keys {
            Column::Strings(k) => encoder.by_string = k.iter().enumerate().rev().map(|(i, v)| (v.clone(), i)).collect(),
            Column::Ints(k) => encoder.by_int = k.iter().enumerate().rev().map(|(i, v)| (*v, i)).collect(),
            Column::Floats(k) => {
                encoder.by_float = k.iter().enumerate().rev().map(|(i, v)| (float_key(f64::from(*v)), i)).collect()
            }
            Column::Doubles(k) => {
                encoder.by_float = k.iter().enumerate().rev().map(|(i, v)| (float_key(*v), i)).collect()
            }
        }
        Ok(encoder)
    }

    /// Opset 1 maps integers back to names when given integers.
    fn reversed(&self, dt: DatumType) -> bool {
        self.classes_default.is_some() && dt == i64::datum_type()
    }

    fn output_type(&self, dt: DatumType) -> TractResult<DatumType> {
        let dt = integer(dt);
        if self.reversed(dt) {
            return Ok(String::datum_type());
        }
        let want = self.keys.datum_type();
        ensure!(dt == want, "the LabelEncoder's keys are {want:?}; its input holds {dt:?}");
        Ok(self.values.datum_type())
    }

    /// Positions in `values` of each input entry (`None`: the default).
    fn positions(&self, input: &Tensor) -> TractResult<Vec<Option<usize>>> {
        let dt = integer(input.datum_type());
        Ok(if dt == String::datum_type() {
            input.to_plain_array_view::<String>()?.iter().map(|v| self.by_string.get(v).copied()).collect()
        } else if dt == i64::datum_type() {
            input.cast_to::<i64>()?.to_plain_array_view::<i64>()?.iter().map(|v| self.by_int.get(v).copied()).collect()
        } else {
            let x = input.cast_to::<f64>()?;
            x.to_plain_array_view::<f64>()?.iter().map(|v| self.by_float.get(&float_key(*v)).copied()).collect()
        })
    }
}

fn gather<T: Clone + Datum>(
    values: &[T],
    default: &T,
    positions: &[Option<usize>],
    shape: &[usize],
) -> TractResult<Tensor> {
    let v: Vec<T> = positions.iter().map(|p| p.map_or_else(|| default.clone(), |p| values[p].clone())).collect();
    Ok(tract_ndarray::ArrayD::from_shape_vec(shape, v)?.into_tensor())
}

impl RowOp for LabelEncoder {
    fn name(&self) -> &'static str {
        "BerthLabelEncoder"
    }

    fn n_outputs(&self) -> usize {
        1
    }

    fn outputs(&self, dt: DatumType, shape: &[TDim]) -> TractResult<TVec<OutputFact>> {
        Ok(tvec![(self.output_type(dt)?, shape.into())])
    }

    fn eval(&self, input: &Tensor) -> TractResult<TVec<Tensor>> {
        let shape = input.shape();
        if self.reversed(integer(input.datum_type())) {
            let Column::Strings(names) = &self.keys else { bail!("the LabelEncoder's classes are not strings") };
            let default = self.classes_default.clone().unwrap_or_default();
            let x = input.cast_to::<i64>()?;
            let x = x.to_plain_array_view::<i64>()?;
            let positions: Vec<Option<usize>> =
                x.iter().map(|v| usize::try_from(*v).ok().filter(|p| *p < names.len())).collect();
            return Ok(tvec![gather(names, &default, &positions, shape)?]);
        }
        self.output_type(input.datum_type())?;
        let positions = self.positions(input)?;
        ensure!(self.default.len() >= 1, "the LabelEncoder's default_tensor is empty");
        let out = match (&self.values, &self.default) {
            (Column::Strings(v), Column::Strings(d)) => gather(v, &d[0], &positions, shape)?,
            (Column::Ints(v), Column::Ints(d)) => gather(v, &d[0], &positions, shape)?,
            (Column::Floats(v), Column::Floats(d)) => gather(v, &d[0], &positions, shape)?,
            (Column::Doubles(v), Column::Doubles(d)) => gather(v, &d[0], &positions, shape)?,
            (v, d) => {
                bail!("the LabelEncoder's default is {:?} but its values are {:?}", d.datum_type(), v.datum_type())
            }
        };
        Ok(tvec![out])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, attribute: Vec<pb::AttributeProto>) -> pb::NodeProto {
        pb::NodeProto { op_type: op.into(), name: "n".into(), attribute, ..Default::default() }
    }

    fn floats(name: &str, v: &[f32]) -> pb::AttributeProto {
        pb::AttributeProto { name: name.into(), floats: v.to_vec(), ..Default::default() }
    }

    fn strings(name: &str, v: &[&str]) -> pb::AttributeProto {
        pb::AttributeProto {
            name: name.into(),
            strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
            ..Default::default()
        }
    }

    fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
        pb::AttributeProto { name: name.into(), ints: v.to_vec(), ..Default::default() }
    }

    #[test]
    fn the_imputer_replaces_nan_per_column() {
        let mut replaced = floats("replaced_value_float", &[]);
        replaced.f = f32::NAN;
        let op =
            Imputer::from_node(&node("Imputer", vec![floats("imputed_value_floats", &[1.0, 2.0]), replaced])).unwrap();
        let x = Tensor::from_shape(&[2, 2], &[f32::NAN, 5.0, 3.0, f32::NAN]).unwrap();
        let y = op.eval(&x).unwrap();
        assert_eq!(y[0].to_plain_array_view::<f32>().unwrap().as_slice().unwrap(), &[1.0, 5.0, 3.0, 2.0]);
    }

    #[test]
    fn label_encoders_map_keys_and_fall_back_to_the_default() {
        let op = LabelEncoder::from_node(&node(
            "LabelEncoder",
            vec![floats("keys_floats", &[0.0, 1.5, f32::NAN]), strings("values_strings", &["a", "b", "nan"])],
        ))
        .unwrap();
        let x = Tensor::from_shape(&[4], &[-0.0f32, 1.5, 7.0, f32::NAN]).unwrap();
        let y = op.eval(&x).unwrap();
        let got: Vec<String> = y[0].to_plain_array_view::<String>().unwrap().iter().cloned().collect();
        assert_eq!(got, ["a", "b", "_Unused", "nan"]);
        let v1 = LabelEncoder::from_node(&node("LabelEncoder", vec![strings("classes_strings", &["x", "y"])])).unwrap();
        let names = v1.eval(&Tensor::from_shape(&[3], &[1i64, 0, 9]).unwrap()).unwrap();
        let got: Vec<String> = names[0].to_plain_array_view::<String>().unwrap().iter().cloned().collect();
        assert_eq!(got, ["y", "x", "_Unused"]);
        let wrong = op.outputs(i64::datum_type(), &[2.to_dim()]).unwrap_err().to_string();
        assert!(wrong.contains("keys are F32"), "{wrong}");
    }

    #[test]
    fn one_hot_encoding_is_zero_for_unknown_values_or_refused() {
        let op = OneHotEncoder::from_node(&node("OneHotEncoder", vec![ints("cats_int64s", &[3, 1])])).unwrap();
        let y = op.eval(&Tensor::from_shape(&[1, 3], &[1.9f32, 3.0, 4.0]).unwrap()).unwrap();
        assert_eq!(y[0].shape(), &[1, 3, 2]);
        assert_eq!(
            y[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect::<Vec<_>>(),
            [0., 1., 1., 0., 0., 0.]
        );
        let strict =
            OneHotEncoder::from_node(&node("OneHotEncoder", vec![ints("cats_int64s", &[3]), ints("zeros", &[])]));
        let mut strict = strict.unwrap();
        strict.zeros = false;
        let e = strict.eval(&Tensor::from_shape(&[1], &[4i64]).unwrap()).unwrap_err().to_string();
        assert!(e.contains("no category 4"), "{e}");
    }
}
