use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::ids::ProjectId;
use nishan_domain::service::webhooks::{NewWebhook, WebhookChange};
use nishan_domain::webhook::WebhookId;

use crate::error::ApiResult;
use crate::graphql::types::{Webhook, WebhookDelivery, WebhookWithSecret, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct CreateWebhookInput {
    pub project_id: ID,
    /// Where deliveries are POSTed: http(s), a public address (unless the server allows
    /// private ones).
    pub url: String,
    /// At least one of `document.created`, `document.updated`, `document.deleted`,
    /// `entity.verified`, `job.completed`, `job.failed`, `assignment.finished`,
    /// `curation.finished`.
    pub events: Vec<String>,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateWebhookInput {
    pub id: ID,
    /// A new address, checked as `createWebhook` checks it.
    pub url: Option<String>,
    /// The events it wants from now on (at least one).
    pub events: Option<Vec<String>>,
    /// An empty description removes it.
    pub description: Option<String>,
    /// `true` enables a disabled webhook again (its count of failures in a row starts at 0);
    /// `false` stops its deliveries.
    pub is_active: Option<bool>,
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Creates a webhook (project OWNERs and ADMINs); its secret is in the answer, this once.
    async fn create_webhook(&self, ctx: &Context<'_>, input: CreateWebhookInput) -> ApiResult<WebhookWithSecret> {
        let project_id = ProjectId(parse_id(&input.project_id, "input.projectId")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let new = NewWebhook {
            project_id,
            url: input.url,
            events: input.events,
            description: input.description,
            secret: nishan_infrastructure::webhooks::new_secret(),
        };
        let (hook, secret) = state(ctx).webhooks().create(&req.meta, &actor, new).await?;
        Ok(WebhookWithSecret { webhook: Webhook(hook), secret })
    }

    /// Changes a webhook's url, events, description or activity (project OWNERs and ADMINs);
    /// fields left out stay as they are.
    async fn update_webhook(&self, ctx: &Context<'_>, input: UpdateWebhookInput) -> ApiResult<Webhook> {
        let id = WebhookId(parse_id(&input.id, "input.id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let change = WebhookChange {
            url: input.url,
            events: input.events,
            description: input.description,
            is_active: input.is_active,
        };
        Ok(Webhook(state(ctx).webhooks().update(&req.meta, &actor, id, change).await?))
    }

    /// Queues a `webhook.test` delivery to the webhook, whatever it subscribes to.
    async fn test_webhook(&self, ctx: &Context<'_>, id: ID) -> ApiResult<WebhookDelivery> {
        let id = WebhookId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(WebhookDelivery(state(ctx).webhooks().test(&req.meta, &actor, id).await?))
    }

    /// A new secret (in the answer, this once); the old one keeps signing beside it for a day.
    async fn rotate_webhook_secret(&self, ctx: &Context<'_>, id: ID) -> ApiResult<WebhookWithSecret> {
        let id = WebhookId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let webhooks = state(ctx).webhooks();
        let secret =
            webhooks.rotate_secret(&req.meta, &actor, id, nishan_infrastructure::webhooks::new_secret()).await?;
        Ok(WebhookWithSecret { webhook: Webhook(webhooks.get(&actor, id).await?), secret })
    }

    /// Deletes the webhook and its deliveries; true when done.
    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let id = WebhookId(parse_id(&id, "id")?);
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).webhooks().delete(&req.meta, &actor, id).await?;
        Ok(true)
    }
}
