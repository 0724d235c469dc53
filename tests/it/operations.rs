//! What operators see and rely on: `GET /metrics` in the Prometheus text format (and its
//! token), and the retention sweep.

use crate::common;

use common::{Db, TestApp};
use serde_json::json;

/// The value of one sample line (`name{labels} value`) of a scrape, if present.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn metrics_count_operations(db: Db) {
    let app = TestApp::spawn(db).await;
    // Operation names of this test alone: the registry is shared by the servers of this binary.
    let name = match db {
        Db::Sqlite => "ProbeSqlite",
        Db::Postgres => "ProbePostgres",
    };
    for _ in 0..3 {
        app.ok(None, &format!("query {name} {{ me {{ id }} }}"), json!({})).await;
    }
    app.gql(None, &format!("query {name} {{ nothing }}"), json!({})).await;
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let scrape = resp.text().await.unwrap();
    assert!(scrape.contains("# TYPE nishan_graphql_operations counter"), "{scrape}");
    assert_eq!(
        sample(&scrape, &format!("nishan_graphql_operations_total{{operation=\"{name}\",outcome=\"ok\"}}")),
        Some(3.0)
    );
    assert_eq!(
        sample(&scrape, &format!("nishan_graphql_operations_total{{operation=\"{name}\",outcome=\"rejected\"}}")),
        Some(1.0)
    );
    assert_eq!(
        sample(&scrape, &format!("nishan_graphql_operation_duration_seconds_count{{operation=\"{name}\"}}")),
        Some(4.0)
    );
    assert!(
        scrape.contains(&format!(
            "nishan_graphql_operation_duration_seconds_bucket{{le=\"0.001\",operation=\"{name}\"}}"
        )),
        "{scrape}"
    );
    assert_eq!(sample(&scrape, "nishan_db_pool_max_connections"), Some(5.0));
    assert!(sample(&scrape, "nishan_db_pool_connections{state=\"idle\"}").is_some());
    assert!(sample(&scrape, "nishan_subscriptions_open").is_some());
    assert!(sample(&scrape, "nishan_websocket_connections_open").is_some());
    assert!(scrape.trim_end().ends_with("# EOF"));
}

async fn open_subscriptions_are_a_gauge(db: Db) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = TestApp::spawn(db).await;
    let open = |scrape: String| sample(&scrape, "nishan_subscriptions_open").unwrap();
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::text(json!({"type": "connection_init"}).to_string())).await.unwrap();
    let subscribe =
        json!({"type": "subscribe", "id": "1", "payload": {"query": "subscription { heartbeat(intervalMs: 60000) }"}});
    socket.send(Message::text(subscribe.to_string())).await.unwrap();
    let mut nexts = 0;
    while nexts < 1 {
        if let Message::Text(t) = socket.next().await.unwrap().unwrap() {
            nexts += usize::from(t.contains("\"next\""));
        }
    }
    // Other tests of this binary may hold subscriptions too: this one is at least one.
    let scrape = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(open(scrape) >= 1.0);
}

async fn metrics_can_require_a_token(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.surface.metrics_token = Some("scrape-secret".into())).await;
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app.http.get(app.url("/metrics")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app.http.get(app.url("/metrics")).bearer_auth("scrape-secret").send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

async fn retention_removes_what_outlived_it(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.surface.audit_retention_days = 30).await;
    let (token, _) = app.register("anis").await;
    let (revoked, _) = app.register("dabir").await;
    app.ok(Some(&revoked), "mutation { logout }", json!({})).await;
    // An expired session of anis's, and audit rows from before the retention period (times
    // written as the server writes them, RFC 3339).
    app.execute(&format!(
        "INSERT INTO user_sessions (id, user_id, token_hash, expires_at, created_at, last_used_at) \
         SELECT '{}', id, 'expired-digest', '2020-01-01T00:00:00+00:00', '2019-12-01T00:00:00+00:00', \
         '2019-12-01T00:00:00+00:00' FROM users WHERE username = 'anis'",
        uuid::Uuid::now_v7()
    ))
    .await;
    for days_ago in [400, 31] {
        app.execute(&format!(
            "INSERT INTO audit_logs (id, timestamp, action, resource_type, changes) VALUES \
             ('{}', '{}', 'OLD', 'test', '{{}}')",
            uuid::Uuid::now_v7(),
            (chrono::Utc::now() - chrono::Duration::days(days_ago)).format("%Y-%m-%dT%H:%M:%S+00:00")
        ))
        .await;
    }
    app.execute("INSERT INTO rate_limits (bucket, window_start, hits) VALUES ('ip:192.0.2.1', 60, 7)").await;
    let audit_before = app.count("SELECT id FROM audit_logs").await;
    assert_eq!(app.count("SELECT id FROM user_sessions").await, 3);

    let mut settings = common::test_settings(&app.db_url, &app.data_dir);
    settings.surface.audit_retention_days = 30;
    let state = nishan_api::bootstrap(settings).await.unwrap();
    let swept = nishan_api::retention::sweep(&state, chrono::Utc::now()).await.unwrap();
    assert_eq!(swept.sessions, 2, "the expired and the revoked session");
    assert_eq!(swept.audit_rows, 2);
    assert_eq!(swept.rate_limits, 1);
    assert_eq!(app.count("SELECT id FROM audit_logs").await, audit_before - 2);
    assert_eq!(app.count("SELECT id FROM audit_logs WHERE action = 'OLD'").await, 0);
    // The live session still signs in.
    let me = app.ok(Some(&token), "{ me { username } }", json!({})).await;
    assert_eq!(me["me"]["username"], "anis");
    // Retention 0 keeps audit rows forever.
    let mut settings = common::test_settings(&app.db_url, &app.data_dir);
    settings.surface.audit_retention_days = 0;
    let state = nishan_api::bootstrap(settings).await.unwrap();
    let swept =
        nishan_api::retention::sweep(&state, chrono::Utc::now() + chrono::Duration::days(10_000)).await.unwrap();
    assert_eq!(swept.audit_rows, 0);
}

on_both_databases!(
    metrics_count_operations,
    open_subscriptions_are_a_gauge,
    metrics_can_require_a_token,
    retention_removes_what_outlived_it,
);
