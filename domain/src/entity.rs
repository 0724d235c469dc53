//! Entities: typed spans of a document's text, where they came from, and their verification.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, EntityId, EntityTypeId, ProjectId, UserId};
use crate::rounds::Layer;

/// Where an entity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntitySource {
    /// Suggested by a language model (or the built-in extractor).
    Llm,
    /// Marked by a researcher.
    Manual,
    /// Imported from an annotation file.
    Import,
    /// A suggestion whose type a researcher corrected.
    Correction,
}

impl EntitySource {
    pub const ALL: [Self; 4] = [Self::Llm, Self::Manual, Self::Import, Self::Correction];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Llm => "LLM",
            Self::Manual => "MANUAL",
            Self::Import => "IMPORT",
            Self::Correction => "CORRECTION",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown entity source {s:?} in storage")))
    }
}

/// A confidence score in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Confidence(f64);

impl Confidence {
    pub fn new(value: f64, field: &str) -> DomainResult<Self> {
        if value.is_finite() && (0.0..=1.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(DomainError::invalid(field, "must be between 0 and 1"))
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

/// An entity as stored. `start`/`end` are code-point offsets, half-open, and
/// `content[start..end] == text` always holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub id: EntityId,
    pub document_id: DocumentId,
    pub project_id: ProjectId,
    /// The layer of the document the entity belongs to (the curated one in a SHARED project).
    pub layer: Layer,
    pub entity_type_id: EntityTypeId,
    pub text: String,
    pub start: u32,
    pub end: u32,
    pub utf16_start: u32,
    pub utf16_end: u32,
    pub line_number: u32,
    pub stanza_number: u32,
    pub word_position: u32,
    pub context_before: String,
    pub context_after: String,
    pub confidence: Option<f64>,
    pub source: EntitySource,
    pub is_verified: bool,
    pub verified_by: Option<UserId>,
    pub verified_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub attributes: Value,
    pub llm_model_id: Option<uuid::Uuid>,
    pub processing_job_id: Option<uuid::Uuid>,
    pub created_by: Option<UserId>,
    pub updated_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Entity {
    /// Puts the entity at `span` of its document, with what the server computes there (text,
    /// UTF-16 offsets, line, stanza, word position, context): the one place these are set.
    pub fn place(&mut self, span: (u32, u32), ctx: crate::text::SpanContext) {
        self.start = span.0;
        self.end = span.1;
        self.text = ctx.text;
        self.utf16_start = ctx.utf16_start;
        self.utf16_end = ctx.utf16_end;
        self.line_number = ctx.line_number;
        self.stanza_number = ctx.stanza;
        self.word_position = ctx.word_position;
        self.context_before = ctx.context_before;
        self.context_after = ctx.context_after;
    }

    /// Where the entity lies, with what is computed there.
    pub fn placement(&self) -> Placement {
        Placement {
            id: self.id,
            start: self.start,
            end: self.end,
            utf16_start: self.utf16_start,
            utf16_end: self.utf16_end,
            line_number: self.line_number,
            stanza_number: self.stanza_number,
            word_position: self.word_position,
            context_before: self.context_before.clone(),
            context_after: self.context_after.clone(),
        }
    }

    pub fn verify(&mut self, by: UserId, at: DateTime<Utc>) {
        self.is_verified = true;
        self.verified_by = Some(by);
        self.verified_at = Some(at);
    }

    pub fn unverify(&mut self) {
        self.is_verified = false;
        self.verified_by = None;
        self.verified_at = None;
    }

    /// A researcher changes the type: a model suggestion becomes a CORRECTION that remembers
    /// the type it had, so the model's quality can be measured later.
    pub fn change_type(&mut self, to: EntityTypeId) {
        if to == self.entity_type_id {
            return;
        }
        if matches!(self.source, EntitySource::Llm | EntitySource::Correction) {
            if self.source == EntitySource::Llm {
                self.attributes["previousEntityTypeId"] = Value::String(self.entity_type_id.to_string());
            }
            self.source = EntitySource::Correction;
        }
        self.entity_type_id = to;
    }

    /// Whether deleting the entity rejects a model's suggestion (which is kept on record).
    pub fn is_model_suggestion(&self) -> bool {
        matches!(self.source, EntitySource::Llm | EntitySource::Correction)
    }

    /// The type the model suggested: the type of an LLM entity, the remembered type of a
    /// CORRECTION; None for researchers' and imported entities.
    pub fn suggested_type(&self) -> Option<EntityTypeId> {
        match self.source {
            EntitySource::Llm => Some(self.entity_type_id),
            EntitySource::Correction => previous_type(&self.attributes),
            EntitySource::Manual | EntitySource::Import => None,
        }
    }
}

/// The model's type a correction remembers (`attributes.previousEntityTypeId`).
pub fn previous_type(attributes: &Value) -> Option<EntityTypeId> {
    attributes.get("previousEntityTypeId")?.as_str()?.parse::<uuid::Uuid>().ok().map(EntityTypeId)
}

/// Where an entity lies in its document's text, with what [`Entity::place`] computes there
/// (its text aside, which a placement never changes): what a content edit reads of every
/// entity, and writes back for those whose placement changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub id: EntityId,
    pub start: u32,
    pub end: u32,
    pub utf16_start: u32,
    pub utf16_end: u32,
    pub line_number: u32,
    pub stanza_number: u32,
    pub word_position: u32,
    pub context_before: String,
    pub context_after: String,
}

impl Placement {
    /// The placement of entity `id` at `span`, described by `ctx`.
    pub fn new(id: EntityId, span: (u32, u32), ctx: crate::text::SpanContext) -> Self {
        Self {
            id,
            start: span.0,
            end: span.1,
            utf16_start: ctx.utf16_start,
            utf16_end: ctx.utf16_end,
            line_number: ctx.line_number,
            stanza_number: ctx.stanza,
            word_position: ctx.word_position,
            context_before: ctx.context_before,
            context_after: ctx.context_after,
        }
    }
}

/// A place in a document's entities in reading order: by start, then end, then id (unique, so
/// every entity has its own place). A page that starts after a cursor neither repeats nor skips
/// an entity when others insert or delete entities elsewhere meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityCursor {
    pub start: u32,
    pub end: u32,
    pub id: EntityId,
}

impl Entity {
    /// The entity's place in reading order.
    pub fn cursor(&self) -> EntityCursor {
        EntityCursor { start: self.start, end: self.end, id: self.id }
    }
}

/// What an entity listing may be narrowed to. A listing always reads one layer: there is no
/// default, so no read of entities forgets to say which layer it reads.
#[derive(Debug, Clone)]
pub struct EntityFilter {
    pub layer: Layer,
    pub entity_type_ids: Option<Vec<EntityTypeId>>,
    pub is_verified: Option<bool>,
    pub sources: Option<Vec<EntitySource>>,
    pub min_confidence: Option<f64>,
    pub line_number: Option<u32>,
}

impl EntityFilter {
    /// Every entity of one layer.
    pub fn layer(layer: Layer) -> Self {
        Self { layer, entity_type_ids: None, is_verified: None, sources: None, min_confidence: None, line_number: None }
    }

