//! Knowledge-base benchmark: `knowledgeCandidates` over entries of 6 names each (a name and
//! five aliases), made of words
//! of the Marsiya corpus. First the candidate index alone (1,000, 10,000 and 100,000 entries:
//! how building and querying grow), then the whole path a request takes through the store (the
//! revision check against the database, then the in-memory index) with 10,000 entries on SQLite
//! and (with `NISHAN_TEST_POSTGRES_URL`) PostgreSQL: the first query (which loads the index),
//! steady queries, and a query right after an entry changed (an incremental refresh). Queries
//! mix exact names, prefixes, near misses (one letter changed) and misses. Last, the same
//! queries as GraphQL requests to the server over keep-alive HTTP, signed in with a token (the
//! session read, parsing, validation and the JSON answer included). Reports p50 and p99; the
//! target is p99 under 10 ms at 10,000 entries.

use std::time::{Duration, Instant};

use nishan_domain::audit::{AuditEntry, RequestMeta};
use nishan_domain::ids::{EntityTypeId, KnowledgeItemId};
use nishan_domain::knowledge::index::{CandidateIndex, IndexedItem};
use nishan_domain::knowledge::{ExternalIds, KnowledgeContent, KnowledgeItem, VersionAction};
use nishan_domain::policy::Actor;
use nishan_domain::ports::{EntityTypeRepository, KnowledgeRepository};
use nishan_domain::service::accounts::Registration;

mod common;

use common::{corpus_texts, database};

/// A name and five aliases.
const NAMES_PER_ENTRY: usize = 6;
/// Queries timed right after an entry changed.
const CHANGES: usize = 400;
const QUERIES: usize = 2000;

/// Distinct words of the corpus (letters only), to make names from.
fn words() -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (_, text) in corpus_texts() {
        for w in text.split_whitespace() {
            let w: String = w.chars().filter(|c| c.is_alphabetic() || *c == '\u{0611}').collect();
            if w.chars().count() >= 3 && seen.insert(w.clone()) {
                out.push(w);
            }
        }
    }
    out
}

/// A deterministic sequence of numbers (no crate needed for a benchmark's choices).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

/// `n` entries of `NAMES_PER_ENTRY` names, each name one to three corpus words.
fn entries(n: usize, words: &[String]) -> Vec<Vec<String>> {
    let mut rng = Lcg(n as u64);
    (0..n)
        .map(|_| {
            (0..NAMES_PER_ENTRY)
                .map(|_| {
                    let len = 1 + rng.next(3);
                    (0..len).map(|_| words[rng.next(words.len())].as_str()).collect::<Vec<_>>().join(" ")
                })
                .collect()
        })
        .collect()
}

/// The query mix: a quarter each of exact names, prefixes, near misses and misses.
fn queries(entries: &[Vec<String>], words: &[String]) -> Vec<String> {
    let mut rng = Lcg(7);
    (0..QUERIES)
        .map(|i| {
            let name = &entries[rng.next(entries.len())][rng.next(NAMES_PER_ENTRY)];
            let chars: Vec<char> = name.chars().collect();
            match i % 4 {
                0 => name.clone(),
                1 => chars[..chars.len().min(3)].iter().collect(),
                2 => {
                    let mut c = chars.clone();
                    let at = rng.next(c.len());
                    c[at] = 'ث';
                    c.into_iter().collect()
                }
                _ => format!("{}ژ", words[rng.next(words.len())]),
            }
        })
        .collect()
}

fn percentile(times: &mut [Duration], p: f64) -> f64 {
    times.sort();
    let i = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[i].as_secs_f64() * 1e3
}

fn index_alone(words: &[String]) {
    for n in [1_000, 10_000, 100_000] {
        let all = entries(n, words);
        let started = Instant::now();
        let mut index = CandidateIndex::new();
        let t = EntityTypeId::new();
        for names in &all {
            index.upsert(IndexedItem {
                id: KnowledgeItemId::new(),
                entity_type_id: t,
                approved: false,
                names: names.clone(),
            });
        }
        let build = started.elapsed();
        let mut times = Vec::with_capacity(QUERIES);
        let mut found = 0;
        for q in queries(&all, words) {
            let started = Instant::now();
            found += index.candidates(&q, None, 10).len();
            times.push(started.elapsed());
        }
        println!(
            "   index  {n:>7} entries ({} names): built in {:.0} ms; candidates p50 {:.3} ms, p99 {:.3} ms ({:.1} per query)",
            index.name_count(),
            build.as_secs_f64() * 1e3,
            percentile(&mut times, 0.5),
            percentile(&mut times, 0.99),
            found as f64 / QUERIES as f64
        );
    }
}

