//! Language models, processing configurations, jobs and their live events, as clients see
//! them. A model's API key is never returned: only whether it has one and its last four
//! characters.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::events::{ActivityEvent, ActivityKind, JobProgressEvent};
use nishan_domain::job::{Job, JobKind, JobStatus};
use nishan_domain::llm::Provider;
use nishan_domain::llm::model::{LlmModel as DomainModel, ProcessingConfig as DomainConfig, ValidationStatus};
use nishan_domain::ports::{ConfigRepository, ModelRepository};

use super::Document;
use crate::error::ApiResult;
use crate::graphql::loaders::{DocumentLoader, Loaded};
use crate::graphql::state;

macro_rules! mirror_enum {
    ($gql:ident, $name:literal, $domain:ty, [$($variant:ident),*]) => {
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
        #[graphql(name = $name, rename_items = "SCREAMING_SNAKE_CASE")]
        pub enum $gql { $($variant),* }

        impl From<$domain> for $gql {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$variant => Self::$variant),* }
            }
        }

        impl From<$gql> for $domain {
            fn from(v: $gql) -> Self {
                match v { $($gql::$variant => Self::$variant),* }
            }
        }
    };
}

mirror_enum!(GqlJobStatus, "JobStatus", JobStatus, [Pending, Queued, Processing, Completed, Failed, Cancelled, Paused]);
mirror_enum!(GqlJobKind, "JobKind", JobKind, [Extraction, Linking, Ingestion, Training, Experiment, Embedding]);
mirror_enum!(GqlValidationStatus, "ValidationStatus", ValidationStatus, [Pending, Validating, Connected, Error]);
mirror_enum!(
    GqlActivityKind,
    "ActivityKind",
    ActivityKind,
    [
        EntityCreated,
        EntityUpdated,
        EntityVerified,
        EntityUnverified,
        EntityRejected,
        EntityDeleted,
        VersionCreated,
        EntitiesImported,
        Resync
    ]
);

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "LlmProvider")]
pub enum GqlProvider {
    #[graphql(name = "OPENAI")]
    OpenAi,
    #[graphql(name = "AZURE")]
    Azure,
    #[graphql(name = "ANTHROPIC")]
    Anthropic,
    #[graphql(name = "GOOGLE")]
    Google,
    #[graphql(name = "LOCAL")]
    Local,
    #[graphql(name = "BUILTIN")]
    Builtin,
}

impl From<Provider> for GqlProvider {
    fn from(p: Provider) -> Self {
        match p {
            Provider::OpenAi => Self::OpenAi,
            Provider::Azure => Self::Azure,
            Provider::Anthropic => Self::Anthropic,
            Provider::Google => Self::Google,
            Provider::Local => Self::Local,
            Provider::Builtin => Self::Builtin,
        }
    }
}

impl From<GqlProvider> for Provider {
    fn from(p: GqlProvider) -> Self {
        match p {
            GqlProvider::OpenAi => Self::OpenAi,
            GqlProvider::Azure => Self::Azure,
            GqlProvider::Anthropic => Self::Anthropic,
            GqlProvider::Google => Self::Google,
            GqlProvider::Local => Self::Local,
            GqlProvider::Builtin => Self::Builtin,
        }
    }
}

pub struct LlmModel(pub DomainModel);

