//! Embedding clients, in each provider's wire format: OpenAI `POST /embeddings` (and
//! compatible servers) and Azure's deployment `.../embeddings?api-version=` (`{model, input:
//! [...]}` → `data[].embedding` by `index`, `usage.prompt_tokens`), Gemini `embedContent` for
//! one text and `batchEmbedContents` for more (`embedding.values` / `embeddings[].values`), and
//! Ollama `POST /api/embed` (`{model, input}` → `embeddings`, `prompt_eval_count`). Anthropic
//! has no embeddings, and the built-in embedding is computed in the domain: both are refused.

use nishan_domain::llm::embed::{EmbeddingClient, Embeddings};
use nishan_domain::llm::{LlmError, ModelEndpoint, Provider};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{ProviderClient, http};

fn vector(v: &Value) -> Option<Vec<f32>> {
    v.as_array()?.iter().map(|x| x.as_f64().map(|f| f as f32)).collect()
}

fn tokens(v: &Value) -> u32 {
    v.as_u64().map_or(0, |n| n.min(u64::from(u32::MAX)) as u32)
}

/// The vectors of an answer, checked: one per input.
fn checked(vectors: Option<Vec<Vec<f32>>>, inputs: usize, prompt_tokens: u32) -> Result<Embeddings, LlmError> {
    match vectors {
        Some(vectors) if vectors.len() == inputs => Ok(Embeddings { vectors, prompt_tokens }),
        Some(vectors) => {
            Err(LlmError::Protocol(format!("{} vectors in the answer for {inputs} inputs", vectors.len())))
        }
        None => Err(LlmError::Protocol("the answer holds no vectors".into())),
    }
}

/// OpenAI's `data` list, put in `index` order.
fn openai_vectors(answer: &Value) -> Option<Vec<Vec<f32>>> {
    let mut data: Vec<(u64, Vec<f32>)> = answer["data"]
        .as_array()?
        .iter()
        .enumerate()
        .map(|(i, d)| Some((d["index"].as_u64().unwrap_or(i as u64), vector(&d["embedding"])?)))
        .collect::<Option<_>>()?;
    data.sort_by_key(|(i, _)| *i);
    Some(data.into_iter().map(|(_, v)| v).collect())
}

impl EmbeddingClient for ProviderClient {
    async fn embed(&self, endpoint: &ModelEndpoint, inputs: &[String]) -> Result<Embeddings, LlmError> {
        if inputs.is_empty() {
            return Ok(Embeddings { vectors: Vec::new(), prompt_tokens: 0 });
        }
        let mut headers = HeaderMap::new();
        match endpoint.provider {
            Provider::OpenAi | Provider::Azure => {
                let url = if endpoint.provider == Provider::Azure {
                    let version = endpoint
                        .api_version
                        .as_deref()
                        .filter(|v| !v.trim().is_empty())
                        .unwrap_or(super::azure::DEFAULT_API_VERSION);
                    headers.extend([http::secret_header("api-key", http::api_key(endpoint)?)?]);
                    http::url(
                        http::base_url(endpoint)?,
                        &["openai", "deployments", &endpoint.model_name, "embeddings"],
                        &[("api-version", version)],
                    )?
                } else {
                    if let Some(key) = endpoint.api_key.as_deref().filter(|k| !k.is_empty()) {
                        headers.extend([http::secret_header("authorization", &format!("Bearer {key}"))?]);
                    }
                    http::url(http::base_url(endpoint)?, &["embeddings"], &[])?
                };
                let body = json!({"model": endpoint.model_name, "input": inputs, "encoding_format": "float"});
                let answer: Value = http::post_json(&self.http, endpoint, url, headers, &body).await?;
                checked(openai_vectors(&answer), inputs.len(), tokens(&answer["usage"]["prompt_tokens"]))
            }
            Provider::Google => {
                headers.extend([http::secret_header("x-goog-api-key", http::api_key(endpoint)?)?]);
                let model = endpoint.model_name.trim_start_matches("models/");
                let content = |text: &String| json!({"parts": [{"text": text}]});
                if let [one] = inputs {
                    let url = http::url(http::base_url(endpoint)?, &["models", &format!("{model}:embedContent")], &[])?;
                    let body = json!({"model": format!("models/{model}"), "content": content(one)});
                    let answer: Value = http::post_json(&self.http, endpoint, url, headers, &body).await?;
                    checked(vector(&answer["embedding"]["values"]).map(|v| vec![v]), 1, 0)
                } else {
                    let url =
                        http::url(http::base_url(endpoint)?, &["models", &format!("{model}:batchEmbedContents")], &[])?;
                    let requests: Vec<Value> = inputs
                        .iter()
                        .map(|t| json!({"model": format!("models/{model}"), "content": content(t)}))
                        .collect();
                    let answer: Value =
                        http::post_json(&self.http, endpoint, url, headers, &json!({"requests": requests})).await?;
                    let vectors = answer["embeddings"]
                        .as_array()
                        .and_then(|list| list.iter().map(|e| vector(&e["values"])).collect::<Option<Vec<_>>>());
                    checked(vectors, inputs.len(), 0)
                }
            }
            Provider::Local => {
                if let Some(key) = endpoint.api_key.as_deref().filter(|k| !k.is_empty()) {
                    headers.extend([http::secret_header("authorization", &format!("Bearer {key}"))?]);
                }
                let url = http::url(http::base_url(endpoint)?, &["api", "embed"], &[])?;
                let body = json!({"model": endpoint.model_name, "input": inputs});
                let answer: Value = http::post_json(&self.http, endpoint, url, headers, &body).await?;
                let vectors =
                    answer["embeddings"].as_array().and_then(|l| l.iter().map(vector).collect::<Option<Vec<_>>>());
                checked(vectors, inputs.len(), tokens(&answer["prompt_eval_count"]))
            }
            Provider::Anthropic => Err(http::refused("Anthropic serves no embeddings")),
            Provider::Builtin => Err(http::refused("the built-in embedding is computed in the server, not over HTTP")),
        }
    }
}
