//! Assignments of documents to annotators, and the claim every write to an annotator's layer
//! makes on its assignment in the write's own transaction.
//!
//! Serialisation: an assigning transaction first locks the project's row (PostgreSQL; SQLite
//! runs one writer at a time), so two spreads at once plan one after the other, each from the
//! loads the other left; the unique (document, annotator) index keeps any pair single anyway.
//! A state change and a claim both lock the assignment's row (an `UPDATE ... WHERE state IN
//! (...)` re-checked after the lock), so an edit racing `finishAssignment` either commits
//! before the FINISHED state or finds it and is refused.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use nishan_domain::audit::AuditEntry;
use nishan_domain::ids::{DocumentId, ProjectId, UserId};
use nishan_domain::ports::{AssignmentChange, AssignmentPlan, AssignmentRepository, Page, PageRequest};
use nishan_domain::rounds::Layer;
use nishan_domain::rounds::assignment::{Assignment, AssignmentId, AssignmentState};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::{Store, audit, internal};
use crate::entity::{assignment, project};

pub(crate) fn to_domain(m: assignment::Model) -> DomainResult<Assignment> {
    Ok(Assignment {
        id: AssignmentId(m.id),
        project_id: ProjectId(m.project_id),
        document_id: DocumentId(m.document_id),
        annotator: UserId(m.annotator_id),
        state: AssignmentState::parse(&m.state)?,
        started_at: m.started_at,
        finished_at: m.finished_at,
        created_at: m.created_at,
        touched_at: m.touched_at,
    })
}

fn row(a: &Assignment) -> assignment::ActiveModel {
    assignment::ActiveModel {
        id: Set(a.id.0),
        project_id: Set(a.project_id.0),
        document_id: Set(a.document_id.0),
        annotator_id: Set(a.annotator.0),
        state: Set(a.state.as_str().to_owned()),
        started_at: Set(a.started_at),
        finished_at: Set(a.finished_at),
        created_at: Set(a.created_at),
        touched_at: Set(a.touched_at),
    }
}

/// States whose layer takes edits.
fn editable() -> Vec<&'static str> {
    AssignmentState::ALL.into_iter().filter(|s| s.takes_edits()).map(AssignmentState::as_str).collect()
}

/// The claim a write to `layer` of `doc` makes, in the write's transaction: for an annotator's
/// layer, their assignment of the document must take edits (CONFLICT when FINISHED or LOCKED,
/// FORBIDDEN when there is none); a NEW one becomes IN_PROGRESS, and it is touched. Other
/// layers claim nothing. When the claim starts the assignment of a project that pre-annotates,
/// the layer gets its copy of the models' layers (after the write's own rows, which win a span).
pub(crate) async fn claim(txn: &DatabaseTransaction, doc: DocumentId, layer: Layer) -> DomainResult<()> {
    claim_deferred(txn, doc, layer).await?.pre_annotate(txn).await
}

/// A claim made, whose pre-annotation (if any) is still to copy.
#[must_use = "copy the pre-annotation with `pre_annotate` after the write"]
pub(crate) struct Claim(Option<(DocumentId, UserId)>);

impl Claim {
    /// Copies the models' layers of the document into the annotator's layer, if the claim
    /// started the assignment of a project that pre-annotates: one INSERT ... SELECT, spans the
    /// layer has already skipped, every copy unverified, the counts moved by what was copied.
    pub(crate) async fn pre_annotate(self, txn: &DatabaseTransaction) -> DomainResult<()> {
        let Some((doc, annotator)) = self.0 else { return Ok(()) };
        copy_models_layers(txn, doc, annotator).await
    }
}

