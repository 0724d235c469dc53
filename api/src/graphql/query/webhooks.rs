use async_graphql::{Context, ID, Object};
use nishan_domain::ids::ProjectId;
use nishan_domain::webhook::WebhookId;

use crate::error::ApiResult;
use crate::graphql::types::{Webhook, parse_id};
use crate::graphql::{request, state};

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// A project's webhooks, oldest first: for its OWNERs and ADMINs (and global admins).
    async fn webhooks(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<Vec<Webhook>> {
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        let actor = request(ctx).viewer.require()?;
        Ok(state(ctx).webhooks().list(&actor, project).await?.into_iter().map(Webhook).collect())
    }

    /// One webhook, for those who manage its project.
    async fn webhook(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Webhook> {
        let id = WebhookId(parse_id(&id, "id")?);
        let actor = request(ctx).viewer.require()?;
        Ok(Webhook(state(ctx).webhooks().get(&actor, id).await?))
    }
}
