//! Webhooks as their project's owners see them: where they post, what they hear of, whether
//! active, and their deliveries with each attempt. The secret is never here: it is shown once,
//! in `WebhookWithSecret`, when made or rotated.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ComplexObject, Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::webhook::{Delivery, DeliveryAttempt};

use crate::error::{ApiResult, bad_input};
use crate::graphql::pagination::{self, Conn, ConnectionFields};
use crate::graphql::{request, state};

pub struct Webhook(pub nishan_domain::webhook::Webhook);

#[Object]
impl Webhook {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn project_id(&self) -> ID {
        ID(self.0.project_id.to_string())
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The events it subscribes to (`document.created`, `job.failed`, ...).
    async fn events(&self) -> Vec<&'static str> {
        self.0.events.iter().map(|e| e.as_str()).collect()
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// False once it failed `DISABLE_AFTER_FAILURES` (30) attempts in a row.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    /// Failed attempts since the last delivered one.
    async fn consecutive_failures(&self) -> u32 {
        self.0.consecutive_failures
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Its deliveries, newest first.
    #[graphql(complexity = "pagination::complexity(child_complexity, first)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<WebhookDelivery>> {
        let limit = pagination::page_size(first)?;
        if let Some(a) = &after
            && (!a.starts_with("msg_") || a.len() > 64)
        {
            return Err(bad_input("after", "is not a valid cursor"));
        }
        let actor = request(ctx).viewer.require()?;
        let page = state(ctx).webhooks().deliveries(&actor, self.0.id, after.as_deref(), limit + 1).await?;
        let has_next = page.items.len() as u64 > limit;
        let mut conn =
            Connection::with_additional_fields(after.is_some(), has_next, ConnectionFields { total_count: page.total });
        conn.edges
            .extend(page.items.into_iter().take(limit as usize).map(|d| Edge::new(d.id.clone(), WebhookDelivery(d))));
        Ok(conn)
    }
}

/// One event sent (or to be sent) to one webhook.
pub struct WebhookDelivery(pub Delivery);

#[Object]
impl WebhookDelivery {
    /// The message id, sent as `webhook-id` on every attempt.
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn event(&self) -> &str {
        &self.0.event
    }
    /// The JSON body sent: `{type, timestamp, data}`.
    async fn payload(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.payload.clone())
    }
    /// PENDING, DELIVERED or FAILED (given up).
    async fn status(&self) -> &str {
        self.0.status.as_str()
    }
    /// The status code of the latest attempt (null before one, or when none answered).
    async fn status_code(&self) -> Option<u16> {
        self.0.status_code
    }
    /// Attempts made so far.
    async fn attempt(&self) -> u32 {
        self.0.attempt
    }
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Every attempt, in order.
    async fn attempts(&self, ctx: &Context<'_>) -> ApiResult<Vec<WebhookAttempt>> {
        Ok(state(ctx).webhooks().attempts(&self.0).await?.into_iter().map(WebhookAttempt::from).collect())
    }
}

/// One attempt of a delivery.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct WebhookAttempt {
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub error: Option<String>,
    /// When the next attempt is due (null after the last one).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempted_at: DateTime<Utc>,
}

#[ComplexObject]
impl WebhookAttempt {}

impl From<DeliveryAttempt> for WebhookAttempt {
    fn from(a: DeliveryAttempt) -> Self {
        Self {
            attempt: a.attempt,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error,
            next_attempt_at: a.next_attempt_at,
            attempted_at: a.attempted_at,
        }
    }
}

/// A webhook with its secret: the only time the secret is shown.
#[derive(SimpleObject)]
pub struct WebhookWithSecret {
    pub webhook: Webhook,
    /// `whsec_` + base64 of the key: give it to your Standard Webhooks verifier.
    pub secret: String,
}
