use async_graphql::{Context, ID, Object};
use nishan_domain::ids::ProjectId;

use crate::error::ApiResult;
use crate::graphql::types::{ModelQuality, ProjectStatistics, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct StatisticsQuery;

#[Object]
impl StatisticsQuery {
    /// Where a project stands: documents by processing status; entities by type, source and
    /// verification; verifications per researcher; the quality of each model's suggestions.
    async fn project_statistics(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<ProjectStatistics> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let actor = request(ctx).viewer.optional()?;
        state(ctx).statistics().project_scope(actor.as_ref(), project).await?;
        Ok(ProjectStatistics::new(project))
    }

    /// One model's quality, in a project (read access), or in every project (global admins,
    /// without `projectId`).
    async fn model_quality(&self, ctx: &Context<'_>, model_id: ID, project_id: Option<ID>) -> ApiResult<ModelQuality> {
        let model = parse_id(&model_id, "modelId")?;
        let project = project_id.map(|p| parse_id(&p, "projectId").map(ProjectId)).transpose()?;
        let actor = request(ctx).viewer.optional()?;
        let q = state(ctx).statistics().quality_of_model(actor.as_ref(), model, project).await?;
        Ok(ModelQuality::new(q))
    }
}
