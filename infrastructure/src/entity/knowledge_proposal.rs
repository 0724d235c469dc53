//! `knowledge_proposals`: LINKING jobs' proposals for the knowledge base, unique per
//! (project, dedup key).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_proposals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    /// → `processing_jobs.id`, ON DELETE SET NULL.
    pub job_id: Option<Uuid>,
    /// `LINK`, `NEW_ITEM`, `NEW_ALIAS`, `MERGE`.
    pub kind: String,
    /// `PENDING`, `APPROVED`, `REJECTED`.
    pub status: String,
    pub confidence: f64,
    #[sea_orm(column_type = "Text")]
    pub reasoning: String,
    /// → `entities.id`, ON DELETE CASCADE.
    pub entity_id: Option<Uuid>,
    /// → `knowledge_items.id`, ON DELETE CASCADE.
    pub item_id: Option<Uuid>,
    /// → `knowledge_items.id`, ON DELETE CASCADE.
    pub source_item_id: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub proposed_name: Option<String>,
    pub entity_type_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub dedup_key: String,
    /// → `users.id`, ON DELETE SET NULL.
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTimeUtc>,
    pub result_item_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
