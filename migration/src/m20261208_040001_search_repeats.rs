//! `search_passages.repeats` (issue 14, search speed): the passage's folded words beyond each
//! word's first occurrence, separated by single spaces (`''` when no word repeats, most
//! lines). A whole-word query is ranked in the database, and a word's count in a passage is
//! then `1 + its count in repeats`: one comparison for most rows, instead of counting in all
//! of the passage's words. Existing rows get `''`; the index format goes to 3, so each server
//! re-indexes once at start-up and fills the column.
//!
//! `down` drops the column.

use crate::raw_sql::run;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &["ALTER TABLE search_passages ADD COLUMN repeats text NOT NULL DEFAULT ''"];

const DOWN: &[&str] = &["ALTER TABLE search_passages DROP COLUMN repeats"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
