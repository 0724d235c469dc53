//! How the server calls language models: the `CallModel` the workers and `testLlmModel` use.
//! (Built from a concrete client: the `Send`-ness of an `async fn` in a trait cannot be
//! required generically on stable Rust.)

use std::sync::Arc;

use nishan_domain::llm::LlmError;
use nishan_infrastructure::jobs::CallModel;

/// The HTTP providers' client.
pub fn http_call_model() -> CallModel {
    // Filled in with the provider clients of `nishan_infrastructure::llm`.
    Arc::new(|_, _| {
        Box::pin(async { Err(LlmError::Network("no HTTP model client is built into this binary yet".into())) })
    })
}

/// A `CallModel` seen as an `LlmClient`, for the services that take one.
pub struct CallModelClient(pub CallModel);

impl nishan_domain::llm::LlmClient for CallModelClient {
    async fn complete(
        &self,
        endpoint: &nishan_domain::llm::ModelEndpoint,
        request: &nishan_domain::llm::CompletionRequest,
    ) -> Result<nishan_domain::llm::Completion, LlmError> {
        (self.0)(endpoint.clone(), request.clone()).await
    }
}
