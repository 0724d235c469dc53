//! The embedding clients against the mock model server, in each provider's wire format
//! (OpenAI `/v1/embeddings`, Azure's deployment `embeddings`, Gemini `embedContent` and
//! `batchEmbedContents`, Ollama `/api/embed`): what is sent, how the vectors (in input order)
//! and tokens are read, and failures. Then the EMBEDDING job through the API (missing chunks
//! embedded in batches, a failing batch retried or counted, only changed chunks embedded by the
//! next job) and hybrid search (lexical and semantic rankings fused, k = 60), on both databases.

use crate::common;

use common::Db;
use common::mock_llm::{Behaviour, MOCK_API_KEY, MockLlm, mock_vector};
use nishan_domain::llm::embed::EmbeddingClient;
use nishan_domain::llm::{LlmError, Provider};
use nishan_infrastructure::llm::{ClientOptions, ProviderClient};
use serde_json::{Value, json};

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

// ---- The EMBEDDING job and hybrid ranking, through the API on both databases ----

const CREATE_MODEL: &str = "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }";
const SET_MODEL: &str = "mutation($i: SetEmbeddingModelInput!) { setEmbeddingModel(input: $i) { model { id name } chunks embedded stale } }";
const STATUS: &str = "query($p: ID!) { embeddingStatus(projectId: $p) { model { id } chunks embedded stale } }";
const START: &str = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id kind status } }";
const JOB: &str = "query($id: ID!) { processingJob(id: $id) { status totalSteps completedSteps currentStep errorMessage errorDetails tokensUsed cost } }";
const SEARCH: &str = "query($i: SearchInput!) { search(input: $i) { totalCount edges { node { document { title } lineNumber text score highlights { start end } } } } }";

/// `n` distinct lines (each its own chunk).
fn numbered_lines(n: usize) -> String {
    (1..=n).map(|i| format!("مصرع نمبر {i} کربلا")).collect::<Vec<_>>().join("\n")
}

async fn status(app: &common::TestApp, token: &str, project: &str) -> Value {
    app.ok(Some(token), STATUS, json!({"p": project})).await["embeddingStatus"].clone()
}

/// Runs an EMBEDDING job of the project to its end; returns the job.
async fn embedding_job(app: &common::TestApp, token: &str, project: &str) -> Value {
    let job = app.ok(Some(token), START, json!({"i": {"projectId": project, "kind": "EMBEDDING"}})).await;
    assert_eq!(job["startProcessingJob"]["kind"], "EMBEDDING");
    let id = job["startProcessingJob"]["id"].as_str().unwrap().to_owned();
    common::wait_for_job(app, token, &id).await;
    app.ok(Some(token), JOB, json!({"id": id})).await["processingJob"].clone()
}

