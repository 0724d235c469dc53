//! The knowledge base: `knowledge_items` (one entry per person, place or other thing the texts
//! speak of), `knowledge_item_versions` (every version of every entry, immutable),
//! `knowledge_links` (typed links between entries), `knowledge_revisions` (one counter per
//! project, raised by every change to its entries, so each server knows when its in-memory
//! index of names is stale) and `entities.knowledge_item_id` (the entry a mention is linked to).
//!
//! Entries are never deleted while their project exists: a deleted or merged entry keeps its
//! row (`deleted_at`, `merged_into_id`) and its versions. `entities.knowledge_item_id` has no
//! foreign key (SQLite cannot add one to an existing table, nor drop a column that has one):
//! the repository clears it when an entry is deleted and moves it when entries are merged, in
//! the same transaction.

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
enum EntityTypes {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Entities {
    Table,
    KnowledgeItemId,
}

#[derive(DeriveIden)]
enum KnowledgeItems {
    Table,
    Id,
    ProjectId,
    EntityTypeId,
    Name,
    Aliases,
    Description,
    ExternalIds,
    Attributes,
    Version,
    Approved,
    ApprovedBy,
    ApprovedAt,
    MergedIntoId,
    DeletedAt,
    Revision,
    CreatedBy,
    UpdatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KnowledgeItemVersions {
    Table,
    Id,
    ItemId,
    ProjectId,
    Version,
    Action,
    Name,
    EntityTypeId,
    Aliases,
    Description,
    ExternalIds,
    Attributes,
    Approved,
    Details,
    ChangedBy,
    ChangedAt,
}

#[derive(DeriveIden)]
enum KnowledgeLinks {
    Table,
    Id,
    ProjectId,
    FromItemId,
    ToItemId,
    LinkType,
    Strength,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum KnowledgeRevisions {
    Table,
    ProjectId,
    Revision,
}

fn user_fk(name: &str, table: impl IntoTableRef, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::SetNull)
        .to_owned()
}

fn project_fk(name: &str, table: impl IntoTableRef, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Projects::Table, Projects::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeItems::Table)
                    .col(ColumnDef::new(KnowledgeItems::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(KnowledgeItems::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(KnowledgeItems::EntityTypeId).uuid().not_null())
                    .col(ColumnDef::new(KnowledgeItems::Name).text().not_null())
                    .col(ColumnDef::new(KnowledgeItems::Aliases).json().not_null())
                    .col(ColumnDef::new(KnowledgeItems::Description).text().null())
                    .col(ColumnDef::new(KnowledgeItems::ExternalIds).json().not_null())
                    .col(ColumnDef::new(KnowledgeItems::Attributes).json().not_null())
                    .col(ColumnDef::new(KnowledgeItems::Version).integer().not_null())
                    .col(ColumnDef::new(KnowledgeItems::Approved).boolean().not_null().default(false))
                    .col(ColumnDef::new(KnowledgeItems::ApprovedBy).uuid().null())
                    .col(ColumnDef::new(KnowledgeItems::ApprovedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(KnowledgeItems::MergedIntoId).uuid().null())
                    .col(ColumnDef::new(KnowledgeItems::DeletedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(KnowledgeItems::Revision).big_integer().not_null())
                    .col(ColumnDef::new(KnowledgeItems::CreatedBy).uuid().null())
                    .col(ColumnDef::new(KnowledgeItems::UpdatedBy).uuid().null())
                    .col(ColumnDef::new(KnowledgeItems::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(KnowledgeItems::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut project_fk(
                        "fk_knowledge_items_project_id",
                        KnowledgeItems::Table,
                        KnowledgeItems::ProjectId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_items_entity_type_id")
                            .from(KnowledgeItems::Table, KnowledgeItems::EntityTypeId)
                            .to(EntityTypes::Table, EntityTypes::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(&mut user_fk(
                        "fk_knowledge_items_approved_by",
                        KnowledgeItems::Table,
                        KnowledgeItems::ApprovedBy,
                    ))
                    .foreign_key(&mut user_fk(
                        "fk_knowledge_items_created_by",
                        KnowledgeItems::Table,
                        KnowledgeItems::CreatedBy,
                    ))
                    .foreign_key(&mut user_fk(
                        "fk_knowledge_items_updated_by",
                        KnowledgeItems::Table,
                        KnowledgeItems::UpdatedBy,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_knowledge_items_project_revision",
                KnowledgeItems::Table,
                [KnowledgeItems::ProjectId, KnowledgeItems::Revision],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_knowledge_items_entity_type_id",
                KnowledgeItems::Table,
                [KnowledgeItems::EntityTypeId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(KnowledgeItemVersions::Table)
                    .col(ColumnDef::new(KnowledgeItemVersions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(KnowledgeItemVersions::ItemId).uuid().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::Version).integer().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::Action).string().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::Name).text().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::EntityTypeId).uuid().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::Aliases).json().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::Description).text().null())
                    .col(ColumnDef::new(KnowledgeItemVersions::ExternalIds).json().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::Attributes).json().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::Approved).boolean().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::Details).json().not_null())
                    .col(ColumnDef::new(KnowledgeItemVersions::ChangedBy).uuid().null())
                    .col(ColumnDef::new(KnowledgeItemVersions::ChangedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_item_versions_item_id")
                            .from(KnowledgeItemVersions::Table, KnowledgeItemVersions::ItemId)
                            .to(KnowledgeItems::Table, KnowledgeItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut project_fk(
                        "fk_knowledge_item_versions_project_id",
                        KnowledgeItemVersions::Table,
                        KnowledgeItemVersions::ProjectId,
                    ))
                    .foreign_key(&mut user_fk(
                        "fk_knowledge_item_versions_changed_by",
                        KnowledgeItemVersions::Table,
                        KnowledgeItemVersions::ChangedBy,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_knowledge_item_versions_item_version",
                KnowledgeItemVersions::Table,
                [KnowledgeItemVersions::ItemId, KnowledgeItemVersions::Version],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(KnowledgeLinks::Table)
                    .col(ColumnDef::new(KnowledgeLinks::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(KnowledgeLinks::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(KnowledgeLinks::FromItemId).uuid().not_null())
                    .col(ColumnDef::new(KnowledgeLinks::ToItemId).uuid().not_null())
                    .col(ColumnDef::new(KnowledgeLinks::LinkType).string().not_null())
                    .col(ColumnDef::new(KnowledgeLinks::Strength).double().not_null())
                    .col(ColumnDef::new(KnowledgeLinks::CreatedBy).uuid().null())
                    .col(ColumnDef::new(KnowledgeLinks::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut project_fk(
                        "fk_knowledge_links_project_id",
                        KnowledgeLinks::Table,
                        KnowledgeLinks::ProjectId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_links_from_item_id")
                            .from(KnowledgeLinks::Table, KnowledgeLinks::FromItemId)
                            .to(KnowledgeItems::Table, KnowledgeItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_knowledge_links_to_item_id")
                            .from(KnowledgeLinks::Table, KnowledgeLinks::ToItemId)
                            .to(KnowledgeItems::Table, KnowledgeItems::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut user_fk(
                        "fk_knowledge_links_created_by",
                        KnowledgeLinks::Table,
                        KnowledgeLinks::CreatedBy,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_knowledge_links_triple",
                KnowledgeLinks::Table,
                [KnowledgeLinks::FromItemId, KnowledgeLinks::ToItemId, KnowledgeLinks::LinkType],
            ))
            .await?;
        manager
            .create_index(index("idx_knowledge_links_to_item_id", KnowledgeLinks::Table, [KnowledgeLinks::ToItemId]))
            .await?;
        manager
            .create_index(index("idx_knowledge_links_project_id", KnowledgeLinks::Table, [KnowledgeLinks::ProjectId]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(KnowledgeRevisions::Table)
                    .col(ColumnDef::new(KnowledgeRevisions::ProjectId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(KnowledgeRevisions::Revision).big_integer().not_null())
                    .foreign_key(&mut project_fk(
                        "fk_knowledge_revisions_project_id",
                        KnowledgeRevisions::Table,
                        KnowledgeRevisions::ProjectId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Entities::Table)
                    .add_column(ColumnDef::new(Entities::KnowledgeItemId).uuid().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_entities_knowledge_item_id", Entities::Table, [Entities::KnowledgeItemId]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_entities_knowledge_item_id").table(Entities::Table).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(Entities::Table).drop_column(Entities::KnowledgeItemId).to_owned())
            .await?;
        for table in [
            KnowledgeRevisions::Table.into_iden(),
            KnowledgeLinks::Table.into_iden(),
            KnowledgeItemVersions::Table.into_iden(),
            KnowledgeItems::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
