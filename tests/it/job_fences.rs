//! Leases that fence, on both databases: a worker that lost its lease stores nothing (its
//! late chunk included), a chunk stored twice is skipped rather than failing the job, the
//! requeue of expired jobs racing many claims takes each job exactly once, and a run that
//! panics is put back (and failed after `MAX_ATTEMPTS` claims) while its worker goes on.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use common::{Db, TestApp, create_document, wait_for_job};
use nishan_domain::audit::{AuditEntry, RequestMeta};
use nishan_domain::entity::EntitySource;
use nishan_domain::events::DomainEvent;
use nishan_domain::ids::{DocumentId, EntityTypeId};
use nishan_domain::job::{JobId, JobKind, JobStatus, JobTarget, MAX_ATTEMPTS};
use nishan_domain::ports::{DeadRunStore, DocumentRepository, ExtractionStore, Fence, JobRepository, SuggestionBatch};
use nishan_domain::service::entities::new_entity;
use nishan_domain::service::processing::extraction::Extraction;
use nishan_domain::service::processing::{BoxFuture, Done, JobHandler, JobRun, Stop, expired_failure, reap_expired};
use nishan_domain::text::DocumentText;
use nishan_infrastructure::jobs::{JobRunner, JobsEnv, ServerHandlers, SystemClock, WorkerConfig};
use serde_json::{Value, json};

const START: &str = "mutation($i: StartProcessingJobInput!) { startProcessingJob(input: $i) { id } }";
const TEXT: &str = "کربلا میں حسینؑ\nعباسؑ فرات پر";

async fn start(app: &TestApp, token: &str, doc: &str) -> JobId {
    let job = app.ok(Some(token), START, json!({"i": {"documentId": doc}})).await;
    job["startProcessingJob"]["id"].as_str().unwrap().parse().unwrap()
}

/// A batch of one entity (`کربلا`, the first word) for the document's current version.
async fn batch(app: &TestApp, doc: DocumentId, location: EntityTypeId) -> SuggestionBatch {
    let d = app.state.store.document_by_id(doc).await.unwrap().unwrap();
    let text = DocumentText::new(d.content.as_str());
    let e = new_entity(&d, &text, location, (0, 5), EntitySource::Llm, d.created_by.unwrap()).unwrap();
    SuggestionBatch {
        document: doc,
        version: d.current_version,
        text: Arc::from(d.content.as_str()),
        entities: vec![e],
        audit: AuditEntry::new(&RequestMeta::default(), None, "job.entities", "processing_job"),
    }
}

async fn a_worker_that_lost_its_lease_stores_nothing(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (token, _) = app.register("anis").await;
    let types = common::entity_type_ids(&app).await;
    let location = EntityTypeId(types["LOCATION"].parse().unwrap());
    let project = app.create_project(&token, "Fences", json!({})).await;
    let doc = create_document(&app, &token, &project, "Doc", TEXT).await;
    let doc_id = DocumentId(doc.parse().unwrap());
    let id = start(&app, &token, &doc).await;
    let store = &app.state.store;
    let now = Utc::now();
    let claimed = store.claim_next("w1", now, now + chrono::Duration::seconds(60)).await.unwrap().unwrap();
    assert_eq!(claimed.id, id);
    // Another worker took the job over (the first one's lease expired, say).
    app.execute("UPDATE processing_jobs SET lease_owner = 'w2'").await;
    let mut late = claimed.clone();
    late.completed_steps = 1;
    late.total_steps = 1;
    late.progress = 100;
    let fence = Fence { job: late.clone(), worker: "w1".into(), lease_until: now + chrono::Duration::seconds(60) };
    let stored = store.store_suggestions(&fence, batch(&app, doc_id, location).await).await.unwrap();
    assert!(stored.is_none(), "the late chunk of a worker without the lease is refused");
    assert_eq!(app.count("SELECT id FROM entities").await, 0, "and nothing of it is stored");
    let row = store.job_by_id(id).await.unwrap().unwrap();
    assert_eq!((row.progress, row.completed_steps), (0, 0), "nor its progress");
    assert_eq!(app.count("SELECT id FROM processing_jobs WHERE lease_owner = 'w2'").await, 1);
    // The lease holder's chunk is stored, and storing it again skips the span on both
    // databases (PostgreSQL's unique index would fail a plain INSERT).
    let fence = Fence { worker: "w2".into(), ..fence };
    let first = store.store_suggestions(&fence, batch(&app, doc_id, location).await).await.unwrap().unwrap();
    assert_eq!((first.inserted.len(), first.job.entities_found, first.job.progress), (1, 1, 100));
    // (A run's next fence starts from the job as stored.)
    let fence = Fence { job: first.job.clone(), ..fence };
    let again = store.store_suggestions(&fence, batch(&app, doc_id, location).await).await.unwrap().unwrap();
    assert_eq!((again.inserted.len(), again.job.entities_found), (0, 1), "the second copy is skipped");
    assert_eq!(app.count("SELECT id FROM entities").await, 1);
    let counts =
        app.ok(Some(&token), "query($id: ID!) { document(id: $id) { totalEntities } }", json!({"id": doc})).await;
    assert_eq!(counts["document"]["totalEntities"], 1, "the document's count follows");
}

