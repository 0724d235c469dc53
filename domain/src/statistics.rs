//! Where a project or document stands (entities by type, source and verification, who
//! verified how many) and how good each model's suggestions are, measured against the
//! researchers' judgement. Pure: the store counts and lists, this module computes.
//!
//! Model quality, for a model M and an entity type T (the type M suggested):
//! - a suggestion is *verified as is* when it is still M's (source LLM) and verified; it is
//!   *corrected* when a researcher changed its type (source CORRECTION, remembering M's type);
//!   it is *rejected* when a researcher deleted it (kept in `entity_rejections`); otherwise it
//!   is *pending*. Precision = verified as is / (verified as is + corrected + rejected).
//! - The researchers' entities (the gold standard) are those they stand behind: verified
//!   entities, entities they marked themselves (MANUAL) and corrections (the type they chose),
//!   in the documents where M made suggestions. Recall = the share of gold entities of type T
//!   that M suggested as T among its reviewed suggestions, with the exact span, or with an
//!   overlapping span; F1 is the harmonic mean of precision and recall. The overlap variant
//!   uses its own precision (reviewed suggestions overlapping a gold entity of their type).
//! - Recall counts only what researchers marked: a document where nobody added the entities
//!   the model missed looks complete. Recall is absent where there is no gold entity.

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

use crate::entity::EntitySource;
use crate::ids::{DocumentId, EntityTypeId, UserId};

/// Entities of one (type, source, verified, verifier) group: what the store counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityTally {
    pub entity_type_id: EntityTypeId,
    pub source: EntitySource,
    pub verified: bool,
    pub verified_by: Option<UserId>,
    pub count: u64,
}

/// Entities of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeCount {
    pub entity_type_id: EntityTypeId,
    pub total: u64,
    pub verified: u64,
}

impl TypeCount {
    pub fn unverified(&self) -> u64 {
        self.total - self.verified
    }
}

/// The entity side of a project's or document's statistics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityStatistics {
    pub total: u64,
    pub verified: u64,
    /// Most entities first, then by type id.
    pub by_type: Vec<TypeCount>,
    /// Every source, in `EntitySource::ALL` order, zero counts included.
    pub by_source: Vec<(EntitySource, u64)>,
    /// Entities currently verified by each user, most first, then by user id.
    pub verifications_by_user: Vec<(UserId, u64)>,
}

impl EntityStatistics {
    pub fn from_tallies(tallies: &[EntityTally]) -> Self {
        let mut types: BTreeMap<EntityTypeId, (u64, u64)> = BTreeMap::new();
        let mut sources: HashMap<EntitySource, u64> = HashMap::new();
        let mut users: BTreeMap<UserId, u64> = BTreeMap::new();
        let (mut total, mut verified) = (0, 0);
        for t in tallies {
            total += t.count;
            let entry = types.entry(t.entity_type_id).or_default();
            entry.0 += t.count;
            *sources.entry(t.source).or_default() += t.count;
            if t.verified {
                verified += t.count;
                entry.1 += t.count;
                if let Some(u) = t.verified_by {
                    *users.entry(u).or_default() += t.count;
                }
            }
        }
        let mut by_type: Vec<TypeCount> = types
            .into_iter()
            .map(|(entity_type_id, (total, verified))| TypeCount { entity_type_id, total, verified })
            .collect();
        by_type.sort_by_key(|t| std::cmp::Reverse(t.total));
        let mut verifications_by_user: Vec<(UserId, u64)> = users.into_iter().collect();
        verifications_by_user.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        Self {
            total,
            verified,
            by_type,
            by_source: EntitySource::ALL.iter().map(|s| (*s, sources.get(s).copied().unwrap_or(0))).collect(),
            verifications_by_user,
        }
    }

    pub fn unverified(&self) -> u64 {
        self.total - self.verified
    }

    /// Verified share, 0 to 1 (0 without entities).
    pub fn verification_rate(&self) -> f64 {
        ratio(self.verified, self.total).unwrap_or(0.0)
    }
}

/// An entity as model quality sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanRecord {
    pub document_id: DocumentId,
    pub start: u32,
    pub end: u32,
    pub entity_type_id: EntityTypeId,
    pub source: EntitySource,
    pub verified: bool,
    pub llm_model_id: Option<Uuid>,
    /// The model's type of a CORRECTION (`attributes.previousEntityTypeId`).
    pub previous_type: Option<EntityTypeId>,
}

/// A rejected suggestion as model quality sees it: the type is the one the model suggested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectionRecord {
    pub document_id: DocumentId,
    pub start: u32,
    pub end: u32,
    pub entity_type_id: EntityTypeId,
    pub llm_model_id: Option<Uuid>,
}

