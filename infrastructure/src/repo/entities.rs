//! Entities: multi-row inserts, filtered listings (one query for many documents), updates,
//! verification and rejection. Every change recounts its document's entities in the same
//! transaction, so the stored counts are always exact.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use nishan_domain::audit::AuditEntry;
use nishan_domain::document::EntityCounts;
use nishan_domain::entity::{Entity, EntityFilter, Rejection};
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, ProjectId, UserId};
use nishan_domain::ports::{EntityRepository, OnDuplicate, Page, PageRequest};
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::{Store, audit, convert, internal};
use crate::entity::{annotation, document, entity_rejection};

/// Rows per multi-row INSERT: under SQLite's limit of 32766 bound parameters at 27 columns.
const INSERT_CHUNK: usize = 1000;

/// Recomputes a document's entity counts from its rows.
pub(crate) async fn recount(txn: &DatabaseTransaction, doc: DocumentId) -> DomainResult<EntityCounts> {
    let counts = count(txn, doc).await?;
    let rate = counts.verification_rate();
    document::Entity::update_many()
        .col_expr(document::Column::TotalEntities, Expr::value(counts.total as i32))
        .col_expr(document::Column::VerifiedEntities, Expr::value(counts.verified as i32))
        .col_expr(document::Column::UnverifiedEntities, Expr::value(counts.unverified() as i32))
        .col_expr(document::Column::VerificationRate, Expr::value(rate))
        .filter(document::Column::Id.eq(doc.0))
        .exec(txn)
        .await
        .map_err(internal)?;
    Ok(counts)
}

async fn count(conn: &impl ConnectionTrait, doc: DocumentId) -> DomainResult<EntityCounts> {
    let base = annotation::Entity::find().filter(annotation::Column::DocumentId.eq(doc.0));
    let total = base.clone().count(conn).await.map_err(internal)?;
    let verified = base.filter(annotation::Column::IsVerified.eq(true)).count(conn).await.map_err(internal)?;
    Ok(EntityCounts { total: total as u32, verified: verified as u32 })
}

/// Inserts entity rows with multi-row INSERTs. Errors: `Conflict` on a duplicate span.
pub(crate) async fn insert_rows(txn: &DatabaseTransaction, entities: &[Entity]) -> DomainResult<()> {
    for chunk in entities.chunks(INSERT_CHUNK) {
        annotation::Entity::insert_many(chunk.iter().map(convert::annotation_row))
            .exec_without_returning(txn)
            .await
            .map_err(|e| super::conflict_or_internal(e, "an entity of this type already spans that text"))?;
    }
    Ok(())
}

