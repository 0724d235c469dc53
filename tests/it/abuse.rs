//! Denial of service by one anonymous client: during each attack (sent from 127.0.0.2),
//! another client's `GET /health` (from 127.0.0.1) answers in under a second, and the
//! server's resident memory (it runs in this process, a test binary of its own: `VmRSS` of
//! `/proc/self/status`) stays under 512 MiB. The attacks: fragment fan-out, response amplification, slowloris (headers
//! and bodies that never finish), and more connections than the server will hold.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::common;

use common::{Db, TestApp, error_code};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HEALTH_WITHIN: Duration = Duration::from_secs(1);
const RSS_CEILING: u64 = 512 * 1024 * 1024;
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// One attack at a time in this process, so that one's memory is not read as another's.
static ONE_ATTACK_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The process's resident memory, from `/proc/self/status`.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// What the bystander saw while an attack ran.
#[derive(Debug)]
struct Watch {
    health_checks: usize,
    slowest_health: Duration,
    peak_rss: u64,
}

/// Runs `attack` while a second client asks `/health` again and again and memory is sampled;
/// returns the attack's result and what was seen.
async fn during<T>(app: &TestApp, attack: impl std::future::Future<Output = T>) -> (T, Watch) {
    let stop = tokio::sync::watch::channel(false);
    let url = app.url("/health");
    let mut stopped = stop.1.clone();
    let bystander = tokio::spawn(async move {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let mut watch = Watch { health_checks: 0, slowest_health: Duration::ZERO, peak_rss: rss_bytes() };
        loop {
            let started = Instant::now();
            let status = client.get(&url).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
            assert_eq!(status, 200, "/health answered {status} during the attack");
            watch.slowest_health = watch.slowest_health.max(started.elapsed());
            watch.health_checks += 1;
            watch.peak_rss = watch.peak_rss.max(rss_bytes());
            if *stopped.borrow() {
                return watch;
            }
            tokio::select! {
                _ = stopped.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    });
    let result = attack.await;
    stop.0.send(true).unwrap();
    let watch = bystander.await.expect("the bystander ran");
    (result, watch)
}

fn assert_unharmed(watch: &Watch) {
    eprintln!("{watch:?}");
    assert!(watch.health_checks >= 1, "{watch:?}");
    assert!(watch.slowest_health < HEALTH_WITHIN, "/health was slow during the attack: {watch:?}");
    assert!(watch.peak_rss < RSS_CEILING, "the server's memory grew past 512 MiB: {watch:?}");
}

/// An HTTP client whose connections come from the attacker's address.
fn attacker_client() -> reqwest::Client {
    reqwest::Client::builder().local_address(ATTACKER).build().unwrap()
}

async fn attacker_post(client: &reqwest::Client, app: &TestApp, body: &Value) -> Value {
    client.post(app.url("/graphql")).json(body).send().await.unwrap().json().await.unwrap()
}

/// A connection from the attacker's address.
async fn attacker_socket(addr: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(ATTACKER, 0))?;
    socket.connect(addr).await
}

/// The 1 KB document of the fan-out attack: `levels` fragments on `Query`, each spreading
/// the next one twice, the last selecting `__typename` (2^levels fields once expanded).
fn fan_out(levels: usize) -> String {
    let mut q = String::from("{ ...F0 }");
    for i in 0..levels {
        q.push_str(&format!(" fragment F{i} on Query {{ ...F{n} ...F{n} }}", n = i + 1));
    }
    q.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
    q
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_fan_out_is_refused_before_it_is_expanded() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let app = TestApp::spawn(Db::Sqlite).await;
    let attacker = attacker_client();
    let query = fan_out(25);
    assert!(query.len() < 1100, "a 1 KB document");
    let ((first, second), watch) = during(&app, async {
        let body = json!({"query": query});
        tokio::join!(attacker_post(&attacker, &app, &body), attacker_post(&attacker, &app, &body))
    })
    .await;
    for answer in [first, second] {
        assert_eq!(error_code(&answer), "GRAPHQL_VALIDATION_FAILED", "{answer}");
        let message = answer["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("33554432 fields") && message.contains("at most 2000"), "{message}");
    }
    assert_unharmed(&watch);
    // The same fan-out a little smaller than the limit runs, fields and all.
    let small = app.ok(None, &fan_out(10), json!({})).await;
    assert_eq!(small["__typename"], "Query");
}

/// A public document of `bytes` bytes of Urdu verse, readable without signing in.
async fn public_document(app: &TestApp, bytes: usize) -> String {
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Open", json!({"isPublic": true, "allowPublicView": true})).await;
    let line = "حسینؑ ابن علیؑ کربلا میں، عباسؑ فرات پر\n";
    let content = line.repeat(bytes / line.len());
    common::create_document(app, &token, &project, "Large", &content).await
}

async fn response_amplification_is_refused(db: Db) {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    // Creating the 10 MB document (its search index) is the set-up, not the attack: on a busy
    // machine a debug build takes longer than the default 10 s operation timeout for it. The
    // attack's bounds (/health, memory, the refusals) are the same.
    let app = TestApp::spawn_with(db, |s| s.surface.request_timeout_ms = 120_000).await;
    let document = public_document(&app, 10 * 1024 * 1024 - 4096).await;
    let attacker = attacker_client();
    eprintln!("rss before the attack: {}", rss_bytes());
    let aliases = |n: usize| -> String {
        let fields: String = (0..n).map(|i| format!("a{i}: document(id: \"{document}\") {{ content }} ")).collect();
        format!("{{ {fields} }}")
    };
    let (answers, watch) = during(&app, async {
        // Fifty copies of 10 MB (the attack as reported), and four: the document is read
        // once, shared by the fields that name it, and the answer is refused by the response
        // size limit (32 MiB) before it is built. Three of each at once.
        let fifty = json!({"query": aliases(50)});
        let four = json!({"query": aliases(4)});
        tokio::join!(
            attacker_post(&attacker, &app, &fifty),
            attacker_post(&attacker, &app, &fifty),
            attacker_post(&attacker, &app, &fifty),
            attacker_post(&attacker, &app, &four),
            attacker_post(&attacker, &app, &four),
            attacker_post(&attacker, &app, &four),
        )
    })
    .await;
    let (f1, f2, f3, s1, s2, s3) = answers;
    for answer in [f1, f2, f3, s1, s2, s3] {
        let text = answer.to_string();
        assert!(text.len() < 10_000, "the refusal is small: {} bytes", text.len());
        assert_eq!(error_code(&answer), "RESPONSE_TOO_LARGE", "{text}");
        assert!(answer["data"].is_null(), "{text}");
        assert!(answer["errors"][0]["message"].as_str().unwrap().contains("33554432 bytes"), "{text}");
    }
    assert_unharmed(&watch);
    // Texts cost in the complexity limit: a hundred times a plain field, times their lists.
    let listing = |field: &str| {
        format!(
            "{{ projects(first: 100) {{ edges {{ node {{ documents(first: 100) {{ edges {{ node {{ {field} }} }} }} }} }} }} }}"
        )
    };
    let refused = app.gql(None, &listing("content"), json!({})).await;
    assert_eq!(refused["errors"][0]["message"], "Query is too complex.", "{refused}");
    assert!(app.gql(None, &listing("title"), json!({})).await.get("errors").is_none());
    // One copy is an answer like any other.
    let one = app.ok(None, &aliases(1), json!({})).await;
    assert!(one["a0"]["content"].as_str().unwrap().len() > 10_000_000);
}

on_both_databases!(response_amplification_is_refused);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_limit_is_configurable_and_mutations_keep_what_they_did() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.surface.max_response_bytes = 2_000).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Small answers", json!({})).await;
    let content = "کربلا ".repeat(1_000);
    // A mutation whose answer is too large: the document is created (the mutation ran),
    // the answer says why the rest is missing.
    let resp = app
        .gql(
            Some(&token),
            "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id content } }",
            json!({"i": {"projectId": project, "title": "One", "content": content}}),
        )
        .await;
    assert_eq!(resp["errors"][0]["extensions"]["code"], "RESPONSE_TOO_LARGE", "{resp}");
    assert_eq!(app.count("SELECT id FROM documents").await, 1);
    let listed = app.ok(Some(&token), "{ projects(first: 10) { edges { node { documentCount } } } }", json!({})).await;
    assert_eq!(listed["projects"]["edges"][0]["node"]["documentCount"], 1);
    // A query over the limit gets the error and no data.
    let resp = app
        .gql(
            Some(&token),
            "{ projects(first: 1) { edges { node { documents(first: 1) { edges { node { content } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&resp), "RESPONSE_TOO_LARGE", "{resp}");
    assert!(resp["data"].is_null(), "{resp}");
}

/// Reads until the server closes the connection; what it sent.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_are_cut_off_and_connections_capped() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    // The server raises the open-files limit at start; so does this test (it holds both ends).
    nishan_api::server::raise_open_files_limit();
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.connections.header_read_timeout_ms = 2_000).await;
    let addr = app.addr;
    let (outcomes, watch) = during(&app, async {
        let started = Instant::now();
        let mut sockets = Vec::new();
        for _ in 0..1_100 {
            let mut socket = attacker_socket(addr).await.expect("the attacker connects");
            // The headers never end.
            let _ = socket.write_all(b"GET /health HTTP/1.1\r\nHost:x\r\n").await;
            sockets.push(socket);
        }
        // Every connection ends: at once with 503 over the per-address cap, else when the
        // header read timeout strikes.
        let ends = sockets.into_iter().map(|mut socket| async move {
            let seen = tokio::time::timeout(Duration::from_secs(30), read_to_close(&mut socket)).await;
            let seen = seen.expect("the server closes every stalled connection");
            (seen.starts_with(b"HTTP/1.1 503"), started.elapsed())
        });
        futures_util::future::join_all(ends).await
    })
    .await;
    let refused = outcomes.iter().filter(|(r, _)| *r).count();
    assert_eq!(refused, 1_000, "100 connections per address, the rest refused");
    let cut_off = outcomes.iter().filter(|(r, _)| !*r).map(|(_, at)| *at).max().unwrap();
    assert!(cut_off >= Duration::from_secs(2), "not before the timeout: {cut_off:?}");
    assert_unharmed(&watch);
    // Once they are gone the attacker's address may connect again.
    let mut socket = attacker_socket(addr).await.unwrap();
    socket.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let answer = read_to_close(&mut socket).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_cut_off() {
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.connections.body_read_timeout_ms = 1_500).await;
    let addr = app.addr;
    let (answer, watch) = during(&app, async {
        let mut socket = attacker_socket(addr).await.unwrap();
        let head =
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        // One byte every 200 ms: never idle long, never done.
        let (mut reader, mut writer) = socket.into_split();
        let drip = tokio::spawn(async move {
            for _ in 0..1000 {
                if writer.write_all(b" ").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let mut seen = Vec::new();
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(20), reader.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
                Err(_) => panic!("the slow body was still open after 20 s"),
            }
        }
        drip.abort();
        (String::from_utf8_lossy(&seen).into_owned(), started.elapsed())
    })
    .await;
    let (text, after) = answer;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("did not arrive within 1500 ms"), "{text}");
    assert!(after >= Duration::from_millis(1_400), "{after:?}");
    assert_unharmed(&watch);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_below_the_open_files_limit() {
    let settings = common::test_settings("sqlite::memory:", std::path::Path::new("."));
    let limits = nishan_api::server::ConnectionLimits::from_settings(&settings);
    let files = nishan_api::server::open_files_limit().unwrap();
    assert!((limits.max_connections as u64) < files, "{limits:?} within {files} files");
    assert_eq!(limits.max_connections_per_ip, 100);
    assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
}

