//! The EMBEDDING handler: vectors for a project's chunks (`search::semantic`) under its
//! embedding model, for the chunks that have none yet (new, or changed since: a changed text
//! has a new content hash), [`EMBED_BATCH`] per model call.
//!
//! Each batch is one step: its call waits for a slot under the model's rate limits, is retried
//! with backoff on transient failures (`llm::retry`), every attempt recorded (tokens and cost on
//! the job, `usage`), and its vectors are stored with the job's progress in one fenced
//! transaction (`EmbeddingStore::store_vectors`). A batch that still fails is counted
//! (`checkpoint.failed`, `errorDetails`) and the job goes on; its chunks stay missing, for the
//! next job. A refused key (a 4xx) fails the job, as no batch can succeed. At the end, vectors
//! whose text no passage holds any more are deleted. The checkpoint (`{"embedded", "failed"}`)
//! carries the counts over a pause; a run taken up again asks the store for what is still
//! missing, so nothing is embedded twice.
//!
//! The built-in model embeds in process (`llm::embed::builtin_embedding`), without calls.

use serde_json::{Value, json};

use super::handler::{BoxFuture, JobEnv, JobHandler, RunNote};
use super::model_calls::{jitter, reserve_slot, retry_record};
use super::run::{Done, JobRun, Stop, StopContext};
use crate::error::{DomainError, DomainResult};
use crate::job::{Job, JobKind, JobTarget};
use crate::llm::embed::{EmbeddingClient, builtin_embedding};
use crate::llm::model::LlmModel;
use crate::llm::retry::RetryPolicy;
use crate::llm::{LlmError, ModelEndpoint, Provider};
use crate::ports::{ChunkToEmbed, Clock, EmbeddingStore, ExtractionStore, ModelCall, SecretCipher};
use crate::search::semantic::{EMBED_BATCH, MAX_DIMENSIONS, embeds};
use crate::service::models::model_endpoint;

/// Most chunks one job embeds (the rest wait for the next job).
pub const MAX_CHUNKS_PER_JOB: usize = 1_000_000;

/// Runs EMBEDDING jobs with an embedding client and the cipher of stored keys.
pub struct Embedding<E, K> {
    pub client: E,
    pub cipher: K,
    pub retry: RetryPolicy,
}

impl<V, E, K> JobHandler<V> for Embedding<E, K>
where
    V: JobEnv,
    V::Store: EmbeddingStore,
    E: EmbeddingClient + 'static,
    K: SecretCipher + Send + Sync + 'static,
{
    fn kind(&self) -> JobKind {
        JobKind::Embedding
    }

    fn check(&self, target: JobTarget, params: &Value) -> DomainResult<()> {
        if target != JobTarget::Project {
            return Err(DomainError::invalid(
                "projectId",
                "an EMBEDDING job embeds its project's chunks: give projectId only",
            ));
        }
        if params.as_object().is_some_and(|p| !p.is_empty()) {
            return Err(DomainError::invalid("params", "an EMBEDDING job takes no params"));
        }
        Ok(())
    }

    fn run<'a, 'e: 'a>(&'a self, run: &'a mut JobRun<'e, V>) -> BoxFuture<'a, Result<Done, Stop>> {
        Box::pin(self.embed_project(run))
    }
}

/// Checks a model's vectors for a batch: one per chunk, one dimension, finite, not too long.
fn checked(vectors: Vec<Vec<f32>>, chunks: usize) -> Result<Vec<Vec<f32>>, String> {
    if vectors.len() != chunks {
        return Err(format!("{} vectors for {chunks} chunks", vectors.len()));
    }
    let dims = vectors.first().map_or(0, Vec::len);
    if dims == 0 || dims > MAX_DIMENSIONS {
        return Err(format!("vectors of {dims} dimensions (1 to {MAX_DIMENSIONS} are taken)"));
    }
    if vectors.iter().any(|v| v.len() != dims || v.iter().any(|x| !x.is_finite())) {
        return Err("vectors of different lengths, or with values that are not numbers".into());
    }
    Ok(vectors)
}

