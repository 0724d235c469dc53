//! Assignments of documents to annotators (issue 12), as clients see them.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::rounds::assignment::{Assignment as DomainAssignment, AssignmentState};

use super::{Document, User};
use crate::error::ApiResult;
use crate::graphql::loaders::{DocumentLoader, Loaded, UserLoader};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "AssignmentState", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlAssignmentState {
    /// Assigned; the annotator has not changed their layer yet.
    New,
    /// The annotator changed their layer.
    InProgress,
    /// The annotator finished: the layer takes no more edits (a manager may reopen it).
    Finished,
    /// A manager locked the layer: it takes no edits.
    Locked,
    /// A manager left the layer out.
    Ignored,
}

impl From<AssignmentState> for GqlAssignmentState {
    fn from(s: AssignmentState) -> Self {
        match s {
            AssignmentState::New => Self::New,
            AssignmentState::InProgress => Self::InProgress,
            AssignmentState::Finished => Self::Finished,
            AssignmentState::Locked => Self::Locked,
            AssignmentState::Ignored => Self::Ignored,
        }
    }
}

impl From<GqlAssignmentState> for AssignmentState {
    fn from(s: GqlAssignmentState) -> Self {
        match s {
            GqlAssignmentState::New => Self::New,
            GqlAssignmentState::InProgress => Self::InProgress,
            GqlAssignmentState::Finished => Self::Finished,
            GqlAssignmentState::Locked => Self::Locked,
            GqlAssignmentState::Ignored => Self::Ignored,
        }
    }
}

/// One document assigned to one annotator, who annotates it in their own layer.
pub struct Assignment(pub DomainAssignment);

#[Object]
impl Assignment {
    async fn id(&self) -> ID {
        ID(self.0.id.0.to_string())
    }
    async fn document(&self, ctx: &Context<'_>) -> ApiResult<Option<Document>> {
        Ok(ctx.data_unchecked::<Loaded<DocumentLoader>>().load_one(self.0.document_id).await?.map(Document))
    }
    async fn annotator(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(self.0.annotator).await?.map(User::new))
    }
    async fn state(&self) -> GqlAssignmentState {
        self.0.state.into()
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

/// How many assignments one annotator holds in one state.
#[derive(SimpleObject)]
pub struct AssignmentCount {
    pub annotator_id: ID,
    pub state: GqlAssignmentState,
    pub count: u64,
}
