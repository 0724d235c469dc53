//! The learned model, experiments and their results as clients see them. Types are named by
//! their entity type (resolved by the entity-type loader); the confusion matrix names them by
//! name, with `MISSED` and `SPURIOUS`.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::ids::{DocumentId, EntityTypeId};
use nishan_domain::learn::evaluate::{Confusion, Reliability, Scores, TypeScores};
use nishan_domain::learn::records::{
    Experiment as DomainExperiment, ExperimentRun as DomainRun, ExperimentStatus, LearnedModelInfo,
};
use nishan_domain::ports::{JobRepository, ModelRepository};

use super::{Document, EntityType, LlmModel, ProcessingJob, User};
use crate::error::ApiResult;
use crate::graphql::loaders::{DocumentLoader, EntityTypeLoader, Loaded, UserLoader};
use crate::graphql::state;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ExperimentStatus", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlExperimentStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl From<ExperimentStatus> for GqlExperimentStatus {
    fn from(s: ExperimentStatus) -> Self {
        match s {
            ExperimentStatus::Queued => Self::Queued,
            ExperimentStatus::Running => Self::Running,
            ExperimentStatus::Completed => Self::Completed,
            ExperimentStatus::Failed => Self::Failed,
            ExperimentStatus::Cancelled => Self::Cancelled,
        }
    }
}

async fn entity_type(ctx: &Context<'_>, label: &str) -> ApiResult<Option<EntityType>> {
    let Ok(id) = uuid::Uuid::parse_str(label) else { return Ok(None) };
    Ok(ctx.data_unchecked::<Loaded<EntityTypeLoader>>().load_one(EntityTypeId(id)).await?.map(EntityType))
}

/// Precision, recall and F1 of one entity type.
pub struct TypeMetrics(pub TypeScores);

#[Object]
impl TypeMetrics {
    /// Null for a type deleted since.
    async fn entity_type(&self, ctx: &Context<'_>) -> ApiResult<Option<EntityType>> {
        entity_type(ctx, &self.0.label).await
    }
    async fn precision(&self) -> f64 {
        self.0.precision
    }
    async fn recall(&self) -> f64 {
        self.0.recall
    }
    async fn f1(&self) -> f64 {
        self.0.f1
    }
    async fn true_positives(&self) -> u32 {
        self.0.true_positives
    }
    async fn false_positives(&self) -> u32 {
        self.0.false_positives
    }
    async fn false_negatives(&self) -> u32 {
        self.0.false_negatives
    }
}

/// Predictions whose confidence is in `[lower, upper)` (the last bin includes 1), and the
/// share of them that were exactly right.
#[derive(SimpleObject)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: u32,
    pub mean_confidence: f64,
    pub precision: f64,
}

fn bins(r: &Reliability) -> Vec<ReliabilityBin> {
    r.bins
        .iter()
        .map(|b| ReliabilityBin {
            lower: b.lower,
            upper: b.upper,
            count: b.count,
            mean_confidence: b.mean_confidence,
            precision: b.precision,
        })
        .collect()
}

/// One version of a project's learned model: the tagger the built-in extractor uses, and what
/// 5-fold cross-validation on its gold measured (exact spans).
pub struct LearnedModel(pub LearnedModelInfo);

