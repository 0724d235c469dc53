//! BILOU labels over a set of entity types, and the one rule of which label may follow which.
//!
//! For `k` types there are `4k + 1` labels: `O` (index 0), then for type `t` Begin `1 + 4t`,
//! Inside `2 + 4t`, Last `3 + 4t` and Unit `4 + 4t`. A valid sequence starts with `O`, `B` or
//! `U`; after `B` or `I` of a type comes `I` or `L` of the same type; after `O`, `L` or `U` comes
//! `O`, `B` or `U`; it ends on `O`, `L` or `U`. Spans read from a valid sequence are exactly the
//! spans written into it ([`encode`] then [`decode`] is the identity on non-overlapping spans).

/// Where a label puts its word in an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Outside,
    Begin,
    Inside,
    Last,
    Unit,
}

/// A label index, `0..LabelSet::len()`.
pub type Label = usize;

/// The labels of `types` entity types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelSet {
    types: usize,
}

impl LabelSet {
    pub fn new(types: usize) -> Self {
        Self { types }
    }

    /// How many labels: `4 * types + 1`.
    pub fn len(&self) -> usize {
        4 * self.types + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn types(&self) -> usize {
        self.types
    }

    pub fn label(&self, part: Part, entity_type: usize) -> Label {
        debug_assert!(entity_type < self.types);
        match part {
            Part::Outside => 0,
            Part::Begin => 1 + 4 * entity_type,
            Part::Inside => 2 + 4 * entity_type,
            Part::Last => 3 + 4 * entity_type,
            Part::Unit => 4 + 4 * entity_type,
        }
    }

    /// The part and the type (none for `O`) of a label.
    pub fn part(&self, label: Label) -> (Part, Option<usize>) {
        if label == 0 {
            return (Part::Outside, None);
        }
        let t = (label - 1) / 4;
        let part = match (label - 1) % 4 {
            0 => Part::Begin,
            1 => Part::Inside,
            2 => Part::Last,
            _ => Part::Unit,
        };
        (part, Some(t))
    }

    /// Whether `next` may follow `prev`.
    pub fn allowed(&self, prev: Label, next: Label) -> bool {
        let (pp, pt) = self.part(prev);
        let (np, nt) = self.part(next);
        match pp {
            Part::Begin | Part::Inside => matches!(np, Part::Inside | Part::Last) && pt == nt,
            Part::Outside | Part::Last | Part::Unit => matches!(np, Part::Outside | Part::Begin | Part::Unit),
        }
    }

    /// Whether a sequence may start with `label`.
    pub fn may_start(&self, label: Label) -> bool {
        matches!(self.part(label).0, Part::Outside | Part::Begin | Part::Unit)
    }

    /// Whether a sequence may end with `label`.
    pub fn may_end(&self, label: Label) -> bool {
        matches!(self.part(label).0, Part::Outside | Part::Last | Part::Unit)
    }
}

/// A span over words: words `first..=last`, of type `entity_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WordSpan {
    pub first: usize,
    pub last: usize,
    pub entity_type: usize,
}

/// The labels of `words` words holding `spans` (sorted or not; a span overlapping one already
/// written is left out and counted in the second value).
pub fn encode(set: LabelSet, words: usize, spans: &[WordSpan]) -> (Vec<Label>, usize) {
    let mut labels = vec![0; words];
    let mut taken = vec![false; words];
    let mut sorted: Vec<&WordSpan> = spans.iter().collect();
    // Longer spans first, then leftmost: a nested or crossing span gives way.
    sorted.sort_by_key(|s| (std::cmp::Reverse(s.last - s.first), s.first));
    let mut dropped = 0;
    for s in sorted {
        if s.last >= words || s.first > s.last || (s.first..=s.last).any(|i| taken[i]) {
            dropped += 1;
            continue;
        }
        for i in s.first..=s.last {
            taken[i] = true;
            labels[i] = if s.first == s.last {
                set.label(Part::Unit, s.entity_type)
            } else if i == s.first {
                set.label(Part::Begin, s.entity_type)
            } else if i == s.last {
                set.label(Part::Last, s.entity_type)
            } else {
                set.label(Part::Inside, s.entity_type)
            };
        }
    }
    (labels, dropped)
}

