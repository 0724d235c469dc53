//! The EXTRACTION handler: suggestions of entities in one document, chunk by chunk, from a
//! model (or the built-in extractor: the project's learned model once it has one, the tagger
//! taking the gazetteer's names, the types' examples and every verified entity, as features;
//! the gazetteer alone before), stored as unverified LLM suggestions.
//!
//! The job records the document version its chunks were cut from (`document_version`) and,
//! in its checkpoint, the offset up to which that version is processed (`{"offset": n}`, the
//! end of the last stored chunk). Content edits while the job runs or waits are followed:
//! - a chunk's entities are stored with the version they were placed in; when the document
//!   is at a newer version by then, the store carries them through the diff to the current
//!   text, dropping those whose own text the edit changed (`rebase_suggestions`), so every
//!   stored entity has `content[start..end] == text`;
//! - the run then goes on in the current text: the processed offset is carried through the
//!   same diff (`Remap::map_offset`), the current text is cut into chunks again, and the run
//!   goes on with the first chunk reaching past that offset. A run taken up after a crash or a
//!   pause does the same from its checkpoint, so it never skips chunks of a text it did not
//!   read, and a text processed twice stores nothing twice (a span and type already stored
//!   is skipped).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::handler::{BoxFuture, JobEnv, JobHandler, RunNote};
use super::model_calls::{Asked, ask_chunk};
use super::run::{Done, JobRun, Stop, StopContext};
use super::{ChunkYield, gazetteer_finds, merge_overlapping};
use crate::audit::{AuditEntry, RequestMeta};
use crate::document::Document;
use crate::entity::EntitySource;
use crate::error::{DomainError, DomainResult};
use crate::events::{ActivityEvent, ActivityKind, DomainEvent, EventPublisher};
use crate::extract::{Gazetteer, GazetteerEntry};
use crate::ids::EntityTypeId;
use crate::job::{Job, JobKind, JobTarget};
use crate::learn::model::TagNames;
use crate::learn::{Name, Tagger};
use crate::llm::model::{LlmModel, ProcessingConfig};
use crate::llm::retry::RetryPolicy;
use crate::llm::{LlmClient, ModelEndpoint, Provider};
use crate::ports::{ExtractionStore, LearningRunStore, SecretCipher, SuggestionBatch};
use crate::service::entities::new_entity;
use crate::service::models::{model_endpoint, types_to_extract};
use crate::text::chunk::{Chunk, chunks_with};
use crate::text::{DocumentText, Remap};

/// Confidence of a type's example in the built-in gazetteer.
pub const EXAMPLE_CONFIDENCE: f64 = 0.6;
/// Confidence of an entity researchers verified, in the built-in gazetteer: it weighs more.
pub const VERIFIED_CONFIDENCE: f64 = 0.9;

/// Runs EXTRACTION jobs with a model client and the cipher of stored keys.
pub struct Extraction<L, K> {
    pub llm: L,
    pub cipher: K,
    pub retry: RetryPolicy,
    /// How often the built-in extractor, which needs no model call, stores what it found: the
    /// chunks read since the last store go in one transaction once this much time has passed
    /// (and at the end), so a long document is not one transaction per chunk. A model's
    /// chunk is always stored as soon as it is answered. Zero: after every chunk.
    pub builtin_store_every: std::time::Duration,
}

/// [`Extraction::builtin_store_every`] of a server.
pub const BUILTIN_STORE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl<L, K> Extraction<L, K> {
    /// The handler with the default retry policy and store interval.
    pub fn new(llm: L, cipher: K) -> Self {
        Self { llm, cipher, retry: RetryPolicy::default(), builtin_store_every: BUILTIN_STORE_EVERY }
    }
}

impl<V, L, K> JobHandler<V> for Extraction<L, K>
where
    V: JobEnv,
    V::Store: ExtractionStore + LearningRunStore,
    L: LlmClient + 'static,
    K: SecretCipher + Send + Sync + 'static,
{
    fn kind(&self) -> JobKind {
        JobKind::Extraction
    }

    fn check(&self, target: JobTarget, params: &Value) -> DomainResult<()> {
        if target.document().is_none() {
            return Err(DomainError::invalid("documentId", "an EXTRACTION job works on a document: give its id"));
        }
        if params.as_object().is_some_and(|p| !p.is_empty()) {
            return Err(DomainError::invalid("params", "an EXTRACTION job takes no params"));
        }
        Ok(())
    }

    fn run<'a, 'e: 'a>(&'a self, run: &'a mut JobRun<'e, V>) -> BoxFuture<'a, Result<Done, Stop>> {
        Box::pin(self.extract(run))
    }
}

