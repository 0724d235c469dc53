//! Learning and experiments in the store: the project's gold (the one query of what the
//! learned model learns from), learned model versions (numbered in the transaction that stores
//! them, under the project's row lock on PostgreSQL and SQLite's write lock), automatic
//! training queued at most once at a time per project (decided under the same lock),
//! experiments with their runs and jobs stored together, and the runs' scratch predictions.
//! Every write of a running job is fenced by its lease (`save_progress_in`).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use nishan_domain::audit::AuditEntry;
use nishan_domain::entity::EntitySource;
use nishan_domain::error::{DomainError, DomainResult};
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, ProjectId, UserId};
use nishan_domain::job::{Job, JobId, JobKind, JobStatus};
use nishan_domain::learn::Metrics;
use nishan_domain::learn::gold::GoldDocument;
use nishan_domain::learn::records::{
    Experiment, ExperimentResult, ExperimentRun, LearnedModelInfo, NewLearnedModel, Prediction, StoredModel,
};
use nishan_domain::learn::review::Candidate;
use nishan_domain::ports::{
    EntityTypeRepository, Fence, KnowledgeRepository, LearningRepository, LearningRunStore, Page, PageRequest,
};
use sea_orm::Order;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::jobs::{insert_job_in, save_progress_in};
use super::{Store, audit, internal, page_of};
use crate::entity::{
    annotation, document, entity_rejection, experiment, experiment_prediction, experiment_run, learned_model,
    processing_job, project,
};

/// The statuses of a job that is not over (a paused one may go on).
const UNFINISHED: [JobStatus; 4] = [JobStatus::Pending, JobStatus::Queued, JobStatus::Processing, JobStatus::Paused];

/// A model version's row without the model's bytes.
#[derive(Debug, FromQueryResult)]
struct InfoRow {
    id: Uuid,
    project_id: Uuid,
    version: i32,
    trained_at: chrono::DateTime<chrono::Utc>,
    gold_entities: i32,
    gold_lines: i32,
    metrics: serde_json::Value,
    job_id: Option<Uuid>,
    created_by: Option<Uuid>,
}

fn info(r: InfoRow) -> DomainResult<LearnedModelInfo> {
    let metrics: Metrics = serde_json::from_value(r.metrics)
        .map_err(|e| DomainError::internal(format!("stored learned-model metrics do not read: {e}")))?;
    Ok(LearnedModelInfo {
        id: r.id,
        project_id: ProjectId(r.project_id),
        version: r.version as u32,
        trained_at: r.trained_at,
        gold_entities: r.gold_entities as u32,
        gold_lines: r.gold_lines as u32,
        metrics,
        job_id: r.job_id,
        created_by: r.created_by.map(UserId),
    })
}

fn info_query() -> sea_orm::Select<learned_model::Entity> {
    use learned_model::Column as C;
    learned_model::Entity::find().select_only().columns([
        C::Id,
        C::ProjectId,
        C::Version,
        C::TrainedAt,
        C::GoldEntities,
        C::GoldLines,
        C::Metrics,
        C::JobId,
        C::CreatedBy,
    ])
}

fn prediction(m: experiment_prediction::Model) -> Prediction {
    Prediction {
        document_id: DocumentId(m.document_id),
        start: m.start as u32,
        end: m.end as u32,
        entity_type: EntityTypeId(m.entity_type_id),
        confidence: m.confidence,
    }
}

