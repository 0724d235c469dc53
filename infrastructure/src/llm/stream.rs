//! Streamed answers, in each provider's streaming wire format: OpenAI and Azure server-sent
//! events (`stream: true`, `stream_options.include_usage`, `data: {choices[0].delta.content}`
//! up to `data: [DONE]`), Anthropic's events (`message_start` with the input tokens,
//! `content_block_delta` with `text_delta`s, `message_delta` with the output tokens and the
//! stop reason), Gemini `streamGenerateContent?alt=sse` (each event a `GenerateContentResponse`
//! with its parts and the usage so far) and Ollama's NDJSON (`stream: true`, one JSON object a
//! line, the last with `done` and the counts). Each piece of text is given to `on_text` as it
//! arrives; the whole completion is returned at the end, as `complete` would return it.

use nishan_domain::llm::{Completion, CompletionRequest, LlmError, ModelEndpoint, Provider};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::{anthropic, gemini, http, ollama, openai};

/// What has been read of a streamed answer.
#[derive(Default)]
struct Read {
    text: String,
    prompt_tokens: u32,
    completion_tokens: u32,
    truncated: bool,
}

impl Read {
    fn push(&mut self, piece: &str, on_text: &(dyn Fn(&str) + Send + Sync)) {
        if !piece.is_empty() {
            self.text.push_str(piece);
            on_text(piece);
        }
    }

    fn done(self) -> Completion {
        Completion {
            text: self.text,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            truncated: self.truncated,
        }
    }
}

fn tokens(v: &Value) -> u32 {
    v.as_u64().map_or(0, |n| n.min(u64::from(u32::MAX)) as u32)
}

fn event(data: &str) -> Result<Value, LlmError> {
    serde_json::from_str(data).map_err(|e| LlmError::Protocol(format!("undecodable stream event ({e})")))
}

/// The data of a server-sent event line (`data: ...`), None for other lines.
fn sse_data(line: &str) -> Option<&str> {
    line.strip_prefix("data:").map(str::trim)
}

/// An `error` object inside a stream.
fn stream_error(v: &Value) -> Option<LlmError> {
    let error = v.get("error").filter(|e| !e.is_null())?;
    let message = error.get("message").and_then(Value::as_str).map_or_else(|| error.to_string(), str::to_owned);
    Some(LlmError::Server { status: 500, message: message.chars().take(500).collect() })
}

fn to_value<T: serde::Serialize>(body: &T) -> Result<Value, LlmError> {
    serde_json::to_value(body).map_err(|e| LlmError::Protocol(format!("could not write the request: {e}")))
}

/// One streamed call in the endpoint's provider's format.
pub(super) async fn stream(
    client: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
    on_text: &(dyn Fn(&str) + Send + Sync),
) -> Result<Completion, LlmError> {
    match endpoint.provider {
        Provider::OpenAi | Provider::Azure => openai_like(client, endpoint, request, on_text).await,
        Provider::Anthropic => anthropic_events(client, endpoint, request, on_text).await,
        Provider::Google => gemini_events(client, endpoint, request, on_text).await,
        Provider::Local => ollama_lines(client, endpoint, request, on_text).await,
        Provider::Builtin => Err(http::refused("the BUILTIN provider is not served over HTTP")),
    }
}

async fn openai_like(
    client: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
    on_text: &(dyn Fn(&str) + Send + Sync),
) -> Result<Completion, LlmError> {
    let mut headers = HeaderMap::new();
    let (url, mut body) = if endpoint.provider == Provider::Azure {
        let version = endpoint
            .api_version
            .as_deref()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or(super::azure::DEFAULT_API_VERSION);
        let url = http::url(
            http::base_url(endpoint)?,
            &["openai", "deployments", &endpoint.model_name, "chat", "completions"],
            &[("api-version", version)],
        )?;
        headers.extend([http::secret_header("api-key", http::api_key(endpoint)?)?]);
        (url, to_value(&openai::chat_request(None, &endpoint.model_name, request))?)
    } else {
        if let Some(key) = endpoint.api_key.as_deref().filter(|k| !k.is_empty()) {
            headers.extend([http::secret_header("authorization", &format!("Bearer {key}"))?]);
        }
        let url = http::url(http::base_url(endpoint)?, &["chat", "completions"], &[])?;
        (url, to_value(&openai::chat_request(Some(&endpoint.model_name), &endpoint.model_name, request))?)
    };
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let mut read = Read::default();
    http::post_lines(client, endpoint, url, headers, &body, |line| {
        let Some(data) = sse_data(line) else { return Ok(()) };
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let v = event(data)?;
        if let Some(e) = stream_error(&v) {
            return Err(e);
        }
        if let Some(choice) = v["choices"].get(0) {
            if let Some(piece) = choice["delta"]["content"].as_str() {
                read.push(piece, on_text);
            }
            if choice["finish_reason"] == "length" {
                read.truncated = true;
            }
        }
        if v["usage"].is_object() {
            read.prompt_tokens = tokens(&v["usage"]["prompt_tokens"]);
            read.completion_tokens = tokens(&v["usage"]["completion_tokens"]);
        }
        Ok(())
    })
    .await?;
    Ok(read.done())
}

