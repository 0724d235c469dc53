//! Curation of an INDEPENDENT project's documents (issue 12), by its managers (OWNER, ADMIN):
//! `curateDocument` merges what enough annotators agree on into the curated layer,
//! `curationConflicts` lists the rest, `acceptCandidate` and `leaveConflictEmpty` resolve one.
//! Each step is one transaction with its audit row (`curation.curate`,
//! `curation.accept_candidate`, `curation.leave_empty`), run under the document's curation
//! lock; the step that leaves no conflict also writes `curation.finish`, which raises the
//! `curation.finished` webhook event. Entities a step puts into the gold are announced on the
//! document's activity once committed. The rules are in `rounds::curating`.

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::document::DocumentHead;
use crate::entity::Entity;
use crate::error::{DomainError, DomainResult};
use crate::events::{ActivityEvent, ActivityKind, DomainEvent, EventPublisher};
use crate::ids::{DocumentId, EntityId, UserId};
use crate::membership::Permission;
use crate::policy::Actor;
use crate::ports::{CurationAudits, CurationRepository, DocumentRepository, ProjectRepository};
use crate::rounds::agreement::Span;
use crate::rounds::curating::{CurationRecord, CurationWrite, OpenConflict, Strategy};
use crate::rounds::curation::{CurationState, Difference, differences};
use crate::rounds::{AnnotationMode, Layer, LayerRequest, readable_layer};
use crate::service::documents::Documents;

pub struct Curations<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
}

/// A document's curation as clients see it (NOT_STARTED before the first run).
#[derive(Debug, Clone)]
pub struct CurationView {
    pub document_id: DocumentId,
    pub record: Option<CurationRecord>,
}

impl CurationView {
    pub fn state(&self) -> CurationState {
        self.record.as_ref().map_or(CurationState::NotStarted, |r| r.state)
    }
}

/// One place where an annotator's layer differs from the finished gold (`curationFeedback`),
/// with the entities on each side: the gold's (missed, wrong type) and the layer's (extra,
/// wrong type).
#[derive(Debug, Clone)]
pub struct Feedback {
    pub difference: Difference,
    pub gold: Option<Entity>,
    pub yours: Option<Entity>,
}

/// What `curateDocument` did.
#[derive(Debug, Clone)]
pub struct CurationOutcome {
    pub merged: Vec<Entity>,
    pub record: CurationRecord,
}

