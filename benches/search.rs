//! Search benchmark: the 241 Marsiya texts uploaded, their search index rebuilt from scratch
//! (the time to index the corpus), then one-word queries (the most frequent words and words
//! across the frequency ranks) through the search service, as `search` runs them, with their
//! p50/p99. Runs on SQLite, and on PostgreSQL when `NISHAN_TEST_POSTGRES_URL` names a server.
//! Targets (issue 14): indexing the corpus under 5 s, one-word p99 under 20 ms. Figures go to
//! stdout; the README records them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nishan_domain::ports::PageRequest;
use nishan_domain::service::documents::NewDocument;
use nishan_domain::service::search::SearchRequest;
use sea_orm::ConnectionTrait;

mod common;

use common::{BenchProject, bench_project, corpus, database};

/// Times each query runs.
const ROUNDS: usize = 5;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn run(kind: &str, url: String, files: &[(String, Vec<u8>)]) {
    let BenchProject { state, meta, actor, project } = bench_project(url, |s| s.workers = 0).await;

    let started = Instant::now();
    let mut contents = Vec::new();
    for (name, data) in files {
        let input = NewDocument { project_id: Some(project.id), title: Some(name.clone()), ..Default::default() };
        if let Ok(report) = state.documents().upload(&meta, &actor, input, data).await {
            contents.extend(report.documents.into_iter().map(|d| d.content));
        }
    }
    let upload_time = started.elapsed();

    // The index from scratch: what a server does at start for documents without passages.
    let conn = state.store.connection();
    for table in ["search_postings", "search_passages", "search_stats", "search_documents"] {
        conn.execute_unprepared(&format!("DELETE FROM {table}")).await.unwrap();
    }
    let started = Instant::now();
    let indexed = state.store.index_stale_documents().await.unwrap();
    let index_time = started.elapsed();
    let started = Instant::now();
    let passages: Vec<_> = contents.iter().map(|c| nishan_domain::search::passages(c)).collect();
    let cut_time = started.elapsed();
    let passage_count: usize = passages.iter().map(Vec::len).sum();
    println!(
        "{kind:>8}  {} documents uploaded (indexed with them) in {:.2} s; the index rebuilt: {indexed} documents, \
         {passage_count} lines, in {:.2} s (folding and cutting {:.2} s of it)",
        contents.len(),
        upload_time.as_secs_f64(),
        index_time.as_secs_f64(),
        cut_time.as_secs_f64()
    );

    // One-word queries: the 20 most frequent words, and 80 across the frequency ranks.
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for p in passages.iter().flatten() {
        for w in &p.words {
            *counts.entry(w.as_str()).or_default() += 1;
        }
    }
    let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let step = (by_count.len() / 80).max(1);
    let words: Vec<&str> =
        by_count.iter().take(20).chain(by_count.iter().skip(20).step_by(step).take(80)).map(|(w, _)| *w).collect();
    let search = state.search(&nishan_domain::service::embeddings::Lexical);
    let mut times = Vec::with_capacity(words.len() * ROUNDS);
    let mut hits = 0u64;
    for round in 0..ROUNDS {
        for w in &words {
            let request = SearchRequest {
                project: project.id,
                query: (*w).to_owned(),
                entity_types: vec![],
                documents: vec![],
                knowledge_items: vec![],
                page: PageRequest { offset: 0, limit: 20 },
            };
            let started = Instant::now();
            let page = search.search(Some(&actor), request).await.unwrap();
            times.push(started.elapsed());
            if round == 0 {
                hits += page.total;
            }
        }
    }
    times.sort();
    println!(
        "{kind:>8}  one-word queries ({} words × {ROUNDS}, {hits} hits in all, the most frequent word in {} lines): \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        words.len(),
        by_count[0].1,
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap())
    );
}

#[tokio::main]
async fn main() {
    let files = corpus();
    for kind in ["sqlite", "postgres"] {
        match database(kind).await {
            Some((url, cleanup)) => {
                run(kind, url, &files).await;
                cleanup();
            }
            None => println!("{kind:>8}  skipped: set NISHAN_TEST_POSTGRES_URL (scripts/pg.sh start DIR prints one)"),
        }
    }
}