/// As `claim`, with the pre-annotation left to the caller (to copy after its own rows).
pub(crate) async fn claim_deferred(txn: &DatabaseTransaction, doc: DocumentId, layer: Layer) -> DomainResult<Claim> {
    let Some(annotator) = layer.annotator() else { return Ok(Claim(None)) };
    let pre_annotate = still_independent(txn, doc).await?;
    let now = Utc::now();
    // Starting it for the first time: of two first changes at once, one finds it NEW and never
    // started (PostgreSQL re-checks the row after the other's lock; SQLite runs one writer at
    // a time), so the layer is copied once. An assignment abandoned back to NEW keeps its
    // `started_at`: starting it again copies nothing (what the annotator deleted stays deleted).
    let started = assignment::Entity::update_many()
        .col_expr(assignment::Column::State, Expr::value(AssignmentState::InProgress.as_str()))
        .col_expr(assignment::Column::StartedAt, Expr::value(now))
        .col_expr(assignment::Column::TouchedAt, Expr::value(now))
        .filter(assignment::Column::DocumentId.eq(doc.0))
        .filter(assignment::Column::AnnotatorId.eq(annotator.0))
        .filter(assignment::Column::State.eq(AssignmentState::New.as_str()))
        .filter(assignment::Column::StartedAt.is_null())
        .exec(txn)
        .await
        .map_err(internal)?;
    if started.rows_affected == 1 {
        return Ok(Claim(pre_annotate.then_some((doc, annotator))));
    }
    claim_started(txn, doc, annotator, now).await.map(|()| Claim(None))
}

/// The claim on an assignment already started: it must take edits; it is touched.
async fn claim_started(
    txn: &DatabaseTransaction,
    doc: DocumentId,
    annotator: UserId,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let updated = assignment::Entity::update_many()
        .col_expr(
            assignment::Column::State,
            Expr::case(
                assignment::Column::State.eq(AssignmentState::New.as_str()),
                AssignmentState::InProgress.as_str(),
            )
            .finally(Expr::col(assignment::Column::State))
            .into(),
        )
        .col_expr(
            assignment::Column::StartedAt,
            Expr::case(assignment::Column::StartedAt.is_null(), Expr::value(now))
                .finally(Expr::col(assignment::Column::StartedAt))
                .into(),
        )
        .col_expr(assignment::Column::TouchedAt, Expr::value(now))
        .filter(assignment::Column::DocumentId.eq(doc.0))
        .filter(assignment::Column::AnnotatorId.eq(annotator.0))
        .filter(assignment::Column::State.is_in(editable()))
        .exec(txn)
        .await
        .map_err(internal)?;
    if updated.rows_affected == 1 {
        return Ok(());
    }
    let state: Option<String> = assignment::Entity::find()
        .select_only()
        .column(assignment::Column::State)
        .filter(assignment::Column::DocumentId.eq(doc.0))
        .filter(assignment::Column::AnnotatorId.eq(annotator.0))
        .into_tuple()
        .one(txn)
        .await
        .map_err(internal)?;
    Err(match state {
        None => DomainError::forbidden("the annotator is not assigned this document"),
        Some(s) => {
            DomainError::conflict(format!("the assignment is {s}: its layer takes no edits until a manager reopens it"))
        }
    })
}

/// A write in an annotator's layer re-reads its project's mode under a share lock of the
/// project's row (PostgreSQL; SQLite runs one writer at a time): a switch back to SHARED that
/// committed first makes it CONFLICT, and a switch after it waits and sees its entity. Returns
/// whether the project pre-annotates.
async fn still_independent(txn: &DatabaseTransaction, doc: DocumentId) -> DomainResult<bool> {
    let of_document = sea_orm::sea_query::Query::select()
        .column(crate::entity::document::Column::ProjectId)
        .from(crate::entity::document::Entity)
        .and_where(crate::entity::document::Column::Id.eq(doc.0))
        .to_owned();
    let mut q = project::Entity::find()
        .select_only()
        .column(project::Column::AnnotationMode)
        .column(project::Column::PreAnnotate)
        .filter(project::Column::Id.in_subquery(of_document));
    if txn.get_database_backend() == DbBackend::Postgres {
        q = q.lock_shared();
    }
    let mode: Option<(String, bool)> = q.into_tuple().one(txn).await.map_err(internal)?;
    match mode {
        None => Err(DomainError::NotFound { resource: "document" }),
        Some((m, _)) if m == nishan_domain::rounds::AnnotationMode::Shared.as_str() => Err(DomainError::conflict(
            "the project is SHARED now: annotators' layers take no edits (it has one layer, the curated one)",
        )),
        Some((_, pre_annotate)) => Ok(pre_annotate),
    }
}

/// Whether the project is INDEPENDENT and pre-annotates.
async fn pre_annotates(txn: &DatabaseTransaction, project: ProjectId) -> DomainResult<bool> {
    let found: Option<(String, bool)> = project::Entity::find_by_id(project.0)
        .select_only()
        .column(project::Column::AnnotationMode)
        .column(project::Column::PreAnnotate)
        .into_tuple()
        .one(txn)
        .await
        .map_err(internal)?;
    Ok(found.is_some_and(|(m, p)| p && m == nishan_domain::rounds::AnnotationMode::Independent.as_str()))
}

