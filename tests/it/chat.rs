//! Asking a project's texts (`askProject`): the built-in model's extractive answer, every
//! citation checked against the text, sessions that keep their messages and send the
//! conversation with a follow-up, privacy (another user's session is NOT_FOUND), the remote
//! providers in their wire formats against the mock server (a false quote dropped and
//! counted, bad JSON repaired once then refused, transient failures retried), usage and
//! metrics counting the calls, retention, and questions asked at once in one session.

use crate::common;

use common::mock_llm::{Behaviour, MockLlm};
use common::{Db, TestApp, create_document, error_code};
use nishan_domain::llm::Provider;
use serde_json::{Value, json};

pub const ASK: &str = "mutation($i: AskProjectInput!) { askProject(input: $i) { id role content session { id title } citations { document { id title } lineNumber start end quote } droppedCitations promptTokens completionTokens cost modelName latencyMs createdAt } }";
const SESSION: &str = "query($id: ID!) { chatSession(id: $id) { id title messages { id role content position citations { lineNumber quote } droppedCitations } } }";
const SESSIONS: &str =
    "query($p: ID!) { chatSessions(projectId: $p, first: 10) { totalCount edges { node { id title } } } }";
const CREATE_MODEL: &str = "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }";

const ELEGY: &str = "آفت میں گرفتار ہیں ناموس محمدؐ\nعمّو ہیں حسینؑ ابن علیؑ سیّد ذیجاه\nشاہِ کربلا حسین ہیں، حسین\n\nكلثوم تھرتھرا کے بروئے زمیں گری";
const RIVER: &str = "کربلا کی زمیں\nفرات کے کنارے عباسؑ";

/// The text of `content` at code points `[start, end)`.
fn slice(content: &str, start: &Value, end: &Value) -> String {
    let (s, e) = (start.as_u64().unwrap() as usize, end.as_u64().unwrap() as usize);
    content.chars().skip(s).take(e - s).collect()
}

/// Every citation's quote is its document's content at its offsets, on its line.
fn assert_citations_hold(answer: &Value, contents: &[(&str, &str)]) {
    for c in answer["citations"].as_array().unwrap() {
        let title = c["document"]["title"].as_str().unwrap();
        let content = contents.iter().find(|(t, _)| *t == title).unwrap().1;
        assert_eq!(slice(content, &c["start"], &c["end"]), c["quote"].as_str().unwrap(), "{c}");
        let start = c["start"].as_u64().unwrap() as usize;
        let line = content.chars().take(start).filter(|ch| *ch == '\n').count() + 1;
        assert_eq!(c["lineNumber"].as_u64().unwrap() as usize, line, "{c}");
    }
}

async fn ask(app: &TestApp, token: &str, input: Value) -> Value {
    app.ok(Some(token), ASK, json!({"i": input})).await["askProject"].clone()
}

