//! `document_versions`: unique per (document, version number).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "document_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `documents.id`, ON DELETE CASCADE.
    pub document_id: Uuid,
    pub version_number: i32,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    /// Lower-case hex SHA-256 of `content`.
    pub content_hash: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub change_summary: Option<String>,
    /// → `users.id`, ON DELETE SET NULL.
    pub changed_by: Option<Uuid>,
    pub changed_at: DateTimeUtc,
    /// JSON object.
    pub diff_summary: Json,
    #[sea_orm(column_type = "Text")]
    pub unified_diff: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
