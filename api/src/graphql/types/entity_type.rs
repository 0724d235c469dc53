//! Entity types as clients see them.

use async_graphql::{ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use nishan_domain::entity_type::EntityType as DomainEntityType;

pub struct EntityType(pub DomainEntityType);

/// A colour's channels, 0 to 255.
#[derive(SimpleObject)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

#[Object]
impl EntityType {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Upper case, unique: PERSON, LOCATION, ...
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// `#RRGGBB`.
    async fn color(&self) -> String {
        self.0.color.to_hex()
    }
    async fn rgb(&self) -> Rgb {
        Rgb { r: self.0.color.r, g: self.0.color.g, b: self.0.color.b }
    }
    /// Example spellings (Urdu for the system types); the built-in extractor looks for them.
    async fn examples(&self) -> &[String] {
        &self.0.examples
    }
    async fn is_system(&self) -> bool {
        self.0.is_system
    }
    /// An inactive type keeps its entities but cannot be used for new ones.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
