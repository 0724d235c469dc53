//! Processing jobs and their state machine. Every status change goes through `JobStatus::
//! can_become`, so an illegal transition (resuming a completed job, retrying a running one)
//! cannot be written. A job has a kind (`JobKind`: what it does) and a target (`JobTarget`:
//! one document, or its whole project); its `checkpoint` is its handler's own record of where
//! it stands, saved with each step, so that a run taken up again goes on from there.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, ProjectId, UserId};

pub type JobId = uuid::Uuid;

/// How many times a job may be claimed in one run (since it was started, resumed or retried)
/// before a run that dies is no longer put back in the queue: a job whose worker panicked,
/// or whose server stopped, goes back to the queue until it has been claimed this many
/// times, and then FAILS, so that a job that keeps killing its worker stops doing so.
pub const MAX_ATTEMPTS: u32 = 3;

/// What a job does. Each kind is run by its handler (`service::processing::JobHandler`); a
/// kind without a registered handler is refused when a job of it is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    /// Model suggestions of entities in one document (the default).
    Extraction,
    /// Links between entities and knowledge-base items.
    Linking,
    /// Documents fetched from a source.
    Ingestion,
    /// A project's learned model.
    Training,
    /// Models compared on a project's documents.
    Experiment,
    /// Embeddings of a project's texts.
    Embedding,
}

impl JobKind {
    pub const ALL: [Self; 6] =
        [Self::Extraction, Self::Linking, Self::Ingestion, Self::Training, Self::Experiment, Self::Embedding];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Extraction => "EXTRACTION",
            Self::Linking => "LINKING",
            Self::Ingestion => "INGESTION",
            Self::Training => "TRAINING",
            Self::Experiment => "EXPERIMENT",
            Self::Embedding => "EMBEDDING",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown job kind {s:?} in storage")))
    }
}

/// What a job works on, besides its project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobTarget {
    /// One document of the project.
    Document(DocumentId),
    /// The project as a whole (what in it, the job's `params` say).
    Project,
}

impl JobTarget {
    pub fn document(self) -> Option<DocumentId> {
        match self {
            Self::Document(d) => Some(d),
            Self::Project => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Pending,
    Queued,
    Processing,
    Completed,
    Failed,
    Cancelled,
    Paused,
}

impl JobStatus {
    pub const ALL: [Self; 7] =
        [Self::Pending, Self::Queued, Self::Processing, Self::Completed, Self::Failed, Self::Cancelled, Self::Paused];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Queued => "QUEUED",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Paused => "PAUSED",
        }
    }

    pub fn parse(s: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::internal(format!("unknown job status {s:?} in storage")))
    }

    /// A final status: the job's stream of events ends with it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The transitions of the state machine.
    pub fn can_become(self, next: Self) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Pending, Queued | Cancelled)
                | (Queued, Processing | Cancelled | Paused)
                // Back to QUEUED when a worker's lease expired (the server died).
                | (Processing, Completed | Failed | Cancelled | Paused | Queued)
                | (Paused, Queued | Cancelled)
                // A retry.
                | (Failed | Cancelled, Queued)
        )
    }

    /// Checks a transition, naming both ends when it is not allowed.
    pub fn transition(self, next: Self) -> DomainResult<Self> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(DomainError::conflict(format!("a {} job cannot become {}", self.as_str(), next.as_str())))
        }
    }
}

