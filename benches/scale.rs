//! Scale benchmark (issue 11): what one action costs as a document grows, through the real
//! HTTP server (keep-alive, auditing and rate limiting on, limits set high enough not to
//! refuse the benchmark's own requests).
//!
//! For 1,000, 10,000 and 100,000 entities it builds a document of as many lines (the Marsiya
//! corpus, line after line) holding that many entities (spread evenly over its words, three
//! types, every other one verified) and prints p50/p99 over up to 200 samples of:
//! `createEntity`, `updateEntity` (type), `verifyEntity`, `deleteEntity`, the first 100
//! entities, a one-word `updateDocumentContent` (about half the entities move), and every
//! entity of the document (in pages of 100, and in one request where the server allows it).
//! Then the writer throughput: `createEntity` from one sequential client, and from 8 clients
//! on 8 documents at once. SQLite, and PostgreSQL when `NISHAN_TEST_POSTGRES_URL` names a
//! server. `NISHAN_BENCH_SCALES=1000,10000` narrows the sizes; the latency table runs on SQLite
//! (the database), and on PostgreSQL too with `NISHAN_BENCH_TABLE_PG=1` (the throughput
//! runs on both).

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use nishan_domain::audit::{AuditEntry, RequestMeta};
use nishan_domain::entity::{Entity, EntitySource};
use nishan_domain::ids::{DocumentId, UserId};
use nishan_domain::ports::{DocumentRepository, EntityRepository, OnDuplicate};
use nishan_domain::service::entities::new_entity;
use nishan_domain::text::DocumentText;
use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

use common::database;

/// Samples per figure, unless the figure's time budget runs out first.
const SAMPLES: usize = 200;
/// How long one figure may sample (`NISHAN_BENCH_BUDGET_MS`, 4 s unless set): past it, sampling
/// stops once 3 samples are in (or after the first one, when that alone took four budgets).
/// With it the whole benchmark runs in about three minutes.
fn budget() -> Duration {
    let ms = std::env::var("NISHAN_BENCH_BUDGET_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(4_000);
    Duration::from_millis(ms)
}
/// How long each throughput run lasts.
const THROUGHPUT_RUN: Duration = Duration::from_secs(5);
/// Lines of each document the throughput clients write into.
const THROUGHPUT_LINES: usize = 1_000;

const PASSWORD: &str = "benchmark-password";

const CREATE: &str = "mutation($i: CreateEntityInput!) { createEntity(input: $i) { id start end text } }";
const UPDATE: &str = "mutation($id: ID!, $t: ID!) { updateEntity(id: $id, input: {entityTypeId: $t}) { id } }";
const VERIFY: &str = "mutation($id: ID!) { verifyEntity(id: $id) { id isVerified } }";
const DELETE: &str = "mutation($id: ID!) { deleteEntity(id: $id) }";
const EDIT: &str = "mutation($id: ID!, $c: String!, $v: Int) { updateDocumentContent(id: $id, content: $c, expectedVersion: $v) { currentVersion totalEntities } }";
/// `PAGE`'s entity fields through the connection's `nodes` list.
const NODES: &str = "query($id: ID!, $first: Int) { document(id: $id) { entities(first: $first) { totalCount nodes { id start end text isVerified source confidenceScore entityType { id name color } } } } }";
/// What an annotation client reads to draw a document's entities.
const PAGE: &str = "query($id: ID!, $first: Int, $after: String) { document(id: $id) { entities(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id start end text isVerified source confidenceScore entityType { id name color } } } } } }";

/// A GraphQL client with its own keep-alive connection and token.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Client {
    fn new(addr: std::net::SocketAddr) -> Self {
        Self { http: reqwest::Client::new(), url: format!("http://{addr}/graphql"), token: None }
    }

    async fn send(&self, query: &str, variables: Value) -> Value {
        let mut req = self.http.post(&self.url).json(&json!({"query": query, "variables": variables}));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent").json().await.expect("a JSON answer")
    }

    async fn ok(&self, query: &str, variables: Value) -> Value {
        let resp = self.send(query, variables).await;
        assert!(resp.get("errors").is_none(), "unexpected errors: {}", truncate(&resp));
        resp["data"].clone()
    }

    async fn signed_in(&self, username: &str) -> (Client, UserId) {
        let data = self
            .ok(
                "mutation($i: RegisterInput!) { register(input: $i) { token user { id } } }",
                json!({"i": {"username": username, "email": format!("{username}@example.org"), "password": PASSWORD}}),
            )
            .await;
        let token = data["register"]["token"].as_str().unwrap().to_owned();
        let id = UserId(data["register"]["user"]["id"].as_str().unwrap().parse().unwrap());
        (Client { token: Some(token), ..self.clone() }, id)
    }
}

