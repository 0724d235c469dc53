use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::Utc;
use nishan_domain::ids::{DocumentId, EntityTypeId, ProjectId};
use nishan_domain::job::JobAction;
use nishan_domain::llm::model::{ModelFields, PostProcessing, ProcessingConfig};
use nishan_domain::service::jobs::StartJob;

use super::accounts::patch;
use crate::error::ApiResult;
use crate::graphql::types::{GqlJobKind, GqlProvider, LlmModel, LlmProcessingConfig, ProcessingJob, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct CreateLlmModelInput {
    pub name: String,
    pub provider: GqlProvider,
    /// The provider's model name, or the Azure deployment name.
    pub model_name: String,
    /// Stored encrypted; never returned.
    pub api_key: Option<String>,
    /// For OpenAI-compatible servers, Ollama, the Azure resource, or a proxy.
    pub api_base_url: Option<String>,
    /// Azure's `api-version`.
    pub api_version: Option<String>,
    pub is_active: Option<bool>,
    /// Setting a default clears the other defaults of the provider.
    pub is_default: Option<bool>,
    pub priority: Option<i32>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub timeout_secs: Option<u32>,
    pub rate_limit_per_minute: Option<u32>,
    pub rate_limit_per_hour: Option<u32>,
    #[graphql(name = "costPer1kPromptTokens")]
    pub cost_per_1k_prompt_tokens: Option<f64>,
    #[graphql(name = "costPer1kCompletionTokens")]
    pub cost_per_1k_completion_tokens: Option<f64>,
}

#[derive(InputObject)]
pub struct UpdateLlmModelInput {
    pub name: Option<String>,
    pub provider: Option<GqlProvider>,
    pub model_name: Option<String>,
    /// A new key, or null to remove the key.
    pub api_key: MaybeUndefined<String>,
    pub api_base_url: MaybeUndefined<String>,
    pub api_version: MaybeUndefined<String>,
    pub is_active: Option<bool>,
    pub is_default: Option<bool>,
    pub priority: Option<i32>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub timeout_secs: Option<u32>,
    pub rate_limit_per_minute: MaybeUndefined<u32>,
    pub rate_limit_per_hour: MaybeUndefined<u32>,
    #[graphql(name = "costPer1kPromptTokens")]
    pub cost_per_1k_prompt_tokens: Option<f64>,
    #[graphql(name = "costPer1kCompletionTokens")]
    pub cost_per_1k_completion_tokens: Option<f64>,
}

#[derive(InputObject)]
pub struct ConfigExampleInput {
    pub text: String,
    #[graphql(name = "type")]
    pub entity_type: String,
}

#[derive(InputObject)]
pub struct CreateProcessingConfigInput {
    pub name: String,
    pub description: Option<String>,
    pub chunk_size: Option<u32>,
    pub chunk_overlap: Option<u32>,
    pub max_tokens: Option<u32>,
    pub confidence_threshold: Option<f64>,
    /// Empty or omitted: every active type.
    pub entity_type_ids: Option<Vec<ID>>,
    pub system_prompt: Option<String>,
    /// With `{text}`, `{entity_types}` and `{examples}` placeholders.
    pub user_prompt_template: Option<String>,
    pub examples: Option<Vec<ConfigExampleInput>>,
    /// `{"mergeOverlapping": true}` (the default): of overlapping suggestions of one type,
    /// only the longest is stored. Unknown options are refused.
    pub post_processing: Option<async_graphql::Json<serde_json::Value>>,
    pub is_default: Option<bool>,
}

#[derive(InputObject)]
pub struct StartProcessingJobInput {
    /// EXTRACTION when omitted. A kind this server has no handler for is refused.
    pub kind: Option<GqlJobKind>,
    /// The document of a document job (EXTRACTION).
    pub document_id: Option<ID>,
    /// The project of a project job (the other kinds).
    pub project_id: Option<ID>,
    /// The source an INGESTION job fetches.
    pub source_id: Option<ID>,
    /// The kind's parameters (a JSON object).
    pub params: Option<async_graphql::Json<serde_json::Value>>,
    /// The default model when omitted (the built-in extractor on a fresh install).
    pub llm_model_id: Option<ID>,
    pub processing_config_id: Option<ID>,
    /// Higher runs first (-100 to 100, default 0).
    pub priority: Option<i32>,
}

#[derive(Default)]
pub struct JobMutation;

impl JobMutation {
    async fn act(&self, ctx: &Context<'_>, id: &ID, action: JobAction) -> ApiResult<ProcessingJob> {
        let id = parse_id(id, "id")?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        Ok(ProcessingJob(state(ctx).jobs().act(&req.meta, &actor, id, action).await?))
    }
}

#[Object]
impl JobMutation {
    /// Global admins only.
    async fn create_llm_model(&self, ctx: &Context<'_>, input: CreateLlmModelInput) -> ApiResult<LlmModel> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let fields = ModelFields {
            name: Some(input.name),
            provider: Some(input.provider.into()),
            model_name: Some(input.model_name),
            api_key: input.api_key.map(Some),
            api_base_url: input.api_base_url.map(Some),
            api_version: input.api_version.map(Some),
            is_active: input.is_active,
            is_default: input.is_default,
            priority: input.priority,
            max_tokens: input.max_tokens,
            temperature: input.temperature,
            timeout_secs: input.timeout_secs,
            rate_limit_per_minute: input.rate_limit_per_minute.map(Some),
            rate_limit_per_hour: input.rate_limit_per_hour.map(Some),
            cost_per_1k_prompt_tokens: input.cost_per_1k_prompt_tokens,
            cost_per_1k_completion_tokens: input.cost_per_1k_completion_tokens,
        };
        Ok(LlmModel(state(ctx).models().create(&req.meta, &actor, fields).await?))
    }

    /// Global admins only.
    async fn update_llm_model(&self, ctx: &Context<'_>, id: ID, input: UpdateLlmModelInput) -> ApiResult<LlmModel> {
        let id = parse_id(&id, "id")?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let fields = ModelFields {
            name: input.name,
            provider: input.provider.map(Into::into),
            model_name: input.model_name,
            api_key: patch(input.api_key),
            api_base_url: patch(input.api_base_url),
            api_version: patch(input.api_version),
            is_active: input.is_active,
            is_default: input.is_default,
            priority: input.priority,
            max_tokens: input.max_tokens,
            temperature: input.temperature,
            timeout_secs: input.timeout_secs,
            rate_limit_per_minute: patch(input.rate_limit_per_minute),
            rate_limit_per_hour: patch(input.rate_limit_per_hour),
            cost_per_1k_prompt_tokens: input.cost_per_1k_prompt_tokens,
            cost_per_1k_completion_tokens: input.cost_per_1k_completion_tokens,
        };
        Ok(LlmModel(state(ctx).models().update(&req.meta, &actor, id, fields).await?))
    }

    /// Global admins only; refused while unfinished jobs use the model.
    async fn delete_llm_model(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let id = parse_id(&id, "id")?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        state(ctx).models().delete(&req.meta, &actor, id).await?;
        Ok(true)
    }

    /// Makes a minimal real call to the model and records the outcome in `validationStatus`.
    async fn test_llm_model(&self, ctx: &Context<'_>, id: ID) -> ApiResult<LlmModel> {
        let id = parse_id(&id, "id")?;
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let app = state(ctx).clone();
        let meta = req.meta.clone();
        // In a task of its own: when the client goes away mid-call, the test still ends and
        // records CONNECTED or ERROR instead of staying VALIDATING.
        let test = tokio::spawn(async move { app.models().test(&meta, &actor, id, &app.llm).await });
        let tested = test.await.map_err(|e| crate::error::ApiError(crate::error::internal(&e.to_string())))??;
        Ok(LlmModel(tested))
    }

    /// Global admins only.
    async fn create_processing_config(
        &self,
        ctx: &Context<'_>,
        input: CreateProcessingConfigInput,
    ) -> ApiResult<LlmProcessingConfig> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let app = state(ctx);
        let base = nishan_domain::ports::ConfigRepository::default_config(&app.store).await?;
        let examples = match input.examples {
            Some(list) => serde_json::json!(
                list.into_iter()
                    .map(|e| serde_json::json!({"text": e.text, "type": e.entity_type}))
                    .collect::<Vec<_>>()
            ),
            None => base.as_ref().map_or(serde_json::json!([]), |b| b.examples.clone()),
        };
        let entity_type_ids = input
            .entity_type_ids
            .unwrap_or_default()
            .iter()
            .map(|t| parse_id(t, "entityTypeIds").map(EntityTypeId))
            .collect::<ApiResult<Vec<_>>>()?;
        let now = Utc::now();
        let config = ProcessingConfig {
            id: uuid::Uuid::nil(),
            name: input.name,
            description: input.description,
            chunk_size: input.chunk_size.unwrap_or(2000),
            chunk_overlap: input.chunk_overlap.unwrap_or(200),
            max_tokens: input.max_tokens.unwrap_or(2048),
            confidence_threshold: input.confidence_threshold.unwrap_or(0.5),
            entity_type_ids,
            system_prompt: input
                .system_prompt
                .or_else(|| base.as_ref().map(|b| b.system_prompt.clone()))
                .unwrap_or_default(),
            user_prompt_template: input
                .user_prompt_template
                .or_else(|| base.as_ref().map(|b| b.user_prompt_template.clone()))
                .unwrap_or_else(|| "{text}".into()),
            examples,
            post_processing: match input.post_processing {
                Some(j) => PostProcessing::parse(&j.0)?,
                None => base.as_ref().map(|b| b.post_processing).unwrap_or_default(),
            },
            is_default: input.is_default.unwrap_or(false),
            created_by: None,
            created_at: now,
            updated_at: now,
        };
        Ok(LlmProcessingConfig(app.models().create_config(&req.meta, &actor, config).await?))
    }

    /// Queues a job (upload-documents permission in its project); a worker picks it up. An
    /// EXTRACTION job (the default) works on `documentId`; the other kinds on `projectId`.
    async fn start_processing_job(
        &self,
        ctx: &Context<'_>,
        input: StartProcessingJobInput,
    ) -> ApiResult<ProcessingJob> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let start = StartJob {
            kind: input.kind.map(Into::into),
            document_id: input.document_id.as_ref().map(|d| parse_id(d, "documentId").map(DocumentId)).transpose()?,
            project_id: input.project_id.as_ref().map(|p| parse_id(p, "projectId").map(ProjectId)).transpose()?,
            source_id: input.source_id.as_ref().map(|s| parse_id(s, "sourceId")).transpose()?,
            params: input.params.map(|p| p.0),
            llm_model_id: input.llm_model_id.as_ref().map(|m| parse_id(m, "llmModelId")).transpose()?,
            processing_config_id: input
                .processing_config_id
                .as_ref()
                .map(|c| parse_id(c, "processingConfigId"))
                .transpose()?,
            priority: input.priority,
        };
        Ok(ProcessingJob(state(ctx).jobs().start_for_source(&req.meta, &actor, start).await?))
    }

    /// Stops the job after its current chunk; what was stored stays.
    async fn cancel_processing_job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ProcessingJob> {
        self.act(ctx, &id, JobAction::Cancel).await
    }

    /// Pauses the job after its current chunk; `resumeProcessingJob` goes on from there.
    async fn pause_processing_job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ProcessingJob> {
        self.act(ctx, &id, JobAction::Pause).await
    }

    async fn resume_processing_job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ProcessingJob> {
        self.act(ctx, &id, JobAction::Resume).await
    }

    /// Runs a FAILED or CANCELLED job again, while `retryCount < maxRetries`.
    async fn retry_processing_job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ProcessingJob> {
        self.act(ctx, &id, JobAction::Retry).await
    }
}
