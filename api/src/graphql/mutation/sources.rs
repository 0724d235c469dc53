use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::ids::ProjectId;
use nishan_domain::source::{SourceId, SourceInput};

use crate::error::ApiResult;
use crate::graphql::types::{Source, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct CreateSourceInput {
    pub project_id: ID,
    pub name: String,
    /// 1 to 100 absolute http(s) URLs, each on an allowed host.
    pub urls: Vec<String>,
    /// Pages holding none of them are skipped (compared Urdu-aware); none: every page is kept.
    pub keywords: Option<Vec<String>>,
    /// The hosts that may be fetched (redirects included); the URLs' hosts when omitted.
    pub allowed_hosts: Option<Vec<String>>,
    /// 1 to 1000 (default 50): most URLs one job takes up.
    pub max_pages: Option<u32>,
    /// More than 0, at most 10 (default 1).
    pub requests_per_second: Option<f64>,
    /// Follow links on fetched pages to the same host (default false: only `urls`).
    pub follow_links: Option<bool>,
}

#[derive(Default)]
pub struct SourceMutation;

#[Object]
impl SourceMutation {
    /// A source of web pages for the project (its OWNERs and ADMINs); fetch it with
    /// `startProcessingJob(input: {sourceId, kind: INGESTION})`.
    async fn create_source(&self, ctx: &Context<'_>, input: CreateSourceInput) -> ApiResult<Source> {
        let project = ProjectId(parse_id(&input.project_id, "projectId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let new = SourceInput {
            name: input.name,
            urls: input.urls,
            keywords: input.keywords.unwrap_or_default(),
            allowed_hosts: input.allowed_hosts.unwrap_or_default(),
            max_pages: input.max_pages,
            requests_per_second: input.requests_per_second,
            follow_links: input.follow_links,
        };
        Ok(Source(state(ctx).sources().create(&req.meta, &actor, project, new).await?))
    }

    /// Deletes a source (its documents stay); refused while one of its jobs is unfinished.
    async fn delete_source(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let id = SourceId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).sources().delete(&req.meta, &actor, id).await?;
        Ok(true)
    }
}