impl Store {
    async fn gold_in(
        &self,
        conn: &impl ConnectionTrait,
        project: ProjectId,
        excluding: &[DocumentId],
    ) -> DomainResult<Vec<GoldDocument>> {
        let excluded: HashSet<Uuid> = excluding.iter().map(|d| d.0).collect();
        let verified: Vec<(Uuid, i32, i32, Uuid)> = annotation::Entity::find()
            .select_only()
            .columns([
                annotation::Column::DocumentId,
                annotation::Column::StartOffset,
                annotation::Column::EndOffset,
                annotation::Column::EntityTypeId,
            ])
            .filter(annotation::Column::ProjectId.eq(project.0))
            .filter(annotation::Column::Layer.eq(super::entities::CURATED))
            .filter(annotation::Column::IsVerified.eq(true))
            .into_tuple()
            .all(conn)
            .await
            .map_err(internal)?;
        let rejected: Vec<(Uuid, i32, i32)> = entity_rejection::Entity::find()
            .select_only()
            .columns([
                entity_rejection::Column::DocumentId,
                entity_rejection::Column::StartOffset,
                entity_rejection::Column::EndOffset,
            ])
            .filter(entity_rejection::Column::ProjectId.eq(project.0))
            // The gold's rejections (not an annotator's deletions in their own layer).
            .filter(entity_rejection::Column::Layer.eq(super::entities::CURATED))
            .into_tuple()
            .all(conn)
            .await
            .map_err(internal)?;
        let mut docs: BTreeMap<Uuid, GoldDocument> = BTreeMap::new();
        let blank = |id: Uuid| GoldDocument {
            document_id: DocumentId(id),
            content: String::new(),
            verified: vec![],
            rejected: vec![],
        };
        for (d, s, e, t) in verified.into_iter().filter(|v| !excluded.contains(&v.0)) {
            docs.entry(d).or_insert_with(|| blank(d)).verified.push((s as u32, e as u32, EntityTypeId(t)));
        }
        for (d, s, e) in rejected.into_iter().filter(|v| !excluded.contains(&v.0)) {
            docs.entry(d).or_insert_with(|| blank(d)).rejected.push((s as u32, e as u32));
        }
        let ids: Vec<Uuid> = docs.keys().copied().collect();
        for chunk in ids.chunks(500) {
            let contents: Vec<(Uuid, String)> = document::Entity::find()
                .select_only()
                .columns([document::Column::Id, document::Column::Content])
                .filter(document::Column::Id.is_in(chunk.to_vec()))
                .into_tuple()
                .all(conn)
                .await
                .map_err(internal)?;
            for (id, content) in contents {
                if let Some(d) = docs.get_mut(&id) {
                    d.content = content;
                }
            }
        }
        Ok(docs
            .into_values()
            .map(|mut d| {
                d.verified.sort_by_key(|v| (v.0, v.1, v.2));
                d.rejected.sort();
                d
            })
            .collect())
    }