/// The pre-annotation copy: every entity of the document's models' layers into the
/// annotator's layer, in one statement, keeping offsets, types, contexts, confidence and
/// model; unverified, without notes, made by the annotator now. A span and type the layer has
/// (or that two models share) is copied once.
async fn copy_models_layers(txn: &DatabaseTransaction, doc: DocumentId, annotator: UserId) -> DomainResult<()> {
    let backend = txn.get_database_backend();
    let (fresh_id, marks) = match backend {
        DbBackend::Postgres => ("gen_random_uuid()", ["$1", "$2", "$3", "$4", "$5"]),
        // SQLite keeps a uuid as its 16 bytes.
        _ => ("randomblob(16)", ["?", "?", "?", "?", "?"]),
    };
    let layer = Layer::Annotator(annotator);
    let now = Utc::now();
    let [m_layer, m_unverified, m_by, m_now, m_doc] = marks;
    let sql = format!(
        "INSERT INTO entities (id, document_id, project_id, layer, entity_type_id, text, start_offset, end_offset, \
         utf16_start, utf16_end, line_number, stanza_number, word_position, context_before, context_after, \
         confidence_score, source, is_verified, verified_by, verified_at, notes, attributes, llm_model_id, \
         processing_job_id, created_by, updated_by, created_at, updated_at) \
         SELECT {fresh_id}, document_id, project_id, {m_layer}, entity_type_id, text, start_offset, end_offset, \
         utf16_start, utf16_end, line_number, stanza_number, word_position, context_before, context_after, \
         confidence_score, source, {m_unverified}, NULL, NULL, NULL, attributes, llm_model_id, NULL, {m_by}, {m_by}, \
         {m_now}, {m_now} FROM entities WHERE document_id = {m_doc} AND layer LIKE 'model:%' \
         ON CONFLICT (document_id, layer, start_offset, end_offset, entity_type_id) DO NOTHING"
    );
    // PostgreSQL numbers its marks (one value each); SQLite's `?` take them in order.
    let values: Vec<sea_orm::Value> = match backend {
        DbBackend::Postgres => {
            vec![layer.key().into(), false.into(), annotator.0.into(), now.into(), doc.0.into()]
        }
        _ => vec![
            layer.key().into(),
            false.into(),
            annotator.0.into(),
            annotator.0.into(),
            now.into(),
            now.into(),
            doc.0.into(),
        ],
    };
    let copied = txn
        .execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values))
        .await
        .map_err(internal)?
        .rows_affected();
    if copied > 0 {
        super::entities::adjust_counts(txn, doc, layer, copied as i64, 0).await?;
    }
    Ok(())
}

/// A project goes back to SHARED only while no annotator's layer of it holds an entity (their
/// work would be hidden): CONFLICT otherwise. Models' layers are kept (read again when the
/// project is INDEPENDENT once more).
pub(crate) async fn refuse_shared_while_annotated(txn: &DatabaseTransaction, project: ProjectId) -> DomainResult<()> {
    use crate::entity::annotation;
    let held: Option<Uuid> = annotation::Entity::find()
        .select_only()
        .column(annotation::Column::Id)
        .filter(annotation::Column::ProjectId.eq(project.0))
        .filter(annotation::Column::Layer.starts_with("annotator:"))
        .limit(1)
        .into_tuple()
        .one(txn)
        .await
        .map_err(internal)?;
    match held {
        None => Ok(()),
        Some(_) => Err(DomainError::conflict(
            "annotators' layers of this project hold entities: curate them (or delete them) before switching to SHARED",
        )),
    }
}

async fn lock_project(txn: &DatabaseTransaction, project: ProjectId) -> DomainResult<()> {
    let mut q = project::Entity::find_by_id(project.0).select_only().column(project::Column::Id);
    if txn.get_database_backend() == DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    let found: Option<Uuid> = q.into_tuple().one(txn).await.map_err(internal)?;
    found.map(|_| ()).ok_or(DomainError::NotFound { resource: "project" })
}

const ID_CHUNK: usize = 500;

