//! Sources as a project's readers see them: what they fetch, their newest INGESTION job, and
//! how many documents they stored; and an ingestion job's counts.

use async_graphql::{ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::service::sources::SourceView;
use nishan_domain::source::IngestionCounts as Counts;

use super::ProcessingJob;

pub struct Source(pub SourceView);

#[Object]
impl Source {
    async fn id(&self) -> ID {
        ID(self.0.source.id.to_string())
    }
    async fn project_id(&self) -> ID {
        ID(self.0.source.project_id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.source.name
    }
    /// Where its jobs start.
    async fn urls(&self) -> &[String] {
        &self.0.source.urls
    }
    /// A page is stored only if it holds one of them (compared Urdu-aware); every page when
    /// there are none.
    async fn keywords(&self) -> &[String] {
        &self.0.source.keywords
    }
    /// The only hosts fetched (redirects included).
    async fn allowed_hosts(&self) -> &[String] {
        &self.0.source.allowed_hosts
    }
    /// Most URLs one job takes up (fetched, skipped or failed).
    async fn max_pages(&self) -> u32 {
        self.0.source.max_pages
    }
    async fn requests_per_second(&self) -> f64 {
        self.0.source.requests_per_second
    }
    /// Whether links on fetched pages to the same host are followed (else only `urls`).
    async fn follow_links(&self) -> bool {
        self.0.source.follow_links
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.source.created_at
    }
    /// Its newest INGESTION job.
    async fn last_job(&self) -> Option<ProcessingJob> {
        self.0.last_job.clone().map(ProcessingJob)
    }
    /// The project's documents it stored (deleted ones no longer count).
    async fn document_count(&self) -> u64 {
        self.0.document_count
    }
}

/// What an INGESTION job counted so far.
#[derive(SimpleObject)]
pub struct IngestionCounts {
    /// Pages read whole (after redirects).
    pub fetched: u32,
    /// Documents stored.
    pub stored: u32,
    /// Pages without any of the source's keywords.
    pub skipped_for_keywords: u32,
    /// Pages whose text the project already held.
    pub skipped_unchanged: u32,
    /// URLs robots.txt disallows (not fetched).
    pub disallowed: u32,
    /// URLs that failed: `errorDetails.failures` says why, URL by URL.
    pub failed: u32,
}

impl From<Counts> for IngestionCounts {
    fn from(c: Counts) -> Self {
        Self {
            fetched: c.fetched,
            stored: c.stored,
            skipped_for_keywords: c.skipped_for_keywords,
            skipped_unchanged: c.skipped_unchanged,
            disallowed: c.disallowed,
            failed: c.failed,
        }
    }
}