    async fn running_documents_in(
        &self,
        conn: &impl ConnectionTrait,
        project: ProjectId,
    ) -> DomainResult<Vec<DocumentId>> {
        let experiments: Vec<(Uuid, serde_json::Value)> = experiment::Entity::find()
            .select_only()
            .columns([experiment::Column::Id, experiment::Column::DocumentIds])
            .filter(experiment::Column::ProjectId.eq(project.0))
            .into_tuple()
            .all(conn)
            .await
            .map_err(internal)?;
        if experiments.is_empty() {
            return Ok(vec![]);
        }
        let running: HashSet<Uuid> = experiment_run::Entity::find()
            .select_only()
            .column(experiment_run::Column::ExperimentId)
            .filter(experiment_run::Column::ExperimentId.is_in(experiments.iter().map(|e| e.0)))
            .filter(
                experiment_run::Column::JobId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(processing_job::Column::Id)
                        .from(processing_job::Entity)
                        .and_where(processing_job::Column::ProjectId.eq(project.0))
                        .and_where(processing_job::Column::Status.is_in(UNFINISHED.map(|s| s.as_str())))
                        .to_owned(),
                ),
            )
            .into_tuple::<Uuid>()
            .all(conn)
            .await
            .map_err(internal)?
            .into_iter()
            .collect();
        let mut docs = BTreeSet::new();
        for (_, list) in experiments.into_iter().filter(|e| running.contains(&e.0)) {
            docs.extend(document_ids(list)?);
        }
        Ok(docs.into_iter().collect())
    }

    async fn experiment_in(&self, conn: &impl ConnectionTrait, id: Uuid) -> DomainResult<Option<Experiment>> {
        let Some(row) = experiment::Entity::find_by_id(id).one(conn).await.map_err(internal)? else { return Ok(None) };
        Ok(self.experiments_from(conn, vec![row]).await?.pop())
    }

    async fn experiments_from(
        &self,
        conn: &impl ConnectionTrait,
        rows: Vec<experiment::Model>,
    ) -> DomainResult<Vec<Experiment>> {
        let runs = if rows.is_empty() {
            vec![]
        } else {
            experiment_run::Entity::find()
                .filter(experiment_run::Column::ExperimentId.is_in(rows.iter().map(|r| r.id)))
                .order_by_asc(experiment_run::Column::Position)
                .all(conn)
                .await
                .map_err(internal)?
        };
        rows.into_iter()
            .map(|r| {
                let runs = runs
                    .iter()
                    .filter(|run| run.experiment_id == r.id)
                    .map(|run| {
                        let result = match &run.result {
                            Some(v) => Some(serde_json::from_value::<ExperimentResult>(v.clone()).map_err(|e| {
                                DomainError::internal(format!("a stored experiment result does not read: {e}"))
                            })?),
                            None => None,
                        };
                        Ok(ExperimentRun {
                            id: run.id,
                            model_id: run.llm_model_id,
                            model_name: run.model_name.clone(),
                            job_id: run.job_id,
                            result,
                        })
                    })
                    .collect::<DomainResult<Vec<_>>>()?;
                Ok(Experiment {
                    id: r.id,
                    project_id: ProjectId(r.project_id),
                    document_ids: document_ids(r.document_ids)?,
                    runs,
                    created_by: r.created_by.map(UserId),
                    created_at: r.created_at,
                })
            })
            .collect()
    }

    /// Locks the project's row for the transaction (PostgreSQL; SQLite's write transactions
    /// hold the database's write lock already).
    async fn lock_project(&self, txn: &DatabaseTransaction, project: ProjectId) -> DomainResult<()> {
        if self.is_postgres() {
            project::Entity::find_by_id(project.0).lock_exclusive().one(txn).await.map_err(internal)?;
        }
        Ok(())
    }
}

fn document_ids(v: serde_json::Value) -> DomainResult<Vec<DocumentId>> {
    serde_json::from_value::<Vec<Uuid>>(v)
        .map(|ids| ids.into_iter().map(DocumentId).collect())
        .map_err(|e| DomainError::internal(format!("an experiment's documents do not read: {e}")))
}

impl LearningRepository for Store {
    async fn gold(&self, project: ProjectId, excluding: &[DocumentId]) -> DomainResult<Vec<GoldDocument>> {
        let txn = self.read_snapshot().await?;
        let gold = self.gold_in(&txn, project, excluding).await?;
        txn.commit().await.map_err(internal)?;
        Ok(gold)
    }

    async fn running_experiment_documents(&self, project: ProjectId) -> DomainResult<Vec<DocumentId>> {
        self.running_documents_in(self.connection(), project).await
    }

    async fn learned_model_info(&self, project: ProjectId) -> DomainResult<Option<LearnedModelInfo>> {
        info_query()
            .filter(learned_model::Column::ProjectId.eq(project.0))
            .order_by_desc(learned_model::Column::Version)
            .into_model::<InfoRow>()
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(info)
            .transpose()
    }

    async fn learned_model_versions(
        &self,
        project: ProjectId,
        page: PageRequest,
    ) -> DomainResult<Page<LearnedModelInfo>> {
        let total = learned_model::Entity::find()
            .filter(learned_model::Column::ProjectId.eq(project.0))
            .count(self.connection())
            .await
            .map_err(internal)?;
        let items = info_query()
            .filter(learned_model::Column::ProjectId.eq(project.0))
            .order_by_desc(learned_model::Column::Version)
            .offset(page.offset)
            .limit(page.limit)
            .into_model::<InfoRow>()
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(info)
            .collect::<DomainResult<_>>()?;
        Ok(Page { items, total })
    }

