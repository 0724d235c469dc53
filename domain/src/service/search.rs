//! Searching a project: whoever may read a project may search it (NOT_FOUND otherwise, as for
//! every read). The query is parsed (`search::query`), the index proposes candidate passages,
//! and the ranking (`search::rank`) decides the hits, their scores and their order; a hit
//! carries the passage's text, the highlights of the query's words in it and the entities
//! under those highlights. With an entity-type filter, a hit is a passage where the query
//! matches inside an entity of one of the types (its highlights are those places); with a
//! knowledge-entry filter, likewise inside a mention linked to one of the entries.
//!
//! Hybrid ranking: when the project has an embedding model and vectors under it, the query is
//! embedded once (`service::embeddings::QueryEmbedder`), the project's passage vectors are
//! ranked by cosine in process (`search::semantic::top_k`, the best
//! [`SEMANTIC_CANDIDATES`](crate::search::semantic::SEMANTIC_CANDIDATES)), and both rankings
//! are fused by reciprocal rank fusion (k = 60): a hit's `score` is then its fused score. A
//! passage only the semantic ranking finds has no highlights; the document filter applies to
//! it in the store, the entity-type and knowledge-entry filters as "the passage holds such an
//! entity".

use std::collections::{HashMap, HashSet};

use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, EntityId, EntityTypeId, KnowledgeItemId, ProjectId};
use crate::policy::Actor;
use crate::ports::{
    EmbeddingRepository, ModelRepository, Page, PageRequest, PassageEntity, ProjectRepository, SearchFilter,
    SearchRepository,
};
use crate::search::rank::{Highlight, group_slices, highlights, rank};
use crate::search::semantic::{SEMANTIC_CANDIDATES, fuse, top_k};
use crate::search::{Matching, PassageId, Ranked, SearchQuery, Term, WordScoring};
use crate::service::embeddings::{Lexical, Semantic};
use crate::service::projects::{ProjectRef, Projects};

/// Most documents one search may be narrowed to.
pub const MAX_FILTER_DOCUMENTS: usize = 100;
/// Most entity types one search may be narrowed to.
pub const MAX_FILTER_TYPES: usize = 50;
/// Most knowledge entries one search may be narrowed to.
pub const MAX_FILTER_ITEMS: usize = 50;

/// A search as a client asks it.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub project: ProjectId,
    pub query: String,
    pub entity_types: Vec<EntityTypeId>,
    pub documents: Vec<DocumentId>,
    /// Only places inside mentions linked to one of these entries.
    pub knowledge_items: Vec<KnowledgeItemId>,
    pub page: PageRequest,
}

/// One hit: a passage of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub passage: PassageId,
    pub document_id: DocumentId,
    pub line_number: u32,
    /// Code-point offsets of the passage in its document.
    pub start: u32,
    pub end: u32,
    pub text: String,
    pub score: f64,
    /// Where the query's words stand, in code points of the document.
    pub highlights: Vec<Highlight>,
    /// The entities under the highlights, by start.
    pub entities: Vec<EntityId>,
}

pub struct Search<'a, S, Q = Lexical> {
    pub store: &'a S,
    /// The query embedder of hybrid ranking (lexical only without one).
    pub semantic: Option<&'a Q>,
}

impl<'a, S> Search<'a, S> {
    /// A lexical-only search.
    pub fn lexical(store: &'a S) -> Self {
        Self { store, semantic: None }
    }
}

