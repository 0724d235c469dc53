//! Curation of documents (issue 12): each document's curation record and its curator's
//! decisions, and the step runner that reads a document's layers and writes into its curated
//! layer in one transaction.
//!
//! Serialisation: a step first locks the document's row `FOR NO KEY UPDATE` on PostgreSQL
//! (SQLite runs one writer at a time), so two steps over one document run one after the other
//! and the second reads (read committed) what the first wrote: two `curateDocument` at once
//! merge once, two acceptances of one conflict resolve it once. Entity writes take only a
//! key-share lock on that row and are not held up; a content edit (a key update of the row)
//! waits, and an edit that committed first makes the step's insert fail its version check. The
//! lock order is the house's: the document's row, then its stats row.

use nishan_domain::ids::{DocumentId, ProjectId, UserId};
use nishan_domain::ports::{CurationAudits, CurationRepository, CurationStep, OnDuplicate};
use nishan_domain::rounds::curating::{
    CurationInputs, CurationRecord, CurationWrite, Decision, DecisionKind, Strategy,
};
use nishan_domain::rounds::curation::{CurationState, MinVotes};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{Store, assignments, audit, convert, documents, entities, internal};
use crate::entity::{annotation, assignment, curation, curation_decision, document};

/// At most this many entities of one document (every layer) are read for its curation.
const MAX_ENTITIES: u64 = 50_000;

fn record(m: curation::Model) -> DomainResult<CurationRecord> {
    Ok(CurationRecord {
        document_id: DocumentId(m.document_id),
        project_id: ProjectId(m.project_id),
        state: CurationState::parse(&m.state)?,
        strategy: Strategy {
            min_votes: MinVotes::new(i64::from(m.min_votes))?,
            include_unfinished: m.include_unfinished,
        },
        merged: m.merged as u32,
        open_conflicts: m.open_conflicts as u32,
        resolved_conflicts: m.resolved_conflicts as u32,
        curated_by: m.curated_by.map(UserId),
        started_at: m.started_at,
        updated_at: m.updated_at,
        finished_at: m.finished_at,
    })
}

fn record_row(r: &CurationRecord) -> curation::ActiveModel {
    curation::ActiveModel {
        document_id: Set(r.document_id.0),
        project_id: Set(r.project_id.0),
        state: Set(r.state.as_str().to_owned()),
        min_votes: Set(r.strategy.min_votes.get() as i32),
        include_unfinished: Set(r.strategy.include_unfinished),
        merged: Set(r.merged as i32),
        open_conflicts: Set(r.open_conflicts as i32),
        resolved_conflicts: Set(r.resolved_conflicts as i32),
        curated_by: Set(r.curated_by.map(|u| u.0)),
        started_at: Set(r.started_at),
        updated_at: Set(r.updated_at),
        finished_at: Set(r.finished_at),
    }
}

fn decision(m: curation_decision::Model) -> DomainResult<Decision> {
    Ok(Decision {
        id: m.id,
        document_id: DocumentId(m.document_id),
        version: m.version as u32,
        start: m.start_offset as u32,
        end: m.end_offset as u32,
        kind: DecisionKind::parse(&m.decision)?,
        entity: m.entity_id.map(Into::into),
        candidate: m.candidate_id.map(Into::into),
        by: m.decided_by.map(UserId),
        at: m.decided_at,
    })
}

fn decision_row(d: &Decision) -> curation_decision::ActiveModel {
    curation_decision::ActiveModel {
        id: Set(d.id),
        document_id: Set(d.document_id.0),
        version: Set(d.version as i32),
        start_offset: Set(d.start as i32),
        end_offset: Set(d.end as i32),
        decision: Set(d.kind.as_str().to_owned()),
        entity_id: Set(d.entity.map(|e| e.0)),
        candidate_id: Set(d.candidate.map(|e| e.0)),
        decided_by: Set(d.by.map(|u| u.0)),
        decided_at: Set(d.at),
    }
}