    async fn queue_training_if_due(
        &self,
        project: ProjectId,
        min_new_gold: u64,
        job: Job,
        audit_entry: AuditEntry,
    ) -> DomainResult<Option<Job>> {
        let txn = self.write().await?;
        self.lock_project(&txn, project).await?;
        let waiting = processing_job::Entity::find()
            .filter(processing_job::Column::ProjectId.eq(project.0))
            .filter(processing_job::Column::Kind.eq(JobKind::Training.as_str()))
            .filter(processing_job::Column::Status.is_in(UNFINISHED.map(|s| s.as_str())))
            .count(&txn)
            .await
            .map_err(internal)?;
        let gold = annotation::Entity::find()
            .filter(annotation::Column::ProjectId.eq(project.0))
            .filter(annotation::Column::Layer.eq(super::entities::CURATED))
            .filter(annotation::Column::IsVerified.eq(true))
            .count(&txn)
            .await
            .map_err(internal)?;
        let trained_on: Option<i32> = learned_model::Entity::find()
            .select_only()
            .column(learned_model::Column::GoldEntities)
            .filter(learned_model::Column::ProjectId.eq(project.0))
            .order_by_desc(learned_model::Column::Version)
            .into_tuple()
            .one(&txn)
            .await
            .map_err(internal)?;
        let due = waiting == 0 && gold >= trained_on.unwrap_or(0).max(0) as u64 + min_new_gold;
        let queued = if due {
            let stored = insert_job_in(&txn, &job).await?;
            let mut entry = audit_entry;
            entry.changes["gold"] = json!(gold);
            audit::insert(&txn, entry).await?;
            Some(stored)
        } else {
            None
        };
        txn.commit().await.map_err(internal)?;
        Ok(queued)
    }

    async fn create_experiment(
        &self,
        e: Experiment,
        jobs: Vec<Job>,
        audit_entry: AuditEntry,
    ) -> DomainResult<Experiment> {
        let txn = self.write().await?;
        experiment::ActiveModel {
            id: Set(e.id),
            project_id: Set(e.project_id.0),
            document_ids: Set(json!(e.document_ids.iter().map(|d| d.0).collect::<Vec<_>>())),
            created_by: Set(e.created_by.map(|u| u.0)),
            created_at: Set(e.created_at),
        }
        .insert(&txn)
        .await
        .map_err(internal)?;
        for job in &jobs {
            insert_job_in(&txn, job).await?;
        }
        for (position, run) in e.runs.iter().enumerate() {
            experiment_run::ActiveModel {
                id: Set(run.id),
                experiment_id: Set(e.id),
                position: Set(position as i32),
                llm_model_id: Set(run.model_id),
                model_name: Set(run.model_name.clone()),
                job_id: Set(run.job_id),
                result: Set(None),
            }
            .insert(&txn)
            .await
            .map_err(internal)?;
        }
        audit::insert(&txn, audit_entry).await?;
        let stored =
            self.experiment_in(&txn, e.id).await?.ok_or_else(|| DomainError::internal("experiment vanished"))?;
        txn.commit().await.map_err(internal)?;
        Ok(stored)
    }

    async fn experiment_by_id(&self, id: Uuid) -> DomainResult<Option<Experiment>> {
        self.experiment_in(self.connection(), id).await
    }

    async fn experiments_of_project(&self, project: ProjectId, page: PageRequest) -> DomainResult<Page<Experiment>> {
        let q = experiment::Entity::find().filter(experiment::Column::ProjectId.eq(project.0));
        let order = [(experiment::Column::CreatedAt, Order::Desc), (experiment::Column::Id, Order::Desc)];
        let (rows, total) = page_of(self.connection(), q, &order, page).await?;
        Ok(Page { items: self.experiments_from(self.connection(), rows).await?, total })
    }

