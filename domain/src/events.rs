//! What happens, as subscribers hear it: a job's progress, and the activity in a document
//! (entities created, changed, verified, rejected or deleted; new versions). Services publish
//! an event after their transaction commits; the bus delivers it to every replica.

use serde::{Deserialize, Serialize};

use crate::ids::{DocumentId, EntityId, UserId};
use crate::job::{JobProgress, JobStatus};

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DomainEvent {
    JobProgress(JobProgressEvent),
    DocumentActivity(ActivityEvent),
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
}

/// Something a researcher (or a job) did in a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityEvent {
    pub document_id: DocumentId,
    pub kind: ActivityKind,
    /// The entities concerned (at most a few hundred ids; a bulk change sends its count).
    pub entity_ids: Vec<EntityId>,
    pub count: u32,
    pub version: Option<u32>,
    pub actor: Option<UserId>,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl ActivityEvent {
    /// Ids beyond this many are summarised by `count` (a NOTIFY payload stays small).
    pub const MAX_IDS: usize = 100;

    pub fn new(document_id: DocumentId, kind: ActivityKind, ids: &[EntityId], actor: Option<UserId>) -> Self {
        Self {
            document_id,
            kind,
            entity_ids: ids.iter().take(Self::MAX_IDS).copied().collect(),
            count: ids.len() as u32,
            version: None,
            actor,
            at: chrono::Utc::now(),
        }
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
