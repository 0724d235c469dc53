use async_graphql::{Context, ID, Object};
use nishan_domain::ids::{DocumentId, EntityId};

use crate::error::ApiResult;
use crate::graphql::types::{Document, Entity, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct DocumentQuery;

#[Object]
impl DocumentQuery {
    /// A document; NOT_FOUND when it does not exist or its project is not visible to the caller.
    async fn document(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Document>> {
        let id = DocumentId(parse_id(&id, "id")?);
        let actor = request(ctx).viewer.optional()?;
        let (doc, _) = state(ctx).documents().find(actor.as_ref(), id).await?;
        Ok(Some(Document(doc)))
    }

    /// An entity; NOT_FOUND when it does not exist or its project is not visible to the caller.
    async fn entity(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Entity>> {
        let id = EntityId(parse_id(&id, "id")?);
        let actor = request(ctx).viewer.optional()?;
        let (entity, _) = state(ctx).entities().find(actor.as_ref(), id).await?;
        Ok(Some(Entity(entity)))
    }
}
