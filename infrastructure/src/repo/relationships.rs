//! Relationships between entities.

use nishan_domain::audit::AuditEntry;
use nishan_domain::ids::{DocumentId, EntityId, RelationshipId};
use nishan_domain::ports::RelationshipRepository;
use nishan_domain::relationship::Relationship;
use nishan_domain::rounds::Layer;
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::{Store, audit, convert, internal};
use crate::entity::entity_relationship;

const TAKEN: &str = "these entities already have a relationship of this type";

/// Rows per multi-row INSERT (9 columns: far under SQLite's bound-parameter limit).
const INSERT_CHUNK: usize = 1000;

fn row(r: &Relationship) -> entity_relationship::ActiveModel {
    entity_relationship::ActiveModel {
        id: Set(r.id.0),
        project_id: Set(r.project_id.0),
        source_entity_id: Set(r.source.0),
        target_entity_id: Set(r.target.0),
        relationship_type: Set(r.kind.as_str().to_owned()),
        confidence_score: Set(r.confidence),
        notes: Set(r.notes.clone()),
        created_by: Set(r.created_by.map(|u| u.0)),
        created_at: Set(r.created_at),
    }
}

/// Inserts relationships with multi-row INSERTs. Errors: `Conflict` on a duplicate.
pub(crate) async fn insert_rows(txn: &DatabaseTransaction, relationships: &[Relationship]) -> DomainResult<()> {
    for chunk in relationships.chunks(INSERT_CHUNK) {
        entity_relationship::Entity::insert_many(chunk.iter().map(row))
            .exec_without_returning(txn)
            .await
            .map_err(|e| super::conflict_or_internal(e, TAKEN))?;
    }
    Ok(())
}

/// A relationship lives in its entities' layer (one layer, checked by the service): a change
/// of it in an annotator's layer claims their assignment, as an entity's change does.
async fn claim_layer_of(txn: &DatabaseTransaction, entity: Uuid) -> DomainResult<()> {
    use crate::entity::annotation;
    let found: Option<(Uuid, String)> = annotation::Entity::find_by_id(entity)
        .select_only()
        .column(annotation::Column::DocumentId)
        .column(annotation::Column::Layer)
        .into_tuple()
        .one(txn)
        .await
        .map_err(internal)?;
    let (doc, layer) = found.ok_or(DomainError::NotFound { resource: "entity" })?;
    super::assignments::claim(txn, DocumentId(doc), Layer::parse_key(&layer)?).await
}

impl RelationshipRepository for Store {
    async fn create_relationship(&self, r: Relationship, audit_entry: AuditEntry) -> DomainResult<Relationship> {
        let txn = self.write().await?;
        claim_layer_of(&txn, r.source.0).await?;
        let exists = entity_relationship::Entity::find()
            .filter(entity_relationship::Column::SourceEntityId.eq(r.source.0))
            .filter(entity_relationship::Column::TargetEntityId.eq(r.target.0))
            .filter(entity_relationship::Column::RelationshipType.eq(r.kind.as_str()))
            .count(&txn)
            .await
            .map_err(internal)?;
        if exists > 0 {
            return Err(DomainError::conflict(TAKEN));
        }
        let model = row(&r).insert(&txn).await.map_err(|e| super::conflict_or_internal(e, TAKEN))?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        convert::relationship(model)
    }

    async fn relationship_by_id(&self, id: RelationshipId) -> DomainResult<Option<Relationship>> {
        entity_relationship::Entity::find_by_id(id.0)
            .one(self.connection())
            .await
            .map_err(internal)?
            .map(convert::relationship)
            .transpose()
    }

    async fn delete_relationship(&self, id: RelationshipId, audit_entry: AuditEntry) -> DomainResult<()> {
        let txn = self.write().await?;
        let source: Option<Uuid> = entity_relationship::Entity::find_by_id(id.0)
            .select_only()
            .column(entity_relationship::Column::SourceEntityId)
            .into_tuple()
            .one(&txn)
            .await
            .map_err(internal)?;
        if let Some(source) = source {
            claim_layer_of(&txn, source).await?;
        }
        let deleted = entity_relationship::Entity::delete_by_id(id.0).exec(&txn).await.map_err(internal)?;
        if deleted.rows_affected == 0 {
            return Err(DomainError::NotFound { resource: "relationship" });
        }
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)
    }

    async fn relationships_of(&self, entities: &[EntityId], outgoing: bool) -> DomainResult<Vec<Relationship>> {
        let ids: Vec<Uuid> = entities.iter().map(|e| e.0).collect();
        let column = if outgoing {
            entity_relationship::Column::SourceEntityId
        } else {
            entity_relationship::Column::TargetEntityId
        };
        entity_relationship::Entity::find()
            .filter(column.is_in(ids))
            .order_by_asc(entity_relationship::Column::CreatedAt)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(convert::relationship)
            .collect()
    }
}
