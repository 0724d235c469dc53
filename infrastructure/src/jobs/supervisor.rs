//! The worker pool: claim loops, one supervised task per run with its heartbeat, and the
//! reaper. See the module docs of `jobs` for what happens on a panic or a lost lease.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use nishan_domain::events::DomainEvent;
use nishan_domain::job::{Job, JobStatus};
use nishan_domain::ports::JobRepository;
use nishan_domain::service::processing::{Backoff, Runner, reap_expired, release_crashed_run};
use tokio::sync::{broadcast, oneshot};

use super::{JobsEnv, ServerHandlers, SystemClock};
use crate::Store;
use crate::events::EventBus;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Concurrent jobs in this process.
    pub workers: usize,
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// How often an idle worker looks for work (it also wakes when a job is queued).
    pub poll: Duration,
    /// How transient database faults are tried again, in runs and in the heartbeat.
    pub backoff: Backoff,
    /// This process's name in leases.
    pub instance: String,
}

pub struct JobRunner {
    env: Arc<JobsEnv>,
    handlers: Arc<ServerHandlers>,
    config: WorkerConfig,
}

/// What a panic said, as far as it can be read.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

impl JobRunner {
    pub fn new(store: Store, events: EventBus, handlers: Arc<ServerHandlers>, config: WorkerConfig) -> Arc<Self> {
        Arc::new(Self { env: Arc::new(JobsEnv { store, events, clock: SystemClock }), handlers, config })
    }

    /// Starts the workers and the reaper; they run until the runtime stops.
    pub fn spawn(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for n in 0..self.config.workers {
            let me = self.clone();
            let name = format!("{}/{n}", me.config.instance);
            handles.push(tokio::spawn(async move { me.supervise(name).await }));
        }
        let me = self.clone();
        handles.push(tokio::spawn(async move { me.reap().await }));
        handles
    }

    /// Runs a worker loop, starting it again if it panics.
    async fn supervise(self: Arc<Self>, worker: String) {
        let mut restarts = 0u32;
        loop {
            let me = self.clone();
            let name = worker.clone();
            match tokio::spawn(async move { me.work(name).await }).await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    restarts += 1;
                    let message = panic_message(e.into_panic().as_ref());
                    tracing::error!(worker = %worker, restarts, panic = message, "a worker loop panicked; starting it again");
                    let wait = self.config.backoff.delay(restarts.min(5)).unwrap_or(self.config.poll);
                    tokio::time::sleep(wait).await;
                }
                Err(_) => return,
            }
        }
    }

    async fn work(self: Arc<Self>, worker: String) {
        let mut wake = self.env.events.subscribe();
        let mut failures = 0u32;
        loop {
            let now = Utc::now();
            let lease = chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::seconds(30));
            match self.env.store.claim_next(&worker, now, now + lease).await {
                Ok(Some(job)) => {
                    failures = 0;
                    tracing::info!(job = %job.id, kind = job.kind.as_str(), worker = %worker, "job claimed");
                    self.run_supervised(job, &worker).await;
                }
                Ok(None) => {
                    failures = 0;
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll) => {}
                        _ = queued_job(&mut wake) => {}
                    }
                }
                Err(e) => {
                    failures += 1;
                    tracing::error!(error = %e, failures, "claiming a job failed");
                    let wait = self.config.backoff.delay(failures.min(5)).unwrap_or(self.config.poll);
                    tokio::time::sleep(wait.max(self.config.poll)).await;
                }
            }
        }
    }

    /// Runs one claimed job in a task of its own, with its heartbeat; a panic in the run ends
    /// the heartbeat and puts the job back (or fails it), and the worker goes on.
    async fn run_supervised(&self, job: Job, worker: &str) {
        let id = job.id;
        let (lost_tx, lost_rx) = oneshot::channel();
        let heartbeat = tokio::spawn(heartbeat(
            self.env.store.clone(),
            id,
            worker.to_owned(),
            self.config.lease,
            self.config.backoff,
            lost_tx,
        ));
        let mut run = {
            let (env, handlers, worker) = (self.env.clone(), self.handlers.clone(), worker.to_owned());
            let (lease, backoff) = (self.config.lease, self.config.backoff);
            tokio::spawn(async move {
                let runner = Runner { env: env.as_ref(), handlers: handlers.as_ref(), worker: &worker, lease, backoff };
                runner.run(job).await
            })
        };
        let outcome = tokio::select! {
            outcome = &mut run => Some(outcome),
            Ok(()) = lost_rx => None,
        };
        heartbeat.abort();
        match outcome {
            None => {
                // The lease was lost: another worker has the job, and this run's writes would
                // be refused. Stop paying for it.
                run.abort();
                tracing::warn!(job = %id, worker, "the job's lease was lost; its run is stopped");
            }
            Some(Ok(_)) => {}
            Some(Err(e)) if e.is_panic() => {
                let cause = panic_message(e.into_panic().as_ref());
                // On an error the lease expires and the reaper puts the job back.
                if let Err(e) = release_crashed_run(self.env.as_ref(), id, worker, &cause).await {
                    tracing::error!(job = %id, error = %e, "releasing a crashed run failed");
                }
            }
            Some(Err(_)) => {}
        }
    }

    /// Puts back jobs whose worker died, at start-up and then every half lease.
    async fn reap(self: Arc<Self>) {
        loop {
            if let Err(e) = reap_expired(self.env.as_ref()).await {
                tracing::error!(error = %e, "requeueing expired jobs failed");
            }
            tokio::time::sleep(self.config.lease / 2).await;
        }
    }
}

