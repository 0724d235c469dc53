//! What the server keeps of learning and experiments: a project's learned model versions, and
//! experiments with their runs and results. Types are named by their entity type ids (as the
//! tagger's labels).

use chrono::{DateTime, Utc};

use crate::ids::{DocumentId, EntityTypeId, ProjectId, UserId};
use crate::job::JobId;
use crate::llm::model::ModelId;

use super::evaluate::{Confusion, Metrics, Scores};

/// One version of a project's learned model, without the model itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedModelInfo {
    pub id: uuid::Uuid,
    pub project_id: ProjectId,
    /// From 1, one more for each training.
    pub version: u32,
    pub trained_at: DateTime<Utc>,
    pub gold_entities: u32,
    pub gold_lines: u32,
    /// What 5-fold cross-validation measured (exact spans): per type, overall, reliability.
    pub metrics: Metrics,
    /// The TRAINING job that made it.
    pub job_id: Option<JobId>,
    pub created_by: Option<UserId>,
}

/// A model version with the model's bytes (`Tagger::to_bytes`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    pub info: LearnedModelInfo,
    pub bytes: Vec<u8>,
}

/// A model version to store: the repository gives it its version number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLearnedModel {
    pub project_id: ProjectId,
    pub trained_at: DateTime<Utc>,
    pub gold_entities: u32,
    pub gold_lines: u32,
    pub metrics: Metrics,
    pub bytes: Vec<u8>,
    pub job_id: Option<JobId>,
    pub created_by: Option<UserId>,
}

/// A comparison of models on documents of a project.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub id: uuid::Uuid,
    pub project_id: ProjectId,
    pub document_ids: Vec<DocumentId>,
    pub runs: Vec<ExperimentRun>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// One model of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentRun {
    pub id: uuid::Uuid,
    pub model_id: ModelId,
    /// The model's name when the experiment started.
    pub model_name: String,
    /// The EXPERIMENT job that runs it.
    pub job_id: JobId,
    /// Set when the job has compared its predictions with the gold.
    pub result: Option<ExperimentResult>,
}

/// How one model did against the gold of the experiment's documents.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExperimentResult {
    pub exact: Scores,
    pub overlapping: Scores,
    pub confusion: Vec<Confusion>,
    pub predictions: u32,
    pub gold_entities: u32,
    /// Mean confidence of the predictions that carry one.
    pub mean_confidence: Option<f64>,
    pub duration_ms: u64,
}

/// One prediction of an experiment's run: code points into the document's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub document_id: DocumentId,
    pub start: u32,
    pub end: u32,
    pub entity_type: EntityTypeId,
    pub confidence: Option<f64>,
}

/// Where an experiment stands, from its runs' jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentStatus {
    /// No run has started.
    Queued,
    /// Some run is not over (running, waiting, or paused).
    Running,
    /// Every run completed.
    Completed,
    /// Every run is over, and one failed.
    Failed,
    /// Every run is over, none failed, and one was cancelled.
    Cancelled,
}

impl ExperimentStatus {
    /// The status of an experiment whose runs' jobs are in `statuses`.
    pub fn of(statuses: &[crate::job::JobStatus]) -> Self {
        use crate::job::JobStatus as J;
        if statuses.iter().any(|s| !s.is_final()) {
            let started = statuses.iter().any(|s| !matches!(s, J::Pending | J::Queued));
            return if started { Self::Running } else { Self::Queued };
        }
        if statuses.iter().all(|s| *s == J::Completed) {
            Self::Completed
        } else if statuses.contains(&J::Failed) {
            Self::Failed
        } else {
            Self::Cancelled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobStatus as J;

    #[test]
    fn an_experiment_is_as_far_as_its_runs() {
        assert_eq!(ExperimentStatus::of(&[J::Queued, J::Queued]), ExperimentStatus::Queued);
        assert_eq!(ExperimentStatus::of(&[J::Completed, J::Queued]), ExperimentStatus::Running);
        assert_eq!(ExperimentStatus::of(&[J::Paused]), ExperimentStatus::Running);
        assert_eq!(ExperimentStatus::of(&[J::Completed, J::Completed]), ExperimentStatus::Completed);
        assert_eq!(ExperimentStatus::of(&[J::Completed, J::Failed, J::Cancelled]), ExperimentStatus::Failed);
        assert_eq!(ExperimentStatus::of(&[J::Completed, J::Cancelled]), ExperimentStatus::Cancelled);
    }
}
