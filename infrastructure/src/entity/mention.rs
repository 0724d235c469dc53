//! A narrow view of `entities` for the knowledge base: where a mention stands and the entry it
//! is linked to (`knowledge_item_id`, which `annotation` leaves out so entity writes never
//! touch it). Only read and updated through this model, never inserted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "entities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub document_id: Uuid,
    pub project_id: Uuid,
    pub entity_type_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    pub start_offset: i32,
    pub line_number: i32,
    pub stanza_number: i32,
    /// The entry the mention is linked to (no foreign key: see the migration).
    pub knowledge_item_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
