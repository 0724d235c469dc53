//! GraphQL over WebSocket at `/graphql/ws`: the `graphql-transport-ws` protocol with every
//! close code of the `graphql-ws` library, ping/pong, subscriptions, queries and mutations,
//! and the legacy `graphql-ws` protocol.

use crate::common;

use std::time::Duration;

use common::{Db, TestApp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, protocol: Option<&str>) -> Socket {
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().unwrap();
    if let Some(protocol) = protocol {
        request.headers_mut().insert("sec-websocket-protocol", protocol.parse().unwrap());
    }
    let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("upgrade");
    if let Some(protocol) = protocol {
        assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    }
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.unwrap();
}

/// The next protocol message (JSON text), skipping WebSocket control frames.
async fn receive(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Waits for the server to close the socket; returns the close code and reason.
async fn closed(socket: &mut Socket) -> (u16, String) {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("closed within 10 s");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return (u16::from(frame.code), frame.reason.to_string()),
            Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
            Some(Ok(Message::Text(text))) => panic!("expected a close, got {text}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("socket error: {e}"),
        }
    }
}

/// A `graphql-transport-ws` connection, acknowledged.
async fn ready(app: &TestApp, payload: Value) -> Socket {
    let mut socket = connect(app, Some("graphql-transport-ws")).await;
    send(&mut socket, json!({"type": "connection_init", "payload": payload})).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    socket
}

fn subscribe(id: &str, query: &str) -> Value {
    json!({"type": "subscribe", "id": id, "payload": {"query": query}})
}

