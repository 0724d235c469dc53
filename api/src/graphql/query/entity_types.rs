use async_graphql::{Context, Object};

use crate::error::ApiResult;
use crate::graphql::state;
use crate::graphql::types::EntityType;

#[derive(Default)]
pub struct EntityTypeQuery;

#[Object]
impl EntityTypeQuery {
    /// Every entity type, ordered by sort order, then name.
    async fn entity_types(&self, ctx: &Context<'_>) -> ApiResult<Vec<EntityType>> {
        Ok(state(ctx).entity_types().list().await?.into_iter().map(EntityType).collect())
    }
}
