//! What happens, as subscribers hear it: a job's progress, the activity in a document
//! (entities created, changed, verified, rejected, deleted or imported; new versions), and the
//! changes that may end someone's access (sessions ended, memberships and projects changed).
//! The service that made a change publishes its event after its transaction commits; the bus
//! delivers it to every replica. Every event survives a JSON round trip (the bus between
//! replicas carries JSON): the enum is tagged by `type`, with the event under `event`, so no
//! field of an event can collide with the tag.

use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, EntityId, ProjectId, UserId};
use crate::job::{JobProgress, JobStatus};

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "event", rename_all = "snake_case")]
pub enum DomainEvent {
    JobProgress(JobProgressEvent),
    DocumentActivity(ActivityEvent),
    /// Sessions of a user ended (logout, or a password change that signed the others out).
    SessionsEnded {
        user_id: UserId,
    },
    /// Who may read a project may have changed: a member was added, re-roled or removed
    /// (`user_id`), or the project's visibility changed or it was deleted (`user_id` none).
    AccessChanged {
        project_id: ProjectId,
        user_id: Option<UserId>,
    },
}

/// A job's state, as sent to `jobProgress` subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobProgressEvent {
    pub job_id: uuid::Uuid,
    /// The job's document (none for a job on a whole project).
    pub document_id: Option<DocumentId>,
    pub status: String,
    pub progress: u32,
    pub current_step: Option<String>,
    pub entities_found: u32,
    pub estimated_completion_at: Option<chrono::DateTime<chrono::Utc>>,
    pub error_message: Option<String>,
    /// An INGESTION job's counts (none for other kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingestion: Option<crate::source::IngestionCounts>,
}

impl JobProgressEvent {
    pub fn status(&self) -> JobStatus {
        JobStatus::parse(&self.status).unwrap_or(JobStatus::Processing)
    }
}

impl From<&JobProgress> for JobProgressEvent {
    fn from(p: &JobProgress) -> Self {
        Self {
            job_id: p.job_id,
            document_id: p.document_id,
            status: p.status.as_str().to_owned(),
            progress: p.progress,
            current_step: p.current_step.clone(),
            entities_found: p.entities_found,
            estimated_completion_at: p.estimated_completion_at,
            error_message: p.error_message.clone(),
            ingestion: p.ingestion,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActivityKind {
    EntityCreated,
    EntityUpdated,
    EntityVerified,
    EntityUnverified,
    EntityRejected,
    EntityDeleted,
    VersionCreated,
    EntitiesImported,
    /// Not published by any service: a subscriber receives it when events may have been missed
    /// (it fell behind, or its replica lost the others' events); read the document again.
    Resync,
}

/// Something a researcher (or a job) did in a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityEvent {
    pub document_id: DocumentId,
    pub kind: ActivityKind,
    /// The entities concerned (at most [`Self::MAX_IDS`]; `count` has them all).
    pub entity_ids: Vec<EntityId>,
    pub count: u32,
    pub version: Option<u32>,
    pub actor: Option<UserId>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The layer changed, by its key (`None`: the curated layer, or no layer at all):
    /// subscribers who may not read that layer never receive the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

impl ActivityEvent {
    /// Ids beyond this many are summarised by `count`.
    pub const MAX_IDS: usize = 1000;

    pub fn new(document_id: DocumentId, kind: ActivityKind, ids: &[EntityId], actor: Option<UserId>) -> Self {
        Self {
            document_id,
            kind,
            entity_ids: ids.iter().take(Self::MAX_IDS).copied().collect(),
            count: ids.len() as u32,
            version: None,
            actor,
            at: chrono::Utc::now(),
            layer: None,
        }
    }

    /// The event, about a change in `layer`.
    pub fn in_layer(mut self, layer: crate::rounds::Layer) -> Self {
        self.layer = (layer != crate::rounds::Layer::Curated).then(|| layer.key());
        self
    }

    /// The layer the event is about (the curated one when it names none).
    pub fn layer(&self) -> crate::rounds::Layer {
        self.layer
            .as_deref()
            .and_then(|k| crate::rounds::Layer::parse_key(k).ok())
            .unwrap_or(crate::rounds::Layer::Curated)
    }
}

/// The port services publish through.
pub trait EventPublisher {
    fn publish(&self, event: DomainEvent);
}

/// A publisher that drops events (for tools and tests that have no subscribers).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventPublisher for NoEvents {
    fn publish(&self, _: DomainEvent) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of event comes back from JSON as it went in (the bus between replicas
    /// carries JSON; an `ActivityEvent` once collided with the enum's tag).
    #[test]
    fn every_event_survives_json() {
        let mut activity = ActivityEvent::new(
            DocumentId::new(),
            ActivityKind::EntitiesImported,
            &[EntityId::new(), EntityId::new()],
            Some(UserId::new()),
        );
        activity.version = Some(3);
        let events = [
            DomainEvent::DocumentActivity(activity),
            DomainEvent::JobProgress(JobProgressEvent {
                job_id: uuid::Uuid::now_v7(),
                document_id: Some(DocumentId::new()),
                status: "PROCESSING".into(),
                progress: 40,
                current_step: Some("chunk 2 of 5".into()),
                entities_found: 7,
                estimated_completion_at: Some(chrono::Utc::now()),
                error_message: None,
                ingestion: Some(crate::source::IngestionCounts {
                    fetched: 3,
                    stored: 2,
                    failed: 1,
                    ..Default::default()
                }),
            }),
            DomainEvent::SessionsEnded { user_id: UserId::new() },
            DomainEvent::AccessChanged { project_id: ProjectId::new(), user_id: Some(UserId::new()) },
            DomainEvent::AccessChanged { project_id: ProjectId::new(), user_id: None },
        ];
        for event in events {
            let json = serde_json::to_string(&event).unwrap();
            let back: DomainEvent = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(back, event);
        }
    }

    #[test]
    fn ids_beyond_the_cap_are_counted() {
        let ids: Vec<EntityId> = (0..ActivityEvent::MAX_IDS + 5).map(|_| EntityId::new()).collect();
        let event = ActivityEvent::new(DocumentId::new(), ActivityKind::EntityCreated, &ids, None);
        assert_eq!(event.entity_ids.len(), ActivityEvent::MAX_IDS);
        assert_eq!(event.count as usize, ids.len());
    }
}
