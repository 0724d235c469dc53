//! Jobs through real provider wire formats against the mock model server: every provider,
//! every failure (429 with Retry-After, 5xx, timeouts, malformed JSON, a refused key), model
//! management, a server killed in the middle of a job, and two replicas sharing the queue.

use crate::common;

use std::time::Duration;

use common::mock_llm::{Behaviour, MockLlm};
use common::{Db, TestApp, create_document, error_code, wait_for_job};
use nishan_domain::llm::Provider;
use nishan_domain::llm::model::{CallWindow, Reservation};
use nishan_domain::ports::ModelRepository;
use serde_json::{Value, json};

const CREATE_MODEL: &str = "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id name provider hasApiKey apiKeyHint isDefault validationStatus } }";
const START: &str = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id } }";
const KEY: &str = "sk-nishan-test-key-7f3a";
/// A stanza the mock's lexicon knows (حسین, عباس, کربلا, فرات).
const STANZA: &str = "کربلا میں حسینؑ ابن علیؑ\nعباسؑ فرات پر";

fn gql_provider(p: Provider) -> &'static str {
    match p {
        Provider::OpenAi => "OPENAI",
        Provider::Azure => "AZURE",
        Provider::Anthropic => "ANTHROPIC",
        Provider::Google => "GOOGLE",
        Provider::Local => "LOCAL",
        Provider::Builtin => "BUILTIN",
    }
}

async fn model(app: &TestApp, admin: &str, mock: &MockLlm, provider: Provider, name: &str, extra: Value) -> String {
    let mut input = json!({
        "name": name,
        "provider": gql_provider(provider),
        "modelName": "test-model",
        "apiKey": KEY,
        "apiBaseUrl": mock.base_url(provider),
        "timeoutSecs": 5,
        "costPer1kPromptTokens": 0.5,
        "costPer1kCompletionTokens": 1.5,
    });
    if provider == Provider::Azure {
        input["apiVersion"] = json!("2024-10-21");
    }
    input.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    app.ok(Some(admin), CREATE_MODEL, json!({"i": input})).await["createLlmModel"]["id"].as_str().unwrap().to_owned()
}

async fn run_job(app: &TestApp, token: &str, doc: &str, model: &str) -> Value {
    let job = app.ok(Some(token), START, json!({"i": {"documentId": doc, "llmModelId": model}})).await;
    wait_for_job(app, token, job["startProcessingJob"]["id"].as_str().unwrap()).await
}

