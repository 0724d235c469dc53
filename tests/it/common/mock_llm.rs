//! A scriptable model server for tests, on 127.0.0.1:0. It speaks the wire formats of OpenAI
//! (`/v1/chat/completions`), Azure OpenAI (`/openai/deployments/{d}/chat/completions`),
//! Anthropic (`/v1/messages`), Gemini (`/v1beta/models/{model}:generateContent`) and Ollama
//! (`/api/chat`), and records every request (path, query, headers, JSON body) so that tests
//! can check what a client sent.
//!
//! Each request takes the next [`Behaviour`] of the script ([`MockLlm::push`]); when the script
//! is empty, the fallback ([`MockLlm::set_fallback`]), which is at first
//! [`Behaviour::Lexicon`]: answer `{"entities": [...]}` with every lexicon entry whose text
//! occurs in the request's user prompt, in lexicon order, with confidence 0.9, keeping only
//! the types the request's JSON schema allows when it has one. Token counts are
//! deterministic: prompt tokens = characters of the system and user prompts, completion
//! tokens = characters of the answer text.
//!
//! Like OpenAI, the OpenAI and Azure paths refuse `max_tokens` and a temperature other than 1
//! for reasoning models (a model, or deployment, named `o1`, `o3-mini`, `gpt-5`, ...), with
//! the 400 OpenAI sends.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use nishan_domain::llm::{ModelEndpoint, Provider};
use serde_json::{Value, json};

/// The key [`MockLlm::endpoint`] configures.
pub const MOCK_API_KEY: &str = "sk-mock-0123456789abcdefghijklmnopqrstuv";

/// Names of the Marsiya the default lexicon finds, with their types.
pub const DEFAULT_LEXICON: [(&str, &str); 8] = [
    ("حسین", "PERSON"),
    ("عباس", "PERSON"),
    ("زینب", "PERSON"),
    ("علی اکبر", "PERSON"),
    ("کربلا", "LOCATION"),
    ("کرب و بلا", "LOCATION"),
    ("فرات", "LOCATION"),
    ("مدینہ", "LOCATION"),
];

/// What the mock does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Answer with the lexicon entries found in the user prompt (see the module docs).
    Lexicon,
    /// Answer with this JSON, serialised, as the model's text.
    Entities(Value),
    /// Answer with this text as the model's text.
    Text(String),
    /// Answer with this text, stopped at the token limit (`length`, `max_tokens`, ...).
    Truncated(String),
    /// 429 with these headers, and an error body.
    RateLimited { retry_after: Option<String>, retry_after_ms: Option<String> },
    /// This status with the provider's error body holding `message`.
    Error { status: u16, message: String },
    /// 401 whose message repeats the key the client sent, as OpenAI's does.
    Unauthorized,
    /// Sleep, then behave.
    Delay(Duration, Box<Behaviour>),
    /// Wait until the test lets one held request go ([`MockLlm::release`]), then behave: a
    /// readiness point inside a model call.
    Hold(Box<Behaviour>),
    /// 307 to this path of the mock (a client must not follow it).
    Redirect(String),
    /// 200 with a body that is not JSON.
    MalformedBody,
    /// 200 with JSON that is not the provider's answer.
    WrongBody,
}

