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

use std::collections::{BTreeMap, BTreeSet};

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

/// Intervals, any of which may overlap, asked whether one overlaps a span: sorted by start,
/// with the running maximum of their ends (O(log n) a question).
struct Settled {
    starts: Vec<u32>,
    max_end: Vec<u32>,
}

impl Settled {
    fn new(mut intervals: Vec<(u32, u32)>) -> Self {
        intervals.sort_unstable();
        let mut max_end = Vec::with_capacity(intervals.len());
        let mut m = 0;
        for i in &intervals {
            m = m.max(i.1);
            max_end.push(m);
        }
        Self { starts: intervals.iter().map(|i| i.0).collect(), max_end }
    }

    /// Whether an interval starting before `end` ends after `start` (for a non-empty span).
    fn overlaps(&self, start: u32, end: u32) -> bool {
        let before = self.starts.partition_point(|s| *s < end);
        before > 0 && self.max_end[before - 1] > start
    }
}

/// Counts over compressed coordinates (a Fenwick tree).
struct Counts(Vec<usize>);

impl Counts {
    fn add(&mut self, mut i: usize) {
        i += 1;
        while i < self.0.len() {
            self.0[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// How many were added below `i`.
    fn below(&self, mut i: usize) -> usize {
        let mut n = 0;
        while i > 0 {
            n += self.0[i];
            i -= i & i.wrapping_neg();
        }
        n
    }
}

/// Disjoint intervals keyed by (start, end): whether one overlaps a non-empty span is a look at
/// the last one starting before the span ends.
fn hits_disjoint(merged: &BTreeSet<(u32, u32)>, start: u32, end: u32) -> bool {
    merged.range(..(end, 0)).next_back().is_some_and(|(_, e)| *e > start)
}

/// Curates one document: `layers` are the compared layers (annotators' and the model's),
/// `curated` the curated layer as it stands, `decided` the positions the curator decided.
/// O(n log n) in the number of spans (sorting and sweeping; [`curate_direct`] is the
/// definition, used for empty spans).
pub fn curate(
    layers: &BTreeMap<Layer, Vec<Span>>,
    curated: &[Span],
    decided: &[(u32, u32)],
    min_votes: MinVotes,
) -> Curation {
    let empty = layers.values().flatten().any(|s| s.start >= s.end)
        || curated.iter().any(|s| s.start >= s.end)
        || decided.iter().any(|d| d.0 >= d.1);
    if empty {
        return curate_direct(layers, curated, decided, min_votes);
    }
    let fixed = Settled::new(curated.iter().map(|c| (c.start, c.end)).chain(decided.iter().copied()).collect());
    let settled = |s: &Span| fixed.overlaps(s.start, s.end);
    let votes = votes_of(layers, settled);
    let ranked = by_votes(&votes);
    // Whether each candidate has more votes than every other overlapping it: level by level
    // (most votes first), every candidate with at least this many votes is counted, and a
    // candidate wins when it alone of them overlaps itself. The intervals overlapping (s, e)
    // are those starting before e less those ending at or before s.
    let mut points: Vec<u32> = ranked.iter().flat_map(|(s, _)| [s.start, s.end]).collect();
    points.sort_unstable();
    points.dedup();
    let at = |x: u32| points.partition_point(|p| *p < x);
    let mut starts = Counts(vec![0; points.len() + 1]);
    let mut ends = Counts(vec![0; points.len() + 1]);
    let mut wins = vec![false; ranked.len()];
    let mut i = 0;
    while i < ranked.len() {
        let level = ranked[i].1;
        let j = i + ranked[i..].iter().take_while(|r| r.1 == level).count();
        for (s, _) in &ranked[i..j] {
            starts.add(at(s.start));
            ends.add(at(s.end));
        }
        for ((s, _), win) in ranked[i..j].iter().zip(&mut wins[i..j]) {
            let overlapping = starts.below(at(s.end)) - ends.below(at(s.start) + 1);
            *win = overlapping == 1;
        }
        i = j;
    }
    let mut merged_at: BTreeSet<(u32, u32)> = BTreeSet::new();
    let mut merged: Vec<Span> = Vec::new();
    for (k, &(span, n)) in ranked.iter().enumerate() {
        if n < min_votes.get() || hits_disjoint(&merged_at, span.start, span.end) || !wins[k] {
            continue;
        }
        merged_at.insert((span.start, span.end));
        merged.push(span);
    }
    let open: Vec<Span> = votes.keys().filter(|s| !hits_disjoint(&merged_at, s.start, s.end)).copied().collect();
    let mut groups: Vec<(u32, u32)> = Vec::new();
    for s in &open {
        match groups.last_mut() {
            Some(g) if s.start < g.1 => g.1 = g.1.max(s.end),
            _ => groups.push((s.start, s.end)),
        }
    }
    // Groups are disjoint and ascending: a span overlaps a run of them.
    let mut found: Vec<Vec<Candidate>> = vec![Vec::new(); groups.len()];
    for (layer, spans) in layers {
        for s in spans {
            if settled(s) {
                continue;
            }
            let first = groups.partition_point(|g| g.1 <= s.start);
            for (g, list) in groups[first..].iter().zip(&mut found[first..]) {
                if g.0 >= s.end {
                    break;
                }
                list.push(Candidate { layer: *layer, span: *s });
            }
        }
    }
    let conflicts = groups
        .into_iter()
        .zip(found)
        .map(|((start, end), mut candidates)| {
            candidates.sort_by(|a, b| a.span.cmp(&b.span).then(a.layer.cmp(&b.layer)));
            Conflict { start, end, candidates }
        })
        .collect();
    merged.sort_unstable();
    Curation { merged, conflicts }
}

/// Votes per distinct annotator candidate not `settled`: one per annotator layer holding it
/// (models' layers do not vote).
fn votes_of(layers: &BTreeMap<Layer, Vec<Span>>, settled: impl Fn(&Span) -> bool) -> BTreeMap<Span, usize> {
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
    votes
}

/// The candidates by votes, most first, then in span order.
fn by_votes(votes: &BTreeMap<Span, usize>) -> Vec<(Span, usize)> {
    let mut ranked: Vec<(Span, usize)> = votes.iter().map(|(s, v)| (*s, *v)).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

/// [`curate`] as its rule reads, comparing every pair (O(n²)).
fn curate_direct(
    layers: &BTreeMap<Layer, Vec<Span>>,
    curated: &[Span],
    decided: &[(u32, u32)],
    min_votes: MinVotes,
) -> Curation {
    let settled = |s: &Span| {
        curated.iter().any(|c| overlaps((c.start, c.end), (s.start, s.end)))
            || decided.iter().any(|d| overlaps(*d, (s.start, s.end)))
    };
    let votes = votes_of(layers, settled);
    let ranked = by_votes(&votes);
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

    /// The sweep equals the definition on random layers (overlapping, nested, equal spans,
    /// several types, a model layer, curated spans and decided positions).
    #[test]
    fn the_sweep_equals_the_direct_rule_on_random_layers() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |n: u64| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        };
        for round in 0..400 {
            let width = 20 + next(200) as u32;
            let span = |next: &mut dyn FnMut(u64) -> u64| {
                let start = next(u64::from(width)) as u32;
                let end = start + 1 + next(8) as u32;
                s(start, end, 1 + u128::from(next(3)))
            };
            let mut list = Vec::new();
            let annotators = 1 + next(4);
            let base: Vec<Span> = (0..next(30)).map(|_| span(&mut next)).collect();
            for a in 0..annotators {
                let mut own: Vec<Span> = base.iter().copied().filter(|_| next(4) != 0).collect();
                own.extend((0..next(8)).map(|_| span(&mut next)));
                list.push((who(u128::from(a) + 1), own));
            }
            if next(2) == 0 {
                list.push((Layer::Model(uuid::Uuid::from_u128(99)), (0..next(10)).map(|_| span(&mut next)).collect()));
            }
            let l = layers(list);
            let curated: Vec<Span> = (0..next(3)).map(|_| span(&mut next)).collect();
            let decided: Vec<(u32, u32)> = (0..next(3)).map(|_| span(&mut next)).map(|x| (x.start, x.end)).collect();
            for votes in 1..=3 {
                let v = MinVotes::new(votes).unwrap();
                assert_eq!(
                    curate(&l, &curated, &decided, v),
                    curate_direct(&l, &curated, &decided, v),
                    "round {round}"
                );
            }
        }
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
