//! Entities: multi-row inserts, pages in reading order (a keyset on (start, end, id): one
//! range scan per document, however long the document, and stable while others write),
//! updates, verification and rejection.
//!
//! A document's stored counts (`document_stats.total_entities`, `verified_entities`: their own
//! row, apart from the document's text, so moving them rewrites a few bytes) move by exactly what
//! each change did, in the change's transaction: the rows an insert really inserted, the row a
//! delete really deleted, the rows a verification really flipped (each known from the
//! statement itself, never from a read made before it). `total = total + n` re-reads the row
//! under its lock on PostgreSQL, so concurrent changes add up; SQLite runs one writer at a time.
//! No change costs a count over the document.
//!
//! Every entity belongs to one layer of its document (issue 12): the duplicate-span rule, the
//! reading order and the counts are per layer (the curated layer's counts are the document's
//! own, in its document-wide stats row); a listing names its layer in its `EntityFilter`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use nishan_domain::audit::AuditEntry;
use nishan_domain::document::EntityCounts;
use nishan_domain::entity::{Entity, EntityCursor, EntityFilter, EntitySlice, Placement, Rejection};
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, ProjectId, UserId};
use nishan_domain::ports::{EntityRepository, OnDuplicate, Shift, StoredSpan};
use nishan_domain::rounds::Layer;
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, LockType, OnConflict, Query, SelectStatement, UnionType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement, Value,
};
use uuid::Uuid;

use super::{Store, assignments, audit, convert, documents, internal};
use crate::entity::{annotation, document_stats, entity_rejection};

/// Rows per multi-row INSERT: under SQLite's limit of 32766 bound parameters at 27 columns.
const INSERT_CHUNK: usize = 1000;

/// Ids per `IN (...)` list.
const ID_CHUNK: usize = 1000;

/// Moves the stored counts of one layer of a document by a change of `total` entities,
/// `verified` of them verified (negative for removals), in the change's transaction. Nothing
/// to do for a change of neither.
pub(crate) async fn adjust_counts(
    conn: &impl ConnectionTrait,
    doc: DocumentId,
    layer: Layer,
    total: i64,
    verified: i64,
) -> DomainResult<()> {
    adjust_counts_at(conn, doc, layer, None, total, verified).await
}

/// [`adjust_counts`], for a change made against version `at` of the document's content:
/// `Conflict` if the document is at another version now. The check locks the document-wide
/// (curated) stats row, the one a content edit swaps the version in, so a content edit either
/// committed before it (and the check fails) or waits for this transaction (and then carries
/// its entities). Another layer's row is made by its first change (an upsert on the unique
/// (document, layer) index, so two first changes at once add up too).
pub(crate) async fn adjust_counts_at(
    conn: &impl ConnectionTrait,
    doc: DocumentId,
    layer: Layer,
    at: Option<u32>,
    total: i64,
    verified: i64,
) -> DomainResult<()> {
    let curated = layer == Layer::Curated;
    if total == 0 && verified == 0 {
        return Ok(());
    }
    if curated || at.is_some() {
        let (t, v) = if curated { (total, verified) } else { (0, 0) };
        let updated = document_stats::Entity::update_many()
            .col_expr(document_stats::Column::TotalEntities, Expr::col(document_stats::Column::TotalEntities).add(t))
            .col_expr(
                document_stats::Column::VerifiedEntities,
                Expr::col(document_stats::Column::VerifiedEntities).add(v),
            )
            .filter(document_stats::Column::DocumentId.eq(doc.0))
            .filter(document_stats::Column::Layer.eq(CURATED))
            .apply_if(at, |q, v| q.filter(document_stats::Column::Version.eq(v as i32)))
            .exec(conn)
            .await
            .map_err(internal)?;
        if at.is_some() && updated.rows_affected == 0 {
            return Err(content_changed());
        }
    }
    if curated {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let marks: Vec<String> = (1..=4)
        .map(|n| match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        })
        .collect();
    let sql = format!(
        "INSERT INTO document_stats (document_id, layer, version, total_entities, verified_entities) \
         VALUES ({}, {}, 1, {}, {}) ON CONFLICT (document_id, layer) DO UPDATE SET \
         total_entities = document_stats.total_entities + excluded.total_entities, \
         verified_entities = document_stats.verified_entities + excluded.verified_entities",
        marks[0], marks[1], marks[2], marks[3]
    );
    let values: Vec<Value> = vec![doc.0.into(), layer.key().into(), (total as i32).into(), (verified as i32).into()];
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.map_err(internal)?;
    Ok(())
}

