//! The extension point of the job queue: one [`JobHandler`] per job kind, registered in
//! [`Handlers`], and the environment ([`JobEnv`]) every handler runs in. A kind without a
//! registered handler cannot be started ([`JobKinds::check_start`] refuses it), so no job waits
//! for a handler that does not exist.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::run::{Done, JobRun, Stop};
use crate::error::{DomainError, DomainResult};
use crate::events::EventPublisher;
use crate::job::{JobId, JobKind, JobStatus, JobTarget};
use crate::ports::{Clock, JobRunStore};

/// A boxed future that may move between threads: what a handler's `run` returns, so that
/// handlers of different types share one registry.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a run needs besides its handler: the store, the event bus, the clock, and a place for
/// the notes an operator may want to read (the log, in production).
pub trait JobEnv: Send + Sync {
    type Store: JobRunStore;
    type Events: EventPublisher + Send + Sync;
    type Clock: Clock;

    fn store(&self) -> &Self::Store;
    fn events(&self) -> &Self::Events;
    fn clock(&self) -> &Self::Clock;
    /// Records something that happened in a run.
    fn note(&self, job: JobId, note: RunNote);
}

/// Something that happened in a run, for operators (researchers see the job's fields).
#[derive(Debug, Clone, PartialEq)]
pub enum RunNote {
    /// A transient fault; the operation is tried again after `wait`.
    Retrying { what: String, attempt: u32, wait: Duration, error: String },
    /// A model call failed and is tried again.
    ModelRetry { chunk: u32, attempt: u32, wait: Duration, error: String },
    /// The model's rate limit is reached until the given moment.
    RateLimited { until: chrono::DateTime<chrono::Utc> },
    /// A step failed and was skipped; the job goes on.
    StepFailed { step: u32, error: String },
    /// The document changed while the job ran: it goes on in `to`.
    DocumentChanged { from: u32, to: u32 },
    /// Another worker holds the job now; this run stopped without writing.
    LeaseLost,
    /// A fault of ours ended the job: `errorMessage` names `what` and `reference`; the cause
    /// is only here.
    Fault { what: String, reference: String, cause: String },
    /// The run ended with this status.
    Finished { status: JobStatus },
    /// The job's lease expired (its server stopped): its run ended, and the job is QUEUED
    /// again or, at the attempts cap, FAILED.
    LeaseExpired { status: JobStatus },
    /// The run panicked under `worker`: the cause is only here, `errorMessage` names
    /// `reference` if the job fails.
    Crashed { worker: String, reference: String, cause: String },
}

/// Runs the jobs of one kind.
pub trait JobHandler<V: JobEnv>: Send + Sync {
    /// The kind this handler runs.
    fn kind(&self) -> JobKind;

    /// Checks, when a job is started, that the kind can work on this target with these
    /// parameters: `Invalid` (BAD_USER_INPUT) naming the input field otherwise.
    fn check(&self, target: JobTarget, params: &Value) -> DomainResult<()>;

    /// Runs a claimed job from its checkpoint to its end: `Ok` when the job is done, `Err`
    /// with why it stopped early. Each step is stored with `run.commit` (or
    /// `run.save_progress`), and `run.go_on()` is asked before the next one.
    fn run<'a, 'e: 'a>(&'a self, run: &'a mut JobRun<'e, V>) -> BoxFuture<'a, Result<Done, Stop>>;
}

/// The handlers a server runs, by kind.
pub struct Handlers<V> {
    by_kind: BTreeMap<JobKind, Arc<dyn JobHandler<V>>>,
}

impl<V> Default for Handlers<V> {
    fn default() -> Self {
        Self { by_kind: BTreeMap::new() }
    }
}

impl<V: JobEnv> Handlers<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a handler for its kind (replacing one registered before).
    pub fn register(&mut self, handler: impl JobHandler<V> + 'static) -> &mut Self {
        self.by_kind.insert(handler.kind(), Arc::new(handler));
        self
    }

    /// `register`, by value.
    pub fn with(mut self, handler: impl JobHandler<V> + 'static) -> Self {
        self.register(handler);
        self
    }

    pub fn get(&self, kind: JobKind) -> Option<&Arc<dyn JobHandler<V>>> {
        self.by_kind.get(&kind)
    }

    /// The kinds with a handler, in order.
    pub fn kinds(&self) -> Vec<JobKind> {
        self.by_kind.keys().copied().collect()
    }
}

/// The kinds a server can run, as starting a job asks about them (without the handlers'
/// environment type).
pub trait JobKinds: Send + Sync {
    /// Whether a job of `kind` on `target` with `params` can be started: `Invalid` on `kind`
    /// when no handler runs the kind, or the handler's own refusal.
    fn check_start(&self, kind: JobKind, target: JobTarget, params: &Value) -> DomainResult<()>;
}

impl<V: JobEnv> JobKinds for Handlers<V> {
    fn check_start(&self, kind: JobKind, target: JobTarget, params: &Value) -> DomainResult<()> {
        let handler = self.get(kind).ok_or_else(|| {
            let known: Vec<&str> = self.by_kind.keys().map(|k| k.as_str()).collect();
            DomainError::invalid(
                "kind",
                format!("{} jobs cannot run on this server yet (it runs {})", kind.as_str(), known.join(", ")),
            )
        })?;
        if !params.is_object() {
            return Err(DomainError::invalid("params", "must be a JSON object"));
        }
        handler.check(target, params)
    }
}
