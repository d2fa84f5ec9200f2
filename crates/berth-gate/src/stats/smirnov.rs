//! The one-sided Kolmogorov–Smirnov (Smirnov) distribution, `P(D_n^+ >= x)`.
//!
//! Smirnov (1944) and Birnbaum & Tingey (1951) give the exact finite sum
//!
//! ```text
//! P(D_n^+ >= x) = x Σ_{v=0}^{⌊n(1-x)⌋} C(n, v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v)
//! ```
//!
//! evaluated here as van Mulbregt (2018, arXiv:1802.06966) does for SciPy's
//! `scipy.special.smirnov`: in double-double arithmetic, binomial coefficients
//! and powers carried as (significand, binary exponent) so nothing overflows,
//! the short alternating upper sum (Dwass 1959) when it has at most three terms,
//! closed forms for `x <= 1/n` and `x >= 1 - 1/n`, and the approximation
//! `exp(-(6nx + 1)² / 18n)` for `n > 1 000 000`.

use super::dd::Dd;

/// Above this `n` the sum is replaced by an approximation.
const MAX_COMPUTE_N: u64 = 1_000_000;
/// The upper sum is used only when it has at most this many terms...
const UPPER_MAX_TERMS: i64 = 3;
/// ...and `n` is at least this large.
const UPPER_SUM_MIN_N: i64 = 10;
/// Binary exponent beyond which powers are split to keep double-doubles normal.
const MAX_EXPONENT: i64 = 960;
/// `ln` of the smallest normal double, as in Cephes (`MINLOG`).
const MIN_LOG: f64 = -7.451_332_191_019_412e2;

/// Survival function of the one-sided Kolmogorov–Smirnov statistic,
/// `P(D_n^+ >= x)` (`scipy.special.smirnov(n, x)`).
///
/// NaN for `n == 0`, NaN `x` or `x` outside [0, 1].
pub fn smirnov(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    sum_sf(n.min(i64::MAX as u64) as i64, x)
}

/// `exp(-(6nx + 1)² / 18n)`, for `n` too large to sum.
fn large_n_approximation(n: f64, x: f64) -> f64 {
    let log_p = -(6.0 * n * x + 1.0).powi(2) / 18.0 / n;
    if log_p < -std::f64::consts::LN_2 { log_p.exp() } else { 1.0 - (-log_p.exp_m1()) }
}

/// `floor(n x)` and the fractional part `n x - floor(n x)`, both exact.
fn split_nx(n: i64, x: f64) -> (i64, f64) {
    let nx = Dd::new(x) * n as f64;
    let floor = nx.floor();
    let alpha = (nx - floor).hi;
    let floor = floor.to_f64() as i64;
    if alpha == 1.0 { (floor + 1, 0.0) } else { (floor, alpha) }
}

fn sum_sf(n: i64, x: f64) -> f64 {
    let (nx_floor, alpha) = split_nx(n, x);
    let mut lower_last = n - nx_floor - i64::from(alpha != 0.0);
    let mut upper_first = n - nx_floor;
    if alpha == 0.0 {
        // x n is an integer: that term is excluded from both sums.
        lower_last -= 1;
        upper_first += 1;
    }
    if nx_floor == 0 || (nx_floor == 1 && alpha == 0.0) {
        // x <= 1/n: the sum has the single closed form x (1 + x)^(n-1).
        let cdf = x * pow_dd(Dd::new(1.0) + x, n - 1).to_f64();
        return clamp01(1.0 - cdf);
    }
    if -2.0 * n as f64 * x * x < MIN_LOG {
        return 0.0;
    }
    if nx_floor >= n - 1 {
        // x >= 1 - 1/n: only the v = 0 term, (1 - x)^n.
        return clamp01(pow_dd(Dd::new(1.0) - x, n).to_f64());
    }
    if n as u64 > MAX_COMPUTE_N {
        return clamp01(large_n_approximation(n as f64, x));
    }
    let upper_terms = n - upper_first + 1;
    let use_upper = (upper_terms <= 1 && x < 0.5)
        || (n >= UPPER_SUM_MIN_N && upper_terms <= UPPER_MAX_TERMS && x <= 0.5 / (n as f64).sqrt());
    if use_upper {
        let cdf = (summed_terms(n, x, n, -1, upper_terms) * x).to_f64();
        clamp01(1.0 - cdf)
    } else {
        clamp01((summed_terms(n, x, 0, 1, lower_last + 1) * x).to_f64())
    }
}

