//! Google Gemini `generateContent` (`POST {base}/models/{model}:generateContent`). The key
//! goes in the `x-goog-api-key` header, which Gemini accepts as well as `?key=`, so that it
//! never appears in a URL (nor in logs or errors that show one). JSON output is asked for
//! with `responseMimeType`, and the schema as `responseSchema`, translated to the OpenAPI
//! subset Gemini takes.

use nishan_domain::llm::{Completion, CompletionRequest, LlmError, ModelEndpoint};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::http;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateRequest<'a> {
    system_instruction: Content<'a>,
    contents: [Content<'a>; 1],
    generation_config: GenerationConfig,
}

#[derive(Debug, Serialize)]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: [Part<'a>; 1],
}

#[derive(Debug, Serialize)]
struct Part<'a> {
    text: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    temperature: f32,
    max_output_tokens: u32,
    response_mime_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_schema: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<CandidateContent>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<AnswerPart>,
}

#[derive(Debug, Deserialize)]
struct AnswerPart {
    #[serde(default)]
    text: Option<String>,
    /// A thinking model's thought summary, not the answer.
    #[serde(default)]
    thought: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u32,
    #[serde(default)]
    candidates_token_count: u32,
    /// Thinking tokens, billed as output but not counted in `candidatesTokenCount`.
    #[serde(default)]
    thoughts_token_count: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

pub(super) fn generate_request(request: &CompletionRequest) -> GenerateRequest<'_> {
    GenerateRequest {
        system_instruction: Content { role: None, parts: [Part { text: &request.system }] },
        contents: [Content { role: Some("user"), parts: [Part { text: &request.user }] }],
        generation_config: GenerationConfig {
            temperature: request.temperature,
            max_output_tokens: request.max_tokens,
            response_mime_type: "application/json",
            response_schema: request.json_schema.as_ref().map(openapi_schema),
        },
    }
}

/// A JSON Schema as Gemini's `Schema` object: the keywords it knows, types upper-cased;
/// others (`additionalProperties`, `$schema`, ...) dropped, as Gemini refuses unknown fields.
fn openapi_schema(schema: &Value) -> Value {
    let Value::Object(o) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (key, value) in o {
        let value = match key.as_str() {
            "type" => value.as_str().map_or_else(|| value.clone(), |t| Value::String(t.to_uppercase())),
            "items" => openapi_schema(value),
            "properties" => match value {
                Value::Object(props) => props.iter().map(|(k, v)| (k.clone(), openapi_schema(v))).collect(),
                _ => value.clone(),
            },
            "description" | "enum" | "required" | "format" | "nullable" | "minimum" | "maximum" | "minItems"
            | "maxItems" => value.clone(),
            _ => continue,
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn completion(response: GenerateResponse) -> Result<Completion, LlmError> {
    let usage = response.usage_metadata.unwrap_or(UsageMetadata {
        prompt_token_count: 0,
        candidates_token_count: 0,
        thoughts_token_count: 0,
    });
    let Some(candidate) = response.candidates.into_iter().next() else {
        let reason = response.prompt_feedback.and_then(|f| f.block_reason).unwrap_or_else(|| "no reason given".into());
        return Err(LlmError::Protocol(format!("no candidates in the answer (prompt blocked: {reason})")));
    };
    let text: String = candidate
        .content
        .map(|c| c.parts)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !p.thought)
        .filter_map(|p| p.text)
        .collect();
    match candidate.finish_reason.as_deref() {
        // Stopped by a safety filter, recitation check, ...: there is no answer to parse.
        Some(reason) if text.is_empty() && !matches!(reason, "STOP" | "MAX_TOKENS") => {
            return Err(LlmError::Protocol(format!("the model gave no answer (finish reason {reason})")));
        }
        _ => {}
    }
    Ok(Completion {
        text,
        prompt_tokens: usage.prompt_token_count,
        completion_tokens: usage.candidates_token_count.saturating_add(usage.thoughts_token_count),
        truncated: candidate.finish_reason.as_deref() == Some("MAX_TOKENS"),
    })
}

pub(super) async fn complete(
    http: &reqwest::Client,
    endpoint: &ModelEndpoint,
    request: &CompletionRequest,
) -> Result<Completion, LlmError> {
    // The model may be given as Gemini names it in lists: `models/gemini-...`.
    let model = endpoint.model_name.trim_start_matches("models/");
    let url = http::url(http::base_url(endpoint)?, &["models", &format!("{model}:generateContent")], &[])?;
    let headers = HeaderMap::from_iter([http::secret_header("x-goog-api-key", http::api_key(endpoint)?)?]);
    completion(http::post_json(http, endpoint, url, headers, &generate_request(request)).await?)
}

#[cfg(test)]
mod tests {
    use nishan_domain::llm::output::entities_json_schema;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_schema_becomes_gemini_s_subset() {
        let schema = openapi_schema(&entities_json_schema(&["PERSON"]));
        assert_eq!(
            schema,
            json!({
                "type": "OBJECT",
                "properties": {"entities": {"type": "ARRAY", "items": {
                    "type": "OBJECT",
                    "properties": {
                        "text": {"type": "STRING", "description": "The entity exactly as written in the text."},
                        "type": {"type": "STRING", "enum": ["PERSON"]},
                        "confidence": {"type": "NUMBER", "minimum": 0, "maximum": 1},
                    },
                    "required": ["text", "type", "confidence"],
                }}},
                "required": ["entities"],
            })
        );
    }

    #[test]
    fn the_request_has_a_system_instruction_and_json_output() {
        let request = CompletionRequest {
            system: "sys".into(),
            user: "usr".into(),
            max_tokens: 9,
            temperature: 0.0,
            json_schema: Some(json!({"type": "object"})),
        };
        let body = serde_json::to_value(generate_request(&request)).unwrap();
        assert_eq!(
            body,
            json!({
                "systemInstruction": {"parts": [{"text": "sys"}]},
                "contents": [{"role": "user", "parts": [{"text": "usr"}]}],
                "generationConfig": {"temperature": 0.0, "maxOutputTokens": 9, "responseMimeType": "application/json",
                                     "responseSchema": {"type": "OBJECT"}},
            })
        );
    }

    #[test]
    fn reads_the_answer_without_thoughts() {
        let response: GenerateResponse = serde_json::from_value(json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "thinking", "thought": true}, {"text": "[]"}]},
                            "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "thoughtsTokenCount": 10}
        }))
        .unwrap();
        assert_eq!(
            completion(response).unwrap(),
            Completion { text: "[]".into(), prompt_tokens: 5, completion_tokens: 12, truncated: true }
        );
    }

    #[test]
    fn a_blocked_answer_is_a_protocol_error() {
        let blocked: GenerateResponse =
            serde_json::from_value(json!({"promptFeedback": {"blockReason": "SAFETY"}})).unwrap();
        assert_eq!(
            completion(blocked),
            Err(LlmError::Protocol("no candidates in the answer (prompt blocked: SAFETY)".into()))
        );
        let stopped: GenerateResponse =
            serde_json::from_value(json!({"candidates": [{"finishReason": "RECITATION"}]})).unwrap();
        assert_eq!(
            completion(stopped),
            Err(LlmError::Protocol("the model gave no answer (finish reason RECITATION)".into()))
        );
    }
}
