//! Language models as the domain sees them: providers, the endpoint of a configured model,
//! one completion call and its failures, and the port every provider client implements.
//! The model is never trusted: its output is parsed and validated (`output`), its entities are
//! placed by aligning their text to the document (`crate::text::align`), its failures are
//! retried with backoff (`retry`).

pub mod embed;
pub mod model;
pub mod output;
pub mod retry;

use std::time::Duration;

use crate::error::{DomainError, DomainResult};

/// Where a model runs, and so which wire format it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// OpenAI chat completions, or any OpenAI-compatible server through `api_base_url`.
    OpenAi,
    /// Azure OpenAI: a deployment URL and an `api-key` header.
    Azure,
    /// Anthropic messages API.
    Anthropic,
    /// Google Gemini `generateContent`.
    Google,
    /// Ollama `/api/chat`.
    Local,
    /// The offline, deterministic extractor built into Nishan.
    Builtin,
}

impl Provider {
    pub const ALL: [Self; 6] = [Self::OpenAi, Self::Azure, Self::Anthropic, Self::Google, Self::Local, Self::Builtin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "OPENAI",
            Self::Azure => "AZURE",
            Self::Anthropic => "ANTHROPIC",
            Self::Google => "GOOGLE",
            Self::Local => "LOCAL",
            Self::Builtin => "BUILTIN",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown provider {s:?} in storage")))
    }

    /// The base URL used when a model names none.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("https://api.openai.com/v1"),
            Self::Anthropic => Some("https://api.anthropic.com/v1"),
            Self::Google => Some("https://generativelanguage.googleapis.com/v1beta"),
            Self::Local => Some("http://127.0.0.1:11434"),
            Self::Azure | Self::Builtin => None,
        }
    }
}

/// Everything a client needs to call one configured model.
#[derive(Clone, PartialEq)]
pub struct ModelEndpoint {
    pub provider: Provider,
    /// The provider's model name (`gpt-4o-mini`, `claude-...`, `gemini-...`, `llama3`), or
    /// the Azure deployment name.
    pub model_name: String,
    /// Base URL: for OpenAI-compatible servers, Ollama, Gemini, Anthropic, the Azure resource.
    pub api_base_url: Option<String>,
    /// The decrypted key, only in memory for the call.
    pub api_key: Option<String>,
    /// Azure's `api-version` query parameter.
    pub api_version: Option<String>,
    /// Per-call timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for ModelEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelEndpoint")
            .field("provider", &self.provider)
            .field("model_name", &self.model_name)
            .field("api_base_url", &self.api_base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One request for a completion: a system prompt, a user prompt, and the JSON schema the
/// answer must follow (asked for natively where the provider supports it).
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionRequest {
    pub system: String,
    pub user: String,
    pub max_tokens: u32,
    pub temperature: f32,
    /// JSON Schema of the expected answer.
    pub json_schema: Option<serde_json::Value>,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    /// The model stopped at its token limit: the JSON may be cut off.
    pub truncated: bool,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// 429: retry, after `retry_after` when the provider said so.
    #[error("rate limited by the provider")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx (and 408, 409): retry.
    #[error("provider error {status}: {message}")]
    Server { status: u16, message: String },
    /// No answer within the timeout: retry.
    #[error("the model did not answer in time")]
    Timeout,
    /// Could not reach the provider: retry.
    #[error("network error: {0}")]
    Network(String),
    /// Another 4xx (bad key, unknown model): retrying will not help.
    #[error("provider refused the request ({status}): {message}")]
    Client { status: u16, message: String },
    /// The response was not in the provider's format.
    #[error("unexpected response from the provider: {0}")]
    Protocol(String),
}

impl LlmError {
    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Server { .. } | Self::Timeout | Self::Network(_))
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// The port every provider client implements: one call, no retries (the caller retries, so
/// that every attempt is recorded).
pub trait LlmClient: Send + Sync {
    fn complete(
        &self,
        endpoint: &ModelEndpoint,
        request: &CompletionRequest,
    ) -> impl Future<Output = Result<Completion, LlmError>> + Send;

    /// One call whose answer is streamed: `on_text` is given each piece of the text as the
    /// model writes it, and the whole completion is returned at the end. A client that cannot
    /// stream answers at once (one piece: the whole text).
    fn stream(
        &self,
        endpoint: &ModelEndpoint,
        request: &CompletionRequest,
        on_text: &(dyn Fn(&str) + Send + Sync),
    ) -> impl Future<Output = Result<Completion, LlmError>> + Send {
        async move {
            let completion = self.complete(endpoint, request).await?;
            on_text(&completion.text);
            Ok(completion)
        }
    }
}
