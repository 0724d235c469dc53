//! The durable job queue. Claims are atomic: on PostgreSQL the next job is locked with
//! `FOR UPDATE SKIP LOCKED`, so replicas never wait on each other nor take the same job; on
//! SQLite one `UPDATE ... RETURNING` runs inside an IMMEDIATE transaction (SQLite has one
//! writer). A claim holds a lease that the worker extends with each step; a job whose lease
//! expired (its server died) goes back to the queue.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nishan_domain::audit::AuditEntry;
use nishan_domain::job::{Job, JobAction, JobId, JobStatus, apply_action, document_status};
use nishan_domain::ports::{JobFilter, JobRepository, Page, PageRequest};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::{Store, audit, internal};
use crate::entity::{document, processing_job, project_membership};

fn job(m: processing_job::Model) -> DomainResult<Job> {
    Ok(Job {
        id: m.id,
        document_id: m.document_id.into(),
        project_id: m.project_id.into(),
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
        cancel_requested: Set(j.cancel_requested),
        pause_requested: Set(j.pause_requested),
        updated_at: Set(j.updated_at),
        ..Default::default()
    }
}

/// Keeps the document's processing status in step with its job.
async fn sync_document(txn: &DatabaseTransaction, j: &Job) -> DomainResult<()> {
    let status = document_status(j.status);
    let mut update = document::Entity::update_many()
        .col_expr(document::Column::ProcessingStatus, Expr::value(status.as_str()))
        .col_expr(document::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(document::Column::Id.eq(j.document_id.0));
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

impl Store {
    async fn job_in(&self, conn: &impl ConnectionTrait, id: JobId) -> DomainResult<Option<Job>> {
        processing_job::Entity::find_by_id(id).one(conn).await.map_err(internal)?.map(job).transpose()
    }
}

impl JobRepository for Store {
    async fn create_job(&self, j: Job, audit_entry: AuditEntry) -> DomainResult<Job> {
        let txn = self.write().await?;
        let mut row = job_row(&j);
        row.document_id = Set(j.document_id.0);
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
        let stored = job(row.insert(&txn).await.map_err(internal)?)?;
        sync_document(&txn, &stored).await?;
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
            .and_where(processing_job::Column::Id.in_subquery(next))
            .and_where(processing_job::Column::Status.eq(JobStatus::Queued.as_str()))
            .returning_all()
            .to_owned();
        let backend = txn.get_database_backend();
        let claimed =
            processing_job::Model::find_by_statement(backend.build(&claim)).one(&txn).await.map_err(internal)?;
        let Some(row) = claimed else {
            txn.commit().await.map_err(internal)?;
            return Ok(None);
        };
        let mut claimed = job(row)?;
        if claimed.started_at.is_none() {
            claimed.started_at = Some(now);
            processing_job::Entity::update_many()
                .col_expr(processing_job::Column::StartedAt, Expr::value(now))
                .filter(processing_job::Column::Id.eq(claimed.id))
                .exec(&txn)
                .await
                .map_err(internal)?;
        }
        sync_document(&txn, &claimed).await?;
        txn.commit().await.map_err(internal)?;
        Ok(Some(claimed))
    }

    async fn requeue_expired(&self, now: DateTime<Utc>) -> DomainResult<Vec<Job>> {
        let txn = self.write().await?;
        let expired = processing_job::Entity::find()
            .filter(processing_job::Column::Status.eq(JobStatus::Processing.as_str()))
            .filter(processing_job::Column::LeaseExpiresAt.lt(now))
            .all(&txn)
            .await
            .map_err(internal)?;
        let mut requeued = Vec::with_capacity(expired.len());
        for row in expired {
            let mut j = job(row)?;
            j.status = j.status.transition(JobStatus::Queued)?;
            j.current_step =
                Some(format!("requeued after chunk {} of {} (the worker stopped)", j.completed_steps, j.total_steps));
            j.updated_at = now;
            let mut r = job_row(&j);
            r.lease_owner = Set(None);
            r.lease_expires_at = Set(None);
            r.update(&txn).await.map_err(internal)?;
            sync_document(&txn, &j).await?;
            requeued.push(j);
        }
        txn.commit().await.map_err(internal)?;
        Ok(requeued)
    }

    async fn save_progress(&self, j: &Job, worker: &str, lease_until: DateTime<Utc>) -> DomainResult<Option<Job>> {
        let txn = self.write().await?;
        let updated = processing_job::Entity::update_many()
            .col_expr(processing_job::Column::Progress, Expr::value(j.progress as i32))
            .col_expr(processing_job::Column::TotalSteps, Expr::value(j.total_steps as i32))
            .col_expr(processing_job::Column::CompletedSteps, Expr::value(j.completed_steps as i32))
            .col_expr(processing_job::Column::CurrentStep, Expr::value(j.current_step.clone()))
            .col_expr(processing_job::Column::EntitiesFound, Expr::value(j.entities_found as i32))
            .col_expr(processing_job::Column::EntitiesDropped, Expr::value(j.entities_dropped as i32))
            .col_expr(processing_job::Column::EstimatedCompletionAt, Expr::value(j.estimated_completion_at))
            .col_expr(processing_job::Column::ErrorDetails, Expr::value(j.error_details.clone()))
            .col_expr(processing_job::Column::LeaseExpiresAt, Expr::value(lease_until))
            .col_expr(processing_job::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(processing_job::Column::Id.eq(j.id))
            .filter(processing_job::Column::LeaseOwner.eq(worker))
            .filter(processing_job::Column::Status.eq(JobStatus::Processing.as_str()))
            .exec(&txn)
            .await
            .map_err(internal)?;
        let stored = if updated.rows_affected == 1 { self.job_in(&txn, j.id).await? } else { None };
        txn.commit().await.map_err(internal)?;
        Ok(stored)
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

    async fn finish_run(&self, j: &Job, worker: &str) -> DomainResult<Option<Job>> {
        let txn = self.write().await?;
        let Some(current) = processing_job::Entity::find_by_id(j.id)
            .filter(processing_job::Column::LeaseOwner.eq(worker))
            .one(&txn)
            .await
            .map_err(internal)?
        else {
            txn.commit().await.map_err(internal)?;
            return Ok(None);
        };
        JobStatus::parse(&current.status)?.transition(j.status)?;
        let mut r = job_row(j);
        r.lease_owner = Set(None);
        r.lease_expires_at = Set(None);
        let stored = job(r.update(&txn).await.map_err(internal)?)?;
        sync_document(&txn, &stored).await?;
        txn.commit().await.map_err(internal)?;
        Ok(Some(stored))
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