impl AssignmentRepository for Store {
    async fn assign(
        &self,
        project: ProjectId,
        documents: &[DocumentId],
        annotators: &[UserId],
        plan: AssignmentPlan,
        audit_entry: AuditEntry,
    ) -> DomainResult<Vec<Assignment>> {
        let txn = self.write().await?;
        lock_project(&txn, project).await?;
        let loads: Vec<(Uuid, i64)> = assignment::Entity::find()
            .select_only()
            .column(assignment::Column::AnnotatorId)
            .column_as(assignment::Column::Id.count(), "n")
            .filter(assignment::Column::ProjectId.eq(project.0))
            .filter(assignment::Column::AnnotatorId.is_in(annotators.iter().map(|a| a.0).collect::<Vec<_>>()))
            .group_by(assignment::Column::AnnotatorId)
            .into_tuple()
            .all(&txn)
            .await
            .map_err(internal)?;
        let loads: HashMap<UserId, u64> = loads.into_iter().map(|(u, n)| (UserId(u), n as u64)).collect();
        let mut existing = HashSet::new();
        for chunk in documents.chunks(ID_CHUNK) {
            let pairs: Vec<(Uuid, Uuid)> = assignment::Entity::find()
                .select_only()
                .column(assignment::Column::DocumentId)
                .column(assignment::Column::AnnotatorId)
                .filter(assignment::Column::DocumentId.is_in(chunk.iter().map(|d| d.0).collect::<Vec<_>>()))
                .into_tuple()
                .all(&txn)
                .await
                .map_err(internal)?;
            existing.extend(pairs.into_iter().map(|(d, u)| (DocumentId(d), UserId(u))));
        }
        let now = Utc::now();
        let new: Vec<Assignment> =
            plan(&loads, &existing)?.into_iter().map(|(d, u)| Assignment::new(project, d, u, now)).collect();
        for chunk in new.chunks(ID_CHUNK) {
            assignment::Entity::insert_many(chunk.iter().map(row))
                .on_conflict(
                    OnConflict::columns([assignment::Column::DocumentId, assignment::Column::AnnotatorId])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(internal)?;
        }
        let mut entry = audit_entry;
        entry.changes["created"] = serde_json::json!(new.len());
        audit::insert(&txn, entry).await?;
        let mut out = Vec::new();
        for chunk in documents.chunks(ID_CHUNK) {
            let rows = assignment::Entity::find()
                .filter(assignment::Column::DocumentId.is_in(chunk.iter().map(|d| d.0).collect::<Vec<_>>()))
                .filter(assignment::Column::AnnotatorId.is_in(annotators.iter().map(|a| a.0).collect::<Vec<_>>()))
                .order_by_asc(assignment::Column::Id)
                .all(&txn)
                .await
                .map_err(internal)?;
            for r in rows {
                out.push(to_domain(r)?);
            }
        }
        txn.commit().await.map_err(internal)?;
        Ok(out)
    }

    async fn assignment_by_id(&self, id: AssignmentId) -> DomainResult<Option<Assignment>> {
        assignment::Entity::find_by_id(id.0).one(self.connection()).await.map_err(internal)?.map(to_domain).transpose()
    }

    async fn change_assignment(
        &self,
        id: AssignmentId,
        change: AssignmentChange,
        audit_entry: AuditEntry,
    ) -> DomainResult<Assignment> {
        let txn = self.write().await?;
        let mut q = assignment::Entity::find_by_id(id.0);
        if txn.get_database_backend() == DbBackend::Postgres {
            q = q.lock_exclusive();
        }
        let stored = q.one(&txn).await.map_err(internal)?.ok_or(DomainError::NotFound { resource: "assignment" })?;
        let was = AssignmentState::parse(&stored.state)?;
        let never_started = stored.started_at.is_none();
        let changed = change(to_domain(stored)?)?;
        assignment::Entity::update(row(&changed)).exec(&txn).await.map_err(internal)?;
        // Started by a manager (or finished untouched) for the first time: the layer gets its
        // pre-annotation now (once: not again after it was abandoned back to NEW).
        if was == AssignmentState::New
            && never_started
            && matches!(changed.state, AssignmentState::InProgress | AssignmentState::Finished)
            && pre_annotates(&txn, changed.project_id).await?
        {
            copy_models_layers(&txn, changed.document_id, changed.annotator).await?;
        }
        let mut entry = audit_entry;
        entry.changes["state"] = serde_json::json!(changed.state.as_str());
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(changed)
    }

    async fn assignments_of(
        &self,
        project: ProjectId,
        annotator: UserId,
        page: PageRequest,
    ) -> DomainResult<Page<Assignment>> {
        let q = assignment::Entity::find()
            .filter(assignment::Column::ProjectId.eq(project.0))
            .filter(assignment::Column::AnnotatorId.eq(annotator.0));
        let total = q.clone().count(self.connection()).await.map_err(internal)?;
        let rows = q
            .order_by_asc(assignment::Column::Id)
            .offset(page.offset)
            .limit(page.limit)
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(Page { items: rows.into_iter().map(to_domain).collect::<DomainResult<_>>()?, total })
    }

    async fn project_assignments(
        &self,
        project: ProjectId,
        documents: Option<&[DocumentId]>,
    ) -> DomainResult<Vec<Assignment>> {
        let mut q = assignment::Entity::find().filter(assignment::Column::ProjectId.eq(project.0));
        if let Some(docs) = documents {
            q = q.filter(assignment::Column::DocumentId.is_in(docs.iter().map(|d| d.0)));
        }
        let rows = q
            .order_by_asc(assignment::Column::DocumentId)
            .order_by_asc(assignment::Column::AnnotatorId)
            .all(self.connection())
            .await
            .map_err(internal)?;
        rows.into_iter().map(to_domain).collect()
    }

    async fn assignment_counts(&self, project: ProjectId) -> DomainResult<Vec<(UserId, AssignmentState, u64)>> {
        let rows: Vec<(Uuid, String, i64)> = assignment::Entity::find()
            .select_only()
            .column(assignment::Column::AnnotatorId)
            .column(assignment::Column::State)
            .column_as(assignment::Column::Id.count(), "n")
            .filter(assignment::Column::ProjectId.eq(project.0))
            .group_by(assignment::Column::AnnotatorId)
            .group_by(assignment::Column::State)
            .order_by_asc(assignment::Column::AnnotatorId)
            .order_by_asc(assignment::Column::State)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        rows.into_iter().map(|(u, s, n)| Ok((UserId(u), AssignmentState::parse(&s)?, n as u64))).collect()
    }

    async fn model_layers(
        &self,
        project: ProjectId,
        documents: &[DocumentId],
    ) -> DomainResult<Vec<(DocumentId, Uuid)>> {
        let mut found = Vec::new();
        // Bounded lists (the agreement's documents, at most 1,000): a few IN lists.
        for chunk in documents.chunks(500) {
            let rows: Vec<(Uuid, String)> = crate::entity::annotation::Entity::find()
                .select_only()
                .column(crate::entity::annotation::Column::DocumentId)
                .column(crate::entity::annotation::Column::Layer)
                .distinct()
                .filter(crate::entity::annotation::Column::ProjectId.eq(project.0))
                .filter(crate::entity::annotation::Column::DocumentId.is_in(chunk.iter().map(|d| d.0)))
                .filter(crate::entity::annotation::Column::Layer.like("model:%"))
                .into_tuple()
                .all(self.connection())
                .await
                .map_err(internal)?;
            for (doc, key) in rows {
                if let Layer::Model(m) = Layer::parse_key(&key)? {
                    found.push((DocumentId(doc), m));
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }

    async fn reopen_abandoned(&self, now: DateTime<Utc>) -> DomainResult<u64> {
        let projects: Vec<(Uuid, i32)> = project::Entity::find()
            .select_only()
            .column(project::Column::Id)
            .column(project::Column::AbandonAfterHours)
            .filter(project::Column::AbandonAfterHours.is_not_null())
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        let mut reopened = 0;
        for (project, hours) in projects {
            let before = now - chrono::Duration::hours(i64::from(hours));
            let txn = self.write().await?;
            let r = assignment::Entity::update_many()
                .col_expr(assignment::Column::State, Expr::value(AssignmentState::New.as_str()))
                .col_expr(assignment::Column::TouchedAt, Expr::value(now))
                .filter(assignment::Column::ProjectId.eq(project))
                .filter(assignment::Column::State.eq(AssignmentState::InProgress.as_str()))
                .filter(assignment::Column::TouchedAt.lt(before))
                .exec(&txn)
                .await
                .map_err(internal)?;
            txn.commit().await.map_err(internal)?;
            reopened += r.rows_affected;
        }
        Ok(reopened)
    }
}
