//! `assignments`: one per (document, annotator), unique; see the migration
//! `m20261207_030002_create_assignments`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "assignments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    /// → `documents.id`, ON DELETE CASCADE.
    pub document_id: Uuid,
    /// → `users.id`, ON DELETE CASCADE.
    pub annotator_id: Uuid,
    /// `NEW`, `IN_PROGRESS`, `FINISHED`, `LOCKED` or `IGNORED`.
    pub state: String,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub touched_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
