//! Experiments and the review queue.

use async_graphql::{Context, ID, Object};
use nishan_domain::ids::{DocumentId, ProjectId};

use crate::error::ApiResult;
use crate::graphql::pagination::{self, Conn};
use crate::graphql::types::{Entity, EntityConnection, EntityCount, Experiment, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct LearningQuery;

#[Object]
impl LearningQuery {
    /// An experiment; NOT_FOUND when the caller may not read its project.
    async fn experiment(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Experiment> {
        let id = parse_id(&id, "id")?;
        let actor = request(ctx).viewer.optional()?;
        Ok(Experiment(state(ctx).learning().experiment(actor.as_ref(), id).await?))
    }

    /// A project's experiments, newest first.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn experiments(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Experiment>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let page = pagination::page_request(first, after.as_deref())?;
        let actor = request(ctx).viewer.optional()?;
        let found = state(ctx).learning().experiments(actor.as_ref(), project, page).await?;
        Ok(pagination::connection(found, page, Experiment))
    }

    /// The project's unverified model suggestions (of one document, when given) in the order a
    /// researcher's decision teaches most: confidence nearest the default configuration's
    /// threshold first, then the most disagreement between models, then by document and
    /// position.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn review_queue(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        document_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<EntityConnection> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let document = document_id.as_ref().map(|d| parse_id(d, "documentId").map(DocumentId)).transpose()?;
        let page = pagination::page_request(first, after.as_deref())?;
        let actor = request(ctx).viewer.optional()?;
        let queue = state(ctx).learning().review_queue(actor.as_ref(), project, document, page).await?;
        Ok(EntityCount::connection(pagination::connection(queue, page, Entity)))
    }
}
