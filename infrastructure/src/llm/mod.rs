//! Model providers over HTTP: one [`ProviderClient`] implementing the domain's `LlmClient`
//! port, dispatching each call to the wire format of the endpoint's provider (one file each,
//! with its request and response types). One call, no retries: the caller retries with
//! `nishan_domain::llm::retry::RetryPolicy`, so that every attempt is recorded.

pub mod anthropic;
pub mod azure;
pub mod embed;
pub mod gemini;
mod http;
pub mod ollama;
pub mod openai;
pub mod redact;
mod stream;

use std::time::Duration;

use nishan_domain::llm::{Completion, CompletionRequest, LlmClient, LlmError, ModelEndpoint, Provider};

/// Timeouts of the HTTP client shared by all calls. The whole call is also bounded by the
/// endpoint's own `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// To open a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// The longest silence while reading an answer.
    pub read_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(10), read_timeout: Duration::from_secs(120) }
    }
}

/// Calls any HTTP model provider. Cheap to clone (one connection pool, shared).
#[derive(Debug, Clone)]
pub struct ProviderClient {
    http: reqwest::Client,
}

impl ProviderClient {
    /// A client with its own connection pool. Redirects are not followed: a POST would turn
    /// into a GET, and the key headers would go wherever the redirect points.
    pub fn new(options: ClientOptions) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nishan/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Network(format!("could not build the HTTP client: {e}")))?;
        Ok(Self { http })
    }
}

impl LlmClient for ProviderClient {
    /// One call in the endpoint's provider's wire format. Errors: `RateLimited` (429, with the
    /// wait asked for), `Server` (408, 409, 5xx), `Timeout` (the endpoint's timeout, or the
    /// read timeout), `Network` (no connection), `Client` (other statuses; status 0 when the
    /// call was refused before sending: a missing key or base URL, or the `BUILTIN` provider,
    /// which is not served over HTTP), `Protocol` (an answer not in the provider's format).
    async fn complete(&self, endpoint: &ModelEndpoint, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let result = match endpoint.provider {
            Provider::OpenAi => openai::complete(&self.http, endpoint, request).await,
            Provider::Azure => azure::complete(&self.http, endpoint, request).await,
            Provider::Anthropic => anthropic::complete(&self.http, endpoint, request).await,
            Provider::Google => gemini::complete(&self.http, endpoint, request).await,
            Provider::Local => ollama::complete(&self.http, endpoint, request).await,
            Provider::Builtin => {
                Err(http::refused("the BUILTIN provider is not served over HTTP: use the built-in extractor"))
            }
        };
        if let Err(error) = &result {
            tracing::debug!(provider = endpoint.provider.as_str(), model = %endpoint.model_name, %error, "model call failed");
        }
        result
    }

    /// One call in the provider's streaming wire format (`stream`); errors as `complete`.
    async fn stream(
        &self,
        endpoint: &ModelEndpoint,
        request: &CompletionRequest,
        on_text: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Completion, LlmError> {
        let result = stream::stream(&self.http, endpoint, request, on_text).await;
        if let Err(error) = &result {
            tracing::debug!(provider = endpoint.provider.as_str(), model = %endpoint.model_name, %error, "streamed model call failed");
        }
        result
    }
}
