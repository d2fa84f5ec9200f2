//! The two-sided one-sample Kolmogorov–Smirnov distribution `D_n`, as
//! `scipy.stats.kstwo` computes it.
//!
//! Simard & L'Ecuyer (2011, "Computing the two-sided Kolmogorov–Smirnov
//! distribution", J. Stat. Softw. 39(11)) choose among several methods by `n`
//! and `n x²`:
//!
//! * Ruben & Gambino (1982) closed forms for `x <= 1/n` and `x >= 1 - 1/n`;
//! * `2 P(D_n^+ >= x)` ([`smirnov`]), exact for `x >= 0.5` and accurate in the
//!   tail;
//! * the Durbin (1968) matrix method in the Marsaglia, Tsang & Wang (2003) form;
//! * the Pomeranz (1974) recursion for `n <= 140`;
//! * the Pelz & Good (1976) asymptotic series for large `n`.

use super::dd::ldexp;
use super::smirnov::smirnov;
use super::sum::pairwise_sum;
use std::f64::consts::PI;

/// Largest `n` for which the exact small-`n` methods are used.
const SMALL_N: u64 = 140;
/// Scaling step `2^128` keeping long products in range.
const SCALE_EXPONENT: i64 = 128;

fn scale_up() -> f64 {
    2f64.powi(SCALE_EXPONENT as i32)
}

fn scale_down() -> f64 {
    2f64.powi(-(SCALE_EXPONENT as i32))
}

/// Survival function `P(D_n >= d)` of the two-sided one-sample
/// Kolmogorov–Smirnov statistic for a sample of size `n`
/// (`scipy.stats.kstwo.sf(d, n)`).
///
/// NaN for `n == 0` or NaN `d`; 1 for `d <= 1/(2n)`, 0 for `d >= 1`.
pub fn kstwo_sf(d: f64, n: u64) -> f64 {
    if n == 0 || d.is_nan() {
        return f64::NAN;
    }
    kolmogorov_sf(n, d).clamp(0.0, 1.0)
}

/// Branch selection of Simard & L'Ecuyer, for the survival function.
fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        return 1.0 - ruben_gambino_lower(n, t).clamp(0.0, 1.0);
    }
    if t >= nf - 1.0 {
        return 2.0 * (1.0 - x).powf(nf);
    }
    if x >= 0.5 {
        return 2.0 * smirnov(n, x);
    }
    let nx_squared = t * x;
    if n <= SMALL_N {
        if nx_squared <= 0.754_693 {
            return 1.0 - durbin_cdf(n, x).clamp(0.0, 1.0);
        }
        if nx_squared <= 4.0 {
            return 1.0 - pomeranz_cdf(n, x).clamp(0.0, 1.0);
        }
        return 2.0 * smirnov(n, x);
    }
    if nx_squared >= 370.0 {
        return 0.0;
    }
    if nx_squared >= 2.2 {
        return 2.0 * smirnov(n, x);
    }
    let cdf = if n <= 100_000 && nf * x.powf(1.5) <= 1.4 { durbin_cdf(n, x) } else { pelz_good_cdf(n, x) };
    1.0 - cdf.clamp(0.0, 1.0)
}

/// `P(D_n < x) = n! / n^n (2nx - 1)^n` for `1/(2n) <= x <= 1/n` (Ruben &
/// Gambino 1982), with `t = n x`.
fn ruben_gambino_lower(n: u64, t: f64) -> f64 {
    let nf = n as f64;
    if n <= SMALL_N {
        let step = 1.0 / nf;
        let base = 2.0 * t - 1.0;
        (1..=n).fold(1.0, |acc, i| acc * (i as f64 * step * base))
    } else {
        (ln_factorial_over_n_pow_n(nf) + nf * (2.0 * t - 1.0).ln()).exp()
    }
}

/// `ln(n! / n^n)` by Stirling's series.
fn ln_factorial_over_n_pow_n(n: f64) -> f64 {
    // B_2k / (2k (2k - 1)) for k = 8 down to 1, highest power first.
    const COEFFS: [f64; 8] = [
        -3617.0 / 122_400.0,
        1.0 / 156.0,
        -691.0 / 360_360.0,
        1.0 / 1188.0,
        -1.0 / 1680.0,
        1.0 / 1260.0,
        -1.0 / 360.0,
        1.0 / 12.0,
    ];
    let rn = 1.0 / n;
    let arg = rn / n;
    let poly = COEFFS.iter().fold(0.0, |acc, c| acc * arg + c);
    n.ln() / 2.0 - n + (2.0 * PI).ln() / 2.0 + rn * poly
}

/// Square matrix, row-major.
#[derive(Clone)]
struct Matrix {
    size: usize,
    data: Vec<f64>,
}

impl Matrix {
    fn identity(size: usize) -> Matrix {
        let mut data = vec![0.0; size * size];
        for i in 0..size {
            data[i * size + i] = 1.0;
        }
        Matrix { size, data }
    }

