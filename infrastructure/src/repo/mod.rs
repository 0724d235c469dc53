//! The SeaORM store: one `Store` implements every repository port. Each mutating method runs
//! in one write transaction that also inserts the audit row, so a change and its audit entry
//! commit together or not at all.

mod audit;
mod convert;
mod documents;
mod entities;
mod entity_types;
mod exchange;
mod jobs;
mod knowledge;
mod knowledge_index;
mod models;
mod projects;
mod rate_limits;
mod relationships;
mod retention;
mod sessions;
mod statistics;
mod users;

use nishan_domain::DomainError;
use sea_orm::{
    AccessMode, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, IsolationLevel, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// This server's in-memory candidate indexes of knowledge bases (`knowledge_index`).
    knowledge: std::sync::Arc<knowledge_index::KnowledgeCache>,
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, knowledge: Default::default() }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE), so two
    /// writers queue on the busy timeout instead of failing with "database is locked" when
    /// a read lock would need upgrading.
    async fn write(&self) -> Result<DatabaseTransaction, DomainError> {
        self.write_raw().await.map_err(internal)
    }

    /// `write`, keeping the database error (for callers that retry on some of them).
    async fn write_raw(&self) -> Result<DatabaseTransaction, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: (!self.is_postgres()).then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        self.db.begin_with_options(options).await
    }

    /// A read-only transaction that sees one state of the database throughout: REPEATABLE
    /// READ on PostgreSQL; on SQLite (WAL) every read transaction does.
    async fn read_snapshot(&self) -> Result<DatabaseTransaction, DomainError> {
        let options = if self.is_postgres() {
            TransactionOptions {
                isolation_level: Some(IsolationLevel::RepeatableRead),
                access_mode: Some(AccessMode::ReadOnly),
                ..Default::default()
            }
        } else {
            TransactionOptions::default()
        };
        self.db.begin_with_options(options).await.map_err(internal)
    }
}

/// A database fault: internal, with the cause kept for the log.
pub(crate) fn internal(e: DbErr) -> DomainError {
    DomainError::internal(e)
}

/// Maps a unique-constraint violation to `Conflict(message)`, anything else to internal.
pub(crate) fn conflict_or_internal(e: DbErr, message: &str) -> DomainError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => DomainError::conflict(message),
        _ => internal(e),
    }
}
