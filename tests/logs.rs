//! The server's log, in JSON at debug level, over a full session of a user: every line is a
//! JSON object, each GraphQL operation's line carries its request id and operation name, and
//! no password, token or key appears anywhere in it. (A binary of its own: the logger is
//! process-wide.)

#[path = "it/common/mod.rs"]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::{Db, TestApp};
use futures_util::{SinkExt, StreamExt};
use nishan_api::config::LogFormat;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log of this test binary, as `nishan` writes it with `NISHAN_LOG_FORMAT=json`.
fn captured() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = nishan_api::logging::subscriber("debug", LogFormat::Json, move || writer.clone()).unwrap();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        log
    })
}

async fn a_full_session_logs_no_secret(db: Db) {
    let log = captured();
    let tag = match db {
        Db::Sqlite => "s",
        Db::Postgres => "p",
    };
    let secret_key = format!("server-secret-key-{tag}-7f3a9c");
    let metrics_token = format!("metrics-token-{tag}-51b2");
    let app = TestApp::spawn_with(db, |s| {
        s.secret_key = Some(secret_key.clone());
        s.surface.metrics_token = Some(metrics_token.clone());
    })
    .await;
    let password = format!("first-password-{tag}-ka3Lw9");
    let wrong_password = format!("wrong-password-{tag}-Zq81xx");
    let new_password = format!("second-password-{tag}-Pp02mn");
    let username = format!("logtest{tag}");
    let gql = |token: Option<String>, name: &'static str, query: &'static str, variables: Value| {
        let app = &app;
        async move {
            let mut req = app
                .http
                .post(app.url("/graphql"))
                .json(&json!({"query": query, "variables": variables, "operationName": name}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.unwrap().json::<Value>().await.unwrap()
        }
    };

    let r = gql(
        None,
        "Register",
        "mutation Register($i: RegisterInput!) { register(input: $i) { token } }",
        json!({"i": {"username": username, "email": format!("{username}@example.org"), "password": password}}),
    )
    .await;
    let first_token = r["data"]["register"]["token"].as_str().unwrap().to_owned();
    let login = "mutation Login($i: LoginInput!) { login(input: $i) { token } }";
    let r = gql(None, "Login", login, json!({"i": {"usernameOrEmail": username, "password": wrong_password}})).await;
    assert_eq!(common::error_code(&r), "UNAUTHENTICATED");
    let r = gql(None, "Login", login, json!({"i": {"usernameOrEmail": username, "password": password}})).await;
    let second_token = r["data"]["login"]["token"].as_str().unwrap().to_owned();
    let r = gql(
        Some(second_token.clone()),
        "ChangePassword",
        "mutation ChangePassword($i: ChangePasswordInput!) { changePassword(input: $i) }",
        json!({"i": {"currentPassword": password, "newPassword": new_password}}),
    )
    .await;
    assert_eq!(r["data"]["changePassword"], true, "{r}");
    gql(
        Some(second_token.clone()),
        "Create",
        "mutation Create { createProject(input: {name: \"Logs\"}) { id } }",
        json!({}),
    )
    .await;
    // A token that does not exist, in a header and in a WebSocket's connection_init.
    let bogus_token = format!("nsn_bogus{tag}0123456789abcdef");
    gql(Some(bogus_token.clone()), "Me", "query Me { me { id } }", json!({})).await;
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    for token in [&second_token, &bogus_token] {
        let (mut socket, _) = tokio_tungstenite::connect_async(request.clone()).await.unwrap();
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
        socket.send(Message::text(init.to_string())).await.unwrap();
        let subscribe = json!({"type": "subscribe", "id": "1", "payload": {"query": "query WsMe { me { id } }"}});
        socket.send(Message::text(subscribe.to_string())).await.unwrap();
        while let Some(Ok(message)) = socket.next().await {
            if matches!(message, Message::Close(_)) || message.to_text().unwrap_or_default().contains("complete") {
                break;
            }
        }
    }
    let r = gql(Some(second_token.clone()), "Logout", "mutation Logout { logout }", json!({})).await;
    assert_eq!(r["data"]["logout"], true);
    let metrics = app.http.get(app.url("/metrics")).bearer_auth(&metrics_token).send().await.unwrap();
    assert_eq!(metrics.status(), 200);

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.lines().count() > 10, "the run was logged");
    for secret in [
        &password,
        &wrong_password,
        &new_password,
        &first_token,
        &second_token,
        &bogus_token,
        &secret_key,
        &metrics_token,
    ] {
        assert!(!text.contains(secret.as_str()), "a secret reached the log: {secret}");
        // Not a half of it either (a token cut for display, say).
        assert!(!text.contains(&secret[..secret.len() / 2 + 4]), "part of a secret reached the log: {secret}");
    }
    let lines: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}"))).collect();
    for name in ["Register", "Login", "ChangePassword", "Create", "Me", "Logout"] {
        let line = lines
            .iter()
            .find(|l| l["message"] == "graphql operation" && l["span"]["operation"] == name)
            .unwrap_or_else(|| panic!("no log line for {name}"));
        let request_id = line["span"]["request_id"].as_str().unwrap_or_default();
        assert_eq!(request_id.len(), 36, "a request id on {line}");
        assert!(["ok", "error", "rejected"].contains(&line["outcome"].as_str().unwrap_or_default()), "{line}");
        assert!(line["elapsed_ms"].is_u64(), "{line}");
    }
    let ws = lines
        .iter()
        .find(|l| l["message"] == "graphql operation" && l["span"]["operation"] == "WsMe")
        .expect("a log line for the operation over WebSocket");
    assert_eq!(ws["span"]["transport"], "ws");
    assert_eq!(ws["span"]["request_id"].as_str().unwrap_or_default().len(), 36, "{ws}");
}

