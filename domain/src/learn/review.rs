//! The review queue's order: which unverified suggestion a researcher's decision teaches most.
//! A suggestion whose confidence is nearest the decision threshold comes first (the model is
//! least sure of it, so either answer moves the model most); among equally near ones, the one
//! other models disagree with most (overlapping suggestions of another model, or of another
//! type, or other bounds); then by document and position. Suggestions without a confidence come
//! after all those with one.

use crate::ids::{DocumentId, EntityId, EntityTypeId};

/// An unverified suggestion, as the queue weighs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: EntityId,
    pub document_id: DocumentId,
    pub start: u32,
    pub end: u32,
    pub entity_type: EntityTypeId,
    pub confidence: Option<f64>,
    /// The model that suggested it (none for a suggestion of unknown origin).
    pub model: Option<uuid::Uuid>,
}

/// How many suggestions disagree with `c`: those overlapping it in its document that come from
/// another model, or give another type, or other bounds.
pub fn disagreement(c: &Candidate, all: &[Candidate]) -> usize {
    all.iter()
        .filter(|o| o.id != c.id && o.document_id == c.document_id && o.start < c.end && c.start < o.end)
        .filter(|o| o.model != c.model || o.entity_type != c.entity_type || (o.start, o.end) != (c.start, c.end))
        .count()
}

/// The candidates in review order (indices into `candidates`).
pub fn order(candidates: &[Candidate], threshold: f64) -> Vec<usize> {
    let keyed: Vec<(bool, f64, usize)> = candidates
        .iter()
        .map(|c| {
            let distance = c.confidence.map_or(f64::INFINITY, |x| (x - threshold).abs());
            (c.confidence.is_none(), distance, disagreement(c, candidates))
        })
        .collect();
    let mut idx: Vec<usize> = (0..candidates.len()).collect();
    idx.sort_by(|&a, &b| {
        let (ka, kb) = (&keyed[a], &keyed[b]);
        ka.0.cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(kb.2.cmp(&ka.2))
            .then(candidates[a].document_id.cmp(&candidates[b].document_id))
            .then(candidates[a].start.cmp(&candidates[b].start))
            .then(candidates[a].id.cmp(&candidates[b].id))
    });
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(start: u32, end: u32, t: EntityTypeId, confidence: Option<f64>, model: Option<uuid::Uuid>) -> Candidate {
        Candidate {
            id: EntityId::new(),
            document_id: DocumentId(uuid::Uuid::nil()),
            start,
            end,
            entity_type: t,
            confidence,
            model,
        }
    }

    #[test]
    fn nearest_the_threshold_first_then_disagreement() {
        let (person, place) = (EntityTypeId::new(), EntityTypeId::new());
        let (a, b) = (Some(uuid::Uuid::from_u128(1)), Some(uuid::Uuid::from_u128(2)));
        let list = vec![
            c(0, 4, person, Some(0.95), a),   // far from 0.5
            c(10, 14, person, Some(0.55), a), // near, no disagreement
            c(20, 24, person, Some(0.45), a), // as near, and model b says LOCATION there
            c(20, 24, place, Some(0.9), b),
            c(30, 34, person, None, a),      // no confidence: last
            c(40, 44, person, Some(0.5), a), // on the threshold: first
        ];
        let got = order(&list, 0.5);
        assert_eq!(got, [5, 2, 1, 3, 0, 4]);
        assert_eq!(disagreement(&list[2], &list), 1);
        assert_eq!(disagreement(&list[1], &list), 0);
    }
}