impl<S, Q> Search<'_, S, Q>
where
    S: SearchRepository + ProjectRepository + EmbeddingRepository + ModelRepository,
    Q: Semantic,
{
    /// A page of the project's hits for the request, best first, with the number of all hits.
    /// Errors: NOT_FOUND when the caller may not read the project; `Invalid` for a query the
    /// parser refuses (`search::query`) or filters over their maxima.
    pub async fn search(&self, actor: Option<&Actor>, request: SearchRequest) -> DomainResult<Page<SearchHit>> {
        if request.documents.len() > MAX_FILTER_DOCUMENTS {
            return Err(DomainError::invalid(
                "documentIds",
                format!("may name at most {MAX_FILTER_DOCUMENTS} documents"),
            ));
        }
        if request.entity_types.len() > MAX_FILTER_TYPES {
            return Err(DomainError::invalid("entityTypeIds", format!("may name at most {MAX_FILTER_TYPES} types")));
        }
        if request.knowledge_items.len() > MAX_FILTER_ITEMS {
            return Err(DomainError::invalid(
                "knowledgeItemIds",
                format!("may name at most {MAX_FILTER_ITEMS} entries"),
            ));
        }
        let query = SearchQuery::parse(&request.query)?;
        Projects { store: self.store, events: &crate::events::NoEvents }
            .find(actor, ProjectRef::Id(request.project))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        let filter = SearchFilter {
            documents: request.documents,
            entity_types: request.entity_types,
            knowledge_items: request.knowledge_items,
        };
        if let Some(page) = self.word_page(request.project, &query, &filter, request.page).await? {
            return Ok(page);
        }
        let ranked = self.hybrid(request.project, &request.query, &query, Matching::All, &filter).await?;
        self.page(ranked, &filter, request.page).await
    }

    /// A page of a query of whole words, without entity filters or hybrid ranking: the store
    /// orders the hits by their BM25 score (`search::WordScoring`) and returns only the page,
    /// which the ranking here scores again (the same numbers); the texts, highlights and
    /// entities are read for the page alone. The total is the index's count of passages
    /// holding every word. `None` when the query or the project needs the general path.
    async fn word_page(
        &self,
        project: ProjectId,
        query: &SearchQuery,
        filter: &SearchFilter,
        page: PageRequest,
    ) -> DomainResult<Option<Page<SearchHit>>> {
        if filter.by_entities() || !query.terms.iter().all(|t| matches!(t, Term::Word(_))) {
            return Ok(None);
        }
        if self.semantic.is_some() && self.store.project_embedding_model(project).await?.is_some() {
            return Ok(None);
        }
        let stats = self.store.search_stats(project).await?;
        if let ([Term::Word(word)], true) = (query.terms.as_slice(), filter.documents.is_empty()) {
            return self.one_word_page(project, query, word, stats, page).await.map(Some);
        }
        let df = self.store.document_frequencies(project, &query.terms).await?;
        let Some(scoring) = WordScoring::of(query, stats, &df) else { return Ok(None) };
        let total = match df.as_slice() {
            [one] if filter.documents.is_empty() => *one,
            _ => self.store.count_matches(project, &query.terms, &filter.documents).await?,
        };
        let top = self.store.top_word_matches(project, &scoring, &filter.documents, page).await?;
        let ranked = rank(query, Matching::All, top, stats, &df);
        let ids: Vec<PassageId> = ranked.iter().map(|r| r.candidate.passage).collect();
        let texts = self.store.passage_texts(&ids).await?;
        let mut under: HashMap<PassageId, Vec<PassageEntity>> = HashMap::new();
        for e in self.store.passage_entities(&ids, &[], &[]).await? {
            under.entry(e.passage).or_default().push(e);
        }
        Ok(Some(Page { items: hits_of(ranked, texts, &under), total }))
    }

    /// A page of a one-word query over the whole project, from the word's groups
    /// (`search::rank::group_slices`): the total is the sum of the groups, and only the rows of
    /// the groups the page falls in are read, in place order; the ranking here scores and
    /// orders them again (the same numbers).
    async fn one_word_page(
        &self,
        project: ProjectId,
        query: &SearchQuery,
        word: &str,
        stats: crate::search::CorpusStats,
        page: PageRequest,
    ) -> DomainResult<Page<SearchHit>> {
        let groups = self.store.word_groups(project, word).await?;
        let df: u64 = groups.iter().map(|g| g.passages).sum();
        let idf = crate::search::rank::idf(stats.passages, df);
        let mut candidates = Vec::new();
        for slice in group_slices(&groups, idf, stats.mean_length(), page.offset, page.limit) {
            let rows = PageRequest { offset: slice.offset, limit: slice.limit };
            candidates.extend(self.store.group_passages(project, word, &slice.groups, rows).await?);
        }
        let ranked = rank(query, Matching::All, candidates, stats, &[df]);
        let ids: Vec<PassageId> = ranked.iter().map(|r| r.candidate.passage).collect();
        let texts = self.store.passage_texts(&ids).await?;
        let mut under: HashMap<PassageId, Vec<PassageEntity>> = HashMap::new();
        for e in self.store.passage_entities(&ids, &[], &[]).await? {
            under.entry(e.passage).or_default().push(e);
        }
        Ok(Page { items: hits_of(ranked, texts, &under), total: df })
    }

    /// Every hit of `query` in the project, ranked (no access check: callers check).
    pub async fn ranked(
        &self,
        project: ProjectId,
        query: &SearchQuery,
        matching: Matching,
        filter: &SearchFilter,
    ) -> DomainResult<Vec<Ranked>> {
        let candidates = self.store.search_candidates(project, &query.terms, matching, filter).await?;
        let stats = self.store.search_stats(project).await?;
        let unfiltered = filter.documents.is_empty() && !filter.by_entities();
        // One term over the whole project: its candidates are the passages holding it.
        let df = if unfiltered && query.terms.len() == 1 {
            vec![candidates.len() as u64]
        } else {
            self.store.document_frequencies(project, &query.terms).await?
        };
        Ok(rank(query, matching, candidates, stats, &df))
    }

    /// Every hit of `query` (typed as `text`) in the project: the lexical ranking, fused with
    /// the semantic one when the project has vectors under its embedding model (module docs).
    pub async fn hybrid(
        &self,
        project: ProjectId,
        text: &str,
        query: &SearchQuery,
        matching: Matching,
        filter: &SearchFilter,
    ) -> DomainResult<Vec<Ranked>> {
        let lexical = self.ranked(project, query, matching, filter).await?;
        let Some(semantic) = self.semantic else { return Ok(lexical) };
        let Some(model_id) = self.store.project_embedding_model(project).await? else { return Ok(lexical) };
        let vectors = self.store.passage_vectors(project, model_id, &filter.documents).await?;
        if vectors.is_empty() {
            return Ok(lexical);
        }
        let Some(model) = self.store.model_by_id(model_id).await? else { return Ok(lexical) };
        let q = semantic.query_vector(project, &model, text).await?;
        let mut top = top_k(&q, vectors.iter().map(|(id, v)| (*id, v.as_slice())), SEMANTIC_CANDIDATES);
        drop(vectors);
        if filter.by_entities() && !top.is_empty() {
            let ids: Vec<PassageId> = top.iter().map(|t| t.0).collect();
            let holding: HashSet<PassageId> = self
                .store
                .passage_entities(&ids, &filter.entity_types, &filter.knowledge_items)
                .await?
                .into_iter()
                .map(|e| e.passage)
                .collect();
            top.retain(|(id, _)| holding.contains(id));
        }
        let lexical_ids: Vec<PassageId> = lexical.iter().map(|r| r.candidate.passage).collect();
        let semantic_ids: Vec<PassageId> = top.iter().map(|t| t.0).collect();
        let fused = fuse(&lexical_ids, &semantic_ids);
        let mut by_id: HashMap<PassageId, Ranked> = lexical.into_iter().map(|r| (r.candidate.passage, r)).collect();
        let only_semantic: Vec<PassageId> = semantic_ids.iter().filter(|id| !by_id.contains_key(id)).copied().collect();
        for candidate in self.store.passage_candidates(&only_semantic).await? {
            by_id.insert(candidate.passage, Ranked { candidate, score: 0.0, places: Vec::new() });
        }
        Ok(fused.into_iter().filter_map(|(id, score)| by_id.remove(&id).map(|r| Ranked { score, ..r })).collect())
    }

    /// The hits of one page: texts, highlights and entities; with entity types or knowledge
    /// entries, only the places of the query inside such entities count (before the page is
    /// cut).
    async fn page(
        &self,
        mut ranked: Vec<Ranked>,
        filter: &SearchFilter,
        page: PageRequest,
    ) -> DomainResult<Page<SearchHit>> {
        let mut texts = HashMap::new();
        let mut under: HashMap<PassageId, Vec<PassageEntity>> = HashMap::new();
        if filter.by_entities() {
            let ids: Vec<PassageId> = ranked.iter().map(|r| r.candidate.passage).collect();
            texts = self.store.passage_texts(&ids).await?;
            for e in self.store.passage_entities(&ids, &filter.entity_types, &filter.knowledge_items).await? {
                under.entry(e.passage).or_default().push(e);
            }
            ranked.retain_mut(|r| {
                let Some(text) = texts.get(&r.candidate.passage) else { return false };
                let entities = under.get(&r.candidate.passage).map_or(&[][..], Vec::as_slice);
                if r.places.is_empty() {
                    // Found by the semantic ranking only: the passage holds such an entity.
                    return !entities.is_empty();
                }
                r.places.retain(|&place| {
                    let spans = highlights(text, r.candidate.start, &[place]);
                    spans.iter().any(|h| entities.iter().any(|e| e.start < h.end && h.start < e.end))
                });
                !r.places.is_empty()
            });
        }
        let total = ranked.len() as u64;
        let from = (page.offset as usize).min(ranked.len());
        let to = from.saturating_add(page.limit as usize).min(ranked.len());
        let ranked: Vec<Ranked> = ranked.drain(from..to).collect();
        let ids: Vec<PassageId> = ranked.iter().map(|r| r.candidate.passage).collect();
        if !filter.by_entities() {
            texts = self.store.passage_texts(&ids).await?;
            for e in self.store.passage_entities(&ids, &[], &[]).await? {
                under.entry(e.passage).or_default().push(e);
            }
        }
        let items = hits_of(ranked, texts, &under);
        Ok(Page { items, total })
    }
}

/// The hits of ranked passages, with their texts (a passage without one, deleted meanwhile, is
/// left out), highlights, and the entities (of `under`) under the highlights.
fn hits_of(
    ranked: Vec<Ranked>,
    mut texts: HashMap<PassageId, String>,
    under: &HashMap<PassageId, Vec<PassageEntity>>,
) -> Vec<SearchHit> {
    ranked
        .into_iter()
        .filter_map(|r| {
            let text = texts.remove(&r.candidate.passage)?;
            let spans = highlights(&text, r.candidate.start, &r.places);
            let mut entities: Vec<&PassageEntity> = under
                .get(&r.candidate.passage)
                .map(|es| es.iter().filter(|e| spans.iter().any(|h| e.start < h.end && h.start < e.end)).collect())
                .unwrap_or_default();
            entities.sort_by_key(|e| (e.start, e.end));
            Some(SearchHit {
                passage: r.candidate.passage,
                document_id: r.candidate.document_id,
                line_number: r.candidate.line_number,
                start: r.candidate.start,
                end: r.candidate.end,
                text,
                score: r.score,
                highlights: spans,
                entities: entities.into_iter().map(|e| e.entity).collect(),
            })
        })
        .collect()
}