impl<S, E> Curations<'_, S, E>
where
    S: DocumentRepository + ProjectRepository + CurationRepository,
    E: EventPublisher,
{
    fn documents(&self) -> Documents<'_, S, E> {
        Documents { store: self.store, events: self.events, max_bytes: usize::MAX }
    }

    /// The head of a document of an INDEPENDENT project the caller manages: NOT_FOUND when
    /// the caller may not read it, FORBIDDEN for a member who does not manage the project.
    async fn managed(&self, actor: Option<&Actor>, id: DocumentId) -> DomainResult<DocumentHead> {
        let (head, project, access) = self.documents().head_project_access(actor, id).await?;
        access.require(Permission::EditProject)?;
        if project.annotation_mode != AnnotationMode::Independent {
            return Err(DomainError::invalid(
                "documentId",
                "curation needs an INDEPENDENT project: a SHARED one has one layer, the curated one",
            ));
        }
        Ok(head)
    }

    fn audits(
        meta: &RequestMeta,
        actor: &Actor,
        head: &DocumentHead,
        action: &'static str,
        changes: serde_json::Value,
    ) -> CurationAudits {
        let entry = |action: &str| {
            AuditEntry::new(meta, Some(actor.user_id), action, "document")
                .resource(head.id, &head.title)
                .project(head.project_id)
        };
        let step = entry(action);
        let finish = entry("curation.finish");
        Box::new(move |w: &CurationWrite| {
            let counts = json!({
                "documentId": w.record.document_id,
                "state": w.record.state.as_str(),
                "openConflicts": w.record.open_conflicts,
                "resolvedConflicts": w.record.resolved_conflicts,
            });
            let mut c = changes;
            if let (Some(c), Some(counts)) = (c.as_object_mut(), counts.as_object()) {
                c.extend(counts.clone());
                c.insert("entities".into(), json!(w.insert.iter().map(|e| e.id).collect::<Vec<_>>()));
            }
            let mut rows = vec![step.changes(c)];
            if w.finished {
                rows.push(finish.changes(json!({
                    "documentId": w.record.document_id,
                    "merged": w.record.merged,
                    "resolvedConflicts": w.record.resolved_conflicts,
                    "minVotes": w.record.strategy.min_votes.get(),
                })));
            }
            rows
        })
    }

    fn announce(&self, document: DocumentId, entities: &[Entity], actor: &Actor) {
        if entities.is_empty() {
            return;
        }
        let ids: Vec<EntityId> = entities.iter().map(|e| e.id).collect();
        let event = ActivityEvent::new(document, ActivityKind::EntityCreated, &ids, Some(actor.user_id));
        self.events.publish(DomainEvent::DocumentActivity(event));
    }

    /// `curateDocument`: merges every span at least `min_votes` of the compared annotators'
    /// layers agree on (and that outvotes every span overlapping it) into the curated layer;
    /// keeps what the curated layer holds and what the curator decided.
    pub async fn curate(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        document: DocumentId,
        strategy: Strategy,
    ) -> DomainResult<CurationOutcome> {
        let head = self.managed(Some(actor), document).await?;
        let by = actor.user_id;
        let changes = json!({"minVotes": strategy.min_votes.get(), "includeUnfinished": strategy.include_unfinished});
        let audits = Self::audits(meta, actor, &head, "curation.curate", changes);
        let step =
            Box::new(move |inputs: crate::rounds::curating::CurationInputs| inputs.curate(strategy, by, Utc::now()));
        let w = self.store.curation_step(document, step, audits).await?;
        self.announce(document, &w.insert, actor);
        Ok(CurationOutcome { merged: w.insert, record: w.record })
    }

    /// `acceptCandidate`: copies one candidate of an open conflict into the curated layer; the
    /// conflict is resolved. NOT_FOUND for an entity that is not the document's.
    pub async fn accept(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        document: DocumentId,
        entity: EntityId,
    ) -> DomainResult<Entity> {
        let head = self.managed(Some(actor), document).await?;
        let by = actor.user_id;
        let audits = Self::audits(meta, actor, &head, "curation.accept_candidate", json!({"candidateId": entity}));
        let step = Box::new(move |inputs: crate::rounds::curating::CurationInputs| {
            if !inputs.entities.iter().any(|e| e.id == entity) {
                return Err(DomainError::NotFound { resource: "entity" });
            }
            inputs.accept(entity, by, Utc::now())
        });
        let mut w = self.store.curation_step(document, step, audits).await?;
        self.announce(document, &w.insert, actor);
        w.insert.pop().ok_or_else(|| DomainError::internal("the accepted candidate was not stored"))
    }

    /// `leaveConflictEmpty`: the conflict at exactly `start..end` is resolved with nothing in
    /// the curated layer there.
    pub async fn leave_empty(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        document: DocumentId,
        start: u32,
        end: u32,
    ) -> DomainResult<CurationRecord> {
        let head = self.managed(Some(actor), document).await?;
        let by = actor.user_id;
        let audits = Self::audits(meta, actor, &head, "curation.leave_empty", json!({"start": start, "end": end}));
        let step = Box::new(move |inputs: crate::rounds::curating::CurationInputs| {
            inputs.leave_empty(start, end, by, Utc::now())
        });
        Ok(self.store.curation_step(document, step, audits).await?.record)
    }

    /// `curationConflicts`: the open conflicts, each with every layer's candidates there.
    pub async fn conflicts(&self, actor: Option<&Actor>, document: DocumentId) -> DomainResult<Vec<OpenConflict>> {
        self.managed(actor, document).await?;
        self.store.curation_inputs(document).await?.open_conflicts()
    }

    /// `curationFeedback`: where `annotator`'s layer (the caller's own by default) differs
    /// from the gold, in reading order, as `rounds::curation::differences` says. An annotator
    /// reads their own, managers anyone's (as `readable_layer` allows); CONFLICT until the
    /// document's curation has finished, so the gold compared with is the whole one.
    pub async fn feedback(
        &self,
        actor: Option<&Actor>,
        document: DocumentId,
        annotator: Option<UserId>,
    ) -> DomainResult<Vec<Feedback>> {
        let (_, project, access) = self.documents().head_project_access(actor, document).await?;
        let caller = actor.map(|a| a.user_id);
        let Some(annotator) = annotator.or(caller) else {
            return Err(DomainError::invalid("annotatorId", "give the annotator whose layer to compare"));
        };
        let request = LayerRequest { annotator: Some(annotator), ..LayerRequest::default() };
        let layer = readable_layer(project.annotation_mode, &access, caller, request)?;
        let inputs = self.store.curation_inputs(document).await?;
        if inputs.record.as_ref().map(|r| r.state) != Some(CurationState::Finished) {
            return Err(DomainError::conflict(
                "the document's curation has not finished: there is no gold to compare with yet",
            ));
        }
        let span = |e: &Entity| Span { start: e.start, end: e.end, entity_type: e.entity_type_id };
        let of = |l: Layer| inputs.entities.iter().filter(move |e| e.layer == l);
        let gold: Vec<Span> = of(Layer::Curated).map(span).collect();
        let yours: Vec<Span> = of(layer).map(span).collect();
        let find = |l: Layer, s: &Span| of(l).find(|e| span(e) == *s).cloned();
        Ok(differences(&yours, &gold)
            .into_iter()
            .map(|difference| {
                let (g, y) = match &difference {
                    Difference::Missed { gold } => (Some(gold), None),
                    Difference::Extra { yours } => (None, Some(yours)),
                    Difference::WrongType { gold, yours } => (Some(gold), Some(yours)),
                };
                Feedback {
                    difference,
                    gold: g.and_then(|s| find(Layer::Curated, s)),
                    yours: y.and_then(|s| find(layer, s)),
                }
            })
            .collect())
    }

    /// Where a document's curation stands, for anyone who reads the document.
    pub async fn view(&self, actor: Option<&Actor>, document: DocumentId) -> DomainResult<CurationView> {
        self.documents().head_access(actor, document).await?;
        Ok(CurationView { document_id: document, record: self.store.curation_record(document).await? })
    }
}
