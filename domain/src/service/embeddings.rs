//! A project's embeddings as researchers see them: its embedding model (`setEmbeddingModel`,
//! project editors), how many of its chunks have vectors (`embeddingStatus`, readers), and the
//! query side of hybrid search: [`QueryEmbedder`] embeds a query under the project's model
//! once per request (a cache per request), recording the call as every model call is.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::error::{DomainError, DomainResult};
use crate::ids::{ProjectId, UserId};
use crate::llm::embed::{EmbeddingClient, builtin_embedding};
use crate::llm::model::{LlmModel, ModelId};
use crate::llm::{LlmError, Provider};
use crate::membership::Permission;
use crate::policy::{Actor, ProjectAccess};
use crate::ports::{EmbeddingRepository, EmbeddingStatus, ModelCall, ModelRepository, ProjectRepository, SecretCipher};
use crate::search::semantic::embeds;
use crate::service::models::model_endpoint;

pub struct Embeddings<'a, S> {
    pub store: &'a S,
}

impl<S: EmbeddingRepository + ProjectRepository + ModelRepository> Embeddings<'_, S> {
    async fn access(&self, actor: Option<&Actor>, project: ProjectId) -> DomainResult<ProjectAccess> {
        let found = self.store.project_by_id(project).await?.ok_or(DomainError::NotFound { resource: "project" })?;
        let role = match actor {
            Some(a) => self.store.roles_of(a.user_id, &[project]).await?.remove(&project),
            None => None,
        };
        let access = ProjectAccess::evaluate(&found, actor, role);
        access.require_read()?;
        Ok(access)
    }

    /// How far the project's chunks are embedded (whoever reads the project).
    pub async fn status(&self, actor: Option<&Actor>, project: ProjectId) -> DomainResult<EmbeddingStatus> {
        self.access(actor, project).await?;
        self.store.embedding_status(project).await
    }

    /// Sets the project's embedding model (project editors): an active model of a provider
    /// that serves embeddings (not Anthropic), or the built-in one. Vectors of the model before
    /// are kept (switching back finds them) and used only while it is the project's model.
    pub async fn set_model(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        project: ProjectId,
        model: ModelId,
    ) -> DomainResult<EmbeddingStatus> {
        self.access(Some(actor), project).await?.require(Permission::EditProject)?;
        let found = match self.store.model_by_id(model).await? {
            Some(m) if m.is_active => m,
            Some(m) => return Err(DomainError::invalid("llmModelId", format!("the model {} is inactive", m.name))),
            None => return Err(DomainError::invalid("llmModelId", "no such model")),
        };
        if !embeds(found.provider) {
            return Err(DomainError::invalid(
                "llmModelId",
                format!("{} serves no embeddings: choose another provider's model", found.provider.as_str()),
            ));
        }
        let audit = AuditEntry::new(meta, Some(actor.user_id), "embedding.set_model", "project")
            .resource(project.0, &found.name)
            .project(project)
            .changes(json!({"llmModelId": found.id, "model": found.name}));
        self.store.set_embedding_model(project, found.id, audit).await?;
        self.store.embedding_status(project).await
    }
}

/// Embeds queries for hybrid search: the built-in model in process, others through the
/// embedding client, each text once per request (the embedder is made per request), each call
/// recorded (`usage`).
pub struct QueryEmbedder<'a, S, E, K> {
    pub store: &'a S,
    pub client: &'a E,
    pub cipher: &'a K,
    /// Who asks, for the recorded call.
    pub user: Option<UserId>,
    cache: Mutex<HashMap<(ModelId, String), Vec<f32>>>,
}

impl<'a, S, E, K> QueryEmbedder<'a, S, E, K>
where
    S: ModelRepository + Sync,
    E: EmbeddingClient,
    K: SecretCipher + Sync,
{
    pub fn new(store: &'a S, client: &'a E, cipher: &'a K, user: Option<UserId>) -> Self {
        Self { store, client, cipher, user, cache: Mutex::new(HashMap::new()) }
    }

    /// The vector of `text` under `model`.
    pub async fn embed(&self, project: ProjectId, model: &LlmModel, text: &str) -> DomainResult<Vec<f32>> {
        let key = (model.id, text.to_owned());
        if let Some(v) = self.cache.lock().expect("the cache lock").get(&key) {
            return Ok(v.clone());
        }
        let vector = if model.provider == Provider::Builtin {
            builtin_embedding(text)
        } else {
            let sealed = self.store.encrypted_key(model.id).await?;
            let api_key = sealed.map(|s| self.cipher.decrypt(&s)).transpose()?;
            let endpoint = model_endpoint(model, api_key);
            let started = Utc::now();
            let outcome = self.client.embed(&endpoint, std::slice::from_ref(&key.1)).await;
            let prompt = outcome.as_ref().map_or(0, |e| e.prompt_tokens);
            ModelRepository::record_call(
                self.store,
                ModelCall {
                    job_id: None,
                    llm_model_id: model.id,
                    project_id: Some(project),
                    user_id: self.user,
                    chunk_index: None,
                    attempt: 1,
                    prompt_tokens: prompt,
                    completion_tokens: 0,
                    cost: model.cost(prompt, 0),
                    latency_ms: (Utc::now() - started).num_milliseconds().max(0) as u32,
                    error: outcome.as_ref().err().map(ToString::to_string),
                    at: Utc::now(),
                },
            )
            .await?;
            let mut vectors =
                outcome.map_err(|e: LlmError| DomainError::internal(format!("embedding the query: {e}")))?;
            vectors.vectors.pop().ok_or_else(|| DomainError::internal("the embedding model answered no vector"))?
        };
        self.cache.lock().expect("the cache lock").insert(key, vector.clone());
        Ok(vector)
    }
}

/// What hybrid search asks of a query embedder (the domain's [`QueryEmbedder`], or none).
pub trait Semantic: Send + Sync {
    async fn query_vector(&self, project: ProjectId, model: &LlmModel, text: &str) -> DomainResult<Vec<f32>>;
}

impl<S, E, K> Semantic for QueryEmbedder<'_, S, E, K>
where
    S: ModelRepository + Sync,
    E: EmbeddingClient,
    K: SecretCipher + Sync,
{
    async fn query_vector(&self, project: ProjectId, model: &LlmModel, text: &str) -> DomainResult<Vec<f32>> {
        self.embed(project, model, text).await
    }
}

/// No semantic side: search is lexical only.
pub struct Lexical;

impl Semantic for Lexical {
    async fn query_vector(&self, _: ProjectId, _: &LlmModel, _: &str) -> DomainResult<Vec<f32>> {
        Err(DomainError::internal("no query embedder"))
    }
}
