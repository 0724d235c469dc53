//! Throttles that hold under concurrency: wrong logins sent at once (on one WebSocket, in
//! parallel HTTP requests, against many accounts from one address) are counted before they are
//! evaluated, so no more than the limit are ever tried; a wrong current password in
//! `changePassword` is a failed login; the mutation limit counts every mutation field of every
//! operation (aliases and batches), not requests.

use std::collections::HashMap;

use crate::common;

use common::{Db, PASSWORD, TestApp, WsClient, error_code};
use serde_json::{Value, json};

const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { token } }";

fn login_vars(login: &str, password: &str) -> Value {
    json!({"i": {"usernameOrEmail": login, "password": password}})
}

/// The outcome of a login answer: `"ok"`, or its error code.
fn outcome(payload: &Value) -> String {
    match payload["errors"][0]["extensions"]["code"].as_str() {
        Some(code) => code.to_owned(),
        None if payload["data"]["login"]["token"].is_string() => "ok".into(),
        None => panic!("neither a token nor a coded error: {payload}"),
    }
}

fn tally(outcomes: impl IntoIterator<Item = String>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for o in outcomes {
        *counts.entry(o).or_insert(0) += 1;
    }
    counts
}

/// Sends every operation on one WebSocket at once, then collects each one's result.
async fn all_at_once_on_one_socket(app: &TestApp, operations: &[(String, Value)]) -> Vec<Value> {
    let mut ws = WsClient::connect(app, None).await;
    for (i, (query, variables)) in operations.iter().enumerate() {
        ws.subscribe(&i.to_string(), query, variables.clone()).await;
    }
    let mut results: Vec<Option<Value>> = vec![None; operations.len()];
    while results.iter().any(Option::is_none) {
        let msg = ws.next().await.expect("the socket stays open");
        let Some(i) = msg["id"].as_str().and_then(|id| id.parse::<usize>().ok()) else { continue };
        match msg["type"].as_str() {
            Some("next") => results[i] = Some(msg["payload"].clone()),
            Some("error") => results[i] = Some(json!({"errors": msg["payload"]})),
            _ => {}
        }
    }
    results.into_iter().map(Option::unwrap).collect()
}

