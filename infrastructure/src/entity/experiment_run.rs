//! `experiment_runs`: one model of an experiment, its job and its result.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "experiment_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// → `experiments.id`, ON DELETE CASCADE.
    pub experiment_id: Uuid,
    pub position: i32,
    pub llm_model_id: Uuid,
    pub model_name: String,
    /// The EXPERIMENT job (no foreign key).
    pub job_id: Uuid,
    /// `learn::records::ExperimentResult` as JSON, once compared.
    pub result: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
