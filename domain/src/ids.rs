//! Typed identifiers, so a user id cannot be passed where a project id is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUIDv7 keeps inserts local in B-tree indexes).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    )*};
}

id_type!(
    /// A user account.
    UserId,
    /// A research project.
    ProjectId,
    /// A membership of a user in a project.
    MembershipId,
    /// A signed-in session.
    SessionId,
    /// A row of the audit trail.
    AuditId,
    /// A document in a project.
    DocumentId,
    /// A stored version of a document's content.
    VersionId,
    /// An entity type (PERSON, LOCATION, ...).
    EntityTypeId,
    /// An annotated entity: a span of a document with a type.
    EntityId,
    /// A relationship between two entities.
    RelationshipId,
    /// The stored original of an uploaded file.
    ArtifactId,
    /// An entry of a project's knowledge base: a person, place or other thing the texts name.
    KnowledgeItemId,
    /// A stored version of a knowledge-base entry.
    KnowledgeVersionId,
    /// A link between two knowledge-base entries.
    KnowledgeLinkId,
    /// A model's proposal for the knowledge base, awaiting review.
    ProposalId,
    /// A conversation of one user with a project's texts (`askProject`).
    ChatSessionId,
    /// One message of a chat session: a question or an answer.
    ChatMessageId,
);
