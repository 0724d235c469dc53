//! Statistics of projects and documents, and model quality, as clients see them. Each part is
//! read when a client asks for one of its fields, once per object.

use async_graphql::{Context, ID, MergedObject, Object, SimpleObject};
use nishan_domain::ids::{EntityTypeId, ProjectId, UserId};
use nishan_domain::ports::Scope;
use nishan_domain::rounds::Layer;
use nishan_domain::statistics::{
    EntityStatistics, ModelQuality as DomainModelQuality, QualityCounts, TypeCount as DomainTypeCount,
};
use tokio::sync::OnceCell;

use super::{EntityType, GqlEntitySource, GqlProcessingStatus, User};
use crate::error::ApiResult;
use crate::graphql::loaders::{EntityTypeLoader, Loaded, UserLoader};
use crate::graphql::state;

/// The entity side of statistics, shared by projects and documents.
pub struct EntityStats {
    scope: Scope,
    /// The layer counted: the curated one unless the client named another.
    layer: Layer,
    entities: OnceCell<EntityStatistics>,
}

impl EntityStats {
    fn new(scope: Scope, layer: Layer) -> Self {
        Self { scope, layer, entities: OnceCell::new() }
    }

    async fn get(&self, ctx: &Context<'_>) -> ApiResult<&EntityStatistics> {
        let app = state(ctx);
        Ok(self
            .entities
            .get_or_try_init(|| async move { app.statistics().entities(self.scope, self.layer).await })
            .await?)
    }
}

/// Entities of one type.
pub struct EntityTypeCount(DomainTypeCount);

#[Object]
impl EntityTypeCount {
    async fn entity_type(&self, ctx: &Context<'_>) -> ApiResult<Option<EntityType>> {
        Ok(ctx.data_unchecked::<Loaded<EntityTypeLoader>>().load_one(self.0.entity_type_id).await?.map(EntityType))
    }
    async fn total(&self) -> u64 {
        self.0.total
    }
    async fn verified(&self) -> u64 {
        self.0.verified
    }
    async fn unverified(&self) -> u64 {
        self.0.unverified()
    }
}

#[derive(SimpleObject)]
pub struct SourceCount {
    pub source: GqlEntitySource,
    pub count: u64,
}

#[derive(SimpleObject)]
pub struct StatusCount {
    pub status: GqlProcessingStatus,
    pub count: u64,
}

/// How many entities one researcher has verified (those verified by them now).
pub struct UserVerifications(UserId, u64);

#[Object]
impl UserVerifications {
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(self.0).await?.map(User::new))
    }
    async fn count(&self) -> u64 {
        self.1
    }
}

#[Object]
impl EntityStats {
    async fn total_entities(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(self.get(ctx).await?.total)
    }
    async fn verified_entities(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(self.get(ctx).await?.verified)
    }
    async fn unverified_entities(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(self.get(ctx).await?.unverified())
    }
    /// Verified share of the entities, 0 to 1.
    async fn verification_rate(&self, ctx: &Context<'_>) -> ApiResult<f64> {
        Ok(self.get(ctx).await?.verification_rate())
    }
    /// Most entities first.
    async fn entities_by_type(&self, ctx: &Context<'_>) -> ApiResult<Vec<EntityTypeCount>> {
        Ok(self.get(ctx).await?.by_type.iter().copied().map(EntityTypeCount).collect())
    }
    /// Every source, zero counts included.
    async fn entities_by_source(&self, ctx: &Context<'_>) -> ApiResult<Vec<SourceCount>> {
        let stats = self.get(ctx).await?;
        Ok(stats.by_source.iter().map(|(s, n)| SourceCount { source: (*s).into(), count: *n }).collect())
    }
    /// Entities each researcher has verified (and that are verified now), most first.
    async fn verifications_by_user(&self, ctx: &Context<'_>) -> ApiResult<Vec<UserVerifications>> {
        let stats = self.get(ctx).await?;
        Ok(stats.verifications_by_user.iter().map(|(u, n)| UserVerifications(*u, *n)).collect())
    }
    /// How good each model's suggestions are, measured against the researchers' judgement.
    async fn model_quality(&self, ctx: &Context<'_>) -> ApiResult<Vec<ModelQuality>> {
        let all = state(ctx).statistics().model_quality(self.scope, self.layer).await?;
        Ok(all.into_iter().map(ModelQuality::new).collect())
    }
}

/// The document side of a project's statistics.
pub struct DocumentCounts {
    project: ProjectId,
    counts: OnceCell<Vec<(nishan_domain::document::ProcessingStatus, u64)>>,
}

impl DocumentCounts {
    async fn get(&self, ctx: &Context<'_>) -> ApiResult<&[(nishan_domain::document::ProcessingStatus, u64)]> {
        let app = state(ctx);
        let counts = self
            .counts
            .get_or_try_init(|| async move { app.statistics().documents_by_status(self.project).await })
            .await?;
        Ok(counts)
    }
}

#[Object]
impl DocumentCounts {
    async fn document_count(&self, ctx: &Context<'_>) -> ApiResult<u64> {
        Ok(self.get(ctx).await?.iter().map(|(_, n)| n).sum())
    }
    /// Every processing status, zero counts included.
    async fn documents_by_status(&self, ctx: &Context<'_>) -> ApiResult<Vec<StatusCount>> {
        Ok(self.get(ctx).await?.iter().map(|(s, n)| StatusCount { status: (*s).into(), count: *n }).collect())
    }
}