#[Object]
impl LearnedModel {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// 1 for the first model of a project, one more for each training.
    async fn version(&self) -> u32 {
        self.0.version
    }
    async fn trained_at(&self) -> DateTime<Utc> {
        self.0.trained_at
    }
    /// Verified entities trained on.
    async fn gold_entities(&self) -> u32 {
        self.0.gold_entities
    }
    /// Lines trained on (those holding a verified entity or a rejected suggestion).
    async fn gold_lines(&self) -> u32 {
        self.0.gold_lines
    }
    async fn precision(&self) -> f64 {
        self.0.metrics.exact.overall.precision
    }
    async fn recall(&self) -> f64 {
        self.0.metrics.exact.overall.recall
    }
    async fn f1(&self) -> f64 {
        self.0.metrics.exact.overall.f1
    }
    /// F1 counting a prediction right when it overlaps a gold span of its type.
    async fn overlap_f1(&self) -> f64 {
        self.0.metrics.overlapping.overall.f1
    }
    async fn folds(&self) -> u32 {
        self.0.metrics.folds
    }
    /// Per type (exact spans).
    async fn by_type(&self) -> Vec<TypeMetrics> {
        self.0.metrics.exact.by_type.iter().cloned().map(TypeMetrics).collect()
    }
    /// Confidence against measured precision, in ten bins, on the folds' predictions.
    async fn reliability(&self) -> Vec<ReliabilityBin> {
        bins(&self.0.metrics.reliability)
    }
    /// The bins' |confidence − precision|, weighted by their size.
    async fn expected_calibration_error(&self) -> f64 {
        self.0.metrics.reliability.expected_calibration_error
    }
    /// The temperature confidences are computed at.
    async fn temperature(&self) -> f64 {
        self.0.metrics.temperature
    }
    /// The TRAINING job that made it.
    async fn job(&self, ctx: &Context<'_>) -> ApiResult<Option<ProcessingJob>> {
        let Some(id) = self.0.job_id else { return Ok(None) };
        Ok(state(ctx).store.job_by_id(id).await?.map(ProcessingJob))
    }
    async fn trained_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.created_by else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
}

/// A cell of a confusion matrix: how many gold spans of one type were predicted as another
/// (`MISSED`: not predicted; a gold of `SPURIOUS`: predicted where no gold span is).
pub struct ConfusionCell(pub Confusion);

async fn type_name(ctx: &Context<'_>, label: &str) -> ApiResult<String> {
    Ok(match entity_type(ctx, label).await? {
        Some(t) => t.0.name,
        None => label.to_owned(),
    })
}

#[Object]
impl ConfusionCell {
    /// A gold type's name, or SPURIOUS.
    async fn gold(&self, ctx: &Context<'_>) -> ApiResult<String> {
        type_name(ctx, &self.0.gold).await
    }
    /// A predicted type's name, or MISSED.
    async fn predicted(&self, ctx: &Context<'_>) -> ApiResult<String> {
        type_name(ctx, &self.0.predicted).await
    }
    async fn count(&self) -> u32 {
        self.0.count
    }
}

/// The model of an experiment's run (its name as it was when the experiment started).
pub struct ExperimentModel(pub DomainRun);

