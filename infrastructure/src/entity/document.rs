//! `documents`: unique per (project, content hash). The counts and the content's version are
//! in `document_stats` (see [`super::document_stats`]), so an entity write never rewrites this
//! row and its text.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// Lower-case hex SHA-256 of `content`.
    pub content_hash: String,
    pub file_name: Option<String>,
    pub file_size: Option<i64>,
    pub content_type: Option<String>,
    pub encoding: Option<String>,
    /// Defaults to `ur`.
    pub language: String,
    /// `RTL` or `LTR`.
    pub direction: String,
    pub word_count: i32,
    pub character_count: i32,
    pub line_count: i32,
    /// `pending`, `processing`, `completed`, `failed` or `cancelled`.
    pub processing_status: String,
    pub processing_started_at: Option<DateTimeUtc>,
    pub processing_completed_at: Option<DateTimeUtc>,
    pub processing_duration_ms: Option<i64>,
    pub confidence_score: Option<f64>,
    pub quality_score: Option<f64>,
    /// JSON array of strings.
    pub tags: Json,
    /// JSON object.
    pub metadata: Json,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    /// → `users.id`, ON DELETE SET NULL.
    pub created_by: Option<Uuid>,
    /// → `users.id`, ON DELETE SET NULL.
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::document_stats::Entity")]
    Stats,
}

impl Related<super::document_stats::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Stats.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
