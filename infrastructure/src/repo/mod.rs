//! The SeaORM store: one `Store` implements every repository port. Each mutating method runs
//! in one write transaction that also inserts the audit row, so a change and its audit entry
//! commit together or not at all.
//!
//! SQLite has one writer at a time. Write transactions (and the per-request counter writes)
//! go through a writer connection of their own, so writers of this process queue for it in
//! order instead of meeting SQLite's busy handler, which sleeps (1, 2, 5, 10 ms...) between
//! retries and collapses throughput under concurrent writers. Other processes on the same file
//! still wait on the busy timeout. PostgreSQL writes through the one pool.

mod artifacts;
mod assignments;
mod audit;
mod chat;
mod convert;
mod curation;
mod documents;
mod embeddings;
mod entities;
mod entity_types;
mod exchange;
mod job_runs;
mod jobs;
mod knowledge;
mod knowledge_index;
mod learning;
mod linking;
mod login_throttles;
mod models;
mod projects;
mod rate_limits;
mod relationships;
mod retention;
mod search_index;
mod sessions;
mod settings;
mod sources;
mod statistics;
mod texts;
mod users;
mod webhooks;

pub use webhooks::{AttemptRecord, ClaimedDelivery};

use nishan_domain::DomainError;
use nishan_domain::ports::PageRequest;
use sea_orm::{
    AccessMode, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, IsolationLevel, Order,
    PaginatorTrait, QueryOrder, QuerySelect, Select, SqlErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Where writes go: a one-connection pool on SQLite (see the module comment), `db` itself
    /// on PostgreSQL.
    writer: DatabaseConnection,
    /// Indexed texts of recently used document versions.
    texts: std::sync::Arc<texts::TextCache>,
    /// This server's in-memory candidate indexes of knowledge bases (`knowledge_index`).
    knowledge: std::sync::Arc<knowledge_index::KnowledgeCache>,
}

impl Store {
    /// A store writing through its one pool.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { writer: db.clone(), db, texts: Default::default(), knowledge: Default::default() }
    }

    /// A store reading through `db` and writing through `writer` (on SQLite, a pool of one
    /// connection to the same file).
    pub fn with_writer(db: DatabaseConnection, writer: DatabaseConnection) -> Self {
        Self { db, writer, texts: Default::default(), knowledge: Default::default() }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The connection single writes outside a transaction go through (see the module comment).
    pub(crate) fn writer(&self) -> &DatabaseConnection {
        &self.writer
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
        self.writer.begin_with_options(options).await
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

/// A database fault, with the cause kept for the log: `Transient` when trying again may
/// succeed (`is_transient`), `Internal` otherwise.
/// One page of a listing: the rows of `q` in the given order (each column ascending or
/// descending; the last should be unique, so pages never overlap), cut by `page`, and how many
/// rows `q` has in all.
pub(crate) async fn page_of<E>(
    db: &DatabaseConnection,
    q: Select<E>,
    order: &[(E::Column, Order)],
    page: PageRequest,
) -> Result<(Vec<E::Model>, u64), DomainError>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let total = q.clone().count(db).await.map_err(internal)?;
    let q = order.iter().fold(q, |q, (column, direction)| q.order_by(*column, direction.clone()));
    let rows = q.offset(page.offset).limit(page.limit).all(db).await.map_err(internal)?;
    Ok((rows, total))
}

pub(crate) fn internal(e: DbErr) -> DomainError {
    if is_transient(&e) { DomainError::transient(e) } else { DomainError::internal(e) }
}

/// Whether a database error may pass: no connection (lost, refused, the pool timed out, the
/// server shutting down), a serialization failure or deadlock (PostgreSQL 40001, 40P01), or
/// a busy or locked SQLite database.
pub(crate) fn is_transient(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else { return false };
    match sqlx.as_ref() {
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db) => {
            let code = db.code().unwrap_or_default();
            match db.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>() {
                Some(_) => {
                    matches!(code.as_ref(), "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300")
                        || code.starts_with("08")
                }
                // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
                None => code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
            }
        }
        _ => false,
    }
}

/// Maps a unique-constraint violation to `Conflict(message)`, anything else to internal.
pub(crate) fn conflict_or_internal(e: DbErr, message: &str) -> DomainError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => DomainError::conflict(message),
        _ => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::ConnectionTrait;

    use super::*;
    use crate::db::{DbConfig, connect};

    /// A second writer on a locked SQLite database fails with SQLITE_BUSY: transient, tried
    /// again by the job runs; a missing table is not.
    #[tokio::test]
    async fn a_busy_sqlite_database_is_a_transient_fault() {
        let dir = std::env::temp_dir().join(format!("nishan-busy-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = DbConfig {
            url: format!("sqlite://{}?mode=rwc", dir.join("busy.db").display()),
            max_connections: 1,
            busy_timeout: Duration::ZERO,
        };
        let (a, b) = (connect(&config).await.unwrap(), connect(&config).await.unwrap());
        a.execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
        a.execute_unprepared("BEGIN IMMEDIATE").await.unwrap();
        let busy = b.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap_err();
        assert!(is_transient(&busy), "{busy:?}");
        assert!(internal(busy).is_transient());
        a.execute_unprepared("ROLLBACK").await.unwrap();
        let missing = b.execute_unprepared("INSERT INTO nope VALUES (1)").await.unwrap_err();
        assert!(!is_transient(&missing), "{missing:?}");
        assert!(matches!(internal(missing), DomainError::Internal(_)));
        std::fs::remove_dir_all(&dir).ok();
    }
}