    fn get(&self, row: usize, column: usize) -> f64 {
        self.data[row * self.size + column]
    }

    fn set(&mut self, row: usize, column: usize, value: f64) {
        self.data[row * self.size + column] = value;
    }

    fn mul(&self, other: &Matrix) -> Matrix {
        let size = self.size;
        let mut data = vec![0.0; size * size];
        for i in 0..size {
            let out = &mut data[i * size..(i + 1) * size];
            for k in 0..size {
                let a = self.data[i * size + k];
                if a == 0.0 {
                    continue;
                }
                let row = &other.data[k * size..(k + 1) * size];
                for (o, b) in out.iter_mut().zip(row) {
                    *o += a * b;
                }
            }
        }
        Matrix { size, data }
    }

    fn scale(&mut self, factor: f64) {
        self.data.iter_mut().for_each(|v| *v *= factor);
    }
}

/// `P(D_n < d)` by Durbin's matrix method (Durbin 1968) as Marsaglia, Tsang &
/// Wang (2003) evaluate it: the `(k, k)` element of `H^n`, times `n!/n^n`, with
/// `k = ceil(n d)`, scaled by powers of `2^128` to stay in range.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    if d >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let nd = nf * d;
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let mut matrix = durbin_matrix(m, h);
    let mut power = Matrix::identity(m);
    let mut remaining = n;
    let mut exponent: i64 = 0;
    let mut matrix_exponent: i64 = 0;
    while remaining > 0 {
        if remaining % 2 == 1 {
            power = power.mul(&matrix);
            exponent += matrix_exponent;
        }
        matrix = matrix.mul(&matrix);
        matrix_exponent *= 2;
        if matrix.get(k - 1, k - 1).abs() > scale_up() {
            matrix.scale(scale_down());
            matrix_exponent += SCALE_EXPONENT;
        }
        remaining /= 2;
    }
    let mut p = power.get(k - 1, k - 1);
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < scale_down() {
            p *= scale_up();
            exponent -= SCALE_EXPONENT;
        }
    }
    if exponent != 0 { ldexp(p, exponent) } else { p }
}

/// Durbin's `m x m` matrix for the fractional offset `h = k - n d`.
fn durbin_matrix(m: usize, h: f64) -> Matrix {
    let mut v = vec![0.0; m];
    let mut w = vec![0.0; m];
    let mut factorial_inverse = 1.0;
    for j in 1..=m {
        w[j - 1] = factorial_inverse;
        factorial_inverse /= j as f64;
        v[j - 1] = (1.0 - h.powf(j as f64)) * factorial_inverse;
    }
    let mf = m as f64;
    let tt = (2.0 * h - 1.0).max(0.0).powf(mf) - 2.0 * h.powf(mf);
    v[m - 1] = (1.0 + tt) * factorial_inverse;
    let mut matrix = Matrix { size: m, data: vec![0.0; m * m] };
    for column in 1..m {
        for row in column - 1..m {
            matrix.set(row, column, w[row + 1 - column]);
        }
    }
    for (row, value) in v.iter().enumerate() {
        matrix.set(row, 0, *value);
    }
    for (column, value) in v.iter().rev().enumerate() {
        matrix.set(m - 1, column, *value);
    }
    matrix
}

/// Row bounds of the Pomeranz recursion for row `i` (SciPy's layout).
fn pomeranz_bounds(i: i64, n: i64, ll: i64, ceil_f: i64, round_f: i64) -> (i64, i64) {
    let (j1, j2) = if i == 0 {
        (-ll - ceil_f - 1, ll + ceil_f - 1)
    } else {
        let (half, odd) = ((i + 1) / 2, (i + 1) % 2);
        if odd == 0 {
            if half == n + 1 {
                (n - ll - ceil_f - 1, n + ll + ceil_f - 1)
            } else {
                (half - 1 - ll - round_f - 1, half + ll - 1 + ceil_f - 1)
            }
        } else {
            (half - 1 - ll - 1, half + ll + round_f - 1)
        }
    };
    ((j1 + 2).max(0), j2.min(n))
}

/// `(step / n)^m / m!` for `m < count`.
fn scaled_powers(step: f64, count: usize) -> Vec<f64> {
    let mut powers = vec![1.0; count];
    for m in 1..count {
        powers[m] = powers[m - 1] * step / m as f64;
    }
    powers
}