/// The defaults the README's *Security* section states are the server's.
#[test]
fn the_documented_defaults_are_the_defaults() {
    let s = nishan_api::config::Settings::defaults();
    assert_eq!(s.surface.max_fields, 2_000);
    assert_eq!((s.max_depth, s.max_complexity, s.surface.max_aliases, s.surface.max_directives), (12, 250_000, 50, 10));
    assert_eq!(s.surface.max_batch, 10);
    assert_eq!(nishan_api::graphql::execution::TEXT_COST, 100);
    assert_eq!(s.surface.max_response_bytes, 32 * 1024 * 1024);
    assert_eq!(s.surface.request_timeout_ms, 10_000);
    assert_eq!(s.connections.header_read_timeout_ms, 10_000);
    assert_eq!(s.connections.body_read_timeout_ms, 60_000);
    assert_eq!((s.connections.max_connections, s.connections.max_connections_per_ip), (10_000, 100));
    assert_eq!(s.max_body_bytes(), s.max_document_bytes + 1024 * 1024);
    assert_eq!((s.surface.mutations_per_minute, s.surface.mutations_per_minute_per_ip), (300, 1_000));
    assert_eq!((s.login_max_failures, s.login_max_failures_per_ip, s.login_cooldown_secs), (5, 30, 300));
    let limits = s.login_limits();
    assert_eq!(limits.per_account.window, chrono::Duration::minutes(15));
    assert!(s.connections.trusted_proxies.is_empty());
    assert_eq!(s.connections.forwarded_header, nishan_api::proxy::ForwardedHeader::XForwardedFor);
}

