//! Ollama `/api/chat` (`POST {base}/api/chat`, one answer, not streamed), for models run
//! locally. The answer's form is constrained with `format`: the JSON schema when the request
//! has one, else `"json"`. No key is needed; one is sent as a bearer token if configured
//! (for an Ollama behind an authenticating proxy).

use nishan_domain::llm::{Completion, CompletionRequest, LlmError, ModelEndpoint};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::http;

#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    model: &'a str,
    messages: [Message<'a>; 2],
    stream: bool,
    format: Format<'a>,
    options: Options,
}

#[derive(Debug, Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Format<'a> {
    Schema(&'a Value),
    /// `"json"`: any JSON.
    Json(&'static str),
}

#[derive(Debug, Serialize)]
struct Options {
    temperature: f32,
    /// The most tokens to generate.
    num_predict: u32,
}

#[derive(Debug, Deserialize)]
struct ChatResponse {
    message: AnswerMessage,
    #[serde(default)]
    done_reason: Option<String>,
    /// Absent when the prompt was cached.
    #[serde(default)]
    prompt_eval_count: u32,
    #[serde(default)]
    eval_count: u32,
}

#[derive(Debug, Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    content: String,
}

pub(super) fn chat_request<'a>(model: &'a str, request: &'a CompletionRequest) -> ChatRequest<'a> {
    ChatRequest {
        model,
        messages: [
            Message { role: "system", content: &request.system },
            Message { role: "user", content: &request.user },
        ],
        stream: false,
        format: request.json_schema.as_ref().map_or(Format::Json("json"), Format::Schema),
        options: Options { temperature: request.temperature, num_predict: request.max_tokens },
    }
}

fn completion(response: ChatResponse) -> Completion {
    Completion {
        text: response.message.content,
        prompt_tokens: response.prompt_eval_count,
        completion_tokens: response.eval_count,
        truncated: response.done_reason.as_deref() == Some("length"),
    }
}

pub(super) async fn complete(
    http: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
) -> Result<Completion, LlmError> {
    let url = http::url(http::base_url(endpoint)?, &["api", "chat"], &[])?;
    let mut headers = HeaderMap::new();
    if let Some(key) = endpoint.api_key.as_deref().filter(|k| !k.is_empty()) {
        headers.extend([http::secret_header("authorization", &format!("Bearer {key}"))?]);
    }
    let body = chat_request(&endpoint.model_name, request);
    Ok(completion(http::post_json(http, endpoint, url, headers, &body).await?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn asks_for_one_answer_in_the_schema_or_in_json() {
        let mut request = CompletionRequest {
            system: "sys".into(),
            user: "usr".into(),
            max_tokens: 9,
            temperature: 0.0,
            json_schema: Some(json!({"type": "object"})),
        };
        let body = serde_json::to_value(chat_request("llama3", &request)).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "llama3",
                "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "usr"}],
                "stream": false,
                "format": {"type": "object"},
                "options": {"temperature": 0.0, "num_predict": 9},
            })
        );
        request.json_schema = None;
        assert_eq!(serde_json::to_value(chat_request("llama3", &request)).unwrap()["format"], json!("json"));
    }

    #[test]
    fn reads_the_answer_and_its_counts() {
        let response: ChatResponse = serde_json::from_value(json!({
            "model": "llama3", "message": {"role": "assistant", "content": "[]"}, "done": true,
            "done_reason": "length", "prompt_eval_count": 4, "eval_count": 1
        }))
        .unwrap();
        assert_eq!(
            completion(response),
            Completion { text: "[]".into(), prompt_tokens: 4, completion_tokens: 1, truncated: true }
        );
        let cached: ChatResponse =
            serde_json::from_value(json!({"message": {"content": "{}"}, "done_reason": "stop"})).unwrap();
        assert_eq!(
            completion(cached),
            Completion { text: "{}".into(), prompt_tokens: 0, completion_tokens: 0, truncated: false }
        );
    }
}