async fn operations_run_over_the_socket(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let mut socket = ready(&app, json!({"Authorization": format!("Bearer {token}")})).await;
    send(&mut socket, json!({"type": "ping", "payload": {"at": 1}})).await;
    assert_eq!(receive(&mut socket).await, json!({"type": "pong", "payload": {"at": 1}}));

    // A query answers once, then completes; the caller is the token's user.
    send(&mut socket, subscribe("q1", "{ me { username } }")).await;
    assert_eq!(
        receive(&mut socket).await,
        json!({"type": "next", "id": "q1", "payload": {"data": {"me": {"username": "anis"}}}})
    );
    assert_eq!(receive(&mut socket).await, json!({"type": "complete", "id": "q1"}));

    // A mutation too.
    send(
        &mut socket,
        subscribe("m1", "mutation { createProject(input: {name: \"Over the socket\"}) { name myRole } }"),
    )
    .await;
    let next = receive(&mut socket).await;
    assert_eq!(
        next["payload"]["data"]["createProject"],
        json!({"name": "Over the socket", "myRole": "OWNER"}),
        "{next}"
    );
    assert_eq!(receive(&mut socket).await["type"], "complete");

    // A subscription streams until the client completes it.
    send(&mut socket, subscribe("s1", "subscription { heartbeat(intervalMs: 100) }")).await;
    let mut beats = Vec::new();
    for _ in 0..3 {
        let next = receive(&mut socket).await;
        assert_eq!((next["type"].as_str(), next["id"].as_str()), (Some("next"), Some("s1")), "{next}");
        let at = next["payload"]["data"]["heartbeat"].as_str().unwrap().to_owned();
        chrono::DateTime::parse_from_rfc3339(&at).expect("an RFC 3339 time");
        beats.push(at);
    }
    assert!(beats.windows(2).all(|w| w[0] < w[1]), "{beats:?}");
    send(&mut socket, json!({"type": "complete", "id": "s1"})).await;
    // Once completed, the id is free again and nothing more arrives for the old operation.
    send(&mut socket, subscribe("s1", "{ me { username } }")).await;
    assert_eq!(receive(&mut socket).await["payload"]["data"]["me"]["username"], "anis");
    assert_eq!(receive(&mut socket).await, json!({"type": "complete", "id": "s1"}));

    // An operation that does not validate gets `error` (no `complete`), and frees its id.
    send(&mut socket, subscribe("bad", "{ nothing }")).await;
    let error = receive(&mut socket).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["id"], "bad");
    assert_eq!(error["payload"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED", "{error}");
    send(&mut socket, subscribe("bad", "{ me { username } }")).await;
    assert_eq!(receive(&mut socket).await["type"], "next");
    assert_eq!(receive(&mut socket).await["type"], "complete");

    // A session ended by logout stops working on the open socket.
    app.ok(Some(&token), "mutation { logout }", json!({})).await;
    send(&mut socket, subscribe("after", "{ me { username } }")).await;
    let next = receive(&mut socket).await;
    assert_eq!(next["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{next}");
}

async fn anonymous_connections_are_served(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut socket = ready(&app, Value::Null).await;
    send(&mut socket, subscribe("1", "{ me { id } }")).await;
    assert_eq!(receive(&mut socket).await["payload"], json!({"data": {"me": null}}));
    // `connection_init` without a payload is as good.
    let mut socket = connect(&app, Some("graphql-transport-ws")).await;
    send(&mut socket, json!({"type": "connection_init"})).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
}

async fn every_close_code_of_the_protocol(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.surface.ws_init_timeout_ms = 300).await;
    let (token, _) = app.register("anis").await;

    // 4400: not JSON; the reason fits a close frame even when the message is long.
    let mut socket = ready(&app, Value::Null).await;
    socket.send(Message::text(format!("{{not json {}", "x".repeat(10_000)))).await.unwrap();
    let (code, reason) = closed(&mut socket).await;
    assert_eq!(code, 4400);
    assert!(reason.len() <= 123 && !reason.is_empty(), "{} bytes", reason.len());
    // 4400: JSON, but no message of the protocol.
    for bad in [
        json!({"type": "subscribe", "id": "", "payload": {"query": "{ me { id } }"}}),
        json!({"type": "next", "id": "1"}),
        json!([1, 2]),
    ] {
        let mut socket = ready(&app, Value::Null).await;
        send(&mut socket, bad.clone()).await;
        assert_eq!(closed(&mut socket).await.0, 4400, "{bad}");
    }

    // 4401: subscribe before the acknowledgement.
    let mut socket = connect(&app, Some("graphql-transport-ws")).await;
    send(&mut socket, subscribe("1", "{ me { id } }")).await;
    assert_eq!(closed(&mut socket).await, (4401, "Unauthorized".into()));

    // 4403: a token the server does not know.
    let mut socket = connect(&app, Some("graphql-transport-ws")).await;
    send(&mut socket, json!({"type": "connection_init", "payload": {"Authorization": "Bearer nsn_unknown"}})).await;
    assert_eq!(closed(&mut socket).await, (4403, "Forbidden".into()));
    // ...while the real one, in either form, is accepted.
    ready(&app, json!({"token": token})).await;

    // 4408: no connection_init in time (ping/pong does not count).
    let mut socket = connect(&app, Some("graphql-transport-ws")).await;
    send(&mut socket, json!({"type": "ping"})).await;
    assert_eq!(receive(&mut socket).await, json!({"type": "pong"}));
    let started = std::time::Instant::now();
    assert_eq!(closed(&mut socket).await, (4408, "Connection initialisation timeout".into()));
    assert!(started.elapsed() < Duration::from_secs(3));

    // 4409: a second subscribe with the id of a running operation.
    let mut socket = ready(&app, Value::Null).await;
    send(&mut socket, subscribe("same", "subscription { heartbeat(intervalMs: 5000) }")).await;
    assert_eq!(receive(&mut socket).await["type"], "next");
    send(&mut socket, subscribe("same", "subscription { heartbeat }")).await;
    assert_eq!(closed(&mut socket).await, (4409, "Subscriber for same already exists".into()));

    // 4429: a second connection_init.
    let mut socket = ready(&app, Value::Null).await;
    send(&mut socket, json!({"type": "connection_init"})).await;
    assert_eq!(closed(&mut socket).await, (4429, "Too many initialisation requests".into()));

    // 4406: no subprotocol the server speaks.
    let mut socket = connect(&app, None).await;
    assert_eq!(closed(&mut socket).await.0, 4406);
}

async fn one_connection_runs_a_bounded_number_of_operations(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut socket = ready(&app, Value::Null).await;
    let max = nishan_api::ws::MAX_OPERATIONS;
    for i in 0..max {
        send(&mut socket, subscribe(&format!("s{i}"), "subscription { heartbeat(intervalMs: 60000) }")).await;
    }
    for _ in 0..max {
        assert_eq!(receive(&mut socket).await["type"], "next");
    }
    send(&mut socket, subscribe("one-more", "subscription { heartbeat }")).await;
    let error = receive(&mut socket).await;
    assert_eq!((error["type"].as_str(), error["id"].as_str()), (Some("error"), Some("one-more")), "{error}");
    assert_eq!(error["payload"][0]["extensions"]["code"], "BAD_REQUEST");
    // Completing one makes room again.
    send(&mut socket, json!({"type": "complete", "id": "s0"})).await;
    send(&mut socket, subscribe("one-more", "{ me { id } }")).await;
    assert_eq!(
        receive(&mut socket).await,
        json!({"type": "next", "id": "one-more", "payload": {"data": {"me": null}}})
    );
}

async fn the_legacy_protocol_is_still_served(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let mut socket = connect(&app, Some("graphql-ws")).await;
    send(&mut socket, json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}))
        .await;
    assert_eq!(receive(&mut socket).await["type"], "connection_ack");
    assert_eq!(receive(&mut socket).await["type"], "ka");
    send(&mut socket, json!({"type": "start", "id": "1", "payload": {"query": "{ me { username } }"}})).await;
    assert_eq!(
        receive(&mut socket).await,
        json!({"type": "data", "id": "1", "payload": {"data": {"me": {"username": "anis"}}}})
    );
    assert_eq!(receive(&mut socket).await, json!({"type": "complete", "id": "1"}));
    send(
        &mut socket,
        json!({"type": "start", "id": "2", "payload": {"query": "subscription { heartbeat(intervalMs: 100) }"}}),
    )
    .await;
    let data = receive(&mut socket).await;
    assert_eq!((data["type"].as_str(), data["id"].as_str()), (Some("data"), Some("2")), "{data}");
    send(&mut socket, json!({"type": "stop", "id": "2"})).await;
    // Keep-alives may interleave; the stop is confirmed.
    loop {
        let message = receive(&mut socket).await;
        if message["type"] == "complete" {
            assert_eq!(message["id"], "2");
            break;
        }
        assert!(["data", "ka"].contains(&message["type"].as_str().unwrap()), "{message}");
    }
    send(&mut socket, json!({"type": "connection_terminate"})).await;
    assert_eq!(closed(&mut socket).await.0, 1000);

    // A refused init is told with connection_error before the close.
    let mut socket = connect(&app, Some("graphql-ws")).await;
    send(&mut socket, json!({"type": "connection_init", "payload": {"token": "nsn_unknown"}})).await;
    assert_eq!(receive(&mut socket).await["type"], "connection_error");
    assert_eq!(closed(&mut socket).await.0, 4403);
}

