use async_graphql::{Context, ID, Object};
use nishan_domain::ids::{DocumentId, ProjectId};

use crate::error::ApiResult;
use crate::graphql::types::{GqlFormat, ImportResult, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct ExchangeMutation;

#[Object]
impl ExchangeMutation {
    /// Imports annotations into a document (edit-entities permission) with source IMPORT.
    /// The data's text must be the document's (BAD_USER_INPUT names the first line that
    /// differs); spans are checked like manual ones; spans the document has are skipped. All
    /// or nothing: any problem refuses the import. `dryRun` stores nothing and lists every
    /// problem (default false).
    async fn import_entities(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
        format: GqlFormat,
        data: String,
        dry_run: Option<bool>,
    ) -> ApiResult<ImportResult> {
        let id = DocumentId(parse_id(&document_id, "documentId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let report = state(ctx)
            .exchange()
            .import_entities(&req.meta, &actor, id, format.into(), &data, dry_run.unwrap_or(false))
            .await?;
        Ok(report.into())
    }

    /// Creates documents with their annotations in a project (upload-documents permission, and
    /// edit-entities when there are annotations), in one transaction: JSONL lines `{title,
    /// text, label?, verified?, relations?, direction?}`, or INLINE_TAGS (`<document>`
    /// elements, or bare tagged text as one document).
    async fn import_documents(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        format: GqlFormat,
        data: String,
        dry_run: Option<bool>,
    ) -> ApiResult<ImportResult> {
        let id = ProjectId(parse_id(&project_id, "projectId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let report = state(ctx)
            .exchange()
            .import_documents(&req.meta, &actor, id, format.into(), &data, dry_run.unwrap_or(false))
            .await?;
        Ok(report.into())
    }
}