/// What the document's processing status becomes when its job is in `status`.
pub fn document_status(status: JobStatus) -> crate::document::ProcessingStatus {
    use crate::document::ProcessingStatus as P;
    match status {
        JobStatus::Pending | JobStatus::Queued | JobStatus::Paused => P::Pending,
        JobStatus::Processing => P::Processing,
        JobStatus::Completed => P::Completed,
        JobStatus::Failed => P::Failed,
        JobStatus::Cancelled => P::Cancelled,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub kind: JobKind,
    pub project_id: ProjectId,
    pub target: JobTarget,
    /// The kind's own parameters: a JSON object (`{}` when there are none).
    pub params: Value,
    pub llm_model_id: Option<uuid::Uuid>,
    pub processing_config_id: Option<uuid::Uuid>,
    pub status: JobStatus,
    pub priority: i32,
    pub progress: u32,
    pub total_steps: u32,
    pub completed_steps: u32,
    pub current_step: Option<String>,
    pub entities_found: u32,
    pub entities_dropped: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub estimated_completion_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    /// Failed chunks and other details: `{"chunks": [{"index", "error"}]}`.
    pub error_details: Value,
    pub tokens_used: i64,
    pub cost: f64,
    pub retry_count: u32,
    pub max_retries: u32,
    /// Claims in this run (see [`MAX_ATTEMPTS`]).
    pub attempts: u32,
    pub cancel_requested: bool,
    pub pause_requested: bool,
    /// The version of the document the job's steps were last cut from (document jobs, once
    /// they ran a step).
    pub document_version: Option<u32>,
    /// Where the run stands, as its handler saves it with each step: a JSON object, `{}`
    /// before the first step.
    pub checkpoint: Value,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Job {
    /// A new QUEUED job of `kind` on `target`, with no model, no configuration and priority 0
    /// (callers set those they choose with struct update syntax).
    pub fn queued(
        kind: JobKind,
        project_id: ProjectId,
        target: JobTarget,
        params: Value,
        created_by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> DomainResult<Job> {
        Ok(Job {
            id: uuid::Uuid::now_v7(),
            kind,
            project_id,
            target,
            params,
            llm_model_id: None,
            processing_config_id: None,
            status: JobStatus::Pending.transition(JobStatus::Queued)?,
            priority: 0,
            progress: 0,
            total_steps: 0,
            completed_steps: 0,
            current_step: Some("queued".into()),
            entities_found: 0,
            entities_dropped: 0,
            started_at: None,
            completed_at: None,
            estimated_completion_at: None,
            error_message: None,
            error_details: serde_json::json!({}),
            tokens_used: 0,
            cost: 0.0,
            retry_count: 0,
            max_retries: crate::service::jobs::DEFAULT_MAX_RETRIES,
            attempts: 0,
            cancel_requested: false,
            pause_requested: false,
            document_version: None,
            checkpoint: serde_json::json!({}),
            created_by,
            created_at: now,
            updated_at: now,
        })
    }

    /// The document the job works on, if it works on one.
    pub fn document_id(&self) -> Option<DocumentId> {
        self.target.document()
    }

    /// Whether a run that died may be put back in the queue (see [`MAX_ATTEMPTS`]).
    pub fn may_run_again(&self) -> bool {
        self.attempts < MAX_ATTEMPTS
    }

    /// Progress in percent after `done` of `total` steps.
    pub fn percent(done: u32, total: u32) -> u32 {
        (done * 100).checked_div(total).map_or(100, |p| p.min(100))
    }

    /// When the job will likely finish, from the pace so far.
    pub fn estimate_completion(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let started = self.started_at?;
        if self.completed_steps == 0 || self.total_steps == 0 {
            return None;
        }
        let per_step = (now - started) / self.completed_steps as i32;
        Some(now + per_step * (self.total_steps - self.completed_steps) as i32)
    }

    /// Whether a FAILED or CANCELLED job may run again.
    pub fn check_retry(&self) -> DomainResult<()> {
        if !matches!(self.status, JobStatus::Failed | JobStatus::Cancelled) {
            return Err(DomainError::conflict(format!(
                "only FAILED or CANCELLED jobs are retried; this one is {}",
                self.status.as_str()
            )));
        }
        if self.retry_count >= self.max_retries {
            return Err(DomainError::conflict(format!(
                "the job has been retried {} times, its maximum",
                self.retry_count
            )));
        }
        Ok(())
    }
}

/// One step of progress as subscribers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    pub job_id: JobId,
    pub document_id: Option<DocumentId>,
    pub status: JobStatus,
    pub progress: u32,
    pub current_step: Option<String>,
    pub entities_found: u32,
    pub estimated_completion_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    /// An INGESTION job's counts, from its checkpoint (none for other kinds).
    pub ingestion: Option<crate::source::IngestionCounts>,
}

impl From<&Job> for JobProgress {
    fn from(j: &Job) -> Self {
        Self {
            job_id: j.id,
            document_id: j.document_id(),
            status: j.status,
            progress: j.progress,
            current_step: j.current_step.clone(),
            entities_found: j.entities_found,
            estimated_completion_at: j.estimated_completion_at,
            error_message: j.error_message.clone(),
            ingestion: (j.kind == JobKind::Ingestion).then(|| crate::source::Crawl::counts_of(&j.checkpoint)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus::*;

    #[test]
    fn transitions() {
        assert!(Queued.can_become(Processing));
        assert!(Processing.can_become(Queued), "a dead worker's job is requeued");
        assert!(Paused.can_become(Queued));
        assert!(Failed.can_become(Queued));
        for s in JobStatus::ALL {
            assert!(!Completed.can_become(s), "COMPLETED is final: {s:?}");
        }
        assert!(!Queued.can_become(Completed));
        assert!(!Paused.can_become(Processing), "a paused job is resumed through the queue");
        assert!(matches!(Completed.transition(Queued), Err(DomainError::Conflict(_))));
    }

    #[test]
    fn kinds_round_trip() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()).unwrap(), k);
        }
        assert!(JobKind::parse("NOPE").is_err());
    }

    #[test]
    fn percent_and_finality() {
        assert_eq!(Job::percent(3, 12), 25);
        assert_eq!(Job::percent(0, 0), 100);
        assert!(Completed.is_final() && Failed.is_final() && Cancelled.is_final());
        assert!(!Paused.is_final());
    }
}

/// What a researcher asks of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    Cancel,
    Pause,
    Resume,
    Retry,
}

