//! Running processing jobs: the loops around the domain's processing use cases
//! (`nishan_domain::service::processing`). A pool of workers claims jobs from the durable
//! queue and hands each to the domain's `Runner`; a heartbeat keeps the claim's lease while
//! a job runs; a reaper calls the domain's `reap_expired`, which puts back the jobs whose
//! lease expired (their server stopped).
//!
//! Supervision: each job runs in a task of its own, so a panic in it (a bug in a handler)
//! ends only that run: the heartbeat stops, the domain's `release_crashed_run` puts the job
//! back in the queue or, once it has been claimed `MAX_ATTEMPTS` times in this run, FAILS
//! with a message naming a reference that the log records with the panic; the worker goes on
//! with the next job. A worker loop
//! that panics itself is started again. The heartbeat tries again with backoff when the
//! database fails, and stops the run when the lease is lost (another worker has the job; the
//! run's writes would be refused anyway).

mod supervisor;

use std::time::Duration;

use chrono::{DateTime, Utc};
use nishan_domain::job::JobId;
use nishan_domain::ports::Clock;
use nishan_domain::service::processing::{Handlers, JobEnv, RunNote};

use crate::Store;
use crate::events::EventBus;

pub use supervisor::{JobRunner, WorkerConfig};

/// The system clock and the runtime's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }
}

/// What the server's job runs work with: the store, the event bus, the system clock; notes go
/// to the log.
#[derive(Clone)]
pub struct JobsEnv {
    pub store: Store,
    pub events: EventBus,
    pub clock: SystemClock,
}

/// The handlers a server runs, by kind.
pub type ServerHandlers = Handlers<JobsEnv>;

impl JobEnv for JobsEnv {
    type Store = Store;
    type Events = EventBus;
    type Clock = SystemClock;

    fn store(&self) -> &Store {
        &self.store
    }

    fn events(&self) -> &EventBus {
        &self.events
    }

    fn clock(&self) -> &SystemClock {
        &self.clock
    }

    fn note(&self, job: JobId, note: RunNote) {
        match note {
            RunNote::Retrying { what, attempt, wait, error } => {
                tracing::warn!(%job, what, attempt, ?wait, error, "a database fault; trying again")
            }
            RunNote::ModelRetry { chunk, attempt, wait, error } => {
                tracing::info!(%job, chunk, attempt, ?wait, error, "retrying a model call")
            }
            RunNote::RateLimited { until } => tracing::debug!(%job, %until, "waiting for the model's rate limit"),
            RunNote::StepFailed { step, error } => tracing::warn!(%job, step, error, "a step failed; the job goes on"),
            RunNote::DocumentChanged { from, to } => {
                tracing::info!(%job, from, to, "the document changed; the job goes on in its new version")
            }
            RunNote::LeaseLost => tracing::warn!(%job, "lost the job's lease; another worker goes on with it"),
            RunNote::Fault { what, reference, cause } => {
                tracing::error!(%job, correlation_id = %reference, what, cause, "a job failed on an internal error")
            }
            RunNote::Finished { status } => tracing::info!(%job, status = status.as_str(), "job run ended"),
            RunNote::LeaseExpired { status } => {
                tracing::warn!(%job, status = status.as_str(), "a job's lease expired; its run ended")
            }
            RunNote::Crashed { worker, reference, cause } => {
                tracing::error!(%job, worker, correlation_id = %reference, panic = cause, "a job's run panicked")
            }
        }
    }
}
