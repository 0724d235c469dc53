use async_graphql::{Context, ID, Object};
use nishan_domain::ids::{DocumentId, ProjectId};
use nishan_domain::ports::Scope;

use crate::error::ApiResult;
use crate::graphql::types::{GqlFormat, LayerInput, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct ExchangeQuery;

#[Object]
impl ExchangeQuery {
    /// A document's annotations in a format (the export permission); recorded in the audit
    /// log. `verifiedOnly` (default false) leaves out unverified entities. `layer` (issue 12)
    /// names the layer exported: the curated one by default; an annotator may name their own,
    /// a manager any (another annotator's layer is FORBIDDEN).
    #[graphql(complexity = "crate::graphql::execution::text_cost(child_complexity)")]
    async fn export_document(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
        format: GqlFormat,
        verified_only: Option<bool>,
        layer: Option<LayerInput>,
    ) -> ApiResult<String> {
        let scope = Scope::Document(DocumentId(parse_id(&document_id, "documentId")?));
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let layer = layer.unwrap_or_default().to_domain()?;
        Ok(state(ctx)
            .exchange()
            .export(&req.meta, &actor, scope, format.into(), verified_only.unwrap_or(false), layer)
            .await?)
    }

    /// Every document of a project, oldest first, in a format (the export permission);
    /// recorded in the audit log. `layer` as for `exportDocument`.
    #[graphql(complexity = "crate::graphql::execution::text_cost(child_complexity)")]
    async fn export_project(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        format: GqlFormat,
        verified_only: Option<bool>,
        layer: Option<LayerInput>,
    ) -> ApiResult<String> {
        let scope = Scope::Project(ProjectId(parse_id(&project_id, "projectId")?));
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let layer = layer.unwrap_or_default().to_domain()?;
        Ok(state(ctx)
            .exchange()
            .export(&req.meta, &actor, scope, format.into(), verified_only.unwrap_or(false), layer)
            .await?)
    }
}