    /// Whether the filter narrows nothing within its layer.
    pub fn is_empty(&self) -> bool {
        matches!(
            self,
            Self {
                layer: _,
                entity_type_ids: None,
                is_verified: None,
                sources: None,
                min_confidence: None,
                line_number: None
            }
        )
    }
}

/// Some of a document's entities, from a place in reading order, and whether more follow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntitySlice {
    pub items: Vec<Entity>,
    pub has_more: bool,
}

/// A rejected model suggestion, kept to measure the model's precision.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The entity as the model suggested it: a correction's type is the model's type again.
    pub entity: Entity,
    pub rejected_by: UserId,
    pub rejected_at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl Rejection {
    /// The rejection of a model's suggestion, recording the type the model gave it.
    pub fn of(entity: &Entity, by: UserId, at: DateTime<Utc>, reason: Option<String>) -> Self {
        let mut entity = entity.clone();
        if let Some(t) = entity.suggested_type() {
            entity.entity_type_id = t;
        }
        Self { entity, rejected_by: by, rejected_at: at, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_bounds() {
        assert!(Confidence::new(0.0, "c").is_ok());
        assert!(Confidence::new(1.0, "c").is_ok());
        for bad in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
            assert!(Confidence::new(bad, "confidenceScore").is_err());
        }
    }

    #[test]
    fn a_rejected_correction_records_the_models_type() {
        let now = Utc::now();
        let (person, place) = (EntityTypeId::new(), EntityTypeId::new());
        let mut e = Entity {
            id: EntityId::new(),
            document_id: DocumentId::new(),
            project_id: ProjectId::new(),
            layer: Layer::Curated,
            entity_type_id: person,
            text: "x".into(),
            start: 0,
            end: 1,
            utf16_start: 0,
            utf16_end: 1,
            line_number: 1,
            stanza_number: 1,
            word_position: 1,
            context_before: String::new(),
            context_after: String::new(),
            confidence: None,
            source: EntitySource::Llm,
            is_verified: false,
            verified_by: None,
            verified_at: None,
            notes: None,
            attributes: serde_json::json!({}),
            llm_model_id: None,
            processing_job_id: None,
            created_by: None,
            updated_by: None,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(e.suggested_type(), Some(person));
        e.change_type(place);
        assert_eq!((e.source, e.entity_type_id, e.suggested_type()), (EntitySource::Correction, place, Some(person)));
        let r = Rejection::of(&e, UserId::new(), now, None);
        assert_eq!((r.entity.entity_type_id, r.entity.source), (person, EntitySource::Correction));
        e.source = EntitySource::Manual;
        assert_eq!(e.suggested_type(), None);
    }

    #[test]
    fn source_round_trip() {
        for s in EntitySource::ALL {
            assert_eq!(EntitySource::parse(s.as_str()).unwrap(), s);
        }
    }
}
