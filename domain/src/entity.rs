//! Entities: typed spans of a document's text, where they came from, and their verification.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, EntityId, EntityTypeId, ProjectId, UserId};

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
}

/// What an entity listing may be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct EntityFilter {
    pub entity_type_ids: Option<Vec<EntityTypeId>>,
    pub is_verified: Option<bool>,
    pub sources: Option<Vec<EntitySource>>,
    pub min_confidence: Option<f64>,
    pub line_number: Option<u32>,
}

/// A rejected model suggestion, kept to measure the model's precision.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub entity: Entity,
    pub rejected_by: UserId,
    pub rejected_at: DateTime<Utc>,
    pub reason: Option<String>,
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
    fn source_round_trip() {
        for s in EntitySource::ALL {
            assert_eq!(EntitySource::parse(s.as_str()).unwrap(), s);
        }
    }
}
