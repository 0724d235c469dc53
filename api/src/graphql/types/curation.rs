//! Curation (issue 12): a document's curation, its conflicts and their candidates.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::entity::Entity as DomainEntity;
use nishan_domain::rounds::Layer;
use nishan_domain::rounds::curating::OpenConflict;
use nishan_domain::rounds::curation::{CurationState, Difference};
use nishan_domain::service::curation::{CurationView, Feedback};

use super::{Entity, EntityType, User};
use crate::error::ApiResult;
use crate::graphql::loaders::{EntityTypeLoader, Loaded, UserLoader};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "CurationState", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlCurationState {
    /// `curateDocument` has not run on the document.
    NotStarted,
    /// Conflicts are left for the curator.
    InProgress,
    /// No conflict is left: the curated layer is the document's gold.
    Finished,
}

impl From<CurationState> for GqlCurationState {
    fn from(s: CurationState) -> Self {
        match s {
            CurationState::NotStarted => Self::NotStarted,
            CurationState::InProgress => Self::InProgress,
            CurationState::Finished => Self::Finished,
        }
    }
}

/// What one `curateDocument` did.
#[derive(SimpleObject)]
pub struct CurationResult {
    /// Entities merged into the curated layer by this run.
    pub merged: u32,
    /// Conflicts left for the curator (`curationConflicts`).
    pub conflicts: u32,
    pub state: GqlCurationState,
    /// The merged entities, in reading order.
    pub entities: Vec<Entity>,
}

/// Where a document's curation stands.
pub struct DocumentCuration(pub CurationView);

#[Object]
impl DocumentCuration {
    async fn state(&self) -> GqlCurationState {
        self.0.state().into()
    }
    /// The `minVotes` of the last run (null before the first).
    async fn min_votes(&self) -> Option<u32> {
        self.0.record.as_ref().map(|r| r.strategy.min_votes.get() as u32)
    }
    async fn include_unfinished(&self) -> Option<bool> {
        self.0.record.as_ref().map(|r| r.strategy.include_unfinished)
    }
    /// Entities merged by votes, over every run.
    async fn merged(&self) -> u32 {
        self.0.record.as_ref().map_or(0, |r| r.merged)
    }
    /// Conflicts left after the last step.
    async fn open_conflicts(&self) -> u32 {
        self.0.record.as_ref().map_or(0, |r| r.open_conflicts)
    }
    /// Conflicts the curator resolved (on the current version of the content).
    async fn resolved_conflicts(&self) -> u32 {
        self.0.record.as_ref().map_or(0, |r| r.resolved_conflicts)
    }
    /// Who took the last step.
    async fn curated_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(u) = self.0.record.as_ref().and_then(|r| r.curated_by) else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(u).await?.map(User::new))
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.record.as_ref().map(|r| r.started_at)
    }
    async fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.0.record.as_ref().map(|r| r.updated_at)
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.record.as_ref().and_then(|r| r.finished_at)
    }
}

/// A position the compared layers disagree on, with every layer's candidate there.
pub struct CurationConflict(pub OpenConflict);

#[Object]
impl CurationConflict {
    /// Code-point offset of the conflict's first character.
    async fn start(&self) -> u32 {
        self.0.start
    }
    /// Code-point offset after its last character (half-open).
    async fn end(&self) -> u32 {
        self.0.end
    }
    /// The candidates, in reading order: annotators' and models'.
    async fn candidates(&self) -> Vec<CurationCandidate> {
        self.0.candidates.iter().cloned().map(CurationCandidate).collect()
    }
}

/// One layer's entity in a conflict: `acceptCandidate(documentId, entityId: entity.id)`
/// copies it into the curated layer.
pub struct CurationCandidate(pub DomainEntity);

#[Object]
impl CurationCandidate {
    /// The entity proposing it, in its layer.
    async fn entity(&self) -> Entity {
        Entity(self.0.clone())
    }
    /// The annotator whose layer holds it (null for a model's).
    async fn annotator(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Layer::Annotator(u) = self.0.layer else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(u).await?.map(User::new))
    }
    /// The model whose layer holds it (null for an annotator's).
    async fn model_id(&self) -> Option<ID> {
        match self.0.layer {
            Layer::Model(m) => Some(ID(m.to_string())),
            _ => None,
        }
    }
    async fn entity_type(&self, ctx: &Context<'_>) -> ApiResult<Option<EntityType>> {
        Ok(ctx.data_unchecked::<Loaded<EntityTypeLoader>>().load_one(self.0.entity_type_id).await?.map(EntityType))
    }
    async fn start(&self) -> u32 {
        self.0.start
    }
    async fn end(&self) -> u32 {
        self.0.end
    }
    async fn text(&self) -> &str {
        &self.0.text
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum FeedbackKind {
    /// The gold has the span; the layer has nothing of its type overlapping it.
    Missed,
    /// The layer has the span; the gold has nothing of its type overlapping it.
    Extra,
    /// The layer marked the gold's span (overlapping it) with another type.
    WrongType,
}

/// One place where an annotator's layer differs from the finished gold.
pub struct CurationFeedback(pub Feedback);

#[Object]
impl CurationFeedback {
    async fn kind(&self) -> FeedbackKind {
        match self.0.difference {
            Difference::Missed { .. } => FeedbackKind::Missed,
            Difference::Extra { .. } => FeedbackKind::Extra,
            Difference::WrongType { .. } => FeedbackKind::WrongType,
        }
    }
    /// The gold's entity there (null for EXTRA).
    async fn gold(&self) -> Option<Entity> {
        self.0.gold.clone().map(Entity)
    }
    /// The layer's entity there (null for MISSED).
    async fn yours(&self) -> Option<Entity> {
        self.0.yours.clone().map(Entity)
    }
}
