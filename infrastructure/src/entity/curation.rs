//! `curations`: one per document whose curation started; see the migration
//! `m20261209_010001_create_curations`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "curations")]
pub struct Model {
    /// → `documents.id`, ON DELETE CASCADE.
    #[sea_orm(primary_key, auto_increment = false)]
    pub document_id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    /// `IN_PROGRESS` or `FINISHED`.
    pub state: String,
    pub min_votes: i32,
    pub include_unfinished: bool,
    pub merged: i32,
    pub open_conflicts: i32,
    pub resolved_conflicts: i32,
    /// → `users.id`, ON DELETE SET NULL.
    pub curated_by: Option<Uuid>,
    pub started_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