/// The stored key of the curated layer.
pub(crate) const CURATED: &str = "curated";

fn content_changed() -> DomainError {
    DomainError::conflict("the document's content changed meanwhile; reload it and mark the entity again")
}

/// Counts one layer of a document's entities from their rows.
async fn count(conn: &impl ConnectionTrait, doc: DocumentId, layer: Layer) -> DomainResult<EntityCounts> {
    let base = annotation::Entity::find()
        .filter(annotation::Column::DocumentId.eq(doc.0))
        .filter(annotation::Column::Layer.eq(layer.key()));
    let total = base.clone().count(conn).await.map_err(internal)?;
    let verified = base.filter(annotation::Column::IsVerified.eq(true)).count(conn).await.map_err(internal)?;
    Ok(EntityCounts { total: total as u32, verified: verified as u32 })
}

/// Inserts entity rows with multi-row INSERTs (without touching the counts). Errors:
/// `Conflict` on a duplicate span.
pub(crate) async fn insert_rows(txn: &DatabaseTransaction, entities: &[Entity]) -> DomainResult<()> {
    for chunk in entities.chunks(INSERT_CHUNK) {
        annotation::Entity::insert_many(chunk.iter().map(convert::annotation_row))
            .exec_without_returning(txn)
            .await
            .map_err(|e| super::conflict_or_internal(e, "an entity of this type already spans that text"))?;
    }
    Ok(())
}

