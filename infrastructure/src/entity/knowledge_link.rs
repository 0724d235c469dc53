//! `knowledge_links`: typed links between entries, unique per (from, to, type).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    /// → `knowledge_items.id`, ON DELETE CASCADE.
    pub from_item_id: Uuid,
    /// → `knowledge_items.id`, ON DELETE CASCADE.
    pub to_item_id: Uuid,
    pub link_type: String,
    pub strength: f64,
    /// → `users.id`, ON DELETE SET NULL.
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
