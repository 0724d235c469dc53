//! The semantic side of search: what an embedding is stored as, which chunks need one, and
//! the in-process cosine ranking over a project's stored vectors.
//!
//! Invariants:
//! - a chunk is a search passage (`search::passages`: a line, or a piece of a long line); its
//!   content hash is the SHA-256 (hex) of its text, so an edit that changes a line makes its
//!   chunk stale (no vector under the new hash) and one that leaves a line alone keeps its
//!   vector; passages with the same text share one vector;
//! - a vector is stored as little-endian f32 values with its model and dimension; one that does
//!   not decode to its dimension is not used;
//! - the semantic ranking keeps the [`SEMANTIC_CANDIDATES`] passages of highest cosine with the
//!   query (above 0), highest first, then by passage id: a total order.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::rank::{PassageId, RRF_K};
use crate::llm::Provider;
use crate::llm::embed::cosine;

/// Chunks sent in one embedding call.
pub const EMBED_BATCH: usize = 32;
/// Most passages the semantic ranking proposes for one query (fused with the lexical ranking).
pub const SEMANTIC_CANDIDATES: usize = 100;
/// Most dimensions a stored vector may have (a model answering more is refused).
pub const MAX_DIMENSIONS: usize = 8192;

/// The content hash of a chunk's text.
pub fn content_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Whether a provider serves embeddings (the built-in model computes its own).
pub fn embeds(provider: Provider) -> bool {
    !matches!(provider, Provider::Anthropic)
}

/// A vector as stored: its values as little-endian f32.
pub fn encode_vector(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector of `dimensions` values; `None` when the bytes do not hold exactly that.
pub fn decode_vector(bytes: &[u8], dimensions: usize) -> Option<Vec<f32>> {
    (bytes.len() == dimensions * 4)
        .then(|| bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// The `k` passages of highest cosine with `query` (only those above 0), best first, ties by
/// passage id. A bounded heap would keep less; `k` is small next to the vectors, so the
/// scores are computed in one pass and the best `k` selected without sorting the rest.
pub fn top_k<'v>(
    query: &[f32],
    vectors: impl IntoIterator<Item = (PassageId, &'v [f32])>,
    k: usize,
) -> Vec<(PassageId, f32)> {
    let mut scored: Vec<(PassageId, f32)> =
        vectors.into_iter().map(|(id, v)| (id, cosine(query, v))).filter(|(_, s)| *s > 0.0 && s.is_finite()).collect();
    let by_score = |a: &(PassageId, f32), b: &(PassageId, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > k && k > 0 {
        scored.select_nth_unstable_by(k - 1, by_score);
        scored.truncate(k);
    }
    if k == 0 {
        scored.clear();
    }
    scored.sort_by(by_score);
    scored
}

/// Reciprocal rank fusion of a lexical and a semantic ranking (`search::rank::RRF_K`, k = 60):
/// each passage scores `1 / (k + rank)` in each ranking that holds it (ranks from 1), summed;
/// highest first, ties in the order the passages first appear (the lexical ranking, then the
/// passages only the semantic one holds). Linear in the passages (a map, not a search).
pub fn fuse(lexical: &[PassageId], semantic: &[PassageId]) -> Vec<(PassageId, f64)> {
    let mut at: HashMap<PassageId, usize> = HashMap::with_capacity(lexical.len() + semantic.len());
    let mut fused: Vec<(PassageId, f64)> = Vec::with_capacity(lexical.len() + semantic.len());
    for ranking in [lexical, semantic] {
        for (rank, id) in ranking.iter().enumerate() {
            let share = 1.0 / (RRF_K + rank as f64 + 1.0);
            match at.get(id) {
                Some(&i) => fused[i].1 += share,
                None => {
                    at.insert(*id, fused.len());
                    fused.push((*id, share));
                }
            }
        }
    }
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_and_wrong_lengths_are_refused() {
        let v = vec![0.5f32, -1.25, 3.0e-7, f32::MAX];
        let bytes = encode_vector(&v);
        assert_eq!(bytes.len(), 16);
        assert_eq!(&bytes[..4], &0.5f32.to_le_bytes());
        assert_eq!(decode_vector(&bytes, 4), Some(v));
        assert_eq!(decode_vector(&bytes, 3), None);
        assert_eq!(decode_vector(&bytes[..15], 4), None);
    }

    #[test]
    fn fusion_sums_reciprocal_ranks_with_k_60() {
        let p = PassageId;
        let fused = fuse(&[p(1), p(2), p(3)], &[p(4), p(2)]);
        let ids: Vec<i64> = fused.iter().map(|(i, _)| i.0).collect();
        // 2: 1/62 + 1/62; 1: 1/61 and 4: 1/61 tie (lexical first); 3: 1/63.
        assert_eq!(ids, [2, 1, 4, 3]);
        assert!((fused[0].1 - 2.0 / 62.0).abs() < 1e-12);
        assert!((fused[1].1 - 1.0 / 61.0).abs() < 1e-12);
        assert!((fused[3].1 - 1.0 / 63.0).abs() < 1e-12);
        assert!(fuse(&[], &[]).is_empty());
    }

    #[test]
    fn the_hash_changes_with_the_text() {
        assert_eq!(content_hash("کربلا"), content_hash("کربلا"));
        assert_ne!(content_hash("کربلا"), content_hash("كربلا"));
        assert_eq!(content_hash("").len(), 64);
    }

    #[test]
    fn top_k_keeps_the_best_above_zero_in_order() {
        let vs: Vec<(PassageId, Vec<f32>)> = vec![
            (PassageId(1), vec![1.0, 0.0]),
            (PassageId(2), vec![0.0, 1.0]),
            (PassageId(3), vec![1.0, 1.0]),
            (PassageId(4), vec![-1.0, 0.0]),
            (PassageId(5), vec![2.0, 0.0]),
            (PassageId(6), vec![1.0, 0.1]),
        ];
        let q = [1.0, 0.0];
        let all = top_k(&q, vs.iter().map(|(i, v)| (*i, v.as_slice())), 10);
        let ids: Vec<i64> = all.iter().map(|(i, _)| i.0).collect();
        // 1 and 5 tie at 1.0 (by id), then 6, then 3; 2 (0) and 4 (< 0) are out.
        assert_eq!(ids, [1, 5, 6, 3]);
        let two = top_k(&q, vs.iter().map(|(i, v)| (*i, v.as_slice())), 2);
        assert_eq!(two.iter().map(|(i, _)| i.0).collect::<Vec<_>>(), [1, 5]);
        assert!(top_k(&q, vs.iter().map(|(i, v)| (*i, v.as_slice())), 0).is_empty());
    }
}