/// Where the model's suggestions come from.
enum Source {
    Gazetteer(Gazetteer),
    /// The project's learned model: the tagger, with the gazetteer's names as its features.
    Learned {
        tagger: Box<Tagger>,
        names: TagNames,
        /// The knowledge base's approved names and aliases: researchers vouched for them, so
        /// they are found wherever the tagger does not find something there already.
        approved: Gazetteer,
    },
    Model(ModelEndpoint),
}

/// The chunks of one version of the document, and where the run stands in them.
struct Plan {
    document: Document,
    text: Arc<str>,
    indexed: DocumentText,
    chunks: Vec<Chunk>,
    /// The next chunk to process.
    next: usize,
}

impl Plan {
    /// The chunks of `document`'s current text, going on after `offset` of it.
    fn new(document: Document, offset: u32, config: &ProcessingConfig) -> Self {
        let text: Arc<str> = Arc::from(document.content.as_str());
        let indexed = DocumentText::new(document.content.as_str());
        let chunks = chunks_with(indexed.text(), indexed.offsets(), config.chunk_size, config.chunk_overlap);
        let next = chunks.iter().position(|c| c.end > offset).unwrap_or(chunks.len());
        Self { document, text, indexed, chunks, next }
    }

    fn version(&self) -> u32 {
        self.document.current_version
    }
}

/// The processed offset in a job's checkpoint.
fn checkpoint_offset(job: &Job) -> u32 {
    job.checkpoint.get("offset").and_then(Value::as_u64).map_or(0, |o| o as u32)
}

