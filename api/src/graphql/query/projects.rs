use async_graphql::{Context, ID, Object};
use nishan_domain::DomainError;
use nishan_domain::ids::ProjectId;
use nishan_domain::service::projects::ProjectRef;

use crate::error::{ApiResult, bad_input};
use crate::graphql::pagination::{self, Conn};
use crate::graphql::types::{Project, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct ProjectQuery;

#[Object]
impl ProjectQuery {
    /// A project by id or slug. NOT_FOUND when it does not exist or the caller may not see it
    /// (the two are indistinguishable, so a private project's existence does not leak).
    async fn project(&self, ctx: &Context<'_>, id: Option<ID>, slug: Option<String>) -> ApiResult<Option<Project>> {
        let by = match (id, slug) {
            (Some(id), None) => ProjectRef::Id(ProjectId(parse_id(&id, "id")?)),
            (None, Some(slug)) => ProjectRef::Slug(slug),
            _ => return Err(bad_input("id", "give exactly one of id and slug")),
        };
        let actor = request(ctx).viewer.optional()?;
        match state(ctx).projects().find(actor.as_ref(), by).await? {
            Some((project, _)) => Ok(Some(Project(project))),
            None => Err(DomainError::NotFound { resource: "project" }.into()),
        }
    }

    /// The projects the caller belongs to, plus public ones; newest first.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn projects(&self, ctx: &Context<'_>, first: Option<i32>, after: Option<String>) -> ApiResult<Conn<Project>> {
        let page = pagination::page_request(first, after.as_deref())?;
        let actor = request(ctx).viewer.optional()?;
        let projects = state(ctx).projects().list(actor.as_ref(), page).await?;
        Ok(pagination::connection(projects, page, Project))
    }
}
