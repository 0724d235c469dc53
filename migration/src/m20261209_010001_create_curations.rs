//! Curation (issue 12): where each document's curation stands, and the positions its curator
//! decided.
//!
//! `curations` holds one row per document whose curation started (none: NOT_STARTED): its
//! `state` (IN_PROGRESS or FINISHED), the strategy of its last run (`min_votes`,
//! `include_unfinished`), the counts (`merged` entities by votes, `open_conflicts` left,
//! `resolved_conflicts` decided), the last curator and when. `curation_decisions` holds each
//! position a curator decided (a candidate ACCEPTED into the gold, or the position left
//! EMPTY), against the `version` of the document's content it was decided on: a later version
//! moves the text under it, so only the current version's decisions count.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Curations {
    Table,
    DocumentId,
    ProjectId,
    State,
    MinVotes,
    IncludeUnfinished,
    Merged,
    OpenConflicts,
    ResolvedConflicts,
    CuratedBy,
    StartedAt,
    UpdatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum CurationDecisions {
    Table,
    Id,
    DocumentId,
    Version,
    StartOffset,
    EndOffset,
    Decision,
    EntityId,
    CandidateId,
    DecidedBy,
    DecidedAt,
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

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Curations::Table)
                    .col(ColumnDef::new(Curations::DocumentId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Curations::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Curations::State).string_len(16).not_null())
                    .col(ColumnDef::new(Curations::MinVotes).integer().not_null())
                    .col(ColumnDef::new(Curations::IncludeUnfinished).boolean().not_null())
                    .col(ColumnDef::new(Curations::Merged).integer().not_null())
                    .col(ColumnDef::new(Curations::OpenConflicts).integer().not_null())
                    .col(ColumnDef::new(Curations::ResolvedConflicts).integer().not_null())
                    .col(ColumnDef::new(Curations::CuratedBy).uuid().null())
                    .col(ColumnDef::new(Curations::StartedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Curations::UpdatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Curations::FinishedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Curations::Table, Curations::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Curations::Table, Curations::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Curations::Table, Curations::CuratedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_curations_project_state",
                Curations::Table,
                [Curations::ProjectId, Curations::State],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CurationDecisions::Table)
                    .col(ColumnDef::new(CurationDecisions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(CurationDecisions::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(CurationDecisions::Version).integer().not_null())
                    .col(ColumnDef::new(CurationDecisions::StartOffset).integer().not_null())
                    .col(ColumnDef::new(CurationDecisions::EndOffset).integer().not_null())
                    .col(ColumnDef::new(CurationDecisions::Decision).string_len(16).not_null())
                    .col(ColumnDef::new(CurationDecisions::EntityId).uuid().null())
                    .col(ColumnDef::new(CurationDecisions::CandidateId).uuid().null())
                    .col(ColumnDef::new(CurationDecisions::DecidedBy).uuid().null())
                    .col(ColumnDef::new(CurationDecisions::DecidedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(CurationDecisions::Table, CurationDecisions::DocumentId)
                            .to(Curations::Table, Curations::DocumentId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CurationDecisions::Table, CurationDecisions::DecidedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_curation_decisions_document_version",
                CurationDecisions::Table,
                [CurationDecisions::DocumentId, CurationDecisions::Version],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CurationDecisions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Curations::Table).to_owned()).await
    }
}
