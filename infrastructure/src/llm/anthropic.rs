//! Anthropic messages API (`POST {base}/messages`, `x-api-key` and `anthropic-version`
//! headers). The system prompt is a top-level field; the answer is the text blocks of
//! `content`. The JSON form is asked for in the prompt (and `parse_suggestions` finds JSON in
//! prose), as the stable API has no JSON mode.

use nishan_domain::llm::{Completion, CompletionRequest, LlmError, ModelEndpoint};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::http;

/// The API version sent with every call.
pub const API_VERSION: &str = "2023-06-01";

#[derive(Debug, Serialize)]
pub(super) struct MessagesRequest<'a> {
    model: &'a str,
    system: &'a str,
    messages: [Message<'a>; 1],
    max_tokens: u32,
    temperature: f32,
}

#[derive(Debug, Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Debug, Deserialize)]
struct MessagesResponse {
    content: Vec<ContentBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    #[serde(default)]
    input_tokens: u32,
    #[serde(default)]
    output_tokens: u32,
}

pub(super) fn messages_request<'a>(model: &'a str, request: &'a CompletionRequest) -> MessagesRequest<'a> {
    MessagesRequest {
        model,
        system: &request.system,
        messages: [Message { role: "user", content: &request.user }],
        max_tokens: request.max_tokens,
        temperature: request.temperature,
    }
}

fn completion(response: MessagesResponse) -> Completion {
    // Text blocks only: a thinking block is not the answer.
    let text = response.content.into_iter().filter(|b| b.kind == "text").filter_map(|b| b.text).collect();
    let usage = response.usage.unwrap_or(Usage { input_tokens: 0, output_tokens: 0 });
    Completion {
        text,
        prompt_tokens: usage.input_tokens,
        completion_tokens: usage.output_tokens,
        truncated: response.stop_reason.as_deref() == Some("max_tokens"),
    }
}

pub(super) async fn complete(
    http: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
) -> Result<Completion, LlmError> {
    let url = http::url(http::base_url(endpoint)?, &["messages"], &[])?;
    let headers = HeaderMap::from_iter([
        http::secret_header("x-api-key", http::api_key(endpoint)?)?,
        (HeaderName::from_static("anthropic-version"), HeaderValue::from_static(API_VERSION)),
    ]);
    let body = messages_request(&endpoint.model_name, request);
    Ok(completion(http::post_json(http, endpoint, url, headers, &body).await?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_system_prompt_is_a_top_level_field() {
        let request = CompletionRequest {
            system: "sys".into(),
            user: "usr".into(),
            max_tokens: 9,
            temperature: 0.2,
            json_schema: None,
        };
        let body = serde_json::to_value(messages_request("claude", &request)).unwrap();
        assert_eq!(
            body,
            json!({"model": "claude", "system": "sys", "messages": [{"role": "user", "content": "usr"}],
                   "max_tokens": 9, "temperature": 0.2f32})
        );
    }

    #[test]
    fn joins_the_text_blocks() {
        let response: MessagesResponse = serde_json::from_value(json!({
            "content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "{\"entities\""},
                        {"type": "text", "text": ": []}"}],
            "stop_reason": "max_tokens", "usage": {"input_tokens": 7, "output_tokens": 2}
        }))
        .unwrap();
        assert_eq!(
            completion(response),
            Completion { text: "{\"entities\": []}".into(), prompt_tokens: 7, completion_tokens: 2, truncated: true }
        );
    }
}
