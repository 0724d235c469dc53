//! Assignments (issue 12): which annotator annotates which document of a project, and how far
//! they are (`state`: NEW, IN_PROGRESS, FINISHED, LOCKED, IGNORED). One per document and
//! annotator (`uq_assignments_document_annotator`, so two spreads at once cannot assign a pair
//! twice); `touched_at` is the last change of the assignment or its layer, from which
//! `projects.abandon_after_hours` (NULL: never) measures an abandoned IN_PROGRESS one.

use sea_orm_migration::prelude::*;

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Assignments {
    Table,
    Id,
    ProjectId,
    DocumentId,
    AnnotatorId,
    State,
    StartedAt,
    FinishedAt,
    CreatedAt,
    TouchedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    AbandonAfterHours,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(ColumnDef::new(Projects::AbandonAfterHours).integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Assignments::Table)
                    .col(ColumnDef::new(Assignments::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Assignments::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Assignments::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(Assignments::AnnotatorId).uuid().not_null())
                    .col(ColumnDef::new(Assignments::State).string_len(16).not_null())
                    .col(ColumnDef::new(Assignments::StartedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Assignments::FinishedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Assignments::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Assignments::TouchedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assignments::Table, Assignments::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assignments::Table, Assignments::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assignments::Table, Assignments::AnnotatorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_assignments_document_annotator",
                Assignments::Table,
                [Assignments::DocumentId, Assignments::AnnotatorId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_assignments_project_annotator",
                Assignments::Table,
                [Assignments::ProjectId, Assignments::AnnotatorId, Assignments::Id],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_assignments_state_touched",
                Assignments::Table,
                [Assignments::State, Assignments::TouchedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Assignments::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Projects::Table).drop_column(Projects::AbandonAfterHours).to_owned())
            .await
    }
}
