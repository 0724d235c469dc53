//! Assignments (issue 12): the caller's own, and a project's counts by annotator and state.

use async_graphql::{Context, ID, Object};
use nishan_domain::ids::ProjectId;

use crate::error::ApiResult;
use crate::graphql::pagination::{self, Conn};
use crate::graphql::types::{Assignment, AssignmentCount, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct AssignmentQuery;

#[Object]
impl AssignmentQuery {
    /// The caller's assignments in a project, oldest first (signed in; NOT_FOUND when the
    /// caller may not read the project).
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn my_assignments(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Assignment>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let page = pagination::page_request(first, after.as_deref())?;
        let actor = request(ctx).viewer.require()?;
        let found = state(ctx).assignments().mine(&actor, project, page).await?;
        Ok(pagination::connection(found, page, Assignment))
    }

    /// How many assignments each annotator holds in each state (OWNER, ADMIN).
    async fn assignment_counts(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<Vec<AssignmentCount>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let actor = request(ctx).viewer.optional()?;
        let counts = state(ctx).assignments().counts(actor.as_ref(), project).await?;
        Ok(counts
            .into_iter()
            .map(|(u, s, n)| AssignmentCount { annotator_id: ID(u.0.to_string()), state: s.into(), count: n })
            .collect())
    }
}
