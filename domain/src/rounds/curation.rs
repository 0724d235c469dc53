//! Curation: merging the annotators' layers of a document into its curated layer (the gold),
//! and telling each annotator where their layer differs from it. Pure: the caller hands in the
//! layers, the curated layer as it stands and the positions the curator has already decided.
//!
//! A candidate is one span with its type in one layer. An annotator's candidate votes for its
//! exact span and type; the model's candidates never vote, but are shown beside the others in a
//! conflict. Taking candidates by votes (most first, then by position), a candidate is merged when
//! it has at least `min_votes` votes, more than every other candidate overlapping it, and overlaps
//! nothing merged before it; a candidate overlapping a merged one is settled by it (outvoted).
//! The remaining annotator candidates form conflicts: groups of candidates chained by overlap,
//! listed with every layer's candidates there (the model's included).
//!
//! Running curation again keeps the curator's decisions: a candidate overlapping a span of the
//! curated layer, or a position the curator decided (accepted a candidate, edited, or left
//! empty), is neither merged nor shown as a conflict.

use std::collections::BTreeMap;

use crate::error::{DomainError, DomainResult};
use crate::rounds::agreement::Span;
use crate::rounds::layer::Layer;

/// Where a document's curation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CurationState {
    #[default]
    NotStarted,
    InProgress,
    Finished,
}

impl CurationState {
    pub const ALL: [Self; 3] = [Self::NotStarted, Self::InProgress, Self::Finished];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "NOT_STARTED",
            Self::InProgress => "IN_PROGRESS",
            Self::Finished => "FINISHED",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown curation state {s:?} in storage")))
    }
}

/// How many annotators must agree on a span (same start, end and type) for it to be merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinVotes(usize);

impl MinVotes {
    pub fn new(n: i64) -> DomainResult<Self> {
        if (1..=100).contains(&n) {
            Ok(Self(n as usize))
        } else {
            Err(DomainError::invalid("minVotes", "must be between 1 and 100"))
        }
    }

    pub fn get(self) -> usize {
        self.0
    }
}

/// One layer's candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    pub layer: Layer,
    pub span: Span,
}

/// A position the annotators disagree on, with every layer's candidates there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub start: u32,
    pub end: u32,
    pub candidates: Vec<Candidate>,
}

/// What one run of curation does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Curation {
    /// Spans to add to the curated layer, in reading order.
    pub merged: Vec<Span>,
    /// Positions left to the curator, in reading order.
    pub conflicts: Vec<Conflict>,
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Curates one document: `layers` are the compared layers (annotators' and the model's),
/// `curated` the curated layer as it stands, `decided` the positions the curator decided.
pub fn curate(
    layers: &BTreeMap<Layer, Vec<Span>>,
    curated: &[Span],
    decided: &[(u32, u32)],
    min_votes: MinVotes,
) -> Curation {
    let settled = |s: &Span| {
        curated.iter().any(|c| overlaps((c.start, c.end), (s.start, s.end)))
            || decided.iter().any(|d| overlaps(*d, (s.start, s.end)))
    };
    // Votes per distinct annotator candidate.
    let mut votes: BTreeMap<Span, usize> = BTreeMap::new();
    for (layer, spans) in layers {
        if matches!(layer, Layer::Model(_)) {
            continue;
        }
        let mut own: Vec<&Span> = spans.iter().filter(|s| !settled(s)).collect();
        own.sort_unstable();
        own.dedup();
        for s in own {
            *votes.entry(*s).or_default() += 1;
        }
    }
    let mut ranked: Vec<(Span, usize)> = votes.iter().map(|(s, v)| (*s, *v)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut merged: Vec<Span> = Vec::new();
    for &(span, n) in &ranked {
        let at = (span.start, span.end);
        if n < min_votes.get() || merged.iter().any(|m| overlaps((m.start, m.end), at)) {
            continue;
        }
        let outvotes_all = ranked.iter().all(|&(o, on)| o == span || !overlaps((o.start, o.end), at) || on < n);
        if outvotes_all {
            merged.push(span);
        }
    }
    // What is left: annotator candidates overlapping nothing merged, grouped by overlap.
    let mut open: Vec<Span> = votes
        .keys()
        .filter(|s| !merged.iter().any(|m| overlaps((m.start, m.end), (s.start, s.end))))
        .copied()
        .collect();
    open.sort_unstable();
    let mut groups: Vec<(u32, u32)> = Vec::new();
    for s in &open {
        match groups.last_mut() {
            Some(g) if s.start < g.1 => g.1 = g.1.max(s.end),
            _ => groups.push((s.start, s.end)),
        }
    }
    let conflicts = groups
        .into_iter()
        .map(|(start, end)| {
            let mut candidates: Vec<Candidate> = layers
                .iter()
                .flat_map(|(layer, spans)| {
                    spans
                        .iter()
                        .filter(|s| overlaps((s.start, s.end), (start, end)) && !settled(s))
                        .map(|s| Candidate { layer: *layer, span: *s })
                })
                .collect();
            candidates.sort_by(|a, b| a.span.cmp(&b.span).then(a.layer.cmp(&b.layer)));
            Conflict { start, end, candidates }
        })
        .collect();
    merged.sort_unstable();
    Curation { merged, conflicts }
}

/// How an annotator's layer differs from the gold at one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Difference {
    /// The gold has this span; the layer has nothing of its type overlapping it.
    Missed { gold: Span },
    /// The layer has this span; the gold has nothing of its type overlapping it.
    Extra { yours: Span },
    /// The layer marked the gold's span (overlapping it) with another type.
    WrongType { gold: Span, yours: Span },
}

