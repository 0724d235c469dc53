//! Sources and what INGESTION jobs store. A source's jobs are the INGESTION jobs whose
//! `params.sourceId` names it, and the documents it stored those whose `metadata.sourceId`
//! does (both read with the database's JSON operators: `->>` on PostgreSQL, `json_extract` on
//! SQLite). A fetched page's document, its original, its audit row (and so its webhook
//! deliveries) and the job's progress are written in one transaction fenced by the job's lease;
//! the content check runs inside it, after the project's row is locked (PostgreSQL; SQLite has
//! one writer), so two jobs storing the same text at once store it once.

use std::collections::HashMap;

use nishan_domain::audit::AuditEntry;
use nishan_domain::ids::{ProjectId, UserId};
use nishan_domain::job::Job;
use nishan_domain::ports::{Fence, FetchedDocument, IngestionStore, SourceRepository};
use nishan_domain::source::{Source, SourceId};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use super::{Store, audit, convert, documents, internal, jobs, search_index};
use crate::entity::{document, processing_job, project, source};

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

fn to_source(m: source::Model) -> Source {
    Source {
        id: SourceId(m.id),
        project_id: ProjectId(m.project_id),
        name: m.name,
        urls: strings(&m.urls),
        keywords: strings(&m.keywords),
        allowed_hosts: strings(&m.allowed_hosts),
        max_pages: m.max_pages.max(1) as u32,
        requests_per_second: m.requests_per_second,
        follow_links: m.follow_links,
        created_by: m.created_by.map(UserId),
        created_at: m.created_at,
    }
}

impl Store {
    /// `table.column ->> 'sourceId' = id`, in the backend's dialect.
    fn names_source(&self, column: &str, id: SourceId) -> sea_orm::sea_query::SimpleExpr {
        if self.is_postgres() {
            Expr::cust_with_values(format!("({column}::jsonb ->> 'sourceId') = $1"), [id.0.to_string()])
        } else {
            Expr::cust_with_values(format!("json_extract({column}, '$.sourceId') = ?"), [id.0.to_string()])
        }
    }
}

/// Holds the source an INGESTION job being created names, until the job's transaction ends
/// (PostgreSQL: a share lock, which `delete_source`'s row lock waits for; SQLite has one
/// writer): a source is never deleted while a job of it is being queued, so `deleteSource`'s
/// CONFLICT for unfinished jobs holds against a start at the same moment. NOT_FOUND when the
/// source is gone.
pub(super) async fn hold_for_job(store: &Store, txn: &sea_orm::DatabaseTransaction, job: &Job) -> DomainResult<()> {
    if job.kind != nishan_domain::job::JobKind::Ingestion {
        return Ok(());
    }
    let Some(id) = job.params.get("sourceId").and_then(Value::as_str).and_then(|s| s.parse::<uuid::Uuid>().ok()) else {
        return Ok(());
    };
    let mut find = source::Entity::find_by_id(id).select_only().column(source::Column::Id);
    if store.is_postgres() {
        find = find.lock_shared();
    }
    match find.into_tuple::<uuid::Uuid>().one(txn).await.map_err(internal)? {
        Some(_) => Ok(()),
        None => Err(DomainError::NotFound { resource: "source" }),
    }
}

impl SourceRepository for Store {
    async fn create_source(&self, s: Source, audit_entry: AuditEntry) -> DomainResult<Source> {
        let txn = self.write().await?;
        let row = source::ActiveModel {
            id: Set(s.id.0),
            project_id: Set(s.project_id.0),
            name: Set(s.name.clone()),
            urls: Set(serde_json::json!(s.urls)),
            keywords: Set(serde_json::json!(s.keywords)),
            allowed_hosts: Set(serde_json::json!(s.allowed_hosts)),
            max_pages: Set(s.max_pages as i32),
            requests_per_second: Set(s.requests_per_second),
            follow_links: Set(s.follow_links),
            created_by: Set(s.created_by.map(|u| u.0)),
            created_at: Set(s.created_at),
        }
        .insert(&txn)
        .await
        .map_err(internal)?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(to_source(row))
    }

    async fn source_by_id(&self, id: SourceId) -> DomainResult<Option<Source>> {
        Ok(source::Entity::find_by_id(id.0).one(self.connection()).await.map_err(internal)?.map(to_source))
    }

