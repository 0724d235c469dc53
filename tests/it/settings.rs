//! Runtime settings: global admins read and change them (checked whole, audited), and every
//! replica takes a change up without a restart: the mutation limit and the webhook retry base
//! changed on one server hold on the other.

use crate::common;

use std::time::{Duration, Instant};

use common::{Db, TestApp, error_code};
use serde_json::{Value, json};

const GET: &str = "{ systemSettings }";
const SET: &str = "mutation($i: JSON!) { updateSystemSettings(input: $i) }";

async fn settings_are_for_admins_checked_and_audited(db: Db) {
    let app = TestApp::spawn(db).await;
    let (admin, _) = app.register("anis").await;
    let (user, _) = app.register("baqir").await;
    let shown = app.ok(Some(&admin), GET, json!({})).await["systemSettings"].clone();
    assert_eq!(
        shown,
        json!({"mutationsPerMinute": 300, "mutationsPerMinutePerIp": 1000, "auditRetentionDays": 365,
               "modelCallRetentionDays": 365, "webhookRetryBaseMs": 5000, "defaultModelId": shown["defaultModelId"]})
    );
    assert_eq!(error_code(&app.gql(Some(&user), GET, json!({})).await), "FORBIDDEN");
    assert_eq!(error_code(&app.gql(None, GET, json!({})).await), "UNAUTHENTICATED");
    assert_eq!(error_code(&app.gql(Some(&user), SET, json!({"i": {"auditRetentionDays": 1}})).await), "FORBIDDEN");
    for bad in [
        json!({"auditRetentionDays": 30, "colour": "red"}),
        json!({"auditRetentionDays": -1}),
        json!({"auditRetentionDays": "30"}),
        json!({"webhookRetryBaseMs": 0}),
        json!({"mutationsPerMinute": 2_000_000}),
        json!({"defaultModelId": "builtin"}),
        json!({}),
        json!("auditRetentionDays"),
    ] {
        assert_eq!(error_code(&app.gql(Some(&admin), SET, json!({"i": bad})).await), "BAD_USER_INPUT", "{bad}");
    }
    assert_eq!(app.ok(Some(&admin), GET, json!({})).await["systemSettings"], shown, "nothing changed");
    let unknown_model = json!({"i": {"defaultModelId": uuid::Uuid::new_v4().to_string()}});
    assert_eq!(error_code(&app.gql(Some(&admin), SET, unknown_model).await), "NOT_FOUND");
    let changed = app.ok(Some(&admin), SET, json!({"i": {"auditRetentionDays": 30, "webhookRetryBaseMs": 250}})).await;
    assert_eq!(changed["updateSystemSettings"]["auditRetentionDays"], 30);
    assert_eq!(changed["updateSystemSettings"]["webhookRetryBaseMs"], 250);
    assert_eq!(app.ok(Some(&admin), GET, json!({})).await["systemSettings"]["auditRetentionDays"], 30);
    let back = app.ok(Some(&admin), SET, json!({"i": {"auditRetentionDays": null}})).await;
    assert_eq!(back["updateSystemSettings"]["auditRetentionDays"], 365, "null: the default again");
    assert_eq!(back["updateSystemSettings"]["webhookRetryBaseMs"], 250);
    // The default model is chosen here too.
    let models = app.ok(Some(&admin), "{ llmModels { id provider isDefault } }", json!({})).await;
    let builtin =
        models["llmModels"].as_array().unwrap().iter().find(|m| m["provider"] == "BUILTIN").unwrap()["id"].clone();
    let set = app.ok(Some(&admin), SET, json!({"i": {"defaultModelId": builtin}})).await;
    assert_eq!(set["updateSystemSettings"]["defaultModelId"], builtin);
    let log = "query { auditLog(filter: {actions: [\"system_settings.update\"]}) { totalCount edges { node { changes user { username } } } } }";
    let rows = app.ok(Some(&admin), log, json!({})).await;
    assert_eq!(rows["auditLog"]["totalCount"], 3, "one row per change, none for refusals");
    assert_eq!(rows["auditLog"]["edges"][0]["node"]["user"]["username"], "anis");
    assert_eq!(rows["auditLog"]["edges"][2]["node"]["changes"]["settings"]["auditRetentionDays"], 30);
}

/// Two servers on one database: the mutation limit and the webhook retry base changed on the
/// first are in force on the second, which was not restarted.
async fn every_replica_takes_up_a_change(db: Db) {
    let fast = |s: &mut nishan_api::config::Settings| {
        s.settings_refresh_ms = 50;
        s.outbound.allow_private_addresses = true;
        s.outbound.webhook_poll_ms = 20;
        s.outbound.webhook_senders = 2;
    };
    let first = TestApp::spawn_with(db, |s| {
        fast(s);
        s.outbound.webhook_senders = 0;
    })
    .await;
    let second = TestApp::spawn_on(&first, fast).await;
    let (admin, _) = first.register("anis").await;
    let (user, _) = first.register("baqir").await;
    let me = "mutation { updateMe(input: {institution: \"Lucknow\"}) { id } }";
    for _ in 0..5 {
        second.ok(Some(&user), me, json!({})).await;
    }
    first.ok(Some(&admin), SET, json!({"i": {"mutationsPerMinute": 3, "webhookRetryBaseMs": 300}})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = second.gql(Some(&user), me, json!({})).await;
        if r.get("errors").is_some() {
            assert_eq!(error_code(&r), "RATE_LIMITED", "{r}");
            break;
        }
        assert!(Instant::now() < deadline, "the second server never took up the new limit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The second server's webhook sender waits the new base before the first retry.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { axum::http::StatusCode::BAD_GATEWAY }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    first.ok(Some(&admin), SET, json!({"i": {"mutationsPerMinute": null}})).await;
    let project = first.create_project(&admin, "Settings", json!({})).await;
    let create = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { webhook { id } } }";
    let hook = first
        .ok(Some(&admin), create, json!({"i": {"projectId": project, "url": url, "events": ["document.created"]}}))
        .await;
    let hook = hook["createWebhook"]["webhook"]["id"].clone();
    first.ok(Some(&admin), "mutation($id: ID!) { testWebhook(id: $id) { id } }", json!({"id": hook})).await;
    let q = "query($id: ID!) { webhook(id: $id) { deliveries { edges { node { attempts { nextAttemptAt attemptedAt } } } } } }";
    let deadline = Instant::now() + Duration::from_secs(20);
    let attempt: Value = loop {
        let data = first.ok(Some(&admin), q, json!({"id": hook})).await;
        let a = data["webhook"]["deliveries"]["edges"][0]["node"]["attempts"][0].clone();
        if !a.is_null() {
            break a;
        }
        assert!(Instant::now() < deadline, "no attempt in 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let time = |k: &str| chrono::DateTime::parse_from_rfc3339(attempt[k].as_str().unwrap()).unwrap();
    assert_eq!((time("nextAttemptAt") - time("attemptedAt")).num_milliseconds(), 300);
}

crate::on_both_databases!(settings_are_for_admins_checked_and_audited, every_replica_takes_up_a_change);
