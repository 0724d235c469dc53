//! The model provider clients against the mock model server: each provider's wire format
//! (what is sent, how the answer and its token counts are read), and how every kind of
//! failure (429 with a wait, 5xx, timeouts, refused connections, bodies that are not the
//! provider's, a bad key) becomes an `LlmError`, without the key ever showing.

use crate::common;

use std::time::{Duration, Instant};

use common::mock_llm::{Behaviour, MOCK_API_KEY, MockLlm};
use nishan_domain::llm::output::{Suggestion, entities_json_schema, parse_suggestions, repair_request};
use nishan_domain::llm::retry::RetryPolicy;
use nishan_domain::llm::{Completion, CompletionRequest, LlmClient, LlmError, ModelEndpoint, Provider};
use nishan_infrastructure::llm::{ClientOptions, ProviderClient};
use serde_json::json;

const TYPES: [&str; 3] = ["PERSON", "LOCATION", "ORGANIZATION"];

const HTTP_PROVIDERS: [Provider; 5] =
    [Provider::OpenAi, Provider::Azure, Provider::Anthropic, Provider::Google, Provider::Local];

const SYSTEM: &str = "Find the named entities of the Urdu text. Answer in JSON.";
const USER: &str = "Text:\nعباس علمدار کی درگاہ کے صدقے\nحسینؑ ابن علی، کربلا میں";

fn client() -> ProviderClient {
    ProviderClient::new(ClientOptions::default()).unwrap()
}

fn request() -> CompletionRequest {
    CompletionRequest {
        system: SYSTEM.into(),
        user: USER.into(),
        max_tokens: 512,
        temperature: 0.0,
        json_schema: Some(entities_json_schema(&TYPES)),
    }
}

fn model_of(provider: Provider) -> &'static str {
    match provider {
        Provider::OpenAi => "gpt-4o-mini",
        Provider::Azure => "my-deployment",
        Provider::Anthropic => "claude-haiku",
        Provider::Google => "gemini-2.0-flash",
        Provider::Local | Provider::Builtin => "llama3",
    }
}

async fn call(mock: &MockLlm, provider: Provider) -> Result<Completion, LlmError> {
    client().complete(&mock.endpoint(provider, model_of(provider)), &request()).await
}

fn suggestion(text: &str, entity_type: &str) -> Suggestion {
    Suggestion { text: text.into(), entity_type: entity_type.into(), confidence: Some(0.9) }
}

/// The lexicon's names in `USER`, as the mock answers them.
fn expected_suggestions() -> Vec<Suggestion> {
    vec![suggestion("حسین", "PERSON"), suggestion("عباس", "PERSON"), suggestion("کربلا", "LOCATION")]
}

#[tokio::test]
async fn every_provider_answers_with_content_and_token_counts() {
    let mock = MockLlm::start().await;
    for provider in HTTP_PROVIDERS {
        let completion = call(&mock, provider).await.unwrap_or_else(|e| panic!("{provider:?}: {e}"));
        let parsed = parse_suggestions(&completion.text, &TYPES).unwrap();
        assert_eq!(parsed.suggestions, expected_suggestions(), "{provider:?}");
        // The mock counts characters: prompts in, answer out.
        let prompt = SYSTEM.chars().count() + USER.chars().count();
        assert_eq!(completion.prompt_tokens as usize, prompt, "{provider:?}");
        assert_eq!(completion.completion_tokens as usize, completion.text.chars().count(), "{provider:?}");
        assert!(!completion.truncated);
        let sent = mock.last_request();
        assert_eq!(sent.provider, Some(provider));
        assert_eq!(sent.method, "POST");
        assert_eq!(sent.system_prompt().as_deref(), Some(SYSTEM), "{provider:?}");
        assert_eq!(sent.user_prompt().as_deref(), Some(USER), "{provider:?}");
        assert_eq!(sent.header("content-type"), Some("application/json"));
    }
    assert_eq!(mock.request_count(), HTTP_PROVIDERS.len());
}