/// Full discrete convolution, as `numpy.convolve(a, b)`.
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// `P(D_n < x)` by the Pomeranz (1974) recursion, rows scaled by `2^128` as
/// needed.
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let nf = n as f64;
    let ni = n as i64;
    let t = nf * x;
    let ll = t.floor() as i64;
    let f = t - ll as f64;
    let g = f.min(1.0 - f);
    let ceil_f = i64::from(f > 0.0);
    let round_f = i64::from(f > 0.5);
    let npowers = (2 * (ll + 1)) as usize;
    let g_powers = scaled_powers(g / nf, npowers);
    let two_g_powers = scaled_powers(2.0 * g / nf, npowers);
    let one_minus_two_g_powers = scaled_powers((1.0 - 2.0 * g) / nf, npowers);

    let mut previous = vec![0.0; npowers];
    let mut current = vec![0.0; npowers];
    current[0] = 1.0;
    let (mut previous_start, mut current_start) = (0i64, 0i64);
    let mut exponent: i64 = 0;
    let (mut j1, _) = pomeranz_bounds(0, ni, ll, ceil_f, round_f);
    for i in 1..(2 * ni + 2) {
        let k1 = j1;
        std::mem::swap(&mut previous, &mut current);
        std::mem::swap(&mut previous_start, &mut current_start);
        current.iter_mut().for_each(|v| *v = 0.0);
        let (new_j1, j2) = pomeranz_bounds(i, ni, ll, ceil_f, round_f);
        j1 = new_j1;
        let powers = if i == 1 || i == 2 * ni + 1 {
            &g_powers
        } else if i % 2 == 1 {
            &two_g_powers
        } else {
            &one_minus_two_g_powers
        };
        let length = j2 - k1 + 1;
        if length > 0 {
            let from = clamp_index(k1 - previous_start, npowers);
            let to = clamp_index(k1 - previous_start + length, npowers);
            let conv = convolve(&previous[from..to], &powers[..clamp_index(length, npowers)]);
            let conv_start = clamp_index(j1 - k1, conv.len());
            let conv_len = clamp_index(j2 - j1 + 1, npowers);
            let conv_end = (conv_start + conv_len).min(conv.len());
            let chunk = &conv[conv_start..conv_end];
            current[..chunk.len()].copy_from_slice(chunk);
            let max = current.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if 0.0 < max && max < scale_down() {
                current.iter_mut().for_each(|v| *v *= scale_up());
                exponent -= SCALE_EXPONENT;
            }
            current_start = previous_start + j1 - k1;
        }
    }
    let mut answer = current.get(clamp_index(ni - current_start, npowers)).copied().unwrap_or(0.0);
    for m in 1..=n {
        if answer.abs() > scale_up() {
            answer *= scale_down();
            exponent += SCALE_EXPONENT;
        }
        answer *= m as f64;
    }
    if exponent != 0 { ldexp(answer, exponent) } else { answer }
}

/// An index clipped into `0..=len`, as NumPy clips slice bounds.
fn clamp_index(i: i64, len: usize) -> usize {
    i.clamp(0, len as i64) as usize
}

/// `P(D_n <= x)` by the Pelz & Good (1976) expansion
/// `K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5`, `z = x √n`, with each term
/// written through Jacobi theta functions for small `z`.
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let pi2 = PI.powf(2.0);
    let pi4 = PI.powf(4.0);
    let pi6 = PI.powf(6.0);
    let sqrt_2pi = (2.0 * PI).sqrt();
    let z = nf.sqrt() * x;
    let (z2, z3, z4, z6) = (z.powf(2.0), z.powf(3.0), z.powf(4.0), z.powf(6.0));
    let q_log = -pi2 / 8.0 / z2;
    if q_log < -708.0 {
        return 0.0;
    }
    let q = q_log.exp();

    let k1a = -z2;
    let k1b = pi2 / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z.powf(8.0);

    let mut terms = [0.0f64; 4];
    let max_k = (16.0 * z / PI).ceil() as i64;
    for k in (1..=max_k).rev() {
        let m = (2 * k - 1) as f64;
        let (m2, m4, m6) = (m * m, m.powi(4), m.powi(6));
        let q_power = q.powf((8 * k) as f64);
        let coeffs = [1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
        for (term, c) in terms.iter_mut().zip(coeffs) {
            *term = *term * q_power + c;
        }
    }
    let divisors = [z, 6.0 * z4, 72.0 * z.powf(7.0), 6480.0 * z.powf(10.0)];
    for (term, divisor) in terms.iter_mut().zip(divisors) {
        *term = *term * q * sqrt_2pi / divisor;
    }

    let q = (-pi2 / 2.0 / z2).exp();
    let sqrt3z = 3f64.sqrt() * z;
    let mut k2_parts = Vec::with_capacity(max_k as usize);
    let mut k3_parts = Vec::with_capacity(max_k as usize);
    for k in (1..=max_k).rev() {
        let k_squared = (k * k) as f64;
        let q_power = q.powf(k_squared);
        let kpi = PI * k as f64;
        k2_parts.push(k_squared * q_power);
        k3_parts.push((sqrt3z + kpi) * (sqrt3z - kpi) * k_squared * q_power);
    }
    terms[2] += pairwise_sum(&k2_parts) * (pi2 * sqrt_2pi / (-36.0 * z3));
    terms[3] += pairwise_sum(&k3_parts) * (pi2 * sqrt_2pi / (216.0 * z6));
    let mut total = 0.0;
    for (i, term) in terms.iter().enumerate() {
        total += term / nf.powf(i as f64 / 2.0);
    }
    total
}
