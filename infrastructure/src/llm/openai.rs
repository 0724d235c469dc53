//! OpenAI chat completions (`POST {base}/chat/completions`, bearer key), also spoken by
//! OpenAI-compatible servers. The answer's form is asked for natively: a strict JSON schema
//! when the request has one, else JSON mode. Azure OpenAI speaks the same body (`azure`).
//! Reasoning models (the o-series: `o1`, `o3-mini`, `o4-mini`, ...; and `gpt-5*`) refuse
//! `max_tokens` and any temperature but their own: for them the limit is sent as
//! `max_completion_tokens` and the temperature is left out (`is_reasoning_model`, by the
//! model's name, or the Azure deployment's).

use nishan_domain::llm::{Completion, CompletionRequest, LlmError, ModelEndpoint};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::http;

/// The request body.
#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    /// Omitted for Azure, where the deployment in the URL names the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    pub messages: [Message<'a>; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Instead of `max_tokens`, for reasoning models (their limit covers the reasoning too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    pub response_format: ResponseFormat<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct Message<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ResponseFormat<'a> {
    JsonSchema {
        json_schema: JsonSchema<'a>,
    },
    /// JSON mode: any JSON object (the prompt must mention JSON).
    JsonObject,
}

#[derive(Debug, Serialize)]
pub(super) struct JsonSchema<'a> {
    pub name: &'static str,
    pub schema: &'a Value,
    pub strict: bool,
}

/// The response body, as far as it is read.
#[derive(Debug, Deserialize)]
pub(super) struct ChatResponse {
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Choice {
    pub message: AnswerMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AnswerMessage {
    #[serde(default)]
    pub content: Option<String>,
    /// Set instead of `content` when the model refuses (structured outputs).
    #[serde(default)]
    pub refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Usage {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
}

/// Whether a model (or Azure deployment) name is one of OpenAI's reasoning models: `o` and a
/// digit (`o1`, `o3-mini`, `o4-mini-2025-04-16`), or `gpt-5` (`gpt-5`, `gpt-5-mini`,
/// `gpt-5.1`), after any `openai/` prefix, in any case.
pub(super) fn is_reasoning_model(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_prefix("openai/").unwrap_or(&name);
    let mut chars = name.chars();
    (chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit())) || name.starts_with("gpt-5")
}

/// The body of a chat completion for `request` to the model (or deployment) `name`; `model`
/// is what the body names (none for Azure).
pub(super) fn chat_request<'a>(model: Option<&'a str>, name: &str, request: &'a CompletionRequest) -> ChatRequest<'a> {
    let reasoning = is_reasoning_model(name);
    ChatRequest {
        model,
        messages: [
            Message { role: "system", content: &request.system },
            Message { role: "user", content: &request.user },
        ],
        temperature: (!reasoning).then_some(request.temperature),
        max_tokens: (!reasoning).then_some(request.max_tokens),
        max_completion_tokens: reasoning.then_some(request.max_tokens),
        response_format: match &request.json_schema {
            Some(schema) => {
                ResponseFormat::JsonSchema { json_schema: JsonSchema { name: "entities", schema, strict: true } }
            }
            None => ResponseFormat::JsonObject,
        },
    }
}

/// The completion in a response.
pub(super) fn completion(response: ChatResponse) -> Result<Completion, LlmError> {
    let choice =
        response.choices.into_iter().next().ok_or_else(|| LlmError::Protocol("no choices in the answer".into()))?;
    let text = match (choice.message.content, choice.message.refusal) {
        (Some(text), _) => text,
        (None, Some(refusal)) => return Err(LlmError::Protocol(format!("the model refused: {refusal}"))),
        (None, None) => String::new(),
    };
    let usage = response.usage.unwrap_or(Usage { prompt_tokens: 0, completion_tokens: 0 });
    Ok(Completion {
        text,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        truncated: choice.finish_reason.as_deref() == Some("length"),
    })
}

/// One call to OpenAI or an OpenAI-compatible server; the key is optional for the latter.
pub(super) async fn complete(
    http: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
) -> Result<Completion, LlmError> {
    let url = http::url(http::base_url(endpoint)?, &["chat", "completions"], &[])?;
    let mut headers = HeaderMap::new();
    if let Some(key) = endpoint.api_key.as_deref().filter(|k| !k.is_empty()) {
        headers.extend([http::secret_header("authorization", &format!("Bearer {key}"))?]);
    }
    let body = chat_request(Some(&endpoint.model_name), &endpoint.model_name, request);
    completion(http::post_json(http, endpoint, url, headers, &body).await?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(schema: Option<Value>) -> CompletionRequest {
        CompletionRequest {
            system: "sys".into(),
            user: "usr".into(),
            max_tokens: 50,
            temperature: 0.0,
            json_schema: schema,
        }
    }

    #[test]
    fn asks_for_the_schema_strictly_or_for_json_mode() {
        let schema = json!({"type": "object"});
        let with = request(Some(schema.clone()));
        let body = serde_json::to_value(chat_request(Some("gpt-4o-mini"), "gpt-4o-mini", &with)).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "usr"}],
                "temperature": 0.0,
                "max_tokens": 50,
                "response_format": {"type": "json_schema", "json_schema": {"name": "entities", "schema": schema, "strict": true}},
            })
        );
        let without = request(None);
        let body = serde_json::to_value(chat_request(None, "my-deployment", &without)).unwrap();
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert!(body.get("model").is_none());
    }

    #[test]
    fn reasoning_models_get_max_completion_tokens_and_no_temperature() {
        for name in ["o1", "o1-mini", "o3-mini", "o4-mini-2025-04-16", "gpt-5", "gpt-5-mini", "GPT-5.1", "openai/o3"] {
            assert!(is_reasoning_model(name), "{name}");
            let body = serde_json::to_value(chat_request(Some(name), name, &request(None))).unwrap();
            assert_eq!(body["max_completion_tokens"], 50, "{name}");
            assert!(body.get("max_tokens").is_none() && body.get("temperature").is_none(), "{name}: {body}");
        }
        for name in ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "omni-moderation", "llama3", "o"] {
            assert!(!is_reasoning_model(name), "{name}");
        }
    }

    #[test]
    fn reads_the_answer_tokens_and_cut_off() {
        let response: ChatResponse = serde_json::from_value(json!({
            "id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "{}"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
        }))
        .unwrap();
        assert_eq!(
            completion(response).unwrap(),
            Completion { text: "{}".into(), prompt_tokens: 12, completion_tokens: 3, truncated: true }
        );
        let refused: ChatResponse =
            serde_json::from_value(json!({"choices": [{"message": {"content": null, "refusal": "no"}}]})).unwrap();
        assert_eq!(completion(refused), Err(LlmError::Protocol("the model refused: no".into())));
        let empty: ChatResponse = serde_json::from_value(json!({"choices": []})).unwrap();
        assert!(matches!(completion(empty), Err(LlmError::Protocol(_))));
    }
}