    async fn unverified_suggestions(
        &self,
        project: ProjectId,
        document_id: Option<DocumentId>,
    ) -> DomainResult<Vec<Candidate>> {
        let mut q = annotation::Entity::find()
            .select_only()
            .columns([
                annotation::Column::Id,
                annotation::Column::DocumentId,
                annotation::Column::StartOffset,
                annotation::Column::EndOffset,
                annotation::Column::EntityTypeId,
                annotation::Column::ConfidenceScore,
                annotation::Column::LlmModelId,
            ])
            .filter(annotation::Column::ProjectId.eq(project.0))
            .filter(annotation::Column::Layer.eq(super::entities::CURATED))
            .filter(annotation::Column::IsVerified.eq(false))
            .filter(annotation::Column::Source.eq(EntitySource::Llm.as_str()));
        if let Some(d) = document_id {
            q = q.filter(annotation::Column::DocumentId.eq(d.0));
        }
        let rows: Vec<CandidateRow> = q.into_tuple().all(self.connection()).await.map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|(id, d, s, e, t, c, m)| Candidate {
                id: EntityId(id),
                document_id: DocumentId(d),
                start: s as u32,
                end: e as u32,
                entity_type: EntityTypeId(t),
                confidence: c,
                model: m,
            })
            .collect())
    }
}

/// A suggestion's id, document, start, end, type, confidence and model.
type CandidateRow = (Uuid, Uuid, i32, i32, Uuid, Option<f64>, Option<Uuid>);

impl LearningRunStore for Store {
    async fn gold(&self, project: ProjectId, excluding: &[DocumentId]) -> DomainResult<Vec<GoldDocument>> {
        LearningRepository::gold(self, project, excluding).await
    }

    async fn running_experiment_documents(&self, project: ProjectId) -> DomainResult<Vec<DocumentId>> {
        LearningRepository::running_experiment_documents(self, project).await
    }

    async fn reference_names(&self, project: ProjectId) -> DomainResult<Vec<(String, EntityTypeId)>> {
        let types = EntityTypeRepository::entity_types(self).await?;
        let approved = KnowledgeRepository::approved_names(self, project).await?;
        Ok(nishan_domain::learn::names::reference_names(&types, approved))
    }

    async fn learned_model(&self, project: ProjectId) -> DomainResult<Option<StoredModel>> {
        let Some(row) = learned_model::Entity::find()
            .filter(learned_model::Column::ProjectId.eq(project.0))
            .order_by_desc(learned_model::Column::Version)
            .one(self.connection())
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        let bytes = row.model;
        let i = info(InfoRow {
            id: row.id,
            project_id: row.project_id,
            version: row.version,
            trained_at: row.trained_at,
            gold_entities: row.gold_entities,
            gold_lines: row.gold_lines,
            metrics: row.metrics,
            job_id: row.job_id,
            created_by: row.created_by,
        })?;
        Ok(Some(StoredModel { info: i, bytes }))
    }