async fn the_builtin_model_answers_with_cited_lines(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    create_document(&app, &token, &project, "elegy", ELEGY).await;
    create_document(&app, &token, &project, "river", RIVER).await;
    let contents = [("elegy", ELEGY), ("river", RIVER)];

    // No model named: the default, the built-in one. Arabic yeh in the question.
    let answer = ask(&app, &token, json!({"projectId": project, "question": "حسين کربلا میں؟"})).await;
    assert_eq!(answer["role"], "ASSISTANT");
    assert_eq!(answer["modelName"], "Nishan built-in extractor");
    assert_eq!(answer["droppedCitations"], 0);
    assert_eq!((answer["promptTokens"].as_u64(), answer["cost"].as_f64()), (Some(0), Some(0.0)));
    let quotes: Vec<&str> =
        answer["citations"].as_array().unwrap().iter().map(|c| c["quote"].as_str().unwrap()).collect();
    assert_eq!(quotes[0], "شاہِ کربلا حسین ہیں، حسین", "the line with both words, twice: {answer}");
    assert_eq!(quotes.len(), 3);
    assert!(answer["content"].as_str().unwrap().contains("[1] شاہِ کربلا حسین ہیں، حسین («elegy», line 3)"));
    assert_citations_hold(&answer, &contents);
    let session = answer["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(answer["session"]["title"], "حسين کربلا میں؟");

    // A follow-up goes on in the session; a question with no word in the texts answers so.
    let again = ask(&app, &token, json!({"projectId": project, "question": "فرات", "sessionId": session})).await;
    assert_eq!(again["session"]["id"], session.as_str());
    assert_eq!(again["citations"][0]["quote"], "فرات کے کنارے عباسؑ");
    assert_citations_hold(&again, &contents);
    let none = ask(&app, &token, json!({"projectId": project, "question": "دریا"})).await;
    assert_eq!(none["citations"], json!([]));
    assert!(none["content"].as_str().unwrap().contains("No line"));

    let s = app.ok(Some(&token), SESSION, json!({"id": session})).await["chatSession"].clone();
    let roles: Vec<&str> = s["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["USER", "ASSISTANT", "USER", "ASSISTANT"]);
    let positions: Vec<u64> =
        s["messages"].as_array().unwrap().iter().map(|m| m["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, [0, 1, 2, 3]);
    assert_eq!(s["messages"][2]["content"], "فرات");
    let list = app.ok(Some(&token), SESSIONS, json!({"p": project})).await["chatSessions"].clone();
    assert_eq!(list["totalCount"], 2);
    // The most recently used first.
    assert_eq!(list["edges"][0]["node"]["title"], "دریا");

    // Bad input is refused before anything is written.
    for (question, field) in [(" ", "question"), ("؟ ، !", "question")] {
        let resp = app.gql(Some(&token), ASK, json!({"i": {"projectId": project, "question": question}})).await;
        assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
        assert_eq!(resp["errors"][0]["extensions"]["field"], field);
    }
    let long = "ز".repeat(2001);
    let resp = app.gql(Some(&token), ASK, json!({"i": {"projectId": project, "question": long}})).await;
    assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{resp}");
    assert_eq!(app.count("SELECT id FROM chat_messages").await, 6);
}

async fn sessions_are_private_to_their_user(db: Db) {
    let app = TestApp::spawn(db).await;
    let (owner, _) = app.register("anis").await;
    let (member, member_id) = app.register("dabir").await;
    let (stranger, _) = app.register("stranger").await;
    let project = app.create_project(&owner, "Private", json!({})).await;
    create_document(&app, &owner, &project, "elegy", ELEGY).await;
    let add = "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { id } }";
    app.ok(Some(&owner), add, json!({"i": {"projectId": project, "userId": member_id, "role": "VIEWER"}})).await;
    let mine = ask(&app, &owner, json!({"projectId": project, "question": "حسین"})).await;
    let session = mine["session"]["id"].as_str().unwrap().to_owned();

    // A viewer reads the project, so may ask it, in a session of their own.
    let theirs = ask(&app, &member, json!({"projectId": project, "question": "کربلا"})).await;
    assert_ne!(theirs["session"]["id"], session.as_str());
    // Nobody else sees, continues or deletes a session.
    for token in [&member, &stranger] {
        let resp = app.gql(Some(token), SESSION, json!({"id": session})).await;
        assert_eq!(error_code(&resp), "NOT_FOUND", "{resp}");
        let resp = app
            .gql(Some(token), ASK, json!({"i": {"projectId": project, "question": "حسین", "sessionId": session}}))
            .await;
        assert_eq!(error_code(&resp), "NOT_FOUND", "{resp}");
        let resp =
            app.gql(Some(token), "mutation($id: ID!) { deleteChatSession(id: $id) }", json!({"id": session})).await;
        assert_eq!(error_code(&resp), "NOT_FOUND", "{resp}");
    }
    let list = app.ok(Some(&member), SESSIONS, json!({"p": project})).await["chatSessions"].clone();
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["edges"][0]["node"]["id"], theirs["session"]["id"]);
    // Who may not read the project may not ask it, nor list sessions of it.
    let resp = app.gql(Some(&stranger), ASK, json!({"i": {"projectId": project, "question": "حسین"}})).await;
    assert_eq!(error_code(&resp), "NOT_FOUND", "{resp}");
    let resp = app.gql(Some(&stranger), SESSIONS, json!({"p": project})).await;
    assert_eq!(error_code(&resp), "NOT_FOUND", "{resp}");
    let resp = app.gql(None, ASK, json!({"i": {"projectId": project, "question": "حسین"}})).await;
    assert_eq!(error_code(&resp), "UNAUTHENTICATED", "{resp}");
    // A session in another project's name is not found either.
    let other = app.create_project(&owner, "Other", json!({})).await;
    let resp =
        app.gql(Some(&owner), ASK, json!({"i": {"projectId": other, "question": "حسین", "sessionId": session}})).await;
    assert_eq!(error_code(&resp), "NOT_FOUND", "{resp}");
    // The owner deletes it, messages and all.
    app.ok(Some(&owner), "mutation($id: ID!) { deleteChatSession(id: $id) }", json!({"id": session})).await;
    let resp = app.gql(Some(&owner), SESSION, json!({"id": session})).await;
    assert_eq!(error_code(&resp), "NOT_FOUND", "{resp}");
    assert_eq!(app.count("SELECT id FROM chat_messages").await, 2, "the member's exchange stays");
}

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

async fn model(app: &TestApp, admin: &str, mock: &MockLlm, provider: Provider, name: &str) -> String {
    let mut input = json!({
        "name": name,
        "provider": gql_provider(provider),
        "modelName": name,
        "apiKey": "sk-nishan-chat-key-7f3a",
        "apiBaseUrl": mock.base_url(provider),
        "timeoutSecs": 5,
        "costPer1kPromptTokens": 0.5,
        "costPer1kCompletionTokens": 1.5,
    });
    if provider == Provider::Azure {
        input["apiVersion"] = json!("2024-10-21");
    }
    app.ok(Some(admin), CREATE_MODEL, json!({"i": input})).await["createLlmModel"]["id"].as_str().unwrap().to_owned()
}

/// An answer in the wire format, citing a true quote of passage 1 and a false one.
fn cited(quote: &str) -> Behaviour {
    Behaviour::entities(json!({
        "answer": "حسینؑ کربلا میں تھے۔",
        "citations": [
            {"passage": 1, "quote": quote},
            {"passage": 1, "quote": "عباس علمدار"},
            {"passage": 42, "quote": "حسین"},
        ],
    }))
}

async fn remote_models_answer_in_their_wire_formats(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Marsiya", json!({})).await;
    create_document(&app, &admin, &project, "elegy", ELEGY).await;
    let contents = [("elegy", ELEGY)];
    // Metrics are of the process, which other tests share: names of this test's own.
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    for (provider, path) in [
        (Provider::OpenAi, "/v1/chat/completions"),
        (Provider::Azure, "/chat/completions"),
        (Provider::Anthropic, "/v1/messages"),
        (Provider::Google, ":generateContent"),
        (Provider::Local, "/api/chat"),
    ] {
        let name = format!("chat-{}-{run}", gql_provider(provider).to_lowercase());
        let id = model(&app, &admin, &mock, provider, &name).await;
        // The model spells the name with Arabic yeh and without the honorific.
        mock.push(cited("شاه كربلا حسين ہیں"));
        let answer =
            ask(&app, &admin, json!({"projectId": project, "question": "کربلا کا شاہ؟", "llmModelId": id})).await;
        let request = mock.last_request();
        assert!(request.path.ends_with(path), "{name}: {}", request.path);
        let prompt = request.user_prompt().unwrap();
        assert!(prompt.contains("Passages:\n[1] «elegy», line 3: شاہِ کربلا حسین ہیں، حسین"), "{name}: {prompt}");
        assert!(prompt.ends_with("Question: کربلا کا شاہ؟"), "{name}");
        assert!(request.system_prompt().unwrap().contains("\"citations\""), "{name}");
        assert_eq!(answer["content"], "حسینؑ کربلا میں تھے۔", "{name}");
        assert_eq!(answer["droppedCitations"], 2, "{name}: the quote not in the text and passage 42");
        assert_eq!(answer["citations"].as_array().unwrap().len(), 1, "{name}: {answer}");
        assert_eq!(answer["citations"][0]["quote"], "شاہِ کربلا حسین ہیں", "{name}: the text's spelling");
        assert_eq!(answer["citations"][0]["lineNumber"], 3);
        assert_citations_hold(&answer, &contents);
        assert!(answer["promptTokens"].as_u64().unwrap() > 0, "{name}");
        assert!(answer["cost"].as_f64().unwrap() > 0.0, "{name}");
        assert_eq!(answer["modelName"], name.as_str());

        // A follow-up sends the conversation.
        mock.push(cited("حسین"));
        let session = answer["session"]["id"].as_str().unwrap();
        ask(
            &app,
            &admin,
            json!({"projectId": project, "question": "اور علی؟", "sessionId": session, "llmModelId": id}),
        )
        .await;
        let prompt = mock.last_request().user_prompt().unwrap();
        assert!(
            prompt.starts_with("The conversation so far:\nUser: کربلا کا شاہ؟\nAssistant: حسینؑ کربلا میں تھے۔\n"),
            "{name}: {prompt}"
        );
    }
    // Every call is counted in the usage report and in /metrics.
    let usage = app
        .ok(Some(&admin), "query($p: ID) { usage(projectId: $p) { total { calls tokens } } }", json!({"p": project}))
        .await;
    assert_eq!(usage["usage"]["total"]["calls"], 10);
    let scrape = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let line = format!("nishan_model_calls_total{{model=\"ANTHROPIC/chat-anthropic-{run}\"}} 2");
    assert!(scrape.contains(&line), "{line} in {scrape}");
}

async fn bad_answers_are_repaired_once_then_refused(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Marsiya", json!({})).await;
    create_document(&app, &admin, &project, "elegy", ELEGY).await;
    let id = model(&app, &admin, &mock, Provider::OpenAi, "chat-repair").await;
    let input = json!({"projectId": project, "question": "حسین", "llmModelId": id});

    // Prose first, then the JSON after the repair request.
    mock.push_all([Behaviour::text("Husain was at Karbala."), cited("حسین ہیں")]);
    let answer = ask(&app, &admin, input.clone()).await;
    assert_eq!(answer["citations"][0]["quote"], "حسین ہیں");
    let repair = mock.last_request().user_prompt().unwrap();
    assert!(repair.contains("Your previous answer:\nHusain was at Karbala."), "{repair}");
    assert!(repair.contains("was not valid JSON of the form"), "{repair}");

    // A server error is retried.
    mock.push_all([Behaviour::server_error(), cited("حسین ہیں")]);
    let before = mock.request_count();
    ask(&app, &admin, input.clone()).await;
    assert_eq!(mock.request_count(), before + 2);

    // Bad JSON twice: a clear error, and nothing written.
    let messages = app.count("SELECT id FROM chat_messages").await;
    mock.push_all([Behaviour::text("{\"answer\": \"حسین"), Behaviour::text("still not JSON")]);
    let resp = app.gql(Some(&admin), ASK, json!({"i": input})).await;
    assert_eq!(error_code(&resp), "INTERNAL", "{resp}");
    assert_eq!(resp["errors"][0]["extensions"]["reason"], "MODEL_FAILED", "{resp}");
    let message = resp["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("not usable after a repair request"), "{message}");
    assert_eq!(app.count("SELECT id FROM chat_messages").await, messages);
    // A refused key is not retried.
    let before = mock.request_count();
    mock.push(Behaviour::Unauthorized);
    let resp = app.gql(Some(&admin), ASK, json!({"i": input})).await;
    assert_eq!(error_code(&resp), "INTERNAL", "{resp}");
    assert_eq!(resp["errors"][0]["extensions"]["reason"], "MODEL_FAILED", "{resp}");
    assert_eq!(mock.request_count(), before + 1);
    assert!(!resp.to_string().contains("sk-nishan-chat-key-7f3a"), "the key is not echoed: {resp}");
    // Every attempt was recorded for usage: 2 + 2 + 2 + 1.
    let usage = app
        .ok(
            Some(&admin),
            "query($p: ID) { usage(projectId: $p) { total { calls failedCalls } } }",
            json!({"p": project}),
        )
        .await;
    assert_eq!(usage["usage"]["total"], json!({"calls": 7, "failedCalls": 2}));
}

async fn questions_asked_at_once_keep_their_order(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    create_document(&app, &token, &project, "elegy", ELEGY).await;
    let first = ask(&app, &token, json!({"projectId": project, "question": "حسین"})).await;
    let session = first["session"]["id"].as_str().unwrap().to_owned();
    let questions: Vec<String> = (0..8).map(|i| format!("کربلا {i}")).collect();
    let asks = questions
        .iter()
        .map(|q| app.gql(Some(&token), ASK, json!({"i": {"projectId": project, "question": q, "sessionId": session}})));
    for resp in futures_util::future::join_all(asks).await {
        assert!(resp.get("errors").is_none(), "{resp}");
    }
    let s = app.ok(Some(&token), SESSION, json!({"id": session})).await["chatSession"].clone();
    let messages = s["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 18);
    for (i, pair) in messages.chunks(2).enumerate() {
        assert_eq!(pair[0]["position"], 2 * i as u64);
        assert_eq!((pair[0]["role"].as_str(), pair[1]["role"].as_str()), (Some("USER"), Some("ASSISTANT")));
    }
    let mut asked: Vec<&str> = messages[2..].iter().step_by(2).map(|m| m["content"].as_str().unwrap()).collect();
    asked.sort();
    assert_eq!(asked, questions.iter().map(String::as_str).collect::<Vec<_>>());
}

async fn retention_forgets_old_sessions(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    create_document(&app, &token, &project, "elegy", ELEGY).await;
    ask(&app, &token, json!({"projectId": project, "question": "حسین"})).await;
    // NISHAN_CHAT_RETENTION_DAYS defaults to 365 days after the last message.
    let now = chrono::Utc::now();
    let swept = nishan_api::retention::sweep(&app.state, now + chrono::Duration::days(364)).await.unwrap();
    assert_eq!(swept.chat_sessions, 0);
    let swept = nishan_api::retention::sweep(&app.state, now + chrono::Duration::days(366)).await.unwrap();
    assert_eq!(swept.chat_sessions, 1);
    assert_eq!(app.count("SELECT id FROM chat_messages").await, 0);
    assert_eq!(app.count("SELECT id FROM chat_sessions").await, 0);
}

async fn the_readme_examples_answer_as_described(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Marsiya", json!({})).await;
    create_document(&app, &token, &project, "Stanza 1", "حسینؑ ابن علیؑ کربلا میں\nعباسؑ فرات پر").await;
    let answer = ask(&app, &token, json!({"projectId": project, "question": "کربلا میں کون ہے؟"})).await;
    let citations: Vec<Value> = answer["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({"lineNumber": c["lineNumber"], "start": c["start"], "end": c["end"], "quote": c["quote"]}))
        .collect();
    assert_eq!(citations, [json!({"lineNumber": 1, "start": 0, "end": 24, "quote": "حسینؑ ابن علیؑ کربلا میں"})]);
    assert_eq!(answer["citations"][0]["document"]["title"], "Stanza 1");
    let session = answer["session"]["id"].as_str().unwrap();
    let again = ask(&app, &token, json!({"projectId": project, "question": "اور فرات؟", "sessionId": session})).await;
    assert_eq!(again["citations"][0]["quote"], "عباسؑ فرات پر");
    // A follow-up whose words are in no line: the previous question's lines.
    let why = ask(&app, &token, json!({"projectId": project, "question": "کیوں؟", "sessionId": session})).await;
    assert_eq!(why["citations"][0]["quote"], "عباسؑ فرات پر");
}

const FOLLOW: &str = "subscription($m: ID!) { chatMessage(messageId: $m) { text restart message { id content droppedCitations citations { lineNumber quote } } } }";

/// Follows the answer `message` over graphql-transport-ws, asks under it once following, and
/// returns the text events after the last restart, whether a restart came, and the final message.
async fn ask_followed(app: &TestApp, token: &str, input: Value) -> (Vec<String>, bool, Value) {
    let message = uuid::Uuid::new_v4().to_string();
    let mut ws = common::WsClient::connect(app, Some(token)).await;
    ws.subscribe("c1", FOLLOW, json!({"m": message})).await;
    let opened = ws.next().await.unwrap();
    assert_eq!(
        opened["payload"]["data"]["chatMessage"],
        json!({"text": "", "restart": false, "message": null}),
        "{opened}"
    );
    let mut input = input;
    input["messageId"] = json!(message);
    let asked = app.gql(Some(token), ASK, json!({"i": input}));
    let follow = async {
        let (mut texts, mut restarted) = (Vec::new(), false);
        loop {
            let event = ws.next().await.expect("the stream goes on");
            assert_eq!(event["type"], "next", "{event}");
            let e = &event["payload"]["data"]["chatMessage"];
            if e["restart"] == json!(true) {
                restarted = true;
                texts.clear();
            }
            if !e["message"].is_null() {
                let complete = ws.next().await.unwrap();
                assert_eq!(complete["type"], "complete", "{complete}");
                return (texts, restarted, e["message"].clone());
            }
            if let Some(t) = e["text"].as_str().filter(|t| !t.is_empty()) {
                texts.push(t.to_owned());
            }
        }
    };
    let (answer, (texts, restarted, last)) = tokio::join!(asked, follow);
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(last["id"], message.as_str());
    assert_eq!(answer["data"]["askProject"]["content"], last["content"]);
    (texts, restarted, last)
}

async fn answers_stream_as_they_are_written(db: Db) {
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("admin").await;
    let project = app.create_project(&admin, "Marsiya", json!({})).await;
    create_document(&app, &admin, &project, "elegy", ELEGY).await;

    // The built-in model streams its lines.
    let (texts, restarted, last) = ask_followed(&app, &admin, json!({"projectId": project, "question": "حسین"})).await;
    assert!(!restarted);
    assert!(texts.len() >= 2, "{texts:?}");
    assert_eq!(texts.concat(), last["content"].as_str().unwrap());
    assert!(texts[1].starts_with("[1] شاہِ کربلا حسین ہیں، حسین"), "{texts:?}");

    for provider in [Provider::OpenAi, Provider::Azure, Provider::Anthropic, Provider::Google, Provider::Local] {
        let name = format!("stream-{}", gql_provider(provider).to_lowercase());
        let id = model(&app, &admin, &mock, provider, &name).await;
        mock.push(cited("شاه كربلا حسين ہیں"));
        let input = json!({"projectId": project, "question": "کربلا کا شاہ؟", "llmModelId": id});
        let (texts, restarted, last) = ask_followed(&app, &admin, input).await;
        let request = mock.last_request();
        assert!(
            request.body["stream"] == json!(true) || request.path.ends_with(":streamGenerateContent"),
            "{name}: {} {}",
            request.path,
            request.body
        );
        if provider == Provider::Google {
            assert_eq!(request.query.as_deref(), Some("alt=sse"), "{name}");
        }
        assert!(!restarted, "{name}");
        // The answer's words, not its JSON, in several pieces.
        assert!(texts.len() >= 2, "{name}: {texts:?}");
        assert_eq!(texts.concat(), "حسینؑ کربلا میں تھے۔", "{name}");
        assert_eq!(last["content"], "حسینؑ کربلا میں تھے۔", "{name}");
        assert_eq!(last["droppedCitations"], 2, "{name}");
        assert_eq!(last["citations"], json!([{"lineNumber": 3, "quote": "شاہِ کربلا حسین ہیں"}]), "{name}");
    }
    // Tokens come from the streams' usage events.
    let usage = app
        .ok(
            Some(&admin),
            "query($p: ID) { usage(projectId: $p) { total { calls promptTokens completionTokens } } }",
            json!({"p": project}),
        )
        .await;
    assert_eq!(usage["usage"]["total"]["calls"], 5);
    let total = &usage["usage"]["total"];
    assert!(
        total["promptTokens"].as_u64().unwrap() > 100 && total["completionTokens"].as_u64().unwrap() > 50,
        "{total}"
    );

    // A malformed answer: the followers are told to start again, then get the repaired one.
    let id = model(&app, &admin, &mock, Provider::OpenAi, "stream-repair").await;
    mock.push_all([Behaviour::text("{\"answer\": \"Husain was"), cited("حسین ہیں")]);
    let input = json!({"projectId": project, "question": "حسین", "llmModelId": id});
    let (texts, restarted, last) = ask_followed(&app, &admin, input).await;
    assert!(restarted);
    assert_eq!(texts.concat(), "حسینؑ کربلا میں تھے۔");
    assert_eq!(last["citations"][0]["quote"], "حسین ہیں");

    // Another user cannot follow someone's answer; an answer stored is sent at once.
    let (other, _) = app.register("other").await;
    let mut ws = common::WsClient::connect(&app, Some(&other)).await;
    ws.subscribe("c2", FOLLOW, json!({"m": last["id"]})).await;
    let refused = ws.next().await.unwrap();
    assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND", "{refused}");
    assert_eq!(refused["payload"]["errors"][0]["message"], "chat message not found", "{refused}");
    assert!(refused["payload"]["data"].is_null(), "{refused}");
    let mut ws = common::WsClient::connect(&app, Some(&admin)).await;
    ws.subscribe("c3", FOLLOW, json!({"m": last["id"]})).await;
    let opened = ws.next().await.unwrap();
    assert_eq!(opened["payload"]["data"]["chatMessage"]["text"], "", "{opened}");
    let stored = ws.next().await.unwrap();
    assert_eq!(stored["payload"]["data"]["chatMessage"]["message"]["id"], last["id"], "{stored}");
    // The id of a stored answer cannot be asked under again.
    let resp = app
        .gql(Some(&admin), ASK, json!({"i": {"projectId": project, "question": "حسین", "messageId": last["id"]}}))
        .await;
    assert_eq!(error_code(&resp), "CONFLICT", "{resp}");
}

on_both_databases!(
    answers_stream_as_they_are_written,
    the_readme_examples_answer_as_described,
    the_builtin_model_answers_with_cited_lines,
    sessions_are_private_to_their_user,
    remote_models_answer_in_their_wire_formats,
    bad_answers_are_repaired_once_then_refused,
    questions_asked_at_once_keep_their_order,
    retention_forgets_old_sessions,
);