impl Behaviour {
    pub fn entities(json: Value) -> Self {
        Self::Entities(json)
    }

    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    pub fn server_error() -> Self {
        Self::Error { status: 500, message: "the mock is down".into() }
    }

    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::Error { status, message: message.into() }
    }

    pub fn retry_after_secs(secs: &str) -> Self {
        Self::RateLimited { retry_after: Some(secs.into()), retry_after_ms: None }
    }

    pub fn retry_after_ms(ms: &str) -> Self {
        Self::RateLimited { retry_after: None, retry_after_ms: Some(ms.into()) }
    }

    pub fn delay_ms(ms: u64, then: Behaviour) -> Self {
        Self::Delay(Duration::from_millis(ms), Box::new(then))
    }

    pub fn hold(then: Behaviour) -> Self {
        Self::Hold(Box::new(then))
    }
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Which wire format the path belongs to; None for an unknown path (answered 404).
    pub provider: Option<Provider>,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON; `Value::Null` when it was not JSON.
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The system prompt, wherever the provider's format puts it.
    pub fn system_prompt(&self) -> Option<String> {
        match self.provider? {
            Provider::Anthropic => self.body["system"].as_str().map(str::to_owned),
            Provider::Google => self.body["systemInstruction"]["parts"][0]["text"].as_str().map(str::to_owned),
            _ => message_text(&self.body["messages"], "system"),
        }
    }

    /// The user prompt, wherever the provider's format puts it.
    pub fn user_prompt(&self) -> Option<String> {
        match self.provider? {
            Provider::Google => {
                let parts = self.body["contents"][0]["parts"].as_array()?;
                Some(parts.iter().filter_map(|p| p["text"].as_str()).collect())
            }
            _ => message_text(&self.body["messages"], "user"),
        }
    }

    /// The JSON schema the request asks the answer to follow, wherever the format puts it.
    pub fn json_schema(&self) -> Option<Value> {
        let schema = match self.provider? {
            Provider::OpenAi | Provider::Azure => &self.body["response_format"]["json_schema"]["schema"],
            Provider::Google => &self.body["generationConfig"]["responseSchema"],
            Provider::Local => &self.body["format"],
            Provider::Anthropic | Provider::Builtin => return None,
        };
        schema.is_object().then(|| schema.clone())
    }
}

/// The content of the first message of `role` (a string, or Anthropic's text blocks).
fn message_text(messages: &Value, role: &str) -> Option<String> {
    let message = messages.as_array()?.iter().find(|m| m["role"] == role)?;
    match &message["content"] {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => Some(blocks.iter().filter_map(|b| b["text"].as_str()).collect()),
        _ => None,
    }
}

#[derive(Debug)]
struct MockState {
    script: Mutex<VecDeque<Behaviour>>,
    fallback: Mutex<Behaviour>,
    lexicon: Mutex<Vec<(String, String)>>,
    requests: Mutex<Vec<Recorded>>,
    /// Permits for held requests.
    gate: tokio::sync::Semaphore,
    /// Requests waiting at the gate.
    held: std::sync::atomic::AtomicUsize,
}