#[tokio::test]
async fn openai_sends_a_bearer_key_and_a_strict_schema() {
    let mock = MockLlm::start().await;
    call(&mock, Provider::OpenAi).await.unwrap();
    let sent = mock.last_request();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {MOCK_API_KEY}").as_str()));
    assert_eq!(sent.body["model"], "gpt-4o-mini");
    assert_eq!(sent.body["max_tokens"], 512);
    assert_eq!(sent.body["temperature"], 0.0);
    assert_eq!(sent.body["messages"][0]["role"], "system");
    assert_eq!(sent.body["messages"][1]["role"], "user");
    assert_eq!(
        sent.body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "entities", "schema": entities_json_schema(&TYPES), "strict": true}})
    );
    // Without a schema: JSON mode. An OpenAI-compatible server may need no key.
    let mut endpoint = mock.endpoint(Provider::OpenAi, "local-model");
    endpoint.api_key = None;
    let plain = CompletionRequest { json_schema: None, ..request() };
    client().complete(&endpoint, &plain).await.unwrap();
    let sent = mock.last_request();
    assert_eq!(sent.body["response_format"], json!({"type": "json_object"}));
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn reasoning_models_get_max_completion_tokens() {
    let mock = MockLlm::start().await;
    for (provider, model) in
        [(Provider::OpenAi, "o3-mini"), (Provider::OpenAi, "gpt-5-mini"), (Provider::Azure, "o4-mini")]
    {
        let completion = client().complete(&mock.endpoint(provider, model), &request()).await;
        let completion =
            completion.unwrap_or_else(|e| panic!("{model}: the mock refused the request as OpenAI does: {e}"));
        assert_eq!(parse_suggestions(&completion.text, &TYPES).unwrap().suggestions, expected_suggestions());
        let sent = mock.last_request();
        assert_eq!(sent.body["max_completion_tokens"], 512, "{model}");
        assert!(sent.body.get("max_tokens").is_none() && sent.body.get("temperature").is_none(), "{model}");
    }
    // The mock does refuse the old parameter for such a model, as OpenAI does.
    let refused = reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url(Provider::OpenAi)))
        .json(&json!({"model": "o1", "max_tokens": 10, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    // Other models keep max_tokens and their temperature.
    call(&mock, Provider::OpenAi).await.unwrap();
    assert_eq!(mock.last_request().body["max_tokens"], 512);
}

#[tokio::test]
async fn azure_posts_to_the_deployment_with_an_api_key_header() {
    let mock = MockLlm::start().await;
    call(&mock, Provider::Azure).await.unwrap();
    let sent = mock.last_request();
    assert_eq!(sent.path, "/openai/deployments/my-deployment/chat/completions");
    assert_eq!(sent.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(sent.header("api-key"), Some(MOCK_API_KEY));
    assert_eq!(sent.header("authorization"), None);
    assert!(sent.body.get("model").is_none(), "the deployment names the model");
    assert_eq!(sent.body["response_format"]["type"], "json_schema");
    // The default API version when the endpoint names none.
    let mut endpoint = mock.endpoint(Provider::Azure, "my-deployment");
    endpoint.api_version = None;
    client().complete(&endpoint, &request()).await.unwrap();
    assert_eq!(mock.last_request().query.as_deref(), Some("api-version=2024-10-21"));
}

#[tokio::test]
async fn anthropic_sends_its_headers_and_a_top_level_system_prompt() {
    let mock = MockLlm::start().await;
    call(&mock, Provider::Anthropic).await.unwrap();
    let sent = mock.last_request();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(MOCK_API_KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.body["system"], SYSTEM);
    assert_eq!(sent.body["messages"], json!([{"role": "user", "content": USER}]));
    assert_eq!(sent.body["model"], "claude-haiku");
    assert_eq!(sent.body["max_tokens"], 512);
}

#[tokio::test]
async fn gemini_keeps_the_key_out_of_the_url_and_asks_for_json() {
    let mock = MockLlm::start().await;
    call(&mock, Provider::Google).await.unwrap();
    let sent = mock.last_request();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_eq!(sent.query, None);
    assert_eq!(sent.header("x-goog-api-key"), Some(MOCK_API_KEY));
    let config = &sent.body["generationConfig"];
    assert_eq!(config["responseMimeType"], "application/json");
    assert_eq!(config["maxOutputTokens"], 512);
    assert_eq!(config["responseSchema"]["type"], "OBJECT");
    assert_eq!(config["responseSchema"]["properties"]["entities"]["items"]["properties"]["type"]["enum"], json!(TYPES));
    assert_eq!(sent.body["contents"][0]["role"], "user");
    // `models/...` as Gemini lists its models is accepted too.
    let endpoint = mock.endpoint(Provider::Google, "models/gemini-2.0-flash");
    client().complete(&endpoint, &request()).await.unwrap();
    assert_eq!(mock.last_request().path, "/v1beta/models/gemini-2.0-flash:generateContent");
}

#[tokio::test]
async fn ollama_asks_for_one_answer_in_the_schema() {
    let mock = MockLlm::start().await;
    let mut endpoint = mock.endpoint(Provider::Local, "llama3");
    endpoint.api_key = None;
    client().complete(&endpoint, &request()).await.unwrap();
    let sent = mock.last_request();
    assert_eq!(sent.path, "/api/chat");
    assert_eq!(sent.body["stream"], false);
    assert_eq!(sent.body["format"], entities_json_schema(&TYPES));
    assert_eq!(sent.body["options"], json!({"temperature": 0.0, "num_predict": 512}));
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn the_mock_answers_only_the_types_the_schema_allows() {
    let mock = MockLlm::start().await;
    let only_places = CompletionRequest { json_schema: Some(entities_json_schema(&["LOCATION"])), ..request() };
    let completion = client().complete(&mock.endpoint(Provider::OpenAi, "m"), &only_places).await.unwrap();
    assert_eq!(parse_suggestions(&completion.text, &TYPES).unwrap().suggestions, [suggestion("کربلا", "LOCATION")]);
}

#[tokio::test]
async fn a_cut_off_answer_is_marked_truncated() {
    let mock = MockLlm::start().await;
    for provider in HTTP_PROVIDERS {
        mock.push(Behaviour::Truncated(r#"{"entities": [{"text": "حس"#.into()));
        let completion = call(&mock, provider).await.unwrap();
        assert!(completion.truncated, "{provider:?}");
        assert_eq!(completion.text, r#"{"entities": [{"text": "حس"#);
    }
}

#[tokio::test]
async fn rate_limits_carry_the_wait_asked_for() {
    let mock = MockLlm::start().await;
    for provider in HTTP_PROVIDERS {
        mock.push(Behaviour::retry_after_secs("2"));
        assert_eq!(
            call(&mock, provider).await,
            Err(LlmError::RateLimited { retry_after: Some(Duration::from_secs(2)) }),
            "{provider:?}"
        );
        mock.push(Behaviour::retry_after_ms("1500"));
        assert_eq!(
            call(&mock, provider).await,
            Err(LlmError::RateLimited { retry_after: Some(Duration::from_millis(1500)) }),
            "{provider:?}"
        );
    }
    // An HTTP date, and no header at all.
    let in_a_minute = httpdate_in(Duration::from_secs(60));
    mock.push(Behaviour::RateLimited { retry_after: Some(in_a_minute), retry_after_ms: None });
    let Err(LlmError::RateLimited { retry_after: Some(wait) }) = call(&mock, Provider::OpenAi).await else {
        panic!("expected a rate limit with a wait")
    };
    assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60), "{wait:?}");
    mock.push(Behaviour::RateLimited { retry_after: None, retry_after_ms: None });
    assert_eq!(call(&mock, Provider::OpenAi).await, Err(LlmError::RateLimited { retry_after: None }));
}

/// An HTTP date `after` from now, in the IMF-fixdate form of `Retry-After`.
fn httpdate_in(after: Duration) -> String {
    let at = chrono::Utc::now() + after;
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn server_errors_are_retryable_and_carry_the_providers_message() {
    let mock = MockLlm::start().await;
    for provider in HTTP_PROVIDERS {
        mock.push(Behaviour::server_error());
        let error = call(&mock, provider).await.unwrap_err();
        assert_eq!(error, LlmError::Server { status: 500, message: "the mock is down".into() }, "{provider:?}");
        assert!(error.is_retryable());
    }
    for status in [408, 409, 502, 503, 529] {
        mock.push(Behaviour::error(status, "busy"));
        assert_eq!(call(&mock, Provider::Anthropic).await, Err(LlmError::Server { status, message: "busy".into() }));
    }
    mock.push(Behaviour::error(404, "model not found"));
    let error = call(&mock, Provider::Local).await.unwrap_err();
    assert_eq!(error, LlmError::Client { status: 404, message: "model not found".into() });
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_slow_model_times_out() {
    let mock = MockLlm::start().await;
    for provider in HTTP_PROVIDERS {
        mock.push(Behaviour::delay_ms(3000, Behaviour::Lexicon));
        let mut endpoint = mock.endpoint(provider, model_of(provider));
        endpoint.timeout = Duration::from_millis(300);
        let started = Instant::now();
        assert_eq!(client().complete(&endpoint, &request()).await, Err(LlmError::Timeout), "{provider:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
    // Slow, but within the timeout: answered.
    mock.push(Behaviour::delay_ms(100, Behaviour::Lexicon));
    assert!(call(&mock, Provider::OpenAi).await.is_ok());
}

#[tokio::test]
async fn the_read_timeout_of_the_client_applies_too() {
    let mock = MockLlm::start().await;
    mock.push(Behaviour::delay_ms(3000, Behaviour::Lexicon));
    let impatient = ProviderClient::new(ClientOptions {
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_millis(300),
    })
    .unwrap();
    let endpoint = mock.endpoint(Provider::OpenAi, "m");
    assert_eq!(impatient.complete(&endpoint, &request()).await, Err(LlmError::Timeout));
}

#[tokio::test]
async fn bodies_that_are_not_the_providers_are_protocol_errors() {
    let mock = MockLlm::start().await;
    for provider in HTTP_PROVIDERS {
        mock.push(Behaviour::MalformedBody);
        let error = call(&mock, provider).await.unwrap_err();
        assert!(matches!(&error, LlmError::Protocol(m) if m.contains("undecodable")), "{provider:?}: {error}");
        assert!(!error.is_retryable());
        mock.push(Behaviour::WrongBody);
        let error = call(&mock, provider).await.unwrap_err();
        assert!(matches!(&error, LlmError::Protocol(_)), "{provider:?}: {error}");
    }
}

#[tokio::test]
async fn a_bad_key_is_a_client_error_that_never_shows_the_key() {
    let mock = MockLlm::start().await;
    for provider in HTTP_PROVIDERS {
        mock.push(Behaviour::Unauthorized);
        let error = call(&mock, provider).await.unwrap_err();
        let LlmError::Client { status: 401, message } = &error else { panic!("{provider:?}: {error:?}") };
        assert!(message.starts_with("Incorrect API key provided: <redacted>"), "{provider:?}: {message}");
        // The mock did echo the key; neither the error nor its Debug form holds any of it.
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains(MOCK_API_KEY) && !shown.contains("sk-mock"), "{provider:?}: {shown}");
        }
        assert!(!error.is_retryable());
    }
    // The endpoint's Debug form redacts the key too.
    let endpoint = mock.endpoint(Provider::OpenAi, "m");
    assert!(!format!("{endpoint:?}").contains(MOCK_API_KEY));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_network_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    for provider in HTTP_PROVIDERS {
        let endpoint = ModelEndpoint {
            provider,
            model_name: "m".into(),
            api_base_url: Some(format!("http://127.0.0.1:{port}/v1")),
            api_key: Some(MOCK_API_KEY.into()),
            api_version: None,
            timeout: Duration::from_secs(5),
        };
        let error = client().complete(&endpoint, &request()).await.unwrap_err();
        assert!(matches!(&error, LlmError::Network(_)), "{provider:?}: {error:?}");
        assert!(error.is_retryable());
        assert!(!error.to_string().contains(MOCK_API_KEY));
    }
}

#[tokio::test]
async fn calls_that_cannot_be_made_are_refused_before_sending() {
    let mock = MockLlm::start().await;
    let refused = |e: &Result<Completion, LlmError>| matches!(e, Err(LlmError::Client { status: 0, .. }));
    let builtin = client().complete(&mock.endpoint(Provider::Builtin, "builtin"), &request()).await;
    assert!(refused(&builtin), "{builtin:?}");
    let mut no_base = mock.endpoint(Provider::Azure, "d");
    no_base.api_base_url = None;
    assert!(refused(&client().complete(&no_base, &request()).await));
    for provider in [Provider::Azure, Provider::Anthropic, Provider::Google] {
        let mut no_key = mock.endpoint(provider, "m");
        no_key.api_key = None;
        let result = client().complete(&no_key, &request()).await;
        assert!(refused(&result), "{provider:?}: {result:?}");
    }
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    // Followed, the POST would become a GET and the key headers would go along.
    let mock = MockLlm::start().await;
    mock.push(Behaviour::Redirect("/v1/elsewhere".into()));
    assert_eq!(
        call(&mock, Provider::OpenAi).await,
        Err(LlmError::Client { status: 307, message: "Temporary Redirect".into() })
    );
    assert_eq!(mock.request_count(), 1);
}

/// How the worker is meant to use the pieces: call, and on a retryable error wait as the
/// policy says and call again; every attempt is one request.
#[tokio::test]
async fn a_caller_retries_with_the_policy_until_an_answer() {
    let mock = MockLlm::start().await;
    mock.push_all([Behaviour::retry_after_ms("20"), Behaviour::server_error(), Behaviour::Lexicon]);
    let policy = RetryPolicy { base: Duration::from_millis(10), ..RetryPolicy::default() };
    let endpoint = mock.endpoint(Provider::Anthropic, "claude-haiku");
    let mut attempt = 1;
    let completion = loop {
        match client().complete(&endpoint, &request()).await {
            Ok(completion) => break completion,
            Err(error) => {
                let wait = policy.delay(attempt, &error, 0.5).unwrap_or_else(|| panic!("gave up: {error}"));
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    };
    assert_eq!(attempt, 3);
    assert_eq!(mock.request_count(), 3);
    assert_eq!(parse_suggestions(&completion.text, &TYPES).unwrap().suggestions, expected_suggestions());
    // A fourth failure in a row would not be retried.
    assert_eq!(policy.delay(3, &LlmError::Timeout, 0.0), None);
}

/// An answer in prose is repaired by asking once more, with what was wrong.
#[tokio::test]
async fn an_unusable_answer_is_repaired_with_one_more_request() {
    let mock = MockLlm::start().await;
    mock.push(Behaviour::text("The entities are Husain and Abbas."));
    let endpoint = mock.endpoint(Provider::Google, "gemini-2.0-flash");
    let first = client().complete(&endpoint, &request()).await.unwrap();
    let error = parse_suggestions(&first.text, &TYPES).unwrap_err();
    let repair = repair_request(&request(), &first.text, &error);
    let second = client().complete(&endpoint, &repair).await.unwrap();
    assert_eq!(parse_suggestions(&second.text, &TYPES).unwrap().suggestions, expected_suggestions());
    let sent = mock.last_request().user_prompt().unwrap();
    assert!(sent.contains("The entities are Husain and Abbas.") && sent.contains("not valid JSON"), "{sent}");
}

#[tokio::test]
async fn the_mock_answers_scripted_json_and_text_and_unknown_paths() {
    let mock = MockLlm::start().await;
    mock.set_lexicon(&[("زینب", "PERSON")]);
    let answer = json!([{"text": "فرات", "type": "LOCATION", "confidence": 0.4}]);
    mock.push_all([Behaviour::entities(answer.clone()), Behaviour::text("```json\n[]\n```")]);
    assert_eq!(call(&mock, Provider::Local).await.unwrap().text, answer.to_string());
    assert_eq!(call(&mock, Provider::Local).await.unwrap().text, "```json\n[]\n```");
    assert_eq!(mock.script_len(), 0);
    // The lexicon replaced: "زینب" is not in the prompt, so nothing is found.
    assert_eq!(call(&mock, Provider::Local).await.unwrap().text, r#"{"entities":[]}"#);
    mock.set_fallback(Behaviour::server_error());
    assert!(matches!(call(&mock, Provider::Local).await, Err(LlmError::Server { .. })));
    let resp = reqwest::Client::new().post(format!("{}/nowhere", mock.url())).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(mock.last_request().provider, None);
}
