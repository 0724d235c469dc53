//! The LINKING handler: proposals for a project's knowledge base, document by document, then
//! merges. For each document (oldest first; those of `params.documentIds` only, when given) it
//! takes the unlinked mentions and proposes links, new entries and new aliases; a last step
//! proposes merges of entries of one type that share a name under folding. Each step's
//! proposals are stored with the job's progress in one fenced transaction
//! (`LinkingStore::store_proposals`), and the checkpoint (`{"step": n, "dropped": d}`) says
//! where a run taken up again goes on; a proposal made before is not made twice.
//!
//! With the built-in model the proposals come from folded alias matching
//! (`knowledge::proposal::builtin_proposals`). A language model is asked about the mentions
//! of a document, up to [`MENTIONS_PER_CALL`] at a time, each with its candidate entries (by
//! id): its JSON answer is read (one repair request when it is malformed) and never trusted:
//! every proposal is checked against the step's mentions and the project's live entries, and
//! one naming anything else is dropped and counted (`dropped` in the checkpoint). Calls are
//! made, retried and recorded as extraction's are (tokens and cost on the job).

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::handler::{BoxFuture, JobEnv, JobHandler, RunNote};
use super::model_calls::Call;
use super::run::{Done, JobRun, Stop, StopContext};
use crate::entity::Entity;
use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, EntityTypeId, KnowledgeItemId};
use crate::job::{Job, JobKind, JobTarget};
use crate::knowledge::proposal::{
    Proposal, RawProposal, SYSTEM_PROMPT, StepContext, answer_schema, builtin_proposals, merge_proposals, parse_answer,
    validate,
};
use crate::llm::model::LlmModel;
use crate::llm::output::{OutputError, repair_request};
use crate::llm::retry::RetryPolicy;
use crate::llm::{CompletionRequest, LlmClient, ModelEndpoint, Provider};
use crate::ports::{ExtractionStore, LinkingStore, SecretCipher};
use crate::service::models::model_endpoint;
use crate::text::chunk::Chunk;

/// Mentions asked about in one model call.
pub const MENTIONS_PER_CALL: usize = 40;
/// Candidate entries shown to the model for each mention.
pub const CANDIDATES_PER_MENTION: usize = 5;
/// Most documents `params.documentIds` may name.
pub const MAX_DOCUMENTS: usize = 1000;

/// Runs LINKING jobs with a model client and the cipher of stored keys.
pub struct Linking<L, K> {
    pub llm: L,
    pub cipher: K,
    pub retry: RetryPolicy,
}

/// The documents a job's `params` name (`{"documentIds": [...]}`), if any.
fn documents_of(params: &Value) -> DomainResult<Option<Vec<DocumentId>>> {
    let Some(obj) = params.as_object() else { return Err(DomainError::invalid("params", "must be a JSON object")) };
    if let Some(k) = obj.keys().find(|k| k.as_str() != "documentIds") {
        return Err(DomainError::invalid("params", format!("a LINKING job takes documentIds only, not {k}")));
    }
    let Some(ids) = obj.get("documentIds") else { return Ok(None) };
    let list = ids.as_array().ok_or_else(|| DomainError::invalid("params.documentIds", "must be a list of ids"))?;
    if list.len() > MAX_DOCUMENTS {
        return Err(DomainError::invalid("params.documentIds", format!("at most {MAX_DOCUMENTS} documents")));
    }
    list.iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| s.parse::<uuid::Uuid>().ok())
                .map(DocumentId)
                .ok_or_else(|| DomainError::invalid("params.documentIds", "must be a list of ids"))
        })
        .collect::<DomainResult<Vec<_>>>()
        .map(Some)
}

impl<V, L, K> JobHandler<V> for Linking<L, K>
where
    V: JobEnv,
    V::Store: LinkingStore,
    L: LlmClient + 'static,
    K: SecretCipher + Send + Sync + 'static,
{
    fn kind(&self) -> JobKind {
        JobKind::Linking
    }

    fn check(&self, target: JobTarget, params: &Value) -> DomainResult<()> {
        if target != JobTarget::Project {
            return Err(DomainError::invalid("projectId", "a LINKING job works on a project: give its projectId"));
        }
        documents_of(params).map(|_| ())
    }

    fn run<'a, 'e: 'a>(&'a self, run: &'a mut JobRun<'e, V>) -> BoxFuture<'a, Result<Done, Stop>> {
        Box::pin(self.link(run))
    }
}

/// Where the proposals come from.
enum Source {
    Builtin,
    Model(Box<(LlmModel, ModelEndpoint)>),
}