/// Where `layer` differs from `gold`: exact matches are agreement; a layer's span overlapping a
/// gold span of another type (and no span of the gold's type) is a wrong type; a gold span with
/// no span of its type exactly there is missed, and a layer's span that neither matches nor is a
/// wrong type is extra (so a span with the right type and other boundaries is one missed and one
/// extra). In reading order.
pub fn differences(layer: &[Span], gold: &[Span]) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut used = vec![false; layer.len()];
    for g in gold {
        if let Some(i) = layer.iter().position(|y| y == g) {
            used[i] = true;
            continue;
        }
        let same_type_near =
            layer.iter().any(|y| y.entity_type == g.entity_type && overlaps((y.start, y.end), (g.start, g.end)));
        let other = layer
            .iter()
            .enumerate()
            .find(|(i, y)| !used[*i] && y.entity_type != g.entity_type && overlaps((y.start, y.end), (g.start, g.end)));
        match other {
            Some((i, y)) if !same_type_near => {
                used[i] = true;
                out.push(Difference::WrongType { gold: *g, yours: *y });
            }
            _ => out.push(Difference::Missed { gold: *g }),
        }
    }
    for (i, y) in layer.iter().enumerate() {
        if !used[i] && !gold.contains(y) {
            out.push(Difference::Extra { yours: *y });
        }
    }
    let at = |d: &Difference| match d {
        Difference::Missed { gold: s } | Difference::Extra { yours: s } | Difference::WrongType { gold: s, .. } => *s,
    };
    out.sort_by_key(|d| (at(d), *d));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{EntityTypeId, UserId};

    fn t(n: u128) -> EntityTypeId {
        EntityTypeId(uuid::Uuid::from_u128(n))
    }

    fn s(start: u32, end: u32, ty: u128) -> Span {
        Span { start, end, entity_type: t(ty) }
    }

    fn who(n: u128) -> Layer {
        Layer::Annotator(UserId(uuid::Uuid::from_u128(n)))
    }

    fn layers(list: Vec<(Layer, Vec<Span>)>) -> BTreeMap<Layer, Vec<Span>> {
        list.into_iter().collect()
    }

    #[test]
    fn spans_enough_annotators_agree_on_are_merged_the_rest_conflict() {
        let model = Layer::Model(uuid::Uuid::from_u128(9));
        let l = layers(vec![
            (who(1), vec![s(0, 4, 1), s(10, 14, 1), s(20, 24, 1)]),
            (who(2), vec![s(0, 4, 1), s(10, 14, 2), s(30, 34, 1)]),
            (who(3), vec![s(0, 4, 2), s(10, 15, 1)]),
            (model, vec![s(10, 14, 3), s(40, 44, 1)]),
        ]);
        let c = curate(&l, &[], &[], MinVotes::new(2).unwrap());
        // 0..4: two PER votes against one LOC: merged.
        assert_eq!(c.merged, vec![s(0, 4, 1)]);
        // 10..15: three different candidates, one vote each: a conflict with the model's too.
        let starts: Vec<(u32, u32)> = c.conflicts.iter().map(|x| (x.start, x.end)).collect();
        assert_eq!(starts, vec![(10, 15), (20, 24), (30, 34)]);
        assert_eq!(c.conflicts[0].candidates.len(), 4);
        assert!(c.conflicts[0].candidates.iter().any(|x| x.layer == model));
        // A span only the model proposed is no conflict.
        assert!(!c.conflicts.iter().any(|x| x.start == 40));
        // One vote suffices when asked: the ties at 10..15 still conflict.
        let c = curate(&l, &[], &[], MinVotes::new(1).unwrap());
        assert_eq!(c.merged, vec![s(0, 4, 1), s(20, 24, 1), s(30, 34, 1)]);
        assert_eq!(c.conflicts.len(), 1);
    }

    #[test]
    fn running_again_keeps_the_curators_decisions() {
        let l = layers(vec![(who(1), vec![s(0, 4, 1), s(10, 14, 1)]), (who(2), vec![s(0, 4, 2), s(10, 14, 1)])]);
        let first = curate(&l, &[], &[], MinVotes::new(2).unwrap());
        assert_eq!(first.merged, vec![s(10, 14, 1)]);
        assert_eq!(first.conflicts.len(), 1);
        // The curator left 0..4 empty: nothing there any more, and the merged span is kept.
        let again = curate(&l, &first.merged, &[(0, 4)], MinVotes::new(2).unwrap());
        assert_eq!(again, Curation::default());
        // The curator chose LOC at 0..4 (now in the curated layer): kept as well.
        let again = curate(&l, &[s(0, 4, 2), s(10, 14, 1)], &[], MinVotes::new(2).unwrap());
        assert_eq!(again, Curation::default());
    }

    #[test]
    fn min_votes_is_bounded() {
        assert!(MinVotes::new(0).is_err());
        assert!(MinVotes::new(101).is_err());
        assert_eq!(MinVotes::new(3).unwrap().get(), 3);
    }

    #[test]
    fn an_annotator_sees_what_they_missed_added_or_typed_wrong() {
        let gold = [s(0, 4, 1), s(10, 14, 1), s(20, 24, 2), s(30, 34, 1)];
        let mine = [s(0, 4, 1), s(10, 14, 2), s(20, 26, 2), s(40, 44, 1)];
        assert_eq!(
            differences(&mine, &gold),
            vec![
                Difference::WrongType { gold: s(10, 14, 1), yours: s(10, 14, 2) },
                Difference::Missed { gold: s(20, 24, 2) },
                Difference::Extra { yours: s(20, 26, 2) },
                Difference::Missed { gold: s(30, 34, 1) },
                Difference::Extra { yours: s(40, 44, 1) },
            ]
        );
        assert!(differences(&gold, &gold).is_empty());
    }
}