on_both_databases!(a_full_session_logs_no_secret);

/// A provider's errors that echo the key, masked and encoded: the log holds no piece of it.
async fn provider_errors_log_no_piece_of_the_key(db: Db) {
    use common::mock_llm::{Behaviour, MockLlm};
    let log = captured();
    let tag = match db {
        Db::Sqlite => "S",
        Db::Postgres => "P",
    };
    let key = format!("sk-LOG{tag}key0123456789abcdefQQ9876");
    let mock = MockLlm::start().await;
    let app = TestApp::spawn(db).await;
    let admin = app.register(&format!("admin{tag}")).await.0;
    let model = app
        .ok(
            Some(&admin),
            "mutation($i: CreateLlmModelInput!) { createLlmModel(input: $i) { id } }",
            json!({"i": {"name": "gpt", "provider": "OPENAI", "modelName": "m", "apiKey": key,
                          "apiBaseUrl": mock.base_url(nishan_domain::llm::Provider::OpenAi), "timeoutSecs": 5}}),
        )
        .await["createLlmModel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let masked = format!("{}****9876", &key[..7]);
    for message in [
        format!("Incorrect API key provided: key={masked}."),
        format!("bad {{\"key\":\"{}…\"}}", &key[..7]),
        format!("invalid key:\n{}", key.to_uppercase()),
        format!("see https://example.org/v1?key={}", masked.replace('*', "%2A")),
    ] {
        mock.push(Behaviour::Error { status: 401, message });
        let q = "mutation($id: ID!) { testLlmModel(id: $id) { validationStatus } }";
        app.ok(Some(&admin), q, json!({"id": model})).await;
    }
    // A job on the model fails with the provider's answer too.
    let project = app.create_project(&admin, "Keys", json!({})).await;
    let doc = common::create_document(&app, &admin, &project, "Stanza", "حسینؑ کربلا میں").await;
    mock.set_fallback(Behaviour::Error { status: 401, message: format!("revoked: {masked}") });
    let job = app
        .ok(
            Some(&admin),
            "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id } }",
            json!({"i": {"documentId": doc, "llmModelId": model}}),
        )
        .await["startProcessingJob"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = common::wait_for_job(&app, &admin, &job).await;
    assert_eq!(done["status"], "FAILED", "{done}");
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap().to_lowercase();
    assert!(text.contains("<redacted>"), "the provider's answers were logged, redacted");
    let key = key.to_lowercase();
    for piece in [&key[..7], &key[7..20], &key[key.len() - 6..]] {
        assert!(!text.contains(piece), "{piece:?} of the key reached the log");
    }
}

on_both_databases!(provider_errors_log_no_piece_of_the_key);
