//! Learning, experiments and the review queue as researchers drive them.
//!
//! - Training a project's model is a TRAINING job (`trainProjectModel`, started as any job is,
//!   with the upload-documents permission), and happens on its own: [`Learning::train_if_due`]
//!   queues one when [`AUTO_TRAIN_NEW_GOLD`] verified entities have come in since the newest
//!   model (one queued job at a time per project, decided in the store's transaction, so
//!   researchers verifying at once, on any replica, queue one job).
//! - An experiment runs each chosen model over chosen documents of a project (one EXPERIMENT
//!   job per model) into a scratch layer and scores it against their gold; starting one needs
//!   the upload-documents permission, reading it read access to the project. At most
//!   [`MAX_EXPERIMENT_MODELS`] models and [`MAX_EXPERIMENT_DOCUMENTS`] documents.
//! - The review queue orders a project's (or a document's) unverified suggestions by how much
//!   a decision teaches (`learn::review`), around the default configuration's threshold.

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::entity::Entity;
use crate::error::{DomainError, DomainResult};
use crate::events::EventPublisher;
use crate::ids::{DocumentId, ProjectId};
use crate::job::{Job, JobKind, JobTarget};
use crate::learn::records::{Experiment, ExperimentRun, LearnedModelInfo};
use crate::learn::review;
use crate::llm::model::ModelId;
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{
    ConfigRepository, DocumentRepository, EntityRepository, JobRepository, LearningRepository, ModelRepository, Page,
    PageRequest, ProjectRepository,
};
use crate::service::jobs::{Jobs, StartJob, publish_progress};
use crate::service::processing::JobKinds;
use crate::service::projects::{ProjectRef, Projects};

pub use crate::service::processing::training::AUTO_TRAIN_NEW_GOLD;

/// Most models one experiment compares.
pub const MAX_EXPERIMENT_MODELS: usize = 10;
/// Most documents one experiment runs over.
pub const MAX_EXPERIMENT_DOCUMENTS: usize = 100;

/// What `startExperiment` asks for.
#[derive(Debug, Clone)]
pub struct StartExperiment {
    pub project_id: ProjectId,
    pub model_ids: Vec<ModelId>,
    pub document_ids: Vec<DocumentId>,
}

pub struct Learning<'a, S, E> {
    pub store: &'a S,
    pub events: &'a E,
    pub kinds: &'a dyn JobKinds,
}

/// A new QUEUED job of a project.
fn queued_job(
    kind: JobKind,
    project: ProjectId,
    params: serde_json::Value,
    model: Option<ModelId>,
    config: Option<uuid::Uuid>,
    by: Option<crate::ids::UserId>,
) -> DomainResult<Job> {
    Ok(Job {
        llm_model_id: model,
        processing_config_id: config,
        ..Job::queued(kind, project, JobTarget::Project, params, by, Utc::now())?
    })
}