/// Waits until the bus says a job was queued (or may have: the receiver fell behind). The
/// other events (every step of every running job) would only wake an idle worker for a claim
/// that finds nothing; the poll covers a bus that closed.
async fn queued_job(wake: &mut broadcast::Receiver<Arc<DomainEvent>>) {
    loop {
        match wake.recv().await {
            Ok(event) => {
                if matches!(event.as_ref(), DomainEvent::JobProgress(p) if p.status() == JobStatus::Queued) {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// Extends a running job's lease every third of the lease, trying again with backoff (within
/// the lease) when the database fails; says so on `lost` and stops when the lease was lost.
async fn heartbeat(
    store: Store,
    id: nishan_domain::job::JobId,
    worker: String,
    lease: Duration,
    backoff: Backoff,
    lost: oneshot::Sender<()>,
) {
    let extend = |until| {
        let (store, worker) = (store.clone(), worker.clone());
        async move { store.extend_lease(id, &worker, until).await }
    };
    keep_lease(extend, id, lease, backoff, lost).await
}

/// The heartbeat's loop over any way of extending the lease (`extend(until)`: Ok(true) kept,
/// Ok(false) lost, Err a fault to try again).
async fn keep_lease<F, Fut, E>(
    mut extend: F,
    id: nishan_domain::job::JobId,
    lease: Duration,
    backoff: Backoff,
    lost: oneshot::Sender<()>,
) where
    F: FnMut(chrono::DateTime<Utc>) -> Fut,
    Fut: std::future::Future<Output = Result<bool, E>>,
    E: std::fmt::Display,
{
    let mut failures = 0u32;
    loop {
        tokio::time::sleep(heartbeat_wait(lease, backoff, failures)).await;
        let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        match extend(until).await {
            Ok(true) => failures = 0,
            Ok(false) => {
                let _ = lost.send(());
                return;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(job = %id, error = %e, failures, "extending a job's lease failed; trying again");
            }
        }
    }
}

/// How long the heartbeat waits before its next try after `failures` failed ones in a row: a
/// third of the lease when the last try worked, else the backoff's delay for that many
/// failures (the last delay once they are used up), never longer than a third of the lease.
fn heartbeat_wait(lease: Duration, backoff: Backoff, failures: u32) -> Duration {
    let period = lease / 3;
    match failures {
        0 => period,
        n => backoff.delay(n.min(backoff.attempts.saturating_sub(1)).max(1)).unwrap_or(period).min(period),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn the_heartbeat_backs_off_within_the_lease() {
        let backoff = Backoff { attempts: 6, base: Duration::from_millis(100), cap: Duration::from_secs(5) };
        let lease = Duration::from_secs(30);
        let waits: Vec<u128> = (0..8).map(|n| heartbeat_wait(lease, backoff, n).as_millis()).collect();
        // A third of the lease while it works; 100, 200, 400 ... ms after failures, the last
        // delay once the attempts are used up.
        assert_eq!(waits, [10_000, 100, 200, 400, 800, 1_600, 1_600, 1_600]);
        // Never longer than a third of the lease, so a failing database cannot outwait it.
        let short = Duration::from_millis(900);
        assert_eq!(heartbeat_wait(short, backoff, 5).as_millis(), 300);
    }

    /// The database fails twice: the heartbeat tries again (it used to stop at the first
    /// error) and keeps the lease; it stops, saying so, only when the lease is lost.
    #[tokio::test]
    async fn the_heartbeat_survives_database_faults_and_stops_on_a_lost_lease() {
        let answers =
            Mutex::new(vec![Ok(false), Ok(true), Err("connection reset"), Err("database is locked"), Ok(true)]);
        let calls = Mutex::new(Vec::new());
        let (lost_tx, mut lost_rx) = oneshot::channel();
        let backoff = Backoff { attempts: 4, base: Duration::from_millis(1), cap: Duration::from_millis(5) };
        let extend = |until: chrono::DateTime<Utc>| {
            calls.lock().unwrap().push(until);
            let answer = answers.lock().unwrap().pop().expect("no call after the lease is lost");
            async move { answer }
        };
        let id = nishan_domain::job::JobId::new_v4();
        tokio::time::timeout(
            Duration::from_secs(10),
            keep_lease(extend, id, Duration::from_millis(30), backoff, lost_tx),
        )
        .await
        .expect("the heartbeat ends once the lease is lost");
        assert!(lost_rx.try_recv().is_ok(), "the worker is told its lease is lost");
        let calls = calls.into_inner().unwrap();
        assert_eq!(calls.len(), 5, "a renewal, two faults tried again, a renewal, then the lost lease");
        assert!(calls.windows(2).all(|w| w[0] <= w[1]), "each try asks for a lease from its own now");
        assert!(answers.into_inner().unwrap().is_empty());
    }
}
