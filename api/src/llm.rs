//! How the server calls language models: the HTTP providers' client, with every call counted
//! in the metrics (by provider and model, with its tokens and errors). Jobs and
//! `testLlmModel` both call through it.

use nishan_domain::llm::{Completion, CompletionRequest, LlmClient, LlmError, ModelEndpoint};
use nishan_infrastructure::llm::{ClientOptions, ProviderClient};

/// The provider client, metered.
#[derive(Debug, Clone)]
pub struct MeteredClient(ProviderClient);

impl MeteredClient {
    pub fn new() -> anyhow::Result<Self> {
        let client = ProviderClient::new(ClientOptions::default())
            .map_err(|e| anyhow::anyhow!("building the HTTP model client: {e}"))?;
        Ok(Self(client))
    }
}

impl LlmClient for MeteredClient {
    async fn complete(&self, endpoint: &ModelEndpoint, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let outcome = self.0.complete(endpoint, request).await;
        let tokens = outcome.as_ref().map_or(0, |c| u64::from(c.prompt_tokens) + u64::from(c.completion_tokens));
        let model = format!("{}/{}", endpoint.provider.as_str(), endpoint.model_name);
        crate::metrics::record_model_call(&model, tokens, outcome.is_err());
        outcome
    }

    async fn stream(
        &self,
        endpoint: &ModelEndpoint,
        request: &CompletionRequest,
        on_text: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Completion, LlmError> {
        let outcome = self.0.stream(endpoint, request, on_text).await;
        let tokens = outcome.as_ref().map_or(0, |c| u64::from(c.prompt_tokens) + u64::from(c.completion_tokens));
        let model = format!("{}/{}", endpoint.provider.as_str(), endpoint.model_name);
        crate::metrics::record_model_call(&model, tokens, outcome.is_err());
        outcome
    }
}

impl nishan_domain::llm::embed::EmbeddingClient for MeteredClient {
    async fn embed(
        &self,
        endpoint: &ModelEndpoint,
        inputs: &[String],
    ) -> Result<nishan_domain::llm::embed::Embeddings, LlmError> {
        let outcome = nishan_domain::llm::embed::EmbeddingClient::embed(&self.0, endpoint, inputs).await;
        let tokens = outcome.as_ref().map_or(0, |e| u64::from(e.prompt_tokens));
        let model = format!("{}/{}", endpoint.provider.as_str(), endpoint.model_name);
        crate::metrics::record_model_call(&model, tokens, outcome.is_err());
        outcome
    }
}