async fn wrong_logins_sent_at_once_on_one_websocket_stop_at_the_limit(db: Db) {
    let app = TestApp::spawn(db).await;
    app.register("anis").await;
    let wrong: Vec<(String, Value)> =
        (0..60).map(|i| (LOGIN.to_owned(), login_vars("anis", &format!("wrong-password-{i}")))).collect();
    let counts = tally(all_at_once_on_one_socket(&app, &wrong).await.iter().map(outcome));
    assert_eq!(counts.get("UNAUTHENTICATED"), Some(&5), "exactly five guesses are evaluated: {counts:?}");
    assert_eq!(counts.get("RATE_LIMITED"), Some(&55), "{counts:?}");
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'auth.login_failed'").await, 5);
    // The account now cools down: the right password waits too.
    let resp = app.gql(None, LOGIN, login_vars("anis", PASSWORD)).await;
    assert_eq!(error_code(&resp), "RATE_LIMITED", "{resp}");

    // Sent together with the guesses, the right password signs in when it comes before the
    // cooldown, or waits; either way no more than five guesses are evaluated.
    app.register("dabir").await;
    let mut mixed: Vec<(String, Value)> =
        (0..60).map(|i| (LOGIN.to_owned(), login_vars("dabir", &format!("wrong-password-{i}")))).collect();
    mixed.insert(30, (LOGIN.to_owned(), login_vars("dabir", PASSWORD)));
    let counts = tally(all_at_once_on_one_socket(&app, &mixed).await.iter().map(outcome));
    let wrong_evaluated = counts.get("UNAUTHENTICATED").copied().unwrap_or(0);
    assert!(wrong_evaluated <= 5, "at most five guesses are evaluated: {counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 61);
}

async fn parallel_http_logins_stop_at_the_limit(db: Db) {
    let app = TestApp::spawn(db).await;
    app.register("anis").await;
    let attempts = (0..30).map(|i| {
        let app = &app;
        async move { outcome(&app.gql(None, LOGIN, login_vars("ANIS", &format!("wrong-password-{i}"))).await) }
    });
    let counts = tally(futures_util::future::join_all(attempts).await);
    assert_eq!(counts.get("UNAUTHENTICATED"), Some(&5), "{counts:?}");
    assert_eq!(counts.get("RATE_LIMITED"), Some(&25), "{counts:?}");
    // By email, the same account: the same count.
    let resp = app.gql(None, LOGIN, login_vars("anis@example.org", "wrong-password")).await;
    assert_eq!(error_code(&resp), "RATE_LIMITED", "{resp}");
    // A login naming no account is throttled the same way: the throttle tells nothing.
    for _ in 0..5 {
        assert_eq!(error_code(&app.gql(None, LOGIN, login_vars("nobody", "wrong-password")).await), "UNAUTHENTICATED");
    }
    assert_eq!(error_code(&app.gql(None, LOGIN, login_vars("nobody", "wrong-password")).await), "RATE_LIMITED");
}

async fn guesses_from_one_address_stop_at_its_limit(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.login_max_failures = 100).await;
    for name in ["anis", "dabir", "ghalib", "mir"] {
        app.register(name).await;
    }
    // 80 guesses at once from one address, spread over real and unknown accounts.
    let guesses: Vec<(String, Value)> = (0..80)
        .map(|i| {
            let login = match i % 5 {
                0 => "anis".to_owned(),
                1 => "dabir".to_owned(),
                2 => "ghalib".to_owned(),
                3 => "mir".to_owned(),
                _ => format!("nobody-{i}"),
            };
            (LOGIN.to_owned(), login_vars(&login, "wrong-password"))
        })
        .collect();
    let counts = tally(all_at_once_on_one_socket(&app, &guesses).await.iter().map(outcome));
    assert_eq!(counts.get("UNAUTHENTICATED"), Some(&30), "the address is allowed 30: {counts:?}");
    assert_eq!(counts.get("RATE_LIMITED"), Some(&50), "{counts:?}");
}

async fn a_success_is_not_a_failure_but_leaves_the_failures(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        s.login_max_failures = 3;
        s.login_max_failures_per_ip = 4;
    })
    .await;
    app.register("anis").await;
    for _ in 0..2 {
        assert_eq!(error_code(&app.gql(None, LOGIN, login_vars("anis", "wrong-password")).await), "UNAUTHENTICATED");
    }
    // Successes count against neither the account nor the address.
    for _ in 0..3 {
        assert_eq!(outcome(&app.gql(None, LOGIN, login_vars("anis", PASSWORD)).await), "ok");
    }
    // The two failures still count: the third starts the account's cooldown.
    assert_eq!(error_code(&app.gql(None, LOGIN, login_vars("anis", "wrong-password")).await), "UNAUTHENTICATED");
    assert_eq!(error_code(&app.gql(None, LOGIN, login_vars("anis", PASSWORD)).await), "RATE_LIMITED");
    // The address has one failure left, then it cools down for every account.
    assert_eq!(error_code(&app.gql(None, LOGIN, login_vars("nobody", "wrong-password")).await), "UNAUTHENTICATED");
    assert_eq!(error_code(&app.gql(None, LOGIN, login_vars("nobody-else", "wrong-password")).await), "RATE_LIMITED");
}

async fn replicas_share_the_count(db: Db) {
    let first = TestApp::spawn(db).await;
    let second = TestApp::spawn_on(&first, |_| {}).await;
    first.register("anis").await;
    let attempts = (0..16).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        async move { outcome(&app.gql(None, LOGIN, login_vars("anis", &format!("wrong-password-{i}"))).await) }
    });
    let counts = tally(futures_util::future::join_all(attempts).await);
    assert_eq!(counts.get("UNAUTHENTICATED"), Some(&5), "five in all, whichever server: {counts:?}");
    assert_eq!(counts.get("RATE_LIMITED"), Some(&11), "{counts:?}");
}