    async fn store_learned_model(
        &self,
        fence: &Fence,
        model: NewLearnedModel,
    ) -> DomainResult<Option<(Job, LearnedModelInfo)>> {
        let txn = self.write().await?;
        self.lock_project(&txn, model.project_id).await?;
        let last: Option<i32> = learned_model::Entity::find()
            .select_only()
            .column_as(learned_model::Column::Version.max(), "v")
            .filter(learned_model::Column::ProjectId.eq(model.project_id.0))
            .into_tuple::<Option<i32>>()
            .one(&txn)
            .await
            .map_err(internal)?
            .flatten();
        let version = last.unwrap_or(0) + 1;
        let mut fence = fence.clone();
        fence.job.checkpoint = json!({"version": version});
        let Some(job) = save_progress_in(&txn, &fence, 0, 0).await? else {
            return Ok(None);
        };
        let overall = &model.metrics.exact.overall;
        let id = Uuid::now_v7();
        learned_model::ActiveModel {
            id: Set(id),
            project_id: Set(model.project_id.0),
            version: Set(version),
            trained_at: Set(model.trained_at),
            gold_entities: Set(model.gold_entities as i32),
            gold_lines: Set(model.gold_lines as i32),
            precision: Set(overall.precision),
            recall: Set(overall.recall),
            f1: Set(overall.f1),
            metrics: Set(serde_json::to_value(&model.metrics).map_err(DomainError::internal)?),
            model: Set(model.bytes.clone()),
            job_id: Set(model.job_id),
            created_by: Set(model.created_by.map(|u| u.0)),
        }
        .insert(&txn)
        .await
        .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        let info = LearnedModelInfo {
            id,
            project_id: model.project_id,
            version: version as u32,
            trained_at: model.trained_at,
            gold_entities: model.gold_entities,
            gold_lines: model.gold_lines,
            metrics: model.metrics,
            job_id: model.job_id,
            created_by: model.created_by,
        };
        Ok(Some((job, info)))
    }

    async fn off_thread<T, F>(&self, work: F) -> DomainResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        tokio::task::spawn_blocking(work).await.map_err(|e| DomainError::internal(format!("the work failed: {e}")))
    }

    async fn experiment_of_job(&self, job: JobId) -> DomainResult<Option<Experiment>> {
        let id: Option<Uuid> = experiment_run::Entity::find()
            .select_only()
            .column(experiment_run::Column::ExperimentId)
            .filter(experiment_run::Column::JobId.eq(job))
            .into_tuple()
            .one(self.connection())
            .await
            .map_err(internal)?;
        match id {
            Some(id) => self.experiment_in(self.connection(), id).await,
            None => Ok(None),
        }
    }

    async fn store_predictions(
        &self,
        fence: &Fence,
        run: Uuid,
        document_id: DocumentId,
        predictions: Vec<Prediction>,
    ) -> DomainResult<Option<Job>> {
        let txn = self.write().await?;
        let Some(job) = save_progress_in(&txn, fence, 0, 0).await? else {
            return Ok(None);
        };
        experiment_prediction::Entity::delete_many()
            .filter(experiment_prediction::Column::RunId.eq(run))
            .filter(experiment_prediction::Column::DocumentId.eq(document_id.0))
            .exec(&txn)
            .await
            .map_err(internal)?;
        for chunk in predictions.chunks(500) {
            let rows = chunk.iter().map(|p| experiment_prediction::ActiveModel {
                id: Set(Uuid::now_v7()),
                run_id: Set(run),
                document_id: Set(p.document_id.0),
                start: Set(p.start as i32),
                end: Set(p.end as i32),
                entity_type_id: Set(p.entity_type.0),
                confidence: Set(p.confidence),
            });
            experiment_prediction::Entity::insert_many(rows).exec(&txn).await.map_err(internal)?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(Some(job))
    }

    async fn predictions(&self, run: Uuid) -> DomainResult<Vec<Prediction>> {
        Ok(experiment_prediction::Entity::find()
            .filter(experiment_prediction::Column::RunId.eq(run))
            .order_by_asc(experiment_prediction::Column::DocumentId)
            .order_by_asc(experiment_prediction::Column::Start)
            .order_by_asc(experiment_prediction::Column::End)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(prediction)
            .collect())
    }

    async fn store_run_result(&self, fence: &Fence, run: Uuid, result: ExperimentResult) -> DomainResult<Option<Job>> {
        let txn = self.write().await?;
        let Some(job) = save_progress_in(&txn, fence, 0, 0).await? else {
            return Ok(None);
        };
        experiment_run::Entity::update_many()
            .col_expr(
                experiment_run::Column::Result,
                Expr::value(serde_json::to_value(&result).map_err(DomainError::internal)?),
            )
            .filter(experiment_run::Column::Id.eq(run))
            .exec(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        Ok(Some(job))
    }
}
