//! Migrations written as SQL text, where the portable schema builder cannot say it (FTS5
//! tables, triggers, `tsvector` columns, `WITHOUT ROWID` tables): statements run in order on
//! the migration's connection.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Runs `statements` in order.
pub(crate) async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let backend = manager.get_database_backend();
    for sql in statements {
        conn.execute_raw(Statement::from_string(backend, (*sql).to_owned())).await?;
    }
    Ok(())
}

/// Runs `sqlite` on SQLite, `postgres` on PostgreSQL.
pub(crate) async fn run_per_backend(
    manager: &SchemaManager<'_>,
    sqlite: &[&str],
    postgres: &[&str],
) -> Result<(), DbErr> {
    let statements = if manager.get_database_backend() == DbBackend::Sqlite { sqlite } else { postgres };
    run(manager, statements).await
}
