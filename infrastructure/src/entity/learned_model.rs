//! `learned_models`: each version of a project's learned model, unique per (project, version).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "learned_models")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `projects.id`, ON DELETE CASCADE.
    pub project_id: Uuid,
    pub version: i32,
    pub trained_at: DateTimeUtc,
    pub gold_entities: i32,
    pub gold_lines: i32,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// `learn::Metrics` as JSON.
    pub metrics: Json,
    /// The model's bytes (`Tagger::to_bytes`).
    #[sea_orm(column_type = "Blob")]
    pub model: Vec<u8>,
    /// No foreign key (see the migration).
    pub job_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