/// The texts the mock was asked to embed, over all its embedding requests.
fn embedded_texts(mock: &MockLlm) -> Vec<String> {
    mock.requests()
        .iter()
        .filter(|r| r.path == "/v1/embeddings")
        .flat_map(|r| r.body["input"].as_array().cloned().unwrap_or_default())
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

async fn the_embedding_job_embeds_missing_chunks_retries_and_only_changed_ones_later(db: Db) {
    let mock = MockLlm::start().await;
    let app = common::TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Marsiya", json!({})).await;
    // 40 distinct lines, one repeated (a refrain is one chunk), and a blank line (no chunk).
    let text = format!("{}\nمصرع نمبر 1 کربلا\n\n", numbered_lines(40));
    let doc = common::create_document(&app, &admin, &project, "elegy", &text).await;
    // No model yet: the job fails with a clear message.
    let before = status(&app, &admin, &project).await;
    assert_eq!(before, json!({"model": null, "chunks": 40, "embedded": 0, "stale": 40}));
    let job = embedding_job(&app, &admin, &project).await;
    assert_eq!(job["status"], "FAILED");
    assert!(job["errorMessage"].as_str().unwrap().contains("setEmbeddingModel"), "{job}");
    // A project job only, without params.
    let r = app.gql(Some(&admin), START, json!({"i": {"documentId": doc, "kind": "EMBEDDING"}})).await;
    assert_eq!(common::error_code(&r), "BAD_USER_INPUT", "{r}");
    let r = app
        .gql(Some(&admin), START, json!({"i": {"projectId": project, "kind": "EMBEDDING", "params": {"x": 1}}}))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "params", "{r}");

    let input = json!({
        "name": "embedder", "provider": "OPENAI", "modelName": "embedder", "apiKey": MOCK_API_KEY,
        "apiBaseUrl": mock.base_url(Provider::OpenAi), "timeoutSecs": 5, "costPer1kPromptTokens": 1.0,
    });
    let model = app.ok(Some(&admin), CREATE_MODEL, json!({"i": input})).await["createLlmModel"]["id"].clone();
    let anthropic = json!({"name": "claude", "provider": "ANTHROPIC", "modelName": "claude", "apiKey": "k",
        "apiBaseUrl": mock.base_url(Provider::Anthropic)});
    let claude = app.ok(Some(&admin), CREATE_MODEL, json!({"i": anthropic})).await["createLlmModel"]["id"].clone();
    let r = app.gql(Some(&admin), SET_MODEL, json!({"i": {"projectId": project, "llmModelId": claude}})).await;
    assert_eq!(r["errors"][0]["extensions"]["field"], "llmModelId", "Anthropic serves no embeddings: {r}");
    let set = app.ok(Some(&admin), SET_MODEL, json!({"i": {"projectId": project, "llmModelId": model}})).await;
    assert_eq!(set["setEmbeddingModel"]["model"]["id"], model);
    // A reader who may not edit the project may not set it; a stranger does not see it.
    let (stranger, _) = app.register("stranger").await;
    let r = app.gql(Some(&stranger), SET_MODEL, json!({"i": {"projectId": project, "llmModelId": model}})).await;
    assert_eq!(common::error_code(&r), "NOT_FOUND", "{r}");
    let r = app.gql(Some(&stranger), STATUS, json!({"p": project})).await;
    assert_eq!(common::error_code(&r), "NOT_FOUND", "{r}");

    // The first batch (32 chunks) fails once and is retried; the second (8) goes through.
    mock.push(Behaviour::server_error());
    let job = embedding_job(&app, &admin, &project).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!((job["totalSteps"].as_u64(), job["completedSteps"].as_u64()), (Some(2), Some(2)));
    assert!(job["currentStep"].as_str().unwrap().contains("40 chunks embedded, 0 failed"), "{job}");
    let sent = embedded_texts(&mock);
    assert_eq!(sent.len(), 32 + 32 + 8, "the failed batch sent again, then the second");
    let chars: u64 = sent[32..].iter().map(|t| t.chars().count() as u64).sum();
    assert_eq!(job["tokensUsed"].as_u64(), Some(chars), "tokens of the calls that answered");
    assert!((job["cost"].as_f64().unwrap() - chars as f64 / 1000.0).abs() < 1e-9, "{job}");
    assert_eq!(status(&app, &admin, &project).await["embedded"], 40);
    assert_eq!(app.count("SELECT 1 AS x FROM embedding_vectors").await, 40);
    assert_eq!(app.count("SELECT 1 AS x FROM embedding_vectors WHERE dimensions = 4").await, 40, "the mock's 4");

    // An edit changes one line: one chunk is stale, and the next job embeds only it.
    let edited = text.replacen("مصرع نمبر 7 کربلا", "مصرع نمبر 7 فرات", 1);
    let q = "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c) { id } }";
    app.ok(Some(&admin), q, json!({"id": doc, "c": edited})).await;
    assert_eq!(
        status(&app, &admin, &project).await,
        json!({"model": {"id": model}, "chunks": 40, "embedded": 39, "stale": 1})
    );
    let asked = embedded_texts(&mock).len();
    let job = embedding_job(&app, &admin, &project).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(embedded_texts(&mock)[asked..], ["مصرع نمبر 7 فرات".to_owned()]);
    assert!(
        job["currentStep"].as_str().unwrap().contains("1 chunks embedded, 0 failed, 1 stale vectors removed"),
        "{job}"
    );
    assert_eq!(app.count("SELECT 1 AS x FROM embedding_vectors").await, 40, "the old line's vector removed");
    // Nothing missing: a job embeds nothing and calls nothing.
    let asked = mock.request_count();
    let job = embedding_job(&app, &admin, &project).await;
    assert_eq!((job["status"].as_str(), job["totalSteps"].as_u64()), (Some("COMPLETED"), Some(0)));
    assert_eq!(mock.request_count(), asked);
    // Another model has no vectors yet; the first model's are kept for when it is chosen again.
    let models = app.ok(Some(&admin), "{ llmModels { id provider } }", json!({})).await;
    let builtin =
        models["llmModels"].as_array().unwrap().iter().find(|m| m["provider"] == "BUILTIN").unwrap()["id"].clone();
    let set = app.ok(Some(&admin), SET_MODEL, json!({"i": {"projectId": project, "llmModelId": builtin}})).await;
    assert_eq!(
        (set["setEmbeddingModel"]["embedded"].as_u64(), set["setEmbeddingModel"]["stale"].as_u64()),
        (Some(0), Some(40))
    );
    let set = app.ok(Some(&admin), SET_MODEL, json!({"i": {"projectId": project, "llmModelId": model}})).await;
    assert_eq!(set["setEmbeddingModel"]["embedded"], 40);
}

