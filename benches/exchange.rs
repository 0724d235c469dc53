//! Import/export and statistics benchmark, through the domain services (as the resolvers call
//! them): a document with 20,000 entities (a tenth of them nested in two-word entities) is
//! exported in each format, imported into a fresh document and exported again (the bytes must
//! match); the whole Marsiya corpus is exported as JSONL and imported as documents into another
//! project; statistics and model quality are computed over the 20,000 suggestions. SQLite, and
//! PostgreSQL when `NISHAN_TEST_POSTGRES_URL` names a server. Figures go to stdout.

mod common;

use common::database;

use std::time::Instant;

use nishan_domain::audit::{AuditEntry, RequestMeta};
use nishan_domain::entity::EntitySource;
use nishan_domain::exchange::Format;
use nishan_domain::policy::Actor;
use nishan_domain::ports::{EntityRepository, EntityTypeRepository, OnDuplicate, Scope};
use nishan_domain::rounds::{Layer, LayerRequest};
use nishan_domain::service::accounts::Registration;
use nishan_domain::service::documents::NewDocument;
use nishan_domain::service::entities::new_entity;
use nishan_domain::text::DocumentText;
use unicode_segmentation::UnicodeSegmentation;

const ENTITIES: usize = 20_000;

fn secs(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

async fn run(kind: &str, url: String, files: &[(String, String)]) {
    let mut settings = nishan_api::config::Settings::defaults();
    settings.database_url = Some(url);
    settings.max_document_bytes = 64 << 20;
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
    let project = |name: &str| nishan_domain::project::ProjectFields { name: Some(name.into()), ..Default::default() };
    let source = state.projects().create(&meta, &actor, project("Source")).await.unwrap();

    // One document of the corpus's first texts, with a suggestion on each of its first words
    // and, every tenth word, a two-word entity around it (nested spans for the overlap rules).
    let mut content = String::new();
    for (_, text) in files {
        content.push_str(text);
        content.push_str("\n\n");
        if content.unicode_words().count() > ENTITIES {
            break;
        }
    }
    let new = |project, content: &str| NewDocument {
        project_id: Some(project),
        title: Some("Bench".into()),
        content: content.to_owned(),
        ..Default::default()
    };
    let doc = state.documents().create(&meta, &actor, new(source.id, &content)).await.unwrap();
    let types = state.store.entity_types().await.unwrap();
    let text = DocumentText::new(doc.content.as_str());
    let words: Vec<(u32, u32)> = doc
        .content
        .unicode_word_indices()
        .map(|(byte, w)| {
            let start = text.offsets().char_offset(byte).unwrap();
            (start, start + w.chars().count() as u32)
        })
        .collect();
    let model = uuid::Uuid::now_v7();
    let mut entities = vec![];
    for (i, span) in words.iter().take(ENTITIES).enumerate() {
        let mut e = new_entity(&doc, &text, types[i % 3].id, *span, EntitySource::Llm, user.id).unwrap();
        e.llm_model_id = Some(model);
        if i % 2 == 0 {
            e.verify(user.id, chrono::Utc::now());
        }
        entities.push(e);
        if i % 10 == 0 && i + 1 < words.len() {
            let outer = (span.0, words[i + 1].1);
            entities.push(new_entity(&doc, &text, types[0].id, outer, EntitySource::Manual, user.id).unwrap());
        }
    }
    let total = entities.len();
    let audit = AuditEntry::new(&meta, Some(user.id), "bench.insert", "entity");
    state.store.insert_entities(doc.id, entities, OnDuplicate::Skip, audit).await.unwrap();
    println!("{kind:>8}  a document of {} characters with {total} entities", doc.character_count);

    for format in Format::ALL {
        let started = Instant::now();
        let first = state
            .exchange()
            .export(&meta, &actor, Scope::Document(doc.id), format, false, LayerRequest::default())
            .await
            .unwrap();
        let export_time = secs(started);
        // A fresh document with the same text, in a project of its own.
        let target = state.projects().create(&meta, &actor, project(format.as_str())).await.unwrap();
        let fresh = state.documents().create(&meta, &actor, new(target.id, &content)).await.unwrap();
        let started = Instant::now();
        let report = state.exchange().import_entities(&meta, &actor, fresh.id, format, &first, false).await.unwrap();
        let import_time = secs(started);
        let again = state
            .exchange()
            .export(&meta, &actor, Scope::Document(fresh.id), format, false, LayerRequest::default())
            .await
            .unwrap();
        let same = match format {
            // CSV records the source, which an import sets to IMPORT.
            Format::Csv => again == first.replace(",LLM,", ",IMPORT,").replace(",MANUAL,", ",IMPORT,"),
            _ => again == first,
        };
        assert!(same, "{} round trip", format.as_str());
        println!(
            "{kind:>8}  {:<11} export {:.2} s ({:.1} MB), import into a fresh document {:.2} s ({} entities), round trip identical",
            format.as_str(),
            export_time,
            first.len() as f64 / 1e6,
            import_time,
            report.created
        );
    }

    // Statistics and model quality over the suggestions.
    let started = Instant::now();
    let stats = state.statistics().entities(Scope::Project(source.id), Layer::Curated).await.unwrap();
    let stats_time = secs(started);
    let started = Instant::now();
    let quality = state.statistics().model_quality(Scope::Project(source.id), Layer::Curated).await.unwrap();
    println!(
        "{kind:>8}  statistics of {} entities {:.3} s; model quality of {} suggestions {:.3} s",
        stats.total,
        stats_time,
        quality[0].overall.suggestions,
        secs(started)
    );

    // The corpus as a project: exported as JSONL, imported as documents elsewhere.
    let corpus_project = state.projects().create(&meta, &actor, project("Corpus")).await.unwrap();
    for (name, text) in files {
        let input = NewDocument {
            project_id: Some(corpus_project.id),
            title: Some(name.clone()),
            content: text.clone(),
            ..Default::default()
        };
        let _ = state.documents().create(&meta, &actor, input).await;
    }
    let started = Instant::now();
    let jsonl = state
        .exchange()
        .export(&meta, &actor, Scope::Project(corpus_project.id), Format::Jsonl, false, LayerRequest::default())
        .await
        .unwrap();
    let export_time = secs(started);
    let copy = state.projects().create(&meta, &actor, project("Corpus copy")).await.unwrap();
    let started = Instant::now();
    let report = state.exchange().import_documents(&meta, &actor, copy.id, Format::Jsonl, &jsonl, false).await.unwrap();
    println!(
        "{kind:>8}  corpus project: JSONL export {:.2} s ({:.1} MB), importDocuments {:.2} s ({} documents)",
        export_time,
        jsonl.len() as f64 / 1e6,
        secs(started),
        report.documents.len()
    );
}

#[tokio::main]
async fn main() {
    let files = common::corpus_texts();
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
