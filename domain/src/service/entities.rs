//! Entities and relationships: marking spans by hand, correcting and verifying model
//! suggestions, marking every occurrence of a word, and relating entities. Reading needs read
//! access to the project; every change needs the edit-entities permission. Every change to an
//! entity publishes its document's activity once committed.
//!
//! An action costs what its span costs, not what the document costs: access is checked on the
//! document's head (never its content), and spans are validated and described against the
//! store's indexed text of the current version (built once per version, then looked up).

use std::collections::HashSet;

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::document::{Document, DocumentHead};
use crate::entity::{Confidence, Entity, EntitySource, Rejection};
use crate::entity_type::EntityType;
use crate::error::{DomainError, DomainResult};
use crate::events::{ActivityEvent, ActivityKind, DomainEvent, EventPublisher};
use crate::ids::{DocumentId, EntityId, EntityTypeId, ProjectId, RelationshipId, UserId};
use crate::membership::Permission;
use crate::policy::Actor;
use crate::ports::{
    AssignmentRepository, DocumentRepository, EntityRepository, EntityTypeRepository, OnDuplicate, ProjectRepository,
    RelationshipRepository,
};
use crate::relationship::{Relationship, RelationshipType, check_relationship};
use crate::rounds::{Layer, LayerRequest, may_read, may_write, writable_layer};
use crate::service::assignments::fills_from_models;
use crate::service::documents::Documents;
use crate::text::{DocumentText, span_context, validate_span};

/// A span a researcher marks.
#[derive(Debug, Clone)]
pub struct NewEntity {
    pub document_id: DocumentId,
    pub entity_type_id: EntityTypeId,
    pub start: i64,
    pub end: i64,
    /// When sent, it must equal the document's text at the span.
    pub text: Option<String>,
    pub confidence: Option<f64>,
    pub notes: Option<String>,
    /// The layer to write to (the caller's own by default; see `rounds::writable_layer`).
    pub layer: LayerRequest,
}

/// Changes to an entity; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EntityPatch {
    pub entity_type_id: Option<EntityTypeId>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub notes: Option<Option<String>>,
}

#[derive(Debug, Clone)]
pub struct NewRelationship {
    pub source: EntityId,
    pub target: EntityId,
    pub kind: RelationshipType,
    pub confidence: Option<f64>,
    pub notes: Option<String>,
}

/// What the caller may do in an entity's project, with the project's annotation mode.
#[derive(Debug, Clone)]
pub struct LayeredAccess {
    pub access: crate::policy::ProjectAccess,
    pub mode: crate::rounds::AnnotationMode,
}

pub struct Entities<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
}

/// Builds an entity of `doc` at a validated span, with everything the server computes.
pub fn new_entity(
    doc: &Document,
    text: &DocumentText,
    entity_type: EntityTypeId,
    span: (u32, u32),
    source: EntitySource,
    by: UserId,
) -> DomainResult<Entity> {
    entity_at((doc.id, doc.project_id), text, entity_type, span, source, by)
}

/// Builds an entity of the document `(id, project)` whose content is `text`, at a validated
/// span, with everything the server computes.
pub fn entity_at(
    (document, project): (DocumentId, ProjectId),
    text: &DocumentText,
    entity_type: EntityTypeId,
    span: (u32, u32),
    source: EntitySource,
    by: UserId,
) -> DomainResult<Entity> {
    let ctx = span_context(text, span.0, span.1)?;
    let now = Utc::now();
    let mut entity = Entity {
        id: EntityId::new(),
        document_id: document,
        project_id: project,
        layer: Layer::Curated,
        entity_type_id: entity_type,
        text: String::new(),
        start: 0,
        end: 0,
        utf16_start: 0,
        utf16_end: 0,
        line_number: 0,
        stanza_number: 0,
        word_position: 0,
        context_before: String::new(),
        context_after: String::new(),
        confidence: None,
        source,
        is_verified: false,
        verified_by: None,
        verified_at: None,
        notes: None,
        attributes: json!({}),
        llm_model_id: None,
        processing_job_id: None,
        created_by: Some(by),
        updated_by: Some(by),
        created_at: now,
        updated_at: now,
    };
    entity.place(span, ctx);
    Ok(entity)
}