/// The running mock; stops when dropped.
pub struct MockLlm {
    pub addr: SocketAddr,
    state: Arc<MockState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl MockLlm {
    /// Starts a mock with the default lexicon and an empty script.
    pub async fn start() -> Self {
        let state = Arc::new(MockState {
            script: Mutex::new(VecDeque::new()),
            fallback: Mutex::new(Behaviour::Lexicon),
            lexicon: Mutex::new(DEFAULT_LEXICON.iter().map(|(t, k)| ((*t).to_owned(), (*k).to_owned())).collect()),
            requests: Mutex::new(Vec::new()),
            gate: tokio::sync::Semaphore::new(0),
            held: std::sync::atomic::AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, state, server }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The API base URL a model of `provider` is configured with to reach the mock.
    pub fn base_url(&self, provider: Provider) -> String {
        let prefix = match provider {
            Provider::OpenAi | Provider::Anthropic => "/v1",
            Provider::Google => "/v1beta",
            Provider::Azure | Provider::Local | Provider::Builtin => "",
        };
        format!("{}{prefix}", self.url())
    }

    /// An endpoint of `provider` pointing at the mock, with [`MOCK_API_KEY`], an Azure API
    /// version, and a 5 s timeout.
    pub fn endpoint(&self, provider: Provider, model: &str) -> ModelEndpoint {
        ModelEndpoint {
            provider,
            model_name: model.to_owned(),
            api_base_url: Some(self.base_url(provider)),
            api_key: Some(MOCK_API_KEY.to_owned()),
            api_version: (provider == Provider::Azure).then(|| "2024-10-21".to_owned()),
            timeout: Duration::from_secs(5),
        }
    }

    /// Queues a behaviour for the next request not yet scripted.
    pub fn push(&self, behaviour: Behaviour) {
        self.state.script.lock().unwrap().push_back(behaviour);
    }

    /// Queues several behaviours, in order.
    pub fn push_all(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.state.script.lock().unwrap().extend(behaviours);
    }

    /// What requests get once the script is used up.
    pub fn set_fallback(&self, behaviour: Behaviour) {
        *self.state.fallback.lock().unwrap() = behaviour;
    }

    /// Replaces the lexicon of [`Behaviour::Lexicon`]: (text, type) pairs.
    pub fn set_lexicon(&self, entries: &[(&str, &str)]) {
        *self.state.lexicon.lock().unwrap() = entries.iter().map(|(t, k)| ((*t).to_owned(), (*k).to_owned())).collect();
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }

    /// The last request received (panics when there is none).
    pub fn last_request(&self) -> Recorded {
        self.state.requests.lock().unwrap().last().cloned().expect("the mock received no request")
    }

    /// Lets one held request ([`Behaviour::Hold`]) go on.
    pub fn release(&self) {
        self.state.gate.add_permits(1);
    }

    /// How many requests wait at the gate now.
    pub fn held(&self) -> usize {
        self.state.held.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits (at most 30 s) until `n` requests wait at the gate.
    pub async fn wait_until_held(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.held() < n {
            assert!(std::time::Instant::now() < deadline, "no request reached the gate within 30 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How many scripted behaviours are still queued.
    pub fn script_len(&self) -> usize {
        self.state.script.lock().unwrap().len()
    }
}

/// Which wire format a path belongs to.
fn provider_of(path: &str) -> Option<Provider> {
    if let Some(p) = embedding_provider_of(path) {
        return Some(p);
    }
    if path.starts_with("/openai/deployments/") && path.ends_with("/chat/completions") {
        Some(Provider::Azure)
    } else if path == "/v1/chat/completions" {
        Some(Provider::OpenAi)
    } else if path == "/v1/messages" {
        Some(Provider::Anthropic)
    } else if path.starts_with("/v1beta/models/")
        && (path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent"))
    {
        Some(Provider::Google)
    } else if path == "/api/chat" {
        Some(Provider::Local)
    } else {
        None
    }
}

/// Which embedding wire format a path belongs to.
fn embedding_provider_of(path: &str) -> Option<Provider> {
    if path == "/v1/embeddings" {
        Some(Provider::OpenAi)
    } else if path.starts_with("/openai/deployments/") && path.ends_with("/embeddings") {
        Some(Provider::Azure)
    } else if path.starts_with("/v1beta/models/")
        && (path.ends_with(":embedContent") || path.ends_with(":batchEmbedContents"))
    {
        Some(Provider::Google)
    } else if path == "/api/embed" {
        Some(Provider::Local)
    } else {
        None
    }
}

/// The mock's embedding of a text: `[characters, letters ی, spaces, 1]`.
pub fn mock_vector(text: &str) -> Vec<f64> {
    let count = |c: char| text.chars().filter(|x| *x == c).count() as f64;
    vec![text.chars().count() as f64, count('ی'), count(' '), 1.0]
}

/// An embedding answer in the provider's format (a scripted `Error` is answered instead).
fn embeddings(state: &MockState, provider: Provider, request: &Recorded) -> Response {
    let scripted = {
        let mut script = state.script.lock().unwrap();
        if matches!(script.front(), Some(Behaviour::Error { .. })) { script.pop_front() } else { None }
    };
    if let Some(Behaviour::Error { status, message }) = scripted {
        return error(provider, status, &message);
    }
    let texts: Vec<String> = match provider {
        Provider::Google if request.path.ends_with(":batchEmbedContents") => request.body["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["content"]["parts"][0]["text"].as_str().unwrap_or_default().to_owned())
            .collect(),
        Provider::Google => vec![request.body["content"]["parts"][0]["text"].as_str().unwrap_or_default().to_owned()],
        _ => request.body["input"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t.as_str().unwrap_or_default().to_owned())
            .collect(),
    };
    let tokens: usize = texts.iter().map(|t| t.chars().count()).sum();
    let body = match provider {
        // Listed in reverse: a client must order them by `index`.
        Provider::OpenAi | Provider::Azure | Provider::Anthropic | Provider::Builtin => json!({
            "object": "list",
            "data": texts.iter().enumerate().rev()
                .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": mock_vector(t)}))
                .collect::<Vec<_>>(),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }),
        Provider::Google if request.path.ends_with(":embedContent") => {
            json!({"embedding": {"values": mock_vector(&texts[0])}})
        }
        Provider::Google => {
            json!({"embeddings": texts.iter().map(|t| json!({"values": mock_vector(t)})).collect::<Vec<_>>()})
        }
        Provider::Local => json!({
            "model": request.body["model"],
            "embeddings": texts.iter().map(|t| mock_vector(t)).collect::<Vec<_>>(),
            "prompt_eval_count": tokens,
        }),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn handle(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        provider: provider_of(uri.path()),
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    state.requests.lock().unwrap().push(recorded.clone());
    let Some(provider) = recorded.provider else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"error": format!("no such path {}", uri.path())})))
            .into_response();
    };
    if embedding_provider_of(uri.path()).is_some() {
        // A scripted hold or delay holds an embedding call too (a readiness point inside it),
        // which then answers as the behaviour inside says (an error, or the vectors).
        let wait = {
            let mut script = state.script.lock().unwrap();
            if matches!(script.front(), Some(Behaviour::Hold(_) | Behaviour::Delay(..))) {
                script.pop_front()
            } else {
                None
            }
        };
        if let Some(wait) = wait
            && let Behaviour::Error { status, message } = waited(&state, wait).await
        {
            return error(provider, status, &message);
        }
        return embeddings(&state, provider, &recorded);
    }
    if let Some(refusal) = reasoning_refusal(provider, &recorded) {
        return error(provider, 400, &refusal);
    }
    let behaviour = {
        let next = state.script.lock().unwrap().pop_front();
        next.unwrap_or_else(|| state.fallback.lock().unwrap().clone())
    };
    respond(&state, provider, &recorded, behaviour).await
}

/// The behaviour inside delays and holds, once they are over.
async fn waited(state: &MockState, mut behaviour: Behaviour) -> Behaviour {
    loop {
        behaviour = match behaviour {
            Behaviour::Delay(wait, then) => {
                tokio::time::sleep(wait).await;
                *then
            }
            Behaviour::Hold(then) => {
                use std::sync::atomic::Ordering::SeqCst;
                state.held.fetch_add(1, SeqCst);
                state.gate.acquire().await.expect("the gate stays open").forget();
                state.held.fetch_sub(1, SeqCst);
                *then
            }
            other => return other,
        };
    }
}

async fn respond(state: &MockState, provider: Provider, request: &Recorded, behaviour: Behaviour) -> Response {
    let behaviour = waited(state, behaviour).await;
    match behaviour {
        Behaviour::Lexicon => answer(provider, request, &lexicon_answer(state, request).to_string(), false),
        Behaviour::Entities(json) => answer(provider, request, &json.to_string(), false),
        Behaviour::Text(text) => answer(provider, request, &text, false),
        Behaviour::Truncated(text) => answer(provider, request, &text, true),
        Behaviour::RateLimited { retry_after, retry_after_ms } => {
            let mut response = error(provider, 429, "rate limited by the mock");
            for (name, value) in [("retry-after", retry_after), ("retry-after-ms", retry_after_ms)] {
                if let Some(value) = value {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
            }
            response
        }
        Behaviour::Error { status, message } => error(provider, status, &message),
        Behaviour::Unauthorized => {
            let sent = ["authorization", "api-key", "x-api-key", "x-goog-api-key"]
                .iter()
                .find_map(|h| request.header(h))
                .map(|v| v.trim_start_matches("Bearer ").to_owned())
                .unwrap_or_default();
            error(
                provider,
                401,
                &format!("Incorrect API key provided: {sent}. You can find your API key in your account."),
            )
        }
        Behaviour::Redirect(path) => {
            let location = format!("http://{}{path}", request.header("host").unwrap_or("127.0.0.1"));
            (StatusCode::TEMPORARY_REDIRECT, [("location", location)]).into_response()
        }
        Behaviour::MalformedBody => {
            (StatusCode::OK, [("content-type", "application/json")], "{\"choices\": [ not json").into_response()
        }
        Behaviour::WrongBody => (StatusCode::OK, axum::Json(json!({"unexpected": true}))).into_response(),
        Behaviour::Delay(..) | Behaviour::Hold(..) => unreachable!("delays and holds are unwrapped above"),
    }
}

/// What OpenAI answers a reasoning model's request that sets `max_tokens` or a temperature.
fn reasoning_refusal(provider: Provider, request: &Recorded) -> Option<String> {
    let model = match provider {
        Provider::OpenAi => request.body["model"].as_str()?.to_owned(),
        Provider::Azure => request.path.split('/').nth(3)?.to_owned(),
        _ => return None,
    };
    let m = model.to_ascii_lowercase();
    let reasoning =
        m.starts_with("gpt-5") || (m.starts_with('o') && m.chars().nth(1).is_some_and(|c| c.is_ascii_digit()));
    if !reasoning {
        return None;
    }
    if request.body.get("max_tokens").is_some() {
        return Some(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
                .into(),
        );
    }
    match request.body.get("temperature").and_then(Value::as_f64) {
        Some(t) if t != 1.0 => Some(format!(
            "Unsupported value: 'temperature' does not support {t} with this model. Only the default (1) value is supported."
        )),
        _ => None,
    }
}

/// `{"entities": [...]}` of the lexicon entries in the user prompt, of the allowed types.
fn lexicon_answer(state: &MockState, request: &Recorded) -> Value {
    let user = request.user_prompt().unwrap_or_default();
    let allowed = request.json_schema().as_ref().and_then(type_enum);
    let lexicon = state.lexicon.lock().unwrap();
    let entities: Vec<Value> = lexicon
        .iter()
        .filter(|(text, kind)| {
            user.contains(text.as_str())
                && allowed.as_ref().is_none_or(|a| a.iter().any(|t| t.eq_ignore_ascii_case(kind)))
        })
        .map(|(text, kind)| json!({"text": text, "type": kind, "confidence": 0.9}))
        .collect();
    json!({ "entities": entities })
}

/// The `enum` of the `type` property of the entity items, anywhere in a schema.
fn type_enum(schema: &Value) -> Option<Vec<String>> {
    if let Some(values) = schema["properties"]["type"]["enum"].as_array() {
        return Some(values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
    }
    match schema {
        Value::Object(o) => o.values().find_map(type_enum),
        Value::Array(a) => a.iter().find_map(type_enum),
        _ => None,
    }
}

/// Characters of the answer in one streamed event.
pub const STREAM_PIECE_CHARS: usize = 8;

/// A successful answer holding `text`, in the provider's format: streamed when the request
/// asks for it (`stream: true`, Gemini's `streamGenerateContent`).
fn answer(provider: Provider, request: &Recorded, text: &str, truncated: bool) -> Response {
    if request.body["stream"] == json!(true) || request.path.ends_with(":streamGenerateContent") {
        return streamed(provider, request, text, truncated);
    }
    let prompt_tokens = request.system_prompt().unwrap_or_default().chars().count()
        + request.user_prompt().unwrap_or_default().chars().count();
    let completion_tokens = text.chars().count();
    let model = request.body["model"].as_str().unwrap_or("mock-model");
    let body = match provider {
        Provider::OpenAi | Provider::Azure | Provider::Builtin => json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": if truncated { "length" } else { "stop" },
            }],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }),
        Provider::Anthropic => json!({
            "id": "msg_mock",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": if truncated { "max_tokens" } else { "end_turn" },
            "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
        }),
        Provider::Google => json!({
            "candidates": [{
                "content": {"role": "model", "parts": [{"text": text}]},
                "finishReason": if truncated { "MAX_TOKENS" } else { "STOP" },
                "index": 0,
            }],
            "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": completion_tokens,
                              "totalTokenCount": prompt_tokens + completion_tokens},
        }),
        Provider::Local => json!({
            "model": model,
            "message": {"role": "assistant", "content": text},
            "done": true,
            "done_reason": if truncated { "length" } else { "stop" },
            "prompt_eval_count": prompt_tokens,
            "eval_count": completion_tokens,
        }),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// An error response in the provider's format.
fn error(provider: Provider, status: u16, message: &str) -> Response {
    let body = match provider {
        Provider::OpenAi | Provider::Azure | Provider::Builtin => {
            json!({"error": {"message": message, "type": "mock_error", "code": null}})
        }
        Provider::Anthropic => json!({"type": "error", "error": {"type": "mock_error", "message": message}}),
        Provider::Google => json!({"error": {"code": status, "message": message, "status": "MOCK_ERROR"}}),
        Provider::Local => json!({"error": message}),
    };
    (StatusCode::from_u16(status).expect("a valid status"), axum::Json(body)).into_response()
}

/// `text` in pieces of [`STREAM_PIECE_CHARS`], in the provider's streaming format: server-sent
/// events for OpenAI, Azure, Anthropic and Gemini (`alt=sse`), NDJSON for Ollama.
fn streamed(provider: Provider, request: &Recorded, text: &str, truncated: bool) -> Response {
    let prompt_tokens = request.system_prompt().unwrap_or_default().chars().count()
        + request.user_prompt().unwrap_or_default().chars().count();
    let completion_tokens = text.chars().count();
    let chars: Vec<char> = text.chars().collect();
    let pieces: Vec<String> = chars.chunks(STREAM_PIECE_CHARS).map(|c| c.iter().collect()).collect();
    let sse = |events: Vec<(Option<&str>, Value)>| {
        let mut body = String::new();
        for (name, data) in events {
            if let Some(name) = name {
                body.push_str(&format!("event: {name}\n"));
            }
            body.push_str(&format!("data: {data}\n\n"));
        }
        body
    };
    let (content_type, body) = match provider {
        Provider::OpenAi | Provider::Azure | Provider::Builtin => {
            let mut events: Vec<(Option<&str>, Value)> = pieces
                .iter()
                .map(|p| (None, json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]})))
                .collect();
            events.push((None, json!({"choices": [{"index": 0, "delta": {}, "finish_reason": if truncated { "length" } else { "stop" }}]})));
            events.push((None, json!({"choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}})));
            ("text/event-stream", sse(events) + "data: [DONE]\n\n")
        }
        Provider::Anthropic => {
            let mut events = vec![
                (
                    Some("message_start"),
                    json!({"type": "message_start", "message": {"id": "msg_mock", "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}}),
                ),
                (
                    Some("content_block_start"),
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ),
                (Some("ping"), json!({"type": "ping"})),
            ];
            events.extend(pieces.iter().map(|p| {
                (
                    Some("content_block_delta"),
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}),
                )
            }));
            events.push((Some("content_block_stop"), json!({"type": "content_block_stop", "index": 0})));
            events.push((Some("message_delta"), json!({"type": "message_delta", "delta": {"stop_reason": if truncated { "max_tokens" } else { "end_turn" }}, "usage": {"output_tokens": completion_tokens}})));
            events.push((Some("message_stop"), json!({"type": "message_stop"})));
            ("text/event-stream", sse(events))
        }
        Provider::Google => {
            let n = pieces.len();
            let events = pieces
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut candidate = json!({"content": {"role": "model", "parts": [{"text": p}]}, "index": 0});
                    if i + 1 == n {
                        candidate["finishReason"] = json!(if truncated { "MAX_TOKENS" } else { "STOP" });
                    }
                    (None, json!({"candidates": [candidate], "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": if i + 1 == n { completion_tokens } else { i + 1 }}}))
                })
                .collect();
            // The last event's usage is the whole answer's.
            ("text/event-stream", sse(events))
        }
        Provider::Local => {
            let model = request.body["model"].as_str().unwrap_or("mock-model");
            let mut lines: Vec<String> = pieces
                .iter()
                .map(|p| {
                    json!({"model": model, "message": {"role": "assistant", "content": p}, "done": false}).to_string()
                })
                .collect();
            lines.push(
                json!({"model": model, "message": {"role": "assistant", "content": ""}, "done": true,
                       "done_reason": if truncated { "length" } else { "stop" },
                       "prompt_eval_count": prompt_tokens, "eval_count": completion_tokens})
                .to_string(),
            );
            ("application/x-ndjson", lines.join("\n") + "\n")
        }
    };
    (StatusCode::OK, [("content-type", content_type)], body).into_response()
}
