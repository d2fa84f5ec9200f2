//! "Did you mean …?": the closest of a set of known names to a mistyped one.

/// The known name closest to `typed` by edit distance, when it is close
/// enough to be a likely typo: at most a third of the typed length (and at
/// least one edit), so `prodution` finds `production` but `qa` finds nothing
/// among `staging` and `production`.
pub fn closest<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (typed.chars().count() / 3).max(1);
    known
        .into_iter()
        .filter(|k| *k != typed)
        .map(|k| (edit_distance(typed, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, k)| (*d, *k))
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters, with transpositions counted as one
/// edit (optimal string alignment), since swapped letters are the commonest
/// typo.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * width] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best =
                (d[(i - 1) * width + j] + 1).min(d[i * width + j - 1] + 1).min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// ` (did you mean NAME?)`, or nothing.
pub fn did_you_mean<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    closest(typed, known).map(|k| format!("; did you mean {k}?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_the_name_they_miss() {
        let envs = ["staging", "production"];
        assert_eq!(closest("prodution", envs), Some("production"));
        assert_eq!(closest("stagign", envs), Some("staging"));
        assert_eq!(closest("chrun", ["churn", "fraud"]), Some("churn"));
        assert_eq!(closest("qa", envs), None);
        assert_eq!(closest("production", envs), None, "an exact name is not a suggestion");
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_substitutions_and_swaps() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("churn", "chrun"), 1);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
