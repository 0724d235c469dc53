//! `processing_jobs`: the durable job queue, with leases and progress.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "processing_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub document_id: Option<Uuid>,
    pub project_id: Uuid,
    pub llm_model_id: Option<Uuid>,
    pub processing_config_id: Option<Uuid>,
    pub status: String,
    pub priority: i32,
    pub progress: i32,
    pub total_steps: i32,
    pub completed_steps: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub current_step: Option<String>,
    pub entities_found: i32,
    pub entities_dropped: i32,
    pub started_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub estimated_completion_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    pub error_details: Json,
    pub tokens_used: i64,
    pub cost: f64,
    pub retry_count: i32,
    pub max_retries: i32,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub cancel_requested: bool,
    pub pause_requested: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub kind: String,
    pub params: Json,
    pub document_version: Option<i32>,
    pub checkpoint: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
