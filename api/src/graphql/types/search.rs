//! Search hits as clients see them.

use async_graphql::{Context, ID, Object, SimpleObject};
use nishan_domain::service::search::SearchHit as DomainHit;

use super::{Document, Entity};
use crate::error::ApiResult;
use crate::graphql::loaders::{DocumentLoader, EntityLoader, Loaded};

/// Code points `[start, end)` of `Document.content`.
#[derive(SimpleObject, Clone, Copy)]
pub struct TextSpan {
    pub start: u32,
    pub end: u32,
}

/// A passage of a document that matches a search: a line (or a piece of a line longer than 64
/// words).
pub struct SearchHit(pub DomainHit);

#[Object]
impl SearchHit {
    async fn document(&self, ctx: &Context<'_>) -> ApiResult<Option<Document>> {
        Ok(ctx.data_unchecked::<Loaded<DocumentLoader>>().load_one(self.0.document_id).await?.map(Document))
    }

    /// The line's number in the document, 1-based.
    async fn line_number(&self) -> u32 {
        self.0.line_number
    }

    /// The passage's text: `Document.content[start..end]`.
    async fn text(&self) -> &str {
        &self.0.text
    }

    /// Code-point offset of the passage in `Document.content`.
    async fn start(&self) -> u32 {
        self.0.start
    }

    async fn end(&self) -> u32 {
        self.0.end
    }

    /// BM25 over the project's passages (higher is better; with semantic ranking, the fused
    /// score of reciprocal rank fusion).
    async fn score(&self) -> f64 {
        self.0.score
    }

    /// Where the query's words stand, in code points of `Document.content`.
    async fn highlights(&self) -> Vec<TextSpan> {
        self.0.highlights.iter().map(|h| TextSpan { start: h.start, end: h.end }).collect()
    }

    /// The entities under the highlights, by start.
    async fn entities(&self, ctx: &Context<'_>) -> ApiResult<Vec<Entity>> {
        let loaded = ctx.data_unchecked::<Loaded<EntityLoader>>().load_many(self.0.entities.iter().copied()).await?;
        Ok(self.0.entities.iter().filter_map(|id| loaded.get(id).cloned()).map(Entity).collect())
    }

    /// The passage's id in the index (a line a content edit changes gets new passages, and new ids).
    async fn passage_id(&self) -> ID {
        ID(self.0.passage.0.to_string())
    }
}

/// How far a project's chunks (its lines) are embedded under its embedding model.
pub struct EmbeddingStatus(pub nishan_domain::ports::EmbeddingStatus);

#[Object]
impl EmbeddingStatus {
    /// The project's embedding model; none: search is lexical only.
    async fn model(&self) -> Option<super::LlmModel> {
        self.0.model.clone().map(super::LlmModel)
    }

    /// Distinct chunks (passage texts) of the project.
    async fn chunks(&self) -> u64 {
        self.0.chunks
    }

    /// Chunks with a vector under the model.
    async fn embedded(&self) -> u64 {
        self.0.embedded
    }

    /// Chunks without one (new, or changed since they were embedded): the next EMBEDDING job
    /// embeds them.
    async fn stale(&self) -> u64 {
        self.0.chunks.saturating_sub(self.0.embedded)
    }
}
