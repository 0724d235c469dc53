//! The mutation rate limit: per user and per address, per minute, RATE_LIMITED with
//! `retryAfter` (and 429 with `Retry-After` over `application/graphql-response+json`), nothing
//! done by a refused mutation, queries never limited, and counts that survive a restart.
//! Windows are whole minutes of the clock: each test runs on a manual clock standing 5 s into a
//! known minute, and moves it to the next minute to see the window end.

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{Db, TestApp, error_code};
use nishan_api::clock::Clock;
use nishan_api::config::Settings;
use serde_json::{Value, json};

/// 10:00:05 on the first of December 2026: 55 s before the next window.
fn known_window() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:05Z").unwrap().to_utc()
}

/// A server on a manual clock standing at [`known_window`].
async fn spawn(db: Db, configure: impl FnOnce(&mut Settings)) -> (TestApp, Clock) {
    let clock = Clock::manual(known_window());
    (TestApp::spawn_with_clock(db, configure, clock.clone()).await, clock)
}

async fn rename(app: &TestApp, token: &str, first_name: &str) -> reqwest::Response {
    app.http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": "mutation($n: String) { updateMe(input: {firstName: $n}) { firstName } }", "variables": {"n": first_name}}))
        .send()
        .await
        .unwrap()
}

async fn users_are_limited_per_minute(db: Db) {
    let (app, clock) = spawn(db, |s| s.surface.mutations_per_minute = 3).await;
    // Registering is anonymous: it counts against the address only.
    let (token, _) = app.register("anis").await;
    for name in ["Mir", "Anis", "Babar"] {
        assert_eq!(rename(&app, &token, name).await.status(), 200);
    }
    let refused = rename(&app, &token, "Refused").await;
    assert_eq!(refused.status(), 429);
    let retry_header: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), "RATE_LIMITED");
    let retry_after = body["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
    assert_eq!(retry_after, 55, "the next window opens at 10:01:00: {body}");
    assert_eq!(retry_header, retry_after);
    assert!(body.get("data").is_none());
    // The refused mutation did nothing; queries are not limited.
    for _ in 0..5 {
        let me = app.ok(Some(&token), "{ me { firstName } }", json!({})).await;
        assert_eq!(me["me"]["firstName"], "Babar");
    }
    // The legacy response type gets the same error with 200.
    let resp = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&token)
        .json(&json!({"query": "mutation { logout }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(error_code(&resp.json().await.unwrap()), "RATE_LIMITED");
    // Another user has a count of their own (the address limit is far off).
    let (other, _) = app.register("dabir").await;
    assert_eq!(rename(&app, &other, "Salamat").await.status(), 200);
    // One second before the window ends the user still waits; in the next window they count
    // from one again.
    clock.advance(Duration::seconds(54));
    let refused = rename(&app, &token, "Refused").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    clock.advance(Duration::seconds(1));
    for name in ["Mir", "Anis", "Babar"] {
        assert_eq!(rename(&app, &token, name).await.status(), 200, "a new window");
    }
    assert_eq!(rename(&app, &token, "Refused").await.status(), 429);
}

async fn addresses_are_limited_per_minute(db: Db) {
    let (app, clock) = spawn(db, |s| {
        s.surface.mutations_per_minute = 0;
        s.surface.mutations_per_minute_per_ip = 4;
    })
    .await;
    // Anonymous mutations count against the address.
    let (a, _) = app.register("anis").await;
    let (b, _) = app.register("dabir").await;
    assert_eq!(rename(&app, &a, "Mir").await.status(), 200);
    assert_eq!(rename(&app, &b, "Salamat").await.status(), 200);
    let resp = rename(&app, &b, "Ali").await;
    assert_eq!(resp.status(), 429);
    let resp = app
        .gql(
            None,
            "mutation($i: RegisterInput!) { register(input: $i) { token } }",
            json!({"i": {"username": "third", "email": "third@example.org", "password": common::PASSWORD}}),
        )
        .await;
    assert_eq!(error_code(&resp), "RATE_LIMITED");
    assert_eq!(app.count("SELECT id FROM users").await, 2);
    // The next minute lets the address in again.
    clock.advance(Duration::seconds(55));
    assert_eq!(rename(&app, &b, "Ali").await.status(), 200);
}

async fn counts_survive_a_restart(db: Db) {
    let (app, _clock) = spawn(db, |s| s.surface.mutations_per_minute = 2).await;
    let (token, _) = app.register("anis").await;
    assert_eq!(rename(&app, &token, "Mir").await.status(), 200);
    let restarted = app.restart(|s| s.surface.mutations_per_minute = 2).await;
    app.server.abort();
    assert_eq!(rename(&restarted, &token, "Babar").await.status(), 200);
    let resp = rename(&restarted, &token, "Anis").await;
    assert_eq!(resp.status(), 429, "the count of the minute carried over");
}

async fn mutations_over_websocket_count_too(db: Db) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let (app, _clock) = spawn(db, |s| s.surface.mutations_per_minute = 2).await;
    let (token, _) = app.register("anis").await;
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({"type": "connection_init", "payload": {"token": token}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    let mut texts = Vec::new();
    for id in ["1", "2", "3"] {
        let subscribe = json!({"type": "subscribe", "id": id, "payload": {"query": "mutation { updateMe(input: {bio: \"x\"}) { id } }"}});
        socket.send(Message::text(subscribe.to_string())).await.unwrap();
    }
    // The ack, two answers (`next`, `complete`) and a refusal.
    while texts.len() < 6 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(30), socket.next())
            .await
            .unwrap_or_else(|_| panic!("no further message within 30 s after {texts:?}"));
        if let Message::Text(t) = message.unwrap().unwrap() {
            texts.push(serde_json::from_str::<Value>(&t).unwrap());
        }
    }
    assert_eq!(texts[0]["type"], "connection_ack");
    let results: Vec<&Value> = texts.iter().filter(|m| m["type"] == "next" || m["type"] == "error").collect();
    let done = results.iter().filter(|m| m["type"] == "next" && m["payload"].get("errors").is_none()).count();
    assert_eq!(done, 2, "{texts:?}");
    let refused = results.iter().find(|m| m["type"] == "error").expect("the third mutation is refused");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    assert!(refused["payload"][0]["extensions"]["retryAfter"].as_u64().is_some());
}

on_both_databases!(
    users_are_limited_per_minute,
    addresses_are_limited_per_minute,
    counts_survive_a_restart,
    mutations_over_websocket_count_too,
);
