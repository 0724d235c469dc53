//! The learning extractor's storage and model experiments.
//!
//! - `learned_models`: each version of a project's learned model (the tagger trained on its
//!   gold): version (from 1, unique per project), when, how much gold went in, the
//!   cross-validated precision, recall and F1, the full metrics (per type, reliability table)
//!   as JSON, and the model itself (its versioned binary format). Deleted with the project.
//! - `experiments`: a comparison of models on documents of a project (the documents as a JSON
//!   list), deleted with the project.
//! - `experiment_runs`: one model of an experiment: the model (and its name, kept if the
//!   model is deleted), the EXPERIMENT job that runs it, and its result (JSON) once done.
//! - `experiment_predictions`: a run's predictions, the experiment's scratch layer (nothing
//!   here is an entity researchers see); deleted with the run or the document.
//!
//! Job ids are kept without foreign keys: `processing_jobs` may be rebuilt on SQLite by a
//! later migration, which a reference to it would prevent.

use sea_orm_migration::prelude::*;

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LearnedModels {
    Table,
    Id,
    ProjectId,
    Version,
    TrainedAt,
    GoldEntities,
    GoldLines,
    Precision,
    Recall,
    F1,
    Metrics,
    Model,
    JobId,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Experiments {
    Table,
    Id,
    ProjectId,
    DocumentIds,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ExperimentRuns {
    Table,
    Id,
    ExperimentId,
    Position,
    LlmModelId,
    ModelName,
    JobId,
    Result,
}

#[derive(DeriveIden)]
enum ExperimentPredictions {
    Table,
    Id,
    RunId,
    DocumentId,
    Start,
    End,
    EntityTypeId,
    Confidence,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LearnedModels::Table)
                    .col(ColumnDef::new(LearnedModels::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(LearnedModels::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(LearnedModels::Version).integer().not_null())
                    .col(ColumnDef::new(LearnedModels::TrainedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(LearnedModels::GoldEntities).integer().not_null())
                    .col(ColumnDef::new(LearnedModels::GoldLines).integer().not_null())
                    .col(ColumnDef::new(LearnedModels::Precision).double().not_null())
                    .col(ColumnDef::new(LearnedModels::Recall).double().not_null())
                    .col(ColumnDef::new(LearnedModels::F1).double().not_null())
                    .col(ColumnDef::new(LearnedModels::Metrics).json().not_null())
                    .col(ColumnDef::new(LearnedModels::Model).blob().not_null())
                    .col(ColumnDef::new(LearnedModels::JobId).uuid().null())
                    .col(ColumnDef::new(LearnedModels::CreatedBy).uuid().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_learned_models_project")
                            .from(LearnedModels::Table, LearnedModels::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_learned_models_project_version",
                LearnedModels::Table,
                [LearnedModels::ProjectId, LearnedModels::Version],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Experiments::Table)
                    .col(ColumnDef::new(Experiments::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Experiments::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Experiments::DocumentIds).json().not_null())
                    .col(ColumnDef::new(Experiments::CreatedBy).uuid().null())
                    .col(ColumnDef::new(Experiments::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_experiments_project")
                            .from(Experiments::Table, Experiments::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_experiments_project_created",
                Experiments::Table,
                [Experiments::ProjectId, Experiments::CreatedAt],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExperimentRuns::Table)
                    .col(ColumnDef::new(ExperimentRuns::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ExperimentRuns::ExperimentId).uuid().not_null())
                    .col(ColumnDef::new(ExperimentRuns::Position).integer().not_null())
                    .col(ColumnDef::new(ExperimentRuns::LlmModelId).uuid().not_null())
                    .col(ColumnDef::new(ExperimentRuns::ModelName).string().not_null())
                    .col(ColumnDef::new(ExperimentRuns::JobId).uuid().not_null())
                    .col(ColumnDef::new(ExperimentRuns::Result).json().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_experiment_runs_experiment")
                            .from(ExperimentRuns::Table, ExperimentRuns::ExperimentId)
                            .to(Experiments::Table, Experiments::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_experiment_runs_experiment_model",
                ExperimentRuns::Table,
                [ExperimentRuns::ExperimentId, ExperimentRuns::LlmModelId],
            ))
            .await?;
        manager
            .create_index(unique_index("uq_experiment_runs_job", ExperimentRuns::Table, [ExperimentRuns::JobId]))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExperimentPredictions::Table)
                    .col(ColumnDef::new(ExperimentPredictions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ExperimentPredictions::RunId).uuid().not_null())
                    .col(ColumnDef::new(ExperimentPredictions::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(ExperimentPredictions::Start).integer().not_null())
                    .col(ColumnDef::new(ExperimentPredictions::End).integer().not_null())
                    .col(ColumnDef::new(ExperimentPredictions::EntityTypeId).uuid().not_null())
                    .col(ColumnDef::new(ExperimentPredictions::Confidence).double().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_experiment_predictions_run")
                            .from(ExperimentPredictions::Table, ExperimentPredictions::RunId)
                            .to(ExperimentRuns::Table, ExperimentRuns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_experiment_predictions_document")
                            .from(ExperimentPredictions::Table, ExperimentPredictions::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_experiment_predictions_run_document",
                ExperimentPredictions::Table,
                [ExperimentPredictions::RunId, ExperimentPredictions::DocumentId],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ExperimentPredictions::Table.into_iden(),
            ExperimentRuns::Table.into_iden(),
            Experiments::Table.into_iden(),
            LearnedModels::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
