use async_graphql::{Context, ID, Object};
use nishan_domain::DomainError;
use nishan_domain::ids::{DocumentId, EntityId};

use crate::error::{ApiError, ApiResult};
use crate::graphql::loaders::{AccessOnce, DocumentLoader, Loaded};
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
        // Through the request's loader: a document named by several fields (aliases) is read
        // from the database once.
        let not_found = || ApiError::from(DomainError::NotFound { resource: "document" });
        let doc = ctx.data_unchecked::<Loaded<DocumentLoader>>().load_one(id).await?.ok_or_else(not_found)?;
        let check = || async { state(ctx).documents().access(actor.as_ref(), &doc).await };
        match ctx.data_opt::<AccessOnce>() {
            Some(once) => once.of(doc.project_id, check).await?,
            None => check().await?,
        };
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
