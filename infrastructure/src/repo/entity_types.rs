//! Entity types.

use chrono::Utc;
use nishan_domain::audit::AuditEntry;
use nishan_domain::entity_type::{EntityType, EntityTypeFields};
use nishan_domain::ids::EntityTypeId;
use nishan_domain::ports::EntityTypeRepository;
use nishan_domain::{DomainError, DomainResult};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use super::{Store, audit, convert, internal};
use crate::entity::entity_type;

const TAKEN: &str = "an entity type of that name exists";

impl EntityTypeRepository for Store {
    async fn entity_types(&self) -> DomainResult<Vec<EntityType>> {
        entity_type::Entity::find()
            .order_by_asc(entity_type::Column::SortOrder)
            .order_by_asc(entity_type::Column::Name)
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(convert::entity_type)
            .collect()
    }

    async fn entity_types_by_ids(&self, ids: &[EntityTypeId]) -> DomainResult<Vec<EntityType>> {
        let ids: Vec<Uuid> = ids.iter().map(|t| t.0).collect();
        entity_type::Entity::find()
            .filter(entity_type::Column::Id.is_in(ids))
            .all(self.connection())
            .await
            .map_err(internal)?
            .into_iter()
            .map(convert::entity_type)
            .collect()
    }

    async fn create_entity_type(&self, t: EntityType, audit_entry: AuditEntry) -> DomainResult<EntityType> {
        let txn = self.write().await?;
        if entity_type::Entity::find()
            .filter(entity_type::Column::Name.eq(&t.name))
            .one(&txn)
            .await
            .map_err(internal)?
            .is_some()
        {
            return Err(DomainError::conflict(TAKEN));
        }
        let model = entity_type::ActiveModel {
            id: Set(t.id.0),
            name: Set(t.name.clone()),
            display_name: Set(t.display_name.clone()),
            description: Set(t.description.clone()),
            color: Set(t.color.to_hex()),
            examples: Set(json!(t.examples)),
            is_system: Set(false),
            is_active: Set(t.is_active),
            sort_order: Set(t.sort_order),
            created_at: Set(t.created_at),
            updated_at: Set(t.updated_at),
        }
        .insert(&txn)
        .await
        .map_err(|e| super::conflict_or_internal(e, TAKEN))?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        convert::entity_type(model)
    }

    async fn update_entity_type(
        &self,
        id: EntityTypeId,
        f: EntityTypeFields,
        audit_entry: AuditEntry,
    ) -> DomainResult<EntityType> {
        let txn = self.write().await?;
        let row = entity_type::Entity::find_by_id(id.0)
            .one(&txn)
            .await
            .map_err(internal)?
            .ok_or(DomainError::NotFound { resource: "entity type" })?;
        if let Some(name) = &f.name
            && name.as_str() != row.name
        {
            if row.is_system {
                return Err(DomainError::invalid("name", "system entity types cannot be renamed"));
            }
            let taken = entity_type::Entity::find()
                .filter(entity_type::Column::Name.eq(name.as_str()))
                .one(&txn)
                .await
                .map_err(internal)?;
            if taken.is_some() {
                return Err(DomainError::conflict(TAKEN));
            }
        }
        let mut m = row.into_active_model();
        if let Some(v) = f.name {
            m.name = Set(v.as_str().to_owned());
        }
        if let Some(v) = f.display_name {
            m.display_name = Set(v);
        }
        if let Some(v) = f.description {
            m.description = Set(v);
        }
        if let Some(v) = f.color {
            m.color = Set(v.to_hex());
        }
        if let Some(v) = f.examples {
            m.examples = Set(json!(v));
        }
        if let Some(v) = f.is_active {
            m.is_active = Set(v);
        }
        if let Some(v) = f.sort_order {
            m.sort_order = Set(v);
        }
        m.updated_at = Set(Utc::now());
        let model = m.update(&txn).await.map_err(|e| super::conflict_or_internal(e, TAKEN))?;
        audit::insert(&txn, audit_entry).await?;
        txn.commit().await.map_err(internal)?;
        convert::entity_type(model)
    }
}
