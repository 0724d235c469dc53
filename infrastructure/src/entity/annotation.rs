//! `entities`: the named-entity annotations of documents, each in one layer of its document
//! (`layer`: `curated`, `annotator:<uuid>` or `model:<uuid>`), unique per
//! (document, layer, start, end, entity type). The module is not called `entity`,
//! which would clash with its parent `crate::entity`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "entities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `documents.id`, ON DELETE CASCADE.
    pub document_id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    /// The layer's key (`nishan_domain::rounds::Layer::key`).
    pub layer: String,
    /// → `entity_types.id`, ON DELETE RESTRICT.
    pub entity_type_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    pub start_offset: i32,
    pub end_offset: i32,
    pub utf16_start: i32,
    pub utf16_end: i32,
    pub line_number: i32,
    pub stanza_number: i32,
    pub word_position: i32,
    #[sea_orm(column_type = "Text")]
    pub context_before: String,
    #[sea_orm(column_type = "Text")]
    pub context_after: String,
    pub confidence_score: Option<f64>,
    /// `LLM`, `MANUAL`, `IMPORT` or `CORRECTION`.
    pub source: String,
    pub is_verified: bool,
    /// → `users.id`, ON DELETE SET NULL.
    pub verified_by: Option<Uuid>,
    pub verified_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    /// JSON object.
    pub attributes: Json,
    /// No foreign key yet.
    pub llm_model_id: Option<Uuid>,
    /// No foreign key yet.
    pub processing_job_id: Option<Uuid>,
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