fn truncate(v: &Value) -> String {
    v.to_string().chars().take(400).collect()
}

/// p50 and p99 of some timings.
struct Figure {
    n: usize,
    p50: Duration,
    p99: Duration,
}

impl Figure {
    fn of(mut times: Vec<Duration>) -> Self {
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        Self { n: times.len(), p50: at(0.50), p99: at(0.99) }
    }
}

/// Times samples, up to [`SAMPLES`] of them or until the [`budget`] is spent.
struct Sampler {
    started: Instant,
    times: Vec<Duration>,
    /// Off when `NISHAN_BENCH_ONLY` (a comma-separated list of figure names) leaves it out.
    on: bool,
}

/// Whether `NISHAN_BENCH_ONLY` lets the figure `name` run (every figure runs without it):
/// `create update verify delete first edit pages one throughput`.
fn wanted(name: &str) -> bool {
    std::env::var("NISHAN_BENCH_ONLY").map_or(true, |only| only.split(',').any(|n| n.trim() == name))
}

impl Sampler {
    fn new(name: &str) -> Self {
        Self { started: Instant::now(), times: Vec::with_capacity(SAMPLES), on: wanted(name) }
    }

    /// The next sample's index, while samples and time last.
    fn next(&self) -> Option<usize> {
        let n = self.times.len();
        if !self.on {
            return None;
        }
        let (spent, budget) = (self.started.elapsed(), budget());
        let more = n == 0 || (n < SAMPLES && (spent <= budget || (n < 3 && spent <= 4 * budget)));
        more.then_some(n)
    }

    async fn time<T>(&mut self, action: impl Future<Output = T>) -> T {
        let t = Instant::now();
        let out = action.await;
        self.times.push(t.elapsed());
        out
    }

    fn figure(self) -> Option<Figure> {
        (!self.times.is_empty()).then(|| Figure::of(self.times))
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 { format!("{ms:.0} ms") } else { format!("{ms:.2} ms") }
}

fn row(kind: &str, scale: usize, what: &str, f: &Option<Figure>) {
    let Some(f) = f else { return };
    println!("{kind:>8} {scale:>7}  {what:<46} p50 {:>10}  p99 {:>10}  (n={})", ms(f.p50), ms(f.p99), f.n);
}

/// The first `lines` lines of the corpus (its UTF-8 texts in name order, one after another).
fn corpus_lines(lines: usize) -> String {
    let mut out = String::new();
    let mut taken = 0;
    'files: for (_, text) in common::corpus_texts() {
        for line in text.lines() {
            if taken == lines {
                break 'files;
            }
            out.push_str(line);
            out.push('\n');
            taken += 1;
        }
    }
    assert_eq!(taken, lines, "the corpus has fewer than {lines} lines");
    out
}

/// Every word of a text, as code-point spans.
fn word_spans(text: &DocumentText) -> Vec<(u32, u32)> {
    text.text()
        .unicode_word_indices()
        .map(|(byte, w)| {
            let start = text.offsets().char_offset(byte).unwrap();
            (start, start + w.chars().count() as u32)
        })
        .collect()
}