async fn a_batch_that_keeps_failing_is_counted_and_embedded_by_the_next_job(db: Db) {
    let mock = MockLlm::start().await;
    let app = common::TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Marsiya", json!({})).await;
    let doc = common::create_document(&app, &admin, &project, "elegy", &numbered_lines(40)).await;
    let input = json!({"name": "ollama", "provider": "LOCAL", "modelName": "embedder",
        "apiBaseUrl": mock.base_url(Provider::Local), "timeoutSecs": 5});
    let model = app.ok(Some(&admin), CREATE_MODEL, json!({"i": input})).await["createLlmModel"]["id"].clone();
    app.ok(Some(&admin), SET_MODEL, json!({"i": {"projectId": project, "llmModelId": model}})).await;
    // Three failures: every attempt of the first batch (the policy's 3).
    mock.push_all([Behaviour::server_error(), Behaviour::server_error(), Behaviour::server_error()]);
    let job = embedding_job(&app, &admin, &project).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert!(job["currentStep"].as_str().unwrap().contains("8 chunks embedded, 32 failed"), "{job}");
    assert_eq!(job["errorDetails"]["failedChunks"], 32, "{job}");
    assert_eq!(status(&app, &admin, &project).await["stale"], 32);
    let calls = "SELECT 1 AS x FROM model_calls WHERE error IS NOT NULL";
    assert_eq!(app.count(calls).await, 3, "every failed attempt recorded");
    let job = embedding_job(&app, &admin, &project).await;
    assert!(job["currentStep"].as_str().unwrap().contains("32 chunks embedded, 0 failed"), "{job}");
    assert_eq!(status(&app, &admin, &project).await["stale"], 0);
    // Jobs at once after an edit of every line: each vector is stored once.
    let edited = numbered_lines(40).replace("کربلا", "فرات");
    let q = "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c) { id } }";
    app.ok(Some(&admin), q, json!({"id": doc, "c": edited})).await;
    let jobs = futures_util::future::join_all((0..3).map(|_| embedding_job(&app, &admin, &project))).await;
    assert!(jobs.iter().all(|j| j["status"] == "COMPLETED"), "{jobs:?}");
    assert_eq!(status(&app, &admin, &project).await["stale"], 0);
    assert_eq!(app.count("SELECT 1 AS x FROM embedding_vectors").await, 40, "the 40 new lines, once each");
}

