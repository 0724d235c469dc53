//! Asking a model about one chunk: the call waits for a slot under the model's rate limits
//! (reserved atomically in the store, so every worker of every replica shares the limits),
//! is retried with backoff and jitter on transient failures (`llm::retry`), repaired once
//! when the answer is malformed, and every attempt is recorded (tokens, cost, latency, error).

use std::collections::HashMap;
use std::time::Duration;

use super::handler::{JobEnv, RunNote};
use super::run::{JobRun, Stop};
use super::{ChunkYield, place_suggestions};
use crate::ids::EntityTypeId;
use crate::llm::model::{LlmModel, ProcessingConfig, Reservation};
use crate::llm::output::{entities_json_schema, parse_suggestions, repair_request};
use crate::llm::retry::RetryPolicy;
use crate::llm::{Completion, CompletionRequest, LlmClient, LlmError, ModelEndpoint};
use crate::ports::{Clock, ExtractionStore, ModelCall};
use crate::text::chunk::Chunk;

/// The longest single wait for a rate-limit slot; the reservation is then tried again.
const MAX_RATE_WAIT: Duration = Duration::from_secs(10);

/// A number in `[0, 1)` for retry jitter.
pub(crate) fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

/// Waits until the model's rate limits let one more call through, and reserves it.
pub(crate) async fn reserve_slot<V>(run: &JobRun<'_, V>, model: &LlmModel) -> Result<(), Stop>
where
    V: JobEnv,
    V::Store: ExtractionStore,
{
    let windows = model.call_windows();
    if windows.is_empty() {
        return Ok(());
    }
    let store = run.env().store();
    let clock = run.env().clock();
    loop {
        let now = clock.now();
        let answer = run.retrying("reserving a model call", || store.reserve_call(model.id, &windows, now)).await?;
        match answer {
            Reservation::Granted => return Ok(()),
            Reservation::WaitUntil(until) => {
                run.note(RunNote::RateLimited { until });
                let wait = (until - clock.now()).to_std().unwrap_or(Duration::from_millis(10));
                clock.sleep(wait.clamp(Duration::from_millis(10), MAX_RATE_WAIT)).await;
            }
        }
    }
}

/// What asking about a chunk came to.
pub(crate) enum Asked {
    Placed(ChunkYield),
    /// The chunk failed (after retries, or a repair); the job goes on without it.
    Failed(String),
}

/// Asks the model about one chunk: retried on transient failures, repaired once when the
/// answer is malformed. A refused key (a 4xx) stops the job, as no chunk can succeed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn ask_chunk<V, L>(
    run: &JobRun<'_, V>,
    llm: &L,
    retry: RetryPolicy,
    model: &LlmModel,
    config: &ProcessingConfig,
    endpoint: &ModelEndpoint,
    chunk: &Chunk,
    types: &HashMap<String, EntityTypeId>,
) -> Result<Asked, Stop>
where
    V: JobEnv,
    V::Store: ExtractionStore,
    L: LlmClient,
{
    let mut names: Vec<&str> = types.keys().map(String::as_str).collect();
    names.sort();
    let request = CompletionRequest {
        system: config.system_prompt.clone(),
        user: config.user_prompt(&chunk.text, &names),
        max_tokens: config.max_tokens.min(model.max_tokens),
        temperature: model.temperature as f32,
        json_schema: Some(entities_json_schema(&names)),
    };
    let call = Call { run, llm, retry, model, endpoint, chunk };
    let answer = match call.with_retries(&request).await? {
        Ok(c) => c,
        Err(e) => return Ok(Asked::Failed(e.to_string())),
    };
    let parsed = match parse_suggestions(&answer.text, &names) {
        Ok(p) => p,
        Err(first) => {
            let repair = repair_request(&request, &answer.text, &first);
            match call.with_retries(&repair).await? {
                Ok(again) => match parse_suggestions(&again.text, &names) {
                    Ok(p) => p,
                    Err(e) => return Ok(Asked::Failed(format!("malformed answer after a repair request: {e}"))),
                },
                Err(e) => return Ok(Asked::Failed(e.to_string())),
            }
        }
    };
    Ok(Asked::Placed(place_suggestions(chunk, &parsed.suggestions, types, config.confidence_threshold)))
}

/// One model request of a run, made as every kind makes them (also used by LINKING).
pub(crate) struct Call<'c, 'e, V: JobEnv, L> {
    pub(crate) run: &'c JobRun<'e, V>,
    pub(crate) llm: &'c L,
    pub(crate) retry: RetryPolicy,
    pub(crate) model: &'c LlmModel,
    pub(crate) endpoint: &'c ModelEndpoint,
    /// The step, for the recorded call's `chunk_index`.
    pub(crate) chunk: &'c Chunk,
}

impl<V, L> Call<'_, '_, V, L>
where
    V: JobEnv,
    V::Store: ExtractionStore,
    L: LlmClient,
{
    /// One request, retried per the policy, each attempt recorded. `Err(Stop)` only when the
    /// job must stop; a call that finally failed is `Ok(Err(..))`.
    pub(crate) async fn with_retries(&self, request: &CompletionRequest) -> Result<Result<Completion, LlmError>, Stop> {
        let (run, model) = (self.run, self.model);
        let clock = run.env().clock();
        let job = run.job();
        let mut attempt = 1;
        loop {
            reserve_slot(run, model).await?;
            let started = clock.now();
            let outcome = self.llm.complete(self.endpoint, request).await;
            let latency = (clock.now() - started).num_milliseconds().max(0) as u32;
            let (prompt, completion) = outcome.as_ref().map_or((0, 0), |c| (c.prompt_tokens, c.completion_tokens));
            let call = ModelCall {
                job_id: Some(job.id),
                llm_model_id: model.id,
                project_id: Some(job.project_id),
                user_id: job.created_by,
                chunk_index: Some(self.chunk.index),
                attempt,
                prompt_tokens: prompt,
                completion_tokens: completion,
                cost: model.cost(prompt, completion),
                latency_ms: latency,
                error: outcome.as_ref().err().map(ToString::to_string),
                at: clock.now(),
            };
            retry_record(run, call).await?;
            match outcome {
                Ok(c) => return Ok(Ok(c)),
                Err(LlmError::Client { status, message }) => {
                    return Err(Stop::Failed(format!(
                        "the model's provider refused the request ({status}): {message}"
                    )));
                }
                Err(e) => match self.retry.delay(attempt, &e, jitter()) {
                    Some(wait) => {
                        run.note(RunNote::ModelRetry { chunk: self.chunk.index, attempt, wait, error: e.to_string() });
                        clock.sleep(wait).await;
                        attempt += 1;
                    }
                    None => return Ok(Err(e)),
                },
            }
        }
    }
}

pub(crate) async fn retry_record<V>(run: &JobRun<'_, V>, call: ModelCall) -> Result<(), Stop>
where
    V: JobEnv,
    V::Store: ExtractionStore,
{
    let store = run.env().store();
    run.retrying("recording a model call", || store.record_call(call.clone())).await
}
