//! Annotation layers (issue 12): every entity belongs to one layer of its document — `curated`
//! (the gold, and in a SHARED project the only layer), `annotator:<user id>` or `model:<model
//! id>` — and a project says how its members annotate (`annotation_mode`: `SHARED` or
//! `INDEPENDENT`). Existing entities and projects keep behaving exactly as before: their rows
//! become the curated layer of SHARED projects.
//!
//! The duplicate-span rule and the reading-order index are per layer now (the layer follows
//! the document in both, so a page of one layer stays one range scan), and `document_stats`
//! counts per layer: the `curated` row is the document-wide row that keeps the content's
//! version, each other layer has its own row of counts (unique per document and layer).
//! `down` drops every layer but the curated one.

use sea_orm_migration::prelude::*;

use crate::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    AnnotationMode,
}

#[derive(DeriveIden)]
enum Entities {
    Table,
    Id,
    DocumentId,
    Layer,
    StartOffset,
    EndOffset,
    EntityTypeId,
}

#[derive(DeriveIden)]
enum DocumentStats {
    Table,
    DocumentId,
    Layer,
}

const OLD_SPAN: &str = "uq_entities_span";
const NEW_SPAN: &str = "uq_entities_layer_span";
const OLD_ORDER: &str = "idx_entities_reading_order";
const NEW_ORDER: &str = "idx_entities_layer_reading_order";
const OLD_STATS: &str = "uq_document_stats_document_id";
const NEW_STATS: &str = "uq_document_stats_document_layer";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(ColumnDef::new(Projects::AnnotationMode).string_len(16).not_null().default("SHARED"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Entities::Table)
                    .add_column(ColumnDef::new(Entities::Layer).string_len(64).not_null().default("curated"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DocumentStats::Table)
                    .add_column(ColumnDef::new(DocumentStats::Layer).string_len(64).not_null().default("curated"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                NEW_SPAN,
                Entities::Table,
                [
                    Entities::DocumentId,
                    Entities::Layer,
                    Entities::StartOffset,
                    Entities::EndOffset,
                    Entities::EntityTypeId,
                ],
            ))
            .await?;
        manager
            .create_index(index(
                NEW_ORDER,
                Entities::Table,
                [Entities::DocumentId, Entities::Layer, Entities::StartOffset, Entities::EndOffset, Entities::Id],
            ))
            .await?;
        manager
            .create_index(unique_index(
                NEW_STATS,
                DocumentStats::Table,
                [DocumentStats::DocumentId, DocumentStats::Layer],
            ))
            .await?;
        for (name, table) in [(OLD_SPAN, "entities"), (OLD_ORDER, "entities"), (OLD_STATS, "document_stats")] {
            manager.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        conn.execute_unprepared("DELETE FROM entities WHERE layer <> 'curated'").await?;
        conn.execute_unprepared("DELETE FROM document_stats WHERE layer <> 'curated'").await?;
        manager
            .create_index(unique_index(
                OLD_SPAN,
                Entities::Table,
                [Entities::DocumentId, Entities::StartOffset, Entities::EndOffset, Entities::EntityTypeId],
            ))
            .await?;
        manager
            .create_index(index(
                OLD_ORDER,
                Entities::Table,
                [Entities::DocumentId, Entities::StartOffset, Entities::EndOffset, Entities::Id],
            ))
            .await?;
        manager.create_index(unique_index(OLD_STATS, DocumentStats::Table, [DocumentStats::DocumentId])).await?;
        for (name, table) in [(NEW_SPAN, "entities"), (NEW_ORDER, "entities"), (NEW_STATS, "document_stats")] {
            manager.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        manager
            .alter_table(Table::alter().table(DocumentStats::Table).drop_column(DocumentStats::Layer).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Entities::Table).drop_column(Entities::Layer).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(Projects::Table).drop_column(Projects::AnnotationMode).to_owned())
            .await
    }
}