impl<L, K> Extraction<L, K>
where
    L: LlmClient,
    K: SecretCipher + Send + Sync,
{
    async fn extract<V>(&self, run: &mut JobRun<'_, V>) -> Result<Done, Stop>
    where
        V: JobEnv,
        V::Store: ExtractionStore + LearningRunStore,
    {
        let store = run.env().store();
        let job = run.job().clone();
        let doc_id = job.document_id().ok_or_else(|| Stop::Failed("an extraction job needs a document".into()))?;
        let model_id = job.llm_model_id.ok_or_else(|| Stop::Failed("the job's model was deleted".into()))?;
        let model = run
            .retrying("reading the job's model", || store.model(model_id))
            .await?
            .ok_or_else(|| Stop::Failed("the job's model was deleted".into()))?;
        let config_id = job.processing_config_id;
        let config = run
            .retrying("reading the processing configuration", || store.config(config_id))
            .await?
            .ok_or_else(|| Stop::Failed("the job's processing configuration was deleted".into()))?;
        let all_types = run.retrying("reading the entity types", || store.entity_types()).await?;
        let active: Vec<(EntityTypeId, String)> =
            all_types.iter().filter(|t| t.is_active).map(|t| (t.id, t.name.clone())).collect();
        let types = types_to_extract(&config, &active);
        if types.is_empty() {
            return Err(Stop::Failed("no active entity type to extract".into()));
        }
        let names: HashMap<String, EntityTypeId> = types.iter().map(|(id, n)| (n.clone(), *id)).collect();
        let source = match model.provider {
            Provider::Builtin => {
                let mut verified = run
                    .retrying("reading the project's verified entities", || store.verified_names(job.project_id))
                    .await?;
                let learned =
                    run.retrying("reading the project's learned model", || store.learned_model(job.project_id)).await?;
                match learned.map(|m| Tagger::from_bytes(&m.bytes)) {
                    Some(Ok(tagger)) => {
                        let approved = run
                            .retrying("reading the knowledge base's approved names", || {
                                store.approved_names(job.project_id)
                            })
                            .await?;
                        // The reference names, from the types and approved names read here.
                        let names: Vec<Name> =
                            crate::learn::names::reference_names(&all_types, approved.iter().cloned())
                                .into_iter()
                                .map(|(text, t)| Name::reference(text, t.to_string()))
                                .chain(verified.into_iter().map(|(text, t)| Name::gold(text, t.to_string())))
                                .collect();
                        let names = tagger.names(&names);
                        // No examples: the approved names alone, as verified entities weigh.
                        let approved = gazetteer(&[], &types, approved);
                        Source::Learned { tagger: Box::new(tagger), names, approved }
                    }
                    // No model, or one stored in a format this server does not read: the gazetteer,
                    // where the knowledge base's approved entries weigh as much as verified entities.
                    _ => {
                        verified.extend(
                            run.retrying("reading the knowledge base's approved names", || {
                                store.approved_names(job.project_id)
                            })
                            .await?,
                        );
                        Source::Gazetteer(gazetteer(&all_types, &types, verified))
                    }
                }
            }
            _ => Source::Model(self.endpoint(run, &model).await?),
        };
        // The layer is decided once per run: a mode switched while the job runs applies to the
        // next job.
        let mode =
            run.retrying("reading the project's annotation mode", || store.annotation_mode(job.project_id)).await?;
        let layer = crate::rounds::suggestions_layer(mode, model.id);
        let mut plan = self.resume(run, doc_id, &config).await?;
        {
            let job = run.job_mut();
            job.total_steps = plan.chunks.len() as u32;
            job.completed_steps = plan.next as u32;
            job.document_version = Some(plan.version());
        }
        let store_every = chrono::Duration::from_std(self.builtin_store_every).unwrap_or_default();
        let mut pending = Vec::new();
        let mut last_store = run.now();
        while plan.next < plan.chunks.len() {
            run.go_on()?;
            let chunk = &plan.chunks[plan.next];
            let found = match &source {
                Source::Gazetteer(g) => gazetteer_finds(chunk, g, config.confidence_threshold),
                Source::Learned { tagger, names, approved } => {
                    tagger_finds(chunk, tagger, names, approved, &types, config.confidence_threshold)
                }
                Source::Model(endpoint) => {
                    match ask_chunk(run, &self.llm, self.retry, &model, &config, endpoint, chunk, &names).await? {
                        Asked::Placed(y) => y,
                        Asked::Failed(error) => {
                            chunk_failed(run, chunk, &error);
                            ChunkYield::default()
                        }
                    }
                }
            };
            let chunk_end = chunk.end;
            let placed =
                if config.post_processing.merge_overlapping { merge_overlapping(found.placed) } else { found.placed };
            let by = job.created_by.or(plan.document.created_by).unwrap_or_default();
            for p in &placed {
                let mut e =
                    new_entity(&plan.document, &plan.indexed, p.entity_type, (p.start, p.end), EntitySource::Llm, by)
                        .doing("placing the chunk's entities")?;
                e.layer = layer;
                e.confidence = p.confidence;
                e.llm_model_id = Some(model.id);
                e.processing_job_id = Some(job.id);
                pending.push(e);
            }
            let now = run.now();
            {
                let version = plan.version();
                let total = plan.chunks.len() as u32;
                let done = plan.next as u32 + 1;
                let job = run.job_mut();
                job.entities_dropped += found.unplaced.len() as u32;
                job.total_steps = total;
                job.completed_steps = done;
                job.progress = job.progress.max(Job::percent(done, total));
                job.current_step = Some(format!("chunk {done} of {total}"));
                job.document_version = Some(version);
                job.checkpoint = json!({"offset": chunk_end});
                job.estimated_completion_at = job.estimate_completion(now);
            }
            plan.next += 1;
            let last = plan.next == plan.chunks.len();
            let due = last || matches!(source, Source::Model(_)) || now - last_store >= store_every;
            if !due {
                continue;
            }
            last_store = now;
            if pending.is_empty() {
                run.save_progress().await?;
                continue;
            }
            let entities = std::mem::take(&mut pending);
            let batch = SuggestionBatch {
                document: doc_id,
                version: plan.version(),
                text: plan.text.clone(),
                audit: AuditEntry::new(&RequestMeta::default(), job.created_by, "job.entities", "processing_job")
                    .resource(job.id, &model.name)
                    .project(job.project_id)
                    .changes(json!({"documentId": doc_id, "suggested": entities.len(), "version": plan.version()})),
                entities,
            };
            let stored = run
                .commit("storing the chunk's entities", |fence| {
                    let batch = batch.clone();
                    async move { Ok(store.store_suggestions(&fence, batch).await?.map(|s| (s.job.clone(), s))) }
                })
                .await?;
            if !stored.inserted.is_empty() {
                let created =
                    ActivityEvent::new(doc_id, ActivityKind::EntityCreated, &stored.inserted, None).in_layer(layer);
                run.env().events().publish(DomainEvent::DocumentActivity(created));
            }
            if stored.current_version != plan.version() {
                // The document changed under the job: go on in its current text.
                run.note(RunNote::DocumentChanged { from: plan.version(), to: stored.current_version });
                plan = self.follow_edit(run, plan, chunk_end, &config).await?;
                let (total, next, version) = (plan.chunks.len() as u32, plan.next as u32, plan.version());
                let job = run.job_mut();
                job.total_steps = total;
                job.completed_steps = next;
                job.document_version = Some(version);
            }
        }
        let job = run.job();
        Ok(Done { summary: format!("done: {} entities in {} chunks", job.entities_found, job.total_steps) })
    }

    /// The endpoint to call a model, with its key decrypted in memory.
    async fn endpoint<V>(&self, run: &JobRun<'_, V>, model: &LlmModel) -> Result<ModelEndpoint, Stop>
    where
        V: JobEnv,
        V::Store: ExtractionStore,
    {
        let store = run.env().store();
        let sealed = run.retrying("reading the model's key", || store.model_key(model.id)).await?;
        let key = sealed.map(|s| self.cipher.decrypt(&s)).transpose().doing("decrypting the model's key")?;
        Ok(model_endpoint(model, key))
    }

    /// Where a claimed job goes on: its checkpoint's offset in the version it recorded,
    /// carried to the current text when the document changed since.
    async fn resume<V>(
        &self,
        run: &JobRun<'_, V>,
        doc_id: crate::ids::DocumentId,
        config: &ProcessingConfig,
    ) -> Result<Plan, Stop>
    where
        V: JobEnv,
        V::Store: ExtractionStore,
    {
        let store = run.env().store();
        let doc = run
            .retrying("reading the document", || store.document(doc_id))
            .await?
            .ok_or_else(|| Stop::Failed("the document was deleted".into()))?;
        let job = run.job();
        let offset = match job.document_version {
            None => 0,
            Some(v) if v == doc.current_version => checkpoint_offset(job),
            Some(v) => {
                let old = run
                    .retrying("reading an older version of the document", || store.document_text_at(doc_id, v))
                    .await?;
                run.note(RunNote::DocumentChanged { from: v, to: doc.current_version });
                match old {
                    Some(old) => Remap::new(&old, &doc.content).map_offset(checkpoint_offset(job)),
                    None => 0,
                }
            }
        };
        Ok(Plan::new(doc, offset, config))
    }

    /// The plan in the document's current text, after an edit, going on from `offset` of
    /// the old plan's text.
    async fn follow_edit<V>(
        &self,
        run: &JobRun<'_, V>,
        old: Plan,
        offset: u32,
        config: &ProcessingConfig,
    ) -> Result<Plan, Stop>
    where
        V: JobEnv,
        V::Store: ExtractionStore,
    {
        let store = run.env().store();
        let id = old.document.id;
        let doc = run
            .retrying("reading the document", || store.document(id))
            .await?
            .ok_or_else(|| Stop::Failed("the document was deleted".into()))?;
        let offset = Remap::new(&old.text, &doc.content).map_offset(offset);
        Ok(Plan::new(doc, offset, config))
    }
}

/// The learned model's finds in `chunk`, of the types to extract, at or over the threshold,
/// and the approved knowledge-base names it did not find (where it found nothing overlapping).
fn tagger_finds(
    chunk: &Chunk,
    tagger: &Tagger,
    names: &TagNames,
    approved: &Gazetteer,
    types: &[(EntityTypeId, String)],
    threshold: f64,
) -> ChunkYield {
    let mut out = ChunkYield::default();
    let vouched = gazetteer_finds(chunk, approved, threshold);
    for t in tagger.tag(&chunk.text, names) {
        let Some(&(entity_type, _)) = types.iter().find(|(id, _)| id.to_string() == t.label) else { continue };
        if t.confidence < threshold {
            out.below_threshold += 1;
            continue;
        }
        out.placed.push(super::Placed {
            start: chunk.start + t.start,
            end: chunk.start + t.end,
            entity_type,
            confidence: Some(t.confidence),
        });
    }
    let tagged = out.placed.len();
    for v in vouched.placed {
        if !out.placed[..tagged].iter().any(|p| p.start < v.end && v.start < p.end) {
            out.placed.push(v);
        }
    }
    out.below_threshold += vouched.below_threshold;
    out
}

/// Records a failed chunk in the job's error details; the job goes on.
fn chunk_failed<V: JobEnv>(run: &mut JobRun<'_, V>, chunk: &Chunk, error: &str) {
    run.note(RunNote::StepFailed { step: chunk.index, error: error.to_owned() });
    let job = run.job_mut();
    if !job.error_details.is_object() {
        job.error_details = json!({});
    }
    let details = job.error_details.as_object_mut().expect("made an object above");
    let failed = details.entry("chunks").or_insert_with(|| json!([]));
    if !failed.is_array() {
        *failed = json!([]);
    }
    if let Some(list) = failed.as_array_mut() {
        list.push(json!({"index": chunk.index, "start": chunk.start, "end": chunk.end, "error": error}));
    }
}

/// The built-in gazetteer: the examples of the types to extract, and every entity researchers
/// verified in the project, which weigh more.
fn gazetteer(
    all_types: &[crate::entity_type::EntityType],
    types: &[(EntityTypeId, String)],
    verified: Vec<(String, EntityTypeId)>,
) -> Gazetteer {
    let wanted: std::collections::HashSet<EntityTypeId> = types.iter().map(|(id, _)| *id).collect();
    let mut entries = Vec::new();
    for t in all_types.iter().filter(|t| wanted.contains(&t.id)) {
        entries.extend(t.examples.iter().map(|text| GazetteerEntry {
            text: text.clone(),
            entity_type: t.id,
            confidence: EXAMPLE_CONFIDENCE,
        }));
    }
    for (text, entity_type) in verified {
        if wanted.contains(&entity_type) {
            entries.push(GazetteerEntry { text, entity_type, confidence: VERIFIED_CONFIDENCE });
        }
    }
    Gazetteer::new(entries)
}