impl<S, E> Learning<'_, S, E>
where
    S: LearningRepository
        + JobRepository
        + DocumentRepository
        + ProjectRepository
        + ModelRepository
        + ConfigRepository
        + EntityRepository,
    E: EventPublisher,
{
    async fn project(&self, actor: Option<&Actor>, id: ProjectId) -> DomainResult<ProjectAccess> {
        Projects { store: self.store, events: self.events }
            .find(actor, ProjectRef::Id(id))
            .await?
            .map(|(_, access)| access)
            .ok_or(DomainError::NotFound { resource: "project" })
    }

    /// The newest learned model of a project the caller has read.
    pub async fn learned_model(&self, project: ProjectId) -> DomainResult<Option<LearnedModelInfo>> {
        self.store.learned_model_info(project).await
    }

    /// Every model version of a project the caller has read, newest first.
    pub async fn learned_model_versions(
        &self,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<LearnedModelInfo>> {
        self.store.learned_model_versions(project, page).await
    }

    /// Queues a TRAINING job for the project (`trainProjectModel`).
    pub async fn train(&self, meta: &RequestMeta, actor: &Actor, project: ProjectId) -> DomainResult<Job> {
        let jobs = Jobs { store: self.store, events: self.events, kinds: self.kinds };
        let input = StartJob {
            kind: Some(JobKind::Training),
            document_id: None,
            project_id: Some(project),
            source_id: None,
            params: None,
            llm_model_id: None,
            processing_config_id: None,
            priority: None,
        };
        jobs.start(meta, actor, input).await
    }

    /// Queues a TRAINING job when enough new gold came in ([`AUTO_TRAIN_NEW_GOLD`]) and none
    /// is waiting or running; returns it when queued.
    pub async fn train_if_due(&self, project: ProjectId) -> DomainResult<Option<Job>> {
        if self.kinds.check_start(JobKind::Training, JobTarget::Project, &json!({"automatic": true})).is_err() {
            return Ok(None);
        }
        let model = self.store.default_model().await?.map(|m| m.id);
        let config = self.store.default_config().await?.map(|c| c.id);
        let job = queued_job(JobKind::Training, project, json!({"automatic": true}), model, config, None)?;
        let audit = AuditEntry::new(&RequestMeta::default(), None, "job.start", "processing_job")
            .resource(job.id, "automatic training")
            .project(project)
            .changes(json!({"kind": "TRAINING", "automatic": true, "newGold": AUTO_TRAIN_NEW_GOLD}));
        let queued = self.store.queue_training_if_due(project, AUTO_TRAIN_NEW_GOLD, job, audit).await?;
        if let Some(job) = &queued {
            publish_progress(self.events, job);
        }
        Ok(queued)
    }

    /// Starts an experiment: one QUEUED EXPERIMENT job per model.
    pub async fn start_experiment(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        input: StartExperiment,
    ) -> DomainResult<Experiment> {
        self.project(Some(actor), input.project_id).await?.require(Permission::UploadDocuments)?;
        let mut models = input.model_ids.clone();
        models.sort();
        models.dedup();
        if models.is_empty() || models.len() > MAX_EXPERIMENT_MODELS {
            return Err(DomainError::invalid(
                "llmModelIds",
                format!("name from 1 to {MAX_EXPERIMENT_MODELS} distinct models"),
            ));
        }
        let mut documents = input.document_ids.clone();
        documents.sort();
        documents.dedup();
        if documents.is_empty() || documents.len() > MAX_EXPERIMENT_DOCUMENTS {
            return Err(DomainError::invalid(
                "documentIds",
                format!("name from 1 to {MAX_EXPERIMENT_DOCUMENTS} distinct documents"),
            ));
        }
        let found = self.store.document_infos_by_ids(&documents).await?;
        if found.len() != documents.len() || found.iter().any(|d| d.project_id != input.project_id) {
            return Err(DomainError::invalid("documentIds", "every document must be one of the project's"));
        }
        let id = uuid::Uuid::now_v7();
        let params = json!({"experimentId": id});
        self.kinds.check_start(JobKind::Experiment, JobTarget::Project, &params)?;
        let config = self
            .store
            .default_config()
            .await?
            .ok_or_else(|| DomainError::invalid("llmModelIds", "no default processing configuration"))?;
        // In the order asked (duplicates dropped).
        let mut ordered: Vec<ModelId> = Vec::new();
        for m in &input.model_ids {
            if !ordered.contains(m) {
                ordered.push(*m);
            }
        }
        let mut runs = Vec::new();
        let mut jobs = Vec::new();
        for model_id in ordered {
            let model = self
                .store
                .model_by_id(model_id)
                .await?
                .ok_or_else(|| DomainError::invalid("llmModelIds", format!("no such model {model_id}")))?;
            if !model.is_active {
                return Err(DomainError::invalid("llmModelIds", format!("the model {} is inactive", model.name)));
            }
            let job = queued_job(
                JobKind::Experiment,
                input.project_id,
                params.clone(),
                Some(model.id),
                Some(config.id),
                Some(actor.user_id),
            )?;
            runs.push(ExperimentRun {
                id: uuid::Uuid::now_v7(),
                model_id: model.id,
                model_name: model.name.clone(),
                job_id: job.id,
                result: None,
            });
            jobs.push(job);
        }
        let experiment = Experiment {
            id,
            project_id: input.project_id,
            document_ids: input.document_ids.iter().fold(Vec::new(), |mut v, d| {
                if !v.contains(d) {
                    v.push(*d);
                }
                v
            }),
            runs,
            created_by: Some(actor.user_id),
            created_at: Utc::now(),
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "experiment.start", "experiment")
            .resource(id, format!("{} models on {} documents", experiment.runs.len(), experiment.document_ids.len()))
            .project(input.project_id)
            .changes(json!({
                "models": experiment.runs.iter().map(|r| r.model_name.clone()).collect::<Vec<_>>(),
                "documentIds": experiment.document_ids,
                "jobs": jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
            }));
        let stored = self.store.create_experiment(experiment, jobs.clone(), audit).await?;
        for job in &jobs {
            publish_progress(self.events, job);
        }
        Ok(stored)
    }

    /// An experiment of a project the caller may read (NOT_FOUND otherwise).
    pub async fn experiment(&self, actor: Option<&Actor>, id: uuid::Uuid) -> DomainResult<Experiment> {
        let not_found = DomainError::NotFound { resource: "experiment" };
        let experiment = self.store.experiment_by_id(id).await?.ok_or(not_found.clone())?;
        self.project(actor, experiment.project_id).await.map_err(|_| not_found)?;
        Ok(experiment)
    }

    pub async fn experiments(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<Experiment>> {
        self.project(actor, project).await?;
        self.store.experiments_of_project(project, page).await
    }

    /// The review queue of a project (or of one of its documents), in review order.
    pub async fn review_queue(
        &self,
        actor: Option<&Actor>,
        project: ProjectId,
        document: Option<DocumentId>,
        page: PageRequest,
    ) -> DomainResult<Page<Entity>> {
        self.project(actor, project).await?;
        if let Some(d) = document {
            let doc = self.store.document_head(d).await?;
            if doc.is_none_or(|doc| doc.project_id != project) {
                return Err(DomainError::NotFound { resource: "document" });
            }
        }
        let threshold = self.store.default_config().await?.map_or(0.5, |c| c.confidence_threshold);
        let candidates = self.store.unverified_suggestions(project, document).await?;
        let order = review::order(&candidates, threshold);
        let total = order.len() as u64;
        let ids: Vec<_> =
            order.iter().skip(page.offset as usize).take(page.limit as usize).map(|&i| candidates[i].id).collect();
        let mut entities = self.store.entities_by_ids(&ids).await?;
        entities.sort_by_key(|e| ids.iter().position(|id| *id == e.id));
        Ok(Page { items: entities, total })
    }
}
