//! Searching a project's texts.

use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::ids::{DocumentId, EntityTypeId, KnowledgeItemId, ProjectId};
use nishan_domain::service::search::SearchRequest;

use crate::error::ApiResult;
use crate::graphql::pagination::{self, Conn};
use crate::graphql::types::{EmbeddingStatus, SearchHit, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct SearchInput {
    pub project_id: ID,
    /// Words (all must occur), `prefix*`, and "quoted phrases"; at most 500 characters and 16
    /// terms. Urdu-aware: Arabic yeh and kaf, diacritics, honorifics and ZWNJ do not count.
    pub query: String,
    /// Only lines where the query matches inside an entity of one of these types (at most 50).
    pub entity_type_ids: Option<Vec<ID>>,
    /// Only these documents (at most 100).
    pub document_ids: Option<Vec<ID>>,
    /// Only lines where the query matches inside a mention linked to one of these knowledge
    /// entries (at most 50).
    pub knowledge_item_ids: Option<Vec<ID>>,
    /// Page size (default 20, at most 100).
    pub first: Option<i32>,
    pub after: Option<String>,
}

#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// The lines of a project's documents that hold the query, best first (BM25). Whoever may
    /// read the project may search it; NOT_FOUND otherwise. When the project has embeddings
    /// under its embedding model, the lexical and the semantic rankings are fused (reciprocal
    /// rank fusion, k = 60) and `score` is the fused score.
    #[graphql(complexity = "pagination::complexity(child_complexity, input.first)")]
    async fn search(&self, ctx: &Context<'_>, input: SearchInput) -> ApiResult<Conn<SearchHit>> {
        let page = pagination::page_request(input.first, input.after.as_deref())?;
        let ids = |list: Option<Vec<ID>>, field: &str| -> ApiResult<Vec<uuid::Uuid>> {
            list.unwrap_or_default().iter().map(|id| parse_id(id, field)).collect()
        };
        let search = SearchRequest {
            project: ProjectId(parse_id(&input.project_id, "projectId")?),
            query: input.query,
            entity_types: ids(input.entity_type_ids, "entityTypeIds")?.into_iter().map(EntityTypeId).collect(),
            documents: ids(input.document_ids, "documentIds")?.into_iter().map(DocumentId).collect(),
            knowledge_items: ids(input.knowledge_item_ids, "knowledgeItemIds")?
                .into_iter()
                .map(KnowledgeItemId)
                .collect(),
            page,
        };
        let actor = request(ctx).viewer.optional()?;
        let app = state(ctx);
        let embedder = app.query_embedder(actor.as_ref());
        let hits = app.search(&embedder).search(actor.as_ref(), search).await?;
        Ok(pagination::connection(hits, page, SearchHit))
    }

    /// How far a project's chunks are embedded (whoever reads the project; NOT_FOUND otherwise).
    async fn embedding_status(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<EmbeddingStatus> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let actor = request(ctx).viewer.optional()?;
        Ok(EmbeddingStatus(state(ctx).embeddings().status(actor.as_ref(), project).await?))
    }
}
