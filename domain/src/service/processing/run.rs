//! One run of a claimed job: [`Runner`] dispatches it to its kind's handler and ends it as the
//! handler's outcome says; [`JobRun`] is what the handler works with. Invariants: every write
//! of a run is fenced by the lease (a run that lost its lease writes nothing more); a
//! transient database fault is tried again with backoff before it fails the job; a fault's
//! internal text never reaches `errorMessage` (it names what failed and a reference that the
//! note, the log, records with the cause); events are published after the commit they
//! describe.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::handler::{Handlers, JobEnv, RunNote};
use crate::error::{DomainError, DomainResult};
use crate::job::{Job, JobStatus};
use crate::ports::{Clock, Fence, JobRunStore};
use crate::service::jobs::publish_progress;

/// What a researcher asked of a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    Cancel,
    Pause,
}

/// Why a run stopped before its job was done.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// A researcher asked: the run ends PAUSED or CANCELLED after its last stored step.
    Steered(Steer),
    /// Another worker holds the job now: the run ends without writing anything more.
    LeaseLost,
    /// The job cannot succeed (its document or model is gone, a key is refused): it FAILS
    /// with this message, written for researchers.
    Failed(String),
    /// A fault of ours while doing `what` ("storing the chunk's entities"): the job FAILS with
    /// `what` and a reference; the cause goes to the log only.
    Fault { what: String, error: DomainError },
}

/// Turns a domain result into a run's: a fault becomes [`Stop::Fault`] naming `what` was being
/// done; any other error (a rule the data breaks) fails the job with its message.
pub trait StopContext<T> {
    fn doing(self, what: &str) -> Result<T, Stop>;
}

impl<T> StopContext<T> for DomainResult<T> {
    fn doing(self, what: &str) -> Result<T, Stop> {
        self.map_err(|error| {
            if error.is_fault() {
                Stop::Fault { what: what.to_owned(), error }
            } else {
                Stop::Failed(format!("{what}: {error}"))
            }
        })
    }
}

/// A job that is done, with the line its `currentStep` ends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub summary: String,
}

/// How transient database faults are tried again: `attempts` in all, waiting `base`, then
/// twice as long each time, at most `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { attempts: 6, base: Duration::from_millis(100), cap: Duration::from_secs(5) }
    }
}

impl Backoff {
    /// The wait after failed attempt `attempt` (1-based); None after the last one.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        (attempt < self.attempts).then(|| {
            let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
            self.base.saturating_mul(factor).min(self.cap)
        })
    }
}

/// Runs `op` until it succeeds, fails with an error that is not transient, or has used up the
/// backoff's attempts; notes each retry.
pub(crate) async fn retry_transient<V, T, F, Fut>(
    env: &V,
    job: crate::job::JobId,
    backoff: Backoff,
    what: &str,
    mut op: F,
) -> DomainResult<T>
where
    V: JobEnv,
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = DomainResult<T>> + Send,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.is_transient() => match backoff.delay(attempt) {
                Some(wait) => {
                    env.note(job, RunNote::Retrying { what: what.to_owned(), attempt, wait, error: e.to_string() });
                    env.clock().sleep(wait).await;
                    attempt += 1;
                }
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// A job while it runs, as its handler sees it.
pub struct JobRun<'e, V: JobEnv> {
    env: &'e V,
    job: Job,
    worker: String,
    lease: Duration,
    backoff: Backoff,
    /// What a researcher asked, as the last stored state said.
    steer: Option<Steer>,
}

fn steer_of(job: &Job) -> Option<Steer> {
    if job.cancel_requested {
        Some(Steer::Cancel)
    } else if job.pause_requested {
        Some(Steer::Pause)
    } else {
        None
    }
}

impl<'e, V: JobEnv> JobRun<'e, V> {
    fn new(env: &'e V, job: Job, worker: &str, lease: Duration, backoff: Backoff) -> Self {
        let steer = steer_of(&job);
        Self { env, job, worker: worker.to_owned(), lease, backoff, steer }
    }