/// A client that sends and never reads cannot make the server hold its answers: the server
/// writes what the socket takes, and disconnects the client once a write has waited
/// `NISHAN_WS_SEND_TIMEOUT_MS`; others are served meanwhile.
async fn a_client_that_does_not_read_is_disconnected(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.workers = 0;
        s.surface.ws_send_timeout_ms = 500;
    })
    .await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Big", json!({})).await;
    // About 1 MB: forty answers are far more than the socket buffers hold.
    let content = "کربلا میں حسینؑ\n".repeat(40_000);
    let doc = common::create_document(&app, &token, &project, "Big", &content).await;
    let auth = json!({"Authorization": format!("Bearer {token}")});
    let mut silent = ready(&app, auth.clone()).await;
    let watch = json!({"type": "subscribe", "id": "w", "payload": {
        "query": "subscription($d: ID!) { documentActivity(documentId: $d) { kind } }",
        "variables": {"d": doc},
    }});
    send(&mut silent, watch).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.state.events.subscribers() == 0 {
        assert!(std::time::Instant::now() < deadline, "the subscription did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 0..40 {
        let query = json!({"type": "subscribe", "id": format!("q{i}"), "payload": {
            "query": "query($d: ID!) { document(id: $d) { content } }",
            "variables": {"d": doc},
        }});
        send(&mut silent, query).await;
    }
    // The server gives up on the silent client: its subscription goes with the connection.
    while app.state.events.subscribers() > 0 {
        assert!(std::time::Instant::now() < deadline, "the silent client is still connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another client is served as ever.
    let mut other = ready(&app, auth).await;
    send(&mut other, subscribe("1", "{ me { username } }")).await;
    assert_eq!(receive(&mut other).await["payload"]["data"]["me"]["username"], "anis");
    // What the silent client gets when it finally reads: what the socket held, then the end.
    let mut answers = 0;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(10), silent.next()).await {
        if let Message::Text(text) = message
            && text.contains("\"next\"")
        {
            answers += 1;
        }
    }
    assert!(answers < 40, "all {answers} answers were held for a client that did not read");
}

/// The next text message as it was sent.
async fn raw_text(socket: &mut Socket) -> String {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = message {
            return text.to_string();
        }
    }
}