fn clamp01(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// `Σ_j A_{start + j step}(n, x)` for `j < terms`, stopping early once the
/// remaining terms cannot change the sum.
fn summed_terms(n: i64, x: f64, start: i64, step: i64, terms: i64) -> Dd {
    let first = if step < 0 {
        // A_n = (1 + x)^(n-1)
        pow_dd(Dd::new(1.0) + x, n - 1)
    } else {
        // A_0 = (1 - x)^n / x
        pow_dd(Dd::new(1.0) - x, n) / x
    };
    let mut sum = first;
    let mut binomial = Binomial::new();
    binomial.advance(n, 0);
    let middle = n / 2;
    for j in 1..terms {
        let v = start + j * step;
        let term = term_av(n, x, v, &binomial);
        if term.is_finite() && !term.is_zero() {
            sum = sum + term;
        }
        if !term.is_zero() {
            let remaining = (4 * (terms - j)) as f64 * term.to_f64().abs();
            if remaining < f64::EPSILON * sum.to_f64() && j != terms - 1 {
                break;
            }
        } else if j > middle {
            break;
        }
        binomial.advance(n, j);
    }
    sum
}

/// `C(n, j)` as a double-double significand in [0.5, 1) and a binary exponent.
struct Binomial {
    mantissa: Dd,
    exponent: i64,
}

impl Binomial {
    fn new() -> Binomial {
        Binomial { mantissa: Dd::new(1.0), exponent: 0 }
    }

    /// `C(n, j) -> C(n, j + 1)`.
    fn advance(&mut self, n: i64, j: i64) {
        let ratio = Dd::new((n - j) as f64) / (j as f64 + 1.0);
        let (mantissa, exponent) = (self.mantissa * ratio).frexp();
        self.mantissa = mantissa;
        self.exponent += exponent;
    }
}

/// `A_v(n, x) = C(n, v) (x + v/n)^(v-1) (1 - x - v/n)^(n-v)`.
fn term_av(n: i64, x: f64, v: i64, binomial: &Binomial) -> Dd {
    let base2 = Dd::new((n - v) as f64) / n as f64 - x;
    let (t2, e2) = pow_scaled(base2, n - v);
    let base1 = Dd::new(v as f64) / n as f64 + x;
    let (t1, e1) = pow_scaled(base1, v - 1);
    (t1 * t2 * binomial.mantissa).ldexp(binomial.exponent + e1 + e2)
}

/// `a^m` for a double-double `a`: `pow` on the leading part, corrected for the
/// trailing part by `(1 + lo/hi)^m` (two Taylor terms, or `expm1(m log1p(r))`).
fn pow_dd(a: Dd, m: i64) -> Dd {
    if m <= 0 {
        if m == 0 {
            return Dd::new(1.0);
        }
        return Dd::new(1.0) / pow_dd(a, -m);
    }
    if a.is_zero() {
        return Dd::new(0.0);
    }
    let mf = m as f64;
    let ans = a.hi.powf(mf);
    let r = a.lo / a.hi;
    let mut adj = mf * r;
    if adj.abs() > 1e-8 {
        if adj.abs() < 1e-4 {
            adj += (mf * r) * ((m - 1) as f64 / 2.0 * r);
        } else {
            adj = (mf * r.ln_1p()).exp_m1();
        }
    }
    Dd::new(ans) + ans * adj
}

/// Power of two at or just above `x` (as SciPy's helper computes it).
fn next_power_of_two(x: f64) -> f64 {
    let q = super::dd::ldexp(x, 1 - 53);
    let l = (q + x).abs();
    if l == 0.0 {
        return x.abs();
    }
    let truncated = l.trunc();
    if truncated == l { truncated } else { l }
}

/// `a^m` as a significand in [0.5, 1) and a binary exponent, splitting the
/// power when the result would leave the normal double range.
fn pow_scaled(a: Dd, m: i64) -> (Dd, i64) {
    if m <= 0 {
        if m == 0 {
            return (Dd::new(1.0), 0);
        }
        let (ans, e1) = pow_scaled(a, -m);
        let (ans, e2) = (Dd::new(1.0) / ans).frexp();
        return (ans, e2 - e1);
    }
    let (y, y_exp) = a.frexp();
    if m == 1 {
        return (y, y_exp);
    }
    let mut max_exponent = MAX_EXPONENT;
    let mf = m as f64;
    if mf * (y.hi - 1.0) / y.hi < -(MAX_EXPONENT as f64) * std::f64::consts::LN_2 {
        let lg2y = y.hi.ln() / std::f64::consts::LN_2;
        if mf * lg2y <= -(MAX_EXPONENT as f64) {
            max_exponent = (next_power_of_two(-(MAX_EXPONENT as f64) / lg2y + 1.0) / 2.0) as i64;
        }
    }
    if m <= max_exponent {
        let (ans, e) = pow_dd(y, m).frexp();
        return (ans, e + m * y_exp);
    }
    let (q, r) = (m / max_exponent, m % max_exponent);
    let (y2r, y2r_exp) = pow_scaled(y, r);
    let (y2m, y2m_exp) = pow_scaled(y, max_exponent);
    let (y2mq, y2mq_exp) = pow_scaled(y2m, q);
    let (ans, e) = (y2r * y2mq).frexp();
    (ans, e + y2mq_exp + y2m_exp * q + y2r_exp + m * y_exp)
}

#[cfg(test)]
mod tests {
    use super::smirnov;

    #[test]
    fn edges_and_closed_forms() {
        assert_eq!(smirnov(1, 0.3), 0.7);
        assert_eq!(smirnov(5, 0.0), 1.0);
        assert_eq!(smirnov(5, 1.0), 0.0);
        assert!(smirnov(0, 0.5).is_nan());
        assert!(smirnov(5, 1.5).is_nan());
        // x >= 1 - 1/n: (1 - x)^n
        assert!((smirnov(4, 0.9) - 0.1f64.powi(4)).abs() < 1e-18);
    }
}
