//! Processing jobs as researchers drive them: start, follow, cancel, pause, resume, retry.
//! Starting and steering a job needs the upload-documents permission in its project; reading
//! it needs read access to its document (or, for a job on a whole project, to the project).
//! A job of a kind no handler runs is refused at the start (`JobKinds`).

use chrono::Utc;
use serde_json::{Value, json};

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, EventPublisher, JobProgressEvent};
use crate::ids::{DocumentId, ProjectId};
use crate::job::{Job, JobAction, JobId, JobKind, JobProgress, JobTarget};
use crate::llm::model::ModelId;
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{
    ConfigRepository, DocumentRepository, JobFilter, JobRepository, ModelRepository, Page, PageRequest,
    ProjectRepository, SourceRepository,
};
use crate::service::documents::Documents;
use crate::service::processing::JobKinds;
use crate::service::projects::{ProjectRef, Projects};

/// Retries a job may have, unless configured otherwise.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

#[derive(Debug, Clone, Default)]
pub struct StartJob {
    /// EXTRACTION when omitted.
    pub kind: Option<JobKind>,
    /// The document a document job works on.
    pub document_id: Option<DocumentId>,
    /// The project a project job works on (with a document, it must be the document's).
    pub project_id: Option<ProjectId>,
    /// The source an INGESTION job fetches (kept in `params.sourceId`).
    pub source_id: Option<uuid::Uuid>,
    /// The kind's parameters, a JSON object.
    pub params: Option<Value>,
    pub llm_model_id: Option<ModelId>,
    pub processing_config_id: Option<uuid::Uuid>,
    pub priority: Option<i32>,
}

pub struct Jobs<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
    /// The kinds this server runs.
    pub kinds: &'a dyn JobKinds,
}

/// Publishes a job's state to its subscribers.
pub fn publish_progress(events: &impl EventPublisher, job: &Job) {
    events.publish(DomainEvent::JobProgress(JobProgressEvent::from(&JobProgress::from(job))));
}

impl<S, E> Jobs<'_, S, E>
where
    S: JobRepository + DocumentRepository + ProjectRepository + ModelRepository + ConfigRepository + SourceRepository,
    E: EventPublisher,
{
    /// [`start`](Self::start) for a job of a source (`sourceId`, an INGESTION job): the
    /// source names the project (a `projectId` given with it must be the source's); a source
    /// the caller cannot see is NOT_FOUND.
    pub async fn start_for_source(&self, meta: &RequestMeta, actor: &Actor, mut input: StartJob) -> DomainResult<Job> {
        if let Some(id) = input.source_id {
            let source = self.store.source_by_id(crate::source::SourceId(id)).await?;
            let source = source.ok_or(DomainError::NotFound { resource: "source" })?;
            if input.project_id.is_some_and(|p| p != source.project_id) {
                return Err(DomainError::invalid("projectId", "is not the project of the source"));
            }
            if input.document_id.is_some() {
                return Err(DomainError::invalid(
                    "documentId",
                    "a source's job works on its project: give sourceId only",
                ));
            }
            input.project_id = Some(source.project_id);
            match self.start(meta, actor, input).await {
                Err(DomainError::NotFound { resource: "project" }) => Err(DomainError::NotFound { resource: "source" }),
                other => other,
            }
        } else {
            self.start(meta, actor, input).await
        }
    }
}

