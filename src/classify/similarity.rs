//! Cosine similarity between an article's words and the profile's learned corpus terms.

use super::text::Token;
use super::{Classifier, round3};

impl Classifier {
    /// Cosine similarity between the article's content stems and the learned terms.
    pub(super) fn similarity(&self, tokens: &[Token]) -> f64 {
        if self.learned_norm == 0.0 {
            return 0.0;
        }
        // Counting by sorting: cheaper than a hash map for a hundred words.
        let mut stems: Vec<(u64, &str)> = tokens
            .iter()
            .filter(|t| t.content)
            .map(|t| (t.stem_hash, &*t.stem))
            .collect();
        stems.sort_unstable();
        let (mut dot, mut norm_squared) = (0.0, 0.0);
        for run in stems.chunk_by(|a, b| a == b) {
            let count = run.len() as f64;
            norm_squared += count * count;
            let (hash, stem) = run[0];
            if let Some((learned_stem, weight)) = self.learned.get(&hash)
                && learned_stem == stem
            {
                dot += weight * count;
            }
        }
        if norm_squared == 0.0 {
            return 0.0;
        }
        round3(dot / (norm_squared.sqrt() * self.learned_norm))
    }
}