impl<L, K> Linking<L, K>
where
    L: LlmClient,
    K: SecretCipher + Send + Sync,
{
    async fn link<V>(&self, run: &mut JobRun<'_, V>) -> Result<Done, Stop>
    where
        V: JobEnv,
        V::Store: LinkingStore,
    {
        let store = run.env().store();
        let job = run.job().clone();
        let project = job.project_id;
        let model_id = job.llm_model_id.ok_or_else(|| Stop::Failed("the job's model was deleted".into()))?;
        let model = run
            .retrying("reading the job's model", || store.model(model_id))
            .await?
            .ok_or_else(|| Stop::Failed("the job's model was deleted".into()))?;
        let source = match model.provider {
            Provider::Builtin => Source::Builtin,
            _ => {
                let sealed = run.retrying("reading the model's key", || store.model_key(model.id)).await?;
                let key = sealed.map(|s| self.cipher.decrypt(&s)).transpose().doing("decrypting the model's key")?;
                let endpoint = model_endpoint(&model, key);
                Source::Model(Box::new((model, endpoint)))
            }
        };
        let only = documents_of(&job.params).map_err(|e| Stop::Failed(e.to_string()))?;
        let docs =
            run.retrying("listing the project's documents", || store.linking_documents(project, only.clone())).await?;
        let types: HashMap<EntityTypeId, String> = run
            .retrying("reading the entity types", || store.entity_types())
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let total = docs.len() as u32 + 1;
        let from = job.checkpoint.get("step").and_then(Value::as_u64).unwrap_or(0) as u32;
        let mut dropped = job.checkpoint.get("dropped").and_then(Value::as_u64).unwrap_or(0) as u32;
        let mut proposed = job.checkpoint.get("proposed").and_then(Value::as_u64).unwrap_or(0) as u32;
        for step in from..total {
            run.go_on()?;
            let proposals = match docs.get(step as usize) {
                Some(doc) => {
                    let mentions = run
                        .retrying("reading the document's unlinked mentions", || store.unlinked_mentions(project, *doc))
                        .await?;
                    match &source {
                        Source::Builtin => {
                            let job_id = job.id;
                            run.retrying("matching mentions with the knowledge base", || {
                                let mentions = mentions.clone();
                                store.with_knowledge_index(project, move |index| {
                                    builtin_proposals(project, Some(job_id), &mentions, index)
                                })
                            })
                            .await?
                        }
                        Source::Model(m) => {
                            let (model, endpoint) = &**m;
                            let mut out = Vec::new();
                            for (n, batch) in mentions.chunks(MENTIONS_PER_CALL).enumerate() {
                                let (found, bad) = self.ask(run, model, endpoint, step, n, batch, &types).await?;
                                out.extend(found);
                                dropped += bad;
                            }
                            out
                        }
                    }
                }
                None => {
                    let job_id = job.id;
                    run.retrying("looking for duplicate entries", || {
                        store.with_knowledge_index(project, move |index| merge_proposals(project, Some(job_id), index))
                    })
                    .await?
                }
            };
            let j = run.job_mut();
            j.total_steps = total;
            j.completed_steps = step + 1;
            j.progress = Job::percent(step + 1, total);
            j.current_step = Some(if (step as usize) < docs.len() {
                format!("document {} of {}", step + 1, docs.len())
            } else {
                "looking for duplicate entries".to_owned()
            });
            j.checkpoint = json!({"step": step + 1, "dropped": dropped, "proposed": proposed});
            let fresh = run
                .commit("storing the proposals", |fence| {
                    let proposals = proposals.clone();
                    async move { store.store_proposals(&fence, proposals).await }
                })
                .await?;
            proposed += fresh;
            // The count of new proposals goes into the checkpoint with the next step (or the end).
            run.job_mut().checkpoint = json!({"step": step + 1, "dropped": dropped, "proposed": proposed});
        }
        run.save_progress().await?;
        Ok(Done { summary: format!("done: {proposed} proposals from {} documents, {dropped} dropped", docs.len()) })
    }

    /// Asks the model about one batch of a document's mentions; returns the proposals that
    /// name what exists, and how many were dropped.
    #[allow(clippy::too_many_arguments)]
    async fn ask<V>(
        &self,
        run: &JobRun<'_, V>,
        model: &LlmModel,
        endpoint: &ModelEndpoint,
        step: u32,
        batch_no: usize,
        mentions: &[Entity],
        types: &HashMap<EntityTypeId, String>,
    ) -> Result<(Vec<Proposal>, u32), Stop>
    where
        V: JobEnv,
        V::Store: LinkingStore,
    {
        let store = run.env().store();
        let job = run.job();
        let project = job.project_id;
        let texts: Vec<(String, EntityTypeId)> = mentions.iter().map(|m| (m.text.clone(), m.entity_type_id)).collect();
        let candidates: Vec<Vec<KnowledgeItemId>> = run
            .retrying("finding candidate entries", || {
                let texts = texts.clone();
                store.with_knowledge_index(project, move |index| {
                    texts
                        .iter()
                        .map(|(t, ty)| {
                            index.candidates(t, Some(*ty), CANDIDATES_PER_MENTION).into_iter().map(|c| c.item).collect()
                        })
                        .collect()
                })
            })
            .await?;
        let mut shown: Vec<KnowledgeItemId> = candidates.iter().flatten().copied().collect();
        shown.sort();
        shown.dedup();
        let entries =
            run.retrying("reading the candidate entries", || store.live_items(project, shown.clone())).await?;
        let type_name = |t: &EntityTypeId| types.get(t).cloned().unwrap_or_default();
        let prompt = json!({
            "mentions": mentions.iter().zip(&candidates).map(|(m, c)| json!({
                "id": m.id,
                "text": m.text,
                "type": type_name(&m.entity_type_id),
                "context": format!("{}{}{}", m.context_before, m.text, m.context_after),
                "candidates": c,
            })).collect::<Vec<_>>(),
            "entries": entries.iter().map(|i| json!({
                "id": i.id,
                "name": i.content.name,
                "aliases": i.content.aliases,
                "type": type_name(&i.content.entity_type_id),
                "description": i.content.description,
            })).collect::<Vec<_>>(),
        });
        let request = CompletionRequest {
            system: SYSTEM_PROMPT.to_owned(),
            user: format!("Mentions and their candidate entries:\n{prompt}\n\nAnswer with the JSON of your proposals."),
            max_tokens: model.max_tokens,
            temperature: model.temperature as f32,
            json_schema: Some(answer_schema()),
        };
        let chunk = Chunk { index: step * 1000 + batch_no as u32, start: 0, end: 0, text: String::new() };
        let call = Call { run, llm: &self.llm, retry: self.retry, model, endpoint, chunk: &chunk };
        let answer = match call.with_retries(&request).await? {
            Ok(c) => c.text,
            Err(e) => {
                run.note(RunNote::StepFailed { step, error: e.to_string() });
                return Ok((Vec::new(), 0));
            }
        };
        let (raw, mut dropped) = match parse_answer(&answer) {
            Ok(parsed) => parsed,
            Err(first) => {
                let repair = repair_request(&request, &answer, &OutputError::WrongShape(first));
                match call.with_retries(&repair).await? {
                    Ok(again) => match parse_answer(&again.text) {
                        Ok(parsed) => parsed,
                        Err(e) => {
                            run.note(RunNote::StepFailed {
                                step,
                                error: format!("malformed answer after a repair request: {e}"),
                            });
                            return Ok((Vec::new(), 0));
                        }
                    },
                    Err(e) => {
                        run.note(RunNote::StepFailed { step, error: e.to_string() });
                        return Ok((Vec::new(), 0));
                    }
                }
            }
        };
        // What the answer names beyond the candidates shown must exist too.
        let mut named: HashSet<KnowledgeItemId> = entries.iter().map(|i| i.id).collect();
        let extra: Vec<KnowledgeItemId> = raw
            .iter()
            .flat_map(|r: &RawProposal| [r.item.as_deref(), r.into.as_deref()])
            .flatten()
            .filter_map(|s| s.trim().parse::<uuid::Uuid>().ok().map(KnowledgeItemId))
            .filter(|id| !named.contains(id))
            .collect();
        let mut items: HashMap<KnowledgeItemId, EntityTypeId> =
            entries.iter().map(|i| (i.id, i.content.entity_type_id)).collect();
        if !extra.is_empty() {
            for i in run
                .retrying("reading the entries the answer names", || store.live_items(project, extra.clone()))
                .await?
            {
                named.insert(i.id);
                items.insert(i.id, i.content.entity_type_id);
            }
        }
        let ctx = StepContext {
            project,
            job: Some(job.id),
            mentions: mentions.iter().map(|m| (m.id, m.clone())).collect(),
            items,
        };
        let mut kept = Vec::new();
        for r in &raw {
            match validate(r, &ctx) {
                Some(p) => kept.push(p),
                None => dropped += 1,
            }
        }
        Ok((kept, dropped))
    }
}