impl<E, K> Embedding<E, K>
where
    E: EmbeddingClient,
    K: SecretCipher + Send + Sync,
{
    async fn embed_project<V>(&self, run: &mut JobRun<'_, V>) -> Result<Done, Stop>
    where
        V: JobEnv,
        V::Store: EmbeddingStore,
    {
        let store = run.env().store();
        let project = run.job().project_id;
        let model_id = run
            .retrying("reading the project's embedding model", || store.embedding_model(project))
            .await?
            .ok_or_else(|| Stop::Failed("the project has no embedding model: set one with setEmbeddingModel".into()))?;
        let model = run
            .retrying("reading the embedding model", || store.model(model_id))
            .await?
            .ok_or_else(|| Stop::Failed("the project's embedding model was deleted".into()))?;
        if !embeds(model.provider) {
            return Err(Stop::Failed(format!("{} serves no embeddings", model.provider.as_str())));
        }
        let endpoint = match model.provider {
            Provider::Builtin => None,
            _ => {
                let sealed = run.retrying("reading the model's key", || store.model_key(model.id)).await?;
                let key =
                    sealed.map(|s: String| self.cipher.decrypt(&s)).transpose().doing("decrypting the model's key")?;
                Some(model_endpoint(&model, key))
            }
        };
        let chunks = run
            .retrying("listing the chunks to embed", || store.chunks_to_embed(project, model.id, MAX_CHUNKS_PER_JOB))
            .await?;
        let count = |key: &str| run.job().checkpoint.get(key).and_then(Value::as_u64).unwrap_or(0);
        let (mut embedded, mut failed) = (count("embedded"), count("failed"));
        let batches: Vec<&[ChunkToEmbed]> = chunks.chunks(EMBED_BATCH).collect();
        let total = batches.len() as u32;
        {
            let job = run.job_mut();
            job.total_steps = total;
            job.completed_steps = 0;
            job.current_step = Some(format!("{} chunks to embed", chunks.len()));
        }
        run.save_progress().await?;
        let mut last_error = None;
        for (step, batch) in batches.iter().enumerate() {
            run.go_on()?;
            let texts: Vec<String> = batch.iter().map(|c| c.text.clone()).collect();
            let outcome = match &endpoint {
                None => Ok(texts.iter().map(|t| builtin_embedding(t)).collect()),
                Some(endpoint) => self.call(run, &model, endpoint, step as u32, &texts).await?,
            };
            let vectors = match outcome.map_err(|e| e.to_string()).and_then(|v| checked(v, batch.len())) {
                Ok(vectors) => {
                    embedded += batch.len() as u64;
                    batch.iter().map(|c| c.hash.clone()).zip(vectors).collect()
                }
                Err(error) => {
                    run.note(RunNote::StepFailed { step: step as u32, error: error.clone() });
                    failed += batch.len() as u64;
                    last_error = Some(error);
                    Vec::new()
                }
            };
            let job = run.job_mut();
            job.completed_steps = step as u32 + 1;
            job.progress = Job::percent(step as u32 + 1, total);
            job.current_step = Some(format!("batch {} of {total}", step + 1));
            job.checkpoint = json!({"embedded": embedded, "failed": failed});
            if let Some(error) = &last_error {
                job.error_details = json!({"failedChunks": failed, "lastError": error});
            }
            run.commit("storing the vectors", |fence| {
                let vectors = vectors.clone();
                async move { store.store_vectors(&fence, project, model.id, vectors).await.map(|j| j.map(|j| (j, ()))) }
            })
            .await?;
        }
        let pruned = run.retrying("removing stale vectors", || store.prune_vectors(project, model.id)).await?;
        if failed > 0 && embedded == 0 {
            return Err(Stop::Failed(format!(
                "no chunk could be embedded ({failed} failed): {}",
                last_error.unwrap_or_default()
            )));
        }
        Ok(Done {
            summary: format!("done: {embedded} chunks embedded, {failed} failed, {pruned} stale vectors removed"),
        })
    }

    /// One batch's call, retried per the policy, each attempt recorded. `Err(Stop)` only when
    /// the job must stop; a call that finally failed is `Ok(Err(..))`.
    async fn call<V>(
        &self,
        run: &JobRun<'_, V>,
        model: &LlmModel,
        endpoint: &ModelEndpoint,
        step: u32,
        texts: &[String],
    ) -> Result<Result<Vec<Vec<f32>>, LlmError>, Stop>
    where
        V: JobEnv,
        V::Store: EmbeddingStore,
    {
        let clock = run.env().clock();
        let job = run.job();
        let mut attempt = 1;
        loop {
            reserve_slot(run, model).await?;
            let started = clock.now();
            let outcome = self.client.embed(endpoint, texts).await;
            let latency = (clock.now() - started).num_milliseconds().max(0) as u32;
            let prompt = outcome.as_ref().map_or(0, |e| e.prompt_tokens);
            let call = ModelCall {
                job_id: Some(job.id),
                llm_model_id: model.id,
                project_id: Some(job.project_id),
                user_id: job.created_by,
                chunk_index: Some(step),
                attempt,
                prompt_tokens: prompt,
                completion_tokens: 0,
                cost: model.cost(prompt, 0),
                latency_ms: latency,
                error: outcome.as_ref().err().map(ToString::to_string),
                at: clock.now(),
            };
            retry_record(run, call).await?;
            match outcome {
                Ok(e) => return Ok(Ok(e.vectors)),
                Err(LlmError::Client { status, message }) => {
                    return Err(Stop::Failed(format!(
                        "the model's provider refused the request ({status}): {message}"
                    )));
                }
                Err(e) => match self.retry.delay(attempt, &e, jitter()) {
                    Some(wait) => {
                        run.note(RunNote::ModelRetry { chunk: step, attempt, wait, error: e.to_string() });
                        clock.sleep(wait).await;
                        attempt += 1;
                    }
                    None => return Ok(Err(e)),
                },
            }
        }
    }
}
