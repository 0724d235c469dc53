use async_graphql::{Context, ID, Object};
use nishan_domain::ids::{EntityTypeId, KnowledgeItemId, ProjectId};
use nishan_domain::ports::{KnowledgeFilter, ProposalFilter};

use crate::error::{ApiResult, bad_input};
use crate::graphql::pagination::{self, Conn};
use crate::graphql::types::{
    GqlKnowledgeFormat, GqlProposalKind, GqlProposalStatus, GqlUnit, KnowledgeCandidate, KnowledgeCooccurrence,
    KnowledgeItem, KnowledgeProposal, parse_id,
};
use crate::graphql::{request, state};

/// Most pairs `knowledgeCooccurrence` answers.
const MAX_PAIRS: i32 = 500;

#[derive(Default)]
pub struct KnowledgeQuery;

#[Object]
impl KnowledgeQuery {
    /// An entry; the id of an entry merged into another names that one. NOT_FOUND when it does
    /// not exist (or was deleted), or its project is not visible to the caller.
    async fn knowledge_item(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<KnowledgeItem>> {
        let id = KnowledgeItemId(parse_id(&id, "id")?);
        let actor = request(ctx).viewer.optional()?;
        let (item, _) = state(ctx).knowledge().find(actor.as_ref(), id).await?;
        Ok(Some(KnowledgeItem::new(item)))
    }

    /// A project's entries in creation order; `search` keeps those with a name or alias
    /// containing it under Urdu-aware folding (at most 200 characters).
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    #[allow(clippy::too_many_arguments)]
    async fn knowledge_items(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        search: Option<String>,
        entity_type_id: Option<ID>,
        approved: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<KnowledgeItem>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let entity_type_id = entity_type_id.map(|t| parse_id(&t, "entityTypeId").map(EntityTypeId)).transpose()?;
        let page = pagination::page_request(first, after.as_deref())?;
        let actor = request(ctx).viewer.optional()?;
        let filter = KnowledgeFilter { entity_type_id, approved, ids: None };
        let found = state(ctx).knowledge().list(actor.as_ref(), project, search.as_deref(), filter, page).await?;
        Ok(pagination::connection(found, page, KnowledgeItem::new))
    }

    /// The entries a text may name, best first, each with the name or alias that matched:
    /// exact matches under Urdu-aware folding (the folding of model-output alignment), then
    /// prefixes, then near misses. `text` at most 200 characters; `first` at most 50
    /// (default 10).
    async fn knowledge_candidates(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        text: String,
        entity_type_id: Option<ID>,
        first: Option<i32>,
    ) -> ApiResult<Vec<KnowledgeCandidate>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let entity_type_id = entity_type_id.map(|t| parse_id(&t, "entityTypeId").map(EntityTypeId)).transpose()?;
        let first = match first {
            Some(n) if n < 0 => return Err(bad_input("first", "must not be negative")),
            other => other.map(|n| n as usize),
        };
        let actor = request(ctx).viewer.optional()?;
        let found = state(ctx).knowledge().candidates(actor.as_ref(), project, &text, entity_type_id, first).await?;
        Ok(found.into_iter().map(KnowledgeCandidate).collect())
    }

    /// Pairs of entries mentioned together in one line, stanza (the default) or document,
    /// with the number of such units; at least `minCount` (default 1), most frequent first,
    /// at most `first` pairs (default 100, at most 500).
    async fn knowledge_cooccurrence(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        unit: Option<GqlUnit>,
        min_count: Option<i32>,
        first: Option<i32>,
    ) -> ApiResult<Vec<KnowledgeCooccurrence>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let first = first.unwrap_or(100);
        if !(0..=MAX_PAIRS).contains(&first) {
            return Err(bad_input("first", &format!("must be between 0 and {MAX_PAIRS}")));
        }
        let min_count = min_count.unwrap_or(1).max(1) as u32;
        let actor = request(ctx).viewer.optional()?;
        let unit = unit.unwrap_or(GqlUnit::Stanza).into();
        let pairs = state(ctx).knowledge().cooccurrence(actor.as_ref(), project, unit, min_count).await?;
        Ok(pairs.into_iter().take(first as usize).map(KnowledgeCooccurrence).collect())
    }

    /// A project's LINKING proposals, oldest first, narrowed by status, kind and job.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    #[allow(clippy::too_many_arguments)]
    async fn knowledge_proposals(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        status: Option<GqlProposalStatus>,
        kind: Option<GqlProposalKind>,
        job_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<KnowledgeProposal>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let job = job_id.map(|j| parse_id(&j, "jobId")).transpose()?;
        let page = pagination::page_request(first, after.as_deref())?;
        let actor = request(ctx).viewer.optional()?;
        let filter = ProposalFilter { status: status.map(Into::into), kind: kind.map(Into::into), job };
        let found = state(ctx).knowledge().proposals(actor.as_ref(), project, filter, page).await?;
        Ok(pagination::connection(found, page, KnowledgeProposal))
    }

    /// The project's knowledge base as JSONL or CSV (the export permission); recorded in the
    /// audit log.
    async fn export_knowledge_base(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        format: GqlKnowledgeFormat,
    ) -> ApiResult<String> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(state(ctx).knowledge().export(&req.meta, &actor, project, format.into()).await?)
    }
}
