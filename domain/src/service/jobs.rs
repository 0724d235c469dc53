//! Processing jobs as researchers drive them: start, follow, cancel, pause, resume, retry.
//! Starting and steering a job needs the upload-documents permission in its project; reading
//! it needs read access to the document.

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, EventPublisher, JobProgressEvent};
use crate::ids::DocumentId;
use crate::job::{Job, JobAction, JobId, JobProgress, JobStatus};
use crate::llm::model::ModelId;
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{
    ConfigRepository, DocumentRepository, JobFilter, JobRepository, ModelRepository, Page, PageRequest,
    ProjectRepository,
};
use crate::service::documents::Documents;

/// Retries a job may have, unless configured otherwise.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

#[derive(Debug, Clone)]
pub struct StartJob {
    pub document_id: DocumentId,
    pub llm_model_id: Option<ModelId>,
    pub processing_config_id: Option<uuid::Uuid>,
    pub priority: Option<i32>,
}

pub struct Jobs<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
}

/// Publishes a job's state to its subscribers.
pub fn publish_progress(events: &impl EventPublisher, job: &Job) {
    events.publish(DomainEvent::JobProgress(JobProgressEvent::from(&JobProgress::from(job))));
}

impl<S, E> Jobs<'_, S, E>
where
    S: JobRepository + DocumentRepository + ProjectRepository + ModelRepository + ConfigRepository,
    E: EventPublisher,
{
    fn documents(&self) -> Documents<'_, S, E> {
        Documents { store: self.store, events: self.events, max_bytes: usize::MAX }
    }

    pub async fn start(&self, meta: &RequestMeta, actor: &Actor, input: StartJob) -> DomainResult<Job> {
        let (doc, access) = self.documents().find(Some(actor), input.document_id).await?;
        access.require(Permission::UploadDocuments)?;
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
            id: uuid::Uuid::now_v7(),
            document_id: doc.id,
            project_id: doc.project_id,
            llm_model_id: Some(model.id),
            processing_config_id: Some(config.id),
            status: JobStatus::Pending.transition(JobStatus::Queued)?,
            priority,
            progress: 0,
            total_steps: 0,
            completed_steps: 0,
            current_step: Some("queued".into()),
            entities_found: 0,
            entities_dropped: 0,
            started_at: None,
            completed_at: None,
            estimated_completion_at: None,
            error_message: None,
            error_details: json!({}),
            tokens_used: 0,
            cost: 0.0,
            retry_count: 0,
            max_retries: DEFAULT_MAX_RETRIES,
            attempts: 0,
            cancel_requested: false,
            pause_requested: false,
            created_by: Some(actor.user_id),
            created_at: now,
            updated_at: now,
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "job.start", "processing_job")
            .resource(job.id, &doc.title)
            .project(doc.project_id)
            .changes(json!({"documentId": doc.id, "model": model.name, "config": config.name, "priority": priority}));
        let job = self.store.create_job(job, audit).await?;
        publish_progress(self.events, &job);
        Ok(job)
    }

    /// A job and what the caller may do in its project; NOT_FOUND when the caller may not
    /// read its document.
    pub async fn find(&self, actor: Option<&Actor>, id: JobId) -> DomainResult<(Job, ProjectAccess)> {
        let job = self.store.job_by_id(id).await?.ok_or(DomainError::NotFound { resource: "job" })?;
        let (_, access) = self
            .documents()
            .find(actor, job.document_id)
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