    async fn sources_of(&self, project: ProjectId) -> DomainResult<Vec<Source>> {
        Ok(source::Entity::find()
            .filter(source::Column::ProjectId.eq(project.0))
            .order_by_asc(source::Column::CreatedAt)
            .order_by_asc(source::Column::Id)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(to_source)
            .collect())
    }

    async fn delete_source(&self, id: SourceId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        // Locked before its jobs are counted: a job being queued for it holds it shared
        // (`hold_for_job`), so the count below sees that job once it is committed.
        let mut find = source::Entity::find_by_id(id.0);
        if self.is_postgres() {
            find = find.lock_exclusive();
        }
        let Some(row) = find.one(&txn).await.map_err(internal)? else {
            return Err(DomainError::NotFound { resource: "source" });
        };
        let running = processing_job::Entity::find()
            .filter(processing_job::Column::ProjectId.eq(row.project_id))
            .filter(processing_job::Column::Kind.eq("INGESTION"))
            .filter(processing_job::Column::Status.is_in(["QUEUED", "PROCESSING", "PAUSED"]))
            .filter(self.names_source("processing_jobs.params", id))
            .count(&txn)
            .await
            .map_err(internal)?;
        if running > 0 {
            return Err(DomainError::conflict(format!(
                "{running} unfinished INGESTION job(s) fetch this source; cancel them first"
            )));
        }
        source::Entity::delete_by_id(id.0).exec(&txn).await.map_err(internal)?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn last_source_jobs(&self, project: ProjectId, ids: &[SourceId]) -> DomainResult<HashMap<SourceId, Job>> {
        let mut out = HashMap::new();
        for id in ids {
            let row = processing_job::Entity::find()
                .filter(processing_job::Column::ProjectId.eq(project.0))
                .filter(processing_job::Column::Kind.eq("INGESTION"))
                .filter(self.names_source("processing_jobs.params", *id))
                .order_by_desc(processing_job::Column::CreatedAt)
                .order_by_desc(processing_job::Column::Id)
                .one(self.connection())
                .await
                .map_err(internal)?;
            if let Some(row) = row {
                out.insert(*id, jobs::job(row)?);
            }
        }
        Ok(out)
    }

    async fn source_document_counts(
        &self,
        project: ProjectId,
        ids: &[SourceId],
    ) -> DomainResult<HashMap<SourceId, u64>> {
        let mut out = HashMap::new();
        for id in ids {
            let n = document::Entity::find()
                .filter(document::Column::ProjectId.eq(project.0))
                .filter(self.names_source("documents.metadata", *id))
                .count(self.connection())
                .await
                .map_err(internal)?;
            out.insert(*id, n);
        }
        Ok(out)
    }
}

impl IngestionStore for Store {
    async fn source(&self, id: SourceId) -> DomainResult<Option<Source>> {
        self.source_by_id(id).await
    }

    async fn has_content(&self, project: ProjectId, hash: &str) -> DomainResult<bool> {
        Ok(documents::holder_of_content(self.connection(), project, hash, None).await?.is_some())
    }

    async fn store_fetched_document(
        &self,
        stored: &Fence,
        unchanged: &Fence,
        page: FetchedDocument,
    ) -> DomainResult<Option<(Job, bool)>> {
        let txn = self.write().await?;
        let doc = &page.document;
        // Stores of one project's pages queue here (PostgreSQL; SQLite's one writer already
        // does), so the content check below sees every page stored before.
        if self.is_postgres() {
            project::Entity::find_by_id(doc.project_id.0).lock_exclusive().one(&txn).await.map_err(internal)?;
        }
        let exists = documents::holder_of_content(&txn, doc.project_id, &doc.content_hash, None).await?.is_some();
        let fence = if exists { unchanged } else { stored };
        let Some(job) = jobs::save_progress_in(&txn, fence, 0, 0).await? else {
            return Ok(None);
        };
        if !exists {
            documents::insert_rows(&txn, doc).await?;
            convert::version_row(&page.first).insert(&txn).await.map_err(internal)?;
            search_index::index_document(&txn, doc).await?;
            super::artifacts::link(&txn, doc.id, &page.artifact).await?;
            audit::insert(&txn, page.audit).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(Some((job, !exists)))
    }
}
