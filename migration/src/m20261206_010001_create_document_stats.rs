//! `document_stats`: what every entity write updates about a document (its entity counts and
//! the version of its content), moved out of the `documents` row that holds the text. SQLite
//! rewrites a whole row on any update, so a count kept next to a 300,000-code-point `content`
//! walked and rewrote the text's overflow pages on every entity change; this row is a few bytes.
//!
//! One row per document today, found by the unique index on `document_id` (the key is a
//! surrogate `id`, so a later `layer_id` column can key counts per layer by replacing that
//! index). `documents.total_entities`, `verified_entities`, `unverified_entities`,
//! `verification_rate` and `current_version` are dropped (unverified and rate are derived from
//! the two counts); `down` restores them from this table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::unique_index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    TotalEntities,
    VerifiedEntities,
    UnverifiedEntities,
    VerificationRate,
    CurrentVersion,
}

#[derive(DeriveIden)]
enum DocumentStats {
    Table,
    Id,
    DocumentId,
    Version,
    TotalEntities,
    VerifiedEntities,
}

const UNIQUE: &str = "uq_document_stats_document_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DocumentStats::Table)
                    .col(ColumnDef::new(DocumentStats::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(DocumentStats::DocumentId).uuid().not_null())
                    .col(ColumnDef::new(DocumentStats::Version).integer().not_null().default(1))
                    .col(ColumnDef::new(DocumentStats::TotalEntities).integer().not_null().default(0))
                    .col(ColumnDef::new(DocumentStats::VerifiedEntities).integer().not_null().default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DocumentStats::Table, DocumentStats::DocumentId)
                            .to(Documents::Table, Documents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique_index(UNIQUE, DocumentStats::Table, [DocumentStats::DocumentId])).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO document_stats (document_id, version, total_entities, verified_entities) \
                 SELECT id, current_version, total_entities, verified_entities FROM documents",
            )
            .await?;
        for column in [
            Documents::TotalEntities,
            Documents::VerifiedEntities,
            Documents::UnverifiedEntities,
            Documents::VerificationRate,
            Documents::CurrentVersion,
        ] {
            // One change per statement: SQLite's ALTER TABLE takes no more.
            manager.alter_table(Table::alter().table(Documents::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ColumnDef::new(Documents::TotalEntities).integer().not_null().default(0).to_owned(),
            ColumnDef::new(Documents::VerifiedEntities).integer().not_null().default(0).to_owned(),
            ColumnDef::new(Documents::UnverifiedEntities).integer().not_null().default(0).to_owned(),
            ColumnDef::new(Documents::VerificationRate).double().not_null().default(0.0).to_owned(),
            ColumnDef::new(Documents::CurrentVersion).integer().not_null().default(1).to_owned(),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table(Documents::Table).add_column(&mut column).to_owned()).await?;
        }
        let float = match manager.get_database_backend() {
            DbBackend::Postgres => "DOUBLE PRECISION",
            _ => "REAL",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE documents SET \
                 total_entities = s.total_entities, \
                 verified_entities = s.verified_entities, \
                 unverified_entities = s.total_entities - s.verified_entities, \
                 verification_rate = CASE WHEN s.total_entities = 0 THEN 0.0 \
                   ELSE CAST(s.verified_entities AS {float}) / s.total_entities END, \
                 current_version = s.version \
                 FROM document_stats s WHERE s.document_id = documents.id"
            ))
            .await?;
        manager.drop_table(Table::drop().table(DocumentStats::Table).to_owned()).await
    }
}
