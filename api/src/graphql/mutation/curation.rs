//! Curation (issue 12): `curateDocument`, `acceptCandidate`, `leaveConflictEmpty` (OWNER,
//! ADMIN of an INDEPENDENT project).

use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::ids::{DocumentId, EntityId};
use nishan_domain::rounds::curating::Strategy;
use nishan_domain::rounds::curation::MinVotes;
use nishan_domain::service::curation::CurationView;

use crate::error::{ApiResult, bad_input};
use crate::graphql::types::{CurationResult, DocumentCuration, Entity, parse_id};
use crate::graphql::{request, state};

/// How `curateDocument` merges.
#[derive(InputObject)]
pub struct CurationStrategyInput {
    /// How many annotators must mark a span with the same type for it to be merged (1 to
    /// 100); default 2.
    #[graphql(default = 2)]
    pub min_votes: i32,
    /// Compare the layers of assignments not FINISHED too (IGNORED ones never count);
    /// default false.
    #[graphql(default = false)]
    pub include_unfinished: bool,
}

#[derive(Default)]
pub struct CurationMutation;

#[Object]
impl CurationMutation {
    /// Merges into the document's curated layer every span on which at least `minVotes` of the
    /// annotators' FINISHED layers agree (same span and type) and that outvotes every span
    /// overlapping it; the rest is left as conflicts (`curationConflicts`). What the curated
    /// layer holds and what the curator decided are kept. With no conflict left the curation is
    /// FINISHED (raising `curation.finished`).
    async fn curate_document(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
        strategy: Option<CurationStrategyInput>,
    ) -> ApiResult<CurationResult> {
        let document = DocumentId(parse_id(&document_id, "documentId")?);
        let strategy = strategy.unwrap_or(CurationStrategyInput { min_votes: 2, include_unfinished: false });
        let strategy = Strategy {
            min_votes: MinVotes::new(i64::from(strategy.min_votes))
                .map_err(|_| bad_input("strategy.minVotes", "must be between 1 and 100"))?,
            include_unfinished: strategy.include_unfinished,
        };
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let done = state(ctx).curations().curate(&req.meta, &actor, document, strategy).await?;
        Ok(CurationResult {
            merged: done.merged.len() as u32,
            conflicts: done.record.open_conflicts,
            state: done.record.state.into(),
            entities: done.merged.into_iter().map(Entity).collect(),
        })
    }

    /// Copies one candidate of an open conflict (an annotator's or a model's entity) into the
    /// curated layer and resolves that conflict; returns the curated entity. CONFLICT when no
    /// open conflict holds it (resolved meanwhile, or its layers changed).
    async fn accept_candidate(&self, ctx: &Context<'_>, document_id: ID, entity_id: ID) -> ApiResult<Entity> {
        let document = DocumentId(parse_id(&document_id, "documentId")?);
        let entity = EntityId(parse_id(&entity_id, "entityId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(Entity(state(ctx).curations().accept(&req.meta, &actor, document, entity).await?))
    }

    /// Resolves the open conflict at exactly `start..end` with nothing in the curated layer
    /// there. CONFLICT when no open conflict is there.
    async fn leave_conflict_empty(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
        start: u32,
        end: u32,
    ) -> ApiResult<DocumentCuration> {
        let document = DocumentId(parse_id(&document_id, "documentId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let record = state(ctx).curations().leave_empty(&req.meta, &actor, document, start, end).await?;
        Ok(DocumentCuration(CurationView { document_id: document, record: Some(record) }))
    }
}
