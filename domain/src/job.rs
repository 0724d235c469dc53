//! Processing jobs and their state machine. Every status change goes through `JobStatus::
//! can_become`, so an illegal transition (resuming a completed job, retrying a running one)
//! cannot be written.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, ProjectId, UserId};

pub type JobId = uuid::Uuid;

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
    pub document_id: DocumentId,
    pub project_id: ProjectId,
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
    pub attempts: u32,
    pub cancel_requested: bool,
    pub pause_requested: bool,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Job {
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
    pub document_id: DocumentId,
    pub status: JobStatus,
    pub progress: u32,
    pub current_step: Option<String>,
    pub entities_found: u32,
    pub estimated_completion_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
}

impl From<&Job> for JobProgress {
    fn from(j: &Job) -> Self {
        Self {
            job_id: j.id,
            document_id: j.document_id,
            status: j.status,
            progress: j.progress,
            current_step: j.current_step.clone(),
            entities_found: j.entities_found,
            estimated_completion_at: j.estimated_completion_at,
            error_message: j.error_message.clone(),
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
        (JobAction::Resume, _) => {
            job.status = job.status.transition(Queued)?;
            job.pause_requested = false;
        }
        (JobAction::Retry, _) => {
            job.check_retry()?;
            job.status = job.status.transition(Queued)?;
            job.retry_count += 1;
            job.completed_steps = 0;
            job.progress = 0;
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
            document_id: DocumentId::new(),
            project_id: ProjectId::new(),
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
        assert!(apply_action(job(JobStatus::Completed), JobAction::Resume, now).is_err());
    }

    #[test]
    fn retries_are_bounded() {
        let now = Utc::now();
        let j = apply_action(job(JobStatus::Failed), JobAction::Retry, now).unwrap();
        assert_eq!(
            (j.status, j.retry_count, j.completed_steps, j.error_message.as_deref()),
            (JobStatus::Queued, 1, 0, None)
        );
        let mut again = j;
        again.status = JobStatus::Failed;
        assert!(matches!(apply_action(again, JobAction::Retry, now), Err(DomainError::Conflict(_))));
        assert!(apply_action(job(JobStatus::Processing), JobAction::Retry, now).is_err());
    }
}