    pub fn env(&self) -> &'e V {
        self.env
    }

    /// The job as this run last stored it (or as it was claimed).
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The job, to record a step's progress before it is stored.
    pub fn job_mut(&mut self) -> &mut Job {
        &mut self.job
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.env.clock().now()
    }

    /// The job as it is now, and this run's lease, for a fenced write.
    pub fn fence(&self) -> Fence {
        let lease = chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30));
        Fence { job: self.job.clone(), worker: self.worker.clone(), lease_until: self.now() + lease }
    }

    /// Runs a read (or another operation without a fence), trying again while it fails with
    /// a transient fault.
    pub async fn retrying<T, F, Fut>(&self, what: &str, op: F) -> Result<T, Stop>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = DomainResult<T>> + Send,
        T: Send,
    {
        retry_transient(self.env, self.job.id, self.backoff, what, op).await.doing(what)
    }

    /// Stores a step: `write` runs the step's own transaction with the job's progress, fenced
    /// (`Fence`), and returns the job as stored with what else it wrote, or `None` when the
    /// lease was lost. Transient faults are tried again. The job becomes what was stored (a
    /// researcher's cancel or pause included), and its progress is published. Nothing is
    /// written once a researcher's cancel or pause is known: ask [`go_on`](Self::go_on)
    /// between steps.
    pub async fn commit<T, F, Fut>(&mut self, what: &str, mut write: F) -> Result<T, Stop>
    where
        F: FnMut(Fence) -> Fut + Send,
        Fut: Future<Output = DomainResult<Option<(Job, T)>>> + Send,
        T: Send,
    {
        if let Some(steer) = self.steer {
            return Err(Stop::Steered(steer));
        }
        let fence = self.fence();
        let stored =
            retry_transient(self.env, self.job.id, self.backoff, what, || write(fence.clone())).await.doing(what)?;
        let Some((job, value)) = stored else { return Err(Stop::LeaseLost) };
        self.steer = steer_of(&job);
        self.job = job;
        publish_progress(self.env.events(), &self.job);
        Ok(value)
    }

    /// Stores the job's progress alone (a step that wrote nothing else).
    pub async fn save_progress(&mut self) -> Result<(), Stop> {
        let store = self.env.store();
        self.commit("saving the job's progress", |fence| async move {
            Ok(store.save_progress(&fence).await?.map(|job| (job, ())))
        })
        .await
    }

    /// Whether the run may take its next step: `Err(Stop::Steered)` when a researcher asked
    /// to cancel or pause it.
    pub fn go_on(&self) -> Result<(), Stop> {
        match self.steer {
            Some(steer) => Err(Stop::Steered(steer)),
            None => Ok(()),
        }
    }

    /// Notes something for operators.
    pub fn note(&self, note: RunNote) {
        self.env.note(self.job.id, note);
    }

    /// The backoff of transient faults.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }
}

/// Runs claimed jobs: one handler call per run, and the run's end.
pub struct Runner<'e, V: JobEnv> {
    pub env: &'e V,
    pub handlers: &'e Handlers<V>,
    /// This worker's name, as its leases hold it.
    pub worker: &'e str,
    /// How long a claim lasts without a write or a heartbeat.
    pub lease: Duration,
    pub backoff: Backoff,
}

impl<V: JobEnv> Runner<'_, V> {
    /// Runs a claimed job to the end of this run, and stores that end. Returns the job as
    /// stored at the end, `None` when the lease was lost (another worker has the job).
    pub async fn run(&self, job: Job) -> Option<Job> {
        publish_progress(self.env.events(), &job);
        let id = job.id;
        let Some(handler) = self.handlers.get(job.kind).cloned() else {
            let message = format!("no handler runs {} jobs on this server", job.kind.as_str());
            return self.end(failed(job, message, self.env.clock().now())).await;
        };
        let mut run = JobRun::new(self.env, job, self.worker, self.lease, self.backoff);
        let outcome = handler.run(&mut run).await;
        let mut job = run.job;
        let now = self.env.clock().now();
        job.updated_at = now;
        match outcome {
            Ok(done) => {
                job.status = JobStatus::Completed;
                job.progress = 100;
                job.current_step = Some(done.summary);
                job.completed_at = Some(now);
                job.estimated_completion_at = None;
                job.cancel_requested = false;
                job.pause_requested = false;
            }
            Err(Stop::Steered(steer)) => {
                let (status, word) = match steer {
                    Steer::Cancel => (JobStatus::Cancelled, "cancelled"),
                    Steer::Pause => (JobStatus::Paused, "paused"),
                };
                job.status = status;
                job.current_step = Some(format!("{word} after step {} of {}", job.completed_steps, job.total_steps));
                if status == JobStatus::Cancelled {
                    job.completed_at = Some(now);
                }
                job.cancel_requested = false;
                job.pause_requested = false;
            }
            Err(Stop::LeaseLost) => {
                self.env.note(id, RunNote::LeaseLost);
                return None;
            }
            Err(Stop::Failed(message)) => job = failed(job, message, now),
            Err(Stop::Fault { what, error }) => {
                let reference = reference();
                self.env.note(
                    id,
                    RunNote::Fault { what: what.clone(), reference: reference.clone(), cause: error.to_string() },
                );
                job = failed(job, format!("{what} failed (an internal error; reference {reference})"), now);
            }
        }
        self.end(job).await
    }

    async fn end(&self, job: Job) -> Option<Job> {
        let store = self.env.store();
        let worker = self.worker;
        let stored =
            retry_transient(self.env, job.id, self.backoff, "ending the run", || store.finish_run(&job, worker)).await;
        match stored {
            Ok(Some(stored)) => {
                self.env.note(stored.id, RunNote::Finished { status: stored.status });
                publish_progress(self.env.events(), &stored);
                Some(stored)
            }
            Ok(None) => {
                self.env.note(job.id, RunNote::LeaseLost);
                None
            }
            Err(error) => {
                let reference = reference();
                let what = "ending the run".to_owned();
                self.env.note(job.id, RunNote::Fault { what, reference, cause: error.to_string() });
                None
            }
        }
    }
}

fn failed(mut job: Job, message: String, now: DateTime<Utc>) -> Job {
    job.status = JobStatus::Failed;
    job.error_message = Some(message);
    job.completed_at = Some(now);
    job.updated_at = now;
    job.estimated_completion_at = None;
    job
}

/// A short reference for a fault, shown to researchers and logged with the cause.
pub(crate) fn reference() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}
