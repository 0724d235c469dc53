//! Originals of uploaded files.
//!
//! - `artifacts`: one original file (its bytes in the database, so every replica serves it),
//!   unique by SHA-256 of the bytes, with the MIME type, size and file name of its first upload.
//! - `document_artifacts`: which artifact a document was made from (at most one per document;
//!   the link goes with the document). An artifact no document links to is deleted in the
//!   transaction that removed its last link (the repository does it; no trigger).

use sea_orm_migration::prelude::*;

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Artifacts {
    Table,
    Id,
    Sha256,
    MimeType,
    Size,
    FileName,
    Content,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DocumentArtifacts {
    Table,
    DocumentId,
    ArtifactId,
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
                    .table(Artifacts::Table)
                    .col(ColumnDef::new(Artifacts::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Artifacts::Sha256).string_len(64).not_null())
                    .col(ColumnDef::new(Artifacts::MimeType).string().not_null())
                    .col(ColumnDef::new(Artifacts::Size).big_integer().not_null())
                    .col(ColumnDef::new(Artifacts::FileName).string().not_null())
                    .col(ColumnDef::new(Artifacts::Content).blob().not_null())
                    .col(ColumnDef::new(Artifacts::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique_index("uq_artifacts_sha256", Artifacts::Table, [Artifacts::Sha256])).await?;
        manager
            .create_table(
                Table::create()
                    .table(DocumentArtifacts::Table)
                    .col(ColumnDef::new(DocumentArtifacts::DocumentId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(DocumentArtifacts::ArtifactId).uuid().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_document_artifacts_document")
                            .from(DocumentArtifacts::Table, DocumentArtifacts::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_document_artifacts_artifact")
                            .from(DocumentArtifacts::Table, DocumentArtifacts::ArtifactId)
                            .to(Artifacts::Table, Artifacts::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_document_artifacts_artifact",
                DocumentArtifacts::Table,
                [DocumentArtifacts::ArtifactId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(DocumentArtifacts::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Artifacts::Table).to_owned()).await
    }
}
