//! Opening the database. SQLite gets WAL, foreign keys, a busy timeout and
//! `synchronous=NORMAL` (durable across application crashes, fast enough for a desktop);
//! PostgreSQL gets a pool of the configured size.

use std::time::Duration;

use nishan_migration::{Migrator, sea_orm_migration::MigratorTrait};
pub use sea_orm::DatabaseConnection;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DbBackend, DbErr};

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DbConfig {
    pub url: String,
    pub max_connections: u32,
    pub busy_timeout: Duration,
}

/// SQLite's page cache per connection, in KiB when negative (SQLite's default is 2 MB): the
/// search index's B-trees (postings, passages, FTS5) outgrow 2 MB on a corpus, and every page
/// that falls out is read again from the OS, copied. Pages are allocated as they are used.
const SQLITE_CACHE_SIZE: &str = "-65536";

pub async fn connect(config: &DbConfig) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.url.clone());
    let busy_timeout = config.busy_timeout;
    options
        .max_connections(config.max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(busy_timeout)
                .create_if_missing(true)
                .pragma("cache_size", SQLITE_CACHE_SIZE)
        });
    Database::connect(options).await
}

/// Applies every pending migration.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Rolls back `steps` migrations (all of them when `None`).
pub async fn migrate_down(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
    Migrator::down(db, steps).await
}

/// Each migration's name and whether it has been applied.
pub async fn migration_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    let applied: Vec<String> =
        Migrator::get_applied_migrations(db).await?.iter().map(|m| m.name().to_owned()).collect();
    Ok(Migrator::migrations()
        .iter()
        .map(|m| {
            let name = m.name().to_owned();
            let done = applied.contains(&name);
            (name, done)
        })
        .collect())
}

/// Whether the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

pub fn is_sqlite(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Sqlite
}
