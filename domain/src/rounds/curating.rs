//! A document's curation as it is kept, and the steps a curator takes over it (pure; the
//! store runs each step under the document's curation lock, in one transaction).
//!
//! A curation starts with its first `curateDocument` (before it: NOT_STARTED) and is FINISHED
//! while no conflict is left. A run compares the layers of the document's annotators whose
//! assignment is FINISHED (every one not IGNORED with `include_unfinished`) and its models'
//! layers (shown, never voting), merges what [`curate`] merges into the curated layer, and
//! leaves the rest as conflicts. The curator resolves a conflict by accepting one of its
//! candidates (a copy goes into the gold) or by leaving its position empty; either is a
//! decision on the conflict's whole extent, kept against the version of the content it was
//! taken on, so running curation again keeps it. What the curated layer holds is never
//! changed by a run. Conflicts are computed from the layers as they stand, so the conflicts a
//! curator is shown are the ones a step checks against: a conflict resolved meanwhile (or whose
//! layers changed) is refused with CONFLICT.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::entity::Entity;
use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, EntityId, ProjectId, UserId};
use crate::rounds::agreement::Span;
use crate::rounds::assignment::{Assignment, AssignmentState};
use crate::rounds::curation::{Conflict, Curation, CurationState, MinVotes, curate};
use crate::rounds::layer::Layer;

/// What a curation run compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strategy {
    pub min_votes: MinVotes,
    /// Layers of assignments not FINISHED (and not IGNORED) count too.
    pub include_unfinished: bool,
}

/// A document's curation, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CurationRecord {
    pub document_id: DocumentId,
    pub project_id: ProjectId,
    pub state: CurationState,
    /// The strategy of the last run (what conflicts are computed with).
    pub strategy: Strategy,
    /// Entities merged by votes, over every run.
    pub merged: u32,
    /// Conflicts left after the last step.
    pub open_conflicts: u32,
    /// Conflicts the curator decided (on the current version of the content).
    pub resolved_conflicts: u32,
    /// Who took the last step.
    pub curated_by: Option<UserId>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How a curator decided a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionKind {
    /// A candidate was copied into the curated layer.
    Accepted,
    /// The position stays empty.
    LeftEmpty,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "ACCEPTED",
            Self::LeftEmpty => "EMPTY",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        [Self::Accepted, Self::LeftEmpty]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown curation decision {s:?} in storage")))
    }
}

/// One position a curator decided, on one version of the document's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub id: uuid::Uuid,
    pub document_id: DocumentId,
    pub version: u32,
    pub start: u32,
    pub end: u32,
    pub kind: DecisionKind,
    /// The curated entity an acceptance made.
    pub entity: Option<EntityId>,
    /// The candidate accepted.
    pub candidate: Option<EntityId>,
    pub by: Option<UserId>,
    pub at: DateTime<Utc>,
}

/// What a step reads of one document, under its curation lock.
#[derive(Debug, Clone)]
pub struct CurationInputs {
    pub document_id: DocumentId,
    pub project_id: ProjectId,
    /// The version of the content the entities are placed in.
    pub version: u32,
    pub assignments: Vec<Assignment>,
    /// Every entity of the document, of every layer.
    pub entities: Vec<Entity>,
    pub record: Option<CurationRecord>,
    /// The decisions taken on `version`.
    pub decisions: Vec<Decision>,
}

/// What a step writes, in its one transaction.
#[derive(Debug, Clone)]
pub struct CurationWrite {
    /// Entities for the curated layer (placed in `version` of the content).
    pub insert: Vec<Entity>,
    pub decide: Vec<Decision>,
    pub record: CurationRecord,
    /// Whether this step finished the curation (it raises `curation.finished`).
    pub finished: bool,
}

/// A conflict with the entities that are its candidates.
#[derive(Debug, Clone)]
pub struct OpenConflict {
    pub start: u32,
    pub end: u32,
    pub candidates: Vec<Entity>,
}

fn span_of(e: &Entity) -> Span {
    Span { start: e.start, end: e.end, entity_type: e.entity_type_id }
}