fn validate_notes(notes: Option<String>) -> DomainResult<Option<String>> {
    let notes = notes.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if notes.as_ref().is_some_and(|n| n.chars().count() > 5000) {
        return Err(DomainError::invalid("notes", "must be at most 5000 characters"));
    }
    Ok(notes)
}

impl<S, E> Entities<'_, S, E>
where
    S: DocumentRepository
        + ProjectRepository
        + EntityRepository
        + EntityTypeRepository
        + RelationshipRepository
        + AssignmentRepository,
    E: EventPublisher,
{
    fn documents(&self) -> Documents<'_, S, E> {
        Documents { store: self.store, events: self.events, max_bytes: usize::MAX }
    }

    /// Tells the document's subscribers what the actor just did in a layer (after the change
    /// committed); only those who may read the layer receive it.
    fn announce(&self, document: DocumentId, layer: Layer, kind: ActivityKind, ids: &[EntityId], actor: &Actor) {
        let event = ActivityEvent::new(document, kind, ids, Some(actor.user_id)).in_layer(layer);
        self.events.publish(DomainEvent::DocumentActivity(event));
    }

    /// The head of a document the caller may edit entities in, and the layer the caller's
    /// change goes to (decided once, by the layer policy).
    async fn editable_document(
        &self,
        actor: &Actor,
        id: DocumentId,
        request: LayerRequest,
    ) -> DomainResult<(DocumentHead, Layer, bool)> {
        let (head, project, access) = self.documents().head_project_access(Some(actor), id).await?;
        access.require(Permission::EditEntities)?;
        let layer = writable_layer(project.annotation_mode, &access, actor.user_id, request)?;
        // Whether this write also fills the layer with the models' suggestions (its first start).
        let fills = fills_from_models(self.store, project.id, project.pre_annotate, head.id, layer).await?;
        Ok((head, layer, fills))
    }

    /// The entity, its document's head and what the caller may do there, if the caller may
    /// read the document.
    async fn locate(&self, actor: Option<&Actor>, id: EntityId) -> DomainResult<(Entity, DocumentHead, LayeredAccess)> {
        let entity = self.store.entity_by_id(id).await?.ok_or(DomainError::NotFound { resource: "entity" })?;
        let (head, project, access) = self
            .documents()
            .head_project_access(actor, entity.document_id)
            .await
            .map_err(|_| DomainError::NotFound { resource: "entity" })?;
        // An entity of a layer the caller may not read is as unknown as a random id.
        if !may_read(project.annotation_mode, &access, actor.map(|a| a.user_id), entity.layer) {
            return Err(DomainError::NotFound { resource: "entity" });
        }
        Ok((entity, head, LayeredAccess { access, mode: project.annotation_mode }))
    }

    /// The entity and what the caller may do in its project, if the caller may read it.
    pub async fn find(
        &self,
        actor: Option<&Actor>,
        id: EntityId,
    ) -> DomainResult<(Entity, crate::policy::ProjectAccess)> {
        let (entity, _, access) = self.locate(actor, id).await?;
        Ok((entity, access.access))
    }

    /// An entity the caller may edit, with its document's head.
    async fn editable_entity(&self, actor: &Actor, id: EntityId) -> DomainResult<(Entity, DocumentHead)> {
        let (entity, head, access) = self.locate(Some(actor), id).await?;
        may_write(access.mode, &access.access, actor.user_id, entity.layer)?;
        Ok((entity, head))
    }

    /// An active entity type (an inactive one cannot be used for new entities).
    async fn usable_type(&self, id: EntityTypeId) -> DomainResult<EntityType> {
        let t = self
            .store
            .entity_types_by_ids(&[id])
            .await?
            .pop()
            .ok_or_else(|| DomainError::invalid("entityTypeId", "no such entity type"))?;
        if !t.is_active {
            return Err(DomainError::invalid("entityTypeId", format!("the entity type {} is inactive", t.name)));
        }
        Ok(t)
    }

    pub async fn create(&self, meta: &RequestMeta, actor: &Actor, input: NewEntity) -> DomainResult<Entity> {
        let (doc, layer, fills) = self.editable_document(actor, input.document_id, input.layer).await?;
        let entity_type = self.usable_type(input.entity_type_id).await?;
        let text = self.store.document_text(&doc).await?;
        let span = validate_span(&text, input.start, input.end)?;
        let mut entity =
            entity_at((doc.id, doc.project_id), &text, entity_type.id, span, EntitySource::Manual, actor.user_id)?;
        entity.layer = layer;
        if let Some(sent) = &input.text
            && *sent != entity.text
        {
            return Err(DomainError::invalid(
                "text",
                format!("does not match the document at {}..{}, which reads {:?}", span.0, span.1, entity.text),
            ));
        }
        entity.confidence =
            input.confidence.map(|c| Confidence::new(c, "confidenceScore")).transpose()?.map(Confidence::value);
        entity.notes = validate_notes(input.notes)?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "entity.create", "entity")
            .resource(entity.id, &entity.text)
            .project(doc.project_id)
            .changes(json!({"documentId": doc.id, "entityType": entity_type.name, "start": span.0, "end": span.1, "layer": layer.key()}));
        let mut created = self
            .store
            .insert_entities_at(doc.id, doc.current_version, vec![entity], OnDuplicate::Conflict, audit)
            .await?;
        let created = created.pop().ok_or_else(|| DomainError::internal("inserted entity missing"))?;
        self.announce(created.document_id, created.layer, ActivityKind::EntityCreated, &[created.id], actor);
        if fills {
            self.announce(created.document_id, created.layer, ActivityKind::EntitiesImported, &[], actor);
        }
        Ok(created)
    }

    pub async fn update(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: EntityId,
        patch: EntityPatch,
    ) -> DomainResult<Entity> {
        let (mut entity, doc) = self.editable_entity(actor, id).await?;
        let mut changes = serde_json::Map::new();
        if let Some(t) = patch.entity_type_id
            && t != entity.entity_type_id
        {
            let new_type = self.usable_type(t).await?;
            changes.insert("entityType".into(), json!({"from": entity.entity_type_id, "to": new_type.name}));
            entity.change_type(t);
        }
        let mut placed_at = None;
        if patch.start.is_some() || patch.end.is_some() {
            let text = self.store.document_text(&doc).await?;
            placed_at = Some(doc.current_version);
            let start = patch.start.unwrap_or(i64::from(entity.start));
            let end = patch.end.unwrap_or(i64::from(entity.end));
            let span = validate_span(&text, start, end)?;
            changes.insert("span".into(), json!({"from": [entity.start, entity.end], "to": [span.0, span.1]}));
            entity.place(span, span_context(&text, span.0, span.1)?);
        }
        if let Some(n) = patch.notes {
            entity.notes = validate_notes(n)?;
            changes.insert("notes".into(), json!(true));
        }
        entity.updated_by = Some(actor.user_id);
        entity.updated_at = Utc::now();
        let audit = AuditEntry::new(meta, Some(actor.user_id), "entity.update", "entity")
            .resource(entity.id, &entity.text)
            .project(entity.project_id)
            .changes(serde_json::Value::Object(changes));
        let updated = self.store.update_entity(entity, placed_at, audit).await?;
        self.announce(updated.document_id, updated.layer, ActivityKind::EntityUpdated, &[updated.id], actor);
        Ok(updated)
    }

    /// Deletes an entity; returns it as it was. Deleting a model's suggestion rejects it: the
    /// rejection is kept.
    pub async fn delete(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: EntityId,
        reason: Option<String>,
    ) -> DomainResult<Entity> {
        let (entity, _) = self.editable_entity(actor, id).await?;
        let rejection =
            entity.is_model_suggestion().then(|| Rejection::of(&entity, actor.user_id, Utc::now(), reason.clone()));
        let action = if rejection.is_some() { "entity.reject" } else { "entity.delete" };
        let audit = AuditEntry::new(meta, Some(actor.user_id), action, "entity")
            .resource(entity.id, &entity.text)
            .project(entity.project_id)
            .changes(json!({"documentId": entity.document_id, "source": entity.source.as_str(), "reason": reason}));
        let kind = if rejection.is_some() { ActivityKind::EntityRejected } else { ActivityKind::EntityDeleted };
        self.store.delete_entity(id, rejection, audit).await?;
        self.announce(entity.document_id, entity.layer, kind, &[id], actor);
        Ok(entity)
    }

    /// Verifies (or unverifies) entities, all of which the caller must be allowed to edit.
    pub async fn set_verified(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        ids: &[EntityId],
        verified: bool,
        notes: Option<String>,
    ) -> DomainResult<Vec<Entity>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        if ids.len() > 1000 {
            return Err(DomainError::invalid("ids", "at most 1000 entities at once"));
        }
        let entities = self.store.entities_by_ids(ids).await?;
        if entities.len() != ids.iter().collect::<HashSet<_>>().len() {
            return Err(DomainError::NotFound { resource: "entity" });
        }
        let docs: HashSet<DocumentId> = entities.iter().map(|e| e.document_id).collect();
        for d in &docs {
            // An entity of a document (or a layer) the caller cannot read is as unknown as a
            // random id; each entity's layer must be one the caller may change.
            let (_, project, access) =
                self.documents().head_project_access(Some(actor), *d).await.map_err(|e| match e {
                    DomainError::NotFound { .. } => DomainError::NotFound { resource: "entity" },
                    other => other,
                })?;
            access.require(Permission::EditEntities)?;
            for e in entities.iter().filter(|e| e.document_id == *d) {
                if !may_read(project.annotation_mode, &access, Some(actor.user_id), e.layer) {
                    return Err(DomainError::NotFound { resource: "entity" });
                }
                may_write(project.annotation_mode, &access, actor.user_id, e.layer)?;
            }
        }
        let notes = validate_notes(notes)?;
        let by = verified.then(|| (actor.user_id, Utc::now()));
        // One audit row per project touched, naming that project's entities, so each
        // project's owners read what happened in it.
        let mut by_project: Vec<(crate::ids::ProjectId, Vec<&Entity>)> = Vec::new();
        for entity in &entities {
            match by_project.iter_mut().find(|(p, _)| *p == entity.project_id) {
                Some((_, list)) => list.push(entity),
                None => by_project.push((entity.project_id, vec![entity])),
            }
        }
        let action = if verified { "entity.verify" } else { "entity.unverify" };
        let audits = by_project
            .into_iter()
            .map(|(project, list)| {
                let ids: Vec<EntityId> = list.iter().map(|e| e.id).collect();
                let mut audit = AuditEntry::new(meta, Some(actor.user_id), action, "entity")
                    .project(project)
                    .changes(json!({"ids": ids, "count": ids.len()}));
                if let [only] = list.as_slice() {
                    audit = audit.resource(only.id, &only.text);
                }
                audit
            })
            .collect();
        let done = self.store.set_verified(ids, by, notes, audits).await?;
        // One event per document whose entities changed.
        let mut by_document: std::collections::BTreeMap<(DocumentId, Layer), Vec<EntityId>> = Default::default();
        for e in &done {
            by_document.entry((e.document_id, e.layer)).or_default().push(e.id);
        }
        let kind = if verified { ActivityKind::EntityVerified } else { ActivityKind::EntityUnverified };
        for ((doc, layer), ids) in by_document {
            self.announce(doc, layer, kind, &ids, actor);
        }
        Ok(done)
    }

    /// Marks every whole-word occurrence of `needle` with the type, skipping spans already
    /// marked with it; returns how many entities were created.
    pub async fn annotate_all(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        doc: DocumentId,
        needle: &str,
        type_id: EntityTypeId,
    ) -> DomainResult<Vec<EntityId>> {
        let (doc, layer, fills) = self.editable_document(actor, doc, LayerRequest::default()).await?;
        let entity_type = self.usable_type(type_id).await?;
        let needle = crate::text::normalize_newlines(needle.trim());
        if needle.is_empty() {
            return Err(DomainError::invalid("text", "must not be blank"));
        }
        let text = self.store.document_text(&doc).await?;
        let entities: Vec<Entity> = crate::text::whole_word_occurrences(text.text(), &needle)
            .into_iter()
            .map(|span| {
                let mut e = entity_at(
                    (doc.id, doc.project_id),
                    &text,
                    entity_type.id,
                    span,
                    EntitySource::Manual,
                    actor.user_id,
                )?;
                e.layer = layer;
                Ok(e)
            })
            .collect::<DomainResult<_>>()?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "entity.annotate_all", "document")
            .resource(doc.id, &doc.title)
            .project(doc.project_id)
            .changes(json!({"text": needle, "entityType": entity_type.name, "occurrences": entities.len()}));
        let created: Vec<EntityId> = self
            .store
            .insert_entities_at(doc.id, doc.current_version, entities, OnDuplicate::Skip, audit)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
        if !created.is_empty() {
            self.announce(doc.id, layer, ActivityKind::EntityCreated, &created, actor);
        }
        if fills {
            self.announce(doc.id, layer, ActivityKind::EntitiesImported, &[], actor);
        }
        Ok(created)
    }

    pub async fn relate(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        input: NewRelationship,
    ) -> DomainResult<Relationship> {
        let (source, _) = self.editable_entity(actor, input.source).await?;
        let (target, _) = self
            .find(Some(actor), input.target)
            .await
            .map_err(|_| DomainError::invalid("targetEntityId", "no such entity"))?;
        check_relationship((source.id, source.project_id), (target.id, target.project_id))?;
        if source.layer != target.layer {
            return Err(DomainError::invalid("targetEntityId", "relates entities of one layer only"));
        }
        let confidence =
            input.confidence.map(|c| Confidence::new(c, "confidenceScore")).transpose()?.map(Confidence::value);
        let r = Relationship {
            id: RelationshipId::new(),
            project_id: source.project_id,
            source: source.id,
            target: target.id,
            kind: input.kind,
            confidence,
            notes: validate_notes(input.notes)?,
            created_by: Some(actor.user_id),
            created_at: Utc::now(),
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "relationship.create", "entity_relationship")
            .resource(r.id, r.kind.as_str())
            .project(r.project_id)
            .changes(json!({"source": source.id, "target": target.id, "type": r.kind.as_str()}));
        self.store.create_relationship(r, audit).await
    }

    pub async fn unrelate(&self, meta: &RequestMeta, actor: &Actor, id: RelationshipId) -> DomainResult<()> {
        let r = self.store.relationship_by_id(id).await?.ok_or(DomainError::NotFound { resource: "relationship" })?;
        self.editable_entity(actor, r.source).await.map_err(|e| match e {
            DomainError::NotFound { .. } => DomainError::NotFound { resource: "relationship" },
            other => other,
        })?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "relationship.delete", "entity_relationship")
            .resource(r.id, r.kind.as_str())
            .project(r.project_id);
        self.store.delete_relationship(id, audit).await
    }
}
