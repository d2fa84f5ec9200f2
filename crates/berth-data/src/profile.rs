//! Reference profiles: per column count, nulls, mean, std, min, max,
//! quantiles, a histogram or category frequencies, computed in one pass and
//! serialisable, so a version can carry what its training data looked like
//! and drift can be checked later without the training data.
//!
//! Numeric columns keep a seeded reservoir sample of up to
//! [`SAMPLE_CAPACITY`] values (all of them when the column is smaller), from
//! which quantiles and the histogram are computed: exact for columns up to
//! that size, a uniform sample beyond it. Mean, std, min and max are exact.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::column::{Column, ColumnData};
use crate::{Rng, Table};

pub const SAMPLE_CAPACITY: usize = 10_000;
/// Categories beyond this many distinct values are counted under `OTHER`.
pub const MAX_CATEGORIES: usize = 1_000;
pub const OTHER: &str = "__other__";
const QUANTILES: [(&str, f64); 7] =
    [("p01", 0.01), ("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95), ("p99", 0.99)];
const BINS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub rows: u64,
    pub columns: Vec<(String, ColumnProfile)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ColumnProfile {
    Numeric(NumericProfile),
    Categorical(CategoricalProfile),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Non-null values, NaN included.
    pub count: u64,
    pub nulls: u64,
    pub nan: u64,
    #[serde(with = "float")]
    pub mean: f64,
    /// Sample standard deviation (n − 1).
    #[serde(with = "float")]
    pub std: f64,
    #[serde(with = "float")]
    pub min: f64,
    #[serde(with = "float")]
    pub max: f64,
    #[serde(with = "float_map")]
    pub quantiles: BTreeMap<String, f64>,
    pub histogram: Histogram,
    /// Sorted sample of the finite values (see the module docs).
    pub sample: Vec<f64>,
}

/// JSON has no NaN or infinity: such values are written as the strings
/// "NaN", "inf" and "-inf" and read back as floats.
mod float {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() { s.serialize_f64(*x) } else { s.serialize_str(&crate::column::format_float(*x)) }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(super) enum Repr {
        Num(f64),
        Text(String),
    }

    pub(super) fn from_repr<E: serde::de::Error>(r: Repr) -> Result<f64, E> {
        match r {
            Repr::Num(x) => Ok(x),
            Repr::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(E::custom(format!("expected a number, NaN, inf or -inf, found {other:?}"))),
            },
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        from_repr(Repr::deserialize(d)?)
    }
}

mod float_map {
    use std::collections::BTreeMap;

    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};

    struct F(f64);

    impl serde::Serialize for F {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            super::float::serialize(&self.0, s)
        }
    }

    pub fn serialize<S: Serializer>(m: &BTreeMap<String, f64>, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(m.len()))?;
        for (k, v) in m {
            map.serialize_entry(k, &F(*v))?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
        let raw = BTreeMap::<String, super::float::Repr>::deserialize(d)?;
        raw.into_iter().map(|(k, v)| Ok((k, super::float::from_repr(v)?))).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalProfile {
    pub count: u64,
    pub nulls: u64,
    pub distinct: u64,
    pub frequencies: BTreeMap<String, u64>,
}

impl Profile {
    pub fn of(table: &Table) -> Profile {
        Profile {
            rows: table.rows() as u64,
            columns: table.columns().iter().map(|c| (c.name.clone(), ColumnProfile::of(c))).collect(),
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }
}

impl ColumnProfile {
    pub fn of(c: &Column) -> ColumnProfile {
        match &c.data {
            ColumnData::Str { .. } | ColumnData::Bool(_) => ColumnProfile::Categorical(categorical(c)),
            _ => ColumnProfile::Numeric(numeric(c)),
        }
    }
}

/// Linear interpolation between order statistics (NumPy's default).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn numeric(c: &Column) -> NumericProfile {
    let mut rng = Rng::new(0x5EED_DA7A);
    let (mut count, mut nulls, mut nan, mut finite) = (0u64, 0u64, 0u64, 0u64);
    let (mut mean, mut m2) = (0.0f64, 0.0f64);
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut sample: Vec<f64> = Vec::new();
    for i in 0..c.len() {
        let Some(x) = c.as_f64(i) else {
            nulls += 1;
            continue;
        };
        count += 1;
        if x.is_nan() {
            nan += 1;
            continue;
        }
        min = min.min(x);
        max = max.max(x);
        if !x.is_finite() {
            continue;
        }
        finite += 1;
        let d = x - mean;
        mean += d / finite as f64;
        m2 += d * (x - mean);
        if sample.len() < SAMPLE_CAPACITY {
            sample.push(x);
        } else {
            let j = rng.below(finite) as usize;
            if j < SAMPLE_CAPACITY {
                sample[j] = x;
            }
        }
    }
    sample.sort_by(f64::total_cmp);
    let std = if finite > 1 { (m2 / (finite - 1) as f64).sqrt() } else { 0.0 };
    let quantiles = QUANTILES.iter().map(|(k, q)| (k.to_string(), quantile_sorted(&sample, *q))).collect();
    let histogram = histogram(&sample);
    if finite == 0 {
        mean = f64::NAN;
    }
    NumericProfile { count, nulls, nan, mean, std, min, max, quantiles, histogram, sample }
}

fn histogram(sorted: &[f64]) -> Histogram {
    let (Some(&lo), Some(&hi)) = (sorted.first(), sorted.last()) else {
        return Histogram { edges: Vec::new(), counts: Vec::new() };
    };
    if lo == hi {
        return Histogram { edges: vec![lo, hi], counts: vec![sorted.len() as u64] };
    }
    let width = (hi - lo) / BINS as f64;
    let edges: Vec<f64> = (0..=BINS).map(|i| if i == BINS { hi } else { lo + width * i as f64 }).collect();
    let mut counts = vec![0u64; BINS];
    for x in sorted {
        let b = (((x - lo) / width) as usize).min(BINS - 1);
        counts[b] += 1;
    }
    Histogram { edges, counts }
}

fn categorical(c: &Column) -> CategoricalProfile {
    let mut nulls = 0u64;
    let mut all: BTreeMap<String, u64> = BTreeMap::new();
    match &c.data {
        ColumnData::Str { levels, codes } => {
            let mut per_code = vec![0u64; levels.len()];
            for (i, code) in codes.iter().enumerate() {
                if c.is_null(i) {
                    nulls += 1;
                } else {
                    per_code[*code as usize] += 1;
                }
            }
            for (l, n) in levels.iter().zip(per_code) {
                if n > 0 {
                    *all.entry(l.clone()).or_default() += n;
                }
            }
        }
        ColumnData::Bool(v) => {
            for (i, b) in v.iter().enumerate() {
                if c.is_null(i) {
                    nulls += 1;
                } else {
                    *all.entry(b.to_string()).or_default() += 1;
                }
            }
        }
        _ => unreachable!("numeric columns have numeric profiles"),
    }
    let distinct = all.len() as u64;
    let count = c.len() as u64 - nulls;
    let frequencies = if all.len() > MAX_CATEGORIES {
        let mut by_count: Vec<(String, u64)> = all.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let rest: u64 = by_count[MAX_CATEGORIES..].iter().map(|(_, n)| n).sum();
        let mut top: BTreeMap<String, u64> = by_count.into_iter().take(MAX_CATEGORIES).collect();
        *top.entry(OTHER.to_string()).or_default() += rest;
        top
    } else {
        all
    };
    CategoricalProfile { count, nulls, distinct, frequencies }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_profile_is_exact_on_small_columns() {
        let c = Column::float("x", vec![1.0, 2.0, 3.0, 4.0, f64::NAN, 0.0])
            .with_valid(vec![true, true, true, true, true, false]);
        let ColumnProfile::Numeric(p) = ColumnProfile::of(&c) else { panic!() };
        assert_eq!((p.count, p.nulls, p.nan), (5, 1, 1));
        assert_eq!(p.mean, 2.5);
        assert!((p.std - 1.2909944487358056).abs() < 1e-15);
        assert_eq!((p.min, p.max), (1.0, 4.0));
        assert_eq!(p.quantiles["p50"], 2.5);
        assert_eq!(p.quantiles["p25"], 1.75);
        assert_eq!(p.histogram.counts.iter().sum::<u64>(), 4);
        assert_eq!(p.sample, [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn large_columns_keep_a_bounded_sample_and_exact_moments() {
        let v: Vec<f64> = (0..100_000).map(f64::from).collect();
        let ColumnProfile::Numeric(p) = ColumnProfile::of(&Column::float("x", v)) else { panic!() };
        assert_eq!(p.sample.len(), SAMPLE_CAPACITY);
        assert_eq!(p.mean, 49_999.5);
        assert_eq!(p.max, 99_999.0);
        assert!((p.quantiles["p50"] - 50_000.0).abs() < 2_000.0);
    }

    #[test]
    fn categorical_profile_counts_levels() {
        let c = Column::strings("s", &["a", "b", "a", ""]).with_valid(vec![true, true, true, false]);
        let ColumnProfile::Categorical(p) = ColumnProfile::of(&c) else { panic!() };
        assert_eq!((p.count, p.nulls, p.distinct), (3, 1, 2));
        assert_eq!(p.frequencies["a"], 2);
    }

    #[test]
    fn profiles_of_empty_and_infinite_columns_read_back() {
        let t = Table::new(vec![
            Column::float("empty", vec![0.0, 0.0]).with_valid(vec![false, false]),
            Column::float("inf", vec![f64::NEG_INFINITY, 1.0]),
        ])
        .unwrap();
        let p = Profile::of(&t);
        let json = serde_json::to_string(&p).unwrap();
        let back: Profile = serde_json::from_str(&json).unwrap();
        let ColumnProfile::Numeric(e) = back.column("empty").unwrap() else { panic!() };
        assert!(e.mean.is_nan() && e.quantiles["p50"].is_nan());
        let ColumnProfile::Numeric(i) = back.column("inf").unwrap() else { panic!() };
        assert_eq!(i.min, f64::NEG_INFINITY);
    }

    #[test]
    fn profiles_serialise_and_read_back() {
        let t = Table::new(vec![Column::float("x", vec![1.0, 2.0]), Column::strings("s", &["a", "b"])]).unwrap();
        let p = Profile::of(&t);
        let back: Profile = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