async fn search_fuses_lexical_and_semantic_rankings(db: Db) {
    use nishan_domain::llm::embed::{builtin_embedding, cosine};
    let app = common::TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Marsiya", json!({})).await;
    let lines = ["حسین کربلا میں", "حسین فرات پر", "کربلا کی زمیں", "زینب دمشق میں", "عباس علمدار"];
    let elegy = common::create_document(&app, &admin, &project, "elegy", &lines.join("\n")).await;
    let other = common::create_document(&app, &admin, &project, "other", "کربلائی سفر").await;
    let search = |query: &str, docs: Value| {
        let vars = json!({"i": {"projectId": project, "query": query, "documentIds": docs}});
        let app = &app;
        let admin = &admin;
        async move { app.ok(Some(admin), SEARCH, vars).await["search"].clone() }
    };
    let order = |got: &Value| -> Vec<String> {
        got["edges"].as_array().unwrap().iter().map(|e| e["node"]["text"].as_str().unwrap().to_owned()).collect()
    };
    // Lexical only: "کربلائی" is a word of `other` alone, "حسین" of two lines.
    assert_eq!(order(&search("کربلائی", json!(null)).await), ["کربلائی سفر"]);
    let lexical = order(&search("حسین", json!(null)).await);
    assert_eq!(lexical, ["حسین کربلا میں", "حسین فرات پر"]);

    let builtin = app.ok(Some(&admin), "{ llmModels { id provider } }", json!({})).await["llmModels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["provider"] == "BUILTIN")
        .unwrap()["id"]
        .clone();
    app.ok(Some(&admin), SET_MODEL, json!({"i": {"projectId": project, "llmModelId": builtin}})).await;
    let job = embedding_job(&app, &admin, &project).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");

    // The fused order, recomputed here: the semantic ranking by the built-in embedding's
    // cosine (above 0, ties by line order, which is passage order), then RRF with k = 60.
    let all: Vec<&str> = lines.iter().copied().chain(["کربلائی سفر"]).collect();
    let fused = |query: &str, lexical: &[String]| -> Vec<(String, f64)> {
        let q = builtin_embedding(query);
        let mut semantic: Vec<(&str, f32)> =
            all.iter().map(|l| (*l, cosine(&q, &builtin_embedding(l)))).filter(|(_, c)| *c > 0.0).collect();
        semantic.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut scores: Vec<(String, f64)> = Vec::new();
        for ranking in [lexical.to_vec(), semantic.iter().map(|(l, _)| (*l).to_owned()).collect()] {
            for (rank, line) in ranking.iter().enumerate() {
                let share = 1.0 / (60.0 + rank as f64 + 1.0);
                match scores.iter_mut().find(|(l, _)| l == line) {
                    Some((_, s)) => *s += share,
                    None => scores.push((line.clone(), share)),
                }
            }
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        scores
    };
    for (query, lexical) in [("حسین", lexical.clone()), ("کربلائی", vec!["کربلائی سفر".to_owned()])]
    {
        let got = search(query, json!(null)).await;
        let expected = fused(query, &lexical);
        assert_eq!(order(&got), expected.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(), "{query}: {got}");
        for (edge, (_, score)) in got["edges"].as_array().unwrap().iter().zip(&expected) {
            assert!((edge["node"]["score"].as_f64().unwrap() - score).abs() < 1e-9, "{query}: {edge}");
        }
        assert_eq!(got["totalCount"].as_u64(), Some(expected.len() as u64));
    }
    // The semantic ranking finds the lines of کربلا for "کربلائی", which the lexical one misses;
    // they have no highlights (no word of the query is in them).
    let got = search("کربلائی", json!(null)).await;
    let found = order(&got);
    assert!(found.contains(&"حسین کربلا میں".to_owned()) && found.contains(&"کربلا کی زمیں".to_owned()), "{got}");
    for e in got["edges"].as_array().unwrap() {
        let highlighted = !e["node"]["highlights"].as_array().unwrap().is_empty();
        assert_eq!(highlighted, e["node"]["text"] == "کربلائی سفر", "{e}");
    }
    // The document filter applies to the semantic side too.
    let got = search("کربلائی", json!([other])).await;
    assert_eq!(order(&got), ["کربلائی سفر"], "{got}");
    // With an entity type, a line found by meaning only must hold such an entity (line 3's
    // کربلا), and a lexical hit only where the query matches inside one (none here).
    let types = common::entity_type_ids(&app).await;
    let start = lines[..2].iter().map(|l| l.chars().count() + 1).sum::<usize>();
    let entity = json!({"documentId": elegy, "entityTypeId": types["LOCATION"], "start": start,
        "end": start + 5, "text": "کربلا"});
    let create = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    app.ok(Some(&admin), create, json!({"i": entity})).await;
    let vars = json!({"i": {"projectId": project, "query": "کربلائی", "entityTypeIds": [types["LOCATION"]]}});
    let got = app.ok(Some(&admin), SEARCH, vars).await["search"].clone();
    assert_eq!(order(&got), ["کربلا کی زمیں"], "{got}");
    // askProject retrieves the same way: the built-in answer cites the best fused lines.
    let ask = "mutation($i: AskProjectInput!) { askProject(input: $i) { citations { quote } } }";
    let answer = app.ok(Some(&admin), ask, json!({"i": {"projectId": project, "question": "کربلائی"}})).await;
    let quotes: Vec<&str> =
        answer["askProject"]["citations"].as_array().unwrap().iter().map(|c| c["quote"].as_str().unwrap()).collect();
    let best: Vec<String> = fused("کربلائی", &["کربلائی سفر".to_owned()]).into_iter().take(3).map(|(l, _)| l).collect();
    assert_eq!(quotes, best, "{answer}");
}

/// A project with `lines` distinct lines and an OpenAI-compatible embedding model on the mock
/// named `model_name`: `(app, token, project, document)`.
async fn embedding_project(
    db: Db,
    mock: &MockLlm,
    lines: usize,
    model_name: &str,
) -> (common::TestApp, String, String, String) {
    let app = common::TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Marsiya", json!({})).await;
    let doc = common::create_document(&app, &admin, &project, "elegy", &numbered_lines(lines)).await;
    let input = json!({"name": model_name, "provider": "OPENAI", "modelName": model_name, "apiKey": MOCK_API_KEY,
        "apiBaseUrl": mock.base_url(Provider::OpenAi), "timeoutSecs": 20});
    let model = app.ok(Some(&admin), CREATE_MODEL, json!({"i": input})).await["createLlmModel"]["id"].clone();
    app.ok(Some(&admin), SET_MODEL, json!({"i": {"projectId": project, "llmModelId": model}})).await;
    (app, admin, project, doc)
}

/// An EMBEDDING job is paused, resumed and cancelled as the other kinds are: a pause asked
/// while a batch is being embedded takes effect after that batch (its vectors kept); resumed,
/// the job embeds only the batches it had not (each chunk sent once); a cancelled job stops
/// after the batch it was in, without its later batches.
async fn an_embedding_job_pauses_resumes_and_cancels(db: Db) {
    let mock = MockLlm::start().await;
    // 96 chunks: three batches of 32.
    let (app, admin, project, doc) = embedding_project(db, &mock, 96, "embedder").await;
    let t = Some(admin.as_str());
    let act = |name: &str| format!("mutation($id: ID!) {{ {name}(id: $id) {{ status }} }}");
    let start = || {
        let (app, project) = (&app, &project);
        async move {
            let job = app.ok(t, START, json!({"i": {"projectId": project, "kind": "EMBEDDING"}})).await;
            job["startProcessingJob"]["id"].as_str().unwrap().to_owned()
        }
    };

    // The first batch is held at the mock until the pause is asked.
    mock.push(Behaviour::hold(Behaviour::text("vectors")));
    let job = start().await;
    mock.wait_until_held(1).await;
    app.ok(t, &act("pauseProcessingJob"), json!({"id": job})).await;
    mock.release();
    let paused = common::wait_for_job(&app, &admin, &job).await;
    assert_eq!(paused["status"], "PAUSED", "{paused}");
    let paused = app.ok(t, JOB, json!({"id": job})).await["processingJob"].clone();
    assert_eq!((paused["completedSteps"].as_u64(), paused["totalSteps"].as_u64()), (Some(1), Some(3)), "{paused}");
    assert_eq!(embedded_texts(&mock).len(), 32, "only the batch it was in");
    assert_eq!(status(&app, &admin, &project).await["embedded"], 32, "that batch's vectors kept");

    let resumed = app.ok(t, &act("resumeProcessingJob"), json!({"id": job})).await;
    assert_eq!(resumed["resumeProcessingJob"]["status"], "QUEUED");
    assert_eq!(common::wait_for_job(&app, &admin, &job).await["status"], "COMPLETED");
    let done = app.ok(t, JOB, json!({"id": job})).await["processingJob"].clone();
    assert_eq!(done["completedSteps"], done["totalSteps"], "{done}");
    let sent = embedded_texts(&mock);
    let distinct: std::collections::HashSet<&String> = sent.iter().collect();
    assert_eq!((sent.len(), distinct.len()), (96, 96), "each chunk sent once");
    assert_eq!(status(&app, &admin, &project).await["stale"], 0);

    // Every line edited: 96 stale chunks. Cancelled while its first batch is held: that batch
    // ends, the other two are never sent.
    let edited = numbered_lines(96).replace("کربلا", "فرات");
    let q = "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c) { id } }";
    app.ok(t, q, json!({"id": doc, "c": edited})).await;
    assert_eq!(status(&app, &admin, &project).await["stale"], 96);
    mock.push(Behaviour::hold(Behaviour::text("vectors")));
    let job = start().await;
    mock.wait_until_held(1).await;
    app.ok(t, &act("cancelProcessingJob"), json!({"id": job})).await;
    mock.release();
    assert_eq!(common::wait_for_job(&app, &admin, &job).await["status"], "CANCELLED");
    assert_eq!(embedded_texts(&mock).len(), 96 + 32, "no batch after the cancel");
    let left = status(&app, &admin, &project).await["stale"].as_u64().unwrap();
    assert!(left >= 64, "the later batches were not embedded: {left} stale");
}

/// `/metrics` counts embedding calls by model, as chat calls are: the counter moves by the
/// number of embedding requests the model server saw, failed attempts included (and counted
/// as errors), and the tokens by those the answers reported.
async fn embedding_calls_are_counted_in_metrics(db: Db) {
    let mock = MockLlm::start().await;
    // A model name of this test alone: the counters are the process's.
    let name = format!("embedder-{}", uuid::Uuid::new_v4().simple());
    let (app, admin, project, _) = embedding_project(db, &mock, 40, &name).await;
    let scrape = || {
        let app = &app;
        async move { app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap() }
    };
    let value = |scrape: &str, metric: &str| -> u64 {
        let prefix = format!("{metric}{{model=\"OPENAI/{name}\"}} ");
        scrape.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |v| v.trim().parse().unwrap())
    };
    let before = scrape().await;
    assert_eq!(value(&before, "nishan_model_calls_total"), 0);
    // The first batch fails once and is retried.
    mock.push(Behaviour::server_error());
    let job = embedding_job(&app, &admin, &project).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    let requests = mock.requests().iter().filter(|r| r.path == "/v1/embeddings").count() as u64;
    assert_eq!(requests, 3, "32 failed, 32 again, then 8");
    let after = scrape().await;
    assert_eq!(value(&after, "nishan_model_calls_total"), requests, "{after}");
    assert_eq!(value(&after, "nishan_model_call_errors_total"), 1, "{after}");
    let sent = embedded_texts(&mock);
    let tokens: u64 = sent[32..].iter().map(|t| t.chars().count() as u64).sum();
    assert_eq!(value(&after, "nishan_model_tokens_total"), tokens, "{after}");
}

on_both_databases!(
    an_embedding_job_pauses_resumes_and_cancels,
    embedding_calls_are_counted_in_metrics,
    the_embedding_job_embeds_missing_chunks_retries_and_only_changed_ones_later,
    a_batch_that_keeps_failing_is_counted_and_embedded_by_the_next_job,
    search_fuses_lexical_and_semantic_rankings,
);
