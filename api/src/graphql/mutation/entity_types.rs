use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use nishan_domain::entity_type::{EntityTypeFields, HexColor, TypeName};
use nishan_domain::ids::EntityTypeId;

use super::accounts::patch;
use crate::error::ApiResult;
use crate::graphql::types::{EntityType, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct CreateEntityTypeInput {
    /// Upper case letters, digits and underscores (e.g. POET).
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// `#RRGGBB`.
    pub color: Option<String>,
    pub examples: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub sort_order: Option<i32>,
}

#[derive(InputObject)]
pub struct UpdateEntityTypeInput {
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub description: MaybeUndefined<String>,
    pub color: Option<String>,
    pub examples: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub sort_order: Option<i32>,
}

#[derive(Default)]
pub struct EntityTypeMutation;

#[Object]
impl EntityTypeMutation {
    /// Global admins only.
    async fn create_entity_type(&self, ctx: &Context<'_>, input: CreateEntityTypeInput) -> ApiResult<EntityType> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let fields = EntityTypeFields {
            name: Some(TypeName::new(&input.name)?),
            display_name: input.display_name,
            description: input.description.map(Some),
            color: input.color.as_deref().map(HexColor::parse).transpose()?,
            examples: input.examples,
            is_active: input.is_active,
            sort_order: input.sort_order,
        };
        Ok(EntityType(state(ctx).entity_types().create(&req.meta, &actor, fields).await?))
    }

    /// Global admins only. System types keep their names.
    async fn update_entity_type(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateEntityTypeInput,
    ) -> ApiResult<EntityType> {
        let id = EntityTypeId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let fields = EntityTypeFields {
            name: input.name.as_deref().map(TypeName::new).transpose()?,
            display_name: input.display_name,
            description: patch(input.description),
            color: input.color.as_deref().map(HexColor::parse).transpose()?,
            examples: input.examples,
            is_active: input.is_active,
            sort_order: input.sort_order,
        };
        Ok(EntityType(state(ctx).entity_types().update(&req.meta, &actor, id, fields).await?))
    }
}