/// Counts and measures of a model's suggestions (of one type, or of all).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QualityCounts {
    /// All suggestions, reviewed or not (rejected ones included).
    pub suggestions: u64,
    pub pending: u64,
    pub verified_as_is: u64,
    pub corrected: u64,
    pub rejected: u64,
    /// Researchers' entities (of this type) in the model's documents.
    pub gold: u64,
    /// Gold entities the model suggested with this type and the exact span.
    pub found_exact: u64,
    /// Gold entities the model suggested with this type and an overlapping span.
    pub found_overlap: u64,
    /// Reviewed suggestions overlapping a gold entity of their type.
    pub overlapping_suggestions: u64,
}

impl QualityCounts {
    pub fn reviewed(&self) -> u64 {
        self.verified_as_is + self.corrected + self.rejected
    }

    /// Verified as is / reviewed; None before any review.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.verified_as_is, self.reviewed())
    }

    /// Reviewed suggestions overlapping a gold entity of their type / reviewed.
    pub fn precision_overlap(&self) -> Option<f64> {
        ratio(self.overlapping_suggestions, self.reviewed())
    }

    pub fn recall_exact(&self) -> Option<f64> {
        ratio(self.found_exact, self.gold)
    }

    pub fn recall_overlap(&self) -> Option<f64> {
        ratio(self.found_overlap, self.gold)
    }

    pub fn f1_exact(&self) -> Option<f64> {
        f1(self.precision()?, self.recall_exact()?)
    }

    pub fn f1_overlap(&self) -> Option<f64> {
        f1(self.precision_overlap()?, self.recall_overlap()?)
    }

    fn add(&mut self, o: &Self) {
        self.suggestions += o.suggestions;
        self.pending += o.pending;
        self.verified_as_is += o.verified_as_is;
        self.corrected += o.corrected;
        self.rejected += o.rejected;
        self.gold += o.gold;
        self.found_exact += o.found_exact;
        self.found_overlap += o.found_overlap;
        self.overlapping_suggestions += o.overlapping_suggestions;
    }
}

/// One model's quality: over all types (sums of the types' counts), and per type.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelQuality {
    pub model_id: Uuid,
    pub overall: QualityCounts,
    /// By type id; a type appears when the model suggested it or gold entities have it.
    pub by_type: Vec<(EntityTypeId, QualityCounts)>,
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn f1(p: f64, r: f64) -> Option<f64> {
    Some(if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) })
}

/// A reviewed or pending suggestion: its span and the type the model gave it.
#[derive(Clone, Copy)]
struct Suggestion {
    document: DocumentId,
    start: u32,
    end: u32,
    suggested: EntityTypeId,
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    VerifiedAsIs,
    Corrected,
    Rejected,
}

/// The quality of every model with suggestions among `spans` and `rejections`, by model id.
pub fn model_quality(spans: &[SpanRecord], rejections: &[RejectionRecord]) -> Vec<ModelQuality> {
    let mut suggestions: BTreeMap<Uuid, Vec<Suggestion>> = BTreeMap::new();
    for s in spans {
        let Some(model) = s.llm_model_id else { continue };
        let (suggested, state) = match s.source {
            EntitySource::Llm => (s.entity_type_id, if s.verified { State::VerifiedAsIs } else { State::Pending }),
            // A type changed and changed back is the model's type after all.
            EntitySource::Correction if s.previous_type == Some(s.entity_type_id) => {
                (s.entity_type_id, if s.verified { State::VerifiedAsIs } else { State::Pending })
            }
            EntitySource::Correction => match s.previous_type {
                Some(t) => (t, State::Corrected),
                None => continue, // the model's type is unknown
            },
            EntitySource::Manual | EntitySource::Import => continue,
        };
        suggestions.entry(model).or_default().push(Suggestion {
            document: s.document_id,
            start: s.start,
            end: s.end,
            suggested,
            state,
        });
    }
    for r in rejections {
        let Some(model) = r.llm_model_id else { continue };
        suggestions.entry(model).or_default().push(Suggestion {
            document: r.document_id,
            start: r.start,
            end: r.end,
            suggested: r.entity_type_id,
            state: State::Rejected,
        });
    }
    let gold: Vec<&SpanRecord> = spans
        .iter()
        .filter(|s| s.verified || matches!(s.source, EntitySource::Manual | EntitySource::Correction))
        .collect();
    suggestions.into_iter().map(|(model_id, list)| quality_of(model_id, &list, &gold)).collect()
}

