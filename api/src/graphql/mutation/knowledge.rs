use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, KnowledgeItemId, KnowledgeLinkId, ProjectId, ProposalId};
use nishan_domain::service::knowledge::{
    KnowledgePatch, MatchScope, NewKnowledgeItem, NewKnowledgeLink, RawExternalIds,
};

use super::accounts::patch;
use crate::error::{ApiResult, bad_input};
use crate::graphql::types::{
    Entity, GqlDecision, GqlLinkType, KnowledgeItem, KnowledgeLink, KnowledgeProposal, LinkMatchingResult, parse_id,
};
use crate::graphql::{request, state};

/// Identifiers of an entry in outside authority files; a blank one is absent.
#[derive(InputObject, Default)]
pub struct ExternalIdsInput {
    /// A Wikidata item: `Q` and digits.
    pub wikidata: Option<String>,
    /// A VIAF cluster: digits.
    pub viaf: Option<String>,
    /// A GeoNames feature: digits.
    pub geonames: Option<String>,
}

impl From<ExternalIdsInput> for RawExternalIds {
    fn from(i: ExternalIdsInput) -> Self {
        Self { wikidata: i.wikidata, viaf: i.viaf, geonames: i.geonames }
    }
}

#[derive(InputObject)]
pub struct CreateKnowledgeItemInput {
    pub project_id: ID,
    pub entity_type_id: ID,
    /// 1–200 characters.
    pub name: String,
    /// At most 100, each 1–200 characters; kept once each under Urdu-aware folding.
    #[graphql(default)]
    pub aliases: Vec<String>,
    /// At most 5000 characters.
    pub description: Option<String>,
    pub external_ids: Option<ExternalIdsInput>,
    /// A JSON object of at most 16 KiB.
    pub attributes: Option<async_graphql::Json<serde_json::Value>>,
}

/// Changes to an entry; a field left out stays as it is.
#[derive(InputObject)]
pub struct UpdateKnowledgeItemInput {
    pub name: Option<String>,
    pub entity_type_id: Option<ID>,
    /// The whole new list.
    pub aliases: Option<Vec<String>>,
    pub description: MaybeUndefined<String>,
    /// The whole new set.
    pub external_ids: Option<ExternalIdsInput>,
    pub attributes: Option<async_graphql::Json<serde_json::Value>>,
}

#[derive(InputObject)]
pub struct RelateKnowledgeItemsInput {
    pub from_id: ID,
    pub to_id: ID,
    pub relation_type: GqlLinkType,
    /// In [0, 1]; 1 when left out.
    pub strength: Option<f64>,
}

fn item_id(id: &ID, field: &str) -> ApiResult<KnowledgeItemId> {
    Ok(KnowledgeItemId(parse_id(id, field)?))
}

fn ids<T>(ids: &[ID], field: &str, make: impl Fn(uuid::Uuid) -> T) -> ApiResult<Vec<T>> {
    ids.iter().map(|id| parse_id(id, field).map(&make)).collect()
}

#[derive(Default)]
pub struct KnowledgeMutation;

