//! `webhook_deliveries`: the outbox, one row per event per webhook.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// The message id, `msg_` + a UUIDv7 (so ids sort by creation).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// → `webhooks.id`, ON DELETE CASCADE.
    pub webhook_id: Uuid,
    pub event: String,
    /// The exact body sent (and signed) on every attempt.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub status: String,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
