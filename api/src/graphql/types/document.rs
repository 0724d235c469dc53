//! Documents, their lines and versions, as clients see them.

use crate::graphql::loaders::Loaded;
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::DomainError;
use nishan_domain::document::{
    Direction, Document as DomainDocument, DocumentInfo, DocumentVersion as DomainVersion, EntityCounts,
    ProcessingStatus,
};
use nishan_domain::entity::EntityFilter;
use nishan_domain::ids::{DocumentId, EntityTypeId, UserId};
use nishan_domain::ports::EntityRepository;
use nishan_domain::rounds::{AnnotationMode, Layer, LayerRequest, readable_layer};
use nishan_domain::text;

use super::{DocumentStatistics, Entity, GqlEntitySource, Project, User, parse_id};
use crate::error::{ApiResult, bad_input};
use crate::graphql::loaders::{
    ContentLoader, EntityCountLoader, EntityPageKey, EntityPageLoader, FilterKey, ProjectLoader, UserLoader,
};
use crate::graphql::pagination;
use crate::graphql::state;

/// A document as clients see it: its info, without the text (shared: a request's loader hands
/// the same one to every field that names it). `content` and `lines` read the text when asked,
/// through the store's cache of recent texts; nothing else does, so a page of entities or the
/// counts of a long document never read its text.
pub struct Document(pub std::sync::Arc<DocumentInfo>);

impl Document {
    /// The layer the caller reads, by the layer policy. A SHARED project's default layer needs
    /// no look-up of the caller's rights (they read the document already).
    async fn layer(&self, ctx: &Context<'_>, asked: Option<LayerInput>) -> ApiResult<Layer> {
        let project = ctx
            .data_unchecked::<Loaded<ProjectLoader>>()
            .load_one(self.0.project_id)
            .await?
            .ok_or(DomainError::NotFound { resource: "document" })?;
        let request = asked.unwrap_or_default().to_domain()?;
        if project.annotation_mode == AnnotationMode::Shared && request == LayerRequest::default() {
            return Ok(Layer::Curated);
        }
        let actor = crate::graphql::request(ctx).viewer.optional()?;
        let access = state(ctx).projects().access(actor.as_ref(), &project).await?;
        Ok(readable_layer(project.annotation_mode, &access, actor.map(|a| a.user_id), request)?)
    }

    /// A document just written (its text, which the answer reads again from the cache or the
    /// database only if asked, is dropped).
    pub fn new(doc: DomainDocument) -> Self {
        Self(std::sync::Arc::new(doc.info))
    }

    pub fn info(info: DocumentInfo) -> Self {
        Self(std::sync::Arc::new(info))
    }

    /// The text this document's info names (read once per request, shared by every field
    /// that asks: see [`ContentLoader`]). CONFLICT when the content changed since the info was
    /// read (the client reads the document again).
    async fn text(&self, ctx: &Context<'_>) -> ApiResult<std::sync::Arc<str>> {
        let key = (self.0.id, self.0.content_hash.clone());
        let found = match ctx.data_opt::<ContentLoader>() {
            Some(loader) => loader.load_one(key).await?,
            // A subscription's event carries no loaders.
            None => nishan_domain::ports::DocumentRepository::document_contents(
                &state(ctx).store,
                std::slice::from_ref(&key),
            )
            .await?
            .remove(&key),
        };
        found
            .ok_or_else(|| DomainError::conflict("the document's content changed during the request; try again").into())
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "TextDirection")]
pub enum GqlDirection {
    Rtl,
    Ltr,
}

impl From<Direction> for GqlDirection {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Rtl => Self::Rtl,
            Direction::Ltr => Self::Ltr,
        }
    }
}

