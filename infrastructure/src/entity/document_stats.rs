//! `document_stats`: one row per document and layer (unique `(document_id, layer)`), what
//! every entity write updates: the layer's entity counts and, in the `curated` row (the
//! document-wide one), the version of the content (compared and swapped by a content edit,
//! checked by an entity placed against a version). Kept apart from `documents`, whose row
//! holds the text. Another layer's row is made by the first change in that layer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "document_stats")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// → `documents.id`, ON DELETE CASCADE; unique with `layer`.
    pub document_id: Uuid,
    /// The layer counted (`curated`: the document-wide row, which keeps the version).
    pub layer: String,
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
