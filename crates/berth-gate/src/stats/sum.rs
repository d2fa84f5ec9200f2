//! Floating-point summation in NumPy's order.
//!
//! `numpy.sum` over a contiguous float64 array adds pairwise: blocks of at most
//! 128 values are summed in eight interleaved lanes, larger arrays are split in
//! two (at a multiple of eight) and the halves summed recursively. Summing in the
//! same order gives bit-identical results, which keeps sums that cancel (means,
//! divergences) equal to NumPy's.

const BLOCK: usize = 128;

/// The sum of `values` in the order `numpy.sum` uses.
pub(crate) fn pairwise_sum(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 8 {
        return values.iter().fold(-0.0, |acc, v| acc + v);
    }
    if n <= BLOCK {
        let mut lanes = [0.0f64; 8];
        lanes.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        for chunk in values[8..whole].chunks_exact(8) {
            for (lane, v) in lanes.iter_mut().zip(chunk) {
                *lane += v;
            }
        }
        let mut total =
            ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
        for v in &values[whole..] {
            total += v;
        }
        return total;
    }
    let half = n / 2;
    let half = half - half % 8;
    pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
}

#[cfg(test)]
mod tests {
    use super::pairwise_sum;

    #[test]
    fn small_sums_are_sequential() {
        assert_eq!(pairwise_sum(&[]), 0.0);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
        let many: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&many), 499_500.0);
    }
}