#[Object]
impl LlmModel {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn provider(&self) -> GqlProvider {
        self.0.provider.into()
    }
    async fn model_name(&self) -> &str {
        &self.0.model_name
    }
    async fn api_base_url(&self) -> Option<&str> {
        self.0.api_base_url.as_deref()
    }
    async fn api_version(&self) -> Option<&str> {
        self.0.api_version.as_deref()
    }
    /// Whether a key is stored (it is never returned).
    async fn has_api_key(&self) -> bool {
        self.0.has_api_key
    }
    /// The key's last four characters.
    async fn api_key_hint(&self) -> Option<&str> {
        self.0.api_key_hint.as_deref()
    }
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    /// At most one default per provider.
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
    async fn priority(&self) -> i32 {
        self.0.priority
    }
    async fn max_tokens(&self) -> u32 {
        self.0.max_tokens
    }
    async fn temperature(&self) -> f64 {
        self.0.temperature
    }
    async fn timeout_secs(&self) -> u32 {
        self.0.timeout_secs
    }
    async fn rate_limit_per_minute(&self) -> Option<u32> {
        self.0.rate_limit_per_minute
    }
    async fn rate_limit_per_hour(&self) -> Option<u32> {
        self.0.rate_limit_per_hour
    }
    #[graphql(name = "costPer1kPromptTokens")]
    async fn cost_per_1k_prompt_tokens(&self) -> f64 {
        self.0.cost_per_1k_prompt_tokens
    }
    #[graphql(name = "costPer1kCompletionTokens")]
    async fn cost_per_1k_completion_tokens(&self) -> f64 {
        self.0.cost_per_1k_completion_tokens
    }
    async fn total_requests(&self) -> i64 {
        self.0.total_requests
    }
    async fn successful_requests(&self) -> i64 {
        self.0.successful_requests
    }
    async fn failed_requests(&self) -> i64 {
        self.0.failed_requests
    }
    /// Successful share of all calls, 0 to 1.
    async fn success_rate(&self) -> f64 {
        self.0.success_rate()
    }
    /// The running mean of all calls' response times.
    async fn average_response_time_ms(&self) -> f64 {
        self.0.average_response_ms
    }
    async fn validation_status(&self) -> GqlValidationStatus {
        self.0.validation_status.into()
    }
    /// What the provider answered when the last test failed (keys redacted). Global admins
    /// only: null for everyone else, as a provider's text may say more than it should.
    async fn validation_error(&self, ctx: &Context<'_>) -> Option<&str> {
        let is_admin = crate::graphql::request(ctx).viewer.actor().is_some_and(|a| a.is_admin);
        if is_admin { self.0.validation_error.as_deref() } else { None }
    }
    async fn validated_at(&self) -> Option<DateTime<Utc>> {
        self.0.validated_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An example shown to the model.
#[derive(SimpleObject)]
pub struct ConfigExample {
    pub text: String,
    #[graphql(name = "type")]
    pub entity_type: String,
}

pub struct LlmProcessingConfig(pub DomainConfig);

#[Object]
impl LlmProcessingConfig {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Characters per chunk; chunks end on line boundaries where possible.
    async fn chunk_size(&self) -> u32 {
        self.0.chunk_size
    }
    async fn chunk_overlap(&self) -> u32 {
        self.0.chunk_overlap
    }
    async fn max_tokens(&self) -> u32 {
        self.0.max_tokens
    }
    async fn confidence_threshold(&self) -> f64 {
        self.0.confidence_threshold
    }
    /// The types extracted; empty means every active type.
    async fn entity_type_ids(&self) -> Vec<ID> {
        self.0.entity_type_ids.iter().map(|t| ID(t.to_string())).collect()
    }
    async fn system_prompt(&self) -> &str {
        &self.0.system_prompt
    }
    /// With `{text}`, `{entity_types}` and `{examples}` placeholders.
    async fn user_prompt_template(&self) -> &str {
        &self.0.user_prompt_template
    }
    async fn examples(&self) -> Vec<ConfigExample> {
        self.0
            .examples
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some(ConfigExample {
                    text: e.get("text")?.as_str()?.to_owned(),
                    entity_type: e.get("type")?.as_str()?.to_owned(),
                })
            })
            .collect()
    }
    /// What is done with a chunk's placed suggestions: `{"mergeOverlapping": true}` keeps,
    /// of overlapping suggestions of one type, only the longest.
    async fn post_processing(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.post_processing.to_json())
    }
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct ProcessingJob(pub Job);