async fn requeue_racing_claims_takes_each_job_once(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Race", json!({})).await;
    const JOBS: usize = 12;
    for n in 0..JOBS {
        let doc = create_document(&app, &token, &project, &format!("d{n}"), &format!("{TEXT} {n}")).await;
        start(&app, &token, &doc).await;
    }
    // Every job was being run by a worker that died: its lease expired a second ago. (The
    // timestamp as both databases store one: RFC 3339, as sqlx writes it on SQLite.)
    let past = (Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    let sql = format!(
        "UPDATE processing_jobs SET status = 'PROCESSING', lease_owner = 'dead', lease_expires_at = '{past}', progress = 40, completed_steps = 2, attempts = 1"
    );
    app.execute(&sql).await;
    let claims: Arc<Mutex<Vec<(JobId, String)>>> = Arc::default();
    let mut tasks = vec![];
    for r in 0..4 {
        let store = app.state.store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                store
                    .requeue_expired(Utc::now(), &expired_failure())
                    .await
                    .unwrap_or_else(|e| panic!("requeuer {r}: {e}"));
            }
        }));
    }
    for w in 0..6 {
        let (store, claims) = (app.state.store.clone(), claims.clone());
        tasks.push(tokio::spawn(async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while claims.lock().unwrap().len() < JOBS && std::time::Instant::now() < deadline {
                let now = Utc::now();
                let worker = format!("w{w}");
                match store.claim_next(&worker, now, now + chrono::Duration::seconds(600)).await {
                    Ok(Some(job)) => claims.lock().unwrap().push((job.id, worker)),
                    Ok(None) => tokio::task::yield_now().await,
                    Err(e) => panic!("claimer {w}: {e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let claims = claims.lock().unwrap().clone();
    let mut ids: Vec<JobId> = claims.iter().map(|(id, _)| *id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((claims.len(), ids.len()), (JOBS, JOBS), "each job claimed exactly once: {claims:?}");
    for (id, _) in &claims {
        let job = app.state.store.job_by_id(*id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Processing);
        assert_eq!((job.progress, job.completed_steps, job.attempts), (40, 2, 2), "progress kept; one more claim");
    }
    for w in 0..6 {
        let worker = format!("w{w}");
        let claimed = claims.iter().filter(|(_, by)| *by == worker).count() as i64;
        assert_eq!(
            app.count(&format!("SELECT id FROM processing_jobs WHERE lease_owner = '{worker}'")).await,
            claimed,
            "{worker}'s claims hold: no stale requeue took one back, no claim took a job it did not return"
        );
    }
}

/// A job whose server stopped under it for the third time in its run is failed, not put
/// back; one with claims to spare goes back to the queue with its progress; the reaper's use
/// case publishes each once.
async fn a_job_whose_servers_keep_dying_fails_at_the_cap(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Cap", json!({})).await;
    let a = create_document(&app, &token, &project, "a", TEXT).await;
    let b = create_document(&app, &token, &project, "b", &format!("{TEXT}\nکربلا")).await;
    let (first, second) = (start(&app, &token, &a).await, start(&app, &token, &b).await);
    let past = (Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    app.execute(&format!(
        "UPDATE processing_jobs SET status = 'PROCESSING', lease_owner = 'dead', lease_expires_at = '{past}', progress = 40, completed_steps = 2, attempts = {MAX_ATTEMPTS}"
    ))
    .await;
    // The second job has a claim to spare.
    app.execute(&format!("UPDATE processing_jobs SET attempts = {} WHERE lease_owner = 'dead' AND document_id IN (SELECT id FROM documents WHERE title = 'b')", MAX_ATTEMPTS - 1)).await;
    let mut events = app.state.events.subscribe();
    let env = JobsEnv { store: app.state.store.clone(), events: app.state.events.clone(), clock: SystemClock };
    let ended = reap_expired(&env).await.unwrap();
    assert_eq!(ended.len(), 2);
    let first = app.state.store.job_by_id(first).await.unwrap().unwrap();
    assert_eq!(first.status, JobStatus::Failed);
    assert!(first.error_message.unwrap().contains(&format!("stopped its worker {MAX_ATTEMPTS} times")));
    let second = app.state.store.job_by_id(second).await.unwrap().unwrap();
    assert_eq!(second.status, JobStatus::Queued);
    assert_eq!((second.progress, second.completed_steps), (40, 2), "put back with its progress");
    assert_eq!(app.count("SELECT id FROM processing_jobs WHERE lease_owner IS NULL").await, 2, "leases released");
    let doc =
        app.ok(Some(&token), "query($id: ID!) { document(id: $id) { processingStatus } }", json!({"id": a})).await;
    assert_eq!(doc["document"]["processingStatus"], "FAILED", "the document follows its job");
    let mut published = vec![];
    while let Ok(event) = events.try_recv() {
        if let DomainEvent::JobProgress(p) = event.as_ref() {
            published.push((p.job_id, p.status.clone()));
        }
    }
    published.sort();
    let mut expected = vec![(first.id, "FAILED".to_owned()), (second.id, "QUEUED".to_owned())];
    expected.sort();
    assert_eq!(published, expected, "one event per ended run, with its new status");
}

/// EXTRACTION, except that one job's run panics, as a bug in a handler would.
struct PanicsOn {
    doomed: JobId,
    inner: Extraction<nishan_api::llm::MeteredClient, nishan_infrastructure::crypto::SecretBox>,
}

impl JobHandler<JobsEnv> for PanicsOn {
    fn kind(&self) -> JobKind {
        JobKind::Extraction
    }
    fn check(&self, target: JobTarget, params: &Value) -> nishan_domain::DomainResult<()> {
        JobHandler::<JobsEnv>::check(&self.inner, target, params)
    }
    fn run<'a, 'e: 'a>(&'a self, run: &'a mut JobRun<'e, JobsEnv>) -> BoxFuture<'a, Result<Done, Stop>> {
        if run.job().id == self.doomed {
            // What the old worker did with error details that were not an object.
            run.job().params.as_array().expect("error details are an object");
        }
        self.inner.run(run)
    }
}

async fn a_run_that_panics_is_put_back_then_failed_and_its_worker_goes_on(db: Db) {
    let app = TestApp::spawn_with(db, |s| s.workers = 0).await;
    let (token, _) = app.register("anis").await;
    let project = app.create_project(&token, "Panics", json!({})).await;
    let doomed_doc = create_document(&app, &token, &project, "Doomed", TEXT).await;
    let doomed = start(&app, &token, &doomed_doc).await;
    let fine_doc = create_document(&app, &token, &project, "Fine", &format!("{TEXT}\nکربلا")).await;
    let fine = start(&app, &token, &fine_doc).await;
    let handler = PanicsOn {
        doomed,
        inner: Extraction::new(nishan_api::llm::MeteredClient::new().unwrap(), app.state.cipher.clone()),
    };
    let config = WorkerConfig {
        workers: 1,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(50),
        backoff: Default::default(),
        instance: "panicky".into(),
    };
    let handlers = Arc::new(ServerHandlers::new().with(handler));
    let tasks = JobRunner::new(app.state.store.clone(), app.state.events.clone(), handlers, config).spawn();
    let failed = wait_for_job(&app, &token, &doomed.to_string()).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    let message = failed["errorMessage"].as_str().unwrap();
    assert!(
        message.contains(&format!("each of the {MAX_ATTEMPTS} times")) && message.contains("reference "),
        "{message}"
    );
    assert!(!message.contains("error details"), "the panic's text stays in the log: {message}");
    let job = app.state.store.job_by_id(doomed).await.unwrap().unwrap();
    assert_eq!(job.attempts, MAX_ATTEMPTS, "put back after each panic until the cap");
    assert_eq!(app.count("SELECT id FROM processing_jobs WHERE status = 'FAILED' AND lease_owner IS NULL").await, 1);
    // The one worker went on: the other job ran to its end.
    let done = wait_for_job(&app, &token, &fine.to_string()).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert!(done["entitiesFound"].as_u64().unwrap() > 0);
    for t in tasks {
        t.abort();
    }
}

on_both_databases!(
    a_job_whose_servers_keep_dying_fails_at_the_cap,
    a_worker_that_lost_its_lease_stores_nothing,
    requeue_racing_claims_takes_each_job_once,
    a_run_that_panics_is_put_back_then_failed_and_its_worker_goes_on,
);
