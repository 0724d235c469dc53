//! `entity_rejections`: model suggestions a researcher rejected, kept to
//! measure the quality of the models.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "entity_rejections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    /// → `documents.id`, ON DELETE CASCADE.
    pub document_id: Uuid,
    /// → `entity_types.id`, ON DELETE RESTRICT.
    pub entity_type_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    pub start_offset: i32,
    pub end_offset: i32,
    pub source: String,
    /// No foreign key yet.
    pub llm_model_id: Option<Uuid>,
    pub confidence_score: Option<f64>,
    /// → `users.id`, ON DELETE SET NULL.
    pub rejected_by: Option<Uuid>,
    pub rejected_at: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    /// The layer the suggestion was deleted from (`entities.layer`'s key; `curated` default).
    #[sea_orm(column_type = "Text")]
    pub layer: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
