//! `knowledge_items`: the entries of projects' knowledge bases. A merged entry keeps its row
//! with `merged_into_id` set, a deleted one with `deleted_at` set; `revision` is the project's
//! knowledge revision at the entry's last change.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    /// → `entity_types.id`, ON DELETE RESTRICT.
    pub entity_type_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// JSON array of strings.
    pub aliases: Json,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// JSON object: `wikidata`, `viaf`, `geonames`.
    pub external_ids: Json,
    /// JSON object.
    pub attributes: Json,
    pub version: i32,
    pub approved: bool,
    /// → `users.id`, ON DELETE SET NULL.
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTimeUtc>,
    /// Another `knowledge_items.id` (no foreign key).
    pub merged_into_id: Option<Uuid>,
    pub deleted_at: Option<DateTimeUtc>,
    pub revision: i64,
    /// → `users.id`, ON DELETE SET NULL.
    pub created_by: Option<Uuid>,
    /// → `users.id`, ON DELETE SET NULL.
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
