//! Entity types: everyone may list them; global admins create and edit them.

use chrono::Utc;
use serde_json::json;

use crate::audit::{AuditEntry, RequestMeta};
use crate::entity_type::{EntityType, EntityTypeFields, HexColor};
use crate::error::{DomainError, DomainResult};
use crate::ids::EntityTypeId;
use crate::policy::Actor;
use crate::ports::EntityTypeRepository;

pub struct EntityTypes<'a, S> {
    pub store: &'a S,
}

fn require_admin(actor: &Actor) -> DomainResult<()> {
    if actor.is_admin { Ok(()) } else { Err(DomainError::forbidden("only global admins manage entity types")) }
}

impl<S: EntityTypeRepository> EntityTypes<'_, S> {
    pub async fn list(&self) -> DomainResult<Vec<EntityType>> {
        self.store.entity_types().await
    }

    /// Creates a type; name, display name and colour are required.
    pub async fn create(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        fields: EntityTypeFields,
    ) -> DomainResult<EntityType> {
        require_admin(actor)?;
        let f = fields.validated()?;
        let name = f.name.ok_or_else(|| DomainError::invalid("name", "is required"))?;
        let now = Utc::now();
        let t = EntityType {
            id: EntityTypeId::new(),
            display_name: f.display_name.unwrap_or_else(|| name.as_str().to_owned()),
            name: name.as_str().to_owned(),
            description: f.description.flatten(),
            color: f.color.unwrap_or(HexColor { r: 0x80, g: 0x80, b: 0x80 }),
            examples: f.examples.unwrap_or_default(),
            is_system: false,
            is_active: f.is_active.unwrap_or(true),
            sort_order: f.sort_order.unwrap_or(1000),
            created_at: now,
            updated_at: now,
        };
        let audit = AuditEntry::new(meta, Some(actor.user_id), "entity_type.create", "entity_type")
            .resource(t.id, &t.name)
            .changes(json!({"name": t.name, "color": t.color.to_hex()}));
        self.store.create_entity_type(t, audit).await
    }

    pub async fn update(
        &self,
        meta: &RequestMeta,
        actor: &Actor,
        id: EntityTypeId,
        fields: EntityTypeFields,
    ) -> DomainResult<EntityType> {
        require_admin(actor)?;
        let f = fields.validated()?;
        let mut changed = serde_json::Map::new();
        if let Some(n) = &f.name {
            changed.insert("name".into(), json!(n.as_str()));
        }
        if let Some(c) = f.color {
            changed.insert("color".into(), json!(c.to_hex()));
        }
        if let Some(a) = f.is_active {
            changed.insert("isActive".into(), json!(a));
        }
        for (key, set) in [
            ("displayName", f.display_name.is_some()),
            ("description", f.description.is_some()),
            ("examples", f.examples.is_some()),
            ("sortOrder", f.sort_order.is_some()),
        ] {
            if set {
                changed.insert(key.into(), json!(true));
            }
        }
        let audit = AuditEntry::new(meta, Some(actor.user_id), "entity_type.update", "entity_type")
            .resource(id, "entity type")
            .changes(serde_json::Value::Object(changed));
        self.store.update_entity_type(id, f, audit).await
    }
}
