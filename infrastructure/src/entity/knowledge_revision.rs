//! `knowledge_revisions`: one counter per project, raised by every knowledge-base write.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_revisions")]
pub struct Model {
    /// → `projects.id`, ON DELETE CASCADE.
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: Uuid,
    pub revision: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
