//! The EXPERIMENT handler: one model of an experiment run over the experiment's documents into
//! its scratch layer (`experiment_predictions`: no entity researchers see is made), then
//! compared with the gold of those documents (`learn::evaluate`).
//!
//! Each experiment run is one EXPERIMENT job (made by `startExperiment`; a job that is no run
//! of an experiment fails), so a model's tokens, cost and duration are its job's. Steps: one per
//! document (its predictions replace whatever the run stored for it before, so a run taken up
//! again stores nothing twice; the checkpoint names the next document), then the comparison.
//!
//! The built-in model learns, for the experiment, from the project's gold without the
//! experiment's documents (nor those of other running experiments): its gazetteer of verified
//! names and its tagger are made from that gold alone, so its score is not inflated by the
//! very entities it is scored on. A model of a provider is asked chunk by chunk as an
//! EXTRACTION job asks it (rate limits, retries, repair, every call recorded).

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::handler::{BoxFuture, JobEnv, JobHandler, RunNote};
use super::model_calls::{Asked, ask_chunk};
use super::run::{Done, JobRun, Stop, StopContext};
use super::training::train_on_gold;
use super::{Placed, gazetteer_finds, merge_overlapping};
use crate::error::{DomainError, DomainResult};
use crate::extract::{Gazetteer, GazetteerEntry};
use crate::ids::{DocumentId, EntityTypeId};
use crate::job::{JobKind, JobTarget};
use crate::learn::LabeledSpan;
use crate::learn::evaluate::Tally;
use crate::learn::records::{Experiment, ExperimentResult, ExperimentRun, Prediction};
use crate::learn::{Name, Tagger};
use crate::llm::model::{LlmModel, ProcessingConfig};
use crate::llm::retry::RetryPolicy;
use crate::llm::{LlmClient, ModelEndpoint, Provider};
use crate::ports::{ExtractionStore, LearningRunStore, SecretCipher};
use crate::service::models::{model_endpoint, types_to_extract};
use crate::text::chunk::chunks;

use super::extraction::{EXAMPLE_CONFIDENCE, VERIFIED_CONFIDENCE};

/// Runs EXPERIMENT jobs with a model client and the cipher of stored keys.
pub struct Experiments<L, K> {
    pub llm: L,
    pub cipher: K,
    pub retry: RetryPolicy,
}

impl<V, L, K> JobHandler<V> for Experiments<L, K>
where
    V: JobEnv,
    V::Store: ExtractionStore + LearningRunStore,
    L: LlmClient + 'static,
    K: SecretCipher + Send + Sync + 'static,
{
    fn kind(&self) -> JobKind {
        JobKind::Experiment
    }

    fn check(&self, target: JobTarget, params: &Value) -> DomainResult<()> {
        if target.document().is_some() {
            return Err(DomainError::invalid("documentId", "an EXPERIMENT job works on its project"));
        }
        let ok = params.get("experimentId").and_then(Value::as_str).is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
            && params.as_object().is_some_and(|p| p.len() == 1);
        if !ok {
            return Err(DomainError::invalid(
                "params",
                "an EXPERIMENT job takes {experimentId}: start it with startExperiment",
            ));
        }
        Ok(())
    }

    fn run<'a, 'e: 'a>(&'a self, run: &'a mut JobRun<'e, V>) -> BoxFuture<'a, Result<Done, Stop>> {
        Box::pin(self.experiment(run))
    }
}

/// How the run's model predicts.
enum Predictor {
    Tagger { tagger: Box<Tagger>, names: crate::learn::model::TagNames },
    Gazetteer(Gazetteer),
    Model(ModelEndpoint),
}

