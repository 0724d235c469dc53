//! `search_postings` by document (issue 14, search speed): one row per project, folded word and
//! document, whose `entries` list the document's passages holding the word, each with how
//! often the word stands there (`tf`) and the passage's length (`word_count`), the two numbers
//! BM25 scores a word's passage by. The row layout of `m20261209_050001` (one row per passage
//! and distinct word: about 1.2 million rows for the 240-text corpus) becomes about 370,000
//! rows, and a one-word query reads at most one row per document holding the word, whatever
//! the word's frequency.
//!
//! `entries` is a blob of 12-byte records in passage-id order: the passage id (i64), `tf`
//! (u16) and `word_count` (u16), little-endian (`nishan_infrastructure::repo::search_index`
//! writes and reads it). Rows go with their project and document (ON DELETE CASCADE).
//!
//! The old rows cannot be converted in SQL, so the table is made again empty and every
//! document's index is marked stale (`search_documents` emptied): each server re-indexes at
//! start-up, as it does after a change of the index format.
//!
//! `down` restores the previous table, empty, and marks the index stale again, so the
//! previous server fills it at its start.

use crate::m20261209_050001_search_postings as previous;
use crate::raw_sql::{run, run_per_backend};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "DROP TABLE search_postings",
    "CREATE TABLE search_postings (
        project_id uuid_text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        word text NOT NULL,
        document_id uuid_text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        entries blob NOT NULL,
        PRIMARY KEY (project_id, word, document_id)
    ) WITHOUT ROWID",
    "CREATE INDEX idx_search_postings_document ON search_postings (document_id)",
    "DELETE FROM search_documents",
];

const POSTGRES_UP: &[&str] = &[
    "DROP TABLE search_postings",
    "CREATE TABLE search_postings (
        project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        word text NOT NULL,
        document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        entries bytea NOT NULL,
        PRIMARY KEY (project_id, word, document_id)
    )",
    "CREATE INDEX idx_search_postings_document ON search_postings (document_id)",
    "DELETE FROM search_documents",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_per_backend(manager, SQLITE_UP, POSTGRES_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, &["DROP TABLE search_postings"]).await?;
        run_per_backend(manager, previous::SQLITE_UP, previous::POSTGRES_UP).await?;
        run(manager, &["DELETE FROM search_documents"]).await
    }
}
