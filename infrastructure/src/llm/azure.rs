//! Azure OpenAI: the OpenAI chat body (`openai`), posted to a deployment of an Azure resource
//! (`{base}/openai/deployments/{deployment}/chat/completions?api-version=...`) with the key
//! in an `api-key` header. The endpoint's `model_name` is the deployment name.

use nishan_domain::llm::{Completion, CompletionRequest, LlmError, ModelEndpoint};
use reqwest::header::HeaderMap;

use super::{http, openai};

/// The `api-version` used when the endpoint names none: the GA version that brought
/// structured outputs (`json_schema`).
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

pub(super) async fn complete(
    http: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
) -> Result<Completion, LlmError> {
    let version = endpoint.api_version.as_deref().filter(|v| !v.trim().is_empty()).unwrap_or(DEFAULT_API_VERSION);
    let url = http::url(
        http::base_url(endpoint)?,
        &["openai", "deployments", &endpoint.model_name, "chat", "completions"],
        &[("api-version", version)],
    )?;
    let headers = HeaderMap::from_iter([http::secret_header("api-key", http::api_key(endpoint)?)?]);
    let body = openai::chat_request(None, &endpoint.model_name, request);
    openai::completion(http::post_json(http, endpoint, url, headers, &body).await?)
}