impl From<GqlDirection> for Direction {
    fn from(d: GqlDirection) -> Self {
        match d {
            GqlDirection::Rtl => Self::Rtl,
            GqlDirection::Ltr => Self::Ltr,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProcessingStatus", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlProcessingStatus {
    Pending,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl From<ProcessingStatus> for GqlProcessingStatus {
    fn from(s: ProcessingStatus) -> Self {
        match s {
            ProcessingStatus::Pending => Self::Pending,
            ProcessingStatus::Processing => Self::Processing,
            ProcessingStatus::Completed => Self::Completed,
            ProcessingStatus::Failed => Self::Failed,
            ProcessingStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// One line of the text, for line-by-line review.
#[derive(SimpleObject)]
pub struct Line {
    /// 1-based.
    pub number: u32,
    /// 1-based; stanzas are blocks of lines separated by blank lines.
    pub stanza: u32,
    /// Code-point offsets of the line in the content (the newline excluded).
    pub start: u32,
    pub end: u32,
    pub text: String,
}

/// Which entities of a document to list.
#[derive(InputObject, Default, Clone)]
pub struct EntityFilterInput {
    pub entity_type_ids: Option<Vec<ID>>,
    pub is_verified: Option<bool>,
    pub sources: Option<Vec<GqlEntitySource>>,
    pub min_confidence: Option<f64>,
    /// 1-based.
    pub line_number: Option<i32>,
}

/// One layer of a document (issue 12): an annotator's (`annotatorId`), a model's suggestions
/// (`modelId`, managers only) or the curated one (`curated: true`); none is the default layer
/// (the caller's own layer for an annotator of an INDEPENDENT project, the curated layer for
/// everyone else).
#[derive(InputObject, Default, Clone)]
#[graphql(name = "LayerInput")]
pub struct LayerInput {
    pub annotator_id: Option<ID>,
    pub curated: Option<bool>,
    /// The layer of this model's suggestions (an LLM model's id, the built-in one's included).
    pub model_id: Option<ID>,
}

impl LayerInput {
    pub fn to_domain(&self) -> ApiResult<LayerRequest> {
        Ok(LayerRequest {
            annotator: self.annotator_id.as_ref().map(|id| parse_id(id, "annotatorId").map(UserId)).transpose()?,
            curated: self.curated,
            model: self.model_id.as_ref().map(|id| parse_id(id, "modelId")).transpose()?,
        })
    }
}

impl EntityFilterInput {
    pub fn to_domain(&self, layer: Layer) -> ApiResult<EntityFilter> {
        Ok(EntityFilter {
            layer,
            entity_type_ids: self
                .entity_type_ids
                .as_ref()
                .map(|ids| {
                    ids.iter().map(|id| parse_id(id, "entityTypeIds").map(EntityTypeId)).collect::<ApiResult<Vec<_>>>()
                })
                .transpose()?,
            is_verified: self.is_verified,
            sources: self.sources.as_ref().map(|s| s.iter().map(|x| (*x).into()).collect()),
            min_confidence: self.min_confidence,
            line_number: self
                .line_number
                .map(|n| {
                    u32::try_from(n)
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| bad_input("lineNumber", "must be 1 or more"))
                })
                .transpose()?,
        })
    }
}

#[Object]
impl Document {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The text, with line endings normalised to `\n`. Entity offsets are code points into it.
    #[graphql(complexity = "crate::graphql::execution::text_cost(child_complexity)")]
    async fn content(&self, ctx: &Context<'_>) -> ApiResult<String> {
        let text = self.text(ctx).await?;
        Ok(crate::graphql::execution::text_answer(ctx, &text)?)
    }
    /// SHA-256 of the content, hex.
    async fn content_hash(&self) -> &str {
        &self.0.content_hash
    }
    async fn word_count(&self) -> u32 {
        self.0.word_count
    }
    /// Unicode code points.
    async fn character_count(&self) -> u32 {
        self.0.character_count
    }
    async fn line_count(&self) -> u32 {
        self.0.line_count
    }
    async fn language(&self) -> &str {
        &self.0.language
    }
    async fn direction(&self) -> GqlDirection {
        self.0.direction.into()
    }
    async fn file_name(&self) -> Option<&str> {
        self.0.file.file_name.as_deref()
    }
    async fn file_size(&self) -> Option<i64> {
        self.0.file.file_size
    }
    async fn content_type(&self) -> Option<&str> {
        self.0.file.content_type.as_deref()
    }
    async fn encoding(&self) -> Option<&str> {
        self.0.file.encoding.as_deref()
    }
    /// The original file the document was uploaded as (null for pasted text), served at
    /// `GET /artifacts/{id}`.
    /// Its `fileName` and `mimeType` are this document's own upload's, also when documents
    /// uploaded from the same bytes share the artifact. One query for a page of documents.
    async fn artifact(&self, ctx: &Context<'_>) -> ApiResult<Option<Artifact>> {
        let artifact = match ctx.data_opt::<Loaded<crate::graphql::loaders::ArtifactLoader>>() {
            Some(loader) => loader.load_one(self.0.id).await?,
            // Subscriptions have no loaders.
            None => crate::graphql::state(ctx).documents().artifact_of(self.0.id).await?,
        };
        Ok(artifact.map(|a| Artifact(a.as_uploaded_for(&self.0.file))))
    }
    async fn processing_status(&self) -> GqlProcessingStatus {
        self.0.processing_status.into()
    }
    async fn processing_started_at(&self) -> Option<DateTime<Utc>> {
        self.0.processing_started_at
    }
    async fn processing_completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.processing_completed_at
    }
    async fn processing_duration_ms(&self) -> Option<i64> {
        self.0.processing_duration_ms
    }
    async fn total_entities(&self) -> u32 {
        self.0.counts.total
    }
    async fn verified_entities(&self) -> u32 {
        self.0.counts.verified
    }
    async fn unverified_entities(&self) -> u32 {
        self.0.counts.unverified()
    }
    /// Verified share of the entities, 0 to 1.
    async fn verification_rate(&self) -> f64 {
        self.0.counts.verification_rate()
    }
    async fn confidence_score(&self) -> Option<f64> {
        self.0.confidence_score
    }
    async fn quality_score(&self) -> Option<f64> {
        self.0.quality_score
    }
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    async fn metadata(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.metadata.clone())
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// The version number to send back with `updateDocumentContent`.
    async fn current_version(&self) -> u32 {
        self.0.current_version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn created_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.created_by else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    async fn project(&self, ctx: &Context<'_>) -> ApiResult<Option<Project>> {
        Ok(ctx.data_unchecked::<Loaded<ProjectLoader>>().load_one(self.0.project_id).await?.map(Project))
    }
    /// Every line with its number, stanza and offsets.
    #[graphql(complexity = "crate::graphql::execution::text_cost(child_complexity)")]
    async fn lines(&self, ctx: &Context<'_>) -> ApiResult<Vec<Line>> {
        Ok(text::lines(&self.text(ctx).await?)
            .into_iter()
            .map(|l| Line { number: l.number, stanza: l.stanza, start: l.start, end: l.end, text: l.text })
            .collect())
    }
    /// Entities by type, source and verification, verifications per researcher, and the
    /// quality of each model's suggestions in this document: of the curated layer unless
    /// `layer` names another the caller may read (as for `entities`).
    async fn statistics(&self, ctx: &Context<'_>, layer: Option<LayerInput>) -> ApiResult<DocumentStatistics> {
        let layer = match layer {
            None => Layer::Curated,
            Some(asked) => self.layer(ctx, Some(asked)).await?,
        };
        Ok(DocumentStatistics::new(self.0.id, layer))
    }
    /// Every version of the content, newest first.
    async fn versions(&self, ctx: &Context<'_>) -> ApiResult<Vec<DocumentVersion>> {
        Ok(state(ctx).documents().versions_of(&self.0).await?.into_iter().map(DocumentVersion).collect())
    }
    /// Entities of one layer in reading order: by start offset, then end, then id. `first` may
    /// be up to 10,000 (a whole document in one request); `after` is an entity's cursor, so
    /// pages read while others add or remove entities neither repeat nor skip any. `layer`
    /// names the layer (default: the caller's own for an annotator of an INDEPENDENT project,
    /// the curated one for everyone else); another annotator's layer is FORBIDDEN to
    /// annotators, an annotator's layer of a SHARED project BAD_USER_INPUT.
    #[graphql(complexity = "pagination::entity_complexity(child_complexity, first)")]
    async fn entities(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<EntityFilterInput>,
        layer: Option<LayerInput>,
    ) -> ApiResult<EntityConnection> {
        let limit = pagination::entity_page_size(first)?;
        let after = after.as_deref().map(pagination::decode_entity_cursor).transpose()?;
        let layer = self.layer(ctx, layer).await?;
        let filter = FilterKey::new(&filter.unwrap_or_default(), layer)?;
        let key = EntityPageKey { document: self.0.id, filter: filter.clone(), after, limit };
        let found = ctx.data_unchecked::<Loaded<EntityPageLoader>>().load_one(key).await?.unwrap_or_default();
        let counts = match layer {
            Layer::Curated => self.0.counts,
            other => state(ctx).store.layer_counts(&[self.0.id], other).await?.remove(&self.0.id).unwrap_or_default(),
        };
        let count = EntityCount(Total::Document { document: self.0.id, counts, filter });
        let mut conn = Connection::with_additional_fields(after.is_some(), found.has_more, count);
        conn.edges
            .extend(found.items.into_iter().map(|e| Edge::new(pagination::entity_cursor(&e.cursor()), Entity(e))));
        Ok(conn)
    }
}

/// A page of a document's entities.
pub type EntityConnection = Connection<String, Entity, EntityCount>;

/// The `totalCount` of a document's entities under a filter: the document's stored counts
/// answer it without a query when the filter is empty or only asks for (un)verified ones;
/// otherwise the entities are counted, once per request for all documents, and only when asked.
///
/// Other lists of entities (an entry's mentions, a review queue) know their total when they are
/// read: they are the same `EntityConnection` type, with a known total.
pub struct EntityCount(Total);

enum Total {
    Document { document: DocumentId, counts: EntityCounts, filter: FilterKey },
    Known(u64),
}

impl EntityCount {
    /// A total already known.
    pub fn known(total: u64) -> Self {
        Self(Total::Known(total))
    }

    /// A page of entities read with its total (offset cursors) as an `EntityConnection`.
    pub fn connection(page: crate::graphql::pagination::Conn<Entity>) -> EntityConnection {
        let mut conn = Connection::with_additional_fields(
            page.has_previous_page,
            page.has_next_page,
            Self::known(page.additional_fields.total_count),
        );
        conn.edges = page.edges;
        conn
    }
}

#[Object]
impl EntityCount {
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        let (document, counts, filter) = match &self.0 {
            Total::Known(n) => return Ok(*n),
            Total::Document { document, counts, filter } => (*document, counts, filter),
        };
        let f = &filter.filter;
        let only_verified = EntityFilter { is_verified: None, ..(**f).clone() }.is_empty();
        Ok(match (f.is_verified, only_verified) {
            (None, true) => u64::from(counts.total),
            (Some(true), true) => u64::from(counts.verified),
            (Some(false), true) => u64::from(counts.unverified()),
            _ => ctx
                .data_unchecked::<Loaded<EntityCountLoader>>()
                .load_one((document, filter.clone()))
                .await?
                .unwrap_or(0),
        })
    }
}

pub struct DocumentVersion(pub DomainVersion);

/// The stored original of an uploaded file (one per distinct file: identical uploads share it).
pub struct Artifact(pub nishan_domain::artifact::Artifact);

#[Object]
impl Artifact {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// SHA-256 of the file's bytes, hex.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn mime_type(&self) -> &str {
        &self.0.mime_type
    }
    /// Bytes.
    async fn size(&self) -> u64 {
        self.0.size
    }
    /// The file name it was uploaded under (the base name): the document's own upload's,
    /// when reached from a document.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }
}

#[Object]
impl DocumentVersion {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn version_number(&self) -> u32 {
        self.0.version_number
    }
    #[graphql(complexity = "crate::graphql::execution::text_cost(child_complexity)")]
    async fn content(&self) -> &str {
        &self.0.content
    }
    async fn content_hash(&self) -> &str {
        &self.0.content_hash
    }
    async fn change_summary(&self) -> Option<&str> {
        self.0.change_summary.as_deref()
    }
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
    async fn changed_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.changed_by else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    /// Lines and characters added and removed, entities moved and dropped.
    async fn diff_summary(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.diff_summary.clone())
    }
    /// Unified diff from the previous version (empty for the first).
    #[graphql(complexity = "crate::graphql::execution::text_cost(child_complexity)")]
    async fn unified_diff(&self) -> &str {
        &self.0.unified_diff
    }
}
