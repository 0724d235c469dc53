//! `login_throttles`: sign-in attempt counters, one row per bucket (`account:<id>`,
//! `login:<text>` for a login naming no account, `ip:<address>`): the attempts in the current
//! window and the end of a cooldown (Unix milliseconds). Shared by every server on the
//! database, so a limit holds across replicas and restarts.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginThrottles {
    Table,
    Bucket,
    Failures,
    WindowStart,
    BlockedUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottles::Table)
                    .col(ColumnDef::new(LoginThrottles::Bucket).string_len(300).not_null().primary_key())
                    .col(ColumnDef::new(LoginThrottles::Failures).integer().not_null())
                    .col(ColumnDef::new(LoginThrottles::WindowStart).big_integer().not_null())
                    .col(ColumnDef::new(LoginThrottles::BlockedUntil).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_login_throttles_window_start",
                LoginThrottles::Table,
                [LoginThrottles::WindowStart],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LoginThrottles::Table).if_exists().to_owned()).await
    }
}