/// A running server on a database, with the state behind it (for seeding).
struct Server {
    state: nishan_api::state::AppState,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
    _data_dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(url: String) -> Server {
    let dir = std::env::temp_dir().join(format!("nishan-scale-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut settings = nishan_api::config::Settings::defaults();
    settings.database_url = Some(url);
    settings.data_dir = dir.clone();
    settings.workers = 0;
    settings.log = "error".into();
    settings.max_document_bytes = 16 << 20;
    // Rate limiting stays on (every mutation is counted), with limits the benchmark stays under.
    settings.surface.mutations_per_minute = 100_000_000;
    settings.surface.mutations_per_minute_per_ip = 100_000_000;
    settings.surface.request_timeout_ms = 600_000;
    let limits = nishan_api::server::ConnectionLimits::from_settings(&settings);
    let state = nishan_api::bootstrap(settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = nishan_api::server::router(state.clone());
    let task = tokio::spawn(async move {
        nishan_api::server::serve(listener, app, limits).await.unwrap();
    });
    Server { state, addr, task, _data_dir: TempDir(dir) }
}

/// A document of `lines` corpus lines in a new project of the client's; its id.
async fn new_document(client: &Client, name: &str, lines: usize) -> String {
    let project = client
        .ok("mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }", json!({"i": {"name": name}}))
        .await["createProject"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    client
        .ok(
            "mutation($i: CreateDocumentInput!) { createDocument(input: $i) { id } }",
            json!({"i": {"projectId": project, "title": name, "content": corpus_lines(lines)}}),
        )
        .await["createDocument"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn type_ids(client: &Client) -> Vec<String> {
    let data = client.ok("{ entityTypes { id name } }", json!({})).await;
    ["PERSON", "LOCATION", "DATE"]
        .iter()
        .map(|name| {
            data["entityTypes"].as_array().unwrap().iter().find(|t| t["name"] == *name).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// The latency table at one scale.
async fn table(kind: &str, server: &Server, anonymous: &Client, scale: usize) {
    let (client, user) = anonymous.signed_in(&format!("table{scale}")).await;
    let types = type_ids(&client).await;
    let doc_id = new_document(&client, &format!("Scale {scale}"), scale).await;
    let doc = server.state.store.document_by_id(DocumentId(doc_id.parse().unwrap())).await.unwrap().unwrap();
    let text = DocumentText::new(doc.content.as_str());
    let words = word_spans(&text);
    let step = words.len() / scale;
    assert!(step >= 2, "{} words are too few for {scale} entities", words.len());
    let types_parsed: Vec<_> = types.iter().map(|t| nishan_domain::ids::EntityTypeId(t.parse().unwrap())).collect();
    let seeded: Vec<Entity> = (0..scale)
        .map(|i| {
            let mut e = new_entity(&doc, &text, types_parsed[i % 3], words[i * step], EntitySource::Llm, user).unwrap();
            if i % 2 == 0 {
                e.verify(user, chrono::Utc::now());
            }
            e
        })
        .collect();
    let seeded_ids: Vec<String> = seeded.iter().map(|e| e.id.to_string()).collect();
    let audit = AuditEntry::new(&RequestMeta::default(), Some(user), "bench.seed", "entity");
    let started = Instant::now();
    server.state.store.insert_entities(doc.id, seeded, OnDuplicate::Skip, audit).await.unwrap();
    println!(
        "{kind:>8} {scale:>7}  a document of {scale} lines, {} code points, {scale} entities (seeded in {:.2} s)",
        doc.character_count,
        started.elapsed().as_secs_f64()
    );
    // Spans no entity holds: the words between the seeded ones.
    let free: Vec<(u32, u32)> = (0..scale).map(|i| words[i * step + 1]).collect();

    let mut created = Vec::new();
    let mut s = Sampler::new("create");
    while let Some(i) = s.next() {
        let (start, end) = free[(i * 7919) % free.len()];
        let vars = json!({"i": {"documentId": doc_id, "entityTypeId": types[0], "start": start, "end": end}});
        let data = s.time(client.ok(CREATE, vars)).await;
        created.push(data["createEntity"]["id"].as_str().unwrap().to_owned());
    }
    row(kind, scale, "createEntity", &s.figure());

    let mut s = Sampler::new("update");
    while let Some(i) = s.next() {
        let k = (i * 7919) % scale;
        s.time(client.ok(UPDATE, json!({"id": seeded_ids[k], "t": types[(k + 1) % 3]}))).await;
    }
    row(kind, scale, "updateEntity (type)", &s.figure());

    let unverified: Vec<&String> = seeded_ids.iter().skip(1).step_by(2).collect();
    let mut s = Sampler::new("verify");
    while let Some(i) = s.next() {
        s.time(client.ok(VERIFY, json!({"id": unverified[(i * 7919) % unverified.len()]}))).await;
    }
    row(kind, scale, "verifyEntity", &s.figure());

    let mut s = Sampler::new("delete");
    while let Some(i) = s.next().filter(|&i| i < created.len()) {
        s.time(client.ok(DELETE, json!({"id": created[i]}))).await;
    }
    row(kind, scale, "deleteEntity", &s.figure());

    let mut s = Sampler::new("first");
    while s.next().is_some() {
        s.time(client.ok(PAGE, json!({"id": doc_id, "first": 100}))).await;
    }
    row(kind, scale, "the first 100 entities", &s.figure());

    // A one-word edit in the middle, on a word no entity holds: the entities after it move.
    let (a, b) = free[free.len() / 2];
    let (byte_a, byte_b) = (text.offsets().byte_offset(a).unwrap(), text.offsets().byte_offset(b).unwrap());
    let content = text.text();
    let word = &content[byte_a..byte_b];
    let variants = [format!("{}{}ا{}", &content[..byte_a], word, &content[byte_b..]), content.to_owned()];
    let mut version = 1;
    let mut kept = None;
    let mut s = Sampler::new("edit");
    while let Some(i) = s.next() {
        let vars = json!({"id": doc_id, "c": variants[i % 2], "v": version});
        let data = s.time(client.ok(EDIT, vars)).await;
        version = data["updateDocumentContent"]["currentVersion"].as_u64().unwrap();
        let total = data["updateDocumentContent"]["totalEntities"].clone();
        assert_eq!(*kept.get_or_insert(total.clone()), total, "no entity is dropped by the edits");
    }
    let moving = (0..scale).filter(|i| words[i * step].0 > a).count();
    row(kind, scale, &format!("one-word updateDocumentContent ({moving} move)"), &s.figure());

    let mut s = Sampler::new("pages");
    let mut pages = 0;
    while s.next().is_some() {
        pages = s.time(all_in_pages(&client, &doc_id, scale)).await;
    }
    row(kind, scale, &format!("every entity, {pages} pages of 100"), &s.figure());

    let probe = client.send(PAGE, json!({"id": doc_id, "first": scale})).await;
    if !wanted("one") {
    } else if probe.get("errors").is_some() {
        println!(
            "{kind:>8} {scale:>7}  {:<46} refused: {}",
            "every entity, one request",
            probe["errors"][0]["message"].as_str().unwrap_or_default()
        );
    } else {
        let mut s = Sampler::new("one");
        while s.next().is_some() {
            let data = s.time(client.ok(PAGE, json!({"id": doc_id, "first": scale}))).await;
            assert_eq!(data["document"]["entities"]["edges"].as_array().unwrap().len(), scale);
        }
        row(kind, scale, "every entity, one request", &s.figure());
        // The same fields through the connection's `nodes`, without an edge around each.
        let mut s = Sampler::new("one");
        while s.next().is_some() {
            let data = s.time(client.ok(NODES, json!({"id": doc_id, "first": scale}))).await;
            assert_eq!(data["document"]["entities"]["nodes"].as_array().unwrap().len(), scale);
        }
        row(kind, scale, "every entity, one request (`nodes`)", &s.figure());
    }
}

/// Reads every entity of a document in pages of 100; returns how many pages it took.
async fn all_in_pages(client: &Client, doc_id: &str, expected: usize) -> usize {
    let mut after: Option<String> = None;
    let (mut seen, mut pages) = (0, 0);
    loop {
        let data = client.ok(PAGE, json!({"id": doc_id, "first": 100, "after": after})).await;
        let conn = &data["document"]["entities"];
        seen += conn["edges"].as_array().unwrap().len();
        pages += 1;
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected);
    pages
}

/// `createEntity` throughput: one sequential client, then 8 clients on 8 documents.
async fn throughput(kind: &str, anonymous: &Client) {
    for clients in [1usize, 8] {
        let mut writers = Vec::new();
        for c in 0..clients {
            let (client, _) = anonymous.signed_in(&format!("writer{clients}x{c}")).await;
            let types = type_ids(&client).await;
            let doc = new_document(&client, &format!("Writers {clients} {c}"), THROUGHPUT_LINES).await;
            let content = corpus_lines(THROUGHPUT_LINES);
            let text = DocumentText::new(content.as_str());
            let words = word_spans(&text);
            writers.push((client, types, doc, words));
        }
        let started = Instant::now();
        let tasks: Vec<_> = writers
            .into_iter()
            .map(|(client, types, doc, words)| {
                tokio::spawn(async move {
                    let mut n = 0usize;
                    while started.elapsed() < THROUGHPUT_RUN {
                        let (start, end) = words[n % words.len()];
                        let ty = &types[(n / words.len()) % types.len()];
                        let vars = json!({"i": {"documentId": doc, "entityTypeId": ty, "start": start, "end": end}});
                        client.ok(CREATE, vars).await;
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{kind:>8}  createEntity throughput, {clients} client{} on {clients} document{} of {THROUGHPUT_LINES} lines: {:.0}/s ({total} in {secs:.1} s)",
            if clients == 1 { "" } else { "s" },
            if clients == 1 { "" } else { "s" },
            total as f64 / secs,
        );
    }
}

fn scales() -> Vec<usize> {
    match std::env::var("NISHAN_BENCH_SCALES") {
        Ok(s) if !s.trim().is_empty() => {
            s.split(',').map(|n| n.trim().parse().expect("a number of entities")).collect()
        }
        _ => vec![1_000, 10_000, 100_000],
    }
}

#[tokio::main]
async fn main() {
    for kind in ["sqlite", "postgres"] {
        let Some((url, cleanup)) = database(kind).await else {
            println!("{kind:>8}  skipped: set NISHAN_TEST_POSTGRES_URL to a PostgreSQL server");
            continue;
        };
        let server = start(url).await;
        let anonymous = Client::new(server.addr);
        // The first user becomes an admin; the benchmark's users are ordinary members.
        let _ = anonymous.signed_in("admin").await;
        let table_here = kind == "sqlite" || std::env::var("NISHAN_BENCH_TABLE_PG").is_ok_and(|v| v == "1");
        if table_here {
            for scale in scales() {
                table(kind, &server, &anonymous, scale).await;
            }
        }
        if wanted("throughput") {
            throughput(kind, &anonymous).await;
        }
        server.task.abort();
        drop(server);
        cleanup();
    }
}