/// Inserts entity rows with multi-row INSERTs, skipping every row whose span and type the
/// document already has (`ON CONFLICT DO NOTHING` on `uq_entities_span`, so concurrent
/// writers cannot make it fail either); returns the ids of the rows inserted.
pub(crate) async fn insert_rows_skipping_duplicates(
    txn: &DatabaseTransaction,
    entities: &[Entity],
) -> DomainResult<Vec<EntityId>> {
    let mut inserted = Vec::with_capacity(entities.len());
    for chunk in entities.chunks(INSERT_CHUNK) {
        let mut insert = annotation::Entity::insert_many(chunk.iter().map(convert::annotation_row)).into_query();
        insert
            .on_conflict(
                OnConflict::columns([
                    annotation::Column::DocumentId,
                    annotation::Column::StartOffset,
                    annotation::Column::EndOffset,
                    annotation::Column::EntityTypeId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .returning_col(annotation::Column::Id);
        let rows = txn.query_all(&insert).await.map_err(internal)?;
        for row in rows {
            inserted.push(EntityId(row.try_get::<Uuid>("", "id").map_err(internal)?));
        }
    }
    Ok(inserted)
}

fn filter_condition(filter: &EntityFilter) -> Condition {
    let mut c = Condition::all();
    if let Some(types) = &filter.entity_type_ids {
        c = c.add(annotation::Column::EntityTypeId.is_in(types.iter().map(|t| t.0).collect::<Vec<_>>()));
    }
    if let Some(v) = filter.is_verified {
        c = c.add(annotation::Column::IsVerified.eq(v));
    }
    if let Some(sources) = &filter.sources {
        c = c.add(annotation::Column::Source.is_in(sources.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    }
    if let Some(min) = filter.min_confidence {
        c = c.add(annotation::Column::ConfidenceScore.gte(min));
    }
    if let Some(line) = filter.line_number {
        c = c.add(annotation::Column::LineNumber.eq(line as i32));
    }
    c
}

fn to_entities(rows: Vec<annotation::Model>) -> DomainResult<Vec<Entity>> {
    rows.into_iter().map(convert::annotation).collect()
}

impl EntityRepository for Store {
    async fn insert_entities(
        &self,
        doc: DocumentId,
        entities: Vec<Entity>,
        on_duplicate: OnDuplicate,
        audit_entry: AuditEntry,
    ) -> DomainResult<Vec<Entity>> {
        let txn = self.write().await?;
        let existing: Vec<(i32, i32, Uuid)> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::StartOffset)
            .column(annotation::Column::EndOffset)
            .column(annotation::Column::EntityTypeId)
            .filter(annotation::Column::DocumentId.eq(doc.0))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(internal)?;
        let mut seen: HashSet<(i32, i32, Uuid)> = existing.into_iter().collect();
        let mut fresh = Vec::with_capacity(entities.len());
        for e in entities {
            if seen.insert((e.start as i32, e.end as i32, e.entity_type_id.0)) {
                fresh.push(e);
            } else if on_duplicate == OnDuplicate::Conflict {
                return Err(DomainError::conflict(format!(
                    "an entity of this type already spans {}..{} of the document",
                    e.start, e.end
                )));
            }
        }
        insert_rows(&txn, &fresh).await?;
        recount(&txn, doc).await?;
        let mut entry = audit_entry;
        entry.changes["created"] = serde_json::json!(fresh.len());
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(fresh)
    }

    async fn entity_by_id(&self, id: EntityId) -> DomainResult<Option<Entity>> {
        annotation::Entity::find_by_id(id.0)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(convert::annotation)
            .transpose()
    }

    async fn entities_by_ids(&self, ids: &[EntityId]) -> DomainResult<Vec<Entity>> {
        let ids: Vec<Uuid> = ids.iter().map(|e| e.0).collect();
        to_entities(
            annotation::Entity::find()
                .filter(annotation::Column::Id.is_in(ids))
                .all(self.connection())
                .await
                .map_err(internal)?,
        )
    }

    async fn entities_of_document(
        &self,
        doc: DocumentId,
        filter: &EntityFilter,
        page: PageRequest,
    ) -> DomainResult<Page<Entity>> {
        let q = annotation::Entity::find()
            .filter(annotation::Column::DocumentId.eq(doc.0))
            .filter(filter_condition(filter));
        let total = q.clone().count(self.connection()).await.map_err(internal)?;
        let rows = q
            .order_by_asc(annotation::Column::StartOffset)
            .order_by_asc(annotation::Column::EndOffset)
            .order_by_asc(annotation::Column::Id)
            .offset(page.offset)
            .limit(page.limit)
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(Page { items: to_entities(rows)?, total })
    }

    async fn entities_of_documents(
        &self,
        docs: &[DocumentId],
        filter: &EntityFilter,
        page: PageRequest,
    ) -> DomainResult<HashMap<DocumentId, Page<Entity>>> {
        let ids: Vec<Uuid> = docs.iter().map(|d| d.0).collect();
        let cond =
            Condition::all().add(annotation::Column::DocumentId.is_in(ids.clone())).add(filter_condition(filter));
        // One query for the pages of all documents: number each document's rows in order and
        // keep the requested window of every document.
        let numbered = Query::select()
            .column(Asterisk)
            .expr_as(
                Expr::cust("ROW_NUMBER() OVER (PARTITION BY document_id ORDER BY start_offset, end_offset, id)"),
                Alias::new("rn"),
            )
            .from(annotation::Entity)
            .cond_where(cond.clone())
            .to_owned();
        let window = Query::select()
            .column(Asterisk)
            .from_subquery(numbered, Alias::new("numbered"))
            .and_where(Expr::col(Alias::new("rn")).gt(page.offset as i64))
            .and_where(Expr::col(Alias::new("rn")).lte((page.offset + page.limit) as i64))
            .order_by(Alias::new("rn"), sea_orm::Order::Asc)
            .to_owned();
        let backend = self.connection().get_database_backend();
        let rows = annotation::Model::find_by_statement(backend.build(&window))
            .all(self.connection())
            .await
            .map_err(internal)?;
        let totals: Vec<(Uuid, i64)> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::DocumentId)
            .column_as(annotation::Column::Id.count(), "n")
            .filter(cond)
            .group_by(annotation::Column::DocumentId)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        let mut pages: HashMap<DocumentId, Page<Entity>> =
            docs.iter().map(|d| (*d, Page { items: vec![], total: 0 })).collect();
        for (doc, n) in totals {
            if let Some(p) = pages.get_mut(&DocumentId(doc)) {
                p.total = n as u64;
            }
        }
        for row in rows {
            let e = convert::annotation(row)?;
            if let Some(p) = pages.get_mut(&e.document_id) {
                p.items.push(e);
            }
        }
        Ok(pages)
    }

    async fn update_entity(&self, entity: Entity, audit_entry: AuditEntry) -> DomainResult<Entity> {
        let txn = self.write().await?;
        let clash = annotation::Entity::find()
            .filter(annotation::Column::DocumentId.eq(entity.document_id.0))
            .filter(annotation::Column::StartOffset.eq(entity.start as i32))
            .filter(annotation::Column::EndOffset.eq(entity.end as i32))
            .filter(annotation::Column::EntityTypeId.eq(entity.entity_type_id.0))
            .filter(annotation::Column::Id.ne(entity.id.0))
            .count(&txn)
            .await
            .map_err(internal)?;
        if clash > 0 {
            return Err(DomainError::conflict("an entity of this type already spans that text"));
        }
        let model = convert::annotation_row(&entity).reset_all().update(&txn).await.map_err(internal)?;
        recount(&txn, entity.document_id).await?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        convert::annotation(model)
    }

    async fn delete_entity(
        &self,
        id: EntityId,
        rejection: Option<Rejection>,
        audit_entry: AuditEntry,
    ) -> DomainResult<()> {
        let txn = self.write().await?;
        let row = annotation::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "entity" })?;
        let doc = DocumentId(row.document_id);
        if let Some(r) = rejection {
            let e = &r.entity;
            entity_rejection::ActiveModel {
                id: Set(Uuid::now_v7()),
                project_id: Set(e.project_id.0),
                document_id: Set(e.document_id.0),
                entity_type_id: Set(e.entity_type_id.0),
                text: Set(e.text.clone()),
                start_offset: Set(e.start as i32),
                end_offset: Set(e.end as i32),
                source: Set(e.source.as_str().to_owned()),
                llm_model_id: Set(e.llm_model_id),
                confidence_score: Set(e.confidence),
                rejected_by: Set(Some(r.rejected_by.0)),
                rejected_at: Set(r.rejected_at),
                reason: Set(r.reason.clone()),
            }
            .insert(&txn)
            .await
            .map_err(internal)?;
        }
        annotation::Entity::delete_by_id(id.0).exec(&txn).await.map_err(internal)?;
        recount(&txn, doc).await?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn set_verified(
        &self,
        ids: &[EntityId],
        by: Option<(UserId, DateTime<Utc>)>,
        notes: Option<String>,
        audits: Vec<AuditEntry>,
    ) -> DomainResult<Vec<Entity>> {
        let txn = self.write().await?;
        let uuids: Vec<Uuid> = ids.iter().map(|e| e.0).collect();
        let updated_by = audits.first().and_then(|a| a.user_id);
        let rows = annotation::Entity::find()
            .filter(annotation::Column::Id.is_in(uuids.clone()))
            .all(&txn)
            .await
            .map_err(internal)?;
        if rows.len() != ids.iter().collect::<HashSet<_>>().len() {
            return Err(DomainError::NotFound { resource: "entity" });
        }
        let now = Utc::now();
        annotation::Entity::update_many()
            .col_expr(annotation::Column::IsVerified, Expr::value(by.is_some()))
            .col_expr(annotation::Column::VerifiedBy, Expr::value(by.map(|(u, _)| u.0)))
            .col_expr(annotation::Column::VerifiedAt, Expr::value(by.map(|(_, at)| at)))
            .col_expr(annotation::Column::UpdatedBy, Expr::value(updated_by.map(|u| u.0)))
            .col_expr(annotation::Column::UpdatedAt, Expr::value(now))
            .filter(annotation::Column::Id.is_in(uuids.clone()))
            .exec(&txn)
            .await
            .map_err(internal)?;
        if let Some(n) = notes {
            annotation::Entity::update_many()
                .col_expr(annotation::Column::Notes, Expr::value(n))
                .filter(annotation::Column::Id.is_in(uuids.clone()))
                .exec(&txn)
                .await
                .map_err(internal)?;
        }
        let docs: HashSet<Uuid> = rows.iter().map(|r| r.document_id).collect();
        for d in docs {
            recount(&txn, DocumentId(d)).await?;
        }
        for entry in audits {
            audit::insert(&txn, entry).await?;
        }
        let rows = annotation::Entity::find()
            .filter(annotation::Column::Id.is_in(uuids))
            .order_by_asc(annotation::Column::StartOffset)
            .all(&txn)
            .await
            .map_err(internal)?;
        txn.commit().await.map_err(internal)?;
        to_entities(rows)
    }

    async fn count_entities(&self, doc: DocumentId) -> DomainResult<EntityCounts> {
        count(self.connection(), doc).await
    }

    async fn verified_names(&self, project: ProjectId) -> DomainResult<Vec<(String, EntityTypeId)>> {
        let rows: Vec<(String, Uuid)> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::Text)
            .column(annotation::Column::EntityTypeId)
            .filter(annotation::Column::ProjectId.eq(project.0))
            .filter(annotation::Column::IsVerified.eq(true))
            .distinct()
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|(t, ty)| (t, EntityTypeId(ty))).collect())
    }
}
