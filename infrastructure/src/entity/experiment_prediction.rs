//! `experiment_predictions`: the scratch layer of an experiment's runs.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "experiment_predictions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `experiment_runs.id`, ON DELETE CASCADE.
    pub run_id: Uuid,
    /// → `documents.id`, ON DELETE CASCADE.
    pub document_id: Uuid,
    pub start: i32,
    pub end: i32,
    pub entity_type_id: Uuid,
    pub confidence: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
