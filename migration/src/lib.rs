//! Database schema migrations of Nishan.
//!
//! The migrations use the portable SeaQuery schema builder only, so the same
//! migration runs on SQLite and on PostgreSQL. Foreign keys are declared inline
//! in `CREATE TABLE` (SQLite cannot add constraints to an existing table) and
//! every index is a separate, explicitly named `CREATE INDEX` statement.
//!
//! The server binary applies them with [`Migrator`]:
//!
//! ```no_run
//! # async fn run(db: &sea_orm_migration::sea_orm::DatabaseConnection) -> Result<(), sea_orm_migration::DbErr> {
//! use nishan_migration::{Migrator, MigratorTrait};
//! Migrator::up(db, None).await
//! # }
//! ```

pub use sea_orm_migration;
pub use sea_orm_migration::MigratorTrait;

use sea_orm_migration::prelude::{Index, IndexCreateStatement, IntoIden, IntoIndexColumn};
use sea_orm_migration::{MigrationTrait, async_trait};

mod raw_sql;

mod m20261123_000001_create_accounts;
mod m20261123_000002_create_projects;
mod m20261123_000003_create_audit_logs;
mod m20261123_000004_create_documents_and_entities;
mod m20261123_000005_create_models_and_jobs;

pub use m20261123_000005_create_models_and_jobs::{BUILTIN_MODEL_ID, DEFAULT_CONFIG_ID};
mod m20261124_060001_create_rate_limits;
mod m20261201_010001_job_kinds;
mod m20261201_020001_create_bus_events;
mod m20261201_040001_create_login_throttles;
mod m20261201_040002_usernames_unique_ignoring_case;
mod m20261201_040003_project_slugs_unique_per_viewer;
mod m20261201_050001_entity_reading_order_index;
mod m20261202_010001_create_knowledge_base;
mod m20261202_010002_create_knowledge_proposals;
mod m20261203_010001_create_search_index;
mod m20261205_010001_create_learning;
mod m20261206_010001_create_document_stats;
mod m20261206_020001_create_chat;
mod m20261206_040001_create_artifacts;
mod m20261206_050001_create_webhooks;
mod m20261206_050002_create_system_settings;
mod m20261207_020001_create_embeddings;
mod m20261207_030001_annotation_layers;
mod m20261207_030002_create_assignments;
mod m20261207_040001_create_sources;
mod m20261208_020001_pre_annotation;
mod m20261208_040001_search_repeats;
mod m20261209_010001_create_curations;
mod m20261209_020001_rejection_layers;
mod m20261209_050001_search_postings;
mod m20261210_010001_search_postings_by_document;

/// Every migration of the Nishan schema, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_accounts::Migration),
            Box::new(m20261123_000002_create_projects::Migration),
            Box::new(m20261123_000003_create_audit_logs::Migration),
            Box::new(m20261123_000004_create_documents_and_entities::Migration),
            Box::new(m20261123_000005_create_models_and_jobs::Migration),
            Box::new(m20261124_060001_create_rate_limits::Migration),
            Box::new(m20261201_010001_job_kinds::Migration),
            Box::new(m20261201_020001_create_bus_events::Migration),
            Box::new(m20261201_040001_create_login_throttles::Migration),
            Box::new(m20261201_040002_usernames_unique_ignoring_case::Migration),
            Box::new(m20261201_040003_project_slugs_unique_per_viewer::Migration),
            Box::new(m20261201_050001_entity_reading_order_index::Migration),
            Box::new(m20261202_010001_create_knowledge_base::Migration),
            Box::new(m20261202_010002_create_knowledge_proposals::Migration),
            Box::new(m20261203_010001_create_search_index::Migration),
            Box::new(m20261205_010001_create_learning::Migration),
            Box::new(m20261206_010001_create_document_stats::Migration),
            Box::new(m20261206_020001_create_chat::Migration),
            Box::new(m20261206_040001_create_artifacts::Migration),
            Box::new(m20261206_050001_create_webhooks::Migration),
            Box::new(m20261206_050002_create_system_settings::Migration),
            Box::new(m20261207_020001_create_embeddings::Migration),
            Box::new(m20261207_030001_annotation_layers::Migration),
            Box::new(m20261207_030002_create_assignments::Migration),
            Box::new(m20261207_040001_create_sources::Migration),
            Box::new(m20261208_020001_pre_annotation::Migration),
            Box::new(m20261208_040001_search_repeats::Migration),
            Box::new(m20261209_010001_create_curations::Migration),
            Box::new(m20261209_020001_rejection_layers::Migration),
            Box::new(m20261209_050001_search_postings::Migration),
            Box::new(m20261210_010001_search_postings_by_document::Migration),
        ]
    }
}

/// A named `CREATE INDEX` statement (without `IF NOT EXISTS`: in an up
/// migration an existing index is an error worth seeing).
fn index<T, C>(name: &str, table: T, cols: impl IntoIterator<Item = C>) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIndexColumn,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    stmt
}

/// A named `CREATE UNIQUE INDEX` statement (how unique constraints are made:
/// SQLite cannot add a constraint to an existing table).
fn unique_index<T, C>(name: &str, table: T, cols: impl IntoIterator<Item = C>) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIndexColumn,
{
    let mut stmt = index(name, table, cols);
    stmt.unique();
    stmt
}
