//! Pearson's chi-squared test of independence on a two-way contingency table,
//! as `scipy.stats.chi2_contingency(table)` with its defaults.

use super::StatsError;
use super::special::chi2_sf;
use super::sum::pairwise_sum;

/// Result of [`chi2_contingency`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chi2Result {
    /// Pearson's statistic `Σ (O - E)² / E` (after Yates' correction when `dof == 1`).
    pub statistic: f64,
    /// `P(χ²_dof >= statistic)`.
    pub pvalue: f64,
    /// Degrees of freedom `(rows - 1)(columns - 1)`.
    pub dof: usize,
}

/// Chi-squared test of independence of the rows and columns of `table`
/// (observed counts, one inner `Vec` per row), equal to
/// `scipy.stats.chi2_contingency(table)`.
///
/// Expected counts come from the margins, `E_ij = R_i C_j / N`. With one degree
/// of freedom (a 2x2 table) Yates' continuity correction moves every observed
/// count towards its expected count by `min(0.5, |O - E|)`. A table with a single
/// row or column has `dof == 0`; SciPy then reports statistic 0 and p-value 1,
/// and so does this function.
///
/// Errors (where SciPy raises): [`StatsError::EmptySample`] for no cells,
/// [`StatsError::RaggedTable`] for rows of different lengths,
/// [`StatsError::NonFinite`] / [`StatsError::OutOfRange`] for NaN, infinite or
/// negative counts, and [`StatsError::ZeroExpected`] when a whole row or column
/// is zero (its expected counts are zero). Callers drop all-zero categories
/// before calling.
pub fn chi2_contingency(table: &[Vec<f64>]) -> Result<Chi2Result, StatsError> {
    let columns = validate(table)?;
    let rows = table.len();
    let cells: Vec<f64> = table.iter().flatten().copied().collect();
    let row_sums: Vec<f64> = table.iter().map(|row| pairwise_sum(row)).collect();
    let column_sums: Vec<f64> =
        (0..columns).map(|c| pairwise_sum(&table.iter().map(|row| row[c]).collect::<Vec<_>>())).collect();
    let total = pairwise_sum(&cells);
    let mut expected = Vec::with_capacity(cells.len());
    for (r, row_sum) in row_sums.iter().enumerate() {
        for (c, column_sum) in column_sums.iter().enumerate() {
            let e = row_sum * column_sum / total;
            if e == 0.0 {
                return Err(StatsError::ZeroExpected { row: r, column: c });
            }
            expected.push(e);
        }
    }
    let dof = (rows - 1) * (columns - 1);
    if dof == 0 {
        return Ok(Chi2Result { statistic: 0.0, pvalue: 1.0, dof });
    }
    let observed: Vec<f64> =
        if dof == 1 { cells.iter().zip(&expected).map(|(o, e)| yates(*o, *e)).collect() } else { cells };
    let terms: Vec<f64> = observed.iter().zip(&expected).map(|(o, e)| (o - e).powi(2) / e).collect();
    let statistic = pairwise_sum(&terms);
    Ok(Chi2Result { statistic, pvalue: chi2_sf(statistic, dof as f64), dof })
}

/// Yates' continuity correction: `O + sign(E - O) min(0.5, |E - O|)`.
fn yates(observed: f64, expected: f64) -> f64 {
    let diff = expected - observed;
    let direction = if diff > 0.0 {
        1.0
    } else if diff < 0.0 {
        -1.0
    } else {
        0.0
    };
    observed + diff.abs().min(0.5) * direction
}

/// Checks shape and values; returns the number of columns.
fn validate(table: &[Vec<f64>]) -> Result<usize, StatsError> {
    let what = "contingency table";
    let columns = table.first().map_or(0, Vec::len);
    if columns == 0 {
        return Err(StatsError::EmptySample { what });
    }
    let mut index = 0;
    for (r, row) in table.iter().enumerate() {
        if row.len() != columns {
            return Err(StatsError::RaggedTable { row: r, got: row.len(), expected: columns });
        }
        for value in row {
            if !value.is_finite() {
                return Err(StatsError::NonFinite { what, index });
            }
            if *value < 0.0 {
                return Err(StatsError::OutOfRange { what, index, value: *value });
            }
            index += 1;
        }
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_tables() {
        assert!(matches!(chi2_contingency(&[]), Err(StatsError::EmptySample { .. })));
        assert!(matches!(
            chi2_contingency(&[vec![1.0, 0.0], vec![2.0, 0.0]]),
            Err(StatsError::ZeroExpected { row: 0, column: 1 })
        ));
        assert!(matches!(chi2_contingency(&[vec![1.0, 2.0], vec![2.0]]), Err(StatsError::RaggedTable { .. })));
        let single = chi2_contingency(&[vec![3.0, 4.0, 5.0]]).unwrap();
        assert_eq!(single, Chi2Result { statistic: 0.0, pvalue: 1.0, dof: 0 });
    }
}
