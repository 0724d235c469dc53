//! `llm_models`: configured language models, with their encrypted key and call statistics.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "llm_models")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub provider: String,
    pub model_name: String,
    pub api_base_url: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub api_key_encrypted: Option<String>,
    pub api_key_hint: Option<String>,
    pub api_version: Option<String>,
    pub is_active: bool,
    pub is_default: bool,
    pub priority: i32,
    pub max_tokens: i32,
    pub temperature: f64,
    pub timeout_secs: i32,
    pub rate_limit_per_minute: Option<i32>,
    pub rate_limit_per_hour: Option<i32>,
    pub cost_per1k_prompt_tokens: f64,
    pub cost_per1k_completion_tokens: f64,
    pub total_requests: i64,
    pub successful_requests: i64,
    pub failed_requests: i64,
    pub average_response_ms: f64,
    pub validation_status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub validation_error: Option<String>,
    pub validated_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
