//! `entity_relationships`: unique per (source entity, target entity,
//! relationship type).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "entity_relationships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    /// → `entities.id`, ON DELETE CASCADE.
    pub source_entity_id: Uuid,
    /// → `entities.id`, ON DELETE CASCADE.
    pub target_entity_id: Uuid,
    pub relationship_type: String,
    pub confidence_score: Option<f64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    /// → `users.id`, ON DELETE SET NULL.
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