/// An open WebSocket holds its connection's place under the caps for as long as it is open
/// (the HTTP connection ends at the upgrade): an anonymous client cannot get round the
/// per-address cap by upgrading its connections. Once one socket closes, the address may
/// connect again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_websockets_count_toward_the_connection_caps() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let _one = ONE_ATTACK_AT_A_TIME.lock().await;
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.connections.max_connections_per_ip = 5).await;
    let addr = app.addr;
    let health = |addr| async move {
        let mut socket = attacker_socket(addr).await.unwrap();
        socket.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let answer = read_to_close(&mut socket).await;
        String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned()
    };
    let mut sockets = Vec::new();
    for _ in 0..5 {
        let mut request = format!("ws://{addr}/graphql/ws").into_client_request().unwrap();
        request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        let stream = attacker_socket(addr).await.unwrap();
        let (mut socket, _) = tokio_tungstenite::client_async(request, stream).await.expect("upgrade");
        socket.send(json!({"type": "connection_init", "payload": {}}).to_string().into()).await.unwrap();
        let ack = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.unwrap().unwrap().unwrap();
        assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
        sockets.push(socket);
    }
    assert_eq!(health(addr).await, "HTTP/1.1 503", "five open sockets fill the address's five places");
    // Another address is served meanwhile.
    let other = reqwest::get(app.url("/health")).await.unwrap();
    assert_eq!(other.status(), 200);
    let mut closed = sockets.pop().unwrap();
    closed.close(None).await.unwrap();
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(10), closed.next()).await {}
    drop(closed);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = health(addr).await;
        if answer == "HTTP/1.1 200" {
            break;
        }
        assert!(Instant::now() < deadline, "a closed socket gives its place back: {answer}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The four still open still count: one more place only.
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    // (The health check's own connection may take a moment to leave.)
    let fifth = loop {
        let stream = attacker_socket(addr).await.unwrap();
        match tokio_tungstenite::client_async(request.clone(), stream).await {
            Ok((socket, _)) => break socket,
            Err(e) => assert!(Instant::now() < deadline, "the fifth place is free again: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(health(addr).await, "HTTP/1.1 503");
    drop((fifth, sockets));
}
