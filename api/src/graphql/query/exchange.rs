use async_graphql::{Context, ID, Object};
use nishan_domain::ids::{DocumentId, ProjectId};
use nishan_domain::ports::Scope;

use crate::error::ApiResult;
use crate::graphql::types::{GqlFormat, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct ExchangeQuery;

#[Object]
impl ExchangeQuery {
    /// A document's annotations in a format (the export permission); recorded in the audit
    /// log. `verifiedOnly` (default false) leaves out unverified entities.
    #[graphql(complexity = "crate::graphql::execution::text_cost(child_complexity)")]
    async fn export_document(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
        format: GqlFormat,
        verified_only: Option<bool>,
    ) -> ApiResult<String> {
        let scope = Scope::Document(DocumentId(parse_id(&document_id, "documentId")?));
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(state(ctx)
            .exchange()
            .export(&req.meta, &actor, scope, format.into(), verified_only.unwrap_or(false))
            .await?)
    }

    /// Every document of a project, oldest first, in a format (the export permission);
    /// recorded in the audit log.
    #[graphql(complexity = "crate::graphql::execution::text_cost(child_complexity)")]
    async fn export_project(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        format: GqlFormat,
        verified_only: Option<bool>,
    ) -> ApiResult<String> {
        let scope = Scope::Project(ProjectId(parse_id(&project_id, "projectId")?));
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(state(ctx)
            .exchange()
            .export(&req.meta, &actor, scope, format.into(), verified_only.unwrap_or(false))
            .await?)
    }
}