async fn anthropic_events(
    client: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
    on_text: &(dyn Fn(&str) + Send + Sync),
) -> Result<Completion, LlmError> {
    let url = http::url(http::base_url(endpoint)?, &["messages"], &[])?;
    let headers = HeaderMap::from_iter([
        http::secret_header("x-api-key", http::api_key(endpoint)?)?,
        (HeaderName::from_static("anthropic-version"), HeaderValue::from_static(anthropic::API_VERSION)),
    ]);
    let mut body = to_value(&anthropic::messages_request(&endpoint.model_name, request))?;
    body["stream"] = json!(true);
    let mut read = Read::default();
    http::post_lines(client, endpoint, url, headers, &body, |line| {
        let Some(data) = sse_data(line) else { return Ok(()) };
        if data.is_empty() {
            return Ok(());
        }
        let v = event(data)?;
        match v["type"].as_str() {
            Some("message_start") => {
                read.prompt_tokens = tokens(&v["message"]["usage"]["input_tokens"]);
                read.completion_tokens = tokens(&v["message"]["usage"]["output_tokens"]);
            }
            Some("content_block_delta") if v["delta"]["type"] == "text_delta" => {
                read.push(v["delta"]["text"].as_str().unwrap_or_default(), on_text);
            }
            Some("message_delta") => {
                if v["usage"]["output_tokens"].is_u64() {
                    read.completion_tokens = tokens(&v["usage"]["output_tokens"]);
                }
                if v["delta"]["stop_reason"] == "max_tokens" {
                    read.truncated = true;
                }
            }
            Some("error") => return Err(stream_error(&v).unwrap_or(LlmError::Protocol("a stream error".into()))),
            _ => {}
        }
        Ok(())
    })
    .await?;
    Ok(read.done())
}

async fn gemini_events(
    client: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
    on_text: &(dyn Fn(&str) + Send + Sync),
) -> Result<Completion, LlmError> {
    let model = endpoint.model_name.trim_start_matches("models/");
    let url = http::url(
        http::base_url(endpoint)?,
        &["models", &format!("{model}:streamGenerateContent")],
        &[("alt", "sse")],
    )?;
    let headers = HeaderMap::from_iter([http::secret_header("x-goog-api-key", http::api_key(endpoint)?)?]);
    let body = gemini::generate_request(request);
    let mut read = Read::default();
    http::post_lines(client, endpoint, url, headers, &body, |line| {
        let Some(data) = sse_data(line) else { return Ok(()) };
        if data.is_empty() {
            return Ok(());
        }
        let v = event(data)?;
        if let Some(e) = stream_error(&v) {
            return Err(e);
        }
        if let Some(candidate) = v["candidates"].get(0) {
            for part in candidate["content"]["parts"].as_array().into_iter().flatten() {
                if part["thought"] != json!(true) {
                    read.push(part["text"].as_str().unwrap_or_default(), on_text);
                }
            }
            if candidate["finishReason"] == "MAX_TOKENS" {
                read.truncated = true;
            }
        }
        let usage = &v["usageMetadata"];
        if usage.is_object() {
            read.prompt_tokens = tokens(&usage["promptTokenCount"]);
            read.completion_tokens =
                tokens(&usage["candidatesTokenCount"]).saturating_add(tokens(&usage["thoughtsTokenCount"]));
        }
        Ok(())
    })
    .await?;
    Ok(read.done())
}

async fn ollama_lines(
    client: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
    on_text: &(dyn Fn(&str) + Send + Sync),
) -> Result<Completion, LlmError> {
    let url = http::url(http::base_url(endpoint)?, &["api", "chat"], &[])?;
    let mut headers = HeaderMap::new();
    if let Some(key) = endpoint.api_key.as_deref().filter(|k| !k.is_empty()) {
        headers.extend([http::secret_header("authorization", &format!("Bearer {key}"))?]);
    }
    let mut body = to_value(&ollama::chat_request(&endpoint.model_name, request))?;
    body["stream"] = json!(true);
    let mut read = Read::default();
    http::post_lines(client, endpoint, url, headers, &body, |line| {
        if line.trim().is_empty() {
            return Ok(());
        }
        let v = event(line)?;
        if let Some(message) = v.get("error").and_then(Value::as_str) {
            return Err(LlmError::Server { status: 500, message: message.chars().take(500).collect() });
        }
        read.push(v["message"]["content"].as_str().unwrap_or_default(), on_text);
        if v["done"] == json!(true) {
            read.prompt_tokens = tokens(&v["prompt_eval_count"]);
            read.completion_tokens = tokens(&v["eval_count"]);
            read.truncated = v["done_reason"] == "length";
        }
        Ok(())
    })
    .await?;
    Ok(read.done())
}
