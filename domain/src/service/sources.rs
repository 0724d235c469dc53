//! Sources of a project, as its managers keep them: create, list, read, delete. Reading needs
//! read access to the project (NOT_FOUND otherwise, as for a project one cannot see); creating
//! and deleting need the edit-project permission (owners, admins, global admins), FORBIDDEN
//! for other members. Fetching is an INGESTION job (`startProcessingJob(input: {sourceId,
//! kind: INGESTION})`, `service::processing::ingestion`).

use std::collections::HashMap;

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::events::EventPublisher;
use crate::ids::ProjectId;
use crate::job::Job;
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{DocumentRepository, ProjectRepository, SourceRepository};
use crate::service::projects::{ProjectRef, Projects};
use crate::source::{Source, SourceId, SourceInput};

pub struct Sources<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
}

/// A source with its newest job and how many documents it stored.
#[derive(Debug, Clone)]
pub struct SourceView {
    pub source: Source,
    pub last_job: Option<Job>,
    pub document_count: u64,
}

impl<S: SourceRepository + ProjectRepository + DocumentRepository, E: EventPublisher> Sources<'_, S, E> {
    async fn access(&self, actor: Option<&Actor>, project: ProjectId) -> DomainResult<ProjectAccess> {
        let (_, access) = Projects { store: self.store, events: self.events }
            .find(actor, ProjectRef::Id(project))
            .await?
            .ok_or(DomainError::NotFound { resource: "project" })?;
        Ok(access)
    }

    /// The source, when the actor may read its project; NOT_FOUND `source` otherwise.
    pub async fn find(&self, actor: Option<&Actor>, id: SourceId) -> DomainResult<(Source, ProjectAccess)> {
        let not_found = DomainError::NotFound { resource: "source" };
        let source = self.store.source_by_id(id).await?.ok_or(not_found.clone())?;
        match self.access(actor, source.project_id).await {
            Ok(access) => Ok((source, access)),
            Err(DomainError::NotFound { .. }) => Err(not_found),
            Err(e) => Err(e),
        }
    }

    pub async fn create(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        project: ProjectId,
        input: SourceInput,
    ) -> DomainResult<SourceView> {
        self.access(Some(actor), project).await?.require(Permission::EditProject)?;
        let source = input.validated(project, actor.user_id, Utc::now())?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "source.create", "source")
            .resource(source.id.0, &source.name)
            .project(project)
            .changes(json!({
                "name": source.name,
                "urls": source.urls,
                "keywords": source.keywords,
                "allowedHosts": source.allowed_hosts,
                "maxPages": source.max_pages,
                "requestsPerSecond": source.requests_per_second,
                "followLinks": source.follow_links,
            }));
        let source = self.store.create_source(source, audit).await?;
        Ok(SourceView { source, last_job: None, document_count: 0 })
    }

    pub async fn list(&self, actor: Option<&Actor>, project: ProjectId) -> DomainResult<Vec<SourceView>> {
        self.access(actor, project).await?;
        let sources = self.store.sources_of(project).await?;
        self.views(project, sources).await
    }

    pub async fn get(&self, actor: Option<&Actor>, id: SourceId) -> DomainResult<SourceView> {
        let (source, _) = self.find(actor, id).await?;
        let project = source.project_id;
        Ok(self.views(project, vec![source]).await?.remove(0))
    }

    async fn views(&self, project: ProjectId, sources: Vec<Source>) -> DomainResult<Vec<SourceView>> {
        let ids: Vec<SourceId> = sources.iter().map(|s| s.id).collect();
        let mut jobs: HashMap<SourceId, Job> = self.store.last_source_jobs(project, &ids).await?;
        let counts = self.store.source_document_counts(project, &ids).await?;
        Ok(sources
            .into_iter()
            .map(|s| SourceView {
                last_job: jobs.remove(&s.id),
                document_count: counts.get(&s.id).copied().unwrap_or(0),
                source: s,
            })
            .collect())
    }

    /// Deletes a source; the documents it stored stay. CONFLICT while one of its jobs is
    /// unfinished.
    pub async fn delete(&self, meta: &RequestMeta, actor: &Actor, id: SourceId) -> DomainResult<()> {
        let (source, access) = self.find(Some(actor), id).await?;
        access.require(Permission::EditProject)?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), "source.delete", "source")
            .resource(source.id.0, &source.name)
            .project(source.project_id);
        self.store.delete_source(id, audit).await
    }
}