#[Object]
impl KnowledgeMutation {
    /// Makes an entry (edit-entities permission); it starts at version 1, unapproved.
    async fn create_knowledge_item(
        &self,
        ctx: &Context<'_>,
        input: CreateKnowledgeItemInput,
    ) -> ApiResult<KnowledgeItem> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let new = NewKnowledgeItem {
            project_id: ProjectId(parse_id(&input.project_id, "projectId")?),
            entity_type_id: EntityTypeId(parse_id(&input.entity_type_id, "entityTypeId")?),
            name: input.name,
            aliases: input.aliases,
            description: input.description,
            external_ids: input.external_ids.unwrap_or_default().into(),
            attributes: input.attributes.map(|j| j.0),
        };
        Ok(KnowledgeItem::new(state(ctx).knowledge().create(&req.meta, &actor, new).await?))
    }

    /// Changes an entry. `expectedVersion` is the version the change was made from: when the
    /// entry has changed since, the answer is CONFLICT and nothing is written. A researcher's
    /// change of content withdraws the approval.
    async fn update_knowledge_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateKnowledgeItemInput,
        expected_version: i32,
    ) -> ApiResult<KnowledgeItem> {
        let id = item_id(&id, "id")?;
        let expected = u32::try_from(expected_version).map_err(|_| bad_input("expectedVersion", "must be positive"))?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let p = KnowledgePatch {
            name: input.name,
            entity_type_id: input.entity_type_id.map(|t| parse_id(&t, "entityTypeId").map(EntityTypeId)).transpose()?,
            aliases: input.aliases,
            description: patch(input.description),
            external_ids: input.external_ids.map(Into::into),
            attributes: input.attributes.map(|j| j.0),
        };
        Ok(KnowledgeItem::new(state(ctx).knowledge().update(&req.meta, &actor, id, p, expected).await?))
    }

    /// Approves an entry (the project's owners and admins): who and when are recorded.
    async fn approve_knowledge_item(&self, ctx: &Context<'_>, id: ID) -> ApiResult<KnowledgeItem> {
        let id = item_id(&id, "id")?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(KnowledgeItem::new(state(ctx).knowledge().approve(&req.meta, &actor, id).await?))
    }

    /// Merges duplicates (at most 100, of the target's type) into the target: their mentions,
    /// names (as aliases) and links move to it; their versions stay (`mergedItems`).
    async fn merge_knowledge_items(
        &self,
        ctx: &Context<'_>,
        target_id: ID,
        source_ids: Vec<ID>,
    ) -> ApiResult<KnowledgeItem> {
        let target = item_id(&target_id, "targetId")?;
        let sources = ids(&source_ids, "sourceIds", KnowledgeItemId)?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(KnowledgeItem::new(state(ctx).knowledge().merge(&req.meta, &actor, target, sources).await?))
    }

    /// Deletes an entry; its mentions are unlinked, its links removed, its versions kept.
    async fn delete_knowledge_item(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let id = item_id(&id, "id")?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).knowledge().delete(&req.meta, &actor, id).await?;
        Ok(true)
    }

    /// Links one entry to another of its project; (from, to, type) is unique.
    async fn relate_knowledge_items(
        &self,
        ctx: &Context<'_>,
        input: RelateKnowledgeItemsInput,
    ) -> ApiResult<KnowledgeLink> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let new = NewKnowledgeLink {
            from: item_id(&input.from_id, "fromId")?,
            to: item_id(&input.to_id, "toId")?,
            kind: input.relation_type.into(),
            strength: input.strength,
        };
        Ok(KnowledgeLink(state(ctx).knowledge().relate(&req.meta, &actor, new).await?))
    }

    async fn delete_knowledge_link(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let id = KnowledgeLinkId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).knowledge().unrelate(&req.meta, &actor, id).await?;
        Ok(true)
    }

    /// Links a mention to an entry of its project (replacing any entry it was linked to).
    async fn link_entity(&self, ctx: &Context<'_>, entity_id: ID, item_id: ID) -> ApiResult<Entity> {
        let entity = EntityId(parse_id(&entity_id, "entityId")?);
        let item = self::item_id(&item_id, "itemId")?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let e = state(ctx).knowledge().link(&req.meta, &actor, entity, item).await?;
        Ok(Entity(e))
    }

    async fn unlink_entity(&self, ctx: &Context<'_>, entity_id: ID) -> ApiResult<Entity> {
        let entity = EntityId(parse_id(&entity_id, "entityId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let e = state(ctx).knowledge().unlink(&req.meta, &actor, entity).await?;
        Ok(Entity(e))
    }

    /// Makes an entry from a mention and links the mention to it, in one step: the entry is
    /// named by the mention's text (or `name`) and has its type. CONFLICT when the mention is
    /// linked already.
    async fn create_knowledge_item_from_entity(
        &self,
        ctx: &Context<'_>,
        entity_id: ID,
        name: Option<String>,
    ) -> ApiResult<KnowledgeItem> {
        let entity = EntityId(parse_id(&entity_id, "entityId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(KnowledgeItem::new(state(ctx).knowledge().create_from_entity(&req.meta, &actor, entity, name).await?))
    }

    /// Links every unlinked mention of the project whose text is, under Urdu-aware folding, a
    /// name or alias of exactly one entry of the mention's type (narrowed to `itemIds`,
    /// `documentIds` — at most 1000 each — and approved entries when asked), in one
    /// transaction. A text naming several entries is left unlinked and counted as ambiguous.
    async fn link_matching_mentions(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        item_ids: Option<Vec<ID>>,
        document_ids: Option<Vec<ID>>,
        approved_only: Option<bool>,
    ) -> ApiResult<LinkMatchingResult> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let scope = MatchScope {
            items: item_ids.map(|v| ids(&v, "itemIds", KnowledgeItemId)).transpose()?,
            documents: document_ids.map(|v| ids(&v, "documentIds", DocumentId)).transpose()?,
            approved_only: approved_only.unwrap_or(false),
        };
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(LinkMatchingResult(state(ctx).knowledge().link_matching(&req.meta, &actor, project, scope).await?))
    }

    /// Approves or rejects a LINKING proposal (edit-entities permission): approving makes its
    /// change (a link, a new entry with its mention linked, an alias added, a merge) in the
    /// same transaction. CONFLICT when it was reviewed already, or what it names changed so
    /// that it no longer applies.
    async fn review_knowledge_proposal(
        &self,
        ctx: &Context<'_>,
        id: ID,
        decision: GqlDecision,
    ) -> ApiResult<KnowledgeProposal> {
        let id = ProposalId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let mut done =
            state(ctx).knowledge().review(&req.meta, &actor, vec![id], decision == GqlDecision::Approve).await?;
        Ok(KnowledgeProposal(done.remove(0)))
    }

    /// Reviews up to 100 proposals of one project at once, in order, in one transaction (all
    /// or none).
    async fn review_knowledge_proposals(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        decision: GqlDecision,
    ) -> ApiResult<Vec<KnowledgeProposal>> {
        let ids = self::ids(&ids, "ids", ProposalId)?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let done = state(ctx).knowledge().review(&req.meta, &actor, ids, decision == GqlDecision::Approve).await?;
        Ok(done.into_iter().map(KnowledgeProposal).collect())
    }
}
