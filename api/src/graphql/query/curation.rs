//! Curation (issue 12): a document's open conflicts (OWNER, ADMIN) and where its curation
//! stands (anyone who reads the document).

use async_graphql::{Context, ID, Object};
use nishan_domain::ids::DocumentId;

use crate::error::ApiResult;
use crate::graphql::types::{CurationConflict, DocumentCuration, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct CurationQuery;

#[Object]
impl CurationQuery {
    /// The positions the compared layers disagree on, in reading order, each with every
    /// layer's candidates there (the models' included), by the strategy of the last
    /// `curateDocument`; empty before it.
    async fn curation_conflicts(&self, ctx: &Context<'_>, document_id: ID) -> ApiResult<Vec<CurationConflict>> {
        let document = DocumentId(parse_id(&document_id, "documentId")?);
        let actor = request(ctx).viewer.optional()?;
        let open = state(ctx).curations().conflicts(actor.as_ref(), document).await?;
        Ok(open.into_iter().map(CurationConflict).collect())
    }

    /// Where a document's curation stands.
    async fn document_curation(&self, ctx: &Context<'_>, document_id: ID) -> ApiResult<DocumentCuration> {
        let document = DocumentId(parse_id(&document_id, "documentId")?);
        let actor = request(ctx).viewer.optional()?;
        Ok(DocumentCuration(state(ctx).curations().view(actor.as_ref(), document).await?))
    }
}
