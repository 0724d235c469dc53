//! Import and export: consistent reads of whole documents or projects, and imports of entities,
//! relationships and documents in one transaction each, with multi-row inserts.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use nishan_domain::audit::AuditEntry;
use nishan_domain::document::{Document, EntityCounts};
use nishan_domain::entity::Entity;
use nishan_domain::exchange::PlannedRelation;
use nishan_domain::ids::{DocumentId, EntityId, EntityTypeId, RelationshipId};
use nishan_domain::ports::{ExchangeRepository, ImportCounts, ImportedDocument, Scope, Snapshot};
use nishan_domain::relationship::Relationship;
use nishan_domain::{DomainError, DomainResult};
use sea_orm::sea_query::Query;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;

use super::{Store, audit, convert, documents, entities, internal, relationships, search_index};
use crate::entity::{annotation, document, entity_relationship};

/// The ids of a scope's entities, as a subquery.
fn entity_ids_of(scope: Scope, layer: &str) -> sea_orm::sea_query::SelectStatement {
    let mut q = Query::select();
    q.column(annotation::Column::Id).from(annotation::Entity);
    match scope {
        Scope::Project(p) => q.and_where(annotation::Column::ProjectId.eq(p.0)),
        Scope::Document(d) => q.and_where(annotation::Column::DocumentId.eq(d.0)),
    };
    q.and_where(annotation::Column::Layer.eq(layer));
    q.to_owned()
}

/// The relationships whose source is one of the scope's entities of a layer (a project's: every
/// relationship of the project; the export keeps those between the entities it exports).
async fn relationships_from(conn: &impl ConnectionTrait, scope: Scope, layer: &str) -> DomainResult<Vec<Relationship>> {
    let q = entity_relationship::Entity::find();
    let q = match scope {
        Scope::Project(p) => q.filter(entity_relationship::Column::ProjectId.eq(p.0)),
        Scope::Document(_) => {
            q.filter(entity_relationship::Column::SourceEntityId.in_subquery(entity_ids_of(scope, layer)))
        }
    };
    q.order_by_asc(entity_relationship::Column::CreatedAt)
        .order_by_asc(entity_relationship::Column::Id)
        .all(conn)
        .await
        .map_err(internal)?
        .into_iter()
        .map(convert::relationship)
        .collect()
}

/// The relationships of `planned`, between the entities `ids` (by index), that do not exist yet.
fn new_relationships(
    planned: &[PlannedRelation],
    ids: &[EntityId],
    existing: &HashSet<(Uuid, Uuid, String)>,
    project: nishan_domain::ids::ProjectId,
    by: Option<nishan_domain::ids::UserId>,
) -> Vec<Relationship> {
    let now = Utc::now();
    let mut seen = existing.clone();
    planned
        .iter()
        .filter_map(|r| {
            let (source, target) = (ids[r.source], ids[r.target]);
            (source != target && seen.insert((source.0, target.0, r.kind.as_str().to_owned()))).then(|| Relationship {
                id: RelationshipId::new(),
                project_id: project,
                source,
                target,
                kind: r.kind,
                confidence: None,
                notes: None,
                created_by: by,
                created_at: now,
            })
        })
        .collect()
}

impl ExchangeRepository for Store {
    async fn snapshot(
        &self,
        scope: Scope,
        layer: nishan_domain::rounds::Layer,
        verified_only: bool,
    ) -> DomainResult<Snapshot> {
        let txn = self.read_snapshot().await?;
        let docs = document::Entity::find();
        let docs = match scope {
            Scope::Project(p) => docs.filter(document::Column::ProjectId.eq(p.0)),
            Scope::Document(d) => docs.filter(document::Column::Id.eq(d.0)),
        };
        let documents = documents::load_documents(
            &txn,
            docs.order_by_asc(document::Column::CreatedAt).order_by_asc(document::Column::Id),
        )
        .await?;
        let mut q = annotation::Entity::find().filter(annotation::Column::Layer.eq(layer.key()));
        q = match scope {
            Scope::Project(p) => q.filter(annotation::Column::ProjectId.eq(p.0)),
            Scope::Document(d) => q.filter(annotation::Column::DocumentId.eq(d.0)),
        };
        if verified_only {
            q = q.filter(annotation::Column::IsVerified.eq(true));
        }
        let entities = q
            .order_by_asc(annotation::Column::DocumentId)
            .order_by_asc(annotation::Column::StartOffset)
            .order_by_asc(annotation::Column::EndOffset)
            .all(&txn)
            .await
            .map_err(internal)?
            .into_iter()
            .map(convert::annotation)
            .collect::<DomainResult<Vec<Entity>>>()?;
        let relationships = relationships_from(&txn, scope, &layer.key()).await?;
        txn.commit().await.map_err(internal)?;
        Ok(Snapshot { documents, entities, relationships })
    }