impl CurationInputs {
    /// The layers a run with `include_unfinished` compares: the annotators' whose assignment
    /// counts, and every model's. Errors with CONFLICT when no annotator's layer counts.
    fn compared(&self, include_unfinished: bool) -> DomainResult<BTreeMap<Layer, Vec<Span>>> {
        let counts = |a: &Assignment| {
            if include_unfinished { a.state != AssignmentState::Ignored } else { a.state == AssignmentState::Finished }
        };
        let mut layers: BTreeMap<Layer, Vec<Span>> = self
            .assignments
            .iter()
            .filter(|a| counts(a))
            .map(|a| (Layer::Annotator(a.annotator), Vec::new()))
            .collect();
        if layers.is_empty() {
            return Err(DomainError::conflict(if include_unfinished {
                "no annotator's layer of this document is assigned (and not IGNORED): nothing to curate"
            } else {
                "no annotator has FINISHED this document yet: nothing to curate (or curate with includeUnfinished)"
            }));
        }
        for e in &self.entities {
            match e.layer {
                Layer::Model(_) => layers.entry(e.layer).or_default().push(span_of(e)),
                Layer::Annotator(_) => {
                    if let Some(spans) = layers.get_mut(&e.layer) {
                        spans.push(span_of(e));
                    }
                }
                Layer::Curated => {}
            }
        }
        Ok(layers)
    }

    fn curated(&self) -> Vec<Span> {
        self.entities.iter().filter(|e| e.layer == Layer::Curated).map(span_of).collect()
    }

    fn decided(&self) -> Vec<(u32, u32)> {
        self.decisions.iter().map(|d| (d.start, d.end)).collect()
    }

    fn run(&self, strategy: Strategy) -> DomainResult<Curation> {
        let layers = self.compared(strategy.include_unfinished)?;
        Ok(curate(&layers, &self.curated(), &self.decided(), strategy.min_votes))
    }

    /// The entity of `layer` at `span` (one at most: a layer holds a span and type once).
    fn entity_at(&self, layer: Layer, span: Span) -> Option<&Entity> {
        self.entities.iter().find(|e| e.layer == layer && span_of(e) == span)
    }

    fn with_entities(&self, c: &Conflict) -> OpenConflict {
        OpenConflict {
            start: c.start,
            end: c.end,
            candidates: c.candidates.iter().filter_map(|k| self.entity_at(k.layer, k.span).cloned()).collect(),
        }
    }

    /// The open conflicts, by the strategy of the last run (none before the first).
    pub fn open_conflicts(&self) -> DomainResult<Vec<OpenConflict>> {
        let Some(record) = &self.record else { return Ok(Vec::new()) };
        Ok(self.run(record.strategy)?.conflicts.iter().map(|c| self.with_entities(c)).collect())
    }

    /// A copy of `source` for the curated layer, made by `by` now.
    fn gold_copy(source: &Entity, by: UserId, now: DateTime<Utc>) -> Entity {
        Entity {
            id: EntityId::new(),
            layer: Layer::Curated,
            is_verified: false,
            verified_by: None,
            verified_at: None,
            notes: None,
            processing_job_id: None,
            created_by: Some(by),
            updated_by: Some(by),
            created_at: now,
            updated_at: now,
            ..source.clone()
        }
    }

    fn record_after(
        &self,
        by: UserId,
        now: DateTime<Utc>,
        strategy: Strategy,
        open: usize,
        resolved: usize,
    ) -> (CurationRecord, bool) {
        let was_finished = self.record.as_ref().is_some_and(|r| r.state == CurationState::Finished);
        let state = if open == 0 { CurationState::Finished } else { CurationState::InProgress };
        let record = CurationRecord {
            document_id: self.document_id,
            project_id: self.project_id,
            state,
            strategy,
            merged: self.record.as_ref().map_or(0, |r| r.merged),
            open_conflicts: open as u32,
            resolved_conflicts: resolved as u32,
            curated_by: Some(by),
            started_at: self.record.as_ref().map_or(now, |r| r.started_at),
            updated_at: now,
            finished_at: match state {
                CurationState::Finished if was_finished => self.record.as_ref().and_then(|r| r.finished_at),
                CurationState::Finished => Some(now),
                _ => None,
            },
        };
        (record, state == CurationState::Finished && !was_finished)
    }

    /// A run of curation (`curateDocument`): merges into the curated layer what enough
    /// annotators agree on; the rest is left as conflicts.
    pub fn curate(&self, strategy: Strategy, by: UserId, now: DateTime<Utc>) -> DomainResult<CurationWrite> {
        let layers = self.compared(strategy.include_unfinished)?;
        let c = curate(&layers, &self.curated(), &self.decided(), strategy.min_votes);
        let mut insert = Vec::with_capacity(c.merged.len());
        for span in &c.merged {
            // A merged span has annotators' votes: the first layer holding it gives the copy.
            let source = layers
                .iter()
                .filter(|(l, spans)| matches!(l, Layer::Annotator(_)) && spans.contains(span))
                .find_map(|(l, _)| self.entity_at(*l, *span))
                .ok_or_else(|| DomainError::internal("a merged span has no entity"))?;
            insert.push(Self::gold_copy(source, by, now));
        }
        let (mut record, finished) = self.record_after(by, now, strategy, c.conflicts.len(), self.decisions.len());
        record.merged += insert.len() as u32;
        Ok(CurationWrite { insert, decide: Vec::new(), record, finished })
    }

