//! Watchers benchmark: many `documentActivity` subscribers on one server. The server runs in a
//! child process (this same executable, started with `NISHAN_WATCHERS_SERVE`), so its memory is
//! its own; this process is the load client: one `graphql-transport-ws` connection per
//! subscriber, each with one subscription to the same document. It prints, at 1,000 and 10,000
//! subscribers, the server's memory per idle subscriber (resident set growth over the
//! subscribers, divided by their number) and the fan-out latency: from sending a `createEntity`
//! to the moment the last subscriber has its event (p50, p99 and max over the rounds), with the
//! CPU time each process spent, to show the client is not the bottleneck. SQLite, and
//! PostgreSQL when `NISHAN_TEST_POSTGRES_URL` names a server. Figures go to stdout; the README
//! records them. For profiling: `NISHAN_WATCHERS_SIZES=1000` picks the sizes, and
//! `NISHAN_WATCHERS_SERVER_PREFIX="perf record -g --"` (or `heaptrack`) runs the server under a
//! tool (its own output lines before the server's address are skipped). heaptrack sees only C
//! allocations (SQLite's): the server's Rust allocations go through mimalloc
//! (`#[global_allocator]` in api/src/lib.rs). Under a prefix the memory figure is the tool's
//! process's, not the server's: read it from a run without one.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Set in the child: the database URL the server opens.
const SERVE: &str = "NISHAN_WATCHERS_SERVE";
const SIZES: [usize; 2] = [1_000, 10_000];
/// Connections opened at once while the subscribers come in.
const CONNECTING: usize = 200;

/// Raises this process's soft open-files limit to its hard limit (10,000 sockets need it).
fn raise_open_files() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        limit.rlim_cur
    }
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of a process, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    // SAFETY: sysconf reads a constant.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// The child: a server on 127.0.0.1:0 over the given database, until its stdin closes.
fn serve(url: String) {
    raise_open_files();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let mut settings = nishan_api::config::Settings::defaults();
        settings.database_url = Some(url);
        settings.data_dir = std::env::var("NISHAN_DATA_DIR").unwrap().into();
        settings.workers = 0;
        settings.db_max_connections = 10;
        settings.surface.mutations_per_minute = 0;
        settings.surface.mutations_per_minute_per_ip = 0;
        // Every subscriber connects from 127.0.0.1.
        settings.connections.max_connections = 20_000;
        settings.connections.max_connections_per_ip = 20_000;
        let limits = nishan_api::server::ConnectionLimits::from_settings(&settings);
        let state = nishan_api::bootstrap(settings).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening {}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        tokio::spawn(nishan_api::server::serve(listener, nishan_api::server::router(state), limits));
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await
        .unwrap();
    });
}

/// One round of fan-out: how many subscribers have the event, and when the last one got it.
struct Round {
    received: AtomicUsize,
    target: AtomicUsize,
    last: std::sync::Mutex<Option<Instant>>,
    done: Notify,
}

impl Round {
    fn start(&self, target: usize) {
        *self.last.lock().unwrap() = None;
        self.target.store(target, Ordering::SeqCst);
        self.received.store(0, Ordering::SeqCst);
    }

    fn hit(&self) {
        let n = self.received.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.target.load(Ordering::SeqCst) {
            *self.last.lock().unwrap() = Some(Instant::now());
            self.done.notify_one();
        }
    }

    /// Waits until every subscriber has the event (false after `timeout`).
    async fn finished(&self, timeout: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(at) = *self.last.lock().unwrap() {
                return Some(at);
            }
            if tokio::time::timeout_at(deadline, self.done.notified()).await.is_err() {
                return *self.last.lock().unwrap();
            }
        }
    }
}

struct Api {
    http: reqwest::Client,
    addr: String,
    token: Option<String>,
}

impl Api {
    async fn gql(&self, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(format!("http://{}/graphql", self.addr))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(resp.get("errors").is_none(), "{resp}");
        resp["data"].clone()
    }

    /// Operations open on the server (its `nishan_subscriptions_open` gauge).
    async fn open_subscriptions(&self) -> usize {
        let text = self.http.get(format!("http://{}/metrics", self.addr)).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("nishan_subscriptions_open "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0) as usize
    }
}