const CHANGE_PASSWORD: &str = "mutation($i: ChangePasswordInput!) { changePassword(input: $i) }";

async fn a_wrong_current_password_is_a_failed_login(db: Db) {
    let app = TestApp::spawn(db).await;
    let (token, _) = app.register("anis").await;
    let guesses = (0..20).map(|i| {
        let (app, token) = (&app, &token);
        async move {
            let vars =
                json!({"i": {"currentPassword": format!("guess-number-{i}"), "newPassword": "a-new-long-password"}});
            error_code(&app.gql(Some(token), CHANGE_PASSWORD, vars).await)
        }
    });
    let counts = tally(futures_util::future::join_all(guesses).await);
    assert_eq!(counts.get("BAD_USER_INPUT"), Some(&5), "five guesses are checked: {counts:?}");
    assert_eq!(counts.get("RATE_LIMITED"), Some(&15), "{counts:?}");
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'auth.password_check_failed'").await, 5);
    // The account cools down for logins too, and the right current password waits.
    assert_eq!(error_code(&app.gql(None, LOGIN, login_vars("anis", PASSWORD)).await), "RATE_LIMITED");
    let vars = json!({"i": {"currentPassword": PASSWORD, "newPassword": "a-new-long-password"}});
    assert_eq!(error_code(&app.gql(Some(&token), CHANGE_PASSWORD, vars).await), "RATE_LIMITED");
}

fn aliased_creations(count: usize, prefix: &str) -> String {
    let fields: String =
        (0..count).map(|i| format!("p{i}: createProject(input: {{name: \"{prefix} {i}\"}}) {{ id }} ")).collect();
    format!("mutation {{ {fields} }}")
}

async fn every_mutation_field_counts_against_the_limit(db: Db) {
    // Windows are whole minutes of the clock: this one stands 5 s into a minute.
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:05Z").unwrap().to_utc();
    let configure = |s: &mut nishan_api::config::Settings| {
        s.surface.mutations_per_minute = 5;
        s.surface.mutations_per_minute_per_ip = 0;
    };
    let app = TestApp::spawn_with_clock(db, configure, nishan_api::clock::Clock::manual(start)).await;
    let (token, _) = app.register("anis").await;
    // Twenty aliased creations are twenty mutations: refused whole, nothing created.
    let resp = app.gql(Some(&token), &aliased_creations(20, "Aliased"), json!({})).await;
    assert_eq!(error_code(&resp), "RATE_LIMITED", "{resp}");
    assert_eq!(app.count("SELECT id FROM projects").await, 0);

    // Another user, with a count of their own.
    let (token, _) = app.register("dabir").await;
    // A batch of ten operations of five creations each: the first five run, nothing more.
    let batch: Vec<Value> = (0..10).map(|b| json!({"query": aliased_creations(5, &format!("Batch {b}"))})).collect();
    let answers: Value =
        app.http.post(app.url("/graphql")).bearer_auth(&token).json(&batch).send().await.unwrap().json().await.unwrap();
    let answers = answers.as_array().unwrap();
    assert!(answers[0].get("errors").is_none(), "{}", answers[0]);
    for answer in &answers[1..] {
        assert_eq!(error_code(answer), "RATE_LIMITED", "{answer}");
    }
    assert_eq!(app.count("SELECT id FROM projects").await, 5);
}

on_both_databases!(
    wrong_logins_sent_at_once_on_one_websocket_stop_at_the_limit,
    parallel_http_logins_stop_at_the_limit,
    guesses_from_one_address_stop_at_its_limit,
    a_success_is_not_a_failure_but_leaves_the_failures,
    replicas_share_the_count,
    a_wrong_current_password_is_a_failed_login,
    every_mutation_field_counts_against_the_limit,
);
