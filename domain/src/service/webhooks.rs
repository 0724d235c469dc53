//! Webhooks of a project: its owners and admins (and global admins) create, list, update,
//! test, rotate and delete them; nobody else learns they exist (NOT_FOUND for a project the caller
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
    Delivery, DeliveryAttempt, OLD_SECRET_VALID, TEST_EVENT, Webhook, WebhookId, WebhookPatch, check_url, parse_events,
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

/// What `update` changes: each field given replaces the stored one.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// An empty (or blank) description removes it.
    pub description: Option<String>,
    /// `true` on a disabled webhook enables it again, with its failure count back to 0.
    pub is_active: Option<bool>,
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

    /// Changes the webhook's url, events, description or activity. A new URL is checked as
    /// `create` checks it (and reached through the same address guard); enabling a webhook
    /// that was disabled after its failures starts its count of failures in a row again at 0.
    /// Writes one audit row (`webhook.update`) with what changed.
    pub async fn update(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: WebhookId,
        change: WebhookChange,
    ) -> DomainResult<Webhook> {
        let url = change.url.as_deref().map(check_url).transpose()?;
        let events = change.events.as_deref().map(parse_events).transpose()?;
        let hook = self.managed(actor, id).await?;
        let mut patch = WebhookPatch::default();
        let mut changes = serde_json::Map::new();
        if let Some(url) = url.filter(|u| *u != hook.url) {
            changes.insert("url".into(), json!({"from": hook.url, "to": url}));
            patch.url = Some(url);
        }
        if let Some(events) = events.filter(|e| *e != hook.events) {
            let names = |e: &[crate::webhook::WebhookEvent]| e.iter().map(|e| e.as_str()).collect::<Vec<_>>();
            changes.insert("events".into(), json!({"from": names(&hook.events), "to": names(&events)}));
            patch.events = Some(events);
        }
        if let Some(description) = change.description {
            let description = Some(description.trim().to_owned()).filter(|d| !d.is_empty());
            if description != hook.description {
                changes.insert("description".into(), json!({"from": hook.description, "to": description}));
                patch.description = Some(description);
            }
        }
        if let Some(active) = change.is_active.filter(|a| *a != hook.is_active) {
            changes.insert("isActive".into(), json!({"from": hook.is_active, "to": active}));
            patch.is_active = Some(active);
            if active {
                patch.reset_failures = true;
                if hook.consecutive_failures > 0 {
                    changes.insert("consecutiveFailures".into(), json!({"from": hook.consecutive_failures, "to": 0}));
                }
            }
        }
        let audit = AuditEntry::new(meta, Some(actor.user_id), "webhook.update", "webhook")
            .resource(hook.id, patch.url.as_deref().unwrap_or(&hook.url))
            .project(hook.project_id)
            .changes(serde_json::Value::Object(changes));
        self.store.update_webhook(hook.id, &patch, Utc::now(), audit).await
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
