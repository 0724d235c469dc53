//! Curation (issue 12): a document's open conflicts (OWNER, ADMIN) and where its curation
//! stands (anyone who reads the document).

use async_graphql::{Context, ID, Object};
use nishan_domain::ids::{DocumentId, UserId};

use crate::error::ApiResult;
use crate::graphql::types::{CurationConflict, CurationFeedback, DocumentCuration, parse_id};
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

    /// Once a document's curation has finished: where an annotator's layer (the caller's own
    /// unless `annotatorId` names another, which only managers may) differs from the gold:
    /// MISSED, EXTRA or WRONG_TYPE, in reading order. CONFLICT before the curation finished.
    async fn curation_feedback(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
        annotator_id: Option<ID>,
    ) -> ApiResult<Vec<CurationFeedback>> {
        let document = DocumentId(parse_id(&document_id, "documentId")?);
        let annotator = annotator_id.map(|a| parse_id(&a, "annotatorId").map(UserId)).transpose()?;
        let actor = request(ctx).viewer.optional()?;
        let feedback = state(ctx).curations().feedback(actor.as_ref(), document, annotator).await?;
        Ok(feedback.into_iter().map(CurationFeedback).collect())
    }

    /// Where a document's curation stands.
    async fn document_curation(&self, ctx: &Context<'_>, document_id: ID) -> ApiResult<DocumentCuration> {
        let document = DocumentId(parse_id(&document_id, "documentId")?);
        let actor = request(ctx).viewer.optional()?;
        Ok(DocumentCuration(state(ctx).curations().view(actor.as_ref(), document).await?))
    }
}
