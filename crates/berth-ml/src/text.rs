//! Text classification: TF-IDF features and multinomial naive Bayes, with
//! scikit-learn's defaults (`TfidfVectorizer`: lowercase, tokens of two or
//! more word characters, smooth idf, L2-normalised rows; `MultinomialNB`
//! with additive smoothing `alpha`). Documents stay sparse throughout.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Lowercased tokens of two or more word characters (letters, digits, `_`).
pub(crate) fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|t| t.chars().count() >= 2).map(str::to_lowercase)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NaiveBayes {
    /// The text column the model reads.
    pub column: String,
    /// Sorted vocabulary; a word's index is its position.
    pub vocabulary: Vec<String>,
    pub idf: Vec<f64>,
    pub class_log_prior: Vec<f64>,
    /// `feature_log_prob[class][word]`.
    pub feature_log_prob: Vec<Vec<f64>>,
}

impl NaiveBayes {
    /// Sparse, L2-normalised TF-IDF vector of one document.
    fn tfidf(&self, index: &HashMap<&str, usize>, text: &str) -> Vec<(usize, f64)> {
        let mut counts: BTreeMap<usize, f64> = BTreeMap::new();
        for t in tokens(text) {
            if let Some(&j) = index.get(t.as_str()) {
                *counts.entry(j).or_default() += 1.0;
            }
        }
        let mut v: Vec<(usize, f64)> = counts.into_iter().map(|(j, c)| (j, c * self.idf[j])).collect();
        let norm = v.iter().map(|(_, x)| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|(_, x)| *x /= norm);
        }
        v
    }

    fn index(&self) -> HashMap<&str, usize> {
        self.vocabulary.iter().enumerate().map(|(i, w)| (w.as_str(), i)).collect()
    }

    /// Class probabilities of each document.
    pub fn predict_proba(&self, docs: &[&str]) -> Vec<Vec<f64>> {
        let index = self.index();
        docs.iter()
            .map(|d| {
                let x = self.tfidf(&index, d);
                let mut z: Vec<f64> = self
                    .class_log_prior
                    .iter()
                    .zip(&self.feature_log_prob)
                    .map(|(prior, logp)| prior + x.iter().map(|(j, v)| v * logp[*j]).sum::<f64>())
                    .collect();
                crate::model::softmax_in_place(&mut z);
                z
            })
            .collect()
    }

    pub fn is_well_formed(&self, k: usize) -> bool {
        let v = self.vocabulary.len();
        self.idf.len() == v
            && self.class_log_prior.len() == k
            && self.feature_log_prob.len() == k
            && self.feature_log_prob.iter().all(|r| r.len() == v)
            && self.vocabulary.windows(2).all(|w| w[0] < w[1])
    }

    /// Fits on documents with class indices `y` (0..k).
    pub fn fit(column: &str, docs: &[&str], y: &[usize], k: usize, alpha: f64, max_features: usize) -> NaiveBayes {
        let n = docs.len();
        let mut df: HashMap<String, usize> = HashMap::new();
        let mut tf_total: HashMap<String, usize> = HashMap::new();
        for d in docs {
            let mut seen: Vec<String> = tokens(d).collect();
            for t in &seen {
                *tf_total.entry(t.clone()).or_default() += 1;
            }
            seen.sort();
            seen.dedup();
            for t in seen {
                *df.entry(t).or_default() += 1;
            }
        }
        let mut vocabulary: Vec<String> = df.keys().cloned().collect();
        if max_features > 0 && vocabulary.len() > max_features {
            // As scikit-learn: keep the terms most frequent across the corpus.
            vocabulary.sort_by(|a, b| tf_total[b].cmp(&tf_total[a]).then_with(|| a.cmp(b)));
            vocabulary.truncate(max_features);
        }
        vocabulary.sort();
        let idf: Vec<f64> = vocabulary.iter().map(|w| ((1.0 + n as f64) / (1.0 + df[w] as f64)).ln() + 1.0).collect();
        let mut nb = NaiveBayes {
            column: column.to_string(),
            vocabulary,
            idf,
            class_log_prior: Vec::new(),
            feature_log_prob: Vec::new(),
        };
        let index = nb.index();
        let v = nb.vocabulary.len();
        let mut counts = vec![vec![0.0; v]; k];
        let mut class_n = vec![0.0; k];
        for (d, &c) in docs.iter().zip(y) {
            class_n[c] += 1.0;
            for (j, x) in nb.tfidf(&index, d) {
                counts[c][j] += x;
            }
        }
        drop(index);
        nb.class_log_prior = class_n.iter().map(|c| (c / n as f64).ln()).collect();
        nb.feature_log_prob = counts
            .iter()
            .map(|row| {
                let total: f64 = row.iter().sum::<f64>() + alpha * v as f64;
                row.iter().map(|c| ((c + alpha) / total).ln()).collect()
            })
            .collect();
        nb
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_scikit_learns_default_pattern() {
        let t: Vec<String> = tokens("The app's UI, a 10x update! é_é").collect();
        assert_eq!(t, ["the", "app", "ui", "10x", "update", "é_é"]);
    }

    #[test]
    fn naive_bayes_separates_obvious_sentiment() {
        let docs = ["great fast service", "terrible slow service", "great friendly staff", "awful rude staff"];
        let nb = NaiveBayes::fit("text", &docs, &[1, 0, 1, 0], 2, 1.0, 0);
        let p = nb.predict_proba(&["great staff", "rude slow"]);
        assert!(p[0][1] > 0.5 && p[1][0] > 0.5, "{p:?}");
        assert!(nb.is_well_formed(2));
    }
}
