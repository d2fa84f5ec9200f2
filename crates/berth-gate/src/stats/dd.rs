//! Double-double arithmetic: an unevaluated sum `hi + lo` of two `f64` values
//! carrying about 106 bits of significand (Dekker 1971; Hida, Li & Bailey 2001).
//!
//! Only what the Smirnov distribution needs: sums, products and quotients with
//! `f64` and double-double operands, floor, and binary exponent scaling.

use std::ops::{Add, Div, Mul, Neg, Sub};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dd {
    pub(crate) hi: f64,
    pub(crate) lo: f64,
}

/// `a + b` as an exact double-double (Knuth's two-sum).
fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    Dd { hi: s, lo: err }
}

/// `a + b` exact, given `|a| >= |b|`.
fn quick_two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    Dd { hi: s, lo: b - (s - a) }
}

/// `a * b` as an exact double-double, via a fused multiply-add.
fn two_prod(a: f64, b: f64) -> Dd {
    let p = a * b;
    Dd { hi: p, lo: a.mul_add(b, -p) }
}

impl Dd {
    pub(crate) const fn new(x: f64) -> Dd {
        Dd { hi: x, lo: 0.0 }
    }

    pub(crate) fn to_f64(self) -> f64 {
        self.hi + self.lo
    }

    pub(crate) fn is_finite(self) -> bool {
        self.hi.is_finite()
    }

    pub(crate) fn is_zero(self) -> bool {
        self.hi == 0.0
    }

    /// Largest integer not above the value.
    pub(crate) fn floor(self) -> Dd {
        let hi = self.hi.floor();
        if hi == self.hi { quick_two_sum(hi, self.lo.floor()) } else { Dd::new(hi) }
    }

    /// Splits into a significand in [0.5, 1) and a binary exponent.
    pub(crate) fn frexp(self) -> (Dd, i64) {
        let (man, exp) = frexp(self.hi);
        (Dd { hi: man, lo: ldexp(self.lo, -exp) }, exp)
    }

    /// The value times `2^exp`.
    pub(crate) fn ldexp(self, exp: i64) -> Dd {
        Dd { hi: ldexp(self.hi, exp), lo: ldexp(self.lo, exp) }
    }
}

impl Add for Dd {
    type Output = Dd;
    fn add(self, b: Dd) -> Dd {
        let s = two_sum(self.hi, b.hi);
        let t = two_sum(self.lo, b.lo);
        let r = quick_two_sum(s.hi, s.lo + t.hi);
        quick_two_sum(r.hi, r.lo + t.lo)
    }
}

impl Add<f64> for Dd {
    type Output = Dd;
    fn add(self, b: f64) -> Dd {
        let s = two_sum(self.hi, b);
        quick_two_sum(s.hi, s.lo + self.lo)
    }
}

impl Neg for Dd {
    type Output = Dd;
    fn neg(self) -> Dd {
        Dd { hi: -self.hi, lo: -self.lo }
    }
}

impl Sub for Dd {
    type Output = Dd;
    fn sub(self, b: Dd) -> Dd {
        self + (-b)
    }
}

impl Sub<f64> for Dd {
    type Output = Dd;
    fn sub(self, b: f64) -> Dd {
        self + (-b)
    }
}

impl Mul for Dd {
    type Output = Dd;
    fn mul(self, b: Dd) -> Dd {
        let p = two_prod(self.hi, b.hi);
        quick_two_sum(p.hi, p.lo + (self.hi * b.lo + self.lo * b.hi))
    }
}

impl Mul<f64> for Dd {
    type Output = Dd;
    fn mul(self, b: f64) -> Dd {
        let p = two_prod(self.hi, b);
        quick_two_sum(p.hi, p.lo + self.lo * b)
    }
}

impl Div<f64> for Dd {
    type Output = Dd;
    fn div(self, b: f64) -> Dd {
        let q1 = self.hi / b;
        let p = two_prod(q1, b);
        let s = two_sum(self.hi, -p.hi);
        let e = s.lo + self.lo - p.lo;
        let q2 = (s.hi + e) / b;
        quick_two_sum(q1, q2)
    }
}

impl Div for Dd {
    type Output = Dd;
    fn div(self, b: Dd) -> Dd {
        let q1 = self.hi / b.hi;
        let r = self - b * q1;
        let q2 = r.hi / b.hi;
        let r = r - b * q2;
        let q3 = r.hi / b.hi;
        quick_two_sum(q1, q2) + q3
    }
}

/// Splits `x` into a significand in [0.5, 1) (with the sign of `x`) and an
/// exponent, `x = m * 2^e`; zero, infinities and NaN come back unchanged with 0.
pub(crate) fn frexp(x: f64) -> (f64, i64) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let (x, bias) = if x.abs() < f64::MIN_POSITIVE { (x * 2f64.powi(64), -64) } else { (x, 0) };
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1022;
    let man = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (man, exp + bias)
}

/// `x * 2^exp`, stepping so that intermediate powers of two stay representable.
pub(crate) fn ldexp(mut x: f64, mut exp: i64) -> f64 {
    let big = 2f64.powi(1000);
    let small = 2f64.powi(-1000);
    while exp > 1000 && x.is_finite() && x != 0.0 {
        x *= big;
        exp -= 1000;
    }
    while exp < -1000 && x != 0.0 {
        x *= small;
        exp += 1000;
    }
    x * 2f64.powi(exp.clamp(-1000, 1000) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_and_ldexp_round_trip() {
        for x in [1.0, 0.5, 3.0, -7.25, 1e-310, 1e300, f64::MIN_POSITIVE] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m.abs()), "{x}");
            assert_eq!(ldexp(m, e), x);
        }
    }

    #[test]
    fn division_carries_extra_precision() {
        let third = Dd::new(1.0) / 3.0;
        let back = third * 3.0 - 1.0;
        assert!(back.to_f64().abs() < 1e-30);
    }
}
