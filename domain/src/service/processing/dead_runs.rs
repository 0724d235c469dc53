//! Ending the runs whose worker is gone: [`reap_expired`] for jobs whose lease expired (their
//! server stopped), [`release_crashed_run`] for a run that panicked. Each job goes back to the
//! queue with its progress and checkpoint kept, or, once it has been claimed
//! [`MAX_ATTEMPTS`] times in this run, FAILS with a message for researchers; its progress
//! event is published once, after the store's transaction. Infrastructure only runs the
//! loops that call these (the reaper, the supervisor of a run).

use super::handler::{JobEnv, RunNote};
use super::run::reference;
use crate::error::DomainResult;
use crate::job::{Job, JobId, MAX_ATTEMPTS};
use crate::ports::{Clock, DeadRunStore};
use crate::service::jobs::publish_progress;

/// What an expired job at the attempts cap FAILS with.
pub fn expired_failure() -> String {
    format!(
        "the job stopped its worker {MAX_ATTEMPTS} times (its server stopped or its worker crashed); \
         retry it when the cause is fixed"
    )
}

/// What a crashed run's job at the attempts cap FAILS with: `reference` is logged with the
/// panic, which researchers do not see.
pub fn crash_failure(reference: &str) -> String {
    format!(
        "the job crashed its worker each of the {MAX_ATTEMPTS} times it was claimed (an internal error; \
         reference {reference}); retry it once the cause is fixed"
    )
}

/// Ends the runs of the PROCESSING jobs whose lease expired by now: back to the queue, or
/// FAILED at the attempts cap. Notes and publishes each job as it became, and returns them.
pub async fn reap_expired<V>(env: &V) -> DomainResult<Vec<Job>>
where
    V: JobEnv,
    V::Store: DeadRunStore,
{
    let now = env.clock().now();
    let jobs = env.store().requeue_expired(now, &expired_failure()).await?;
    for job in &jobs {
        env.note(job.id, RunNote::LeaseExpired { status: job.status });
        publish_progress(env.events(), job);
    }
    Ok(jobs)
}

/// Ends the run of job `id` that panicked under `worker` (with `cause`, the panic's text, which
/// goes to the note only): back to the queue, or FAILED at the attempts cap with a reference
/// the note records with the cause. Publishes the job as it became; `None` when `worker` no
/// longer held it (nothing changes then). On an error the job stays claimed until its lease
/// expires and [`reap_expired`] puts it back.
pub async fn release_crashed_run<V>(env: &V, id: JobId, worker: &str, cause: &str) -> DomainResult<Option<Job>>
where
    V: JobEnv,
    V::Store: DeadRunStore,
{
    let reference = reference();
    env.note(id, RunNote::Crashed { worker: worker.to_owned(), reference: reference.clone(), cause: cause.to_owned() });
    let released = env.store().release_dead_run(id, worker, &crash_failure(&reference), env.clock().now()).await?;
    if let Some(job) = &released {
        publish_progress(env.events(), job);
    }
    Ok(released)
}