/// Over the socket too, a result's fields come in the order of the query, in the `next`
/// messages of queries and mutations.
async fn response_fields_follow_the_query(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let mut socket = ready(&app, json!({"token": token})).await;
    let create = "mutation { createProject(input: {name: \"Order\"}) { slug id myRole permissions { canExportData canEditProject } name } }";
    send(&mut socket, subscribe("m", create)).await;
    let next = raw_text(&mut socket).await;
    let keys = ["createProject", "slug", "id", "myRole", "permissions", "canExportData", "canEditProject", "name"];
    common::assert_keys_in_order(&next, &keys);
    assert_eq!(serde_json::from_str::<Value>(&raw_text(&mut socket).await).unwrap()["type"], "complete");
    send(&mut socket, subscribe("q", "{ zeta: me { username isAdmin id } alpha: me { id username } }")).await;
    common::assert_keys_in_order(
        &raw_text(&mut socket).await,
        &["zeta", "username", "isAdmin", "id", "alpha", "id", "username"],
    );
    assert_eq!(serde_json::from_str::<Value>(&raw_text(&mut socket).await).unwrap()["type"], "complete");
}

/// A subscription's events too: the first (the job as it stands) and one from the bus (its
/// cancellation), each with its fields in the order of the subscription's selection.
async fn subscription_events_follow_the_query(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Order", json!({})).await;
    let doc = common::create_document(&app, &token, &project, "مرثیہ", "کربلا میں حسینؑ").await;
    let start = "mutation($d: ID!) { startProcessingJob(input: {documentId: $d}) { id } }";
    let job =
        app.ok(Some(&token), start, json!({"d": doc})).await["startProcessingJob"]["id"].as_str().unwrap().to_owned();
    let mut socket = ready(&app, json!({"token": token})).await;
    let query = format!(
        "subscription {{ jobProgress(jobId: \"{job}\") {{ progress status z: jobId entitiesFound a: status }} }}"
    );
    send(&mut socket, subscribe("p", &query)).await;
    let keys = ["jobProgress", "progress", "status", "z", "entitiesFound", "a"];
    let first = raw_text(&mut socket).await;
    common::assert_keys_in_order(&first, &keys);
    assert!(first.contains("QUEUED"), "{first}");
    let cancel = "mutation($id: ID!) { cancelProcessingJob(id: $id) { status } }";
    app.ok(Some(&token), cancel, json!({"id": job})).await;
    let cancelled = raw_text(&mut socket).await;
    common::assert_keys_in_order(&cancelled, &keys);
    assert!(cancelled.contains("CANCELLED"), "{cancelled}");
}

on_both_databases!(
    a_client_that_does_not_read_is_disconnected,
    subscription_events_follow_the_query,
    response_fields_follow_the_query,
    operations_run_over_the_socket,
    anonymous_connections_are_served,
    every_close_code_of_the_protocol,
    one_connection_runs_a_bounded_number_of_operations,
    the_legacy_protocol_is_still_served,
);
