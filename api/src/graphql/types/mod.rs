//! GraphQL output types. Each wraps a domain type; none is an ORM model.

mod agreement;
mod assignment;
mod audit;
mod chat;
mod curation;
mod document;
mod entity;
mod entity_type;
mod enums;
mod exchange;
mod job;
mod knowledge;
mod learning;
mod membership;
mod project;
mod search;
mod source;
mod statistics;
mod usage;
mod user;
mod webhook;

pub use agreement::AgreementReport;
pub use assignment::{Assignment, AssignmentCount, GqlAssignmentState};
pub use audit::{AuditLogConnection, AuditLogEntry, AuditLogFilterInput};
pub use chat::{ChatMessage, ChatSession, Citation, GqlChatRole};
pub use curation::{CurationConflict, CurationFeedback, CurationResult, DocumentCuration, GqlCurationState};
pub use document::{
    Document, DocumentVersion, EntityConnection, EntityCount, EntityFilterInput, GqlDirection, GqlProcessingStatus,
    LayerInput, Line,
};
pub use entity::{Entity, EntityRelationship, GqlEntitySource, GqlRelationshipType};
pub use entity_type::EntityType;
pub use enums::{GqlAnnotationMode, GqlProjectStatus, GqlRole};
pub use exchange::{GqlFormat, ImportError, ImportResult};
pub use job::{
    DocumentActivity, GqlJobKind, GqlJobStatus, GqlProvider, JobProgress, LlmModel, LlmProcessingConfig, ProcessingJob,
};
pub use knowledge::{
    GqlDecision, GqlKnowledgeFormat, GqlLinkType, GqlProposalKind, GqlProposalStatus, GqlUnit, KnowledgeCandidate,
    KnowledgeCooccurrence, KnowledgeItem, KnowledgeLink, KnowledgeProposal, LinkMatchingResult, ProposalCounts,
};
pub use learning::{Experiment, LearnedModel};
pub use membership::{GqlPermissions, ProjectMembership};
pub use project::Project;
pub use search::{EmbeddingStatus, SearchHit, TextSpan};
pub use source::{IngestionCounts, Source};
pub use statistics::{DocumentStatistics, ModelQuality, ProjectStatistics};
pub use usage::{UsageReport, UsageTotals};
pub use user::{AuthPayload, User};
pub use webhook::{Webhook, WebhookDelivery, WebhookWithSecret};

use async_graphql::ID;
use uuid::Uuid;

use crate::error::{ApiResult, bad_input};

/// Parses a client-sent ID; a malformed one is BAD_USER_INPUT naming the argument.
pub fn parse_id(id: &ID, field: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| bad_input(field, "is not a valid ID"))
}
