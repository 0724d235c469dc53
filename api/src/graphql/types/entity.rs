//! Entities and relationships as clients see them.

use crate::graphql::loaders::Loaded;
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use nishan_domain::entity::{Entity as DomainEntity, EntitySource};
use nishan_domain::relationship::{Relationship as DomainRelationship, RelationshipType};

use super::{Document, EntityType, User};
use crate::error::ApiResult;
use crate::graphql::loaders::{
    DocumentLoader, EntityKnowledgeLoader, EntityLoader, EntityTypeLoader, IncomingLoader, KnowledgeItemLoader,
    OutgoingLoader, UserLoader,
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "EntitySource", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlEntitySource {
    Llm,
    Manual,
    Import,
    Correction,
}

impl From<EntitySource> for GqlEntitySource {
    fn from(s: EntitySource) -> Self {
        match s {
            EntitySource::Llm => Self::Llm,
            EntitySource::Manual => Self::Manual,
            EntitySource::Import => Self::Import,
            EntitySource::Correction => Self::Correction,
        }
    }
}

impl From<GqlEntitySource> for EntitySource {
    fn from(s: GqlEntitySource) -> Self {
        match s {
            GqlEntitySource::Llm => Self::Llm,
            GqlEntitySource::Manual => Self::Manual,
            GqlEntitySource::Import => Self::Import,
            GqlEntitySource::Correction => Self::Correction,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "RelationshipType", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlRelationshipType {
    SameAs,
    PartOf,
    LocatedIn,
    BornIn,
    DiedIn,
    FoughtIn,
    RelatedTo,
    Mentions,
    References,
}

impl From<RelationshipType> for GqlRelationshipType {
    fn from(t: RelationshipType) -> Self {
        match t {
            RelationshipType::SameAs => Self::SameAs,
            RelationshipType::PartOf => Self::PartOf,
            RelationshipType::LocatedIn => Self::LocatedIn,
            RelationshipType::BornIn => Self::BornIn,
            RelationshipType::DiedIn => Self::DiedIn,
            RelationshipType::FoughtIn => Self::FoughtIn,
            RelationshipType::RelatedTo => Self::RelatedTo,
            RelationshipType::Mentions => Self::Mentions,
            RelationshipType::References => Self::References,
        }
    }
}

impl From<GqlRelationshipType> for RelationshipType {
    fn from(t: GqlRelationshipType) -> Self {
        match t {
            GqlRelationshipType::SameAs => Self::SameAs,
            GqlRelationshipType::PartOf => Self::PartOf,
            GqlRelationshipType::LocatedIn => Self::LocatedIn,
            GqlRelationshipType::BornIn => Self::BornIn,
            GqlRelationshipType::DiedIn => Self::DiedIn,
            GqlRelationshipType::FoughtIn => Self::FoughtIn,
            GqlRelationshipType::RelatedTo => Self::RelatedTo,
            GqlRelationshipType::Mentions => Self::Mentions,
            GqlRelationshipType::References => Self::References,
        }
    }
}

pub struct Entity(pub DomainEntity);

#[Object]
impl Entity {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The text of the span: always `content[start..end]`.
    async fn text(&self) -> &str {
        &self.0.text
    }
    /// Code-point offset of the first character.
    async fn start(&self) -> u32 {
        self.0.start
    }
    /// Code-point offset after the last character (half-open span).
    async fn end(&self) -> u32 {
        self.0.end
    }
    /// The same span in UTF-16 code units, for JavaScript strings.
    async fn utf16_start(&self) -> u32 {
        self.0.utf16_start
    }
    async fn utf16_end(&self) -> u32 {
        self.0.utf16_end
    }
    /// 1-based line of the start.
    async fn line_number(&self) -> u32 {
        self.0.line_number
    }
    /// 1-based stanza of the start.
    async fn stanza_number(&self) -> u32 {
        self.0.stanza_number
    }
    /// 1-based position of the first word within its line.
    async fn word_position(&self) -> u32 {
        self.0.word_position
    }
    async fn confidence_score(&self) -> Option<f64> {
        self.0.confidence
    }
    async fn is_verified(&self) -> bool {
        self.0.is_verified
    }
    async fn verified_at(&self) -> Option<DateTime<Utc>> {
        self.0.verified_at
    }
    async fn verified_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.verified_by else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
    async fn source(&self) -> GqlEntitySource {
        self.0.source.into()
    }
    /// Up to 50 characters before the span.
    async fn context_before(&self) -> &str {
        &self.0.context_before
    }
    /// Up to 50 characters after the span.
    async fn context_after(&self) -> &str {
        &self.0.context_after
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// Free-form attributes; a correction keeps `previousEntityTypeId` here.
    async fn attributes(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.attributes.clone())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn entity_type(&self, ctx: &Context<'_>) -> ApiResult<Option<EntityType>> {
        Ok(ctx.data_unchecked::<Loaded<EntityTypeLoader>>().load_one(self.0.entity_type_id).await?.map(EntityType))
    }
    async fn document(&self, ctx: &Context<'_>) -> ApiResult<Option<Document>> {
        Ok(ctx.data_unchecked::<Loaded<DocumentLoader>>().load_one(self.0.document_id).await?.map(Document))
    }
    /// The knowledge-base entry the mention is linked to (`linkEntity`).
    async fn knowledge_item(&self, ctx: &Context<'_>) -> ApiResult<Option<super::KnowledgeItem>> {
        let Some(item) = ctx.data_unchecked::<Loaded<EntityKnowledgeLoader>>().load_one(self.0.id).await? else {
            return Ok(None);
        };
        Ok(ctx.data_unchecked::<Loaded<KnowledgeItemLoader>>().load_one(item).await?.map(super::KnowledgeItem::new))
    }
    /// Relationships from this entity.
    async fn outgoing_relationships(&self, ctx: &Context<'_>) -> ApiResult<Vec<EntityRelationship>> {
        let found = ctx.data_unchecked::<Loaded<OutgoingLoader>>().load_one(self.0.id).await?.unwrap_or_default();
        Ok(found.into_iter().map(EntityRelationship).collect())
    }
    /// Relationships to this entity.
    async fn incoming_relationships(&self, ctx: &Context<'_>) -> ApiResult<Vec<EntityRelationship>> {
        let found = ctx.data_unchecked::<Loaded<IncomingLoader>>().load_one(self.0.id).await?.unwrap_or_default();
        Ok(found.into_iter().map(EntityRelationship).collect())
    }
}

pub struct EntityRelationship(pub DomainRelationship);

#[Object]
impl EntityRelationship {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn relationship_type(&self) -> GqlRelationshipType {
        self.0.kind.into()
    }
    async fn confidence_score(&self) -> Option<f64> {
        self.0.confidence
    }
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn source_entity(&self, ctx: &Context<'_>) -> ApiResult<Option<Entity>> {
        Ok(ctx.data_unchecked::<Loaded<EntityLoader>>().load_one(self.0.source).await?.map(Entity))
    }
    async fn target_entity(&self, ctx: &Context<'_>) -> ApiResult<Option<Entity>> {
        Ok(ctx.data_unchecked::<Loaded<EntityLoader>>().load_one(self.0.target).await?.map(Entity))
    }
}
