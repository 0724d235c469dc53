//! `document_stats`: one row per document (unique `document_id`), what every entity write
//! updates: the entity counts and the version of the content (compared and swapped by a
//! content edit, checked by an entity placed against a version). Kept apart from `documents`,
//! whose row holds the text. `id` is a surrogate key, so counts per layer can later add a
//! column and replace the unique index.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "document_stats")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// → `documents.id`, ON DELETE CASCADE; unique.
    pub document_id: Uuid,
    /// The content's version, 1 for the first.
    pub version: i32,
    pub total_entities: i32,
    pub verified_entities: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::document::Entity", from = "Column::DocumentId", to = "super::document::Column::Id")]
    Document,
}

impl Related<super::document::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Document.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