/// Inserts entities of one document and moves its counts by those inserted; returns them.
/// An entity whose span and type the document already holds (or the batch already had) is
/// skipped, or refuses the whole insert with `Conflict`, as `on_duplicate` says. The unique
/// index on (document, start, end, type) decides, so the document's other spans are never read,
/// and two writers inserting the same span at once cannot both succeed.
///
/// With `at`, the entities were placed in the text of that version of the document: the
/// insert is refused with `Conflict` if the content changed since (see [`adjust_counts_at`]).
pub(crate) async fn insert_new(
    txn: &DatabaseTransaction,
    doc: DocumentId,
    at: Option<u32>,
    entities: Vec<Entity>,
    on_duplicate: OnDuplicate,
) -> DomainResult<Vec<Entity>> {
    let mut seen = HashSet::with_capacity(entities.len());
    let mut batch = Vec::with_capacity(entities.len());
    for e in entities {
        if seen.insert((e.layer, e.start, e.end, e.entity_type_id)) {
            batch.push(e);
        } else if on_duplicate == OnDuplicate::Conflict {
            return Err(duplicate(&e));
        }
    }
    let fresh = match on_duplicate {
        OnDuplicate::Conflict => {
            insert_rows(txn, &batch).await.map_err(|e| match (e, batch.as_slice()) {
                (DomainError::Conflict { .. }, [only]) => duplicate(only),
                (e, _) => e,
            })?;
            batch
        }
        OnDuplicate::Skip => {
            let mut inserted = HashSet::with_capacity(batch.len());
            for chunk in batch.chunks(INSERT_CHUNK) {
                let mut insert = annotation::Entity::insert_many(chunk.iter().map(convert::annotation_row))
                    .on_conflict(
                        OnConflict::columns([
                            annotation::Column::DocumentId,
                            annotation::Column::Layer,
                            annotation::Column::StartOffset,
                            annotation::Column::EndOffset,
                            annotation::Column::EntityTypeId,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .into_query();
                insert.returning_col(annotation::Column::Id);
                for row in txn.query_all(&insert).await.map_err(internal)? {
                    inserted.insert(row.try_get::<Uuid>("", "id").map_err(internal)?);
                }
            }
            batch.into_iter().filter(|e| inserted.contains(&e.id.0)).collect::<Vec<_>>()
        }
    };
    // Every layer the batch wrote to moves by what it got (the version checked once, on the
    // first; a batch is one layer in practice).
    let mut by_layer: Vec<(Layer, i64, i64)> = Vec::new();
    for e in &fresh {
        match by_layer.iter_mut().find(|(l, _, _)| *l == e.layer) {
            Some((_, t, v)) => {
                *t += 1;
                *v += i64::from(e.is_verified);
            }
            None => by_layer.push((e.layer, 1, i64::from(e.is_verified))),
        }
    }
    if by_layer.is_empty() {
        adjust_counts_at(txn, doc, Layer::Curated, at, 0, 0).await?;
    }
    for (i, (layer, total, verified)) in by_layer.into_iter().enumerate() {
        adjust_counts_at(txn, doc, layer, if i == 0 { at } else { None }, total, verified).await?;
    }
    Ok(fresh)
}

fn duplicate(e: &Entity) -> DomainError {
    DomainError::conflict(format!("an entity of this type already spans {}..{} of the document", e.start, e.end))
}

/// Inserts entity rows with multi-row INSERTs, skipping every row whose span and type the
/// document's layer already has (`ON CONFLICT DO NOTHING` on `uq_entities_layer_span`, so concurrent
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
                    annotation::Column::Layer,
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
    let mut c = Condition::all().add(annotation::Column::Layer.eq(filter.layer.key()));
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

/// Every entity's span in a document, in every layer, with its verification.
pub(crate) async fn spans_of(conn: &impl ConnectionTrait, doc: DocumentId) -> DomainResult<Vec<StoredSpan>> {
    let rows: Vec<(Uuid, String, i32, i32, bool)> = annotation::Entity::find()
        .select_only()
        .columns([
            annotation::Column::Id,
            annotation::Column::Layer,
            annotation::Column::StartOffset,
            annotation::Column::EndOffset,
            annotation::Column::IsVerified,
        ])
        .filter(annotation::Column::DocumentId.eq(doc.0))
        .into_tuple()
        .all(conn)
        .await
        .map_err(internal)?;
    rows.into_iter()
        .map(|(id, layer, start, end, is_verified)| {
            Ok(StoredSpan {
                id: EntityId(id),
                layer: Layer::parse_key(&layer)?,
                start: start as u32,
                end: end as u32,
                is_verified,
            })
        })
        .collect()
}

/// Deletes entities by id (without touching the counts).
pub(crate) async fn delete_ids(txn: &DatabaseTransaction, ids: &[EntityId]) -> DomainResult<()> {
    for chunk in ids.chunks(ID_CHUNK) {
        annotation::Entity::delete_many()
            .filter(annotation::Column::Id.is_in(chunk.iter().map(|e| e.0).collect::<Vec<_>>()))
            .exec(txn)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Rows per multi-row placement update: 10 parameters a row.
const PLACEMENT_CHUNK: usize = 1000;

/// Writes new placements with multi-row `UPDATE ... FROM (VALUES ...)` statements. When an
/// entity moves onto a span another entity holds now, every moving entity first steps aside to
/// a negative start (unique, as their spans were), so that no row collides on the way with
/// another's old span under the unique index, whatever order the rows are updated in.
pub(crate) async fn rewrite_placements(
    txn: &DatabaseTransaction,
    placements: &[Placement],
    stored: &HashMap<EntityId, (u32, u32)>,
) -> DomainResult<()> {
    let moving: Vec<&Placement> =
        placements.iter().filter(|p| stored.get(&p.id).is_none_or(|&span| span != (p.start, p.end))).collect();
    let held: HashSet<(u32, u32)> = stored.values().copied().collect();
    let collides = moving.iter().any(|p| held.contains(&(p.start, p.end)));
    let moving: Vec<Uuid> = if collides { moving.iter().map(|p| p.id.0).collect() } else { Vec::new() };
    for chunk in moving.chunks(ID_CHUNK) {
        annotation::Entity::update_many()
            .col_expr(annotation::Column::StartOffset, Expr::val(-1).sub(Expr::col(annotation::Column::StartOffset)))
            .filter(annotation::Column::Id.is_in(chunk.to_vec()))
            .exec(txn)
            .await
            .map_err(internal)?;
    }
    let backend = txn.get_database_backend();
    let now = Utc::now();
    for chunk in placements.chunks(PLACEMENT_CHUNK) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 10 + 1);
        let mut n = 0;
        let mut next = || {
            n += 1;
            match backend {
                DbBackend::Postgres => format!("${n}"),
                _ => "?".to_owned(),
            }
        };
        let updated_at = next();
        values.push(now.into());
        let mut rows = Vec::with_capacity(chunk.len());
        for p in chunk {
            let marks: Vec<String> = (0..10).map(|_| next()).collect();
            rows.push(format!("({})", marks.join(", ")));
            values.extend([
                Value::from(p.id.0),
                Value::from(p.start as i32),
                Value::from(p.end as i32),
                Value::from(p.utf16_start as i32),
                Value::from(p.utf16_end as i32),
                Value::from(p.line_number as i32),
                Value::from(p.stanza_number as i32),
                Value::from(p.word_position as i32),
                Value::from(p.context_before.clone()),
                Value::from(p.context_after.clone()),
            ]);
        }
        let sql = format!(
            "UPDATE entities SET start_offset = v.column2, end_offset = v.column3, utf16_start = v.column4, \
             utf16_end = v.column5, line_number = v.column6, stanza_number = v.column7, \
             word_position = v.column8, context_before = v.column9, context_after = v.column10, \
             updated_at = {updated_at} FROM (VALUES {}) AS v WHERE entities.id = v.column1",
            rows.join(", ")
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.map_err(internal)?;
    }
    Ok(())
}

/// Moves each run of entities by its delta, one UPDATE per run: the entities of `doc` from
/// the run's first to its last in reading order (`(start, end, id)`, every layer).
pub(crate) async fn shift_placements(txn: &DatabaseTransaction, doc: DocumentId, shifts: &[Shift]) -> DomainResult<()> {
    let now = Utc::now();
    let place = || {
        Expr::tuple([
            Expr::col(annotation::Column::StartOffset),
            Expr::col(annotation::Column::EndOffset),
            Expr::col(annotation::Column::Id),
        ])
    };
    let at = |c: EntityCursor| Expr::tuple([Expr::val(c.start as i32), Expr::val(c.end as i32), Expr::val(c.id.0)]);
    let plus = |col: annotation::Column, by: i64| Expr::col(col).add(Expr::val(by));
    for shift in shifts {
        let by = shift.by;
        annotation::Entity::update_many()
            .col_expr(annotation::Column::StartOffset, plus(annotation::Column::StartOffset, by.chars))
            .col_expr(annotation::Column::EndOffset, plus(annotation::Column::EndOffset, by.chars))
            .col_expr(annotation::Column::Utf16Start, plus(annotation::Column::Utf16Start, by.utf16))
            .col_expr(annotation::Column::Utf16End, plus(annotation::Column::Utf16End, by.utf16))
            .col_expr(annotation::Column::LineNumber, plus(annotation::Column::LineNumber, by.lines))
            .col_expr(annotation::Column::StanzaNumber, plus(annotation::Column::StanzaNumber, by.stanzas))
            .col_expr(annotation::Column::WordPosition, plus(annotation::Column::WordPosition, by.words))
            .col_expr(annotation::Column::UpdatedAt, Expr::val(now))
            .filter(annotation::Column::DocumentId.eq(doc.0))
            .filter(place().gte(at(shift.first)))
            .filter(place().lte(at(shift.last)))
            .exec(txn)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Documents whose pages one statement reads (a UNION ALL of their range scans).
const PAGES_PER_STATEMENT: usize = 100;

/// Up to `limit` entities of `doc` matching the filter, in reading order, after `after`.
fn page_after(doc: DocumentId, filter: &EntityFilter, after: Option<EntityCursor>, limit: u64) -> SelectStatement {
    let mut q =
        annotation::Entity::find().filter(annotation::Column::DocumentId.eq(doc.0)).filter(filter_condition(filter));
    if let Some(c) = after {
        // A row value, so the reading-order index serves it as one range.
        let place = Expr::tuple([
            Expr::col(annotation::Column::StartOffset),
            Expr::col(annotation::Column::EndOffset),
            Expr::col(annotation::Column::Id),
        ]);
        q = q.filter(place.gt(Expr::tuple([Expr::val(c.start as i32), Expr::val(c.end as i32), Expr::val(c.id.0)])));
    }
    q.order_by_asc(annotation::Column::StartOffset)
        .order_by_asc(annotation::Column::EndOffset)
        .order_by_asc(annotation::Column::Id)
        .limit(limit)
        .into_query()
}

fn to_entities(rows: Vec<annotation::Model>) -> DomainResult<Vec<Entity>> {
    rows.into_iter().map(convert::annotation).collect()
}

impl Store {
    async fn insert_entities_checked(
        &self,
        doc: DocumentId,
        at: Option<u32>,
        entities: Vec<Entity>,
        on_duplicate: OnDuplicate,
        audit_entry: AuditEntry,
    ) -> DomainResult<Vec<Entity>> {
        let txn = self.write().await?;
        let mut layers: Vec<Layer> = entities.iter().map(|e| e.layer).collect();
        layers.sort();
        layers.dedup();
        let mut claims = Vec::with_capacity(layers.len());
        for layer in layers {
            claims.push(assignments::claim_deferred(&txn, doc, layer).await?);
        }
        let fresh = insert_new(&txn, doc, at, entities, on_duplicate).await?;
        // A pre-annotation after the write's own entities (theirs win a span).
        for claim in claims {
            claim.pre_annotate(&txn).await?;
        }
        let mut entry = audit_entry;
        entry.changes["created"] = serde_json::json!(fresh.len());
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(fresh)
    }
}

impl EntityRepository for Store {
    async fn insert_entities(
        &self,
        doc: DocumentId,
        entities: Vec<Entity>,
        on_duplicate: OnDuplicate,
        audit_entry: AuditEntry,
    ) -> DomainResult<Vec<Entity>> {
        self.insert_entities_checked(doc, None, entities, on_duplicate, audit_entry).await
    }

    async fn insert_entities_at(
        &self,
        doc: DocumentId,
        version: u32,
        entities: Vec<Entity>,
        on_duplicate: OnDuplicate,
        audit_entry: AuditEntry,
    ) -> DomainResult<Vec<Entity>> {
        self.insert_entities_checked(doc, Some(version), entities, on_duplicate, audit_entry).await
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

    async fn entities_after(
        &self,
        docs: &[DocumentId],
        filter: &EntityFilter,
        after: Option<EntityCursor>,
        limit: u64,
    ) -> DomainResult<HashMap<DocumentId, EntitySlice>> {
        let mut slices: HashMap<DocumentId, EntitySlice> = docs.iter().map(|d| (*d, EntitySlice::default())).collect();
        let backend = self.connection().get_database_backend();
        let mut rows = Vec::new();
        // One statement for a page of documents: each document's page is its own range scan
        // of the reading-order index (limit + 1 rows, to know whether more follow).
        for chunk in docs.chunks(PAGES_PER_STATEMENT) {
            let mut pages = chunk.iter().enumerate().map(|(i, doc)| {
                Query::select()
                    .column(Asterisk)
                    .from_subquery(page_after(*doc, filter, after, limit + 1), Alias::new(format!("p{i}")))
                    .to_owned()
            });
            let mut statement = pages.next().expect("a document");
            for page in pages {
                statement.union(UnionType::All, page);
            }
            rows.extend(
                annotation::Model::find_by_statement(backend.build(&statement))
                    .all(self.connection())
                    .await
                    .map_err(internal)?,
            );
        }
        for row in rows {
            let e = convert::annotation(row)?;
            if let Some(slice) = slices.get_mut(&e.document_id) {
                slice.items.push(e);
            }
        }
        for slice in slices.values_mut() {
            slice.items.sort_by_key(Entity::cursor);
            if slice.items.len() as u64 > limit {
                slice.items.truncate(limit as usize);
                slice.has_more = true;
            }
        }
        Ok(slices)
    }

    async fn count_matching(
        &self,
        docs: &[DocumentId],
        filter: &EntityFilter,
    ) -> DomainResult<HashMap<DocumentId, u64>> {
        let ids: Vec<Uuid> = docs.iter().map(|d| d.0).collect();
        let totals: Vec<(Uuid, i64)> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::DocumentId)
            .column_as(annotation::Column::Id.count(), "n")
            .filter(annotation::Column::DocumentId.is_in(ids))
            .filter(filter_condition(filter))
            .group_by(annotation::Column::DocumentId)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(totals.into_iter().map(|(d, n)| (DocumentId(d), n as u64)).collect())
    }

    async fn update_entity(
        &self,
        entity: Entity,
        placed_at: Option<u32>,
        audit_entry: AuditEntry,
    ) -> DomainResult<Entity> {
        let txn = self.write().await?;
        assignments::claim(&txn, entity.document_id, entity.layer).await?;
        if let Some(version) = placed_at {
            // Locks the document's stats row (on PostgreSQL), so a content edit cannot commit
            // between this check and this transaction's commit.
            let current = documents::stored_version(&txn, entity.document_id, Some(LockType::NoKeyUpdate)).await?;
            if current != Some(version) {
                return Err(content_changed());
            }
        }
        // What an edit changes, and nothing else: its verification (which another request may
        // change meanwhile) and therefore the document's counts stay as they are. A span that
        // now duplicates another entity's is refused by the unique index.
        let e = &entity;
        let rows = annotation::Entity::update_many()
            .col_expr(annotation::Column::EntityTypeId, Expr::value(e.entity_type_id.0))
            .col_expr(annotation::Column::Source, Expr::value(e.source.as_str()))
            .col_expr(annotation::Column::Attributes, Expr::value(e.attributes.clone()))
            .col_expr(annotation::Column::Text, Expr::value(e.text.clone()))
            .col_expr(annotation::Column::StartOffset, Expr::value(e.start as i32))
            .col_expr(annotation::Column::EndOffset, Expr::value(e.end as i32))
            .col_expr(annotation::Column::Utf16Start, Expr::value(e.utf16_start as i32))
            .col_expr(annotation::Column::Utf16End, Expr::value(e.utf16_end as i32))
            .col_expr(annotation::Column::LineNumber, Expr::value(e.line_number as i32))
            .col_expr(annotation::Column::StanzaNumber, Expr::value(e.stanza_number as i32))
            .col_expr(annotation::Column::WordPosition, Expr::value(e.word_position as i32))
            .col_expr(annotation::Column::ContextBefore, Expr::value(e.context_before.clone()))
            .col_expr(annotation::Column::ContextAfter, Expr::value(e.context_after.clone()))
            .col_expr(annotation::Column::Notes, Expr::value(e.notes.clone()))
            .col_expr(annotation::Column::UpdatedBy, Expr::value(e.updated_by.map(|u| u.0)))
            .col_expr(annotation::Column::UpdatedAt, Expr::value(e.updated_at))
            .filter(annotation::Column::Id.eq(e.id.0))
            .exec_with_returning(&txn)
            .await
            .map_err(|e| super::conflict_or_internal(e, "an entity of this type already spans that text"))?;
        let model = rows.into_iter().next().ok_or(DomainError::NotFound { resource: "entity" })?;
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
        // The deleted row itself says whether the counts lose a verified entity.
        let row = annotation::Entity::delete_many()
            .filter(annotation::Column::Id.eq(id.0))
            .exec_with_returning(&txn)
            .await
            .map_err(internal)?
            .into_iter()
            .next()
            .ok_or(DomainError::NotFound { resource: "entity" })?;
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
                layer: Set(e.layer.key()),
            }
            .insert(&txn)
            .await
            .map_err(internal)?;
        }
        let layer = Layer::parse_key(&row.layer)?;
        assignments::claim(&txn, DocumentId(row.document_id), layer).await?;
        adjust_counts(&txn, DocumentId(row.document_id), layer, -1, -i64::from(row.is_verified)).await?;
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
        let verified = by.is_some();
        let uuids: Vec<Uuid> = ids.iter().map(|e| e.0).collect::<HashSet<_>>().into_iter().collect();
        let txn = self.write().await?;
        let updated_by = audits.first().and_then(|a| a.user_id);
        // First the rows whose state flips, each counted once: on PostgreSQL a row another
        // transaction flipped meanwhile is re-checked after its lock and no longer matches.
        let mut flipped: HashMap<(Uuid, String), i64> = HashMap::new();
        for chunk in uuids.chunks(ID_CHUNK) {
            let mut flip = annotation::Entity::update_many()
                .col_expr(annotation::Column::IsVerified, Expr::value(verified))
                .filter(annotation::Column::Id.is_in(chunk.to_vec()))
                .filter(annotation::Column::IsVerified.ne(verified))
                .into_query();
            flip.returning(Query::returning().columns([annotation::Column::DocumentId, annotation::Column::Layer]));
            for row in txn.query_all(&flip).await.map_err(internal)? {
                let doc = row.try_get::<Uuid>("", "document_id").map_err(internal)?;
                let layer = row.try_get::<String>("", "layer").map_err(internal)?;
                *flipped.entry((doc, layer)).or_default() += 1;
            }
        }
        let now = Utc::now();
        let mut rows = Vec::with_capacity(uuids.len());
        for chunk in uuids.chunks(ID_CHUNK) {
            let mut update = annotation::Entity::update_many()
                .col_expr(annotation::Column::VerifiedBy, Expr::value(by.map(|(u, _)| u.0)))
                .col_expr(annotation::Column::VerifiedAt, Expr::value(by.map(|(_, at)| at)))
                .col_expr(annotation::Column::UpdatedBy, Expr::value(updated_by.map(|u| u.0)))
                .col_expr(annotation::Column::UpdatedAt, Expr::value(now));
            if let Some(n) = &notes {
                update = update.col_expr(annotation::Column::Notes, Expr::value(n.clone()));
            }
            rows.extend(
                update
                    .filter(annotation::Column::Id.is_in(chunk.to_vec()))
                    .exec_with_returning(&txn)
                    .await
                    .map_err(internal)?,
            );
        }
        if rows.len() != uuids.len() {
            return Err(DomainError::NotFound { resource: "entity" });
        }
        let mut layers: Vec<(Uuid, String)> = rows.iter().map(|r| (r.document_id, r.layer.clone())).collect();
        layers.sort();
        layers.dedup();
        for (doc, layer) in layers {
            assignments::claim(&txn, DocumentId(doc), Layer::parse_key(&layer)?).await?;
        }
        let sign = if verified { 1 } else { -1 };
        for ((doc, layer), n) in flipped {
            adjust_counts(&txn, DocumentId(doc), Layer::parse_key(&layer)?, 0, sign * n).await?;
        }
        for entry in audits {
            audit::insert(&txn, entry).await?;
        }
        txn.commit().await.map_err(internal)?;
        rows.sort_by_key(|r| (r.start_offset, r.end_offset, r.id));
        to_entities(rows)
    }

    async fn count_entities(&self, doc: DocumentId, layer: Layer) -> DomainResult<EntityCounts> {
        count(self.connection(), doc, layer).await
    }

    async fn layer_counts(&self, docs: &[DocumentId], layer: Layer) -> DomainResult<HashMap<DocumentId, EntityCounts>> {
        let mut out = HashMap::with_capacity(docs.len());
        for chunk in docs.chunks(ID_CHUNK) {
            let rows: Vec<(Uuid, i32, i32)> = document_stats::Entity::find()
                .select_only()
                .columns([
                    document_stats::Column::DocumentId,
                    document_stats::Column::TotalEntities,
                    document_stats::Column::VerifiedEntities,
                ])
                .filter(document_stats::Column::DocumentId.is_in(chunk.iter().map(|d| d.0).collect::<Vec<_>>()))
                .filter(document_stats::Column::Layer.eq(layer.key()))
                .into_tuple()
                .all(self.connection())
                .await
                .map_err(internal)?;
            out.extend(rows.into_iter().map(|(d, total, verified)| {
                (DocumentId(d), EntityCounts { total: total as u32, verified: verified as u32 })
            }));
        }
        Ok(out)
    }

    async fn verified_names(&self, project: ProjectId) -> DomainResult<Vec<(String, EntityTypeId)>> {
        let rows: Vec<(String, Uuid)> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::Text)
            .column(annotation::Column::EntityTypeId)
            .filter(annotation::Column::ProjectId.eq(project.0))
            .filter(annotation::Column::Layer.eq(CURATED))
            .filter(annotation::Column::IsVerified.eq(true))
            .distinct()
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(|(t, ty)| (t, EntityTypeId(ty))).collect())
    }
}
