//! The TRAINING handler: a project's learned model, trained on its gold and stored as its next
//! version, with what 5-fold cross-validation measured of it.
//!
//! Steps: (1) read the gold (`LearningRunStore::gold`: verified entities and rejected
//! suggestions, the documents of running experiments left out) and cut it into gold lines
//! (`learn::gold`); (2) train the tagger off the async threads (`learn::train`, with the
//! entity types' examples and the knowledge base's aliases as reference names) and store the
//! model with the job's progress in one fenced transaction. The checkpoint records the
//! version stored (`{"version": n}`), so a run taken up after that step stores nothing twice.
//!
//! Projects train automatically too ([`AUTO_TRAIN_NEW_GOLD`]).

use serde_json::Value;

use super::handler::{BoxFuture, JobEnv, JobHandler};
use super::run::{Done, JobRun, Stop, StopContext};
use crate::error::{DomainError, DomainResult};
use crate::ids::{DocumentId, ProjectId};
use crate::job::{JobKind, JobTarget};
use crate::learn::gold::{GoldLines, gold_lines};
use crate::learn::records::NewLearnedModel;
use crate::learn::{Name, TrainError, Trained, TrainingOptions, train};
use crate::ports::LearningRunStore;

/// A project trains again on its own once this many verified entities have come in since its
/// newest model was trained (for its first model: once it has this many).
pub const AUTO_TRAIN_NEW_GOLD: u64 = 25;

/// Runs TRAINING jobs.
pub struct Training;

impl<V> JobHandler<V> for Training
where
    V: JobEnv,
    V::Store: LearningRunStore,
{
    fn kind(&self) -> JobKind {
        JobKind::Training
    }

    fn check(&self, target: JobTarget, params: &Value) -> DomainResult<()> {
        if target.document().is_some() {
            return Err(DomainError::invalid(
                "documentId",
                "a TRAINING job trains its project's model: give projectId only",
            ));
        }
        let extra = params.as_object().map_or(0, |p| p.keys().filter(|k| k.as_str() != "automatic").count());
        if extra > 0 || params.get("automatic").is_some_and(|a| !a.is_boolean()) {
            return Err(DomainError::invalid("params", "a TRAINING job takes no params"));
        }
        Ok(())
    }

    fn run<'a, 'e: 'a>(&'a self, run: &'a mut JobRun<'e, V>) -> BoxFuture<'a, Result<Done, Stop>> {
        Box::pin(train_project(run))
    }
}

async fn train_project<V>(run: &mut JobRun<'_, V>) -> Result<Done, Stop>
where
    V: JobEnv,
    V::Store: LearningRunStore,
{
    if let Some(version) = run.job().checkpoint.get("version").and_then(Value::as_u64) {
        return Ok(Done { summary: format!("model version {version} stored") });
    }
    let project = run.job().project_id;
    {
        let job = run.job_mut();
        job.total_steps = 2;
        job.completed_steps = 0;
        job.current_step = Some("reading the gold".into());
    }
    run.save_progress().await?;
    run.go_on()?;
    let excluding = run
        .retrying("reading the running experiments", || run.env().store().running_experiment_documents(project))
        .await?;
    let Some((trained, gold)) = train_on_gold(run, project, &excluding).await? else {
        return Err(Stop::Failed("no verified entity to learn from yet: verify some suggestions first".into()));
    };
    let model = NewLearnedModel {
        project_id: project,
        trained_at: run.now(),
        gold_entities: gold.entities,
        gold_lines: gold.lines.len() as u32,
        metrics: trained.metrics.clone(),
        bytes: trained.tagger.to_bytes(),
        job_id: Some(run.job().id),
        created_by: run.job().created_by,
    };
    let f1 = model.metrics.exact.overall.f1;
    {
        let job = run.job_mut();
        job.completed_steps = 2;
        job.progress = 100;
        job.current_step = Some("storing the model".into());
    }
    let store = run.env().store();
    let info = run
        .commit("storing the learned model", |fence| {
            let model = model.clone();
            async move { store.store_learned_model(&fence, model).await }
        })
        .await?;
    Ok(Done {
        summary: format!(
            "model version {}: F1 {:.2} (5-fold) on {} gold entities in {} lines",
            info.version,
            f1,
            gold.entities,
            gold.lines.len()
        ),
    })
}

/// Trains a tagger on the project's gold, the documents `excluding` left out; `None` when
/// there is no gold to learn from.
pub(crate) async fn train_on_gold<V>(
    run: &JobRun<'_, V>,
    project: ProjectId,
    excluding: &[DocumentId],
) -> Result<Option<(Trained, GoldLines)>, Stop>
where
    V: JobEnv,
    V::Store: LearningRunStore,
{
    let store = run.env().store();
    let documents = run.retrying("reading the gold", || store.gold(project, excluding)).await?;
    let gold = gold_lines(&documents);
    let names: Vec<Name> = run
        .retrying("reading the reference names", || store.reference_names(project))
        .await?
        .into_iter()
        .map(|(text, t)| Name::reference(text, t.to_string()))
        .collect();
    let lines = gold.lines.clone();
    let outcome = store
        .off_thread(move || train(&lines, &names, &TrainingOptions::default()))
        .await
        .doing("training the model")?;
    match outcome {
        Ok(trained) => Ok(Some((trained, gold))),
        Err(TrainError::NoGold) => Ok(None),
        Err(e @ TrainError::TooFewLines { .. }) => Err(Stop::Failed(format!("not enough gold to train on: {e}"))),
    }
}
