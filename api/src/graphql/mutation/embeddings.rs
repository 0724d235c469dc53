//! A project's embedding model.

use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::ids::ProjectId;

use crate::error::ApiResult;
use crate::graphql::types::{EmbeddingStatus, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct SetEmbeddingModelInput {
    pub project_id: ID,
    /// An active model of a provider that serves embeddings (OpenAI and compatible servers,
    /// Azure, Gemini, Ollama), or the built-in model.
    pub llm_model_id: ID,
}

#[derive(Default)]
pub struct EmbeddingMutation;

#[Object]
impl EmbeddingMutation {
    /// Sets the model a project's chunks are embedded with (edit-project permission). Nothing
    /// is embedded until an EMBEDDING job runs (`startProcessingJob(input: {projectId, kind:
    /// EMBEDDING})`); search stays lexical until the model has vectors.
    async fn set_embedding_model(
        &self,
        ctx: &Context<'_>,
        input: SetEmbeddingModelInput,
    ) -> ApiResult<EmbeddingStatus> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let project = ProjectId(parse_id(&input.project_id, "projectId")?);
        let model = parse_id(&input.llm_model_id, "llmModelId")?;
        Ok(EmbeddingStatus(state(ctx).embeddings().set_model(&req.meta, &actor, project, model).await?))
    }
}
