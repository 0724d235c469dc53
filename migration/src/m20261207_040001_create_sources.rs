//! `sources`: web pages a project fetches with INGESTION jobs (its URLs, keywords and allowed
//! hosts as JSON arrays of strings, the page limit, the request rate, whether links are
//! followed). Removed with its project; the documents a source stored stay when it is deleted.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
    ProjectId,
    Name,
    Urls,
    Keywords,
    AllowedHosts,
    MaxPages,
    RequestsPerSecond,
    FollowLinks,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sources::Table)
                    .col(ColumnDef::new(Sources::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Sources::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Sources::Name).text().not_null())
                    .col(ColumnDef::new(Sources::Urls).json().not_null())
                    .col(ColumnDef::new(Sources::Keywords).json().not_null())
                    .col(ColumnDef::new(Sources::AllowedHosts).json().not_null())
                    .col(ColumnDef::new(Sources::MaxPages).integer().not_null())
                    .col(ColumnDef::new(Sources::RequestsPerSecond).double().not_null())
                    .col(ColumnDef::new(Sources::FollowLinks).boolean().not_null().default(false))
                    .col(ColumnDef::new(Sources::CreatedBy).uuid().null())
                    .col(ColumnDef::new(Sources::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sources_project")
                            .from(Sources::Table, Sources::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_sources_project", Sources::Table, [Sources::ProjectId])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Sources::Table).to_owned()).await
    }
}
