use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use nishan_domain::DomainError;
use nishan_domain::ids::{ProjectId, UserId};
use nishan_domain::membership::MembershipChange;
use nishan_domain::project::ProjectFields;

use super::accounts::patch;
use crate::error::ApiResult;
use crate::graphql::types::{GqlProjectStatus, GqlRole, Project, ProjectMembership, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct CreateProjectInput {
    pub name: String,
    pub description: Option<String>,
    pub research_area: Option<String>,
    pub methodology: Option<String>,
    pub objectives: Option<String>,
    pub timeline: Option<String>,
    pub status: Option<GqlProjectStatus>,
    pub is_public: Option<bool>,
    pub allow_public_view: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub references: Option<Vec<String>>,
}

/// Omitted fields stay as they are; null clears an optional one. The slug never changes, so
/// links to a project survive a rename.
#[derive(InputObject)]
pub struct UpdateProjectInput {
    pub name: Option<String>,
    pub description: MaybeUndefined<String>,
    pub research_area: MaybeUndefined<String>,
    pub methodology: MaybeUndefined<String>,
    pub objectives: MaybeUndefined<String>,
    pub timeline: MaybeUndefined<String>,
    pub status: Option<GqlProjectStatus>,
    pub is_public: Option<bool>,
    pub allow_public_view: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub references: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct AddProjectMemberInput {
    pub project_id: ID,
    pub user_id: ID,
    pub role: GqlRole,
}

#[derive(InputObject)]
pub struct UpdateProjectMemberInput {
    pub project_id: ID,
    pub user_id: ID,
    pub role: GqlRole,
}

#[derive(Default)]
pub struct ProjectMutation;

impl ProjectMutation {
    async fn change(
        &self,
        ctx: &Context<'_>,
        project: &ID,
        user: &ID,
        change: MembershipChange,
    ) -> ApiResult<Option<ProjectMembership>> {
        let project = ProjectId(parse_id(project, "projectId")?);
        let user = UserId(parse_id(user, "userId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let m = state(ctx).projects().change_member(&req.meta, &actor, project, user, change).await?;
        Ok(m.map(ProjectMembership))
    }
}

#[Object]
impl ProjectMutation {
    /// Creates a project; the caller becomes its OWNER.
    async fn create_project(&self, ctx: &Context<'_>, input: CreateProjectInput) -> ApiResult<Project> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let fields = ProjectFields {
            name: Some(input.name),
            description: input.description.map(Some),
            research_area: input.research_area.map(Some),
            methodology: input.methodology.map(Some),
            objectives: input.objectives.map(Some),
            timeline: input.timeline.map(Some),
            status: input.status.map(Into::into),
            is_public: input.is_public,
            allow_public_view: input.allow_public_view,
            tags: input.tags,
            references: input.references,
        };
        Ok(Project(state(ctx).projects().create(&req.meta, &actor, fields).await?))
    }

    /// Needs the edit-project permission (OWNER, ADMIN).
    async fn update_project(&self, ctx: &Context<'_>, id: ID, input: UpdateProjectInput) -> ApiResult<Project> {
        let id = ProjectId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let fields = ProjectFields {
            name: input.name,
            description: patch(input.description),
            research_area: patch(input.research_area),
            methodology: patch(input.methodology),
            objectives: patch(input.objectives),
            timeline: patch(input.timeline),
            status: input.status.map(Into::into),
            is_public: input.is_public,
            allow_public_view: input.allow_public_view,
            tags: input.tags,
            references: input.references,
        };
        Ok(Project(state(ctx).projects().update(&req.meta, &actor, id, fields).await?))
    }

    /// Deletes the project and everything in it. OWNERs only.
    async fn delete_project(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let id = ProjectId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).projects().delete(&req.meta, &actor, id).await?;
        Ok(true)
    }

    /// Needs the manage-users permission; only OWNERs grant OWNER.
    async fn add_project_member(
        &self,
        ctx: &Context<'_>,
        input: AddProjectMemberInput,
    ) -> ApiResult<ProjectMembership> {
        let m = self.change(ctx, &input.project_id, &input.user_id, MembershipChange::Add(input.role.into())).await?;
        Ok(m.ok_or_else(|| DomainError::internal("membership missing after add"))?)
    }

    /// Changes a member's role. A project always keeps one active OWNER (CONFLICT otherwise).
    async fn update_project_member(
        &self,
        ctx: &Context<'_>,
        input: UpdateProjectMemberInput,
    ) -> ApiResult<ProjectMembership> {
        let m =
            self.change(ctx, &input.project_id, &input.user_id, MembershipChange::SetRole(input.role.into())).await?;
        Ok(m.ok_or_else(|| DomainError::internal("membership missing after update"))?)
    }

    /// Removes a member (members may remove themselves). The last OWNER cannot be removed.
    async fn remove_project_member(&self, ctx: &Context<'_>, project_id: ID, user_id: ID) -> ApiResult<bool> {
        self.change(ctx, &project_id, &user_id, MembershipChange::Remove).await?;
        Ok(true)
    }
}