impl JobAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cancel => "cancel",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Retry => "retry",
        }
    }
}

/// Applies an action to a job: a job that is running is only flagged (the worker stops after
/// its current chunk, keeping what it stored); otherwise the status changes at once.
pub fn apply_action(mut job: Job, action: JobAction, now: DateTime<Utc>) -> DomainResult<Job> {
    use JobStatus::*;
    match (action, job.status) {
        (JobAction::Cancel, Processing) => job.cancel_requested = true,
        (JobAction::Pause, Processing) => job.pause_requested = true,
        (JobAction::Cancel, _) => {
            job.status = job.status.transition(Cancelled)?;
            job.completed_at = Some(now);
        }
        (JobAction::Pause, _) => job.status = job.status.transition(Paused)?,
        // A pause asked of a running job and not yet taken: the job just goes on.
        (JobAction::Resume, Processing) if job.pause_requested => job.pause_requested = false,
        (JobAction::Resume, Paused) => {
            job.status = job.status.transition(Queued)?;
            job.pause_requested = false;
            job.attempts = 0;
        }
        (JobAction::Resume, status) => {
            return Err(DomainError::conflict(format!(
                "only PAUSED jobs are resumed; this one is {}{}",
                status.as_str(),
                if matches!(status, Failed | Cancelled) { " (retryProcessingJob runs it again)" } else { "" }
            )));
        }
        (JobAction::Retry, _) => {
            job.check_retry()?;
            job.status = job.status.transition(Queued)?;
            job.retry_count += 1;
            job.completed_steps = 0;
            job.progress = 0;
            job.attempts = 0;
            job.checkpoint = serde_json::json!({});
            job.document_version = None;
            job.error_message = None;
            job.error_details = serde_json::json!({});
            job.cancel_requested = false;
            job.pause_requested = false;
            job.completed_at = None;
        }
    }
    job.updated_at = now;
    Ok(job)
}

#[cfg(test)]
mod action_tests {
    use super::*;