async fn through_the_store(kind: &str, url: String, words: &[String]) {
    let mut settings = nishan_api::config::Settings::defaults();
    settings.database_url = Some(url);
    settings.workers = 0;
    let state = nishan_api::bootstrap(settings).await.unwrap();
    let meta = RequestMeta::default();
    let registration = Registration {
        username: "bench".into(),
        email: "bench@example.org".into(),
        password: "benchmark-password".into(),
        first_name: None,
        last_name: None,
    };
    let user = state.accounts().register(&meta, registration).await.unwrap().user;
    let actor = Actor { user_id: user.id, is_admin: user.is_admin };
    let fields = nishan_domain::project::ProjectFields { name: Some("Bench".into()), ..Default::default() };
    let project = state.projects().create(&meta, &actor, fields).await.unwrap();
    let person = EntityTypeRepository::entity_types(&state.store).await.unwrap()[0].id;
    let all = entries(10_000, words);
    let started = Instant::now();
    let mut ids = Vec::with_capacity(all.len());
    for names in &all {
        let content =
            KnowledgeContent::new(&names[0], person, names[1..].to_vec(), None, ExternalIds::default(), None).unwrap();
        let item = KnowledgeItem::new(project.id, content, user.id, chrono::Utc::now());
        let version = item.snapshot(VersionAction::Create, serde_json::json!({}));
        let audit =
            AuditEntry::new(&meta, Some(user.id), "knowledge_item.create", "knowledge_item").project(project.id);
        ids.push(state.store.create_item(item, version, None, audit).await.unwrap().id);
    }
    println!("{kind:>8}  10000 entries stored one by one in {:.1} s", started.elapsed().as_secs_f64());
    let knowledge = state.knowledge();
    let started = Instant::now();
    knowledge.candidates(Some(&actor), project.id, "حسین", None, Some(10)).await.unwrap();
    println!("{kind:>8}  first query (loads the index): {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
    let mut times = Vec::with_capacity(QUERIES);
    for q in queries(&all, words) {
        let started = Instant::now();
        knowledge.candidates(Some(&actor), project.id, &q, None, Some(10)).await.unwrap();
        times.push(started.elapsed());
    }
    println!(
        "{kind:>8}  knowledgeCandidates with 10000 entries: p50 {:.3} ms, p99 {:.3} ms ({QUERIES} queries, access check and revision read included)",
        percentile(&mut times, 0.5),
        percentile(&mut times, 0.99)
    );
    // After each change, the next query reads the changed entry and applies it.
    let mut times = Vec::new();
    for (n, id) in ids.iter().take(CHANGES).enumerate() {
        let patch = nishan_domain::service::knowledge::KnowledgePatch {
            aliases: Some(vec![format!("{}ژ{n}", words[n])]),
            ..Default::default()
        };
        knowledge.update(&meta, &actor, *id, patch, 1).await.unwrap();
        let started = Instant::now();
        knowledge.candidates(Some(&actor), project.id, &words[n], None, Some(10)).await.unwrap();
        times.push(started.elapsed());
    }
    println!(
        "{kind:>8}  the query after a change (incremental refresh): p50 {:.3} ms, p99 {:.3} ms ({CHANGES} changes)",
        percentile(&mut times, 0.5),
        percentile(&mut times, 0.99)
    );
    over_http(kind, &state, project.id, &all, words).await;
}

/// The same queries as GraphQL requests to a server on 127.0.0.1, one keep-alive connection,
/// signed in as the bench user.
async fn over_http(
    kind: &str,
    state: &nishan_api::state::AppState,
    project: nishan_domain::ids::ProjectId,
    all: &[Vec<String>],
    words: &[String],
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = nishan_api::server::ConnectionLimits::from_settings(&state.settings);
    let app = nishan_api::server::router(state.clone());
    let server = tokio::spawn(async move { nishan_api::server::serve(listener, app, limits).await.unwrap() });
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/graphql");
    let login = serde_json::json!({
        "query": "mutation($i: LoginInput!) { login(input: $i) { token } }",
        "variables": {"i": {"usernameOrEmail": "bench", "password": "benchmark-password"}},
    });
    let answer: serde_json::Value = http.post(&url).json(&login).send().await.unwrap().json().await.unwrap();
    let token = answer["data"]["login"]["token"].as_str().expect("signed in").to_owned();
    let query = "query($p: ID!, $t: String!) { knowledgeCandidates(projectId: $p, text: $t, first: 10) { matchedAlias matchKind score item { id name } } }";
    let mut times = Vec::with_capacity(QUERIES);
    let mut found = 0;
    for q in queries(all, words) {
        let body = serde_json::json!({"query": query, "variables": {"p": project.to_string(), "t": q}});
        let started = Instant::now();
        let answer: serde_json::Value =
            http.post(&url).bearer_auth(&token).json(&body).send().await.unwrap().json().await.unwrap();
        times.push(started.elapsed());
        assert!(answer.get("errors").is_none(), "{answer}");
        found += answer["data"]["knowledgeCandidates"].as_array().map_or(0, Vec::len);
    }
    println!(
        "{kind:>8}  knowledgeCandidates over HTTP with 10000 entries: p50 {:.3} ms, p99 {:.3} ms ({QUERIES} requests, {:.1} candidates each)",
        percentile(&mut times, 0.5),
        percentile(&mut times, 0.99),
        found as f64 / QUERIES as f64
    );
    server.abort();
}

#[tokio::main]
async fn main() {
    let words = words();
    println!("{} distinct corpus words make the names", words.len());
    index_alone(&words);
    for kind in ["sqlite", "postgres"] {
        let Some((url, remove)) = database(kind).await else {
            println!("{kind:>8}  skipped: NISHAN_TEST_POSTGRES_URL is not set");
            continue;
        };
        through_the_store(kind, url, &words).await;
        remove();
    }
}