    /// The open conflict `pick` chooses, by the strategy of the last run: CONFLICT before the
    /// first run or when no open conflict is chosen (resolved meanwhile, or its layers changed).
    fn conflict(&self, pick: impl Fn(&Conflict) -> bool) -> DomainResult<(Strategy, usize, Conflict)> {
        let record = self.record.as_ref().ok_or_else(|| {
            DomainError::conflict("the document's curation has not started: run curateDocument first")
        })?;
        let c = self.run(record.strategy)?;
        let open = c.conflicts.len();
        let found = c.conflicts.into_iter().find(|x| pick(x)).ok_or_else(|| {
            DomainError::conflict(
                "no open conflict of the document is there: it was resolved meanwhile, or its layers changed",
            )
        })?;
        Ok((record.strategy, open, found))
    }

    fn decision(&self, c: &Conflict, kind: DecisionKind, by: UserId, now: DateTime<Utc>) -> Decision {
        Decision {
            id: uuid::Uuid::now_v7(),
            document_id: self.document_id,
            version: self.version,
            start: c.start,
            end: c.end,
            kind,
            entity: None,
            candidate: None,
            by: Some(by),
            at: now,
        }
    }

    /// `acceptCandidate`: copies the candidate `entity` into the curated layer and resolves its
    /// conflict.
    pub fn accept(&self, entity: EntityId, by: UserId, now: DateTime<Utc>) -> DomainResult<CurationWrite> {
        let candidate =
            self.entities.iter().find(|e| e.id == entity && e.layer != Layer::Curated).ok_or_else(|| {
                DomainError::conflict("the entity is no candidate of this document's curation (any more)")
            })?;
        let at = (candidate.layer, span_of(candidate));
        let (strategy, open, conflict) = self.conflict(|c| c.candidates.iter().any(|k| (k.layer, k.span) == at))?;
        let gold = Self::gold_copy(candidate, by, now);
        let mut decision = self.decision(&conflict, DecisionKind::Accepted, by, now);
        decision.entity = Some(gold.id);
        decision.candidate = Some(candidate.id);
        let (record, finished) = self.record_after(by, now, strategy, open - 1, self.decisions.len() + 1);
        Ok(CurationWrite { insert: vec![gold], decide: vec![decision], record, finished })
    }

