//! The embedding clients against the mock model server, in each provider's wire format
//! (OpenAI `/v1/embeddings`, Azure's deployment `embeddings`, Gemini `embedContent` and
//! `batchEmbedContents`, Ollama `/api/embed`): what is sent, how the vectors (in input order)
//! and tokens are read, and failures.

use crate::common;

use common::mock_llm::{Behaviour, MOCK_API_KEY, MockLlm, mock_vector};
use nishan_domain::llm::embed::EmbeddingClient;
use nishan_domain::llm::{LlmError, Provider};
use nishan_infrastructure::llm::{ClientOptions, ProviderClient};
use serde_json::json;

fn inputs() -> Vec<String> {
    vec!["حسینؑ ابن علیؑ کربلا میں".into(), "عباسؑ فرات پر".into(), "زینب".into()]
}

fn expected(texts: &[String]) -> Vec<Vec<f32>> {
    texts.iter().map(|t| mock_vector(t).into_iter().map(|x| x as f32).collect()).collect()
}

#[tokio::test]
async fn every_provider_embeds_in_its_wire_format() {
    let mock = MockLlm::start().await;
    let client = ProviderClient::new(ClientOptions::default()).unwrap();
    for (provider, path, key_header) in [
        (Provider::OpenAi, "/v1/embeddings", "authorization"),
        (Provider::Azure, "/openai/deployments/embedder/embeddings", "api-key"),
        (Provider::Google, "/v1beta/models/embedder:batchEmbedContents", "x-goog-api-key"),
        (Provider::Local, "/api/embed", "authorization"),
    ] {
        let endpoint = mock.endpoint(provider, "embedder");
        let texts = inputs();
        let got = client.embed(&endpoint, &texts).await.unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        assert_eq!(got.vectors, expected(&texts), "{provider:?}: in input order");
        let request = mock.last_request();
        assert_eq!(request.path, path, "{provider:?}");
        assert!(request.header(key_header).unwrap().contains(MOCK_API_KEY), "{provider:?}");
        match provider {
            Provider::Google => {
                assert_eq!(request.body["requests"][1]["content"]["parts"][0]["text"], "عباسؑ فرات پر");
                assert_eq!(request.body["requests"][0]["model"], "models/embedder");
                assert_eq!(got.prompt_tokens, 0, "Gemini reports no tokens for embeddings");
            }
            _ => {
                assert_eq!(request.body["input"], json!(texts), "{provider:?}");
                let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
                assert_eq!(got.prompt_tokens as usize, chars, "{provider:?}");
            }
        }
        if provider == Provider::Azure {
            assert_eq!(request.query.as_deref(), Some("api-version=2024-10-21"));
        }
        if provider != Provider::Google {
            assert_eq!(request.body["model"], "embedder", "{provider:?}");
        }
    }
    // One text to Gemini: embedContent.
    let endpoint = mock.endpoint(Provider::Google, "embedder");
    let one = vec!["کربلا".to_owned()];
    assert_eq!(client.embed(&endpoint, &one).await.unwrap().vectors, expected(&one));
    assert_eq!(mock.last_request().path, "/v1beta/models/embedder:embedContent");
    // Nothing to embed: no call.
    let before = mock.request_count();
    assert!(client.embed(&endpoint, &[]).await.unwrap().vectors.is_empty());
    assert_eq!(mock.request_count(), before);
}

#[tokio::test]
async fn failures_become_llm_errors() {
    let mock = MockLlm::start().await;
    let client = ProviderClient::new(ClientOptions::default()).unwrap();
    mock.push(Behaviour::server_error());
    let err = client.embed(&mock.endpoint(Provider::OpenAi, "embedder"), &inputs()).await.unwrap_err();
    assert!(matches!(err, LlmError::Server { status: 500, .. }), "{err:?}");
    mock.push(Behaviour::error(400, "bad input"));
    let err = client.embed(&mock.endpoint(Provider::Local, "embedder"), &inputs()).await.unwrap_err();
    assert!(matches!(err, LlmError::Client { status: 400, .. }), "{err:?}");
    for provider in [Provider::Anthropic, Provider::Builtin] {
        let err = client.embed(&mock.endpoint(provider, "embedder"), &inputs()).await.unwrap_err();
        assert!(matches!(err, LlmError::Client { status: 0, .. }), "{provider:?}: {err:?}");
    }
}
