//! Training a project's model and starting experiments.

use async_graphql::{Context, ID, InputObject, Object};
use nishan_domain::ids::{DocumentId, ProjectId};
use nishan_domain::service::learning::{MAX_EXPERIMENT_DOCUMENTS, MAX_EXPERIMENT_MODELS, StartExperiment};

use crate::error::{ApiResult, bad_input};
use crate::graphql::types::{Experiment, ProcessingJob, parse_id};
use crate::graphql::{request, state};

#[derive(InputObject)]
pub struct StartExperimentInput {
    pub project_id: ID,
    /// The models to compare (1 to 10, each once), in the order results are listed.
    pub llm_model_ids: Vec<ID>,
    /// Documents of the project to run them over (1 to 100); their verified entities are the gold.
    pub document_ids: Vec<ID>,
}

#[derive(Default)]
pub struct LearningMutation;

#[Object]
impl LearningMutation {
    /// Queues a TRAINING job for the project's learned model (researchers and above); its
    /// model becomes the next version of `Project.learnedModel` when the job completes.
    async fn train_project_model(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<ProcessingJob> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        let project = ProjectId(parse_id(&project_id, "projectId")?);
        Ok(ProcessingJob(state(ctx).learning().train(&req.meta, &actor, project).await?))
    }

    /// Runs each model over the documents into the experiment's own layer (nothing reaches the
    /// project's entities) and compares it with their gold: one EXPERIMENT job per model.
    async fn start_experiment(&self, ctx: &Context<'_>, input: StartExperimentInput) -> ApiResult<Experiment> {
        let req = request(ctx);
        let actor = req.viewer.require()?;
        if input.llm_model_ids.len() > MAX_EXPERIMENT_MODELS {
            return Err(bad_input("llmModelIds", &format!("at most {MAX_EXPERIMENT_MODELS} models")));
        }
        if input.document_ids.len() > MAX_EXPERIMENT_DOCUMENTS {
            return Err(bad_input("documentIds", &format!("at most {MAX_EXPERIMENT_DOCUMENTS} documents")));
        }
        let start = StartExperiment {
            project_id: ProjectId(parse_id(&input.project_id, "projectId")?),
            model_ids: input.llm_model_ids.iter().map(|m| parse_id(m, "llmModelIds")).collect::<ApiResult<_>>()?,
            document_ids: input
                .document_ids
                .iter()
                .map(|d| parse_id(d, "documentIds").map(DocumentId))
                .collect::<ApiResult<_>>()?,
        };
        Ok(Experiment(state(ctx).learning().start_experiment(&req.meta, &actor, start).await?))
    }
}
