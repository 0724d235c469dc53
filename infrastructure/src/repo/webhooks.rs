//! Webhooks and their outbox. The outbox is `webhook_deliveries`: a project event is queued
//! for each active webhook of the project that subscribes to it, by [`queue_event_in`], on the
//! connection of the change, so the delivery exists exactly when the change committed (a rolled
//! back change leaves none). Events of audited changes are derived from the audit entry where
//! it is written (`audit::insert` calls [`queue_for_audit`], with the mapping in
//! `WebhookEvent::of_action`); job endings, which are not audited, are queued where the job's
//! final status is written.
//!
//! Senders of any replica claim due deliveries atomically (PostgreSQL: `FOR UPDATE SKIP
//! LOCKED`; SQLite: one `UPDATE ... RETURNING` in an IMMEDIATE transaction) under a lease, and
//! record each attempt fenced by that lease, so one attempt of a delivery runs at a time and
//! a delivery whose sender died is taken up again when its lease ends.

use chrono::{DateTime, Utc};
use nishan_domain::audit::AuditEntry;
use nishan_domain::ids::{ProjectId, UserId};
use nishan_domain::ports::{Page, WebhookRepository};
use nishan_domain::webhook::{
    AttemptOutcome, DISABLE_AFTER_FAILURES, Delivery, DeliveryAttempt, DeliveryStatus, Webhook, WebhookEvent,
    WebhookId, WebhookPatch,
};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query, QueryStatementBuilder};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, Iterable, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Store, audit, internal};
use crate::entity::{webhook, webhook_attempt, webhook_delivery};