fn quality_of(model_id: Uuid, suggestions: &[Suggestion], gold: &[&SpanRecord]) -> ModelQuality {
    let documents: HashSet<DocumentId> = suggestions.iter().map(|s| s.document).collect();
    let mut by_type: BTreeMap<EntityTypeId, QualityCounts> = BTreeMap::new();
    // Reviewed suggestions and gold entities, per (document, type), as spans.
    let mut reviewed: HashMap<(DocumentId, EntityTypeId), Vec<(u32, u32)>> = HashMap::new();
    for s in suggestions {
        let c = by_type.entry(s.suggested).or_default();
        c.suggestions += 1;
        match s.state {
            State::Pending => c.pending += 1,
            State::VerifiedAsIs => c.verified_as_is += 1,
            State::Corrected => c.corrected += 1,
            State::Rejected => c.rejected += 1,
        }
        if s.state != State::Pending {
            reviewed.entry((s.document, s.suggested)).or_default().push((s.start, s.end));
        }
    }
    let mut golden: HashMap<(DocumentId, EntityTypeId), Vec<(u32, u32)>> = HashMap::new();
    for g in gold.iter().filter(|g| documents.contains(&g.document_id)) {
        by_type.entry(g.entity_type_id).or_default().gold += 1;
        golden.entry((g.document_id, g.entity_type_id)).or_default().push((g.start, g.end));
    }
    for (key, gold_spans) in &golden {
        let predicted = reviewed.get(key).map(Vec::as_slice).unwrap_or_default();
        let exact: HashSet<(u32, u32)> = predicted.iter().copied().collect();
        let overlaps = Overlaps::new(predicted);
        let c = by_type.entry(key.1).or_default();
        c.found_exact += gold_spans.iter().filter(|s| exact.contains(s)).count() as u64;
        c.found_overlap += gold_spans.iter().filter(|s| overlaps.any(**s)).count() as u64;
    }
    for (key, predicted) in &reviewed {
        let gold_spans = golden.get(key).map(Vec::as_slice).unwrap_or_default();
        let overlaps = Overlaps::new(gold_spans);
        by_type.entry(key.1).or_default().overlapping_suggestions +=
            predicted.iter().filter(|s| overlaps.any(**s)).count() as u64;
    }
    let mut overall = QualityCounts::default();
    for c in by_type.values() {
        overall.add(c);
    }
    ModelQuality { model_id, overall, by_type: by_type.into_iter().collect() }
}

/// Spans sorted by start with the running maximum of their ends, so "does any span overlap
/// [s, e)?" is one binary search.
struct Overlaps {
    starts: Vec<u32>,
    max_end: Vec<u32>,
}

impl Overlaps {
    fn new(spans: &[(u32, u32)]) -> Self {
        let mut sorted = spans.to_vec();
        sorted.sort_unstable();
        let starts = sorted.iter().map(|s| s.0).collect();
        let mut running = 0;
        let max_end = sorted
            .iter()
            .map(|s| {
                running = running.max(s.1);
                running
            })
            .collect();
        Self { starts, max_end }
    }

    /// Whether a span starting before `e` ends after `s`.
    fn any(&self, (s, e): (u32, u32)) -> bool {
        let before = self.starts.partition_point(|&start| start < e);
        before > 0 && self.max_end[before - 1] > s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: u128) -> EntityTypeId {
        EntityTypeId(Uuid::from_u128(n))
    }

    const PERSON: u128 = 1;
    const PLACE: u128 = 2;

    fn span(doc: DocumentId, (start, end): (u32, u32), ty: u128, source: EntitySource, verified: bool) -> SpanRecord {
        SpanRecord {
            document_id: doc,
            start,
            end,
            entity_type_id: t(ty),
            source,
            verified,
            llm_model_id: None,
            previous_type: None,
        }
    }

    fn by(model: Uuid, mut s: SpanRecord) -> SpanRecord {
        s.llm_model_id = Some(model);
        s
    }

    #[test]
    fn entity_statistics_add_up_the_tallies() {
        let (a, b) = (UserId(Uuid::from_u128(10)), UserId(Uuid::from_u128(11)));
        let tally = |ty, source, verified_by: Option<UserId>, count| EntityTally {
            entity_type_id: t(ty),
            source,
            verified: verified_by.is_some(),
            verified_by,
            count,
        };
        let stats = EntityStatistics::from_tallies(&[
            tally(PERSON, EntitySource::Manual, None, 3),
            tally(PERSON, EntitySource::Llm, Some(a), 2),
            tally(PLACE, EntitySource::Llm, Some(b), 5),
            tally(PLACE, EntitySource::Import, Some(a), 4),
        ]);
        assert_eq!((stats.total, stats.verified, stats.unverified()), (14, 11, 3));
        assert_eq!(stats.verification_rate(), 11.0 / 14.0);
        assert_eq!(
            stats.by_type,
            [
                TypeCount { entity_type_id: t(PLACE), total: 9, verified: 9 },
                TypeCount { entity_type_id: t(PERSON), total: 5, verified: 2 },
            ]
        );
        assert_eq!(
            stats.by_source,
            [
                (EntitySource::Llm, 7),
                (EntitySource::Manual, 3),
                (EntitySource::Import, 4),
                (EntitySource::Correction, 0)
            ]
        );
        assert_eq!(stats.verifications_by_user, [(a, 6), (b, 5)]);
        assert_eq!(EntityStatistics::from_tallies(&[]).verification_rate(), 0.0);
    }

