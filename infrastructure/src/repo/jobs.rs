//! The durable job queue. Claims are atomic: on PostgreSQL the next job is locked with
//! `FOR UPDATE SKIP LOCKED`, so replicas never wait on each other nor take the same job; on
//! SQLite one `UPDATE ... RETURNING` runs inside an IMMEDIATE transaction (SQLite has one
//! writer). A claim holds a lease that the worker extends with each step; a job whose lease
//! expired (its server died) goes back to the queue. Every write of a running job is fenced:
//! a conditional UPDATE that changes the row only while the writing worker holds the lease
//! (status PROCESSING, `lease_owner` the worker), and the requeue of expired jobs only
//! touches rows whose lease is still expired when it runs, so a job claimed or renewed
//! meanwhile is never put back, nor its progress moved backwards.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nishan_domain::audit::AuditEntry;
use nishan_domain::job::{
    Job, JobAction, JobId, JobKind, JobStatus, JobTarget, MAX_ATTEMPTS, apply_action, document_status,
};
use nishan_domain::ports::{DeadRunStore, Fence, JobFilter, JobRepository, JobRunStore, Page, PageRequest};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Cond, Expr, ExprTrait, Func, LockBehavior, LockType, Query, QueryStatementBuilder};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, Iterable,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use uuid::Uuid;

use super::{Store, audit, internal};
use crate::entity::{document, processing_job, project_membership};

