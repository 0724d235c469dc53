//! Ingestion benchmark: 100,000 entities into one document (multi-row inserts in one
//! transaction), and the 241 Marsiya texts uploaded through the document service. Runs on
//! SQLite, and on PostgreSQL when `NISHAN_TEST_POSTGRES_URL` names a server (scripts/pg.sh
//! starts one). Figures go to stdout; the README records them.

use std::time::Instant;

use nishan_domain::audit::AuditEntry;
use nishan_domain::entity::EntitySource;
use nishan_domain::ids::EntityTypeId;
use nishan_domain::ports::{EntityRepository, EntityTypeRepository, OnDuplicate};
use nishan_domain::service::documents::NewDocument;
use nishan_domain::service::entities::new_entity;
use nishan_domain::text::DocumentText;
use unicode_segmentation::UnicodeSegmentation;

mod common;

use common::{BenchProject, bench_project, corpus, database};

const ENTITIES: usize = 100_000;

async fn run(kind: &str, url: String, files: &[(String, Vec<u8>)]) {
    let BenchProject { state, meta, actor, project } = bench_project(url, |_| {}).await;

    // The corpus, uploaded file by file through the same path as `uploadDocument`.
    let started = Instant::now();
    let (mut stored, mut refused, mut bytes) = (0, 0, 0);
    for (name, data) in files {
        let input = NewDocument { project_id: Some(project.id), title: Some(name.clone()), ..Default::default() };
        match state.documents().upload(&meta, &actor, input, data).await {
            Ok(_) => {
                stored += 1;
                bytes += data.len();
            }
            Err(_) => refused += 1,
        }
    }
    let corpus_time = started.elapsed();
    println!(
        "{kind:>8}  corpus upload: {stored} documents stored, {refused} refused, {:.1} MB in {:.2} s ({:.0} documents/s)",
        bytes as f64 / 1e6,
        corpus_time.as_secs_f64(),
        stored as f64 / corpus_time.as_secs_f64()
    );

    // One large document and 100,000 entities on its words.
    let mut content = String::new();
    for (_, data) in files.iter().filter_map(|(n, d)| std::str::from_utf8(d).ok().map(|t| (n, t))) {
        content.push_str(data);
        content.push_str("\n\n");
        if content.unicode_words().count() > ENTITIES + 1000 {
            break;
        }
    }
    let input = NewDocument {
        project_id: Some(project.id),
        title: Some("All of it".into()),
        content: format!("{content}\n(bench)"),
        ..Default::default()
    };
    let doc = state.documents().create(&meta, &actor, input).await.unwrap();
    let person: EntityTypeId = state.store.entity_types().await.unwrap()[0].id;
    let started = Instant::now();
    let text = DocumentText::new(doc.content.as_str());
    let offsets = text.offsets();
    let spans: Vec<(u32, u32)> = doc
        .content
        .unicode_word_indices()
        .take(ENTITIES)
        .map(|(byte, w)| {
            let start = offsets.char_offset(byte).unwrap();
            (start, start + w.chars().count() as u32)
        })
        .collect();
    let entities: Vec<_> = spans
        .iter()
        .map(|span| new_entity(&doc, &text, person, *span, EntitySource::Llm, actor.user_id).unwrap())
        .collect();
    let build_time = started.elapsed();
    let started = Instant::now();
    let audit = AuditEntry::new(&meta, Some(actor.user_id), "bench.insert", "entity");
    let inserted = state.store.insert_entities(doc.id, entities, OnDuplicate::Skip, audit).await.unwrap();
    let insert_time = started.elapsed();
    let counts = state.store.count_entities(doc.id, nishan_domain::rounds::Layer::Curated).await.unwrap();
    assert_eq!(counts.total as usize, inserted.len());
    println!(
        "{kind:>8}  {} entities into one document ({} characters): spans and context {:.2} s, insert {:.2} s ({:.0} entities/s)",
        inserted.len(),
        doc.character_count,
        build_time.as_secs_f64(),
        insert_time.as_secs_f64(),
        inserted.len() as f64 / insert_time.as_secs_f64()
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
