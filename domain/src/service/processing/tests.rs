//! The runner and the EXTRACTION handler driven with fakes: an in-memory store that keeps
//! the lease, the document's versions and its entities as the real one does (content edits
//! through `ContentPlan`, stale suggestions through `rebase_suggestions`), a virtual
//! clock, a scripted model, and an event recorder. Futures are polled to completion here:
//! no fake ever waits.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::extraction::Extraction;
use super::*;
use crate::document::{Document, FileInfo};
use crate::entity::Entity;
use crate::entity_type::{EntityType, HexColor};
use crate::error::{DomainError, DomainResult};
use crate::events::{DomainEvent, EventPublisher};
use crate::ids::{ProjectId, UserId};
use crate::job::{Job, JobKind, JobStatus, JobTarget};
use crate::llm::model::{CallWindow, LlmModel, PostProcessing, ProcessingConfig, Reservation, ValidationStatus};
use crate::llm::retry::RetryPolicy;
use crate::llm::{Completion, CompletionRequest, LlmClient, LlmError, ModelEndpoint, Provider};
use crate::ports::StoredSpan;
use crate::ports::{
    Clock, DeadRunStore, ExtractionStore, Fence, JobRunStore, ModelCall, SecretCipher, StoredSuggestions,
    SuggestionBatch,
};
use crate::service::documents::{ContentPlan, InitialFields, new_document};
use crate::text::{DocumentText, span_context};

/// Polls a future to its end; the fakes never wait, so it is always ready soon.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("a future that never finishes: a fake waits");
}

const WORKER: &str = "test-worker";
const PERSON: &str = "PERSON";
const LOCATION: &str = "LOCATION";