async fn entity_texts(app: &TestApp, token: &str, doc: &str) -> Vec<String> {
    let d = app
        .ok(
            Some(token),
            "query($id: ID!) { document(id: $id) { entities(first: 100) { edges { node { text source } } } } }",
            json!({"id": doc}),
        )
        .await;
    let mut v: Vec<String> = d["document"]["entities"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["text"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// The surface forms of the mock lexicon's names in `STANZA`, as they are placed (over the
/// honorifics written after them).
const NAMES: [&str; 4] = ["کربلا", "حسینؑ", "عباسؑ", "فرات"];

/// Where each of `names` occurs in `text`: (text, code-point start), in text order.
fn occurrences(text: &str, names: &[&str]) -> Vec<(String, u64)> {
    let mut v = vec![];
    for name in names {
        for (at, _) in text.match_indices(name) {
            v.push(((*name).to_owned(), text[..at].chars().count() as u64));
        }
    }
    v.sort_by_key(|(_, start)| *start);
    v
}

/// A document's entities as (text, start), in text order, each checked to be the content's
/// text at its offsets.
async fn placed_entities(app: &TestApp, token: &str, doc: &str) -> Vec<(String, u64)> {
    let d = app
        .ok(
            Some(token),
            "query($id: ID!) { document(id: $id) { content entities(first: 100) { totalCount edges { node { text start end } } } } }",
            json!({"id": doc}),
        )
        .await;
    let content: Vec<char> = d["document"]["content"].as_str().unwrap().chars().collect();
    let edges = d["document"]["entities"]["edges"].as_array().unwrap();
    assert_eq!(edges.len() as u64, d["document"]["entities"]["totalCount"].as_u64().unwrap());
    let mut v: Vec<(String, u64)> = edges
        .iter()
        .map(|e| {
            let (text, start, end) = (
                e["node"]["text"].as_str().unwrap(),
                e["node"]["start"].as_u64().unwrap(),
                e["node"]["end"].as_u64().unwrap(),
            );
            let at: String = content[start as usize..end as usize].iter().collect();
            assert_eq!(at, text, "content[start..end] == text");
            (text.to_owned(), start)
        })
        .collect();
    v.sort_by_key(|(_, start)| *start);
    v
}

async fn every_provider_extracts_through_its_wire_format(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Providers", json!({})).await;
    for (i, provider) in [Provider::OpenAi, Provider::Azure, Provider::Anthropic, Provider::Google, Provider::Local]
        .into_iter()
        .enumerate()
    {
        let name = gql_provider(provider);
        let model = model(&app, &admin, &mock, provider, name, json!({})).await;
        let doc = create_document(&app, &admin, &project, name, &format!("{STANZA}\n{i}")).await;
        let before = mock.request_count();
        let job = run_job(&app, &admin, &doc, &model).await;
        assert_eq!(job["status"], "COMPLETED", "{name}: {job}");
        assert_eq!(
            entity_texts(&app, &admin, &doc).await,
            ["حسینؑ", "عباسؑ", "فرات", "کربلا"],
            "{name}: placed by alignment"
        );
        assert!(job["tokensUsed"].as_i64().unwrap() > 0, "{name}");
        assert_eq!(mock.request_count(), before + 1, "{name}: one chunk, one call");
        let req = mock.last_request();
        let expected_path = match provider {
            Provider::OpenAi => "/v1/chat/completions",
            Provider::Azure => "/openai/deployments/test-model/chat/completions",
            Provider::Anthropic => "/v1/messages",
            Provider::Google => "/v1beta/models/test-model:generateContent",
            _ => "/api/chat",
        };
        assert_eq!(req.path, expected_path, "{name}");
        assert!(req.system_prompt().unwrap().contains("Marsiya"), "{name}: the configured system prompt is sent");
        assert!(req.user_prompt().unwrap().contains("کربلا میں حسینؑ"), "{name}: the chunk is in the prompt");
        match provider {
            Provider::OpenAi => assert_eq!(req.header("authorization"), Some(format!("Bearer {KEY}").as_str())),
            Provider::Azure => assert_eq!(req.header("api-key"), Some(KEY)),
            Provider::Anthropic => {
                assert_eq!(req.header("x-api-key"), Some(KEY));
                assert!(req.header("anthropic-version").is_some());
            }
            Provider::Google => assert_eq!(req.header("x-goog-api-key"), Some(KEY)),
            _ => {}
        }
        if matches!(provider, Provider::OpenAi | Provider::Azure | Provider::Local | Provider::Google) {
            assert!(req.json_schema().is_some(), "{name}: structured output is asked for");
        }
    }
    // Tokens and cost of a job are the sums of its recorded calls.
    let sums = app.count("SELECT id FROM processing_jobs j WHERE tokens_used = (SELECT SUM(prompt_tokens + completion_tokens) FROM model_calls c WHERE c.job_id = j.id)").await;
    assert_eq!(sums, 5);
}

async fn failures_are_retried_repaired_and_recorded(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Failures", json!({})).await;
    let model = model(&app, &admin, &mock, Provider::OpenAi, "flaky", json!({"timeoutSecs": 1})).await;
    let doc = |n: u32| {
        let app = &app;
        let (admin, project) = (admin.clone(), project.clone());
        async move { create_document(app, &admin, &project, &format!("doc {n}"), &format!("{STANZA}\n{n}")).await }
    };
    // 429 with Retry-After (seconds, then milliseconds), then 500, then a slow answer: all retried.
    for (n, failure) in [
        Behaviour::retry_after_secs("1"),
        Behaviour::retry_after_ms("300"),
        Behaviour::server_error(),
        Behaviour::delay_ms(2500, Behaviour::Lexicon),
    ]
    .into_iter()
    .enumerate()
    {
        mock.push(failure);
        let d = doc(n as u32).await;
        let job = run_job(&app, &admin, &d, &model).await;
        assert_eq!(job["status"], "COMPLETED", "{job}");
        assert_eq!(entity_texts(&app, &admin, &d).await.len(), 4, "the retry found the entities");
    }
    assert_eq!(app.count("SELECT id FROM model_calls WHERE status = 'ERROR'").await, 4);
    // Malformed JSON gets one repair request...
    mock.push(Behaviour::text("Sure! Here are the entities: none, sorry"));
    let d = doc(10).await;
    assert_eq!(run_job(&app, &admin, &d, &model).await["status"], "COMPLETED");
    assert!(mock.last_request().user_prompt().unwrap().contains("not valid"), "the repair says what was wrong");
    assert_eq!(entity_texts(&app, &admin, &d).await.len(), 4);
    // ...and when the repair fails too, the chunk is recorded as failed and the job goes on.
    mock.push_all([Behaviour::text("no"), Behaviour::text("still no")]);
    let d = doc(11).await;
    let job = run_job(&app, &admin, &d, &model).await;
    assert_eq!(job["status"], "COMPLETED");
    assert_eq!(job["errorDetails"]["chunks"].as_array().unwrap().len(), 1, "{job}");
    assert!(job["errorDetails"]["chunks"][0]["error"].as_str().unwrap().contains("malformed"));
    // A refused key stops the job with a clear message that does not leak the key.
    mock.push(Behaviour::Unauthorized);
    let d = doc(12).await;
    let job = run_job(&app, &admin, &d, &model).await;
    assert_eq!(job["status"], "FAILED");
    let message = job["errorMessage"].as_str().unwrap();
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains(KEY) && !message.contains("7f3a"), "the key leaked: {message}");
    assert_eq!(job["document"]["processingStatus"], "FAILED");
    // The model's counters and true running mean.
    let m = app
        .ok(
            Some(&admin),
            "{ llmModels { name totalRequests successfulRequests failedRequests successRate averageResponseTimeMs } }",
            json!({}),
        )
        .await;
    let flaky = m["llmModels"].as_array().unwrap().iter().find(|m| m["name"] == "flaky").unwrap().clone();
    let total = app.count("SELECT id FROM model_calls").await;
    assert_eq!(flaky["totalRequests"], total);
    assert_eq!(flaky["failedRequests"], app.count("SELECT id FROM model_calls WHERE status = 'ERROR'").await);
    let avg: f64 = {
        let db = app.database().await;
        use sea_orm::ConnectionTrait;
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT AVG(CAST(latency_ms AS DOUBLE PRECISION)) AS a FROM model_calls",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "a").unwrap()
    };
    assert!((flaky["averageResponseTimeMs"].as_f64().unwrap() - avg).abs() < 1e-6, "{flaky} vs {avg}");
}

async fn models_are_managed_by_admins_and_keys_stay_secret(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let (user, _) = app.register("user").await;
    let input = json!({"i": {"name": "gpt", "provider": "OPENAI", "modelName": "gpt-4o-mini", "apiKey": KEY, "apiBaseUrl": mock.base_url(Provider::OpenAi), "isDefault": true}});
    assert_eq!(error_code(&app.gql(Some(&user), CREATE_MODEL, input.clone()).await), "FORBIDDEN");
    let created = &app.ok(Some(&admin), CREATE_MODEL, input).await["createLlmModel"];
    assert_eq!((created["hasApiKey"].as_bool(), created["apiKeyHint"].as_str()), (Some(true), Some("7f3a")));
    assert_eq!(
        app.count(&format!("SELECT id FROM llm_models WHERE api_key_encrypted LIKE '%{KEY}%'")).await,
        0,
        "encrypted at rest"
    );
    assert_eq!(app.count("SELECT id FROM llm_models WHERE api_key_encrypted LIKE 'v1:%'").await, 1);
    let sdl = nishan_api::graphql::sdl();
    let model_type = &sdl[sdl.find("type LlmModel {").unwrap()..];
    assert!(!model_type[..model_type.find('}').unwrap()].contains("apiKey:"), "the key is never an output field");
    // One default per provider.
    let second = app
        .ok(
            Some(&admin),
            CREATE_MODEL,
            json!({"i": {"name": "gpt2", "provider": "OPENAI", "modelName": "x", "apiKey": "k", "isDefault": true}}),
        )
        .await;
    assert_eq!(second["createLlmModel"]["isDefault"], true);
    let all = app.ok(Some(&user), "{ llmModels { name provider isDefault } }", json!({})).await;
    let defaults: Vec<&str> = all["llmModels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["isDefault"] == true)
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(defaults.len(), 2, "gpt2 and the built-in one: {defaults:?}");
    assert!(defaults.contains(&"gpt2") && !defaults.contains(&"gpt"));
    assert_eq!(
        error_code(
            &app.gql(Some(&admin), CREATE_MODEL, json!({"i": {"name": "gpt", "provider": "LOCAL", "modelName": "x"}}))
                .await
        ),
        "CONFLICT"
    );
    // testLlmModel makes a real call.
    let test = "mutation($id: ID!) { testLlmModel(id: $id) { validationStatus validationError validatedAt } }";
    let id = created["id"].as_str().unwrap();
    let ok = app.ok(Some(&admin), test, json!({"id": id})).await;
    assert_eq!(ok["testLlmModel"]["validationStatus"], "CONNECTED");
    mock.push(Behaviour::Unauthorized);
    let bad = app.ok(Some(&admin), test, json!({"id": id})).await;
    assert_eq!(bad["testLlmModel"]["validationStatus"], "ERROR");
    assert!(!bad["testLlmModel"]["validationError"].as_str().unwrap().contains(KEY));
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'llm_model.test'").await, 2);
}

async fn a_job_survives_its_server_dying(db: Db) {
    let mock = MockLlm::start().await;
    mock.set_fallback(Behaviour::delay_ms(300, Behaviour::Lexicon));
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Crash", json!({})).await;
    let model = model(&app, &admin, &mock, Provider::OpenAi, "slow", json!({})).await;
    let config = app
        .ok(
            Some(&admin),
            "mutation { createProcessingConfig(input: {name: \"tiny\", chunkSize: 200, chunkOverlap: 0}) { id } }",
            json!({}),
        )
        .await["createProcessingConfig"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text: String = (0..12).map(|i| format!("{STANZA} {i}\n\n")).collect();
    let doc = create_document(&app, &admin, &project, "Long", &text).await;
    let job = app
        .ok(Some(&admin), START, json!({"i": {"documentId": doc, "llmModelId": model, "processingConfigId": config}}))
        .await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A worker server in its own runtime, killed mid-job: its tasks stop where they are.
    let (db_url, data_dir, progress_query) =
        (app.db_url.clone(), app.data_dir.clone(), "query($id: ID!) { processingJob(id: $id) { progress status } }");
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let crashing = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let _server = TestApp::spawn_on_url(db, db_url, data_dir, |s| s.job_lease_secs = 2).await;
            tokio::task::spawn_blocking(move || stop_rx.recv()).await.unwrap().ok();
        });
        rt.shutdown_background();
    });
    let mut seen = vec![];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let p = app.ok(Some(&admin), progress_query, json!({"id": job})).await;
        seen.push(p["processingJob"]["progress"].as_u64().unwrap());
        if *seen.last().unwrap() > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the job made no progress within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_tx.send(()).unwrap();
    crashing.join().unwrap();
    let mid = app.ok(Some(&admin), progress_query, json!({"id": job})).await;
    assert_eq!(mid["processingJob"]["status"], "PROCESSING", "the dead server's job still looks taken: {mid}");
    // A new server takes it up once the lease expired, and finishes it: every stanza's four
    // entities, each exactly once, at its place, and progress never going back.
    let _restarted = app.restart(|s| s.job_lease_secs = 2).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let done = loop {
        let p = app.ok(Some(&admin), progress_query, json!({"id": job})).await;
        seen.push(p["processingJob"]["progress"].as_u64().unwrap());
        if p["processingJob"]["status"] == "COMPLETED" {
            break wait_for_job(&app, &admin, &job).await;
        }
        assert!(std::time::Instant::now() < deadline, "not done within 60 s: {p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress went back: {seen:?}");
    assert_eq!(placed_entities(&app, &admin, &doc).await, occurrences(&text, &NAMES), "every entity exactly once");
    assert_eq!(done["entitiesFound"], 12 * 4, "the job counts what the model answered, once");
    assert_eq!(
        app.count("SELECT id FROM processing_jobs WHERE attempts = 2").await,
        1,
        "claimed again after the crash"
    );
}

async fn two_replicas_run_each_job_once(db: Db) {
    let mock = MockLlm::start().await;
    mock.set_fallback(Behaviour::delay_ms(50, Behaviour::Lexicon));
    let a = TestApp::spawn(db).await;
    let b = TestApp::spawn_on(&a, |_| {}).await;
    let (admin, _) = a.register("admin").await;
    let project = a.create_project(&admin, "Replicas", json!({})).await;
    let model = model(&a, &admin, &mock, Provider::OpenAi, "shared", json!({})).await;
    let mut jobs = vec![];
    for n in 0..6 {
        let doc = create_document(&a, &admin, &project, &format!("d{n}"), &format!("{STANZA} {n}")).await;
        let server = if n % 2 == 0 { &a } else { &b };
        jobs.push(server.ok(Some(&admin), START, json!({"i": {"documentId": doc, "llmModelId": model}})).await["startProcessingJob"]["id"]
            .as_str()
            .unwrap()
            .to_owned());
    }
    for job in &jobs {
        assert_eq!(wait_for_job(&b, &admin, job).await["status"], "COMPLETED");
    }
    assert_eq!(a.count("SELECT id FROM processing_jobs WHERE attempts = 1").await, 6, "each job claimed once");
    assert_eq!(mock.request_count(), 6, "one model call per job: none ran twice");
    assert_eq!(a.count("SELECT id FROM entities").await, 6 * 4);
}

async fn rate_limits_hold_calls_back(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Limits", json!({})).await;
    let model = model(&app, &admin, &mock, Provider::OpenAi, "limited", json!({"rateLimitPerMinute": 1})).await;
    let config = app
        .ok(
            Some(&admin),
            "mutation { createProcessingConfig(input: {name: \"two\", chunkSize: 200, chunkOverlap: 0}) { id } }",
            json!({}),
        )
        .await["createProcessingConfig"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text = format!("{STANZA}\n\n{}\n\n{STANZA} 2", "ا".repeat(150));
    let doc = create_document(&app, &admin, &project, "Two chunks", &text).await;
    let job = app
        .ok(Some(&admin), START, json!({"i": {"documentId": doc, "llmModelId": model, "processingConfigId": config}}))
        .await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Once the first chunk is stored, the second call needs a slot the window no longer has.
    let query = "query($id: ID!) { processingJob(id: $id) { status totalSteps completedSteps } }";
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let j = loop {
        let j = app.ok(Some(&admin), query, json!({"id": job})).await;
        if j["processingJob"]["completedSteps"] == 1 {
            break j;
        }
        assert!(std::time::Instant::now() < deadline, "the first chunk was not stored within 30 s: {j}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(j["processingJob"]["status"], "PROCESSING");
    assert!(j["processingJob"]["totalSteps"].as_u64().unwrap() >= 2, "{j}");
    let id: uuid::Uuid = model.parse().unwrap();
    let windows = [CallWindow { window: chrono::Duration::minutes(1), limit: 1 }];
    let now = chrono::Utc::now();
    match app.state.store.reserve_call(id, &windows, now).await.unwrap() {
        Reservation::WaitUntil(until) => {
            assert!(until > now + chrono::Duration::seconds(50), "the slot frees a minute after the first call")
        }
        Reservation::Granted => panic!("the minute's one call was not counted"),
    }
    assert_eq!(mock.request_count(), 1, "the second call waits for the next minute");
}

/// Many workers and many `testLlmModel` calls at once, on two replicas: a limit is never
/// exceeded, as every call reserves its slot atomically in the shared database.
async fn rate_limits_hold_under_concurrent_calls(db: Db) {
    let mock = MockLlm::start().await;
    let a = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let b = TestApp::spawn_on(&a, |s| s.workers = 0).await;
    let (admin, _) = a.register("admin").await;
    // Slots reserved straight through the store, 40 at once from both replicas (five
    // connections each). A transient fault (a connection not free within the pool's wait, on a
    // busy machine) is tried again, as a job's call does.
    let reserved = model(&a, &admin, &mock, Provider::OpenAi, "reserved", json!({"rateLimitPerMinute": 5})).await;
    let id: uuid::Uuid = reserved.parse().unwrap();
    let windows = [CallWindow { window: chrono::Duration::minutes(1), limit: 5 }];
    let now = chrono::Utc::now();
    let calls = (0..40).map(|n| {
        let store = if n % 2 == 0 { a.state.store.clone() } else { b.state.store.clone() };
        tokio::spawn(async move {
            loop {
                match store.reserve_call(id, &windows, now).await {
                    Err(e) if e.is_transient() => tokio::time::sleep(Duration::from_millis(20)).await,
                    answer => return answer.unwrap(),
                }
            }
        })
    });
    let answers = futures_util::future::join_all(calls).await;
    let granted = answers.iter().filter(|r| matches!(r.as_ref().unwrap(), Reservation::Granted)).count();
    assert_eq!(granted, 5, "exactly the limit");
    // testLlmModel counts against the limit like a job's call.
    let tested = model(&a, &admin, &mock, Provider::OpenAi, "tested", json!({"rateLimitPerMinute": 2})).await;
    let test = "mutation($id: ID!) { testLlmModel(id: $id) { validationStatus } }";
    let before = mock.request_count();
    let tests = (0..6).map(|n| {
        let server = if n % 2 == 0 { &a } else { &b };
        server.gql(Some(&admin), test, json!({"id": tested}))
    });
    let answers = futures_util::future::join_all(tests).await;
    let ok = answers.iter().filter(|r| r["data"]["testLlmModel"]["validationStatus"] == "CONNECTED").count();
    let limited = answers.iter().filter(|r| r.get("errors").is_some() && error_code(r) == "RATE_LIMITED").count();
    assert_eq!((ok, limited), (2, 4), "{answers:?}");
    for r in answers.iter().filter(|r| r.get("errors").is_some()) {
        let wait = r["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
        assert!((1..=60).contains(&wait), "retryAfter names when the window has room: {r}");
    }
    assert_eq!(mock.request_count() - before, 2, "refused tests call nothing");
    // Jobs on two replicas, two workers each, share the limit too: 3 calls a minute.
    let limited = model(&a, &admin, &mock, Provider::OpenAi, "jobs", json!({"rateLimitPerMinute": 3})).await;
    let workers_a = TestApp::spawn_on(&a, |s| s.workers = 2).await;
    let workers_b = TestApp::spawn_on(&a, |s| s.workers = 2).await;
    let project = a.create_project(&admin, "Limits", json!({})).await;
    let before = mock.request_count();
    let mut jobs = vec![];
    for n in 0..6 {
        let doc = create_document(&a, &admin, &project, &format!("d{n}"), &format!("{STANZA} {n}")).await;
        jobs.push(a.ok(Some(&admin), START, json!({"i": {"documentId": doc, "llmModelId": limited}})).await["startProcessingJob"]["id"].as_str().unwrap().to_owned());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = a.count("SELECT id FROM processing_jobs WHERE status = 'COMPLETED'").await;
        let waiting = a.count("SELECT id FROM processing_jobs WHERE status = 'PROCESSING'").await;
        if done == 3 && waiting == 3 {
            break;
        }
        assert!(done <= 3, "more jobs finished than the minute allows calls");
        assert!(std::time::Instant::now() < deadline, "{done} done, {waiting} waiting after 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mock.request_count() - before, 3, "three calls in the minute, from four workers");
    let id: uuid::Uuid = limited.parse().unwrap();
    let windows = [CallWindow { window: chrono::Duration::minutes(1), limit: 3 }];
    assert!(matches!(
        a.state.store.reserve_call(id, &windows, chrono::Utc::now()).await.unwrap(),
        Reservation::WaitUntil(_)
    ));
    drop((workers_a, workers_b));
}

/// A `testLlmModel` whose client goes away mid-call still ends CONNECTED (or ERROR), never
/// stuck at VALIDATING.
async fn a_model_test_ends_when_its_request_is_dropped(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (admin, _) = app.register("admin").await;
    let id = model(&app, &admin, &mock, Provider::OpenAi, "held", json!({})).await;
    mock.push(Behaviour::hold(Behaviour::Lexicon));
    let request = {
        let (http, url, admin, id) = (app.http.clone(), app.url("/graphql"), admin.clone(), id.clone());
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(admin)
                .json(&json!({"query": "mutation($id: ID!) { testLlmModel(id: $id) { validationStatus } }", "variables": {"id": id}}))
                .send()
                .await
        })
    };
    mock.wait_until_held(1).await;
    let status = || async {
        let models = app.ok(Some(&admin), "{ llmModels { id validationStatus } }", json!({})).await;
        models["llmModels"].as_array().unwrap().iter().find(|m| m["id"] == id.as_str()).unwrap()["validationStatus"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status().await, "VALIDATING", "the call is on its way");
    // The client goes away: its connection closes and the server drops the request.
    request.abort();
    let _ = request.await;
    mock.release();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = status().await;
        if s != "VALIDATING" {
            assert_eq!(s, "CONNECTED");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still VALIDATING 30 s after the client left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'llm_model.test'").await, 1, "and audited");
}

/// A content edit while a job runs: the chunk in flight is stored in the new text (an entity
/// whose text the edit changed is dropped), the rest is read in the new text, and every entity
/// ends at its place.
async fn a_job_follows_content_edits_made_while_it_runs(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Edits", json!({})).await;
    let model = model(&app, &admin, &mock, Provider::OpenAi, "edited", json!({})).await;
    let config = app
        .ok(
            Some(&admin),
            "mutation { createProcessingConfig(input: {name: \"small\", chunkSize: 200, chunkOverlap: 0}) { id } }",
            json!({}),
        )
        .await["createProcessingConfig"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let text: String = (0..16).map(|i| format!("{STANZA} {i}\n\n")).collect();
    let doc = create_document(&app, &admin, &project, "Long", &text).await;
    // The first chunk is answered at once; the second waits at the gate.
    mock.push_all([Behaviour::Lexicon, Behaviour::hold(Behaviour::Lexicon)]);
    let job = app
        .ok(Some(&admin), START, json!({"i": {"documentId": doc, "llmModelId": model, "processingConfigId": config}}))
        .await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    mock.wait_until_held(1).await;
    let in_flight = mock.last_request().user_prompt().unwrap();
    assert!(in_flight.contains("عباسؑ فرات پر 5"), "the second chunk holds stanza 5: {in_flight}");
    // A line added at the top, stanza 5's کربلا (in the chunk in flight) and stanza 15's فرات
    // (not read yet) renamed.
    let edited = format!("نئی سطر\n\n{text}")
        .replacen(&format!("{STANZA} 5"), &format!("{} 5", STANZA.replacen("کربلا", "کوفہ", 1)), 1)
        .replacen("عباسؑ فرات پر 15", "عباسؑ دریا پر 15", 1);
    let update = "mutation($id: ID!, $c: String!) { updateDocumentContent(id: $id, content: $c) { currentVersion } }";
    let v = app.ok(Some(&admin), update, json!({"id": doc, "c": edited})).await;
    assert_eq!(v["updateDocumentContent"]["currentVersion"], 2);
    mock.release();
    let done = wait_for_job(&app, &admin, &job).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(
        placed_entities(&app, &admin, &doc).await,
        occurrences(&edited, &NAMES),
        "every name of the new text, once, in place"
    );
    let j = app
        .ok(
            Some(&admin),
            "query($id: ID!) { processingJob(id: $id) { documentVersion entitiesDropped } }",
            json!({"id": job}),
        )
        .await;
    assert_eq!(j["processingJob"]["documentVersion"], 2, "the job went on in the new version");
    assert!(j["processingJob"]["entitiesDropped"].as_u64().unwrap() >= 1, "stanza 5's کربلا was dropped: {j}");
}

on_both_databases!(
    rate_limits_hold_calls_back,
    rate_limits_hold_under_concurrent_calls,
    a_model_test_ends_when_its_request_is_dropped,
    a_job_follows_content_edits_made_while_it_runs,
    every_provider_extracts_through_its_wire_format,
    failures_are_retried_repaired_and_recorded,
    models_are_managed_by_admins_and_keys_stay_secret,
    a_job_survives_its_server_dying,
    two_replicas_run_each_job_once,
);
