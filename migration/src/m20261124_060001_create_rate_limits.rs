//! `rate_limits`: per-bucket counters of the current rate-limit window (a bucket is
//! `user:<id>` or `ip:<address>`). One row per bucket, overwritten when a new window starts,
//! so the table stays as small as the set of recent callers.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Bucket,
    WindowStart,
    Hits,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .col(ColumnDef::new(RateLimits::Bucket).string_len(200).not_null().primary_key())
                    .col(ColumnDef::new(RateLimits::WindowStart).big_integer().not_null())
                    .col(ColumnDef::new(RateLimits::Hits).integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_rate_limits_window_start", RateLimits::Table, [RateLimits::WindowStart])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RateLimits::Table).if_exists().to_owned()).await
    }
}
