//! `knowledge_proposals`: what LINKING jobs propose for a project's knowledge base (link a
//! mention to an entry, make an entry, add an alias, merge two entries), each PENDING until a
//! researcher approves or rejects it. `dedup_key` says what a proposal proposes; it is unique
//! per project, so the same proposal is made once (a rejected one is not made again) and a job
//! run twice stores nothing twice. A proposal goes with its mention (ON DELETE CASCADE); a job
//! deleted leaves its proposals (SET NULL).

use sea_orm_migration::prelude::*;

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Entities {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum KnowledgeItems {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ProcessingJobs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum KnowledgeProposals {
    Table,
    Id,
    ProjectId,
    JobId,
    Kind,
    Status,
    Confidence,
    Reasoning,
    EntityId,
    ItemId,
    SourceItemId,
    ProposedName,
    EntityTypeId,
    DedupKey,
    ReviewedBy,
    ReviewedAt,
    ResultItemId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeProposals::Table)
                    .col(ColumnDef::new(KnowledgeProposals::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(KnowledgeProposals::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(KnowledgeProposals::JobId).uuid().null())
                    .col(ColumnDef::new(KnowledgeProposals::Kind).string().not_null())
                    .col(ColumnDef::new(KnowledgeProposals::Status).string().not_null())
                    .col(ColumnDef::new(KnowledgeProposals::Confidence).double().not_null())
                    .col(ColumnDef::new(KnowledgeProposals::Reasoning).text().not_null())
                    .col(ColumnDef::new(KnowledgeProposals::EntityId).uuid().null())
                    .col(ColumnDef::new(KnowledgeProposals::ItemId).uuid().null())
                    .col(ColumnDef::new(KnowledgeProposals::SourceItemId).uuid().null())
                    .col(ColumnDef::new(KnowledgeProposals::ProposedName).text().null())
                    .col(ColumnDef::new(KnowledgeProposals::EntityTypeId).uuid().null())
                    .col(ColumnDef::new(KnowledgeProposals::DedupKey).text().not_null())
                    .col(ColumnDef::new(KnowledgeProposals::ReviewedBy).uuid().null())
                    .col(ColumnDef::new(KnowledgeProposals::ReviewedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(KnowledgeProposals::ResultItemId).uuid().null())
                    .col(ColumnDef::new(KnowledgeProposals::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_proposals_project_id")
                            .from(KnowledgeProposals::Table, KnowledgeProposals::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_proposals_job_id")
                            .from(KnowledgeProposals::Table, KnowledgeProposals::JobId)
                            .to(ProcessingJobs::Table, ProcessingJobs::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_proposals_entity_id")
                            .from(KnowledgeProposals::Table, KnowledgeProposals::EntityId)
                            .to(Entities::Table, Entities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_proposals_item_id")
                            .from(KnowledgeProposals::Table, KnowledgeProposals::ItemId)
                            .to(KnowledgeItems::Table, KnowledgeItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_proposals_source_item_id")
                            .from(KnowledgeProposals::Table, KnowledgeProposals::SourceItemId)
                            .to(KnowledgeItems::Table, KnowledgeItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_proposals_reviewed_by")
                            .from(KnowledgeProposals::Table, KnowledgeProposals::ReviewedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_knowledge_proposals_project_key",
                KnowledgeProposals::Table,
                [KnowledgeProposals::ProjectId, KnowledgeProposals::DedupKey],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_knowledge_proposals_project_status",
                KnowledgeProposals::Table,
                [KnowledgeProposals::ProjectId, KnowledgeProposals::Status],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_knowledge_proposals_job_id",
                KnowledgeProposals::Table,
                [KnowledgeProposals::JobId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_knowledge_proposals_entity_id",
                KnowledgeProposals::Table,
                [KnowledgeProposals::EntityId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(KnowledgeProposals::Table).if_exists().to_owned()).await
    }
}
