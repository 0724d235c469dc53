//! `system_settings`: the runtime settings global admins changed, one row per key (a JSON
//! value), read by every replica; a key without a row has the environment's default.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SystemSettings {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SystemSettings::Table)
                    .col(ColumnDef::new(SystemSettings::Key).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(SystemSettings::Value).json().not_null())
                    .col(ColumnDef::new(SystemSettings::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SystemSettings::Table).if_exists().to_owned()).await
    }
}