#[Object]
impl ProcessingJob {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn status(&self) -> GqlJobStatus {
        self.0.status.into()
    }
    /// What the job does.
    async fn kind(&self) -> GqlJobKind {
        self.0.kind.into()
    }
    /// The kind's parameters (`{}` when none).
    async fn params(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.params.clone())
    }
    /// A LINKING job's proposals, counted by status, and those dropped for naming what does
    /// not exist (null for other kinds).
    async fn proposals(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> crate::error::ApiResult<Option<super::ProposalCounts>> {
        super::knowledge::proposal_counts(ctx, &self.0).await
    }
    /// The document version the job's steps were last cut from (document jobs, once they
    /// stored a step): when the document was edited while the job ran, the version it went
    /// on in.
    async fn document_version(&self) -> Option<u32> {
        self.0.document_version
    }
    /// Claims since the job was started, resumed or retried; a job whose runs keep dying
    /// fails after three.
    async fn attempts(&self) -> u32 {
        self.0.attempts
    }
    /// 0 to 100.
    async fn progress(&self) -> u32 {
        self.0.progress
    }
    /// Chunks in all (known once the job started).
    async fn total_steps(&self) -> u32 {
        self.0.total_steps
    }
    async fn completed_steps(&self) -> u32 {
        self.0.completed_steps
    }
    /// Such as "chunk 3 of 12".
    async fn current_step(&self) -> Option<&str> {
        self.0.current_step.as_deref()
    }
    async fn priority(&self) -> i32 {
        self.0.priority
    }
    /// Entities stored so far.
    async fn entities_found(&self) -> u32 {
        self.0.entities_found
    }
    /// Suggestions whose text could not be found in the document.
    async fn entities_dropped(&self) -> u32 {
        self.0.entities_dropped
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    async fn estimated_completion_at(&self) -> Option<DateTime<Utc>> {
        self.0.estimated_completion_at
    }
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }
    /// Failed chunks and their errors.
    /// An INGESTION job's counts (null for other kinds); `errorDetails.failures` lists the
    /// URLs that failed, with why.
    async fn ingestion(&self) -> Option<super::IngestionCounts> {
        (self.0.kind == nishan_domain::job::JobKind::Ingestion)
            .then(|| nishan_domain::source::Crawl::counts_of(&self.0.checkpoint).into())
    }
    async fn error_details(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.error_details.clone())
    }
    /// The sum of the recorded model calls' tokens.
    async fn tokens_used(&self) -> i64 {
        self.0.tokens_used
    }
    async fn cost(&self) -> f64 {
        self.0.cost
    }
    async fn retry_count(&self) -> u32 {
        self.0.retry_count
    }
    async fn max_retries(&self) -> u32 {
        self.0.max_retries
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The document a document job works on (null for a job on a whole project).
    async fn document(&self, ctx: &Context<'_>) -> ApiResult<Option<Document>> {
        let Some(id) = self.0.document_id() else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<DocumentLoader>>().load_one(id).await?.map(Document))
    }
    async fn project_id(&self) -> ID {
        ID(self.0.project_id.to_string())
    }
    async fn llm_model(&self, ctx: &Context<'_>) -> ApiResult<Option<LlmModel>> {
        let Some(id) = self.0.llm_model_id else { return Ok(None) };
        Ok(state(ctx).store.model_by_id(id).await?.map(LlmModel))
    }
    async fn processing_config(&self, ctx: &Context<'_>) -> ApiResult<Option<LlmProcessingConfig>> {
        let Some(id) = self.0.processing_config_id else { return Ok(None) };
        Ok(state(ctx).store.config_by_id(id).await?.map(LlmProcessingConfig))
    }
}

/// One step of a job, as `jobProgress` subscribers receive it.
pub struct JobProgress(pub JobProgressEvent);

#[Object(name = "JobProgressEvent")]
impl JobProgress {
    async fn job_id(&self) -> ID {
        ID(self.0.job_id.to_string())
    }
    async fn status(&self) -> GqlJobStatus {
        self.0.status().into()
    }
    async fn progress(&self) -> u32 {
        self.0.progress
    }
    async fn current_step(&self) -> Option<&str> {
        self.0.current_step.as_deref()
    }
    async fn entities_found(&self) -> u32 {
        self.0.entities_found
    }
    async fn estimated_completion_at(&self) -> Option<DateTime<Utc>> {
        self.0.estimated_completion_at
    }
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }
    /// An INGESTION job's counts (null for other kinds).
    async fn ingestion(&self) -> Option<super::IngestionCounts> {
        self.0.ingestion.map(Into::into)
    }
}

/// Something that happened in a document, as `documentActivity` subscribers receive it.
pub struct DocumentActivity(pub ActivityEvent);

#[Object(name = "DocumentActivityEvent")]
impl DocumentActivity {
    async fn document_id(&self) -> ID {
        ID(self.0.document_id.to_string())
    }
    async fn kind(&self) -> GqlActivityKind {
        self.0.kind.into()
    }
    /// The entities concerned (the first thousand; `count` has them all).
    async fn entity_ids(&self) -> Vec<ID> {
        self.0.entity_ids.iter().map(|e| ID(e.to_string())).collect()
    }
    async fn count(&self) -> u32 {
        self.0.count
    }
    /// The new version, for VERSION_CREATED.
    async fn version(&self) -> Option<u32> {
        self.0.version
    }
    /// Who did it (null for a processing job).
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor.map(|u| ID(u.to_string()))
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}