    #[test]
    fn precision_recall_and_f1_per_type() {
        let m = Uuid::from_u128(100);
        let other = Uuid::from_u128(200);
        let d = DocumentId(Uuid::from_u128(1000));
        let unseen = DocumentId(Uuid::from_u128(1001));
        let mut corrected = by(m, span(d, (20, 25), PLACE, EntitySource::Correction, false));
        corrected.previous_type = Some(t(PERSON));
        let spans = [
            // Verified as is: PERSON [0, 5), PERSON [10, 15).
            by(m, span(d, (0, 5), PERSON, EntitySource::Llm, true)),
            by(m, span(d, (10, 15), PERSON, EntitySource::Llm, true)),
            // Pending: PERSON [40, 45) (not judged; not gold).
            by(m, span(d, (40, 45), PERSON, EntitySource::Llm, false)),
            // Corrected from PERSON to PLACE: [20, 25).
            corrected,
            // Researchers' own: PERSON [30, 38) overlapping the rejected [30, 33); PERSON
            // [50, 55) missed; PLACE [60, 64) missed.
            span(d, (30, 38), PERSON, EntitySource::Manual, false),
            span(d, (50, 55), PERSON, EntitySource::Manual, false),
            span(d, (60, 64), PLACE, EntitySource::Manual, false),
            // Another document, where the model suggested nothing: not its gold.
            span(unseen, (0, 5), PERSON, EntitySource::Manual, false),
            // Another model's suggestion, unverified: not gold.
            by(other, span(d, (70, 75), PLACE, EntitySource::Llm, false)),
        ];
        let rejections =
            [RejectionRecord { document_id: d, start: 30, end: 33, entity_type_id: t(PERSON), llm_model_id: Some(m) }];
        let all = model_quality(&spans, &rejections);
        assert_eq!(all.iter().map(|q| q.model_id).collect::<Vec<_>>(), [m, other]);
        let q = &all[0];
        let person = q.by_type.iter().find(|(ty, _)| *ty == t(PERSON)).unwrap().1;
        assert_eq!(
            person,
            QualityCounts {
                suggestions: 5,
                pending: 1,
                verified_as_is: 2,
                corrected: 1,
                rejected: 1,
                // [0,5) [10,15) verified, [30,38) and [50,55) manual.
                gold: 4,
                found_exact: 2,
                // [30,38) overlaps the rejected [30,33).
                found_overlap: 3,
                // [0,5) [10,15) [30,33) overlap gold PERSONs; the corrected [20,25) does not.
                overlapping_suggestions: 3,
            }
        );
        assert_eq!(person.precision(), Some(0.5));
        assert_eq!(person.recall_exact(), Some(0.5));
        assert_eq!(person.f1_exact(), Some(0.5));
        assert_eq!(person.precision_overlap(), Some(0.75));
        assert_eq!(person.recall_overlap(), Some(0.75));
        let place = q.by_type.iter().find(|(ty, _)| *ty == t(PLACE)).unwrap().1;
        // The correction [20,25) and the manual [60,64) are gold PLACEs the model never
        // suggested as PLACE.
        assert_eq!((place.suggestions, place.gold, place.found_exact), (0, 2, 0));
        assert_eq!((place.precision(), place.recall_exact(), place.f1_exact()), (None, Some(0.0), None));
        assert_eq!(q.overall.suggestions, 5);
        assert_eq!((q.overall.gold, q.overall.found_exact), (6, 2));
        let theirs = &all[1];
        assert_eq!((theirs.overall.suggestions, theirs.overall.pending, theirs.overall.precision()), (1, 1, None));
    }

    #[test]
    fn overlap_lookup() {
        let o = Overlaps::new(&[(10, 20), (0, 3), (30, 31)]);
        assert!(o.any((2, 5)));
        assert!(o.any((19, 40)));
        assert!(!o.any((3, 10)));
        assert!(!o.any((20, 30)));
        assert!(o.any((15, 16)));
        assert!(!Overlaps::new(&[]).any((0, 100)));
    }
}
