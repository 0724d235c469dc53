//! `chat_messages`: the questions and answers of a chat session, numbered from 0.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "chat_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `chat_sessions.id`, ON DELETE CASCADE.
    pub session_id: Uuid,
    pub position: i32,
    /// `USER` or `ASSISTANT`.
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// `[{"documentId", "lineNumber", "start", "end", "quote"}]`.
    pub citations: Json,
    pub dropped_citations: i32,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub cost: f64,
    pub llm_model_id: Option<Uuid>,
    pub model_name: Option<String>,
    pub latency_ms: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
