//! `bus_events`: the durable log of the event bus between replicas (PostgreSQL). Each event a
//! replica publishes is stored here under a sequence number, and the NOTIFY that announces it
//! carries that number (and the event itself when it fits): a replica reads an event too large
//! for a NOTIFY by its number, and after its listener reconnects reads the ones it missed. Rows
//! are kept for minutes, then deleted. SQLite runs one process, which needs no log; the table
//! exists there too, empty, so both schemas are the same.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BusEvents {
    Table,
    Id,
    Origin,
    Payload,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BusEvents::Table)
                    .col(ColumnDef::new(BusEvents::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(BusEvents::Origin).uuid().not_null())
                    .col(ColumnDef::new(BusEvents::Payload).text().not_null())
                    .col(
                        ColumnDef::new(BusEvents::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null()
                            .default(Expr::current_timestamp()),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("idx_bus_events_created_at", BusEvents::Table, [BusEvents::CreatedAt])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(BusEvents::Table).if_exists().to_owned()).await
    }
}
