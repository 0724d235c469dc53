//! The index a page of a document's entities is read through: (document, start, end, id), the
//! reading order itself, so a page after a cursor `(start, end, id)` is a range scan of `first`
//! rows however many entities the document holds. It replaces the index on (document, start),
//! which it extends.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Entities {
    Table,
    DocumentId,
    StartOffset,
    EndOffset,
    Id,
}

const NEW: &str = "idx_entities_reading_order";
const OLD: &str = "idx_entities_document_start";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                NEW,
                Entities::Table,
                [Entities::DocumentId, Entities::StartOffset, Entities::EndOffset, Entities::Id],
            ))
            .await?;
        manager.drop_index(Index::drop().name(OLD).table(Entities::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(index(OLD, Entities::Table, [Entities::DocumentId, Entities::StartOffset])).await?;
        manager.drop_index(Index::drop().name(NEW).table(Entities::Table).to_owned()).await
    }
}
