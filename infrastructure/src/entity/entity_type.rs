//! `entity_types`: the migration seeds the seven system types (`PERSON`,
//! `LOCATION`, `DATE`, `TIME`, `ORGANIZATION`, `DESIGNATION`, `NUMBER`) with
//! the fixed ids `00000000-0000-7000-8000-00000000000N`, N = 1..7.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "entity_types")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Upper case, e.g. `PERSON`.
    #[sea_orm(unique)]
    pub name: String,
    pub display_name: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// `#RRGGBB`.
    pub color: String,
    /// JSON array of strings.
    pub examples: Json,
    pub is_system: bool,
    pub is_active: bool,
    pub sort_order: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