impl<S, E> Jobs<'_, S, E>
where
    S: JobRepository + DocumentRepository + ProjectRepository + ModelRepository + ConfigRepository,
    E: EventPublisher,
{
    fn documents(&self) -> Documents<'_, S, E> {
        Documents { store: self.store, events: self.events, max_bytes: usize::MAX }
    }

    /// The job's target, its project, a title for the audit row, and what the caller may do.
    async fn target(
        &self,
        actor: Option<&Actor>,
        document: Option<DocumentId>,
        project: Option<ProjectId>,
    ) -> DomainResult<(JobTarget, ProjectId, String, ProjectAccess)> {
        match (document, project) {
            (Some(id), project) => {
                let (doc, access) = self.documents().head_access(actor, id).await?;
                if project.is_some_and(|p| p != doc.project_id) {
                    return Err(DomainError::invalid("projectId", "is not the project of the document"));
                }
                Ok((JobTarget::Document(doc.id), doc.project_id, doc.title, access))
            }
            (None, Some(id)) => {
                let (p, access) = Projects { store: self.store, events: self.events }
                    .find(actor, ProjectRef::Id(id))
                    .await?
                    .ok_or(DomainError::NotFound { resource: "project" })?;
                Ok((JobTarget::Project, p.id, p.name, access))
            }
            (None, None) => {
                Err(DomainError::invalid("documentId", "give the document (or, for a project job, projectId)"))
            }
        }
    }

    pub async fn start(&self, meta: &RequestMeta, actor: &Actor, input: StartJob) -> DomainResult<Job> {
        let kind = input.kind.unwrap_or(JobKind::Extraction);
        let (target, project_id, title, access) = self.target(Some(actor), input.document_id, input.project_id).await?;
        access.require(Permission::UploadDocuments)?;
        let mut params = input.params.unwrap_or_else(|| json!({}));
        if let Some(source) = input.source_id {
            match params.as_object_mut() {
                Some(p) => {
                    p.insert("sourceId".into(), json!(source));
                }
                None => return Err(DomainError::invalid("params", "must be a JSON object")),
            }
        }
        self.kinds.check_start(kind, target, &params)?;
        let model = match input.llm_model_id {
            Some(id) => {
                self.store.model_by_id(id).await?.ok_or_else(|| DomainError::invalid("llmModelId", "no such model"))?
            }
            None => self
                .store
                .default_model()
                .await?
                .ok_or_else(|| DomainError::invalid("llmModelId", "no default model is configured"))?,
        };
        if !model.is_active {
            return Err(DomainError::invalid("llmModelId", format!("the model {} is inactive", model.name)));
        }
        let config = match input.processing_config_id {
            Some(id) => self
                .store
                .config_by_id(id)
                .await?
                .ok_or_else(|| DomainError::invalid("processingConfigId", "no such processing configuration"))?,
            None => self
                .store
                .default_config()
                .await?
                .ok_or_else(|| DomainError::invalid("processingConfigId", "no default processing configuration"))?,
        };
        let priority = input.priority.unwrap_or(0);
        if !(-100..=100).contains(&priority) {
            return Err(DomainError::invalid("priority", "must be between -100 and 100"));
        }
        let now = Utc::now();
        let job = Job {
            llm_model_id: Some(model.id),
            processing_config_id: Some(config.id),
            priority,
            ..Job::queued(kind, project_id, target, params, Some(actor.user_id), now)?
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "job.start", "processing_job")
            .resource(job.id, &title)
            .project(project_id)
            .changes(json!({
                "kind": kind.as_str(),
                "documentId": target.document(),
                "model": model.name,
                "config": config.name,
                "priority": priority,
            }));
        let job = self.store.create_job(job, audit).await?;
        publish_progress(self.events, &job);
        Ok(job)
    }

    /// A job and what the caller may do in its project; NOT_FOUND when the caller may not
    /// read its document (or its project, for a project job).
    pub async fn find(&self, actor: Option<&Actor>, id: JobId) -> DomainResult<(Job, ProjectAccess)> {
        let job = self.store.job_by_id(id).await?.ok_or(DomainError::NotFound { resource: "job" })?;
        let (_, _, _, access) = self
            .target(actor, job.document_id(), Some(job.project_id))
            .await
            .map_err(|_| DomainError::NotFound { resource: "job" })?;
        Ok((job, access))
    }

    pub async fn act(&self, meta: &RequestMeta, actor: &Actor, id: JobId, action: JobAction) -> DomainResult<Job> {
        let (job, access) = self.find(Some(actor), id).await?;
        access.require(Permission::UploadDocuments)?;
        let audit = AuditEntry::new(meta, Some(actor.user_id), &format!("job.{}", action.as_str()), "processing_job")
            .resource(job.id, action.as_str())
            .project(job.project_id)
            .changes(json!({"from": job.status.as_str()}));
        let job = self.store.act_on_job(id, action, audit).await?;
        publish_progress(self.events, &job);
        Ok(job)
    }

    /// Jobs the caller may see: all for global admins, else those of their projects.
    pub async fn list(&self, actor: &Actor, mut filter: JobFilter, page: PageRequest) -> DomainResult<Page<Job>> {
        filter.member = (!actor.is_admin).then_some(actor.user_id);
        self.store.jobs(&filter, page).await
    }
}
