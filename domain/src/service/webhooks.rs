//! Webhooks of a project: its owners and admins (and global admins) create, list, test,
//! rotate and delete them; nobody else learns they exist (NOT_FOUND for a project the caller
//! cannot see, FORBIDDEN for one they can). The secret is shown once, when made; it is stored
//! sealed by the server's key, because the sender needs it to sign.

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::ids::ProjectId;
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{Page, ProjectRepository, SecretCipher, WebhookRepository};
use crate::webhook::{
    Delivery, DeliveryAttempt, OLD_SECRET_VALID, TEST_EVENT, Webhook, WebhookId, check_url, parse_events,
};

pub struct Webhooks<'a, S, C> {
    pub store: &'a S,
    pub cipher: &'a C,
}

/// What `create` needs from the caller.
pub struct NewWebhook {
    pub project_id: ProjectId,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    /// A fresh secret (`whsec_` + base64 of random bytes), made by the caller's generator.
    pub secret: String,
}

impl<S: WebhookRepository + ProjectRepository, C: SecretCipher> Webhooks<'_, S, C> {
    /// Checks that the actor manages webhooks of the project (OWNER, ADMIN, global admins).
    async fn manage(&self, actor: &Actor, project_id: ProjectId) -> DomainResult<()> {
        let project =
            self.store.project_by_id(project_id).await?.ok_or(DomainError::NotFound { resource: "project" })?;
        let role = self.store.roles_of(actor.user_id, &[project_id]).await?.remove(&project_id);
        ProjectAccess::evaluate(&project, Some(actor), role).require(Permission::EditProject)
    }

    /// The webhook, when the actor manages its project; NOT_FOUND `webhook` otherwise (or
    /// FORBIDDEN for a member of the project who may not manage it).
    async fn managed(&self, actor: &Actor, id: WebhookId) -> DomainResult<Webhook> {
        let hook = self.store.webhook_by_id(id).await?.ok_or(DomainError::NotFound { resource: "webhook" })?;
        match self.manage(actor, hook.project_id).await {
            Err(DomainError::NotFound { .. }) => Err(DomainError::NotFound { resource: "webhook" }),
            other => other.map(|_| hook),
        }
    }

    /// Creates a webhook; returns it with its secret (shown this once).
    pub async fn create(&self, meta: &RequestMeta, actor: &Actor, new: NewWebhook) -> DomainResult<(Webhook, String)> {
        let url = check_url(&new.url)?;
        let events = parse_events(&new.events)?;
        let description = new.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        self.manage(actor, new.project_id).await?;
        let now = Utc::now();
        let hook = Webhook {
            id: WebhookId::new(),
            project_id: new.project_id,
            url,
            events,
            description,
            is_active: true,
            consecutive_failures: 0,
            created_by: Some(actor.user_id),
            created_at: now,
            updated_at: now,
        };
        let names: Vec<&str> = hook.events.iter().map(|e| e.as_str()).collect();
        let audit = AuditEntry::new(meta, Some(actor.user_id), "webhook.create", "webhook")
            .resource(hook.id, &hook.url)
            .project(hook.project_id)
            .changes(json!({"url": hook.url, "events": names}));
        let sealed = self.cipher.encrypt(&new.secret)?;
        let stored = self.store.create_webhook(hook, sealed, audit).await?;
        Ok((stored, new.secret))
    }

    pub async fn list(&self, actor: &Actor, project_id: ProjectId) -> DomainResult<Vec<Webhook>> {
        self.manage(actor, project_id).await?;
        self.store.webhooks_of(project_id).await
    }

    pub async fn get(&self, actor: &Actor, id: WebhookId) -> DomainResult<Webhook> {
        self.managed(actor, id).await
    }

    pub async fn delete(&self, meta: &RequestMeta, actor: &Actor, id: WebhookId) -> DomainResult<()> {
        let hook = self.managed(actor, id).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "webhook.delete", "webhook")
            .resource(hook.id, &hook.url)
            .project(hook.project_id);
        self.store.delete_webhook(id, audit).await
    }

    /// Replaces the secret with `secret` (returned, shown once); the old one keeps signing
    /// deliveries beside it for a day (`OLD_SECRET_VALID`), so receivers can switch over.
    pub async fn rotate_secret(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: WebhookId,
        secret: String,
    ) -> DomainResult<String> {
        let hook = self.managed(actor, id).await?;
        let until = Utc::now() + OLD_SECRET_VALID;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "webhook.rotate_secret", "webhook")
            .resource(hook.id, &hook.url)
            .project(hook.project_id)
            .changes(json!({"previousSecretValidUntil": until.to_rfc3339()}));
        self.store.rotate_webhook_secret(id, self.cipher.encrypt(&secret)?, until, audit).await?;
        Ok(secret)
    }

    /// Queues a `webhook.test` delivery to this webhook, whatever events it subscribes to.
    pub async fn test(&self, meta: &RequestMeta, actor: &Actor, id: WebhookId) -> DomainResult<Delivery> {
        let hook = self.managed(actor, id).await?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "webhook.test", "webhook")
            .resource(hook.id, &hook.url)
            .project(hook.project_id);
        let data = json!({"webhookId": hook.id.to_string(), "projectId": hook.project_id.to_string()});
        self.store.queue_delivery(id, TEST_EVENT, data, audit).await
    }

    pub async fn deliveries(
        &self,
        actor: &Actor,
        id: WebhookId,
        after: Option<&str>,
        limit: u64,
    ) -> DomainResult<Page<Delivery>> {
        self.managed(actor, id).await?;
        self.store.deliveries(id, after, limit).await
    }

    /// The attempts of a delivery the caller was shown (its webhook's access was checked).
    pub async fn attempts(&self, delivery: &Delivery) -> DomainResult<Vec<DeliveryAttempt>> {
        self.store.delivery_attempts(&delivery.id).await
    }
}
