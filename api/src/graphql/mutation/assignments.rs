//! Assignments (issue 12): `assignDocuments`, `finishAssignment`, `setAssignmentState`.

use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::ids::{DocumentId, ProjectId, UserId};
use nishan_domain::rounds::assignment::AssignmentId;
use nishan_domain::service::assignments::AssignRequest;

use crate::error::ApiResult;
use crate::graphql::types::{Assignment, GqlAssignmentState, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct AssignDocumentsInput {
    pub project_id: ID,
    /// At most 1,000.
    pub document_ids: Vec<ID>,
    /// Members who may annotate (RESEARCHER, ADMIN, OWNER); at most 100.
    pub annotator_ids: Vec<ID>,
    /// When given, every document goes to this many of the annotators, the least loaded first
    /// (ties in the order given); otherwise every document goes to every annotator.
    pub annotators_per_document: Option<i32>,
}

#[derive(Default)]
pub struct AssignmentMutation;

#[Object]
impl AssignmentMutation {
    /// Assigns documents of an INDEPENDENT project to annotators (OWNER, ADMIN); pairs
    /// assigned already stay as they are. Returns the assignments of these documents to these
    /// annotators.
    async fn assign_documents(&self, ctx: &Context<'_>, input: AssignDocumentsInput) -> ApiResult<Vec<Assignment>> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let ask = AssignRequest {
            project: ProjectId(parse_id(&input.project_id, "projectId")?),
            documents: input
                .document_ids
                .iter()
                .map(|d| parse_id(d, "documentIds").map(DocumentId))
                .collect::<ApiResult<_>>()?,
            annotators: input
                .annotator_ids
                .iter()
                .map(|u| parse_id(u, "annotatorIds").map(UserId))
                .collect::<ApiResult<_>>()?,
            per_document: input.annotators_per_document.map(i64::from),
        };
        let done = state(ctx).assignments().assign(&req.meta, &actor, ask).await?;
        Ok(done.into_iter().map(Assignment).collect())
    }

    /// The annotator (or a manager) finishes an assignment: its layer takes no more edits
    /// (CONFLICT) until a manager reopens it. Raises `assignment.finished`.
    async fn finish_assignment(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Assignment> {
        let id = AssignmentId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(Assignment(state(ctx).assignments().finish(&req.meta, &actor, id).await?))
    }

    /// A manager sets an assignment's state: LOCKED, IGNORED, or back to NEW or IN_PROGRESS
    /// (reopening a FINISHED or LOCKED one).
    async fn set_assignment_state(
        &self,
        ctx: &Context<'_>,
        id: ID,
        state: GqlAssignmentState,
    ) -> ApiResult<Assignment> {
        let id = AssignmentId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(Assignment(crate::graphql::state(ctx).assignments().set_state(&req.meta, &actor, id, state.into()).await?))
    }
}
