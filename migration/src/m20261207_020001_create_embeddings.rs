//! Stored embeddings (issue 14): a project's embedding model, and the vectors of its chunks.
//!
//! - `embedding_settings`: per project, the model its chunks are embedded with (an
//!   `llm_models` row of an embedding-capable provider, or the built-in model). The row goes
//!   with its project or its model (ON DELETE CASCADE): a project without a row has no
//!   semantic ranking.
//! - `embedding_vectors`: one vector per (project, model, chunk content hash): `vector` holds
//!   `dimensions` little-endian f32 values. A chunk is a search passage (a line, or a piece of
//!   a long line); passages with the same text share one vector. UNIQUE on (project, model,
//!   hash), so an EMBEDDING step stored twice stores nothing twice.
//! - `search_passages.content_hash`: the SHA-256 (hex) of the passage's text, written with the
//!   passage; NULL for passages indexed before this migration, which the start-up re-index
//!   (index format 2) fills.
//!
//! `down` drops the tables and the column.

use crate::raw_sql::{run, run_per_backend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE embedding_settings (
        project_id uuid_text NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
        llm_model_id uuid_text NOT NULL REFERENCES llm_models (id) ON DELETE CASCADE,
        updated_at timestamp_with_timezone_text NOT NULL
    )",
    "CREATE TABLE embedding_vectors (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id uuid_text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        llm_model_id uuid_text NOT NULL REFERENCES llm_models (id) ON DELETE CASCADE,
        content_hash text NOT NULL,
        dimensions integer NOT NULL,
        vector blob NOT NULL,
        created_at timestamp_with_timezone_text NOT NULL
    )",
    "CREATE UNIQUE INDEX uq_embedding_vectors_chunk ON embedding_vectors (project_id, llm_model_id, content_hash)",
    "ALTER TABLE search_passages ADD COLUMN content_hash text",
    "CREATE INDEX idx_search_passages_hash ON search_passages (project_id, content_hash)",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE TABLE embedding_settings (
        project_id uuid NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
        llm_model_id uuid NOT NULL REFERENCES llm_models (id) ON DELETE CASCADE,
        updated_at timestamptz NOT NULL
    )",
    "CREATE TABLE embedding_vectors (
        id bigserial PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        llm_model_id uuid NOT NULL REFERENCES llm_models (id) ON DELETE CASCADE,
        content_hash text NOT NULL,
        dimensions integer NOT NULL,
        vector bytea NOT NULL,
        created_at timestamptz NOT NULL
    )",
    "CREATE UNIQUE INDEX uq_embedding_vectors_chunk ON embedding_vectors (project_id, llm_model_id, content_hash)",
    "ALTER TABLE search_passages ADD COLUMN content_hash text",
    "CREATE INDEX idx_search_passages_hash ON search_passages (project_id, content_hash)",
];

const DOWN: &[&str] = &[
    "DROP INDEX idx_search_passages_hash",
    "ALTER TABLE search_passages DROP COLUMN content_hash",
    "DROP TABLE embedding_vectors",
    "DROP TABLE embedding_settings",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_per_backend(manager, SQLITE_UP, POSTGRES_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
