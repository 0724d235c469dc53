//! OpenAI chat completions (`POST {base}/chat/completions`, bearer key), also spoken by
//! OpenAI-compatible servers. The answer's form is asked for natively: a strict JSON schema
//! when the request has one, else JSON mode. Azure OpenAI speaks the same body (`azure`).

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
    pub temperature: f32,
    pub max_tokens: u32,
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

/// The body of a chat completion for `request`.
pub(super) fn chat_request<'a>(model: Option<&'a str>, request: &'a CompletionRequest) -> ChatRequest<'a> {
    ChatRequest {
        model,
        messages: [
            Message { role: "system", content: &request.system },
            Message { role: "user", content: &request.user },
        ],
        temperature: request.temperature,
        max_tokens: request.max_tokens,
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
    let body = chat_request(Some(&endpoint.model_name), request);
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
        let body = serde_json::to_value(chat_request(Some("gpt-4o-mini"), &with)).unwrap();
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
        let body = serde_json::to_value(chat_request(None, &without)).unwrap();
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert!(body.get("model").is_none());
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
