use async_graphql::{Context, ID, Object};
use nishan_domain::ids::ProjectId;

use crate::error::ApiResult;
use crate::graphql::types::{LayerInput, ModelQuality, ProjectStatistics, UsageReport, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct StatisticsQuery;

#[Object]
impl StatisticsQuery {
    /// Where a project stands: documents by processing status; entities by type, source and
    /// verification; verifications per researcher; the quality of each model's suggestions.
    /// The entity side reads the curated layer unless `layer` names another (issue 12): an
    /// annotator their own, a manager any; another annotator's layer is FORBIDDEN.
    async fn project_statistics(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        layer: Option<LayerInput>,
    ) -> ApiResult<ProjectStatistics> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let actor = request(ctx).viewer.optional()?;
        let asked = layer.unwrap_or_default().to_domain()?;
        let (_, layer) = state(ctx).statistics().project_layer(actor.as_ref(), project, asked).await?;
        Ok(ProjectStatistics::new(project, layer))
    }

    /// Model tokens and cost per user, per model and per day over `[from, to)` (default: the
    /// last 30 days). Global admins see every call; with `projectId`, a project's OWNERs and
    /// ADMINs see its calls; anyone else sees their own.
    async fn usage(
        &self,
        ctx: &Context<'_>,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
        project_id: Option<ID>,
    ) -> ApiResult<UsageReport> {
        let project = project_id.map(|p| parse_id(&p, "projectId").map(ProjectId)).transpose()?;
        let actor = request(ctx).viewer.require()?;
        let (from, to, report) = state(ctx).usage().report(&actor, from, to, project).await?;
        Ok(UsageReport { from, to, report })
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
