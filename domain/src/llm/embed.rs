//! Embeddings: the port every embedding client implements, the built-in offline embedding,
//! and cosine similarity.
//!
//! The built-in embedding (decided for the offline model): a hashed bag of character n-grams
//! (2 to 4 letters, with word boundaries) of the Urdu-aware folded text, in
//! [`BUILTIN_DIMENSIONS`] dimensions, L2-normalised. It needs no model file and finds lines
//! that share word pieces with the query (spelling variants, inflections), which is what a
//! semantic ranking adds to the lexical one on a machine without a model. Deterministic:
//! FNV-1a hashing, the same vector on every machine.

use super::{LlmError, ModelEndpoint};
use crate::text::fold::fold;

/// Dimensions of the built-in embedding.
pub const BUILTIN_DIMENSIONS: usize = 256;

/// A model's vectors for a batch of texts, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: u32,
}

/// The port every embedding client implements: one call, no retries (as `LlmClient`).
pub trait EmbeddingClient: Send + Sync {
    /// Vectors for `inputs`, one each, in order. Errors as `LlmClient::complete`;
    /// `Protocol` when the answer does not hold one vector per input.
    fn embed(
        &self,
        endpoint: &ModelEndpoint,
        inputs: &[String],
    ) -> impl Future<Output = Result<Embeddings, LlmError>> + Send;
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// The built-in embedding of `text` (see the module docs); the zero vector for a text
/// without letters.
pub fn builtin_embedding(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; BUILTIN_DIMENSIONS];
    for word in fold(text).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let chars: Vec<char> = std::iter::once('^').chain(word.chars()).chain(std::iter::once('$')).collect();
        for n in 2..=4 {
            for gram in chars.windows(n) {
                let s: String = gram.iter().collect();
                let h = fnv1a(s.as_bytes());
                let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
                v[(h % BUILTIN_DIMENSIONS as u64) as usize] += sign;
            }
        }
    }
    normalise(&mut v);
    v
}

/// Scales `v` to length 1 (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity; 0 when either vector is zero or their lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na.sqrt() * nb.sqrt()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_embedding_is_normalised_deterministic_and_urdu_aware() {
        let a = builtin_embedding("حسینؑ کربلا میں");
        assert_eq!(a.len(), BUILTIN_DIMENSIONS);
        assert!((a.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(a, builtin_embedding("حسینؑ کربلا میں"));
        // Arabic yeh and no honorific: the same vector under the folding.
        assert!((cosine(&a, &builtin_embedding("حسين کربلا ميں")) - 1.0).abs() < 1e-5);
        // Sharing word pieces ranks above sharing nothing.
        let near = cosine(&a, &builtin_embedding("کربلائی حسین"));
        let far = cosine(&a, &builtin_embedding("فرات کے کنارے"));
        assert!(near > far + 0.2, "{near} vs {far}");
        assert!(builtin_embedding("؟ ،").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn cosine_of_vectors() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
    }
}
