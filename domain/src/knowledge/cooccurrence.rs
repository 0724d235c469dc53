//! Which entries the texts name together: two entries co-occur in a unit (a line, a stanza or
//! a document) when mentions of both are linked in it; a pair's count is the number of units
//! where both appear, however often each is mentioned there.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ids::{DocumentId, KnowledgeItemId};

/// The unit two entries must appear together in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    Line,
    Stanza,
    Document,
}

/// A linked mention, where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub item: KnowledgeItemId,
    pub document: DocumentId,
    pub line: u32,
    pub stanza: u32,
}

/// Two entries and the number of units both appear in (`a < b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub a: KnowledgeItemId,
    pub b: KnowledgeItemId,
    pub count: u32,
    /// Documents the units are in.
    pub documents: u32,
}

/// Every co-occurring pair, most frequent first (then by ids).
pub fn cooccurrence(mentions: &[Placement], unit: Unit) -> Vec<Pair> {
    let mut units: HashMap<(DocumentId, u32), BTreeSet<KnowledgeItemId>> = HashMap::new();
    for m in mentions {
        let n = match unit {
            Unit::Line => m.line,
            Unit::Stanza => m.stanza,
            Unit::Document => 0,
        };
        units.entry((m.document, n)).or_default().insert(m.item);
    }
    let mut pairs: BTreeMap<(KnowledgeItemId, KnowledgeItemId), (u32, BTreeSet<DocumentId>)> = BTreeMap::new();
    for ((doc, _), items) in &units {
        let items: Vec<&KnowledgeItemId> = items.iter().collect();
        for (i, a) in items.iter().enumerate() {
            for b in &items[i + 1..] {
                let e = pairs.entry((**a, **b)).or_default();
                e.0 += 1;
                e.1.insert(*doc);
            }
        }
    }
    let mut out: Vec<Pair> =
        pairs.into_iter().map(|((a, b), (count, docs))| Pair { a, b, count, documents: docs.len() as u32 }).collect();
    out.sort_by(|x, y| y.count.cmp(&x.count).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b)));
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(item: KnowledgeItemId, document: DocumentId, line: u32, stanza: u32) -> Placement {
        Placement { item, document, line, stanza }
    }

    #[test]
    fn counts_units_not_mentions() {
        let (h, a, k) = (KnowledgeItemId::new(), KnowledgeItemId::new(), KnowledgeItemId::new());
        let (d1, d2) = (DocumentId::new(), DocumentId::new());
        let mentions = [
            at(h, d1, 1, 1),
            at(h, d1, 1, 1), // twice in one line: still one line
            at(a, d1, 1, 1),
            at(k, d1, 2, 1),
            at(h, d1, 7, 2),
            at(a, d2, 1, 1),
            at(h, d2, 3, 1),
        ];
        let pair = |pairs: &[Pair], x: KnowledgeItemId, y: KnowledgeItemId| {
            pairs.iter().find(|p| (p.a, p.b) == (x.min(y), x.max(y))).map(|p| (p.count, p.documents))
        };
        let lines = cooccurrence(&mentions, Unit::Line);
        assert_eq!(pair(&lines, h, a), Some((1, 1)));
        assert_eq!(pair(&lines, h, k), None);
        let stanzas = cooccurrence(&mentions, Unit::Stanza);
        assert_eq!(pair(&stanzas, h, a), Some((2, 2)));
        assert_eq!(pair(&stanzas, a, k), Some((1, 1)));
        let docs = cooccurrence(&mentions, Unit::Document);
        assert_eq!(pair(&docs, h, a), Some((2, 2)));
        assert_eq!(docs[0].count, 2, "most frequent first");
    }

    proptest! {
        #[test]
        fn matches_a_brute_force_count(raw in prop::collection::vec((0usize..5, 0usize..3, 1u32..4), 0..40)) {
            let items: Vec<KnowledgeItemId> = (0..5).map(|_| KnowledgeItemId::new()).collect();
            let docs: Vec<DocumentId> = (0..3).map(|_| DocumentId::new()).collect();
            let mentions: Vec<Placement> =
                raw.iter().map(|&(i, d, l)| at(items[i], docs[d], l, l.div_ceil(2))).collect();
            for unit in [Unit::Line, Unit::Stanza, Unit::Document] {
                let got = cooccurrence(&mentions, unit);
                for a in &items {
                    for b in &items {
                        if a >= b {
                            continue;
                        }
                        // Brute force: every unit, does it hold both?
                        let key = |m: &Placement| (m.document, match unit { Unit::Line => m.line, Unit::Stanza => m.stanza, Unit::Document => 0 });
                        let units: BTreeSet<_> = mentions.iter().map(key).collect();
                        let both = units.iter().filter(|u| {
                            mentions.iter().any(|m| key(m) == **u && m.item == *a) && mentions.iter().any(|m| key(m) == **u && m.item == *b)
                        }).count() as u32;
                        let found = got.iter().find(|p| p.a == *a && p.b == *b).map_or(0, |p| p.count);
                        prop_assert_eq!(found, both);
                    }
                }
            }
        }
    }
}
