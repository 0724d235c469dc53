//! Behind a reverse proxy: the forwarding header of a trusted proxy (`NISHAN_TRUSTED_PROXIES`)
//! decides the client's address for rate limits, the login throttle and audit rows; nobody
//! else's header is believed, and what a client writes in the header itself is never reached.
//! Trusted proxies are exempt from the per-address connection cap.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::common;

use common::{Db, PASSWORD, TestApp, error_code};
use nishan_api::proxy::{ForwardedHeader, parse_net};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { token } }";
const OTHER_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The test client (127.0.0.1) acts as the proxy.
fn behind_proxy(s: &mut nishan_api::config::Settings) {
    s.connections.trusted_proxies = vec![parse_net("127.0.0.1").unwrap()];
}

async fn login_with(app: &TestApp, client: &reqwest::Client, headers: &[(&str, &str)], password: &str) -> Value {
    let mut req = client.post(app.url("/graphql")).json(&json!({
        "query": LOGIN,
        "variables": {"i": {"usernameOrEmail": "anis", "password": password}},
    }));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap().json().await.unwrap()
}

/// The address of the newest failed login's audit row.
async fn last_failed_login_address(app: &TestApp) -> String {
    let db = app.database().await;
    use sea_orm::ConnectionTrait;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT ip_address FROM audit_logs WHERE action = 'auth.login_failed' ORDER BY timestamp DESC LIMIT 1",
        ))
        .await
        .unwrap()
        .expect("a failed login");
    row.try_get("", "ip_address").unwrap()
}

async fn only_a_trusted_proxy_is_believed(db: Db) {
    // Without trusted proxies the header is a client's claim, and ignored.
    let app = TestApp::spawn(db).await;
    app.register("anis").await;
    login_with(&app, &app.http, &[("x-forwarded-for", "203.0.113.7")], "wrong-password").await;
    assert_eq!(last_failed_login_address(&app).await, "127.0.0.1");

    let app = TestApp::spawn_with(db, behind_proxy).await;
    app.register("anis").await;
    login_with(&app, &app.http, &[("x-forwarded-for", "203.0.113.7")], "wrong-password").await;
    assert_eq!(last_failed_login_address(&app).await, "203.0.113.7");
    // What the client wrote itself is left of the address the proxy appended.
    login_with(&app, &app.http, &[("x-forwarded-for", "198.51.100.1, 203.0.113.8")], "wrong-password").await;
    assert_eq!(last_failed_login_address(&app).await, "203.0.113.8");
    // A peer that is not a trusted proxy is its own address, whatever it sends.
    let elsewhere = reqwest::Client::builder().local_address(OTHER_PEER).build().unwrap();
    login_with(&app, &elsewhere, &[("x-forwarded-for", "203.0.113.9")], "wrong-password").await;
    assert_eq!(last_failed_login_address(&app).await, "127.0.0.2");
    // Without the header, the proxy's own address.
    login_with(&app, &app.http, &[], "wrong-password").await;
    assert_eq!(last_failed_login_address(&app).await, "127.0.0.1");
}

async fn rfc_7239_when_configured(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        behind_proxy(s);
        s.connections.forwarded_header = ForwardedHeader::Forwarded;
    })
    .await;
    app.register("anis").await;
    let headers = [("forwarded", "for=198.51.100.1, for=\"[2001:db8::7]:4711\";proto=https")];
    login_with(&app, &app.http, &headers, "wrong-password").await;
    assert_eq!(last_failed_login_address(&app).await, "2001:db8::7");
    // The header not configured is not read.
    login_with(&app, &app.http, &[("x-forwarded-for", "203.0.113.7")], "wrong-password").await;
    assert_eq!(last_failed_login_address(&app).await, "127.0.0.1");
}

async fn limits_count_the_forwarded_address(db: Db) {
    let app = TestApp::spawn_with(db, |s| {
        behind_proxy(s);
        s.login_max_failures = 100;
        s.login_max_failures_per_ip = 3;
    })
    .await;
    app.register("anis").await;
    let first = [("x-forwarded-for", "203.0.113.7")];
    for _ in 0..3 {
        assert_eq!(error_code(&login_with(&app, &app.http, &first, "wrong-password").await), "UNAUTHENTICATED");
    }
    assert_eq!(error_code(&login_with(&app, &app.http, &first, "wrong-password").await), "RATE_LIMITED");
    // Another client behind the same proxy has a count of its own, and signs in.
    let second = [("x-forwarded-for", "203.0.113.8")];
    let answer = login_with(&app, &app.http, &second, PASSWORD).await;
    assert!(answer["data"]["login"]["token"].is_string(), "{answer}");
    // Forging the header does not escape the count: the proxy appended the real address.
    let forged = [("x-forwarded-for", "192.0.2.1, 203.0.113.7")];
    assert_eq!(error_code(&login_with(&app, &app.http, &forged, "wrong-password").await), "RATE_LIMITED");
}

async fn mutation_limits_and_websockets_see_the_forwarded_address(db: Db) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = TestApp::spawn_with(db, |s| {
        behind_proxy(s);
        s.surface.mutations_per_minute = 0;
        s.surface.mutations_per_minute_per_ip = 1_000;
    })
    .await;
    app.register("anis").await;
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    request.headers_mut().insert("x-forwarded-for", "203.0.113.44".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::text(json!({"type": "connection_init", "payload": {}}).to_string())).await.unwrap();
    let login = json!({"id": "1", "type": "subscribe", "payload": {"query": LOGIN, "variables": {"i": {"usernameOrEmail": "anis", "password": "wrong-password"}}}});
    socket.send(Message::text(login.to_string())).await.unwrap();
    loop {
        let Message::Text(text) = socket.next().await.unwrap().unwrap() else { continue };
        let msg: Value = serde_json::from_str(&text).unwrap();
        if msg["type"] == "complete" {
            break;
        }
    }
    assert_eq!(last_failed_login_address(&app).await, "203.0.113.44");
    // The mutation counter of the forwarded address.
    assert_eq!(app.count("SELECT bucket FROM rate_limits WHERE bucket = 'ip:203.0.113.44'").await, 1);
}

on_both_databases!(
    only_a_trusted_proxy_is_believed,
    rfc_7239_when_configured,
    limits_count_the_forwarded_address,
    mutation_limits_and_websockets_see_the_forwarded_address,
);

/// Opens `n` connections from `from` that send nothing; how many the server answered 503.
async fn refused_of(addr: SocketAddr, from: IpAddr, n: usize) -> (usize, Vec<tokio::net::TcpStream>) {
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..n {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        // A held connection can still be used: ask for /health on it and read the answer. A
        // refused one may be closed before the request is even written.
        let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let mut buf = [0u8; 12];
        match stream.read_exact(&mut buf).await {
            Ok(_) if &buf == b"HTTP/1.1 200" => held.push(stream),
            Ok(_) => {
                assert_eq!(&buf, b"HTTP/1.1 503");
                refused += 1;
            }
            Err(_) => refused += 1,
        }
    }
    (refused, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxies_are_exempt_from_the_per_address_cap() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        behind_proxy(s);
        s.connections.max_connections_per_ip = 3;
    })
    .await;
    let (refused, _held) = refused_of(app.addr, OTHER_PEER, 5).await;
    assert_eq!(refused, 2, "three connections per address");
    let (refused, _held) = refused_of(app.addr, IpAddr::V4(Ipv4Addr::LOCALHOST), 5).await;
    assert_eq!(refused, 0, "the trusted proxy carries many clients");
}