#[Object]
impl ExperimentModel {
    async fn id(&self) -> ID {
        ID(self.0.model_id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.model_name
    }
    /// The model as configured now; null if it was deleted.
    async fn llm_model(&self, ctx: &Context<'_>) -> ApiResult<Option<LlmModel>> {
        Ok(state(ctx).store.model_by_id(self.0.model_id).await?.map(LlmModel))
    }
}

/// How one model did. Scores are null until its run has compared its predictions with the gold.
pub struct ExperimentResult {
    run: DomainRun,
    job: Option<nishan_domain::job::Job>,
}

impl ExperimentResult {
    fn scores(&self) -> Option<(&Scores, &Scores)> {
        self.run.result.as_ref().map(|r| (&r.exact, &r.overlapping))
    }
}

#[Object]
impl ExperimentResult {
    async fn model(&self) -> ExperimentModel {
        ExperimentModel(self.run.clone())
    }
    /// The EXPERIMENT job that runs the model.
    async fn job(&self) -> Option<ProcessingJob> {
        self.job.clone().map(ProcessingJob)
    }
    /// Exact spans: the same start, end and type as a gold span.
    async fn precision(&self) -> Option<f64> {
        self.scores().map(|s| s.0.overall.precision)
    }
    async fn recall(&self) -> Option<f64> {
        self.scores().map(|s| s.0.overall.recall)
    }
    async fn f1(&self) -> Option<f64> {
        self.scores().map(|s| s.0.overall.f1)
    }
    /// Overlapping spans: a prediction overlapping a gold span of its type (each gold span once).
    async fn overlap_precision(&self) -> Option<f64> {
        self.scores().map(|s| s.1.overall.precision)
    }
    async fn overlap_recall(&self) -> Option<f64> {
        self.scores().map(|s| s.1.overall.recall)
    }
    async fn overlap_f1(&self) -> Option<f64> {
        self.scores().map(|s| s.1.overall.f1)
    }
    /// Exact scores per type (gold or predicted).
    async fn by_type(&self) -> Vec<TypeMetrics> {
        self.scores().map(|s| s.0.by_type.iter().cloned().map(TypeMetrics).collect()).unwrap_or_default()
    }
    /// Overlapping scores per type.
    async fn overlap_by_type(&self) -> Vec<TypeMetrics> {
        self.scores().map(|s| s.1.by_type.iter().cloned().map(TypeMetrics).collect()).unwrap_or_default()
    }
    /// Gold type × predicted type, spans paired by identical offsets, then by overlap.
    async fn confusion(&self) -> Vec<ConfusionCell> {
        self.run.result.as_ref().map(|r| r.confusion.iter().cloned().map(ConfusionCell).collect()).unwrap_or_default()
    }
    async fn predictions(&self) -> Option<u32> {
        self.run.result.as_ref().map(|r| r.predictions)
    }
    async fn gold_entities(&self) -> Option<u32> {
        self.run.result.as_ref().map(|r| r.gold_entities)
    }
    /// Of the predictions that carry a confidence.
    async fn mean_confidence(&self) -> Option<f64> {
        self.run.result.as_ref().and_then(|r| r.mean_confidence)
    }
    /// From the run's start to its comparison.
    async fn duration_ms(&self) -> Option<u64> {
        self.run.result.as_ref().map(|r| r.duration_ms)
    }
    /// Tokens of the model's calls in the run.
    async fn tokens_used(&self) -> i64 {
        self.job.as_ref().map_or(0, |j| j.tokens_used)
    }
    async fn cost(&self) -> f64 {
        self.job.as_ref().map_or(0.0, |j| j.cost)
    }
}

/// Models compared side by side on documents of a project, against their gold. Their
/// predictions live in the experiment's own layer: no researcher's entity is made or changed.
pub struct Experiment(pub DomainExperiment);

impl Experiment {
    async fn jobs(&self, ctx: &Context<'_>) -> ApiResult<Vec<Option<nishan_domain::job::Job>>> {
        let mut jobs = Vec::with_capacity(self.0.runs.len());
        for run in &self.0.runs {
            jobs.push(state(ctx).store.job_by_id(run.job_id).await?);
        }
        Ok(jobs)
    }
}

#[Object]
impl Experiment {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// As far as its runs: COMPLETED once every run's result is here (a run's job completes
    /// after its result is stored, and the runs were read before the jobs, so a completed job
    /// whose result this read missed still counts as running).
    async fn status(&self, ctx: &Context<'_>) -> ApiResult<GqlExperimentStatus> {
        use nishan_domain::job::JobStatus;
        let statuses: Vec<_> = self
            .jobs(ctx)
            .await?
            .into_iter()
            .zip(&self.0.runs)
            .map(|(j, run)| match j.map_or(JobStatus::Cancelled, |j| j.status) {
                JobStatus::Completed if run.result.is_none() => JobStatus::Processing,
                status => status,
            })
            .collect();
        Ok(ExperimentStatus::of(&statuses).into())
    }
    /// One per model, in the order asked.
    async fn results(&self, ctx: &Context<'_>) -> ApiResult<Vec<ExperimentResult>> {
        let jobs = self.jobs(ctx).await?;
        Ok(self.0.runs.iter().cloned().zip(jobs).map(|(run, job)| ExperimentResult { run, job }).collect())
    }
    /// The documents, in the order asked (a document deleted since is left out).
    async fn documents(&self, ctx: &Context<'_>) -> ApiResult<Vec<Document>> {
        let loader = ctx.data_unchecked::<Loaded<DocumentLoader>>();
        let found = loader.load_many(self.0.document_ids.iter().copied()).await?;
        Ok(self.0.document_ids.iter().filter_map(|d: &DocumentId| found.get(d).cloned()).map(Document).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn created_by(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        let Some(id) = self.0.created_by else { return Ok(None) };
        Ok(ctx.data_unchecked::<Loaded<UserLoader>>().load_one(id).await?.map(User::new))
    }
}