/// Where a project stands. (Model tokens and cost join when model calls are recorded.)
#[derive(MergedObject)]
pub struct ProjectStatistics(DocumentCounts, EntityStats, ModelSpend);

impl ProjectStatistics {
    pub fn new(project: ProjectId, layer: Layer) -> Self {
        Self(
            DocumentCounts { project, counts: OnceCell::new() },
            EntityStats::new(Scope::Project(project), layer),
            ModelSpend { project },
        )
    }
}

/// What the project's model calls used, all time.
pub struct ModelSpend {
    project: ProjectId,
}

#[Object]
impl ModelSpend {
    /// Calls, tokens and cost of every model call made for the project (its jobs).
    async fn model_usage(&self, ctx: &Context<'_>) -> ApiResult<super::UsageTotals> {
        Ok(crate::graphql::state(ctx).usage().project_totals(self.project).await?.into())
    }
}

/// Where a document stands.
#[derive(MergedObject)]
pub struct DocumentStatistics(EntityStats);

impl DocumentStatistics {
    pub fn new(document: nishan_domain::ids::DocumentId, layer: Layer) -> Self {
        Self(EntityStats::new(Scope::Document(document), layer))
    }
}

/// Counts and measures of a model's suggestions; see the README for the definitions.
pub struct Quality(QualityCounts);

#[Object]
impl Quality {
    /// Every suggestion, reviewed or not (rejected ones included).
    async fn suggestions(&self) -> u64 {
        self.0.suggestions
    }
    /// Not reviewed yet.
    async fn pending(&self) -> u64 {
        self.0.pending
    }
    /// Verified with the model's span and type.
    async fn verified_as_is(&self) -> u64 {
        self.0.verified_as_is
    }
    /// Given another type by a researcher.
    async fn corrected(&self) -> u64 {
        self.0.corrected
    }
    /// Deleted by a researcher.
    async fn rejected(&self) -> u64 {
        self.0.rejected
    }
    async fn reviewed(&self) -> u64 {
        self.0.reviewed()
    }
    /// verifiedAsIs / reviewed; null before any review.
    async fn precision(&self) -> Option<f64> {
        self.0.precision()
    }
    /// Reviewed suggestions overlapping a researchers' entity of their type / reviewed.
    async fn precision_overlap(&self) -> Option<f64> {
        self.0.precision_overlap()
    }
    /// Researchers' entities (verified, MANUAL or CORRECTION) in the model's documents.
    async fn gold(&self) -> u64 {
        self.0.gold
    }
    /// Researchers' entities the model suggested with this type and the exact span.
    async fn found_exact(&self) -> u64 {
        self.0.found_exact
    }
    /// Researchers' entities the model suggested with this type and an overlapping span.
    async fn found_overlap(&self) -> u64 {
        self.0.found_overlap
    }
    /// Researchers' entities the model did not find even by overlap.
    async fn missed(&self) -> u64 {
        self.0.gold - self.0.found_overlap
    }
    /// foundExact / gold; null without gold entities.
    async fn recall_exact(&self) -> Option<f64> {
        self.0.recall_exact()
    }
    /// foundOverlap / gold.
    async fn recall_overlap(&self) -> Option<f64> {
        self.0.recall_overlap()
    }
    /// Harmonic mean of precision and recallExact.
    async fn f1_exact(&self) -> Option<f64> {
        self.0.f1_exact()
    }
    /// Harmonic mean of precisionOverlap and recallOverlap.
    async fn f1_overlap(&self) -> Option<f64> {
        self.0.f1_overlap()
    }
}

pub struct ModelHeader {
    model_id: uuid::Uuid,
    by_type: Vec<(EntityTypeId, QualityCounts)>,
}

#[Object]
impl ModelHeader {
    /// The model (`llm_model_id` of its suggestions).
    async fn model_id(&self) -> ID {
        ID(self.model_id.to_string())
    }
    /// Per type the model suggested, or researchers marked in its documents.
    async fn by_type(&self) -> Vec<ModelTypeQuality> {
        self.by_type.iter().map(|(t, c)| ModelTypeQuality(TypeHeader(*t), Quality(*c))).collect()
    }
}

/// A model's quality over all types (sums of the types' counts), and per type.
#[derive(MergedObject)]
pub struct ModelQuality(ModelHeader, Quality);

impl ModelQuality {
    pub fn new(q: DomainModelQuality) -> Self {
        Self(ModelHeader { model_id: q.model_id, by_type: q.by_type }, Quality(q.overall))
    }
}

pub struct TypeHeader(EntityTypeId);

#[Object]
impl TypeHeader {
    async fn entity_type(&self, ctx: &Context<'_>) -> ApiResult<Option<EntityType>> {
        Ok(ctx.data_unchecked::<Loaded<EntityTypeLoader>>().load_one(self.0).await?.map(EntityType))
    }
}

/// A model's quality for one entity type (the type it suggested).
#[derive(MergedObject)]
pub struct ModelTypeQuality(TypeHeader, Quality);