/// Opens a connection, signs it in and subscribes to the document's activity; then counts each
/// event it receives in `round`.
async fn subscriber(addr: String, token: String, document: String, round: Arc<Round>) {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    // Small client buffers: 10,000 clients at tungstenite's default 128 KiB would take 1.3 GB.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false).await.expect("websocket connects");
    let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    socket.send(Message::text(init.to_string())).await.unwrap();
    match socket.next().await {
        Some(Ok(Message::Text(t))) if t.contains("connection_ack") => {}
        other => panic!("expected connection_ack, got {other:?}"),
    }
    let subscribe = json!({"type": "subscribe", "id": "1", "payload": {
        "query": "subscription($d: ID!) { documentActivity(documentId: $d) { kind entityIds count actorId at } }",
        "variables": {"d": document},
    }});
    socket.send(Message::text(subscribe.to_string())).await.unwrap();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(t) = message {
                if t.contains("\"next\"") {
                    round.hit();
                } else {
                    eprintln!("subscriber: unexpected {t}");
                }
            }
        }
    });
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(kind: &str, url: &str, n: usize) {
    let data_dir = std::env::temp_dir().join(format!("nishan-watchers-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let exe = std::env::current_exe().unwrap();
    let prefix = std::env::var("NISHAN_WATCHERS_SERVER_PREFIX").unwrap_or_default();
    let mut words = prefix.split_whitespace();
    let mut command = match words.next() {
        Some(tool) => {
            let mut c = Command::new(tool);
            c.args(words).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    let mut child = command
        .env(SERVE, url)
        .env("NISHAN_DATA_DIR", &data_dir)
        .env("NISHAN_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let pid = child.id();
    // A profiler in front of the server (heaptrack) prints its own lines first.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "the server ended before it listened");
        if let Some(addr) = line.trim().strip_prefix("listening ") {
            break addr.to_owned();
        }
    };

    let mut api = Api { http: reqwest::Client::new(), addr: addr.clone(), token: None };
    let registered = api
        .gql(
            "mutation($i: RegisterInput!) { register(input: $i) { token } }",
            json!({"i": {"username": "watcher", "email": "watcher@example.org", "password": "benchmark-password"}}),
        )
        .await;
    api.token = Some(registered["register"]["token"].as_str().unwrap().to_owned());
    let project = api.gql("mutation { createProject(input: {name: \"Watchers\"}) { id } }", json!({})).await;
    let project = project["createProject"]["id"].as_str().unwrap().to_owned();
    // One word per round: each round marks the next one.
    let words = 1000;
    let content = vec!["کربلا"; words].join(" ");
    let doc = api
        .gql(
            "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }",
            json!({"i": {"projectId": project, "title": "Watched", "content": content}}),
        )
        .await;
    let doc = doc["createDocument"]["id"].as_str().unwrap().to_owned();
    let types = api.gql("{ entityTypes { id name } }", json!({})).await;
    let location = types["entityTypes"].as_array().unwrap().iter().find(|t| t["name"] == "LOCATION").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut next_word = 0usize;
    let mark = |word: usize| json!({"i": {"documentId": doc, "entityTypeId": location, "start": word * 6, "end": word * 6 + 5}});
    const CREATE: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id } }";
    // One mutation before measuring, so the server's first-use allocations are in the baseline.
    api.gql(CREATE, mark(next_word)).await;
    next_word += 1;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);

    let round = Arc::new(Round {
        received: AtomicUsize::new(0),
        target: AtomicUsize::new(usize::MAX),
        last: Default::default(),
        done: Notify::new(),
    });
    let started = Instant::now();
    let token = api.token.clone().unwrap();
    futures_util::stream::iter(0..n)
        .for_each_concurrent(CONNECTING, |_| subscriber(addr.clone(), token.clone(), doc.clone(), round.clone()))
        .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while api.open_subscriptions().await < n {
        assert!(Instant::now() < deadline, "the server did not open {n} subscriptions");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connect_time = started.elapsed();
    // Warm-up rounds until every subscriber hears one (the last subscriptions may still be
    // starting when the gauge counts them).
    let mut warm = false;
    for _ in 0..10 {
        round.start(n);
        api.gql(CREATE, mark(next_word)).await;
        next_word += 1;
        if round.finished(Duration::from_secs(20)).await.is_some() {
            warm = true;
            break;
        }
    }
    assert!(warm, "not every subscriber received the warm-up event");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid);
    let per_subscriber = after.saturating_sub(before) as f64 / n as f64;

    let rounds = if n >= 10_000 { 50 } else { 100 };
    let (client_cpu, server_cpu) = (cpu_secs(std::process::id()), cpu_secs(pid));
    let mut latencies = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        round.start(n);
        let sent = Instant::now();
        api.gql(CREATE, mark(next_word)).await;
        next_word += 1;
        let last = round.finished(Duration::from_secs(30)).await.expect("every subscriber receives the event");
        latencies.push((last - sent).as_secs_f64() * 1000.0);
    }
    let (client_cpu, server_cpu) = (cpu_secs(std::process::id()) - client_cpu, cpu_secs(pid) - server_cpu);
    latencies.sort_by(f64::total_cmp);
    println!(
        "{kind:>8}  {n:>6} subscribers: {per_subscriber:>6.1} KiB each ({:.0} MiB for all; {} connected in {:.1} s); \
         fan-out to the last: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {rounds} rounds; \
         CPU server {server_cpu:.2} s, client {client_cpu:.2} s",
        (after.saturating_sub(before)) as f64 / 1024.0,
        n,
        connect_time.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
    );
    drop(child.stdin.take());
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data_dir);
}

fn main() {
    if let Ok(url) = std::env::var(SERVE) {
        serve(url);
        return;
    }
    let limit = raise_open_files();
    assert!(limit > 10_500, "the open-files limit ({limit}) is too low for 10,000 subscribers");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for kind in ["sqlite", "postgres"] {
            let sizes: Vec<usize> = match std::env::var("NISHAN_WATCHERS_SIZES") {
                Ok(list) => list.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
                Err(_) => SIZES.to_vec(),
            };
            for n in sizes {
                match common::database(kind).await {
                    Some((url, cleanup)) => {
                        run(kind, &url, n).await;
                        cleanup();
                    }
                    None => {
                        println!(
                            "{kind:>8}  skipped: set NISHAN_TEST_POSTGRES_URL (scripts/pg.sh start DIR prints one)"
                        );
                        break;
                    }
                }
            }
        }
    });
}
