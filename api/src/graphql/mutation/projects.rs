use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use nishan_domain::DomainError;
use nishan_domain::ids::{ProjectId, UserId};
use nishan_domain::membership::MembershipChange;
use nishan_domain::project::ProjectFields;
use nishan_domain::user::{Email, UserLookup, Username};

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
    /// Switching a project with entities to INDEPENDENT keeps them, as the curated layer.
    pub annotation_mode: Option<crate::graphql::types::GqlAnnotationMode>,
    /// Hours after which an IN_PROGRESS assignment nobody touched goes back to NEW (1 to
    /// 8760); null: never.
    pub abandon_after_hours: MaybeUndefined<i32>,
    /// Whether an annotator's layer starts as a copy of the models' layers when their
    /// assignment starts (see `Project.preAnnotate`).
    pub pre_annotate: Option<bool>,
}

/// Names the user to add by exactly one of `userId`, `username` and `email`.
#[derive(InputObject)]
pub struct AddProjectMemberInput {
    pub project_id: ID,
    /// The user's id.
    pub user_id: Option<ID>,
    /// The user's username (exactly, as they registered it).
    pub username: Option<String>,
    /// The user's email address (case does not matter).
    pub email: Option<String>,
    pub role: GqlRole,
}

impl AddProjectMemberInput {
    /// The one way the input names the user; BAD_USER_INPUT for none or more than one.
    fn lookup(&self) -> ApiResult<UserLookup> {
        let given: Vec<&str> = [
            self.user_id.as_ref().map(|_| "userId"),
            self.username.as_ref().map(|_| "username"),
            self.email.as_ref().map(|_| "email"),
        ]
        .into_iter()
        .flatten()
        .collect();
        match given.as_slice() {
            [] => {
                return Err(DomainError::invalid("userId", "name the user by one of userId, username or email").into());
            }
            [_] => {}
            [_, second, ..] => {
                let message = "name the user by only one of userId, username and email";
                return Err(DomainError::invalid(*second, message).into());
            }
        }
        Ok(match (&self.user_id, &self.username, &self.email) {
            (Some(id), _, _) => UserLookup::Id(UserId(parse_id(id, "userId")?)),
            (_, Some(name), _) => UserLookup::Username(Username::new(name)?),
            (_, _, Some(email)) => UserLookup::Email(Email::new(email)?),
            (None, None, None) => unreachable!("one of the three is given"),
        })
    }
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
            annotation_mode: None,
            abandon_after_hours: None,
            pre_annotate: None,
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
            annotation_mode: input.annotation_mode.map(Into::into),
            abandon_after_hours: match patch(input.abandon_after_hours) {
                Some(Some(h)) if !(1..=8760).contains(&h) => {
                    return Err(DomainError::invalid("abandonAfterHours", "must be 1 to 8760 hours").into());
                }
                other => other.map(|h| h.map(|h| h as u32)),
            },
            pre_annotate: input.pre_annotate,
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

    /// Adds the user named by `userId`, `username` or `email`. Needs the manage-users
    /// permission (anyone else gets FORBIDDEN, whether the user exists or not); only OWNERs
    /// grant OWNER; NOT_FOUND when no user has that id, username or email.
    async fn add_project_member(
        &self,
        ctx: &Context<'_>,
        input: AddProjectMemberInput,
    ) -> ApiResult<ProjectMembership> {
        // Who asks comes first: an anonymous caller learns nothing about the input.
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let project = ProjectId(parse_id(&input.project_id, "projectId")?);
        let who = input.lookup()?;
        let m = state(ctx).projects().add_member(&req.meta, &actor, project, who, input.role.into()).await?;
        Ok(ProjectMembership(m))
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
