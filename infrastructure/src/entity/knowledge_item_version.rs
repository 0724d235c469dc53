//! `knowledge_item_versions`: every version of every entry, never changed; unique per
//! (item, version).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_item_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `knowledge_items.id`, ON DELETE CASCADE.
    pub item_id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    pub version: i32,
    /// `CREATE`, `UPDATE`, `APPROVE`, `MERGE`, `MERGED_INTO`, `ADD_ALIAS`, `DELETE`.
    pub action: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    pub entity_type_id: Uuid,
    pub aliases: Json,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub external_ids: Json,
    pub attributes: Json,
    pub approved: bool,
    pub details: Json,
    /// → `users.id`, ON DELETE SET NULL.
    pub changed_by: Option<Uuid>,
    pub changed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