pub(crate) fn job(m: processing_job::Model) -> DomainResult<Job> {
    Ok(Job {
        id: m.id,
        kind: JobKind::parse(&m.kind)?,
        project_id: m.project_id.into(),
        target: match m.document_id {
            Some(d) => JobTarget::Document(d.into()),
            None => JobTarget::Project,
        },
        params: m.params,
        llm_model_id: m.llm_model_id,
        processing_config_id: m.processing_config_id,
        status: JobStatus::parse(&m.status)?,
        priority: m.priority,
        progress: m.progress as u32,
        total_steps: m.total_steps as u32,
        completed_steps: m.completed_steps as u32,
        current_step: m.current_step,
        entities_found: m.entities_found as u32,
        entities_dropped: m.entities_dropped as u32,
        started_at: m.started_at,
        completed_at: m.completed_at,
        estimated_completion_at: m.estimated_completion_at,
        error_message: m.error_message,
        error_details: m.error_details,
        tokens_used: m.tokens_used,
        cost: m.cost,
        retry_count: m.retry_count as u32,
        max_retries: m.max_retries as u32,
        attempts: m.attempts as u32,
        cancel_requested: m.cancel_requested,
        pause_requested: m.pause_requested,
        document_version: m.document_version.map(|v| v as u32),
        checkpoint: m.checkpoint,
        created_by: m.created_by.map(Into::into),
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Every column of a job as a researcher or a worker may change it (not the lease).
fn job_row(j: &Job) -> processing_job::ActiveModel {
    processing_job::ActiveModel {
        id: Set(j.id),
        status: Set(j.status.as_str().to_owned()),
        priority: Set(j.priority),
        progress: Set(j.progress as i32),
        total_steps: Set(j.total_steps as i32),
        completed_steps: Set(j.completed_steps as i32),
        current_step: Set(j.current_step.clone()),
        entities_found: Set(j.entities_found as i32),
        entities_dropped: Set(j.entities_dropped as i32),
        started_at: Set(j.started_at),
        completed_at: Set(j.completed_at),
        estimated_completion_at: Set(j.estimated_completion_at),
        error_message: Set(j.error_message.clone()),
        error_details: Set(j.error_details.clone()),
        retry_count: Set(j.retry_count as i32),
        attempts: Set(j.attempts as i32),
        cancel_requested: Set(j.cancel_requested),
        pause_requested: Set(j.pause_requested),
        document_version: Set(j.document_version.map(|v| v as i32)),
        checkpoint: Set(j.checkpoint.clone()),
        updated_at: Set(j.updated_at),
        ..Default::default()
    }
}

/// Keeps the document's processing status in step with its job (a document job's).
async fn sync_document(txn: &DatabaseTransaction, j: &Job) -> DomainResult<()> {
    let Some(document_id) = j.document_id() else { return Ok(()) };
    let status = document_status(j.status);
    let mut update = document::Entity::update_many()
        .col_expr(document::Column::ProcessingStatus, Expr::value(status.as_str()))
        .col_expr(document::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(document::Column::Id.eq(document_id.0));
    if j.status == JobStatus::Processing {
        update = update.col_expr(document::Column::ProcessingStartedAt, Expr::value(j.started_at));
    }
    if j.status.is_final() {
        let duration = match (j.started_at, j.completed_at) {
            (Some(s), Some(e)) => Some((e - s).num_milliseconds()),
            _ => None,
        };
        update = update
            .col_expr(document::Column::ProcessingCompletedAt, Expr::value(j.completed_at))
            .col_expr(document::Column::ProcessingDurationMs, Expr::value(duration));
    }
    update.exec(txn).await.map_err(internal)?;
    Ok(())
}

/// `RETURNING` every column by name. Not `RETURNING *`: a pooled SQLite connection that read
/// the schema before a migration rebuilt the table expands `*` to the old columns, and sqlx
/// then reads a row longer than it expects (named columns make SQLite reload the schema).
fn every_column() -> sea_orm::sea_query::ReturningClause {
    Query::returning().columns(processing_job::Column::iter())
}

/// Ends the runs of the PROCESSING jobs matching `which`, in one conditional UPDATE: back to
/// the queue, or FAILED with `failure`. Returns the jobs as they became.
async fn end_runs(
    txn: &DatabaseTransaction,
    which: Cond,
    now: DateTime<Utc>,
    failure: Option<&str>,
) -> DomainResult<Vec<Job>> {
    let mut update = Query::update();
    update
        .table(processing_job::Entity)
        .value(processing_job::Column::LeaseOwner, Option::<String>::None)
        .value(processing_job::Column::LeaseExpiresAt, Option::<DateTime<Utc>>::None)
        .value(processing_job::Column::UpdatedAt, now)
        .cond_where(which)
        .returning(every_column());
    match failure {
        Some(message) => update
            .value(processing_job::Column::Status, JobStatus::Failed.as_str())
            .value(processing_job::Column::ErrorMessage, message)
            .value(processing_job::Column::CompletedAt, now)
            .value(processing_job::Column::CurrentStep, "failed: its runs kept stopping"),
        None => update.value(processing_job::Column::Status, JobStatus::Queued.as_str()).value(
            processing_job::Column::CurrentStep,
            Expr::cust("'requeued after step ' || completed_steps || ' of ' || total_steps || ' (its worker stopped)'"),
        ),
    };
    let backend = txn.get_database_backend();
    processing_job::Model::find_by_statement(backend.build(&update))
        .all(txn)
        .await
        .map_err(internal)?
        .into_iter()
        .map(job)
        .collect()
}

/// Stores a fence's progress (the fields a run changes) and extends its lease, if the fence's
/// worker still holds the job, in one `UPDATE ... RETURNING`; `None` when it does not (nothing
/// is written). `found` and `dropped` are added to the fence's `entities_found` and
/// `entities_dropped` (what the step's own writes stored and dropped). For every fenced write
/// of a run, inside that write's transaction.
pub(crate) async fn save_progress_in(
    txn: &DatabaseTransaction,
    fence: &Fence,
    found: u32,
    dropped: u32,
) -> DomainResult<Option<Job>> {
    let j = &fence.job;
    let update = Query::update()
        .table(processing_job::Entity)
        .value(processing_job::Column::Progress, j.progress as i32)
        .value(processing_job::Column::TotalSteps, j.total_steps as i32)
        .value(processing_job::Column::CompletedSteps, j.completed_steps as i32)
        .value(processing_job::Column::CurrentStep, j.current_step.clone())
        .value(processing_job::Column::EntitiesFound, (j.entities_found + found) as i32)
        .value(processing_job::Column::EntitiesDropped, (j.entities_dropped + dropped) as i32)
        .value(processing_job::Column::EstimatedCompletionAt, j.estimated_completion_at)
        .value(processing_job::Column::ErrorDetails, j.error_details.clone())
        .value(processing_job::Column::DocumentVersion, j.document_version.map(|v| v as i32))
        .value(processing_job::Column::Checkpoint, j.checkpoint.clone())
        .value(processing_job::Column::LeaseExpiresAt, fence.lease_until)
        .value(processing_job::Column::UpdatedAt, Utc::now())
        .and_where(processing_job::Column::Id.eq(j.id))
        .and_where(processing_job::Column::LeaseOwner.eq(fence.worker.as_str()))
        .and_where(processing_job::Column::Status.eq(JobStatus::Processing.as_str()))
        .returning(every_column())
        .to_owned();
    let backend = txn.get_database_backend();
    processing_job::Model::find_by_statement(backend.build(&update))
        .one(txn)
        .await
        .map_err(internal)?
        .map(job)
        .transpose()
}

impl DeadRunStore for Store {
    async fn requeue_expired(&self, now: DateTime<Utc>, failure: &str) -> DomainResult<Vec<Job>> {
        let txn = self.write().await?;
        let expired = || {
            Cond::all()
                .add(processing_job::Column::Status.eq(JobStatus::Processing.as_str()))
                .add(processing_job::Column::LeaseExpiresAt.lt(now))
        };
        let mut ended = end_runs(
            &txn,
            expired().add(processing_job::Column::Attempts.gte(MAX_ATTEMPTS as i32)),
            now,
            Some(failure),
        )
        .await?;
        ended.extend(end_runs(&txn, expired(), now, None).await?);
        for j in &ended {
            sync_document(&txn, j).await?;
            super::webhooks::queue_job_end(&txn, j).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(ended)
    }

    async fn release_dead_run(
        &self,
        id: JobId,
        worker: &str,
        failure: &str,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<Job>> {
        let txn = self.write().await?;
        let held = || {
            Cond::all()
                .add(processing_job::Column::Id.eq(id))
                .add(processing_job::Column::LeaseOwner.eq(worker))
                .add(processing_job::Column::Status.eq(JobStatus::Processing.as_str()))
        };
        let mut ended =
            end_runs(&txn, held().add(processing_job::Column::Attempts.gte(MAX_ATTEMPTS as i32)), now, Some(failure))
                .await?;
        if ended.is_empty() {
            ended = end_runs(&txn, held(), now, None).await?;
        }
        for j in &ended {
            sync_document(&txn, j).await?;
            super::webhooks::queue_job_end(&txn, j).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(ended.pop())
    }
}

impl JobRunStore for Store {
    async fn save_progress(&self, fence: &Fence) -> DomainResult<Option<Job>> {
        let txn = self.write().await?;
        let stored = save_progress_in(&txn, fence, 0, 0).await?;
        txn.commit().await.map_err(internal)?;
        Ok(stored)
    }

    async fn finish_run(&self, j: &Job, worker: &str) -> DomainResult<Option<Job>> {
        JobStatus::Processing.transition(j.status)?;
        let txn = self.write().await?;
        let update = Query::update()
            .table(processing_job::Entity)
            .value(processing_job::Column::Status, j.status.as_str())
            .value(processing_job::Column::Progress, j.progress as i32)
            .value(processing_job::Column::TotalSteps, j.total_steps as i32)
            .value(processing_job::Column::CompletedSteps, j.completed_steps as i32)
            .value(processing_job::Column::CurrentStep, j.current_step.clone())
            .value(processing_job::Column::EntitiesFound, j.entities_found as i32)
            .value(processing_job::Column::EntitiesDropped, j.entities_dropped as i32)
            .value(processing_job::Column::CompletedAt, j.completed_at)
            .value(processing_job::Column::EstimatedCompletionAt, j.estimated_completion_at)
            .value(processing_job::Column::ErrorMessage, j.error_message.clone())
            .value(processing_job::Column::ErrorDetails, j.error_details.clone())
            .value(processing_job::Column::CancelRequested, j.cancel_requested)
            .value(processing_job::Column::PauseRequested, j.pause_requested)
            .value(processing_job::Column::DocumentVersion, j.document_version.map(|v| v as i32))
            .value(processing_job::Column::Checkpoint, j.checkpoint.clone())
            .value(processing_job::Column::LeaseOwner, Option::<String>::None)
            .value(processing_job::Column::LeaseExpiresAt, Option::<DateTime<Utc>>::None)
            .value(processing_job::Column::UpdatedAt, j.updated_at)
            .and_where(processing_job::Column::Id.eq(j.id))
            .and_where(processing_job::Column::LeaseOwner.eq(worker))
            .and_where(processing_job::Column::Status.eq(JobStatus::Processing.as_str()))
            .returning(every_column())
            .to_owned();
        let backend = txn.get_database_backend();
        let stored = processing_job::Model::find_by_statement(backend.build(&update))
            .one(&txn)
            .await
            .map_err(internal)?
            .map(job)
            .transpose()?;
        if let Some(stored) = &stored {
            sync_document(&txn, stored).await?;
            super::webhooks::queue_job_end(&txn, stored).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(stored)
    }
}

impl Store {
    async fn job_in(&self, conn: &impl ConnectionTrait, id: JobId) -> DomainResult<Option<Job>> {
        processing_job::Entity::find_by_id(id).one(conn).await.map_err(internal)?.map(job).transpose()
    }
}

/// Inserts a new job in a transaction (and keeps its document's processing status in step).
pub(crate) async fn insert_job_in(txn: &DatabaseTransaction, j: &Job) -> DomainResult<Job> {
    let mut row = job_row(j);
    row.kind = Set(j.kind.as_str().to_owned());
    row.document_id = Set(j.document_id().map(|d| d.0));
    row.params = Set(j.params.clone());
    row.project_id = Set(j.project_id.0);
    row.llm_model_id = Set(j.llm_model_id);
    row.processing_config_id = Set(j.processing_config_id);
    row.tokens_used = Set(0);
    row.cost = Set(0.0);
    row.max_retries = Set(j.max_retries as i32);
    row.attempts = Set(0);
    row.lease_owner = Set(None);
    row.lease_expires_at = Set(None);
    row.created_by = Set(j.created_by.map(|u| u.0));
    row.created_at = Set(j.created_at);
    let stored = job(row.insert(txn).await.map_err(internal)?)?;
    sync_document(txn, &stored).await?;
    Ok(stored)
}

impl JobRepository for Store {
    async fn create_job(&self, j: Job, audit_entry: AuditEntry) -> DomainResult<Job> {
        let txn = self.write().await?;
        super::sources::hold_for_job(self, &txn, &j).await?;
        let stored = insert_job_in(&txn, &j).await?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(stored)
    }

    async fn job_by_id(&self, id: JobId) -> DomainResult<Option<Job>> {
        self.job_in(self.connection(), id).await
    }

    async fn jobs(&self, filter: &JobFilter, page: PageRequest) -> DomainResult<Page<Job>> {
        let mut q = processing_job::Entity::find();
        if let Some(p) = filter.project_id {
            q = q.filter(processing_job::Column::ProjectId.eq(p.0));
        }
        if let Some(d) = filter.document_id {
            q = q.filter(processing_job::Column::DocumentId.eq(d.0));
        }
        if let Some(s) = filter.status {
            q = q.filter(processing_job::Column::Status.eq(s.as_str()));
        }
        if let Some(k) = filter.kind {
            q = q.filter(processing_job::Column::Kind.eq(k.as_str()));
        }
        if let Some(user) = filter.member {
            let mine = Query::select()
                .column(project_membership::Column::ProjectId)
                .from(project_membership::Entity)
                .and_where(project_membership::Column::UserId.eq(user.0))
                .and_where(project_membership::Column::IsActive.eq(true))
                .to_owned();
            q = q.filter(processing_job::Column::ProjectId.in_subquery(mine));
        }
        let total = q.clone().count(self.connection()).await.map_err(internal)?;
        let rows = q
            .order_by_desc(processing_job::Column::CreatedAt)
            .order_by_desc(processing_job::Column::Id)
            .offset(page.offset)
            .limit(page.limit)
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(Page { items: rows.into_iter().map(job).collect::<DomainResult<_>>()?, total })
    }

    async fn job_counts(&self) -> DomainResult<HashMap<JobStatus, u64>> {
        let rows: Vec<(String, i64)> = processing_job::Entity::find()
            .select_only()
            .column(processing_job::Column::Status)
            .column_as(processing_job::Column::Id.count(), "n")
            .group_by(processing_job::Column::Status)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        rows.into_iter().map(|(s, n)| Ok((JobStatus::parse(&s)?, n as u64))).collect()
    }

    async fn claim_next(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> DomainResult<Option<Job>> {
        // A look without the write lock first: an idle worker's claim must not queue behind
        // (or hold up) every writer when nothing is queued. A job queued after this look
        // announces itself on the bus, which the worker waits on next.
        let queued = processing_job::Entity::find()
            .select_only()
            .column(processing_job::Column::Id)
            .filter(processing_job::Column::Status.eq(JobStatus::Queued.as_str()))
            .into_tuple::<Uuid>()
            .one(self.connection())
            .await
            .map_err(internal)?;
        if queued.is_none() {
            return Ok(None);
        }
        let txn = self.write().await?;
        let mut next = Query::select()
            .column(processing_job::Column::Id)
            .from(processing_job::Entity)
            .and_where(processing_job::Column::Status.eq(JobStatus::Queued.as_str()))
            .order_by(processing_job::Column::Priority, sea_orm::Order::Desc)
            .order_by(processing_job::Column::CreatedAt, sea_orm::Order::Asc)
            .limit(1)
            .to_owned();
        if self.is_postgres() {
            next.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let claim = Query::update()
            .table(processing_job::Entity)
            .value(processing_job::Column::Status, JobStatus::Processing.as_str())
            .value(processing_job::Column::Attempts, Expr::col(processing_job::Column::Attempts).add(1))
            .value(processing_job::Column::LeaseOwner, worker)
            .value(processing_job::Column::LeaseExpiresAt, lease_until)
            .value(processing_job::Column::UpdatedAt, now)
            .value(
                processing_job::Column::StartedAt,
                Func::coalesce([Expr::col(processing_job::Column::StartedAt), Expr::val(now)]),
            )
            // `id = (scalar subquery)`: run once. `id IN (subquery)` may be run again for each
            // row on PostgreSQL, and with SKIP LOCKED each run can name another job, so one
            // claim could take several jobs while others claim at the same time.
            .and_where(
                Expr::col(processing_job::Column::Id)
                    .eq(Expr::SubQuery(None, Box::new(next.into_sub_query_statement()))),
            )
            .and_where(processing_job::Column::Status.eq(JobStatus::Queued.as_str()))
            .returning(every_column())
            .to_owned();
        let backend = txn.get_database_backend();
        let claimed =
            processing_job::Model::find_by_statement(backend.build(&claim)).one(&txn).await.map_err(internal)?;
        let Some(row) = claimed else {
            txn.commit().await.map_err(internal)?;
            return Ok(None);
        };
        let claimed = job(row)?;
        sync_document(&txn, &claimed).await?;
        txn.commit().await.map_err(internal)?;
        Ok(Some(claimed))
    }

    async fn extend_lease(&self, id: JobId, worker: &str, lease_until: DateTime<Utc>) -> DomainResult<bool> {
        let updated = processing_job::Entity::update_many()
            .col_expr(processing_job::Column::LeaseExpiresAt, Expr::value(lease_until))
            .filter(processing_job::Column::Id.eq(id))
            .filter(processing_job::Column::LeaseOwner.eq(worker))
            .filter(processing_job::Column::Status.eq(JobStatus::Processing.as_str()))
            .exec(self.connection())
            .await
            .map_err(internal)?;
        Ok(updated.rows_affected == 1)
    }

    async fn act_on_job(&self, id: JobId, action: JobAction, audit_entry: AuditEntry) -> DomainResult<Job> {
        let txn = self.write().await?;
        let mut q = processing_job::Entity::find_by_id(id);
        if self.is_postgres() {
            q = q.lock_exclusive();
        }
        let current = job(q.one(&txn).await.map_err(internal)?.ok_or(DomainError::NotFound { resource: "job" })?)?;
        let before = current.status;
        let changed = apply_action(current, action, Utc::now())?;
        let stored = job(job_row(&changed).update(&txn).await.map_err(internal)?)?;
        if stored.status != before {
            sync_document(&txn, &stored).await?;
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(stored)
    }
}