/// What a step over `doc` reads, on `conn` (after the lock, when it is a step).
async fn inputs(conn: &impl ConnectionTrait, doc: DocumentId) -> DomainResult<CurationInputs> {
    let not_found = || DomainError::NotFound { resource: "document" };
    // The version first: entities read after it are placed in it, or a later edit's insert
    // check fails.
    let version = documents::stored_version(conn, doc, None).await?.ok_or_else(not_found)?;
    let project: Uuid = document::Entity::find_by_id(doc.0)
        .select_only()
        .column(document::Column::ProjectId)
        .into_tuple()
        .one(conn)
        .await
        .map_err(internal)?
        .ok_or_else(not_found)?;
    let assignments = assignment::Entity::find()
        .filter(assignment::Column::DocumentId.eq(doc.0))
        .order_by_asc(assignment::Column::AnnotatorId)
        .all(conn)
        .await
        .map_err(internal)?
        .into_iter()
        .map(assignments::to_domain)
        .collect::<DomainResult<Vec<_>>>()?;
    let rows = annotation::Entity::find()
        .filter(annotation::Column::DocumentId.eq(doc.0))
        .order_by_asc(annotation::Column::StartOffset)
        .order_by_asc(annotation::Column::EndOffset)
        .order_by_asc(annotation::Column::Id)
        .limit(MAX_ENTITIES + 1)
        .all(conn)
        .await
        .map_err(internal)?;
    if rows.len() as u64 > MAX_ENTITIES {
        return Err(DomainError::invalid(
            "documentId",
            format!("the document's layers hold more than {MAX_ENTITIES} entities: too many to curate at once"),
        ));
    }
    let entities = rows.into_iter().map(convert::annotation).collect::<DomainResult<Vec<_>>>()?;
    let record = curation::Entity::find_by_id(doc.0).one(conn).await.map_err(internal)?.map(record).transpose()?;
    let decisions = curation_decision::Entity::find()
        .filter(curation_decision::Column::DocumentId.eq(doc.0))
        .filter(curation_decision::Column::Version.eq(version as i32))
        .order_by_asc(curation_decision::Column::Id)
        .all(conn)
        .await
        .map_err(internal)?
        .into_iter()
        .map(decision)
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(CurationInputs {
        document_id: doc,
        project_id: ProjectId(project),
        version,
        assignments,
        entities,
        record,
        decisions,
    })
}

impl CurationRepository for Store {
    async fn curation_step(
        &self,
        doc: DocumentId,
        step: CurationStep,
        audits: CurationAudits,
    ) -> DomainResult<CurationWrite> {
        let txn = self.write().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            let locked: Option<Uuid> = document::Entity::find_by_id(doc.0)
                .select_only()
                .column(document::Column::Id)
                .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
                .into_tuple()
                .one(&txn)
                .await
                .map_err(internal)?;
            locked.ok_or(DomainError::NotFound { resource: "document" })?;
        }
        let read = inputs(&txn, doc).await?;
        let existed = read.record.is_some();
        let version = read.version;
        let mut write = step(read)?;
        let rows = audits(&write);
        let inserted =
            entities::insert_new(&txn, doc, Some(version), std::mem::take(&mut write.insert), OnDuplicate::Conflict)
                .await?;
        write.insert = inserted;
        if existed {
            curation::Entity::update(record_row(&write.record)).exec(&txn).await.map_err(internal)?;
        } else {
            curation::Entity::insert(record_row(&write.record)).exec_without_returning(&txn).await.map_err(internal)?;
        }
        if !write.decide.is_empty() {
            curation_decision::Entity::insert_many(write.decide.iter().map(decision_row))
                .exec_without_returning(&txn)
                .await
                .map_err(internal)?;
        }
        for row in rows {
            audit::insert(&txn, row).await?;
        }
        txn.commit().await.map_err(internal)?;
        Ok(write)
    }

    async fn curation_inputs(&self, doc: DocumentId) -> DomainResult<CurationInputs> {
        let txn = self.read_snapshot().await?;
        let read = inputs(&txn, doc).await?;
        txn.commit().await.map_err(internal)?;
        Ok(read)
    }

    async fn curation_record(&self, doc: DocumentId) -> DomainResult<Option<CurationRecord>> {
        curation::Entity::find_by_id(doc.0).one(self.connection()).await.map_err(internal)?.map(record).transpose()
    }
}
