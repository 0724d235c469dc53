//! `curation_decisions`: the positions a curator decided, per version of the content; see the
//! migration `m20261209_010001_create_curations`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "curation_decisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `curations.document_id`, ON DELETE CASCADE.
    pub document_id: Uuid,
    pub version: i32,
    pub start_offset: i32,
    pub end_offset: i32,
    /// `ACCEPTED` or `EMPTY`.
    pub decision: String,
    pub entity_id: Option<Uuid>,
    pub candidate_id: Option<Uuid>,
    /// → `users.id`, ON DELETE SET NULL.
    pub decided_by: Option<Uuid>,
    pub decided_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