    async fn import_entities(
        &self,
        doc: DocumentId,
        layer: nishan_domain::rounds::Layer,
        entities: Vec<Entity>,
        relations: Vec<PlannedRelation>,
        audit_entry: AuditEntry,
    ) -> DomainResult<ImportCounts> {
        let txn = self.write().await?;
        let claim = super::assignments::claim_deferred(&txn, doc, layer).await?;
        let project = document::Entity::find_by_id(doc.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "document" })?
            .project_id;
        let existing: Vec<(i32, i32, Uuid, Uuid)> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::StartOffset)
            .column(annotation::Column::EndOffset)
            .column(annotation::Column::EntityTypeId)
            .column(annotation::Column::Id)
            .filter(annotation::Column::DocumentId.eq(doc.0))
            .filter(annotation::Column::Layer.eq(layer.key()))
            .into_tuple()
            .all(&txn)
            .await
            .map_err(internal)?;
        let mut by_span: HashMap<(u32, u32, EntityTypeId), EntityId> =
            existing.into_iter().map(|(s, e, t, id)| ((s as u32, e as u32, EntityTypeId(t)), EntityId(id))).collect();
        let mut ids = Vec::with_capacity(entities.len());
        let mut fresh = Vec::with_capacity(entities.len());
        let mut skipped = 0;
        for e in entities {
            let key = (e.start, e.end, e.entity_type_id);
            match by_span.get(&key) {
                Some(id) => {
                    ids.push(*id);
                    skipped += 1;
                }
                None => {
                    by_span.insert(key, e.id);
                    ids.push(e.id);
                    fresh.push(e);
                }
            }
        }
        entities::insert_rows(&txn, &fresh).await?;
        // The relationships from the layer's entities of the document.
        let of_layer = Query::select()
            .column(annotation::Column::Id)
            .from(annotation::Entity)
            .and_where(annotation::Column::DocumentId.eq(doc.0))
            .and_where(annotation::Column::Layer.eq(layer.key()))
            .to_owned();
        let existing: HashSet<(Uuid, Uuid, String)> = entity_relationship::Entity::find()
            .filter(entity_relationship::Column::SourceEntityId.in_subquery(of_layer))
            .all(&txn)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|r| (r.source_entity_id, r.target_entity_id, r.relationship_type))
            .collect();
        let rels = new_relationships(&relations, &ids, &existing, project.into(), audit_entry.user_id);
        relationships::insert_rows(&txn, &rels).await?;
        let verified = fresh.iter().filter(|e| e.is_verified).count();
        entities::adjust_counts(&txn, doc, layer, fresh.len() as i64, verified as i64).await?;
        // A pre-annotation after the imported entities (theirs win a span).
        claim.pre_annotate(&txn).await?;
        let counts = ImportCounts { created: fresh.len() as u32, skipped, relationships_created: rels.len() as u32 };
        let mut entry = audit_entry;
        entry.changes["created"] = json!(counts.created);
        entry.changes["skipped"] = json!(counts.skipped);
        entry.changes["relationshipsCreated"] = json!(counts.relationships_created);
        audit::insert(&txn, entry).await?;
        txn.commit().await.map_err(internal)?;
        Ok(counts)
    }

    async fn import_documents(
        &self,
        imported: Vec<ImportedDocument>,
        audit_entry: AuditEntry,
    ) -> DomainResult<Vec<Document>> {
        let txn = self.write().await?;
        let mut ids = Vec::with_capacity(imported.len());
        for mut d in imported {
            // A new document's counts are those of the entities it arrives with (counting
            // them afterwards would cost a query and an update of the row per document).
            let verified = d.entities.iter().filter(|e| e.is_verified).count();
            d.document.info.counts = EntityCounts { total: d.entities.len() as u32, verified: verified as u32 };
            let doc = &d.document;
            documents::insert_document(&txn, doc).await?;
            convert::version_row(&d.first_version).insert(&txn).await.map_err(internal)?;
            search_index::index_document(&txn, doc).await?;
            entities::insert_rows(&txn, &d.entities).await?;
            let entity_ids: Vec<EntityId> = d.entities.iter().map(|e| e.id).collect();
            let rels =
                new_relationships(&d.relations, &entity_ids, &HashSet::new(), doc.project_id, audit_entry.user_id);
            relationships::insert_rows(&txn, &rels).await?;
            ids.push(doc.id.0);
        }
        audit::insert(&txn, audit_entry).await?;
        let rows =
            documents::load_documents(&txn, document::Entity::find().filter(document::Column::Id.is_in(ids.clone())))
                .await?;
        txn.commit().await.map_err(internal)?;
        let mut by_id: HashMap<Uuid, Document> = rows.into_iter().map(|r| (r.id.0, r)).collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}