    /// Leaves the conflict at exactly `start..end` empty: nothing goes into the curated layer
    /// there.
    pub fn leave_empty(&self, start: u32, end: u32, by: UserId, now: DateTime<Utc>) -> DomainResult<CurationWrite> {
        let (strategy, open, conflict) = self.conflict(|c| (c.start, c.end) == (start, end))?;
        let decision = self.decision(&conflict, DecisionKind::LeftEmpty, by, now);
        let (record, finished) = self.record_after(by, now, strategy, open - 1, self.decisions.len() + 1);
        Ok(CurationWrite { insert: Vec::new(), decide: vec![decision], record, finished })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::EntitySource;
    use crate::ids::EntityTypeId;
    use crate::rounds::assignment::Assignment;

    fn user(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }

    fn entity(layer: Layer, start: u32, end: u32, ty: u128) -> Entity {
        let now = Utc::now();
        Entity {
            id: EntityId::new(),
            document_id: DocumentId(uuid::Uuid::from_u128(1)),
            project_id: ProjectId(uuid::Uuid::from_u128(2)),
            layer,
            entity_type_id: EntityTypeId(uuid::Uuid::from_u128(ty)),
            text: "x".repeat((end - start) as usize),
            start,
            end,
            utf16_start: start,
            utf16_end: end,
            line_number: 1,
            stanza_number: 1,
            word_position: 1,
            context_before: String::new(),
            context_after: String::new(),
            confidence: None,
            source: EntitySource::Manual,
            is_verified: true,
            verified_by: None,
            verified_at: None,
            notes: Some("mine".into()),
            attributes: serde_json::json!({}),
            llm_model_id: None,
            processing_job_id: None,
            created_by: None,
            updated_by: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Two annotators (1 FINISHED, 2 FINISHED) and a third not finished: they agree on 0..4,
    /// differ in type on 10..14, and only 1 marks 20..24.
    fn inputs() -> CurationInputs {
        let (doc, project) = (DocumentId(uuid::Uuid::from_u128(1)), ProjectId(uuid::Uuid::from_u128(2)));
        let now = Utc::now();
        let assignments = (1..=3)
            .map(|n| {
                let a = Assignment::new(project, doc, user(n), now);
                if n < 3 { a.finish(now).unwrap() } else { a }
            })
            .collect();
        let (a, b, c) = (Layer::Annotator(user(1)), Layer::Annotator(user(2)), Layer::Annotator(user(3)));
        let entities = vec![
            entity(a, 0, 4, 1),
            entity(b, 0, 4, 1),
            entity(c, 0, 4, 2),
            entity(a, 10, 14, 1),
            entity(b, 10, 14, 2),
            entity(a, 20, 24, 1),
            entity(c, 30, 34, 1),
        ];
        CurationInputs { document_id: doc, project_id: project, version: 1, assignments, entities, record: None, decisions: vec![] }
    }

    fn strategy(votes: i64, include_unfinished: bool) -> Strategy {
        Strategy { min_votes: MinVotes::new(votes).unwrap(), include_unfinished }
    }

    /// Applies a write to the inputs, as the store does.
    fn apply(mut i: CurationInputs, w: &CurationWrite) -> CurationInputs {
        i.entities.extend(w.insert.iter().cloned());
        i.decisions.extend(w.decide.iter().cloned());
        i.record = Some(w.record.clone());
        i
    }

    #[test]
    fn a_run_merges_finished_layers_and_the_curator_resolves_the_rest() {
        let i = inputs();
        let curator = user(9);
        let w = i.curate(strategy(2, false), curator, Utc::now()).unwrap();
        // The unfinished third layer does not count: 0..4 has two votes, 10..14 and 20..24 conflict.
        assert_eq!(w.insert.iter().map(|e| (e.start, e.end)).collect::<Vec<_>>(), [(0, 4)]);
        let gold = &w.insert[0];
        assert_eq!((gold.layer, gold.is_verified, gold.notes.as_deref()), (Layer::Curated, false, None));
        assert_eq!(gold.created_by, Some(curator));
        assert_eq!((w.record.state, w.record.open_conflicts, w.record.merged, w.finished), (CurationState::InProgress, 2, 1, false));
        let i = apply(i, &w);
        let open = i.open_conflicts().unwrap();
        assert_eq!(open.iter().map(|c| (c.start, c.end, c.candidates.len())).collect::<Vec<_>>(), [(10, 14, 2), (20, 24, 1)]);
        // Accepting b's type at 10..14 resolves it; it is no candidate afterwards.
        let pick = open[0].candidates.iter().find(|e| e.layer == Layer::Annotator(user(2))).unwrap().id;
        let w = i.accept(pick, curator, Utc::now()).unwrap();
        assert_eq!((w.insert.len(), w.decide[0].kind, w.decide[0].candidate), (1, DecisionKind::Accepted, Some(pick)));
        assert_eq!((w.record.open_conflicts, w.record.resolved_conflicts, w.finished), (1, 1, false));
        let i = apply(i, &w);
        assert!(matches!(i.accept(pick, curator, Utc::now()), Err(DomainError::Conflict(_))));
        // Leaving 20..24 empty finishes the curation; a position that is no conflict is CONFLICT.
        assert!(matches!(i.leave_empty(20, 23, curator, Utc::now()), Err(DomainError::Conflict(_))));
        let w = i.leave_empty(20, 24, curator, Utc::now()).unwrap();
        assert!(w.insert.is_empty());
        assert_eq!((w.record.state, w.record.open_conflicts, w.finished), (CurationState::Finished, 0, true));
        assert!(w.record.finished_at.is_some());
        // Running again keeps every decision: nothing merged, still finished, no second finish.
        let i = apply(i, &w);
        let again = i.curate(strategy(2, false), curator, Utc::now()).unwrap();
        assert!(again.insert.is_empty());
        assert_eq!((again.record.state, again.finished, again.record.merged), (CurationState::Finished, false, 1));
    }

    #[test]
    fn unfinished_layers_count_when_asked_and_nothing_to_compare_is_refused() {
        let i = inputs();
        let w = i.curate(strategy(2, true), user(9), Utc::now()).unwrap();
        // With the third layer, 0..4 has two PERSON votes against one LOCATION: still merged;
        // 30..34 is one more conflict.
        assert_eq!(w.insert.len(), 1);
        assert_eq!(w.record.open_conflicts, 3);
        let mut none = inputs();
        none.assignments.retain(|a| a.state != AssignmentState::Finished);
        assert!(matches!(none.curate(strategy(2, false), user(9), Utc::now()), Err(DomainError::Conflict(_))));
        // Before the first run there is nothing to accept.
        let first = inputs().entities[3].id;
        assert!(matches!(inputs().accept(first, user(9), Utc::now()), Err(DomainError::Conflict(_))));
        assert!(inputs().open_conflicts().unwrap().is_empty());
    }
}
