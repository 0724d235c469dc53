use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, RelationshipId};
use nishan_domain::service::entities::{EntityPatch, NewEntity, NewRelationship};

use super::accounts::patch;
use crate::error::ApiResult;
use crate::graphql::types::{Entity, EntityRelationship, GqlRelationshipType, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct CreateEntityInput {
    pub document_id: ID,
    pub entity_type_id: ID,
    /// Code-point offset of the first character.
    pub start: i64,
    /// Code-point offset after the last character.
    pub end: i64,
    /// Optional check: when sent, it must equal the document's text at the span.
    pub text: Option<String>,
    pub confidence_score: Option<f64>,
    pub notes: Option<String>,
    /// The layer to write to: by default the caller's own (an annotator of an INDEPENDENT
    /// project) or the curated one; managers may name any annotator's layer.
    pub layer: Option<crate::graphql::types::LayerInput>,
}

#[derive(InputObject)]
pub struct UpdateEntityInput {
    /// Changing the type of a model suggestion records a CORRECTION.
    pub entity_type_id: Option<ID>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub notes: MaybeUndefined<String>,
}

#[derive(InputObject)]
pub struct CreateEntityRelationshipInput {
    pub source_entity_id: ID,
    pub target_entity_id: ID,
    pub relationship_type: GqlRelationshipType,
    pub confidence_score: Option<f64>,
    pub notes: Option<String>,
}

fn entity_ids(ids: &[ID]) -> ApiResult<Vec<EntityId>> {
    ids.iter().map(|id| parse_id(id, "ids").map(EntityId)).collect()
}

#[derive(Default)]
pub struct EntityMutation;

#[Object]
impl EntityMutation {
    /// Marks a span (edit-entities permission). The server takes the text from the document
    /// and computes line, stanza, word position and context.
    async fn create_entity(&self, ctx: &Context<'_>, input: CreateEntityInput) -> ApiResult<Entity> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let new = NewEntity {
            document_id: DocumentId(parse_id(&input.document_id, "documentId")?),
            entity_type_id: EntityTypeId(parse_id(&input.entity_type_id, "entityTypeId")?),
            start: input.start,
            end: input.end,
            text: input.text,
            confidence: input.confidence_score,
            notes: input.notes,
            layer: input.layer.unwrap_or_default().to_domain()?,
        };
        Ok(Entity(state(ctx).entities().create(&req.meta, &actor, new).await?))
    }

    async fn update_entity(&self, ctx: &Context<'_>, id: ID, input: UpdateEntityInput) -> ApiResult<Entity> {
        let id = EntityId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let p = EntityPatch {
            entity_type_id: input
                .entity_type_id
                .as_ref()
                .map(|t| parse_id(t, "entityTypeId").map(EntityTypeId))
                .transpose()?,
            start: input.start,
            end: input.end,
            notes: patch(input.notes),
        };
        Ok(Entity(state(ctx).entities().update(&req.meta, &actor, id, p).await?))
    }

    /// Deletes an entity; for a model's suggestion this is a rejection, kept on record.
    async fn delete_entity(&self, ctx: &Context<'_>, id: ID, reason: Option<String>) -> ApiResult<bool> {
        let id = EntityId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).entities().delete(&req.meta, &actor, id, reason).await?;
        Ok(true)
    }

    /// Marks every whole-word occurrence of `text` in the document, skipping spans already
    /// marked with the type; returns how many entities were created.
    async fn annotate_all_occurrences(
        &self,
        ctx: &Context<'_>,
        document_id: ID,
        text: String,
        entity_type_id: ID,
    ) -> ApiResult<i32> {
        let doc = DocumentId(parse_id(&document_id, "documentId")?);
        let type_id = EntityTypeId(parse_id(&entity_type_id, "entityTypeId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let created = state(ctx).entities().annotate_all(&req.meta, &actor, doc, &text, type_id).await?;
        Ok(created.len() as i32)
    }

    async fn verify_entity(&self, ctx: &Context<'_>, id: ID, notes: Option<String>) -> ApiResult<Entity> {
        let ids = entity_ids(&[id])?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let mut done = state(ctx).entities().set_verified(&req.meta, &actor, &ids, true, notes).await?;
        Ok(Entity(done.remove(0)))
    }

    async fn unverify_entity(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Entity> {
        let ids = entity_ids(&[id])?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let mut done = state(ctx).entities().set_verified(&req.meta, &actor, &ids, false, None).await?;
        Ok(Entity(done.remove(0)))
    }

    /// Verifies several entities in one transaction (at most 1000).
    async fn verify_entities(&self, ctx: &Context<'_>, ids: Vec<ID>) -> ApiResult<Vec<Entity>> {
        let ids = entity_ids(&ids)?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let done = state(ctx).entities().set_verified(&req.meta, &actor, &ids, true, None).await?;
        Ok(done.into_iter().map(Entity).collect())
    }

    /// Relates two entities of one project; (source, target, type) is unique.
    async fn create_entity_relationship(
        &self,
        ctx: &Context<'_>,
        input: CreateEntityRelationshipInput,
    ) -> ApiResult<EntityRelationship> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let new = NewRelationship {
            source: EntityId(parse_id(&input.source_entity_id, "sourceEntityId")?),
            target: EntityId(parse_id(&input.target_entity_id, "targetEntityId")?),
            kind: input.relationship_type.into(),
            confidence: input.confidence_score,
            notes: input.notes,
        };
        Ok(EntityRelationship(state(ctx).entities().relate(&req.meta, &actor, new).await?))
    }

    async fn delete_entity_relationship(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let id = RelationshipId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).entities().unrelate(&req.meta, &actor, id).await?;
        Ok(true)
    }
}
