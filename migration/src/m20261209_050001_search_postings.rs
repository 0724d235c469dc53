//! `search_postings` (issue 14, search speed): per project and folded word, the passages
//! holding it, keyed by how often the word stands there (`tf`) and the passage's length
//! (`word_count`). BM25 scores a word's passages by those two numbers alone, so a one-word
//! query counts its passages per `(tf, word_count)` from this key, orders those groups by
//! score, and reads only the rows of the groups its page falls in, in key order: never every
//! passage of a frequent word.
//!
//! The primary key is the whole row (SQLite: a `WITHOUT ROWID` table, one B-tree). Rows go
//! with their project (ON DELETE CASCADE, on the key's first column); a document's rows are
//! deleted by their keys with its passages. The index format goes to 4, so each server
//! re-indexes once at start-up and fills the table.
//!
//! `down` drops the table.

use crate::raw_sql::{run, run_per_backend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table of this layout (also what `m20261210_010001`'s `down` restores).
pub(crate) const SQLITE_UP: &[&str] = &["CREATE TABLE search_postings (
        project_id uuid_text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        word text NOT NULL,
        tf integer NOT NULL,
        word_count integer NOT NULL,
        passage_id integer NOT NULL,
        PRIMARY KEY (project_id, word, tf, word_count, passage_id)
    ) WITHOUT ROWID"];

pub(crate) const POSTGRES_UP: &[&str] = &["CREATE TABLE search_postings (
        project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        word text NOT NULL,
        tf integer NOT NULL,
        word_count integer NOT NULL,
        passage_id bigint NOT NULL,
        PRIMARY KEY (project_id, word, tf, word_count, passage_id)
    )"];

const DOWN: &[&str] = &["DROP TABLE search_postings"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_per_backend(manager, SQLITE_UP, POSTGRES_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
