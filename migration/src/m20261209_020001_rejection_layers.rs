//! Rejections per layer (issue 12): a model suggestion deleted in an annotator's layer (a
//! pre-annotation copy) is that layer's rejection, not the gold's. `entity_rejections.layer`
//! holds the layer's key as `entities.layer` does (`curated` for every existing row: before
//! this, only the curated layer's rejections were meant). `down` drops the column.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EntityRejections {
    Table,
    Layer,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EntityRejections::Table)
                    .add_column(ColumnDef::new(EntityRejections::Layer).text().not_null().default("curated"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(EntityRejections::Table).drop_column(EntityRejections::Layer).to_owned())
            .await
    }
}
