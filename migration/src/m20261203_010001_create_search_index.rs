//! The search index: a project's passages (a document's lines, long lines in pieces) with
//! their folded words, in each database's full-text index.
//!
//! - `search_passages`: one row per passage (`nishan_domain::search::passages`): project,
//!   document, line number, code-point offsets, the original text, its folded words separated
//!   by single spaces (`words`) and how many (`word_count`). Rows go with their document and
//!   project (foreign keys, ON DELETE CASCADE).
//! - SQLite: `search_passages_fts`, an FTS5 table over `words` with `search_passages` as its
//!   external content and the `ascii` tokenizer (the words are folded already: every non-ASCII
//!   character is a word character, and words are separated by spaces). Triggers keep it in
//!   step with `search_passages` in the same transaction, whatever deletes the rows (a
//!   document's delete, or its project's cascading to it).
//! - PostgreSQL: `search_passages.lexemes`, a `tsvector` of the same words at their positions,
//!   written by the server (not parsed by `to_tsvector`, whose word boundaries depend on the
//!   database's locale), under a GIN index.
//! - `search_stats`: per project, the passages and words (BM25's `N` and mean length), kept by
//!   the same transactions.
//! - `search_documents`: per document, the content version and the index format its passages
//!   were made from, so that a server finds what is missing or stale (documents made before
//!   this migration, or after a change of the folding) and indexes it at start-up.
//!
//! `down` drops all of it.

use crate::raw_sql::run_per_backend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE search_passages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id uuid_text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        document_id uuid_text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        line_number integer NOT NULL,
        start_offset integer NOT NULL,
        end_offset integer NOT NULL,
        text text NOT NULL,
        words text NOT NULL,
        word_count integer NOT NULL
    )",
    "CREATE INDEX idx_search_passages_document ON search_passages (document_id, start_offset)",
    "CREATE INDEX idx_search_passages_project ON search_passages (project_id)",
    "CREATE VIRTUAL TABLE search_passages_fts USING fts5 (
        words, content = 'search_passages', content_rowid = 'id', tokenize = 'ascii'
    )",
    "CREATE TRIGGER search_passages_fts_insert AFTER INSERT ON search_passages BEGIN
        INSERT INTO search_passages_fts (rowid, words) VALUES (new.id, new.words);
    END",
    "CREATE TRIGGER search_passages_fts_delete AFTER DELETE ON search_passages BEGIN
        INSERT INTO search_passages_fts (search_passages_fts, rowid, words) VALUES ('delete', old.id, old.words);
    END",
    "CREATE TRIGGER search_passages_fts_update AFTER UPDATE OF words ON search_passages BEGIN
        INSERT INTO search_passages_fts (search_passages_fts, rowid, words) VALUES ('delete', old.id, old.words);
        INSERT INTO search_passages_fts (rowid, words) VALUES (new.id, new.words);
    END",
    "CREATE TABLE search_stats (
        project_id uuid_text NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
        passages bigint NOT NULL,
        words bigint NOT NULL
    )",
    "CREATE TABLE search_documents (
        document_id uuid_text NOT NULL PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
        project_id uuid_text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        content_version integer NOT NULL,
        index_version integer NOT NULL
    )",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE TABLE search_passages (
        id bigserial PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        line_number integer NOT NULL,
        start_offset integer NOT NULL,
        end_offset integer NOT NULL,
        text text NOT NULL,
        words text NOT NULL,
        word_count integer NOT NULL,
        lexemes tsvector NOT NULL
    )",
    "CREATE INDEX idx_search_passages_document ON search_passages (document_id, start_offset)",
    "CREATE INDEX idx_search_passages_project ON search_passages (project_id)",
    "CREATE INDEX idx_search_passages_lexemes ON search_passages USING gin (lexemes)",
    "CREATE TABLE search_stats (
        project_id uuid NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
        passages bigint NOT NULL,
        words bigint NOT NULL
    )",
    "CREATE TABLE search_documents (
        document_id uuid NOT NULL PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
        project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        content_version integer NOT NULL,
        index_version integer NOT NULL
    )",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TABLE search_documents",
    "DROP TABLE search_stats",
    "DROP TRIGGER search_passages_fts_update",
    "DROP TRIGGER search_passages_fts_delete",
    "DROP TRIGGER search_passages_fts_insert",
    "DROP TABLE search_passages_fts",
    "DROP TABLE search_passages",
];

const POSTGRES_DOWN: &[&str] =
    &["DROP TABLE search_documents", "DROP TABLE search_stats", "DROP TABLE search_passages"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_per_backend(manager, SQLITE_UP, POSTGRES_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_per_backend(manager, SQLITE_DOWN, POSTGRES_DOWN).await
    }
}