fn hook(m: webhook::Model) -> DomainResult<Webhook> {
    let events = match &m.events {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(WebhookEvent::parse)
            .collect::<DomainResult<Vec<_>>>()
            .map_err(|_| DomainError::internal("a stored webhook names an unknown event"))?,
        _ => return Err(DomainError::internal("a stored webhook's events are not a list")),
    };
    Ok(Webhook {
        id: WebhookId(m.id),
        project_id: ProjectId(m.project_id),
        url: m.url,
        events,
        description: m.description,
        is_active: m.is_active,
        consecutive_failures: u32::try_from(m.consecutive_failures).unwrap_or(0),
        created_by: m.created_by.map(UserId),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn delivery(m: webhook_delivery::Model) -> DomainResult<Delivery> {
    Ok(Delivery {
        payload: serde_json::from_str(&m.payload).map_err(DomainError::internal)?,
        id: m.id,
        webhook_id: WebhookId(m.webhook_id),
        event: m.event,
        status: DeliveryStatus::parse(&m.status)?,
        attempt: u32::try_from(m.attempt).unwrap_or(0),
        status_code: m.status_code.map(|c| c as u16),
        next_attempt_at: m.next_attempt_at,
        delivered_at: m.delivered_at,
        created_at: m.created_at,
    })
}

/// A fresh message id: `msg_` + a UUIDv7, so ids sort by creation.
fn message_id() -> String {
    format!("msg_{}", Uuid::now_v7().simple())
}

/// The body of a delivery, per the Standard Webhooks payload convention.
fn body(event: &str, data: Value, now: DateTime<Utc>) -> String {
    json!({"type": event, "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "data": data})
        .to_string()
}

fn delivery_row(webhook_id: Uuid, event: &str, payload: String, now: DateTime<Utc>) -> webhook_delivery::ActiveModel {
    webhook_delivery::ActiveModel {
        id: Set(message_id()),
        webhook_id: Set(webhook_id),
        event: Set(event.to_owned()),
        payload: Set(payload),
        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
        attempt: Set(0),
        status_code: Set(None),
        next_attempt_at: Set(Some(now)),
        delivered_at: Set(None),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        created_at: Set(now),
    }
}

/// Queues `event` with `data` for every active webhook of the project subscribed to it, on
/// `conn` (the transaction of the change). Returns how many deliveries were queued.
pub(crate) async fn queue_event_in(
    conn: &impl ConnectionTrait,
    project: ProjectId,
    event: WebhookEvent,
    data: Value,
) -> DomainResult<usize> {
    let hooks: Vec<(Uuid, Value)> = webhook::Entity::find()
        .select_only()
        .column(webhook::Column::Id)
        .column(webhook::Column::Events)
        .filter(webhook::Column::ProjectId.eq(project.0))
        .filter(webhook::Column::IsActive.eq(true))
        .into_tuple()
        .all(conn)
        .await
        .map_err(internal)?;
    let name = event.as_str();
    let now = Utc::now();
    let rows: Vec<_> = hooks
        .into_iter()
        .filter(|(_, events)| events.as_array().is_some_and(|a| a.iter().any(|e| e.as_str() == Some(name))))
        .map(|(id, _)| delivery_row(id, name, body(name, data.clone(), now), now))
        .collect();
    let queued = rows.len();
    if queued > 0 {
        webhook_delivery::Entity::insert_many(rows).exec_without_returning(conn).await.map_err(internal)?;
    }
    Ok(queued)
}

/// Queues the event an audited change raises, if it raises one (`WebhookEvent::of_action`).
pub(crate) async fn queue_for_audit(conn: &impl ConnectionTrait, entry: &AuditEntry) -> DomainResult<()> {
    let (Some(project), Some(event)) = (entry.project_id, WebhookEvent::of_action(&entry.action)) else {
        return Ok(());
    };
    let data = json!({
        "projectId": project.to_string(),
        "resourceType": entry.resource_type,
        "resourceId": entry.resource_id,
        "resourceName": entry.resource_name,
        "actorId": entry.user_id.map(|u| u.to_string()),
        "changes": entry.changes,
        "at": entry.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    queue_event_in(conn, project, event, data).await.map(|_| ())
}

/// Queues `job.completed` or `job.failed` for a job that just reached that status.
pub(crate) async fn queue_job_end(conn: &impl ConnectionTrait, j: &nishan_domain::job::Job) -> DomainResult<()> {
    use nishan_domain::job::JobStatus;
    let event = match j.status {
        JobStatus::Completed => WebhookEvent::JobCompleted,
        JobStatus::Failed => WebhookEvent::JobFailed,
        _ => return Ok(()),
    };
    let data = json!({
        "projectId": j.project_id.to_string(),
        "jobId": j.id.to_string(),
        "kind": j.kind.as_str(),
        "status": j.status.as_str(),
        "documentId": j.document_id().map(|d| d.to_string()),
        "entitiesFound": j.entities_found,
        "errorMessage": j.error_message,
    });
    queue_event_in(conn, j.project_id, event, data).await.map(|_| ())
}

/// A claimed delivery with what its sender needs: where, and the sealed secrets to sign with.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub webhook_id: Uuid,
    /// The attempt about to be made (1 for the first).
    pub attempt: u32,
    pub payload: String,
    pub url: String,
    pub is_active: bool,
    /// The current sealed secret, then the previous one while it is still valid.
    pub sealed_secrets: Vec<String>,
}

/// What an attempt came to, as the sender records it.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    pub at: DateTime<Utc>,
}

impl Store {
    /// Claims the next due delivery for `worker` until `lease_until`, or `None`.
    pub async fn claim_delivery(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> DomainResult<Option<ClaimedDelivery>> {
        use webhook_delivery::Column as D;
        let due = || {
            sea_orm::sea_query::Cond::all()
                .add(D::Status.eq(DeliveryStatus::Pending.as_str()))
                .add(D::NextAttemptAt.lte(now))
                .add(sea_orm::sea_query::Cond::any().add(D::LeaseExpiresAt.is_null()).add(D::LeaseExpiresAt.lt(now)))
        };
        // A look without the write lock first, as the job queue does.
        let any = webhook_delivery::Entity::find()
            .select_only()
            .column(D::Id)
            .filter(due())
            .into_tuple::<String>()
            .one(self.connection())
            .await
            .map_err(internal)?;
        if any.is_none() {
            return Ok(None);
        }
        let txn = self.write().await?;
        let mut next = Query::select()
            .column(D::Id)
            .from(webhook_delivery::Entity)
            .cond_where(due())
            .order_by(D::NextAttemptAt, sea_orm::Order::Asc)
            .limit(1)
            .to_owned();
        if self.is_postgres() {
            next.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let claim = Query::update()
            .table(webhook_delivery::Entity)
            .value(D::LeaseOwner, worker)
            .value(D::LeaseExpiresAt, lease_until)
            .and_where(Expr::col(D::Id).eq(Expr::SubQuery(None, Box::new(next.into_sub_query_statement()))))
            .cond_where(due())
            .returning(Query::returning().columns(D::iter()))
            .to_owned();
        let backend = txn.get_database_backend();
        let row =
            webhook_delivery::Model::find_by_statement(backend.build(&claim)).one(&txn).await.map_err(internal)?;
        let Some(row) = row else {
            txn.commit().await.map_err(internal)?;
            return Ok(None);
        };
        let hook = webhook::Entity::find_by_id(row.webhook_id).one(&txn).await.map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        let Some(hook) = hook else { return Ok(None) };
        let mut sealed_secrets = vec![hook.secret];
        if let (Some(old), Some(until)) = (hook.previous_secret, hook.previous_secret_until)
            && until > now
        {
            sealed_secrets.push(old);
        }
        Ok(Some(ClaimedDelivery {
            id: row.id,
            webhook_id: row.webhook_id,
            attempt: u32::try_from(row.attempt).unwrap_or(0) + 1,
            payload: row.payload,
            url: hook.url,
            is_active: hook.is_active,
            sealed_secrets,
        }))
    }

    /// Records an attempt of a claimed delivery, if `worker` still holds its lease: the
    /// attempt's log row, the delivery's new state, and the webhook's failure count (disabled
    /// when it reaches `DISABLE_AFTER_FAILURES`). Returns whether it was recorded.
    pub async fn record_attempt(
        &self,
        claimed: &ClaimedDelivery,
        worker: &str,
        record: &AttemptRecord,
    ) -> DomainResult<bool> {
        use webhook_delivery::Column as D;
        let txn = self.write().await?;
        let (status, next, delivered_at) = match record.outcome {
            AttemptOutcome::Delivered => (DeliveryStatus::Delivered, None, Some(record.at)),
            AttemptOutcome::Retry(at) => (DeliveryStatus::Pending, Some(at), None),
            AttemptOutcome::GaveUp => (DeliveryStatus::Failed, None, None),
        };
        let updated = webhook_delivery::Entity::update_many()
            .col_expr(D::Status, Expr::value(status.as_str()))
            .col_expr(D::Attempt, Expr::value(claimed.attempt as i32))
            .col_expr(D::StatusCode, Expr::value(record.status_code.map(i32::from)))
            .col_expr(D::NextAttemptAt, Expr::value(next))
            .col_expr(D::DeliveredAt, Expr::value(delivered_at))
            .col_expr(D::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(D::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(D::Id.eq(claimed.id.as_str()))
            .filter(D::LeaseOwner.eq(worker))
            .filter(D::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if updated.rows_affected != 1 {
            txn.rollback().await.map_err(internal)?;
            return Ok(false);
        }
        webhook_attempt::Entity::insert(webhook_attempt::ActiveModel {
            delivery_id: Set(claimed.id.clone()),
            attempt: Set(claimed.attempt as i32),
            status_code: Set(record.status_code.map(i32::from)),
            latency_ms: Set(i32::try_from(record.latency_ms).unwrap_or(i32::MAX)),
            error: Set(record.error.clone()),
            next_attempt_at: Set(next),
            attempted_at: Set(record.at),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await
        .map_err(internal)?;
        let failures = match record.outcome {
            AttemptOutcome::Delivered => Expr::value(0),
            _ => Expr::col(webhook::Column::ConsecutiveFailures).add(1),
        };
        webhook::Entity::update_many()
            .col_expr(webhook::Column::ConsecutiveFailures, failures)
            .filter(webhook::Column::Id.eq(claimed.webhook_id))
            .exec(&txn)
            .await
            .map_err(internal)?;
        webhook::Entity::update_many()
            .col_expr(webhook::Column::IsActive, Expr::value(false))
            .col_expr(webhook::Column::UpdatedAt, Expr::value(record.at))
            .filter(webhook::Column::Id.eq(claimed.webhook_id))
            .filter(webhook::Column::IsActive.eq(true))
            .filter(webhook::Column::ConsecutiveFailures.gte(DISABLE_AFTER_FAILURES as i32))
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(true)
    }

    /// Deletes the deliveries that ended (DELIVERED or FAILED) and were queued before
    /// `before`, with their attempts, in one transaction; pending ones stay whatever their
    /// age. Returns how many deliveries were removed.
    pub async fn delete_finished_deliveries_before(&self, before: DateTime<Utc>) -> DomainResult<u64> {
        use webhook_delivery::Column as D;
        let finished = || {
            Query::select()
                .column(D::Id)
                .from(webhook_delivery::Entity)
                .and_where(D::Status.ne(DeliveryStatus::Pending.as_str()))
                .and_where(D::CreatedAt.lt(before))
                .to_owned()
        };
        let txn = self.write().await?;
        webhook_attempt::Entity::delete_many()
            .filter(webhook_attempt::Column::DeliveryId.in_subquery(finished()))
            .exec(&txn)
            .await
            .map_err(internal)?;
        let gone = webhook_delivery::Entity::delete_many()
            .filter(D::Status.ne(DeliveryStatus::Pending.as_str()))
            .filter(D::CreatedAt.lt(before))
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(gone.rows_affected)
    }

    /// Gives up a claimed delivery whose webhook was disabled (no attempt is made).
    pub async fn drop_delivery(&self, claimed: &ClaimedDelivery, worker: &str) -> DomainResult<()> {
        use webhook_delivery::Column as D;
        webhook_delivery::Entity::update_many()
            .col_expr(D::Status, Expr::value(DeliveryStatus::Failed.as_str()))
            .col_expr(D::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(D::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(D::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(D::Id.eq(claimed.id.as_str()))
            .filter(D::LeaseOwner.eq(worker))
            .exec(self.writer())
            .await
            .map_err(internal)?;
        Ok(())
    }
}

impl WebhookRepository for Store {
    async fn create_webhook(
        &self,
        h: Webhook,
        sealed_secret: String,
        audit_entry: AuditEntry,
    ) -> DomainResult<Webhook> {
        let txn = self.write().await?;
        let events: Vec<&str> = h.events.iter().map(|e| e.as_str()).collect();
        let row = webhook::ActiveModel {
            id: Set(h.id.0),
            project_id: Set(h.project_id.0),
            url: Set(h.url.clone()),
            events: Set(json!(events)),
            description: Set(h.description.clone()),
            secret: Set(sealed_secret),
            previous_secret: Set(None),
            previous_secret_until: Set(None),
            is_active: Set(h.is_active),
            consecutive_failures: Set(0),
            created_by: Set(h.created_by.map(|u| u.0)),
            created_at: Set(h.created_at),
            updated_at: Set(h.updated_at),
        };
        webhook::Entity::insert(row).exec_without_returning(&txn).await.map_err(internal)?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(h)
    }

    async fn webhook_by_id(&self, id: WebhookId) -> DomainResult<Option<Webhook>> {
        webhook::Entity::find_by_id(id.0).one(self.connection()).await.map_err(internal)?.map(hook).transpose()
    }

    async fn webhooks_of(&self, project: ProjectId) -> DomainResult<Vec<Webhook>> {
        webhook::Entity::find()
            .filter(webhook::Column::ProjectId.eq(project.0))
            .order_by_asc(webhook::Column::CreatedAt)
            .order_by_asc(webhook::Column::Id)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(hook)
            .collect()
    }

    async fn delete_webhook(&self, id: WebhookId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let gone = webhook::Entity::delete_by_id(id.0).exec(&txn).await.map_err(internal)?;
        if gone.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "webhook" });
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn update_webhook(
        &self,
        id: WebhookId,
        patch: &WebhookPatch,
        at: DateTime<Utc>,
        audit_entry: AuditEntry,
    ) -> DomainResult<Webhook> {
        use webhook::Column as W;
        let txn = self.write().await?;
        let mut update = webhook::Entity::update_many().col_expr(W::UpdatedAt, Expr::value(at));
        if let Some(url) = &patch.url {
            update = update.col_expr(W::Url, Expr::value(url.clone()));
        }
        if let Some(events) = &patch.events {
            let events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
            update = update.col_expr(W::Events, Expr::value(json!(events)));
        }
        if let Some(description) = &patch.description {
            update = update.col_expr(W::Description, Expr::value(description.clone()));
        }
        if let Some(active) = patch.is_active {
            update = update.col_expr(W::IsActive, Expr::value(active));
        }
        if patch.reset_failures {
            update = update.col_expr(W::ConsecutiveFailures, Expr::value(0));
        }
        let changed = update.filter(W::Id.eq(id.0)).exec(&txn).await.map_err(internal)?;
        if changed.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "webhook" });
        }
        audit::insert(&txn, audit_entry).await?;
        let stored = webhook::Entity::find_by_id(id.0).one(&txn).await.map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        stored.map(hook).transpose()?.ok_or(DomainError::NotFound { resource: "webhook" })
    }

    async fn rotate_webhook_secret(
        &self,
        id: WebhookId,
        sealed_secret: String,
        old_until: DateTime<Utc>,
        audit_entry: AuditEntry,
    ) -> DomainResult<()> {
        let txn = self.write().await?;
        let changed = webhook::Entity::update_many()
            .col_expr(webhook::Column::PreviousSecret, Expr::col(webhook::Column::Secret))
            .col_expr(webhook::Column::PreviousSecretUntil, Expr::value(old_until))
            .col_expr(webhook::Column::Secret, Expr::value(sealed_secret))
            .col_expr(webhook::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(webhook::Column::Id.eq(id.0))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if changed.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "webhook" });
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn queue_delivery(
        &self,
        id: WebhookId,
        event: &str,
        data: Value,
        audit_entry: AuditEntry,
    ) -> DomainResult<Delivery> {
        let txn = self.write().await?;
        let now = Utc::now();
        let row = delivery_row(id.0, event, body(event, data, now), now);
        let stored =
            webhook_delivery::Entity::insert(row).exec_with_returning(&txn).await.map_err(|e| match e.sql_err() {
                Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => {
                    DomainError::NotFound { resource: "webhook" }
                }
                _ => internal(e),
            })?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        delivery(stored)
    }

    async fn deliveries(&self, id: WebhookId, after: Option<&str>, limit: u64) -> DomainResult<Page<Delivery>> {
        let q = webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(id.0));
        let total = q.clone().count(self.connection()).await.map_err(internal)?;
        let q = match after {
            Some(a) => q.filter(webhook_delivery::Column::Id.lt(a)),
            None => q,
        };
        let rows = q
            .order_by_desc(webhook_delivery::Column::Id)
            .limit(limit)
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(Page { items: rows.into_iter().map(delivery).collect::<DomainResult<_>>()?, total })
    }

    async fn delivery_attempts(&self, id: &str) -> DomainResult<Vec<DeliveryAttempt>> {
        Ok(webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.eq(id))
            .order_by_asc(webhook_attempt::Column::Attempt)
            .order_by_asc(webhook_attempt::Column::Id)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(|a| DeliveryAttempt {
                attempt: u32::try_from(a.attempt).unwrap_or(0),
                status_code: a.status_code.map(|c| c as u16),
                latency_ms: u32::try_from(a.latency_ms).unwrap_or(0),
                error: a.error,
                next_attempt_at: a.next_attempt_at,
                attempted_at: a.attempted_at,
            })
            .collect())
    }
}
