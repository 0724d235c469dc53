//! Pre-annotation (issue 12): a project says whether an annotator's layer of a document starts
//! as a copy of the models' layers (`pre_annotate`, false by default: the layer starts empty).
//! `down` drops the setting.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    PreAnnotate,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Projects::Table)
                    .add_column(ColumnDef::new(Projects::PreAnnotate).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Projects::Table).drop_column(Projects::PreAnnotate).to_owned()).await
    }
}