    fn job(status: JobStatus) -> Job {
        let now = Utc::now();
        Job {
            id: uuid::Uuid::nil(),
            kind: JobKind::Extraction,
            project_id: ProjectId::new(),
            target: JobTarget::Document(DocumentId::new()),
            params: serde_json::json!({}),
            llm_model_id: None,
            processing_config_id: None,
            status,
            priority: 0,
            progress: 40,
            total_steps: 5,
            completed_steps: 2,
            current_step: None,
            entities_found: 3,
            entities_dropped: 0,
            started_at: None,
            completed_at: None,
            estimated_completion_at: None,
            error_message: Some("boom".into()),
            error_details: serde_json::json!({}),
            tokens_used: 0,
            cost: 0.0,
            retry_count: 0,
            max_retries: 1,
            attempts: 1,
            cancel_requested: false,
            pause_requested: false,
            document_version: Some(1),
            checkpoint: serde_json::json!({"offset": 10}),
            created_by: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn running_jobs_are_flagged_others_change_at_once() {
        let now = Utc::now();
        let j = apply_action(job(JobStatus::Processing), JobAction::Cancel, now).unwrap();
        assert_eq!((j.status, j.cancel_requested), (JobStatus::Processing, true));
        let j = apply_action(job(JobStatus::Queued), JobAction::Cancel, now).unwrap();
        assert_eq!(j.status, JobStatus::Cancelled);
        let j = apply_action(job(JobStatus::Queued), JobAction::Pause, now).unwrap();
        assert_eq!(j.status, JobStatus::Paused);
        let j = apply_action(j, JobAction::Resume, now).unwrap();
        assert_eq!(j.status, JobStatus::Queued);
        assert_eq!(j.attempts, 0, "a resumed run counts its claims afresh");
        assert_eq!(j.checkpoint, serde_json::json!({"offset": 10}), "and goes on from its checkpoint");
        assert!(apply_action(job(JobStatus::Completed), JobAction::Resume, now).is_err());
    }

    /// Resume goes on from a pause, nothing else: a cancelled or failed job is retried (it
    /// used to answer QUEUED), and a running job is not put back in the queue under its worker.
    #[test]
    fn only_a_paused_job_is_resumed() {
        let now = Utc::now();
        for status in [JobStatus::Cancelled, JobStatus::Failed, JobStatus::Queued, JobStatus::Pending] {
            let refused = apply_action(job(status), JobAction::Resume, now).unwrap_err();
            assert!(matches!(refused, DomainError::Conflict(_)), "{status:?}: {refused:?}");
        }
        let message = apply_action(job(JobStatus::Cancelled), JobAction::Resume, now).unwrap_err().to_string();
        assert!(message.contains("CANCELLED") && message.contains("retryProcessingJob"), "{message}");
        assert!(apply_action(job(JobStatus::Processing), JobAction::Resume, now).is_err(), "not paused");
        let mut running = job(JobStatus::Processing);
        running.pause_requested = true;
        let j = apply_action(running, JobAction::Resume, now).unwrap();
        assert_eq!((j.status, j.pause_requested), (JobStatus::Processing, false), "the pause is called off");
    }

    #[test]
    fn retries_are_bounded() {
        let now = Utc::now();
        let j = apply_action(job(JobStatus::Failed), JobAction::Retry, now).unwrap();
        assert_eq!(
            (j.status, j.retry_count, j.completed_steps, j.error_message.as_deref()),
            (JobStatus::Queued, 1, 0, None)
        );
        assert_eq!((j.attempts, &j.checkpoint, j.document_version), (0, &serde_json::json!({}), None), "a fresh run");
        let mut again = j;
        again.status = JobStatus::Failed;
        assert!(matches!(apply_action(again, JobAction::Retry, now), Err(DomainError::Conflict(_))));
        assert!(apply_action(job(JobStatus::Processing), JobAction::Retry, now).is_err());
    }
}