fn entity_type(name: &str, examples: &[&str]) -> EntityType {
    EntityType {
        id: crate::ids::EntityTypeId::new(),
        name: name.into(),
        display_name: name.into(),
        description: None,
        color: HexColor::parse("#336699").unwrap(),
        examples: examples.iter().map(|e| e.to_string()).collect(),
        is_system: true,
        is_active: true,
        sort_order: 0,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn model(provider: Provider) -> LlmModel {
    LlmModel {
        id: uuid::Uuid::now_v7(),
        name: "model".into(),
        provider,
        model_name: "m".into(),
        api_base_url: Some("http://127.0.0.1:9".into()),
        api_version: None,
        has_api_key: false,
        api_key_hint: None,
        is_active: true,
        is_default: true,
        priority: 0,
        max_tokens: 1000,
        temperature: 0.0,
        timeout_secs: 5,
        rate_limit_per_minute: None,
        rate_limit_per_hour: None,
        cost_per_1k_prompt_tokens: 0.0,
        cost_per_1k_completion_tokens: 0.0,
        total_requests: 0,
        successful_requests: 0,
        failed_requests: 0,
        average_response_ms: 0.0,
        validation_status: ValidationStatus::Connected,
        validation_error: None,
        validated_at: None,
        created_by: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

fn config(chunk_size: u32) -> ProcessingConfig {
    ProcessingConfig {
        id: uuid::Uuid::now_v7(),
        name: "test".into(),
        description: None,
        chunk_size,
        chunk_overlap: 0,
        max_tokens: 500,
        confidence_threshold: 0.5,
        entity_type_ids: vec![],
        system_prompt: "find names".into(),
        user_prompt_template: "{text}".into(),
        examples: json!([]),
        post_processing: PostProcessing::default(),
        is_default: true,
        created_by: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

/// A hook run at the start of a commit (by number, from 1): an edit racing the step, a lost
/// lease, a researcher's cancel.
type Hook = Box<dyn FnMut(&mut World, usize) + Send>;

/// The fake database.
struct World {
    doc: Document,
    versions: Vec<(u32, String)>,
    entities: Vec<Entity>,
    job: Job,
    owner: Option<String>,
    /// When the owner's lease ends (`None`: the tests of runs never let it expire).
    lease_until: Option<DateTime<Utc>>,
    model: LlmModel,
    config: ProcessingConfig,
    types: Vec<EntityType>,
    calls: Vec<ModelCall>,
    reservations: Vec<DateTime<Utc>>,
    commits: usize,
    hooks: Vec<Hook>,
    /// Faults the next commits fail with, in order.
    faults: VecDeque<DomainError>,
    /// Each entity offered to the store, by id: its text in the version the job read, as the
    /// extractor found it (before any rebase).
    found_as: HashMap<crate::ids::EntityId, String>,
    /// Entities offered whose span and type were stored already (skipped).
    offered_again: u32,
}

impl World {
    /// A researcher replaces the content, as `updateDocumentContent` does.
    fn edit(&mut self, content: &str) {
        let old = std::sync::Arc::new(DocumentText::new(self.doc.content.as_str()));
        let spans: Vec<StoredSpan> = self
            .entities
            .iter()
            .map(|e| StoredSpan { id: e.id, layer: e.layer, start: e.start, end: e.end, is_verified: e.is_verified })
            .collect();
        let plan = ContentPlan::prepare(&self.doc.head(), &old, spans.clone(), content.to_owned(), None, UserId::new())
            .unwrap();
        let edit = plan.edit.clone();
        let carried = plan.carry(spans).unwrap();
        let new_text = DocumentText::new(content);
        self.entities.retain(|e| !carried.dropped.contains(&e.id));
        for e in &mut self.entities {
            if let Some(shift) = carried.shifts.iter().find(|s| s.holds(e.cursor())) {
                let span = ((e.start as i64 + shift.by.chars) as u32, (e.end as i64 + shift.by.chars) as u32);
                e.place(span, span_context(&new_text, span.0, span.1).unwrap());
            }
        }
        for p in carried.rewrite {
            let e = self.entities.iter_mut().find(|e| e.id == p.id).unwrap();
            e.place((p.start, p.end), span_context(&new_text, p.start, p.end).unwrap());
        }
        self.doc.content = content.to_owned();
        self.doc.info.content_hash = edit.content_hash;
        self.doc.info.word_count = edit.metrics.words;
        self.doc.info.character_count = edit.metrics.characters;
        self.doc.info.line_count = edit.metrics.lines;
        self.doc.info.current_version += 1;
        self.versions.push((self.doc.current_version, self.doc.content.clone()));
    }

    fn holds(&self, fence: &Fence) -> bool {
        self.owner.as_deref() == Some(fence.worker.as_str()) && self.job.status == JobStatus::Processing
    }

    /// Writes what `save_progress` writes.
    fn write_progress(&mut self, fence: &Fence) {
        let j = &fence.job;
        let stored = &mut self.job;
        stored.progress = j.progress;
        stored.total_steps = j.total_steps;
        stored.completed_steps = j.completed_steps;
        stored.current_step = j.current_step.clone();
        stored.entities_found = j.entities_found;
        stored.entities_dropped = j.entities_dropped;
        stored.estimated_completion_at = j.estimated_completion_at;
        stored.error_details = j.error_details.clone();
        stored.document_version = j.document_version;
        stored.checkpoint = j.checkpoint.clone();
    }

    fn run_hooks(&mut self) -> DomainResult<()> {
        self.commits += 1;
        let n = self.commits;
        let mut hooks = std::mem::take(&mut self.hooks);
        for h in &mut hooks {
            h(self, n);
        }
        self.hooks = hooks;
        match self.faults.pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

struct FakeStore(Mutex<World>);

impl JobRunStore for FakeStore {
    fn save_progress(&self, fence: &Fence) -> impl Future<Output = DomainResult<Option<Job>>> + Send {
        let mut w = self.0.lock().unwrap();
        let result = w.run_hooks().map(|()| {
            if !w.holds(fence) {
                return None;
            }
            w.write_progress(fence);
            Some(w.job.clone())
        });
        std::future::ready(result)
    }

    fn finish_run(&self, job: &Job, worker: &str) -> impl Future<Output = DomainResult<Option<Job>>> + Send {
        let mut w = self.0.lock().unwrap();
        let result = if w.owner.as_deref() == Some(worker) {
            let (tokens, cost) = (w.job.tokens_used, w.job.cost);
            w.job = Job { tokens_used: tokens, cost, ..job.clone() };
            w.owner = None;
            Some(w.job.clone())
        } else {
            None
        };
        std::future::ready(Ok(result))
    }
}

impl World {
    /// Ends the job's run as `end_runs` does in the database: the lease released, the job
    /// back in the queue with its progress kept, or FAILED with `failure` at the attempts cap.
    fn end_dead_run(&mut self, failure: &str, now: DateTime<Utc>) -> Job {
        self.owner = None;
        self.lease_until = None;
        let j = &mut self.job;
        j.updated_at = now;
        if j.may_run_again() {
            j.status = JobStatus::Queued;
            j.current_step =
                Some(format!("requeued after step {} of {} (its worker stopped)", j.completed_steps, j.total_steps));
        } else {
            j.status = JobStatus::Failed;
            j.error_message = Some(failure.to_owned());
            j.completed_at = Some(now);
            j.current_step = Some("failed: its runs kept stopping".into());
        }
        j.clone()
    }
}

impl DeadRunStore for FakeStore {
    fn requeue_expired(
        &self,
        now: DateTime<Utc>,
        failure: &str,
    ) -> impl Future<Output = DomainResult<Vec<Job>>> + Send {
        let mut w = self.0.lock().unwrap();
        let result = match w.faults.pop_front() {
            Some(e) => Err(e),
            None => {
                let expired = w.job.status == JobStatus::Processing && w.lease_until.is_some_and(|l| l < now);
                Ok(if expired { vec![w.end_dead_run(failure, now)] } else { vec![] })
            }
        };
        std::future::ready(result)
    }

    fn release_dead_run(
        &self,
        id: crate::job::JobId,
        worker: &str,
        failure: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = DomainResult<Option<Job>>> + Send {
        let mut w = self.0.lock().unwrap();
        let result = match w.faults.pop_front() {
            Some(e) => Err(e),
            None => {
                let held =
                    w.job.id == id && w.owner.as_deref() == Some(worker) && w.job.status == JobStatus::Processing;
                Ok(held.then(|| w.end_dead_run(failure, now)))
            }
        };
        std::future::ready(result)
    }
}

impl ExtractionStore for FakeStore {
    fn document(&self, _: crate::ids::DocumentId) -> impl Future<Output = DomainResult<Option<Document>>> + Send {
        std::future::ready(Ok(Some(self.0.lock().unwrap().doc.clone())))
    }
    fn document_text_at(
        &self,
        _: crate::ids::DocumentId,
        version: u32,
    ) -> impl Future<Output = DomainResult<Option<String>>> + Send {
        let w = self.0.lock().unwrap();
        std::future::ready(Ok(w.versions.iter().find(|(v, _)| *v == version).map(|(_, t)| t.clone())))
    }
    fn model(&self, _: uuid::Uuid) -> impl Future<Output = DomainResult<Option<LlmModel>>> + Send {
        std::future::ready(Ok(Some(self.0.lock().unwrap().model.clone())))
    }
    fn config(&self, _: Option<uuid::Uuid>) -> impl Future<Output = DomainResult<Option<ProcessingConfig>>> + Send {
        std::future::ready(Ok(Some(self.0.lock().unwrap().config.clone())))
    }
    fn entity_types(&self) -> impl Future<Output = DomainResult<Vec<EntityType>>> + Send {
        std::future::ready(Ok(self.0.lock().unwrap().types.clone()))
    }
    fn verified_names(
        &self,
        _: ProjectId,
    ) -> impl Future<Output = DomainResult<Vec<(String, crate::ids::EntityTypeId)>>> + Send {
        std::future::ready(Ok(vec![]))
    }
    fn model_key(&self, _: uuid::Uuid) -> impl Future<Output = DomainResult<Option<String>>> + Send {
        std::future::ready(Ok(Some("sealed:key".into())))
    }
    fn reserve_call(
        &self,
        _: uuid::Uuid,
        windows: &[CallWindow],
        now: DateTime<Utc>,
    ) -> impl Future<Output = DomainResult<Reservation>> + Send {
        let mut w = self.0.lock().unwrap();
        let mut wait = None;
        for window in windows {
            let mut inside: Vec<DateTime<Utc>> =
                w.reservations.iter().copied().filter(|t| *t > now - window.window).collect();
            inside.sort();
            if inside.len() >= window.limit as usize {
                let until = inside[inside.len() - window.limit as usize] + window.window;
                wait = Some(wait.map_or(until, |w: DateTime<Utc>| w.max(until)));
            }
        }
        let answer = match wait {
            Some(until) => Reservation::WaitUntil(until),
            None => {
                w.reservations.push(now);
                Reservation::Granted
            }
        };
        std::future::ready(Ok(answer))
    }
    fn record_call(&self, call: ModelCall) -> impl Future<Output = DomainResult<()>> + Send {
        let mut w = self.0.lock().unwrap();
        w.job.tokens_used += i64::from(call.prompt_tokens + call.completion_tokens);
        w.calls.push(call);
        std::future::ready(Ok(()))
    }
    fn store_suggestions(
        &self,
        fence: &Fence,
        batch: SuggestionBatch,
    ) -> impl Future<Output = DomainResult<Option<StoredSuggestions>>> + Send {
        let mut w = self.0.lock().unwrap();
        let result = w.run_hooks().map(|()| {
            if !w.holds(fence) {
                return None;
            }
            for e in &batch.entities {
                w.found_as.insert(e.id, chars(&batch.text, e.start, e.end));
            }
            let (entities, dropped) = if batch.version == w.doc.current_version {
                (batch.entities, 0)
            } else {
                rebase_suggestions(batch.entities, &batch.text, &w.doc)
            };
            let mut inserted = vec![];
            for e in entities {
                let exists =
                    w.entities.iter().any(|x| (x.start, x.end, x.entity_type_id) == (e.start, e.end, e.entity_type_id));
                if exists {
                    w.offered_again += 1;
                } else {
                    inserted.push(e.id);
                    w.entities.push(e);
                }
            }
            w.write_progress(fence);
            w.job.entities_found += inserted.len() as u32;
            w.job.entities_dropped += dropped;
            Some(StoredSuggestions { job: w.job.clone(), inserted, current_version: w.doc.current_version, dropped })
        });
        std::future::ready(result)
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<DomainEvent>>);

impl EventPublisher for Recorder {
    fn publish(&self, event: DomainEvent) {
        self.0.lock().unwrap().push(event);
    }
}

/// A clock that moves only when slept on, or by `tick` at each reading.
struct VirtualClock(Mutex<DateTime<Utc>>, Mutex<chrono::Duration>);

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let mut now = self.0.lock().unwrap();
        *now += *self.1.lock().unwrap();
        *now
    }
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        *self.0.lock().unwrap() += chrono::Duration::from_std(duration).unwrap();
        std::future::ready(())
    }
}

struct Env {
    store: FakeStore,
    events: Recorder,
    clock: VirtualClock,
    notes: Mutex<Vec<RunNote>>,
}

impl JobEnv for Env {
    type Store = FakeStore;
    type Events = Recorder;
    type Clock = VirtualClock;
    fn store(&self) -> &FakeStore {
        &self.store
    }
    fn events(&self) -> &Recorder {
        &self.events
    }
    fn clock(&self) -> &VirtualClock {
        &self.clock
    }
    fn note(&self, _: crate::job::JobId, note: RunNote) {
        self.notes.lock().unwrap().push(note);
    }
}

/// A model that answers with the names of `lexicon` found in the prompt, or what is scripted.
struct ScriptedModel {
    lexicon: Vec<(&'static str, &'static str)>,
    script: Mutex<VecDeque<Result<String, LlmError>>>,
    clock_calls: Mutex<Vec<String>>,
}

impl ScriptedModel {
    fn new(lexicon: Vec<(&'static str, &'static str)>) -> Self {
        Self { lexicon, script: Mutex::new(VecDeque::new()), clock_calls: Mutex::new(vec![]) }
    }
}

impl LlmClient for ScriptedModel {
    fn complete(
        &self,
        _: &ModelEndpoint,
        request: &CompletionRequest,
    ) -> impl Future<Output = Result<Completion, LlmError>> + Send {
        self.clock_calls.lock().unwrap().push(request.user.clone());
        let scripted = self.script.lock().unwrap().pop_front();
        let outcome = scripted.unwrap_or_else(|| {
            let found: Vec<Value> = self
                .lexicon
                .iter()
                .filter(|(t, _)| request.user.contains(t))
                .map(|(t, k)| json!({"text": t, "type": k, "confidence": 0.9}))
                .collect();
            Ok(json!({ "entities": found }).to_string())
        });
        std::future::ready(outcome.map(|text| Completion {
            prompt_tokens: 10,
            completion_tokens: 5,
            text,
            truncated: false,
        }))
    }
}

struct PlainCipher;

impl SecretCipher for PlainCipher {
    fn encrypt(&self, plaintext: &str) -> DomainResult<String> {
        Ok(format!("sealed:{plaintext}"))
    }
    fn decrypt(&self, stored: &str) -> DomainResult<String> {
        Ok(stored.trim_start_matches("sealed:").to_owned())
    }
}

/// Names of the built-in gazetteer in these tests.
const NAMES: [(&str, &str); 5] =
    [("حسینؑ", PERSON), ("عباسؑ", PERSON), ("زینبؑ", PERSON), ("کربلا", LOCATION), ("فرات", LOCATION)];

fn stanza(n: usize) -> String {
    format!("کربلا میں حسینؑ {n}\nعباسؑ فرات پر {n}\n\n")
}

fn world(content: &str, provider: Provider, chunk_size: u32) -> World {
    let types = vec![entity_type(PERSON, &["حسینؑ", "عباسؑ", "زینبؑ"]), entity_type(LOCATION, &["کربلا", "فرات"])];
    let fields = InitialFields { title: "t".into(), language: "ur".into(), direction: None, tags: vec![] };
    let (doc, _) = new_document(ProjectId::new(), fields, content.to_owned(), FileInfo::default(), UserId::new());
    let model = model(provider);
    let now = Utc::now();
    let job = Job {
        id: uuid::Uuid::now_v7(),
        kind: JobKind::Extraction,
        project_id: doc.project_id,
        target: JobTarget::Document(doc.id),
        params: json!({}),
        llm_model_id: Some(model.id),
        processing_config_id: None,
        status: JobStatus::Processing,
        priority: 0,
        progress: 0,
        total_steps: 0,
        completed_steps: 0,
        current_step: None,
        entities_found: 0,
        entities_dropped: 0,
        started_at: Some(now),
        completed_at: None,
        estimated_completion_at: None,
        error_message: None,
        error_details: json!({}),
        tokens_used: 0,
        cost: 0.0,
        retry_count: 0,
        max_retries: 3,
        attempts: 1,
        cancel_requested: false,
        pause_requested: false,
        document_version: None,
        checkpoint: json!({}),
        created_by: None,
        created_at: now,
        updated_at: now,
    };
    World {
        versions: vec![(1, doc.content.clone())],
        doc,
        entities: vec![],
        job,
        owner: Some(WORKER.into()),
        lease_until: None,
        model,
        config: config(chunk_size),
        types,
        calls: vec![],
        reservations: vec![],
        commits: 0,
        hooks: vec![],
        faults: VecDeque::new(),
        found_as: HashMap::new(),
        offered_again: 0,
    }
}

fn make_env(world: World) -> Env {
    Env {
        store: FakeStore(Mutex::new(world)),
        events: Recorder::default(),
        clock: VirtualClock(Mutex::new(Utc::now()), Mutex::new(chrono::Duration::zero())),
        notes: Mutex::new(vec![]),
    }
}

fn handlers(model: ScriptedModel) -> Handlers<Env> {
    // Stored after every chunk, so that hooks see each one.
    Handlers::new().with(Extraction {
        llm: model,
        cipher: PlainCipher,
        retry: RetryPolicy::default(),
        builtin_store_every: Duration::ZERO,
    })
}

fn builtin() -> Handlers<Env> {
    handlers(ScriptedModel::new(vec![]))
}

/// Runs the world's job once, as a worker that claimed it.
fn run(env: &Env, handlers: &Handlers<Env>) -> Option<Job> {
    let job = env.store.0.lock().unwrap().job.clone();
    let runner = Runner { env, handlers, worker: WORKER, lease: Duration::from_secs(30), backoff: Backoff::default() };
    block_on(runner.run(job))
}

/// Takes the job up again, as a worker that claims it after a crash.
fn reclaim(env: &Env) {
    let mut w = env.store.0.lock().unwrap();
    w.owner = Some(WORKER.into());
    w.job.status = JobStatus::Processing;
    w.job.attempts += 1;
}

fn chars(text: &str, start: u32, end: u32) -> String {
    text.chars().skip(start as usize).take((end - start) as usize).collect()
}

/// Every stored entity lies where the text the extractor found is in the current content:
/// its offsets hold its text, and that text is the one found in the version the job read
/// (carrying it through edits moves it, never onto other text: `Entity::place` rewrites the
/// text from wherever it is put, so the first check alone would pass a wrong place).
fn assert_in_place(w: &World) {
    for e in &w.entities {
        assert_eq!(chars(&w.doc.content, e.start, e.end), e.text, "an entity out of place in {:?}", w.doc.content);
        assert_eq!(
            Some(&e.text),
            w.found_as.get(&e.id),
            "an entity moved onto other text than was found, at {}..{} of {:?}",
            e.start,
            e.end,
            w.doc.content
        );
        assert_eq!(e.document_id, w.doc.id);
    }
}

/// The (text, start) of every stored entity, in order.
fn found(w: &World) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = w.entities.iter().map(|e| (e.text.clone(), e.start)).collect();
    v.sort_by_key(|(_, s)| *s);
    v
}

/// Where each name of `NAMES` occurs in `text`, as the gazetteer would find it.
fn occurrences(text: &str) -> Vec<(String, u32)> {
    let mut v = vec![];
    for (name, _) in NAMES {
        for (at, _) in text.match_indices(name) {
            v.push((name.to_owned(), text[..at].chars().count() as u32));
        }
    }
    v.sort_by_key(|(_, s)| *s);
    v
}

fn progress_events(env: &Env) -> Vec<(JobStatus, u32)> {
    env.events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            DomainEvent::JobProgress(p) => Some((p.status(), p.progress)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_built_in_extractor_runs_every_chunk() {
    let text: String = (0..8).map(stanza).collect();
    let env = make_env(world(&text, Provider::Builtin, 40));
    let end = run(&env, &builtin()).expect("the run ends with the lease held");
    assert_eq!(end.status, JobStatus::Completed, "{end:?}");
    let w = env.store.0.lock().unwrap();
    assert!(w.job.total_steps > 2, "several chunks");
    assert_eq!(found(&w), occurrences(&text), "every name, once, in place");
    assert_in_place(&w);
    assert_eq!(w.job.entities_found as usize, occurrences(&text).len());
    assert_eq!(w.job.document_version, Some(1));
    let progress: Vec<u32> = progress_events(&env).iter().map(|(_, p)| *p).collect();
    assert!(progress.windows(2).all(|p| p[0] <= p[1]), "progress never goes back: {progress:?}");
    assert_eq!(progress_events(&env).last(), Some(&(JobStatus::Completed, 100)));
}

#[test]
fn the_built_in_extractor_stores_several_chunks_at_once_within_its_interval() {
    let text: String = (0..8).map(stanza).collect();
    let env = make_env(world(&text, Provider::Builtin, 40));
    let handlers = Handlers::new().with(Extraction::new(ScriptedModel::new(vec![]), PlainCipher));
    let end = run(&env, &handlers).unwrap();
    assert_eq!(end.status, JobStatus::Completed);
    let w = env.store.0.lock().unwrap();
    assert!(w.job.total_steps >= 8);
    assert_eq!(w.commits, 1, "the virtual clock stands still: one store at the end");
    assert_eq!(found(&w), occurrences(&text));
    drop(w);
    // When reading takes time, it stores at least every 0.25 s.
    let env = make_env(world(&text, Provider::Builtin, 40));
    *env.clock.1.lock().unwrap() = chrono::Duration::milliseconds(100);
    let end = run(&env, &handlers).unwrap();
    assert_eq!(end.status, JobStatus::Completed);
    let w = env.store.0.lock().unwrap();
    assert!(
        w.commits > 1 && w.commits < w.job.total_steps as usize,
        "{} stores of {} chunks",
        w.commits,
        w.job.total_steps
    );
    assert_eq!(found(&w), occurrences(&text));
}

#[test]
fn an_edit_between_chunks_moves_the_stale_chunk_and_the_rest_is_read_in_the_new_text() {
    let text: String = (0..8).map(stanza).collect();
    let mut w = world(&text, Provider::Builtin, 40);
    // Before the second chunk is stored, a researcher inserts a stanza at the top and
    // changes the first name of the last stanza.
    let edited = format!("زینبؑ سے چلیں\n\n{}", text.replacen("کربلا میں حسینؑ 7", "کربلا میں علی 7", 1));
    let edited2 = edited.clone();
    w.hooks.push(Box::new(move |w, n| {
        if n == 2 {
            w.edit(&edited2);
        }
    }));
    let env = make_env(w);
    let end = run(&env, &builtin()).unwrap();
    assert_eq!(end.status, JobStatus::Completed);
    let w = env.store.0.lock().unwrap();
    assert_eq!(w.doc.current_version, 2);
    assert_in_place(&w);
    let mut expected = occurrences(&edited);
    assert_eq!(expected.remove(0), ("زینبؑ".to_owned(), 0), "the name the edit put before the job's place...");
    assert_eq!(found(&w), expected, "...is not read; every other name of the new text is, at its new place");
    assert_eq!(w.job.document_version, Some(2), "the job follows the edit");
    assert!(env.notes.lock().unwrap().contains(&RunNote::DocumentChanged { from: 1, to: 2 }));
}

#[test]
fn a_run_taken_up_after_an_edit_skips_no_chunk_of_the_new_text() {
    let text: String = (0..10).map(stanza).collect();
    let mut w = world(&text, Provider::Builtin, 40);
    // The worker dies before its fourth commit (its lease is taken).
    w.hooks.push(Box::new(|w, n| {
        if n == 4 {
            w.owner = Some("another".into());
        }
    }));
    let env = make_env(w);
    assert_eq!(run(&env, &builtin()), None, "the lease was lost");
    let (done, total) = {
        let mut w = env.store.0.lock().unwrap();
        w.hooks.clear();
        // Meanwhile a long passage is inserted at the top: counting chunks would skip text.
        let prepended = format!("{}{}", "نئی سطر بغیر ناموں کے\n".repeat(30), w.doc.content);
        w.edit(&prepended);
        (w.job.completed_steps, w.job.total_steps)
    };
    assert!(done >= 3 && done < total, "the run had stored {done} of {total} chunks");
    reclaim(&env);
    let end = run(&env, &builtin()).unwrap();
    assert_eq!(end.status, JobStatus::Completed);
    let w = env.store.0.lock().unwrap();
    assert_in_place(&w);
    assert_eq!(found(&w), occurrences(&w.doc.content), "every name of every stanza, none skipped");
}

#[test]
fn a_worker_that_lost_its_lease_stores_nothing_more() {
    let text: String = (0..6).map(stanza).collect();
    let mut w = world(&text, Provider::Builtin, 40);
    w.hooks.push(Box::new(|w, n| {
        if n == 2 {
            w.owner = Some("thief".into());
        }
    }));
    let env = make_env(w);
    assert_eq!(run(&env, &builtin()), None);
    let w = env.store.0.lock().unwrap();
    assert_eq!(w.job.completed_steps, 1, "only the first chunk was stored");
    assert_eq!(w.job.status, JobStatus::Processing, "the job is the thief's: not ended by the loser");
    assert_eq!(w.owner.as_deref(), Some("thief"));
    let first_chunk_names = w.entities.len();
    assert!(first_chunk_names > 0 && first_chunk_names < occurrences(&text).len());
    assert!(env.notes.lock().unwrap().contains(&RunNote::LeaseLost));
}

#[test]
fn cancel_and_pause_take_effect_after_the_current_chunk() {
    for (flag, status) in [("cancel", JobStatus::Cancelled), ("pause", JobStatus::Paused)] {
        let text: String = (0..6).map(stanza).collect();
        let mut w = world(&text, Provider::Builtin, 40);
        w.hooks.push(Box::new(move |w, n| {
            if n == 2 {
                if flag == "cancel" {
                    w.job.cancel_requested = true;
                } else {
                    w.job.pause_requested = true;
                }
            }
        }));
        let env = make_env(w);
        let end = run(&env, &builtin()).unwrap();
        assert_eq!(end.status, status);
        assert_eq!(end.completed_steps, 2, "the second chunk was stored, no third");
        assert!(!end.cancel_requested && !end.pause_requested);
        assert_eq!(
            end.current_step.as_deref(),
            Some(
                format!("{flag}{} after step 2 of {}", if flag == "cancel" { "led" } else { "d" }, end.total_steps)
                    .as_str()
            )
        );
        assert_eq!(end.completed_at.is_some(), status == JobStatus::Cancelled);
        // A paused job goes on from its checkpoint when it is claimed again.
        if status == JobStatus::Paused {
            reclaim(&env);
            let end = run(&env, &builtin()).unwrap();
            assert_eq!(end.status, JobStatus::Completed);
            let w = env.store.0.lock().unwrap();
            assert_eq!(found(&w), occurrences(&text));
        }
    }
}

#[test]
fn transient_faults_are_tried_again() {
    let text: String = (0..4).map(stanza).collect();
    let mut w = world(&text, Provider::Builtin, 40);
    w.faults.extend([DomainError::transient("database is locked"), DomainError::transient("connection reset")]);
    let env = make_env(w);
    let end = run(&env, &builtin()).unwrap();
    assert_eq!(end.status, JobStatus::Completed);
    let retries = env.notes.lock().unwrap().iter().filter(|n| matches!(n, RunNote::Retrying { .. })).count();
    assert_eq!(retries, 2);
    assert_eq!(found(&env.store.0.lock().unwrap()), occurrences(&text), "nothing lost to the faults");
}

#[test]
fn a_fault_fails_the_job_with_a_reference_and_keeps_the_cause_in_the_log() {
    let text: String = (0..4).map(stanza).collect();
    let mut w = world(&text, Provider::Builtin, 40);
    w.faults.push_back(DomainError::internal("relation \"entities\" violates constraint fk_secret"));
    let env = make_env(w);
    let end = run(&env, &builtin()).unwrap();
    assert_eq!(end.status, JobStatus::Failed);
    let message = end.error_message.unwrap();
    assert!(message.starts_with("storing the chunk's entities failed (an internal error; reference "), "{message}");
    assert!(!message.contains("fk_secret") && !message.contains("relation"), "{message}");
    let notes = env.notes.lock().unwrap();
    let fault = notes.iter().find_map(|n| match n {
        RunNote::Fault { reference, cause, .. } => Some((reference.clone(), cause.clone())),
        _ => None,
    });
    let (reference, cause) = fault.expect("the fault is noted");
    assert!(message.contains(&reference), "the message names the logged reference");
    assert!(cause.contains("fk_secret"), "the log has the cause");
    // Persistent transient faults give up too, after the backoff's attempts.
    let mut w = world(&text, Provider::Builtin, 40);
    w.faults.extend((0..Backoff::default().attempts).map(|_| DomainError::transient("connection refused")));
    let env = make_env(w);
    let end = run(&env, &builtin()).unwrap();
    assert_eq!(end.status, JobStatus::Failed);
    assert!(!end.error_message.unwrap().contains("refused"));
}

#[test]
fn a_model_job_respects_the_rate_limit_and_records_every_call() {
    let text: String = (0..5).map(stanza).collect();
    let mut w = world(&text, Provider::OpenAi, 40);
    w.model.rate_limit_per_minute = Some(2);
    let started = Utc::now();
    let env = make_env(w);
    *env.clock.0.lock().unwrap() = started;
    let model = ScriptedModel::new(NAMES.to_vec());
    model.script.lock().unwrap().push_back(Err(LlmError::Server { status: 503, message: "busy".into() }));
    let end = run(&env, &handlers(model)).unwrap();
    assert_eq!(end.status, JobStatus::Completed, "{end:?}");
    let w = env.store.0.lock().unwrap();
    assert_eq!(found(&w), occurrences(&text));
    assert_eq!(w.calls.len() as u32, w.job.total_steps + 1, "one call per chunk, and the retried one");
    assert_eq!(w.calls.iter().filter(|c| c.error.is_some()).count(), 1);
    // No minute holds more than two calls.
    let times: Vec<DateTime<Utc>> = w.calls.iter().map(|c| c.at).collect();
    for t in &times {
        let in_window = times.iter().filter(|u| **u >= *t && **u < *t + chrono::Duration::minutes(1)).count();
        assert!(in_window <= 2, "{in_window} calls within a minute of {t}");
    }
    assert!(env.clock.now() - started >= chrono::Duration::minutes(2), "the job waited for slots");
    assert_eq!(w.job.tokens_used, 15 * (w.calls.len() as i64 - 1), "the failed call used no tokens");
}

#[test]
fn a_refused_key_fails_the_job_and_a_failed_chunk_does_not() {
    let text: String = (0..4).map(stanza).collect();
    let env = make_env(world(&text, Provider::OpenAi, 40));
    let model = ScriptedModel::new(NAMES.to_vec());
    model.script.lock().unwrap().extend([Ok("not json".into()), Ok("still not json".into())]);
    let end = run(&env, &handlers(model)).unwrap();
    assert_eq!(end.status, JobStatus::Completed);
    assert_eq!(end.error_details["chunks"].as_array().unwrap().len(), 1, "{}", end.error_details);
    assert!(end.error_details["chunks"][0]["error"].as_str().unwrap().contains("malformed"));

    let env2 = make_env(world(&text, Provider::OpenAi, 40));
    let model = ScriptedModel::new(NAMES.to_vec());
    model.script.lock().unwrap().push_back(Err(LlmError::Client { status: 401, message: "bad key".into() }));
    let end = run(&env2, &handlers(model)).unwrap();
    assert_eq!(end.status, JobStatus::Failed);
    assert_eq!(end.error_message.as_deref(), Some("the model's provider refused the request (401): bad key"));
}

#[test]
fn overlapping_suggestions_are_merged_when_the_configuration_says_so() {
    let text = "حسینؑ ابن علیؑ کربلا میں\n";
    for merge in [true, false] {
        let mut w = world(text, Provider::OpenAi, 2000);
        w.config.post_processing = PostProcessing { merge_overlapping: merge };
        let env = make_env(w);
        let model = ScriptedModel::new(vec![("حسینؑ", PERSON), ("حسینؑ ابن علیؑ", PERSON), ("کربلا", LOCATION)]);
        assert_eq!(run(&env, &handlers(model)).unwrap().status, JobStatus::Completed);
        let texts: Vec<String> = found(&env.store.0.lock().unwrap()).into_iter().map(|(t, _)| t).collect();
        if merge {
            assert_eq!(texts, ["حسینؑ ابن علیؑ", "کربلا"]);
        } else {
            assert_eq!(texts.len(), 3, "{texts:?}");
        }
    }
}

#[test]
fn a_job_of_a_kind_without_a_handler_fails_and_starting_one_is_refused() {
    let mut w = world("کربلا\n", Provider::Builtin, 40);
    w.job.kind = JobKind::Training;
    w.job.target = JobTarget::Project;
    let env = make_env(w);
    let end = run(&env, &builtin()).unwrap();
    assert_eq!(end.status, JobStatus::Failed);
    assert_eq!(end.error_message.as_deref(), Some("no handler runs TRAINING jobs on this server"));
    let kinds: &dyn JobKinds = &builtin();
    let refused = kinds.check_start(JobKind::Linking, JobTarget::Project, &json!({}));
    assert!(matches!(refused, Err(DomainError::Invalid { ref field, .. }) if field == "kind"), "{refused:?}");
    let doc = crate::ids::DocumentId::new();
    assert!(kinds.check_start(JobKind::Extraction, JobTarget::Document(doc), &json!({})).is_ok());
    assert!(
        kinds.check_start(JobKind::Extraction, JobTarget::Project, &json!({})).is_err(),
        "extraction needs a document"
    );
    assert!(kinds.check_start(JobKind::Extraction, JobTarget::Document(doc), &json!([])).is_err());
}

/// A handler of another kind, as a later feature adds one: three steps, each stored with the
/// job's progress; it goes on from its checkpoint.
struct Counting;

impl JobHandler<Env> for Counting {
    fn kind(&self) -> JobKind {
        JobKind::Linking
    }
    fn check(&self, target: JobTarget, _: &Value) -> DomainResult<()> {
        match target {
            JobTarget::Project => Ok(()),
            JobTarget::Document(_) => Err(DomainError::invalid("projectId", "a project job")),
        }
    }
    fn run<'a, 'e: 'a>(&'a self, run: &'a mut JobRun<'e, Env>) -> BoxFuture<'a, Result<Done, Stop>> {
        Box::pin(async move {
            let from = run.job().checkpoint.get("step").and_then(Value::as_u64).unwrap_or(0) as u32;
            for step in from..3 {
                run.go_on()?;
                let job = run.job_mut();
                job.total_steps = 3;
                job.completed_steps = step + 1;
                job.progress = Job::percent(step + 1, 3);
                job.checkpoint = json!({"step": step + 1});
                run.save_progress().await?;
            }
            Ok(Done { summary: "counted".into() })
        })
    }
}

#[test]
fn another_kind_runs_through_its_handler_with_progress_and_pause() {
    let mut w = world("کربلا\n", Provider::Builtin, 40);
    w.job.kind = JobKind::Linking;
    w.job.target = JobTarget::Project;
    w.hooks.push(Box::new(|w, n| {
        if n == 1 {
            w.job.pause_requested = true;
        }
    }));
    let env = make_env(w);
    let handlers = builtin().with(Counting);
    let paused = run(&env, &handlers).unwrap();
    assert_eq!((paused.status, paused.completed_steps), (JobStatus::Paused, 1));
    reclaim(&env);
    let done = run(&env, &handlers).unwrap();
    assert_eq!(
        (done.status, done.completed_steps, done.current_step.as_deref()),
        (JobStatus::Completed, 3, Some("counted"))
    );
    assert_eq!(done.checkpoint, json!({"step": 3}));
}

/// The job events published so far.
fn job_events(env: &Env) -> Vec<crate::events::JobProgressEvent> {
    let events = env.events.0.lock().unwrap();
    events
        .iter()
        .filter_map(|e| match e {
            DomainEvent::JobProgress(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// A world whose job was halfway through (2 of 5 steps, 3 entities, a checkpoint) when its
/// worker's lease ran out a second ago, in its `attempts`-th claim.
fn halfway(attempts: u32) -> World {
    let mut w = world(&stanza(1), Provider::Builtin, 40);
    w.job.attempts = attempts;
    w.job.progress = 40;
    w.job.completed_steps = 2;
    w.job.total_steps = 5;
    w.job.entities_found = 3;
    w.job.checkpoint = json!({"chunk": 2});
    w.lease_until = Some(Utc::now() - chrono::Duration::seconds(1));
    w
}

#[test]
fn an_expired_job_goes_back_to_the_queue_with_its_progress_and_is_published_once() {
    let env = make_env(halfway(1));
    let ended = block_on(reap_expired(&env)).unwrap();
    assert_eq!(ended.len(), 1);
    let w = env.store.0.lock().unwrap();
    assert_eq!(ended[0], w.job, "returned as stored");
    assert_eq!(w.job.status, JobStatus::Queued);
    assert_eq!(
        (w.job.progress, w.job.completed_steps, w.job.entities_found, &w.job.checkpoint),
        (40, 2, 3, &json!({"chunk": 2})),
        "the next claim goes on where the run stopped"
    );
    assert_eq!((w.owner.as_deref(), w.job.error_message.as_deref()), (None, None));
    drop(w);
    let events = job_events(&env);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0].job_id, events[0].status(), events[0].progress), (ended[0].id, JobStatus::Queued, 40));
    assert_eq!(events[0].current_step.as_deref(), Some("requeued after step 2 of 5 (its worker stopped)"));
    assert!(env.notes.lock().unwrap().contains(&RunNote::LeaseExpired { status: JobStatus::Queued }));
    // The next round finds nothing expired and publishes nothing more.
    assert!(block_on(reap_expired(&env)).unwrap().is_empty());
    assert_eq!(job_events(&env).len(), 1);
}

#[test]
fn an_expired_job_at_the_attempts_cap_fails_with_a_message_that_says_why() {
    let env = make_env(halfway(crate::job::MAX_ATTEMPTS));
    let ended = block_on(reap_expired(&env)).unwrap();
    assert_eq!(ended.len(), 1);
    let job = env.store.0.lock().unwrap().job.clone();
    assert_eq!(job.status, JobStatus::Failed);
    assert!(job.completed_at.is_some());
    let message = job.error_message.clone().unwrap();
    assert_eq!(
        message,
        "the job stopped its worker 3 times (its server stopped or its worker crashed); retry it when the cause is fixed"
    );
    let events = job_events(&env);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0].status(), events[0].error_message.as_deref()), (JobStatus::Failed, Some(message.as_str())));
    assert!(env.notes.lock().unwrap().contains(&RunNote::LeaseExpired { status: JobStatus::Failed }));
}

#[test]
fn a_reaper_whose_store_fails_publishes_nothing() {
    let mut w = halfway(1);
    w.faults.push_back(DomainError::transient("database is locked"));
    let env = make_env(w);
    assert!(block_on(reap_expired(&env)).unwrap_err().is_fault());
    assert_eq!(env.store.0.lock().unwrap().job.status, JobStatus::Processing, "still the dead worker's");
    assert!(job_events(&env).is_empty());
    // The next round puts it back.
    assert_eq!(block_on(reap_expired(&env)).unwrap().len(), 1);
    assert_eq!(job_events(&env).len(), 1);
}

#[test]
fn a_crashed_run_is_put_back_until_the_cap_then_failed_with_a_reference_and_not_the_panic() {
    let env = make_env(halfway(1));
    let id = env.store.0.lock().unwrap().job.id;
    let cause = "error details are an object: Object {\"secret\": 1}";
    for claim in 1..crate::job::MAX_ATTEMPTS {
        let job = block_on(release_crashed_run(&env, id, WORKER, cause)).unwrap().expect("the worker held the job");
        assert_eq!((job.status, job.progress, job.completed_steps), (JobStatus::Queued, 40, 2), "claim {claim}");
        assert_eq!(job.error_message, None);
        assert_eq!(job_events(&env).len(), claim as usize, "one event per release");
        assert_eq!(env.store.0.lock().unwrap().owner, None);
        reclaim(&env);
    }
    let job = block_on(release_crashed_run(&env, id, WORKER, cause)).unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let message = job.error_message.clone().unwrap();
    let notes = env.notes.lock().unwrap();
    let crashes: Vec<(String, String, String)> = notes
        .iter()
        .filter_map(|n| match n {
            RunNote::Crashed { worker, reference, cause } => Some((worker.clone(), reference.clone(), cause.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(crashes.len(), 3, "each panic is noted");
    let (worker, reference, noted) = crashes.last().unwrap();
    assert_eq!((worker.as_str(), noted.as_str()), (WORKER, cause), "the note has the worker and the panic");
    assert_eq!(
        message,
        format!(
            "the job crashed its worker each of the 3 times it was claimed (an internal error; reference {reference}); \
             retry it once the cause is fixed"
        )
    );
    assert!(!message.contains("secret"), "the panic's text stays in the log");
    let events = job_events(&env);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[2].status(), JobStatus::Failed);
    assert_eq!(events[2].error_message.as_deref(), Some(message.as_str()));
}

#[test]
fn a_crashed_run_whose_worker_lost_the_job_changes_and_publishes_nothing() {
    let env = make_env(halfway(1));
    let id = env.store.0.lock().unwrap().job.id;
    env.store.0.lock().unwrap().owner = Some("another-worker".into());
    assert_eq!(block_on(release_crashed_run(&env, id, WORKER, "boom")).unwrap(), None);
    let w = env.store.0.lock().unwrap();
    assert_eq!((w.job.status, w.owner.as_deref()), (JobStatus::Processing, Some("another-worker")));
    drop(w);
    assert!(job_events(&env).is_empty());
}

/// One researcher's edit: replace `len` code points at `at` (both taken modulo the text) by
/// `insert`.
#[derive(Debug, Clone)]
struct Edit {
    before_commit: usize,
    at: usize,
    len: usize,
    insert: String,
}

fn apply(text: &str, e: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = e.at % (chars.len() + 1);
    let end = (at + e.len % 12).min(chars.len());
    let mut out: String = chars[..at].iter().collect();
    out.push_str(&e.insert);
    out.extend(&chars[end..]);
    if out.trim().is_empty() { "کربلا\n".into() } else { out }
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let pieces = prop::sample::select(vec!["کربلا ", "حسینؑ ", "عباسؑ", "فرات\n", "میں ", "\n\n", "ِ", "", "ؑ", "ابن "]);
    (1usize..12, 0usize..2000, 0usize..12, prop::collection::vec(pieces, 0..4))
        .prop_map(|(before_commit, at, len, p)| Edit { before_commit, at, len, insert: p.concat() })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random edits between a job's chunks (and a crash in the middle): every stored entity is
    /// a name of the gazetteer with its type (and any marks written after it), found by the
    /// extractor as that text in the version it read, and lying where that text is in the
    /// final content; with no edit, a run taken up after a crash offers nothing it stored
    /// already and every name is found once; and the job ends.
    #[test]
    fn entities_stay_in_place_whatever_edits_race_the_job(
        stanzas in 3usize..9,
        edits in prop::collection::vec(edit_strategy(), 0..6),
        crash_at in prop::option::of(2usize..8),
    ) {
        let text: String = (0..stanzas).map(stanza).collect();
        let mut w = world(&text, Provider::Builtin, 40);
        let script = edits.clone();
        w.hooks.push(Box::new(move |w, n| {
            for e in script.iter().filter(|e| e.before_commit == n) {
                let next = apply(&w.doc.content, e);
                w.edit(&next);
            }
            if crash_at == Some(n) {
                w.owner = Some("another".into());
            }
        }));
        let env = make_env(w);
        let mut end = run(&env, &builtin());
        if end.is_none() {
            reclaim(&env);
            end = run(&env, &builtin());
        }
        let end = end.expect("the run ends");
        prop_assert_eq!(end.status, JobStatus::Completed);
        let w = env.store.0.lock().unwrap();
        assert_in_place(&w);
        for e in &w.entities {
            let ty = w.types.iter().find(|t| t.id == e.entity_type_id).map(|t| t.name.as_str());
            // A name, and the marks an edit may have written after it (the gazetteer takes
            // them in: "حسینؑ" + zer).
            let marks = |rest: &str| rest.chars().all(crate::text::occurrences::is_arabic_mark);
            let named = NAMES
                .iter()
                .any(|(name, kind)| Some(*kind) == ty && e.text.strip_prefix(name).is_some_and(marks));
            prop_assert!(named, "{:?} ({:?}) is no name of the gazetteer", e.text, ty);
        }
        // Text no edit touched after the job read it is fully processed: with no edits at all,
        // every name is found, and a run taken up after a crash goes on where the stored one
        // ended (it offers the store nothing it holds).
        if edits.is_empty() {
            prop_assert_eq!(found(&w), occurrences(&text));
            prop_assert_eq!(w.offered_again, 0);
        }
    }
}

/// The fake project has no learned model (its built-in extractor is the gazetteer) and no
/// learning data; the learning jobs run against the real store in `tests/it/learning.rs`.
impl crate::ports::LearningRunStore for FakeStore {
    fn gold(
        &self,
        _: ProjectId,
        _: &[crate::ids::DocumentId],
    ) -> impl Future<Output = DomainResult<Vec<crate::learn::gold::GoldDocument>>> + Send {
        std::future::ready(Ok(vec![]))
    }
    fn running_experiment_documents(
        &self,
        _: ProjectId,
    ) -> impl Future<Output = DomainResult<Vec<crate::ids::DocumentId>>> + Send {
        std::future::ready(Ok(vec![]))
    }
    fn reference_names(
        &self,
        _: ProjectId,
    ) -> impl Future<Output = DomainResult<Vec<(String, crate::ids::EntityTypeId)>>> + Send {
        std::future::ready(Ok(vec![]))
    }
    fn learned_model(
        &self,
        _: ProjectId,
    ) -> impl Future<Output = DomainResult<Option<crate::learn::records::StoredModel>>> + Send {
        std::future::ready(Ok(None))
    }
    fn store_learned_model(
        &self,
        _: &Fence,
        _: crate::learn::records::NewLearnedModel,
    ) -> impl Future<Output = DomainResult<Option<(Job, crate::learn::records::LearnedModelInfo)>>> + Send {
        std::future::ready(Err(DomainError::internal("no learning in this fake")))
    }
    fn off_thread<T, F>(&self, work: F) -> impl Future<Output = DomainResult<T>> + Send
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        std::future::ready(Ok(work()))
    }
    fn experiment_of_job(
        &self,
        _: crate::job::JobId,
    ) -> impl Future<Output = DomainResult<Option<crate::learn::records::Experiment>>> + Send {
        std::future::ready(Ok(None))
    }
    fn store_predictions(
        &self,
        _: &Fence,
        _: uuid::Uuid,
        _: crate::ids::DocumentId,
        _: Vec<crate::learn::records::Prediction>,
    ) -> impl Future<Output = DomainResult<Option<Job>>> + Send {
        std::future::ready(Err(DomainError::internal("no learning in this fake")))
    }
    fn predictions(
        &self,
        _: uuid::Uuid,
    ) -> impl Future<Output = DomainResult<Vec<crate::learn::records::Prediction>>> + Send {
        std::future::ready(Ok(vec![]))
    }
    fn store_run_result(
        &self,
        _: &Fence,
        _: uuid::Uuid,
        _: crate::learn::records::ExperimentResult,
    ) -> impl Future<Output = DomainResult<Option<Job>>> + Send {
        std::future::ready(Err(DomainError::internal("no learning in this fake")))
    }
}
