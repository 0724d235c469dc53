//! The worker: claims a job, splits its document into chunks, asks the model (or the built-in
//! extractor) chunk by chunk, places every suggestion by aligning its text, stores the spans as
//! unverified LLM suggestions (never twice: a span and type already stored are skipped, so a
//! re-run after a crash duplicates nothing), and publishes progress after each chunk. Model
//! calls are retried with backoff and jitter, a malformed answer gets one repair request, and
//! every attempt is recorded. A cancel or pause takes effect after the current chunk; what was
//! stored stays.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::BoxFuture;
use nishan_domain::audit::{AuditEntry, RequestMeta};
use nishan_domain::document::Document;
use nishan_domain::entity::EntitySource;
use nishan_domain::events::{ActivityEvent, ActivityKind, DomainEvent, EventPublisher};
use nishan_domain::extract::{Gazetteer, GazetteerEntry};
use nishan_domain::ids::EntityTypeId;
use nishan_domain::job::{Job, JobStatus};
use nishan_domain::llm::model::{LlmModel, ProcessingConfig};
use nishan_domain::llm::output::{entities_json_schema, parse_suggestions, repair_request};
use nishan_domain::llm::retry::RetryPolicy;
use nishan_domain::llm::{Completion, CompletionRequest, LlmError, ModelEndpoint, Provider};
use nishan_domain::ports::{
    ConfigRepository, DocumentRepository, EntityRepository, EntityTypeRepository, JobRepository, KnowledgeRepository,
    ModelCall, ModelRepository, OnDuplicate,
};
use nishan_domain::service::entities::new_entity;
use nishan_domain::service::jobs::publish_progress;
use nishan_domain::service::models::{Models, types_to_extract};
use nishan_domain::service::processing::{ChunkYield, gazetteer_finds, place_suggestions};
use nishan_domain::text::DocumentText;
use nishan_domain::text::chunk::{Chunk, chunks};
use nishan_domain::{DomainError, DomainResult};
use rand::RngExt as _;
use serde_json::json;

use crate::Store;
use crate::crypto::SecretBox;
use crate::events::EventBus;

/// One model call, type-erased so the worker runs with any client (the HTTP providers, or a
/// test double).
pub type CallModel =
    Arc<dyn Fn(ModelEndpoint, CompletionRequest) -> BoxFuture<'static, Result<Completion, LlmError>> + Send + Sync>;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Concurrent jobs in this process.
    pub workers: usize,
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// How often an idle worker looks for work (it also wakes when a job is queued).
    pub poll: Duration,
    pub retry: RetryPolicy,
    /// This process's name in leases.
    pub instance: String,
}

pub struct JobRunner {
    store: Store,
    events: EventBus,
    cipher: SecretBox,
    call_model: CallModel,
    config: WorkerConfig,
}

/// Why a run stopped early.
enum Stop {
    /// Another worker holds the job now (our lease expired).
    LeaseLost,
    /// The job cannot go on (document or model gone, a key refused).
    Fatal(String),
}

impl From<DomainError> for Stop {
    fn from(e: DomainError) -> Self {
        Stop::Fatal(e.to_string())
    }
}

impl JobRunner {
    pub fn new(
        store: Store,
        events: EventBus,
        cipher: SecretBox,
        call_model: CallModel,
        config: WorkerConfig,
    ) -> Arc<Self> {
        Arc::new(Self { store, events, cipher, call_model, config })
    }

