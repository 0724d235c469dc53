use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::ids::{DocumentId, ProjectId};
use nishan_domain::ports::{ConfigRepository, JobFilter, ModelRepository};

use crate::error::ApiResult;
use crate::graphql::pagination::{self, Conn};
use crate::graphql::types::{GqlJobKind, GqlJobStatus, LlmModel, LlmProcessingConfig, ProcessingJob, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject, Default)]
pub struct ProcessingJobFilter {
    pub project_id: Option<ID>,
    pub document_id: Option<ID>,
    pub status: Option<GqlJobStatus>,
    pub kind: Option<GqlJobKind>,
}

#[derive(Default)]
pub struct JobQuery;

#[Object]
impl JobQuery {
    /// Every configured model (signed-in users). Keys are never returned.
    async fn llm_models(&self, ctx: &Context<'_>) -> ApiResult<Vec<LlmModel>> {
        request(ctx).viewer.require()?;
        Ok(state(ctx).store.models().await?.into_iter().map(LlmModel).collect())
    }

    async fn processing_configs(&self, ctx: &Context<'_>) -> ApiResult<Vec<LlmProcessingConfig>> {
        request(ctx).viewer.require()?;
        Ok(state(ctx).store.configs().await?.into_iter().map(LlmProcessingConfig).collect())
    }

    /// A job; NOT_FOUND when the caller may not read its document (or its project).
    async fn processing_job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<ProcessingJob>> {
        let id = parse_id(&id, "id")?;
        let actor = request(ctx).viewer.optional()?;
        let (job, _) = state(ctx).jobs().find(actor.as_ref(), id).await?;
        Ok(Some(ProcessingJob(job)))
    }

    /// Jobs of the caller's projects (every job for global admins), newest first.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn processing_jobs(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProcessingJobFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<ProcessingJob>> {
        let actor = request(ctx).viewer.require()?;
        let page = pagination::page_request(first, after.as_deref())?;
        let f = filter.unwrap_or_default();
        let filter = JobFilter {
            project_id: f.project_id.as_ref().map(|p| parse_id(p, "projectId").map(ProjectId)).transpose()?,
            document_id: f.document_id.as_ref().map(|d| parse_id(d, "documentId").map(DocumentId)).transpose()?,
            status: f.status.map(Into::into),
            kind: f.kind.map(Into::into),
            member: None,
        };
        let jobs = state(ctx).jobs().list(&actor, filter, page).await?;
        Ok(pagination::connection(jobs, page, ProcessingJob))
    }
}