/// The spans of a valid label sequence (an invalid one is read leniently: a span is closed
/// where its type or a valid continuation ends).
pub fn decode(set: LabelSet, labels: &[Label]) -> Vec<WordSpan> {
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None; // (first word, type)
    for (i, &label) in labels.iter().enumerate() {
        let (part, t) = set.part(label);
        match (part, t, open) {
            (Part::Inside, Some(t), Some((_, ot))) if t == ot => {}
            (Part::Last, Some(t), Some((first, ot))) if t == ot => {
                out.push(WordSpan { first, last: i, entity_type: t });
                open = None;
            }
            _ => {
                if let Some((first, ot)) = open.take() {
                    out.push(WordSpan { first, last: i - 1, entity_type: ot });
                }
                match (part, t) {
                    (Part::Unit, Some(t)) | (Part::Last, Some(t)) => {
                        out.push(WordSpan { first: i, last: i, entity_type: t })
                    }
                    (Part::Begin, Some(t)) | (Part::Inside, Some(t)) => open = Some((i, t)),
                    _ => {}
                }
            }
        }
    }
    if let Some((first, t)) = open {
        out.push(WordSpan { first, last: labels.len() - 1, entity_type: t });
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn labels_round_trip_their_parts() {
        let set = LabelSet::new(3);
        assert_eq!(set.len(), 13);
        for l in 0..set.len() {
            let (part, t) = set.part(l);
            match t {
                None => assert_eq!(l, 0),
                Some(t) => assert_eq!(set.label(part, t), l),
            }
        }
    }

    #[test]
    fn transitions_follow_bilou() {
        let set = LabelSet::new(2);
        let (b0, i0, l0, u0) =
            (set.label(Part::Begin, 0), set.label(Part::Inside, 0), set.label(Part::Last, 0), set.label(Part::Unit, 0));
        let (b1, l1) = (set.label(Part::Begin, 1), set.label(Part::Last, 1));
        assert!(set.allowed(b0, i0) && set.allowed(b0, l0) && set.allowed(i0, l0) && set.allowed(l0, b1));
        assert!(!set.allowed(b0, l1), "a span keeps its type");
        assert!(!set.allowed(b0, 0) && !set.allowed(0, i0) && !set.allowed(u0, l0));
        assert!(set.may_start(u0) && !set.may_start(i0) && set.may_end(l1) && !set.may_end(b1));
    }

    #[test]
    fn overlapping_gold_gives_way_to_the_longer_span() {
        let set = LabelSet::new(2);
        let spans = [WordSpan { first: 1, last: 1, entity_type: 1 }, WordSpan { first: 0, last: 2, entity_type: 0 }];
        let (labels, dropped) = encode(set, 4, &spans);
        assert_eq!(dropped, 1);
        assert_eq!(decode(set, &labels), [WordSpan { first: 0, last: 2, entity_type: 0 }]);
    }

    fn spans_strategy() -> impl Strategy<Value = (usize, Vec<WordSpan>)> {
        (1usize..20).prop_flat_map(|n| (Just(n), prop::collection::vec((0..n, 0usize..4, 0usize..3), 0..6))).prop_map(
            |(n, raw)| {
                // Non-overlapping spans, left to right.
                let mut spans = Vec::new();
                let mut next_free = 0;
                let mut sorted = raw;
                sorted.sort();
                for (first, len, t) in sorted {
                    if first < next_free {
                        continue;
                    }
                    let last = (first + len).min(n - 1);
                    spans.push(WordSpan { first, last, entity_type: t });
                    next_free = last + 1;
                }
                (n, spans)
            },
        )
    }

    proptest! {
        #[test]
        fn decode_inverts_encode((n, spans) in spans_strategy()) {
            let set = LabelSet::new(3);
            let (labels, dropped) = encode(set, n, &spans);
            prop_assert_eq!(dropped, 0);
            prop_assert!(set.may_start(labels[0]) && set.may_end(labels[n - 1]));
            for w in labels.windows(2) {
                prop_assert!(set.allowed(w[0], w[1]));
            }
            prop_assert_eq!(decode(set, &labels), spans);
        }
    }
}