impl<L, K> Experiments<L, K>
where
    L: LlmClient,
    K: SecretCipher + Send + Sync,
{
    async fn experiment<V>(&self, run: &mut JobRun<'_, V>) -> Result<Done, Stop>
    where
        V: JobEnv,
        V::Store: ExtractionStore + LearningRunStore,
    {
        let store = run.env().store();
        let job = run.job().clone();
        let experiment =
            run.retrying("reading the experiment", || store.experiment_of_job(job.id)).await?.ok_or_else(|| {
                Stop::Failed("this job is no run of an experiment: start one with startExperiment".into())
            })?;
        let me = experiment.runs.iter().find(|r| r.job_id == job.id).cloned().expect("the experiment holds its run");
        let model = run
            .retrying("reading the run's model", || store.model(me.model_id))
            .await?
            .ok_or_else(|| Stop::Failed("the run's model was deleted".into()))?;
        let config_id = job.processing_config_id;
        let config = run
            .retrying("reading the processing configuration", || store.config(config_id))
            .await?
            .ok_or_else(|| Stop::Failed("the processing configuration was deleted".into()))?;
        let all_types = run.retrying("reading the entity types", || store.entity_types()).await?;
        let active: Vec<(EntityTypeId, String)> =
            all_types.iter().filter(|t| t.is_active).map(|t| (t.id, t.name.clone())).collect();
        let types = types_to_extract(&config, &active);
        if types.is_empty() {
            return Err(Stop::Failed("no active entity type to extract".into()));
        }
        let total = experiment.document_ids.len() as u32 + 1;
        let mut next = run.job().checkpoint.get("next").and_then(Value::as_u64).unwrap_or(0) as usize;
        if next < experiment.document_ids.len() {
            let predictor = self.predictor(run, &experiment, &model, &all_types, &types).await?;
            while next < experiment.document_ids.len() {
                run.go_on()?;
                let doc_id = experiment.document_ids[next];
                let predictions = self.predict(run, &predictor, &model, &config, &types, doc_id).await?;
                next += 1;
                let now = run.now();
                {
                    let job = run.job_mut();
                    job.total_steps = total;
                    job.completed_steps = next as u32;
                    job.progress = crate::job::Job::percent(next as u32, total);
                    job.current_step = Some(format!("document {next} of {}", total - 1));
                    job.checkpoint = json!({"next": next});
                    job.entities_found += predictions.len() as u32;
                    job.estimated_completion_at = job.estimate_completion(now);
                }
                run.commit("storing the run's predictions", |fence| {
                    let predictions = predictions.clone();
                    async move { Ok(store.store_predictions(&fence, me.id, doc_id, predictions).await?.map(|j| (j, ()))) }
                })
                .await?;
            }
        }
        run.go_on()?;
        let result = self.compare(run, &experiment, &me).await?;
        let summary = format!(
            "{}: F1 {:.2} (exact), {:.2} (overlapping) on {} gold entities",
            model.name, result.exact.overall.f1, result.overlapping.overall.f1, result.gold_entities
        );
        {
            let job = run.job_mut();
            job.completed_steps = total;
            job.total_steps = total;
            job.progress = 100;
            job.current_step = Some("compared with the gold".into());
            job.checkpoint = json!({"next": experiment.document_ids.len(), "compared": true});
        }
        run.commit("storing the run's result", |fence| {
            let result = result.clone();
            async move { Ok(store.store_run_result(&fence, me.id, result).await?.map(|j| (j, ()))) }
        })
        .await?;
        Ok(Done { summary })
    }

    /// The run's predictor: for the built-in model, learnt from the gold without the experiment's
    /// documents (nor those of other running experiments).
    async fn predictor<V>(
        &self,
        run: &JobRun<'_, V>,
        experiment: &Experiment,
        model: &LlmModel,
        all_types: &[crate::entity_type::EntityType],
        types: &[(EntityTypeId, String)],
    ) -> Result<Predictor, Stop>
    where
        V: JobEnv,
        V::Store: ExtractionStore + LearningRunStore,
    {
        let store = run.env().store();
        if model.provider != Provider::Builtin {
            let sealed = run.retrying("reading the model's key", || store.model_key(model.id)).await?;
            let key = sealed.map(|s| self.cipher.decrypt(&s)).transpose().doing("decrypting the model's key")?;
            return Ok(Predictor::Model(model_endpoint(model, key)));
        }
        let project = experiment.project_id;
        let mut excluding: HashSet<DocumentId> = run
            .retrying("reading the running experiments", || store.running_experiment_documents(project))
            .await?
            .into_iter()
            .collect();
        excluding.extend(experiment.document_ids.iter().copied());
        let mut excluding: Vec<DocumentId> = excluding.into_iter().collect();
        excluding.sort();
        let gold = run.retrying("reading the gold", || store.gold(project, &excluding)).await?;
        let verified: Vec<(String, EntityTypeId)> = gold
            .iter()
            .flat_map(|d| {
                d.verified.iter().map(|&(s, e, t)| {
                    (d.content.chars().skip(s as usize).take((e - s) as usize).collect::<String>(), t)
                })
            })
            .collect();
        match train_on_gold(run, project, &excluding).await? {
            Some((trained, _)) => {
                let mut names: Vec<Name> = run
                    .retrying("reading the reference names", || store.reference_names(project))
                    .await?
                    .into_iter()
                    .map(|(text, t)| Name::reference(text, t.to_string()))
                    .collect();
                names.extend(verified.into_iter().map(|(text, t)| Name::gold(text, t.to_string())));
                let tag_names = trained.tagger.names(&names);
                Ok(Predictor::Tagger { tagger: Box::new(trained.tagger), names: tag_names })
            }
            None => {
                let wanted: HashSet<EntityTypeId> = types.iter().map(|(id, _)| *id).collect();
                let mut entries: Vec<GazetteerEntry> = all_types
                    .iter()
                    .filter(|t| wanted.contains(&t.id))
                    .flat_map(|t| {
                        t.examples.iter().map(|x| GazetteerEntry {
                            text: x.clone(),
                            entity_type: t.id,
                            confidence: EXAMPLE_CONFIDENCE,
                        })
                    })
                    .collect();
                entries.extend(
                    verified.into_iter().filter(|(_, t)| wanted.contains(t)).map(|(text, entity_type)| {
                        GazetteerEntry { text, entity_type, confidence: VERIFIED_CONFIDENCE }
                    }),
                );
                Ok(Predictor::Gazetteer(Gazetteer::new(entries)))
            }
        }
    }

    /// The predictions of the run's model in one document (none for a deleted document).
    async fn predict<V>(
        &self,
        run: &JobRun<'_, V>,
        predictor: &Predictor,
        model: &LlmModel,
        config: &ProcessingConfig,
        types: &[(EntityTypeId, String)],
        doc_id: DocumentId,
    ) -> Result<Vec<Prediction>, Stop>
    where
        V: JobEnv,
        V::Store: ExtractionStore + LearningRunStore,
    {
        let store = run.env().store();
        let Some(doc) = run.retrying("reading the document", || store.document(doc_id)).await? else {
            return Ok(vec![]);
        };
        let names: HashMap<String, EntityTypeId> = types.iter().map(|(id, n)| (n.clone(), *id)).collect();
        let wanted: HashSet<EntityTypeId> = types.iter().map(|(id, _)| *id).collect();
        let mut placed: Vec<Placed> = Vec::new();
        match predictor {
            Predictor::Tagger { tagger, names } => {
                for t in tagger.tag(&doc.content, names) {
                    let Ok(id) = uuid::Uuid::parse_str(&t.label) else { continue };
                    let entity_type = EntityTypeId(id);
                    if wanted.contains(&entity_type) && t.confidence >= config.confidence_threshold {
                        placed.push(Placed { start: t.start, end: t.end, entity_type, confidence: Some(t.confidence) });
                    }
                }
            }
            Predictor::Gazetteer(g) => {
                for chunk in chunks(&doc.content, config.chunk_size, config.chunk_overlap) {
                    placed.extend(gazetteer_finds(&chunk, g, config.confidence_threshold).placed);
                }
            }
            Predictor::Model(endpoint) => {
                for chunk in chunks(&doc.content, config.chunk_size, config.chunk_overlap) {
                    run.go_on()?;
                    match ask_chunk(run, &self.llm, self.retry, model, config, endpoint, &chunk, &names).await? {
                        Asked::Placed(y) => placed.extend(y.placed),
                        Asked::Failed(error) => run.note(RunNote::StepFailed { step: chunk.index, error }),
                    }
                }
            }
        }
        // Overlapping chunks find a span twice: each span and type once.
        let mut seen = HashSet::new();
        placed.retain(|p| seen.insert((p.start, p.end, p.entity_type)));
        let placed = if config.post_processing.merge_overlapping { merge_overlapping(placed) } else { placed };
        Ok(placed
            .into_iter()
            .map(|p| Prediction {
                document_id: doc_id,
                start: p.start,
                end: p.end,
                entity_type: p.entity_type,
                confidence: p.confidence,
            })
            .collect())
    }

    /// The run's predictions against the gold of the experiment's documents.
    async fn compare<V>(
        &self,
        run: &JobRun<'_, V>,
        experiment: &Experiment,
        me: &ExperimentRun,
    ) -> Result<ExperimentResult, Stop>
    where
        V: JobEnv,
        V::Store: ExtractionStore + LearningRunStore,
    {
        let store = run.env().store();
        let predictions = run.retrying("reading the run's predictions", || store.predictions(me.id)).await?;
        let wanted: HashSet<DocumentId> = experiment.document_ids.iter().copied().collect();
        let gold = run.retrying("reading the gold", || store.gold(experiment.project_id, &[])).await?;
        let mut tally = Tally::new();
        let mut gold_entities = 0;
        let span = |s: u32, e: u32, t: EntityTypeId| LabeledSpan { start: s, end: e, label: t.to_string() };
        for doc in &experiment.document_ids {
            let g: Vec<LabeledSpan> = gold
                .iter()
                .filter(|d| d.document_id == *doc && wanted.contains(doc))
                .flat_map(|d| d.verified.iter().map(|&(s, e, t)| span(s, e, t)))
                .collect();
            let p: Vec<LabeledSpan> = predictions
                .iter()
                .filter(|p| p.document_id == *doc)
                .map(|p| span(p.start, p.end, p.entity_type))
                .collect();
            gold_entities += g.len() as u32;
            tally.add(&g, &p);
        }
        let confident: Vec<f64> = predictions.iter().filter_map(|p| p.confidence).collect();
        let mean_confidence = (!confident.is_empty()).then(|| confident.iter().sum::<f64>() / confident.len() as f64);
        let duration_ms = run.job().started_at.map_or(0, |s| (run.now() - s).num_milliseconds().max(0) as u64);
        Ok(ExperimentResult {
            exact: tally.exact(),
            overlapping: tally.overlapping(),
            confusion: tally.confusion(),
            predictions: predictions.len() as u32,
            gold_entities,
            mean_confidence,
            duration_ms,
        })
    }
}