    /// Starts the workers and the reaper; they run until the runtime stops.
    pub fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for n in 0..self.config.workers {
            let me = self.clone();
            let name = format!("{}/{n}", me.config.instance);
            handles.push(tokio::spawn(async move { me.work(name).await }));
        }
        let me = self.clone();
        handles.push(tokio::spawn(async move { me.reap().await }));
        handles
    }

    async fn work(self: Arc<Self>, worker: String) {
        let mut wake = self.events.subscribe();
        loop {
            let now = Utc::now();
            match self.store.claim_next(&worker, now, now + self.config.lease).await {
                Ok(Some(job)) => {
                    tracing::info!(job = %job.id, worker = %worker, "job claimed");
                    publish_progress(&self.events, &job);
                    self.run(job, &worker).await;
                }
                Ok(None) => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll) => {}
                        _ = wake.recv() => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "claiming a job failed");
                    tokio::time::sleep(self.config.poll).await;
                }
            }
        }
    }

    /// Puts back jobs whose worker died, at start-up and then every half lease.
    async fn reap(self: Arc<Self>) {
        loop {
            match self.store.requeue_expired(Utc::now()).await {
                Ok(jobs) => {
                    for job in jobs {
                        tracing::warn!(job = %job.id, "a job's lease expired; it is queued again");
                        publish_progress(&self.events, &job);
                    }
                }
                Err(e) => tracing::error!(error = %e, "requeueing expired jobs failed"),
            }
            tokio::time::sleep(self.config.lease / 2).await;
        }
    }

    async fn run(&self, mut job: Job, worker: &str) {
        // Keep the lease while a long model call runs.
        let heartbeat = {
            let (store, id, worker, lease) = (self.store.clone(), job.id, worker.to_owned(), self.config.lease);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    match store.extend_lease(id, &worker, Utc::now() + lease).await {
                        Ok(true) => {}
                        _ => break,
                    }
                }
            })
        };
        let outcome = self.process(&mut job, worker).await;
        heartbeat.abort();
        match outcome {
            Ok(()) => {}
            Err(Stop::LeaseLost) => {
                tracing::warn!(job = %job.id, "lost the job's lease; another worker goes on with it")
            }
            Err(Stop::Fatal(message)) => {
                tracing::warn!(job = %job.id, error = %message, "job failed");
                job.status = JobStatus::Failed;
                job.error_message = Some(message);
                job.completed_at = Some(Utc::now());
                job.updated_at = Utc::now();
                self.finish(&job, worker).await;
            }
        }
    }

    async fn finish(&self, job: &Job, worker: &str) {
        match self.store.finish_run(job, worker).await {
            Ok(Some(stored)) => publish_progress(&self.events, &stored),
            Ok(None) => tracing::warn!(job = %job.id, "the job was taken over before it finished"),
            Err(e) => tracing::error!(job = %job.id, error = %e, "storing a job's end failed"),
        }
    }

    async fn process(&self, job: &mut Job, worker: &str) -> Result<(), Stop> {
        let doc =
            self.store.document_by_id(job.document_id).await?.ok_or(Stop::Fatal("the document was deleted".into()))?;
        let model_id = job.llm_model_id.ok_or(Stop::Fatal("the job's model was deleted".into()))?;
        let model = self.store.model_by_id(model_id).await?.ok_or(Stop::Fatal("the job's model was deleted".into()))?;
        let config = match job.processing_config_id {
            Some(id) => self.store.config_by_id(id).await?,
            None => self.store.default_config().await?,
        }
        .ok_or(Stop::Fatal("the job's processing configuration was deleted".into()))?;
        let active: Vec<(EntityTypeId, String)> =
            self.store.entity_types().await?.into_iter().filter(|t| t.is_active).map(|t| (t.id, t.name)).collect();
        let types = types_to_extract(&config, &active);
        if types.is_empty() {
            return Err(Stop::Fatal("no active entity type to extract".into()));
        }
        let pieces = chunks(&doc.content, config.chunk_size, config.chunk_overlap);
        job.total_steps = pieces.len() as u32;
        let text = DocumentText::new(doc.content.as_str());
        let gazetteer =
            if model.provider == Provider::Builtin { Some(self.gazetteer(&doc, &types).await?) } else { None };
        let names: HashMap<String, EntityTypeId> = types.iter().map(|(id, n)| (n.clone(), *id)).collect();
        let endpoint = match model.provider {
            Provider::Builtin => None,
            _ => Some(Models { store: &self.store, cipher: &self.cipher }.endpoint(&model).await?),
        };
        for chunk in pieces.iter().skip(job.completed_steps as usize) {
            let found = match (&gazetteer, &endpoint) {
                (Some(g), _) => gazetteer_finds(chunk, g, config.confidence_threshold),
                (None, Some(endpoint)) => self.ask_model(job, &model, &config, endpoint, chunk, &names).await?,
                (None, None) => unreachable!("a model is either built in or has an endpoint"),
            };
            self.store_chunk(job, &doc, &text, &model, found).await?;
            job.completed_steps += 1;
            job.progress = Job::percent(job.completed_steps, job.total_steps);
            job.current_step = Some(format!("chunk {} of {}", job.completed_steps, job.total_steps));
            job.estimated_completion_at = job.estimate_completion(Utc::now());
            let now = Utc::now();
            let stored =
                self.store.save_progress(job, worker, now + self.config.lease).await?.ok_or(Stop::LeaseLost)?;
            publish_progress(&self.events, job);
            if stored.cancel_requested || stored.pause_requested {
                let finished = job.completed_steps == job.total_steps;
                if !finished {
                    job.status = if stored.cancel_requested { JobStatus::Cancelled } else { JobStatus::Paused };
                    job.cancel_requested = false;
                    job.pause_requested = false;
                    job.current_step = Some(format!(
                        "{} after chunk {} of {}",
                        if stored.cancel_requested { "cancelled" } else { "paused" },
                        job.completed_steps,
                        job.total_steps
                    ));
                    if job.status == JobStatus::Cancelled {
                        job.completed_at = Some(now);
                    }
                    job.updated_at = now;
                    self.finish(job, worker).await;
                    return Ok(());
                }
            }
        }
        job.status = JobStatus::Completed;
        job.progress = 100;
        job.current_step = Some(format!("done: {} entities in {} chunks", job.entities_found, job.total_steps));
        job.completed_at = Some(Utc::now());
        job.cancel_requested = false;
        job.pause_requested = false;
        job.updated_at = Utc::now();
        // Tokens and cost were summed by the store as calls were recorded.
        if let Some(stored) = self.store.job_by_id(job.id).await? {
            job.tokens_used = stored.tokens_used;
            job.cost = stored.cost;
        }
        self.finish(job, worker).await;
        Ok(())
    }

    /// The examples of the types to extract, every entity researchers verified in the project
    /// and the names of the knowledge base's approved entries (these two weigh more).
    async fn gazetteer(&self, doc: &Document, types: &[(EntityTypeId, String)]) -> DomainResult<Gazetteer> {
        let wanted: HashMap<EntityTypeId, ()> = types.iter().map(|(id, _)| (*id, ())).collect();
        let mut entries = Vec::new();
        for t in self.store.entity_types().await? {
            if wanted.contains_key(&t.id) {
                entries.extend(t.examples.into_iter().map(|text| GazetteerEntry {
                    text,
                    entity_type: t.id,
                    confidence: 0.6,
                }));
            }
        }
        for (text, entity_type) in self.store.verified_names(doc.project_id).await? {
            if wanted.contains_key(&entity_type) {
                entries.push(GazetteerEntry { text, entity_type, confidence: 0.9 });
            }
        }
        // The names and aliases of the knowledge base's approved entries.
        for (text, entity_type) in self.store.approved_names(doc.project_id).await? {
            if wanted.contains_key(&entity_type) {
                entries.push(GazetteerEntry { text, entity_type, confidence: 0.9 });
            }
        }
        Ok(Gazetteer::new(entries))
    }

    async fn store_chunk(
        &self,
        job: &mut Job,
        doc: &Document,
        text: &DocumentText,
        model: &LlmModel,
        found: ChunkYield,
    ) -> Result<(), Stop> {
        let by = job.created_by.or(doc.created_by).unwrap_or_default();
        let mut entities = Vec::with_capacity(found.placed.len());
        for p in &found.placed {
            let mut e = new_entity(doc, text, p.entity_type, (p.start, p.end), EntitySource::Llm, by)?;
            e.confidence = p.confidence;
            e.llm_model_id = Some(model.id);
            e.processing_job_id = Some(job.id);
            entities.push(e);
        }
        job.entities_dropped += found.unplaced.len() as u32;
        if entities.is_empty() {
            return Ok(());
        }
        let audit = AuditEntry::new(&RequestMeta::default(), job.created_by, "job.entities", "processing_job")
            .resource(job.id, &model.name)
            .project(job.project_id)
            .changes(json!({"documentId": doc.id, "suggested": entities.len()}));
        let inserted = self.store.insert_entities(doc.id, entities, OnDuplicate::Skip, audit).await?;
        job.entities_found += inserted.len() as u32;
        if !inserted.is_empty() {
            let ids: Vec<_> = inserted.iter().map(|e| e.id).collect();
            self.events.publish(DomainEvent::DocumentActivity(ActivityEvent::new(
                doc.id,
                ActivityKind::EntityCreated,
                &ids,
                None,
            )));
        }
        Ok(())
    }

    /// Asks the model about one chunk: retried on transient failures, repaired once when the
    /// answer is malformed. A chunk that still fails is recorded in the job's error details and
    /// skipped; a refused key (a 4xx) stops the job, as no chunk can succeed.
    async fn ask_model(
        &self,
        job: &mut Job,
        model: &LlmModel,
        config: &ProcessingConfig,
        endpoint: &ModelEndpoint,
        chunk: &Chunk,
        types: &HashMap<String, EntityTypeId>,
    ) -> Result<ChunkYield, Stop> {
        let mut names: Vec<&str> = types.keys().map(String::as_str).collect();
        names.sort();
        let request = CompletionRequest {
            system: config.system_prompt.clone(),
            user: config.user_prompt(&chunk.text, &names),
            max_tokens: config.max_tokens.min(model.max_tokens),
            temperature: model.temperature as f32,
            json_schema: Some(entities_json_schema(&names)),
        };
        let answer = match self.call_with_retries(job, model, endpoint, chunk, &request).await? {
            Ok(c) => c,
            Err(e) => return Ok(self.chunk_failed(job, chunk, &e.to_string())),
        };
        let parsed = match parse_suggestions(&answer.text, &names) {
            Ok(p) => p,
            Err(first) => {
                let repair = repair_request(&request, &answer.text, &first);
                match self.call_with_retries(job, model, endpoint, chunk, &repair).await? {
                    Ok(again) => match parse_suggestions(&again.text, &names) {
                        Ok(p) => p,
                        Err(e) => {
                            return Ok(self.chunk_failed(
                                job,
                                chunk,
                                &format!("malformed answer after a repair request: {e}"),
                            ));
                        }
                    },
                    Err(e) => return Ok(self.chunk_failed(job, chunk, &e.to_string())),
                }
            }
        };
        Ok(place_suggestions(chunk, &parsed.suggestions, types, config.confidence_threshold))
    }

    fn chunk_failed(&self, job: &mut Job, chunk: &Chunk, error: &str) -> ChunkYield {
        tracing::warn!(job = %job.id, chunk = chunk.index, error, "a chunk failed");
        let details = job.error_details.as_object_mut().expect("error details are an object");
        let failed = details.entry("chunks").or_insert_with(|| json!([]));
        if let Some(list) = failed.as_array_mut() {
            list.push(json!({"index": chunk.index, "start": chunk.start, "end": chunk.end, "error": error}));
        }
        ChunkYield::default()
    }

    /// One request, retried per the policy. Every attempt is recorded. `Err(Stop)` only when the
    /// job must stop; a call that finally failed is `Ok(Err(..))`.
    async fn call_with_retries(
        &self,
        job: &Job,
        model: &LlmModel,
        endpoint: &ModelEndpoint,
        chunk: &Chunk,
        request: &CompletionRequest,
    ) -> Result<Result<Completion, LlmError>, Stop> {
        let mut attempt = 1;
        loop {
            self.wait_for_rate_limit(model).await?;
            let started = Instant::now();
            let outcome = (self.call_model)(endpoint.clone(), request.clone()).await;
            let (prompt, completion) = outcome.as_ref().map_or((0, 0), |c| (c.prompt_tokens, c.completion_tokens));
            self.store
                .record_call(ModelCall {
                    job_id: Some(job.id),
                    llm_model_id: model.id,
                    project_id: Some(job.project_id),
                    user_id: job.created_by,
                    chunk_index: Some(chunk.index),
                    attempt,
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                    cost: model.cost(prompt, completion),
                    latency_ms: started.elapsed().as_millis() as u32,
                    error: outcome.as_ref().err().map(ToString::to_string),
                    at: Utc::now(),
                })
                .await?;
            match outcome {
                Ok(c) => return Ok(Ok(c)),
                Err(LlmError::Client { status, message }) => {
                    return Err(Stop::Fatal(format!("the model's provider refused the request ({status}): {message}")));
                }
                Err(e) => {
                    let jitter = rand::rng().random::<f64>();
                    match self.config.retry.delay(attempt, &e, jitter) {
                        Some(wait) => {
                            tracing::info!(job = %job.id, attempt, ?wait, error = %e, "retrying a model call");
                            tokio::time::sleep(wait).await;
                            attempt += 1;
                        }
                        None => return Ok(Err(e)),
                    }
                }
            }
        }
    }

    /// Waits while the model is over its calls-per-minute or per-hour limit (counted from the
    /// recorded calls, so every replica shares the limit).
    async fn wait_for_rate_limit(&self, model: &LlmModel) -> Result<(), Stop> {
        loop {
            let now = Utc::now();
            let minute = match model.rate_limit_per_minute {
                Some(limit) => {
                    self.store.calls_since(model.id, now - chrono::Duration::minutes(1)).await? >= u64::from(limit)
                }
                None => false,
            };
            let hour = match model.rate_limit_per_hour {
                Some(limit) => {
                    self.store.calls_since(model.id, now - chrono::Duration::hours(1)).await? >= u64::from(limit)
                }
                None => false,
            };
            if !minute && !hour {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(if hour { 10_000 } else { 1_000 })).await;
        }
    }
}
