//! `document_artifacts`: the artifact a document was made from (one per document).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "document_artifacts")]
pub struct Model {
    /// → `documents.id`, ON DELETE CASCADE.
    #[sea_orm(primary_key, auto_increment = false)]
    pub document_id: Uuid,
    /// → `artifacts.id`, ON DELETE RESTRICT.
    pub artifact_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
