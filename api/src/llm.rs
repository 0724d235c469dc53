//! How the server calls language models: the `CallModel` the workers and `testLlmModel` use.
//! (Built from the concrete provider client: the `Send`-ness of an `async fn` in a trait
//! cannot be required generically on stable Rust.)

use std::sync::Arc;

use nishan_domain::llm::{Completion, CompletionRequest, LlmClient, LlmError, ModelEndpoint};
use nishan_infrastructure::jobs::CallModel;
use nishan_infrastructure::llm::{ClientOptions, ProviderClient};

/// Calls through the HTTP providers (OpenAI, Azure, Anthropic, Gemini, Ollama), counting each
/// call, its tokens and its errors in the metrics by provider and model.
pub fn http_call_model() -> anyhow::Result<CallModel> {
    let client = ProviderClient::new(ClientOptions::default())
        .map_err(|e| anyhow::anyhow!("building the HTTP model client: {e}"))?;
    Ok(Arc::new(move |endpoint: ModelEndpoint, request: CompletionRequest| {
        let client = client.clone();
        Box::pin(async move {
            let outcome = client.complete(&endpoint, &request).await;
            let tokens = outcome.as_ref().map_or(0, |c| u64::from(c.prompt_tokens) + u64::from(c.completion_tokens));
            let model = format!("{}/{}", endpoint.provider.as_str(), endpoint.model_name);
            crate::metrics::record_model_call(&model, tokens, outcome.is_err());
            outcome
        })
    }))
}

/// A `CallModel` seen as an `LlmClient`, for the services that take one.
pub struct CallModelClient(pub CallModel);

impl LlmClient for CallModelClient {
    async fn complete(&self, endpoint: &ModelEndpoint, request: &CompletionRequest) -> Result<Completion, LlmError> {
        (self.0)(endpoint.clone(), request.clone()).await
    }
}
